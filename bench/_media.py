"""Shared helpers for the benchmarks: cached 720p clips, long speech, random weights.

Random weights only: speed does not depend on weight values. Outputs go to
bench/out/ (git-ignored).
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import mediafactory as mf  # noqa: E402

SPEECH = ROOT / "tests" / "fixtures" / "speech_zh_22k.wav"
BOX_720 = (150, 520, 470, 810)  # y1 y2 x1 x2 around the face in a 1280x720 clip
BOX_1080 = tuple(v * 3 // 2 for v in BOX_720)  # the same face in the 1920x1080 clip


def clip_720p(seconds: int) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"face_720p_{seconds}s.mp4"
    if not path.exists():
        mf.make_face_clip(path, seconds=seconds, fps=25, size=(1280, 720))
    return path


def clip_1080p(seconds: int) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"face_1080p_{seconds}s.mp4"
    if not path.exists():
        mf.make_face_clip(path, seconds=seconds, fps=25, size=(1920, 1080))
    return path


def speech(seconds: int) -> Path:
    """The speech fixture repeated/cut to ``seconds``."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"speech_{seconds}s.wav"
    if path.exists():
        return path
    with wave.open(str(SPEECH), "rb") as r:
        sr, ch, sw = r.getframerate(), r.getnchannels(), r.getsampwidth()
        data = r.readframes(r.getnframes())
    need = seconds * sr * ch * sw
    blob = (data * (need // len(data) + 1))[:need]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(ch)
        w.setsampwidth(sw)
        w.setframerate(sr)
        w.writeframes(blob)
    return path


def checkpoint() -> Path:
    path = OUT / "random_wav2lip.pth"
    if not path.exists():
        mf.make_random_checkpoint(path)
    return path


def s3fd_dir() -> Path:
    path = OUT / "models" / "s3fd-619a316812.pth"
    if not path.exists():
        mf.make_random_s3fd(path)
    return path.parent
