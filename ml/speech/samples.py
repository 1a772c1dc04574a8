"""Short samples for the voice picker's "Listen" button.

An installed (neural) voice gets ``sample.wav`` next to its model when
``install_models --voice`` installs it, spoken from the manifest's
``sample_text`` (or this module's sentence for its language). A built-in
eSpeak NG voice's sample is spoken the first time someone asks for it and
kept in a cache folder: one fixed sentence of a few words (never text a
member sends), which eSpeak speaks in a few milliseconds, written to a
temporary name and renamed into place, so the cache holds at most one file
per built-in voice and a half-written file is never served.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from .engine import BUNDLED, Voice, synthesize
from .errors import SpeechError

SAMPLE = "sample.wav"

#: One sentence per language, by the first part of its code. A language not
#: listed counts from one to five: eSpeak NG reads digits in every language it has.
SENTENCES = {
    "en": "Hello! This is how I sound when I present your video.",
    "cmn": "你好！这是我为你的视频配音时的声音。",
    "zh": "你好！这是我为你的视频配音时的声音。",
    "yue": "你好！呢个就係我幫你段片配音嘅聲音。",
    "fr": "Bonjour ! Voici ma voix quand je présente votre vidéo.",
    "de": "Hallo! So klinge ich, wenn ich Ihr Video präsentiere.",
    "es": "¡Hola! Así sueno cuando presento tu vídeo.",
    "it": "Ciao! Ecco come suono quando presento il tuo video.",
    "pt": "Olá! É assim que eu soo quando apresento o seu vídeo.",
}
COUNTING = "1, 2, 3, 4, 5."


def sentence_for(language: str) -> str:
    code = language.lower().replace("_", "-")
    return SENTENCES.get(code) or SENTENCES.get(code.split("-")[0]) or COUNTING


def installed_sample(model_dir: Path, name: str) -> Path:
    from .neural import voices_dir

    return voices_dir(model_dir) / name / SAMPLE


def write_installed_sample(model_dir: Path, voice) -> Path:
    """At install time: speak the voice's sample next to it. Raises SpeechError
    when the voice cannot speak it."""
    target = installed_sample(model_dir, voice.name)
    try:
        _speak_to(target, voice.sample_text or sentence_for(voice.language), voice.language, voice.name, model_dir)
    except SpeechError:
        raise
    except Exception as err:  # the runtime refuses a model (e.g. a newer ONNX IR than it reads) with its own errors
        raise SpeechError(f"the voice could not speak: {err}", "engine_failed") from err
    return target


def bundled_sample(cache_dir: Path, voice: Voice) -> Path:
    """The cached sample of a built-in voice, spoken now if it is not there yet."""
    if voice.engine != BUNDLED:
        raise ValueError(voice.name)
    code = voice.name.split(":", 1)[1]
    target = Path(cache_dir) / "voice-samples" / BUNDLED / f"{code}.wav"
    if not target.is_file():
        _speak_to(target, sentence_for(voice.language), voice.language, voice.name, None)
    return target


def _speak_to(target: Path, text: str, language: str, voice: str, model_dir: Path | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}-{uuid.uuid4().hex}.wav")
    try:
        synthesize(text, language, partial, voice=voice, model_dir=model_dir)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


__all__ = ["SAMPLE", "SpeechError", "bundled_sample", "installed_sample", "sentence_for", "write_installed_sample"]
