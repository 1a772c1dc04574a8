"""Synthesis speed of the bundled engine (eSpeak NG): seconds of speech per
second of CPU time, for a 1,000-character English and Chinese script.
Target: at least 10x real time. CPU time (process_time) rather than wall
time, so a busy shared machine disturbs the number less.

    python bench/speech_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.speech import synthesize  # noqa: E402

ENGLISH_SENTENCES = (
    "Welcome back to the course. Today we look at how plants turn light into food. "
    "Every green leaf holds millions of tiny factories called chloroplasts. "
    "They take in water from the roots and carbon dioxide from the air. "
    "With the energy of sunlight, they build sugar and release oxygen. "
)
CHINESE_SENTENCES = (
    "欢迎回到我们的课程。今天我们来学习植物如何把阳光变成养分。每一片绿叶里都有数以百万计的叶绿体。"
    "它们从根部吸收水分，从空气中吸收二氧化碳。在阳光的帮助下，它们制造糖分并释放氧气。"
)


def script(sentences: str, length: int = 1000) -> str:
    return (sentences * (length // len(sentences) + 1))[:length]


def measure(text: str, language: str, repeat: int) -> tuple[float, float, float]:
    """(seconds of speech, best CPU seconds, best wall seconds)."""
    best = wall = float("inf")
    duration = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        synthesize("Warm up.", language, Path(tmp) / "warm.wav")  # loads the library and the voice
        for _ in range(repeat):
            started, clock = time.process_time(), time.perf_counter()
            duration = synthesize(text, language, Path(tmp) / "out.wav").duration
            best = min(best, time.process_time() - started)
            wall = min(wall, time.perf_counter() - clock)
    return duration, best, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for label, language, sentences in (("English", "en", ENGLISH_SENTENCES), ("Chinese", "zh", CHINESE_SENTENCES)):
        text = script(sentences)
        duration, cpu, wall = measure(text, language, args.repeat)
        print(f"{label:<8} {len(text):>5} chars  {duration:7.1f} s of speech  {cpu:6.3f} CPU s "
              f"({duration / cpu:6.0f}x real time)  {wall:6.3f} wall s ({duration / wall:6.0f}x)")


if __name__ == "__main__":
    main()
