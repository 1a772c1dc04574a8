"""One entry point: `synthesize(text, language, voice, speed)` -> a WAV file.

Long scripts are spoken in sentence chunks (progress after each), joined
with short fades and pauses so there is no click at a joint, and the whole
is normalised to a steady loudness."""

from __future__ import annotations

import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import neural
from . import text as texts
from .errors import SpeechError, VoiceNotFound

MAX_CHARS = 20_000
MIN_SPEED, MAX_SPEED = 0.5, 2.0
#: Pause between chunks (they end at sentence ends) and the fade at each joint.
PAUSE_S = 0.25
FADE_S = 0.008
#: Target loudness (RMS of the voiced part) and the peak ceiling, in dBFS.
TARGET_RMS_DB = -20.0
PEAK_DB = -1.0
BUNDLED = "espeak"


@dataclass(frozen=True)
class Voice:
    name: str  # what --voice and the picker take: "espeak:en-us" or an installed neural voice's name
    language: str
    label: str
    engine: str  # "espeak" or "neural"
    sample_text: str = ""


@dataclass
class SpeechResult:
    path: Path
    duration: float
    sample_rate: int
    voice: Voice
    text: str
    unsupported: list[str] = field(default_factory=list)
    mismatch: str | None = None  # the script found when it does not fit the voice's language


def list_voices(model_dir: Path | None) -> list[Voice]:
    voices = [Voice(name=v.name, language=v.language, label=v.label, engine="neural", sample_text=v.sample_text)
              for v in (neural.installed_voices(model_dir) if model_dir else [])]
    from .espeak import library

    voices += [Voice(name=f"{BUNDLED}:{v.name}", language=v.name, label=v.label, engine=BUNDLED)
               for v in sorted(library().voices(), key=lambda v: v.name)]
    return voices


def resolve_voice(language: str, voice: str | None, model_dir: Path | None) -> Voice:
    """The voice asked for; with none, the bundled eSpeak voice of `language`."""
    if voice and not voice.startswith(f"{BUNDLED}:"):
        found = neural.find_voice(model_dir, voice) if model_dir else None
        if found is None:
            raise VoiceNotFound(f"No installed voice is called “{voice}”.", voice=voice)
        return Voice(name=found.name, language=found.language, label=found.label, engine="neural",
                     sample_text=found.sample_text)
    code = voice.split(":", 1)[1] if voice else _espeak_code(language)
    from .espeak import library

    bundled = library().voices()
    # A bare language finds its home variant (fr: fr-fr, pt: pt-pt), else its first regional one.
    match = next((v for v in bundled if v.name in (code, f"{code}-{code}")), None) or next(
        (v for v in bundled if v.name.startswith(f"{code}-")), None)
    if match is None:
        raise VoiceNotFound(f"The bundled engine has no voice for “{code}”.", voice=code)
    return Voice(name=f"{BUNDLED}:{match.name}", language=match.name, label=match.label, engine=BUNDLED)


def _espeak_code(language: str) -> str:
    # "zh" is what people type; eSpeak names Mandarin "cmn" and Cantonese "yue".
    return {"en": "en-us", "zh": "cmn", "zh-cn": "cmn", "zh-hans": "cmn", "zh-hk": "yue", "zh-tw": "cmn"}.get(language.lower(), language)


def synthesize(raw_text: str, language: str, out: Path, *, voice: str | None = None, speed: float = 1.0,
               model_dir: Path | None = None, progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> SpeechResult:
    """Speak `raw_text` into the 16-bit mono WAV `out`. Raises SpeechError
    (empty script, too long, unknown voice, speed out of range)."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise SpeechError(f"The speed must be between {MIN_SPEED} and {MAX_SPEED}.", "bad_speed")
    if len(raw_text) > MAX_CHARS:
        raise SpeechError(f"The script is {len(raw_text):,} characters long; the limit is {MAX_CHARS:,}.", "too_long",
                          length=len(raw_text), limit=MAX_CHARS)
    cleaned = texts.clean_text(raw_text)
    if not any(ch.isalnum() for ch in cleaned.text):
        raise SpeechError("The script has nothing to say (no words).", "empty")
    chosen = resolve_voice(language, voice, model_dir)
    parts = texts.chunks(cleaned.text)
    pieces: list[np.ndarray] = []
    rate = 0
    for done, chunk in enumerate(parts):
        if should_stop and should_stop():
            raise SpeechError("Cancelled.", "cancelled")
        samples, rate = _speak(chosen, chunk, speed, model_dir)
        pieces.append(_trim_and_fade(samples, rate))
        if progress:
            progress(done + 1, len(parts))
    audio = _join(pieces, rate)
    if not np.any(np.abs(audio) > 1e-3):
        raise SpeechError("The voice produced silence for this script.", "silent")
    audio = normalise(audio, rate)
    write_wav(out, audio, rate)
    return SpeechResult(path=Path(out), duration=len(audio) / rate, sample_rate=rate, voice=chosen, text=cleaned.text,
                        unsupported=cleaned.unsupported, mismatch=texts.script_mismatch(cleaned.text, chosen.language))


def _speak(voice: Voice, chunk: str, speed: float, model_dir: Path | None) -> tuple[np.ndarray, int]:
    if voice.engine == BUNDLED:
        from .espeak import library

        lib = library()
        return lib.speak(chunk, voice.language, speed), lib.sample_rate
    found = neural.find_voice(model_dir, voice.name)
    if found is None:
        raise VoiceNotFound(f"The voice “{voice.name}” has been removed.", voice=voice.name)
    return neural.speak(found, chunk, speed)


def _trim_and_fade(samples: np.ndarray, rate: int) -> np.ndarray:
    """Drop the silence the engine leaves at both ends, then fade in and out
    so the joint with the next chunk starts and ends at zero (no click)."""
    loud = np.flatnonzero(np.abs(samples) > 2e-3)
    if loud.size == 0:
        return np.zeros(0, np.float32)
    margin = int(0.02 * rate)
    samples = samples[max(0, loud[0] - margin): loud[-1] + margin].astype(np.float32)
    n = min(int(FADE_S * rate), len(samples) // 2)
    if n:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        samples[:n] *= ramp
        samples[-n:] *= ramp[::-1]
    return samples


def _join(pieces: list[np.ndarray], rate: int) -> np.ndarray:
    pause = np.zeros(int(PAUSE_S * rate), np.float32)
    out = [pause[: len(pause) // 2]]
    for piece in pieces:
        out += [piece, pause]
    return np.concatenate(out)


def normalise(audio: np.ndarray, rate: int) -> np.ndarray:
    """Scale so the voiced 20 ms frames have TARGET_RMS_DB, never peaking above PEAK_DB."""
    frame = max(1, int(0.02 * rate))
    usable = audio[: len(audio) // frame * frame].reshape(-1, frame) if len(audio) >= frame else audio.reshape(1, -1)
    rms = np.sqrt(np.mean(usable.astype(np.float64) ** 2, axis=1))
    voiced = rms[rms > rms.max() * 0.1] if rms.max() > 0 else rms
    level = float(np.sqrt(np.mean(voiced**2))) if voiced.size else 0.0
    if level <= 0:
        return audio
    gain = 10 ** (TARGET_RMS_DB / 20) / level
    peak = float(np.abs(audio).max()) * gain
    ceiling = 10 ** (PEAK_DB / 20)
    if peak > ceiling:
        gain *= ceiling / peak
    return (audio * gain).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
