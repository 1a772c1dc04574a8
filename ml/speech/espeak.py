"""The bundled engine: libespeak-ng from the espeakng-loader wheel (library
and data in the wheel, so a fresh machine needs no apt step), driven through
ctypes in synchronous mode with a callback that collects the PCM.

Why ctypes and not sherpa-onnx: sherpa-onnx uses eSpeak NG only to turn text
into phonemes for its neural (VITS/Piper) models; it cannot speak with
eSpeak's own formant voices. libespeak-ng keeps global state, so one lock
serialises synthesis within a process (a worker runs one job at a time anyway).
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .errors import SpeechError, VoiceNotFound

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1
DEFAULT_WPM = 175
_lock = threading.Lock()


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class EspeakVoice:
    name: str  # e.g. "en-us", "cmn": what --voice takes
    label: str  # eSpeak's own name, e.g. "English (America)"
    language: str  # the first language code, e.g. "en-us"
    identifier: str  # the voice file, e.g. "gmw/en": what espeak_SetVoiceByName finds every voice by


class _Library:
    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data = espeakng_loader.get_data_path()
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        # The data folder's parent: espeak appends "espeak-ng-data" itself.
        parent = data.rsplit("/espeak-ng-data", 1)[0]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, parent.encode(), 0)
        if rate <= 0:
            raise SpeechError("eSpeak NG could not start (its data folder is missing or damaged).", "engine_failed")
        self.sample_rate = rate
        self.data_dir = data
        self._pieces: list[np.ndarray] = []
        self._voices: list[EspeakVoice] | None = None
        self._callback = _CALLBACK(self._collect)  # kept referenced: the library holds the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, count, events) -> int:
        if count > 0 and wav:
            self._pieces.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def voices(self) -> list[EspeakVoice]:
        if self._voices is None:
            self._voices = self._list_voices()
        return self._voices

    def _list_voices(self) -> list[EspeakVoice]:
        found = []
        array = self.lib.espeak_ListVoices(None)
        i = 0
        while array[i]:
            v = array[i].contents
            raw = ctypes.string_at(v.languages, 64)
            # languages: <priority byte><code>\0 ... ending with a zero priority.
            language = raw[1:].split(b"\0", 1)[0].decode()
            identifier = (v.identifier or b"").decode()
            # MBROLA voices need databases the wheel lacks; a few listed languages
            # (fo, kaa, xex) have no dictionary in it and would only be silent.
            has_dictionary = os.path.exists(os.path.join(self.data_dir, f"{language.split('-')[0]}_dict"))
            if not identifier.startswith("mb/") and has_dictionary and language not in {v.name for v in found}:  # MBROLA voices need separately installed databases
                found.append(EspeakVoice(name=language, label=(v.name or b"").decode(), language=language,
                                         identifier=identifier))
            i += 1
        return found

    def speak(self, text: str, voice: str, speed: float) -> np.ndarray:
        """`voice`: a language code from :meth:`voices` ("en-gb", "cmn")."""
        identifier = next((v.identifier for v in self.voices() if v.name == voice), voice)
        with _lock:
            # By identifier: a code such as "en-gb" is not a voice name to eSpeak NG.
            if self.lib.espeak_SetVoiceByName(identifier.encode()) != 0:
                raise VoiceNotFound(f"eSpeak NG has no voice “{voice}”.", voice=voice)
            wpm = int(round(min(450, max(80, DEFAULT_WPM * speed))))
            self.lib.espeak_SetParameter(_RATE, wpm, 0)
            self._pieces = []
            data = text.encode("utf-8") + b"\0"
            err = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if err != 0:
                raise SpeechError(f"eSpeak NG failed (error {err}).", "engine_failed")
            pcm = np.concatenate(self._pieces) if self._pieces else np.zeros(0, np.int16)
            self._pieces = []
        return pcm.astype(np.float32) / 32768.0


@lru_cache(maxsize=1)
def library() -> _Library:
    return _Library()
