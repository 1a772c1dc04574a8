"""Neural voices the admin installs: VITS/Piper ONNX models (model.onnx +
tokens.txt) run through sherpa-onnx, with the eSpeak NG data from the
espeakng-loader wheel for phonemes. Nothing is downloaded.

Layout in the model directory::

    voices/<name>/model.onnx
    voices/<name>/tokens.txt
    voices/<name>/voice.json   # manifest: name, language, label, sha256, size, sample_text

A file is checked with onnxruntime before sherpa-onnx sees it: sherpa-onnx
ends the process on a model it cannot load, onnxruntime raises.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..hashing import file_sha256
from .errors import SpeechError, VoiceCorrupt, VoiceNotFound

MANIFEST = "voice.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class NeuralVoice:
    name: str
    language: str
    label: str
    folder: Path
    sha256: str
    sample_text: str = ""

    @property
    def model(self) -> Path:
        return self.folder / "model.onnx"

    @property
    def tokens(self) -> Path:
        return self.folder / "tokens.txt"


def voices_dir(model_dir: Path) -> Path:
    return Path(model_dir) / "voices"


def installed_voices(model_dir: Path) -> list[NeuralVoice]:
    """The installed voices whose manifest can be read (a folder without one is skipped)."""
    found = []
    root = voices_dir(model_dir)
    for manifest in sorted(root.glob(f"*/{MANIFEST}")) if root.is_dir() else []:
        try:
            data = json.loads(manifest.read_text())
            found.append(NeuralVoice(name=data["name"], language=data["language"], label=data.get("label", data["name"]),
                                     folder=manifest.parent, sha256=data["sha256"],
                                     sample_text=data.get("sample_text", "")))
        except (OSError, ValueError, KeyError):
            continue
    return found


def find_voice(model_dir: Path, name: str) -> NeuralVoice | None:
    return next((v for v in installed_voices(model_dir) if v.name == name), None)


def check_files(model: Path, tokens: Path) -> None:
    """Raise VoiceNotFound / VoiceCorrupt with a sentence naming the file."""
    for path in (model, tokens):
        if not path.is_file():
            raise VoiceNotFound(f"The voice file {path} is missing.", path=str(path))
    try:
        lines = tokens.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise VoiceCorrupt(f"{tokens.name} cannot be read as text: {err}.", path=str(tokens)) from err
    if not lines or not all(len(line.rsplit(" ", 1)) == 2 and line.rsplit(" ", 1)[1].isdigit() for line in lines if line):
        raise VoiceCorrupt(f"{tokens.name} is not a token list (one “symbol id” per line).", path=str(tokens))
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises several private exception types
        raise VoiceCorrupt(f"{model.name} is not a loadable ONNX voice model (damaged or another format).",
                           path=str(model)) from err
    inputs = {i.name for i in session.get_inputs()}
    if not {"x", "x_length"} <= inputs and not {"input", "input_lengths"} <= inputs:
        raise VoiceCorrupt(f"{model.name} is an ONNX model but not a VITS/Piper voice (inputs: {sorted(inputs)}).",
                           path=str(model))


def install_voice(source: Path, model_dir: Path, *, name: str | None = None, language: str | None = None,
                  label: str | None = None) -> NeuralVoice:
    """Copy a voice (a .onnx file with tokens.txt beside it, or a folder with
    both; a Piper ``.onnx.json`` beside it gives the language) into the
    model directory after checking it loads."""
    source = Path(source).expanduser()
    if source.is_dir():
        models = sorted(source.glob("*.onnx"))
        if len(models) != 1:
            raise VoiceNotFound(f"{source} must hold exactly one .onnx file (found {len(models)}).", path=str(source))
        model = models[0]
    else:
        model = source
    tokens = model.parent / "tokens.txt"
    check_files(model, tokens)
    config = Path(f"{model}.json")
    piper: dict = {}
    if config.is_file():
        try:
            piper = json.loads(config.read_text())
        except ValueError as err:
            raise VoiceCorrupt(f"{config.name} is not valid JSON.", path=str(config)) from err
    language = language or (piper.get("espeak") or {}).get("voice") or (piper.get("language") or {}).get("code")
    if not language:
        raise SpeechError(f"Say which language {model.name} speaks (--voice-language, e.g. en or cmn).", "no_language")
    name = name or model.stem
    if not _NAME.match(name):
        raise SpeechError(f"“{name}” cannot be a voice name (letters, digits, . _ - only).", "bad_name")
    root = voices_dir(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".install-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        shutil.copyfile(model, staging / "model.onnx")
        shutil.copyfile(tokens, staging / "tokens.txt")
        manifest = {"name": name, "language": language, "label": label or name, "sha256": file_sha256(staging / "model.onnx"),
                    "size": (staging / "model.onnx").stat().st_size, "source": model.name,
                    "sample_text": piper.get("sample_text", "")}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        target = root / name
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return find_voice(model_dir, name)


@lru_cache(maxsize=4)
def _tts(model: str, tokens: str, sha256: str):
    import espeakng_loader
    import sherpa_onnx

    config = sherpa_onnx.OfflineTtsConfig(
        model=sherpa_onnx.OfflineTtsModelConfig(
            vits=sherpa_onnx.OfflineTtsVitsModelConfig(model=model, tokens=tokens,
                                                       data_dir=espeakng_loader.get_data_path()),
            num_threads=2,
        ),
    )
    return sherpa_onnx.OfflineTts(config)


def speak(voice: NeuralVoice, text: str, speed: float) -> tuple[np.ndarray, int]:
    check_files(voice.model, voice.tokens)
    tts = _tts(str(voice.model), str(voice.tokens), voice.sha256)
    audio = tts.generate(text, sid=0, speed=speed)
    return np.asarray(audio.samples, dtype=np.float32), int(audio.sample_rate)
