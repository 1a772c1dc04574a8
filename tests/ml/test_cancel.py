"""Cancel within a second in the stages that run long without a frame to show:
reading the audio (decode, resample, mel) and the face detection pass."""

from __future__ import annotations

import threading
import time

import mediafactory as mf
import numpy as np
import pytest

from ml import audio
from ml.audio import AudioFeatures
from ml.errors import RenderCancelled
from ml.pipeline import Progress
from ml.track import build_track


class CancelAfter:
    """A cancel check that fires ``delay`` seconds after ``start()``, noting when."""

    def __init__(self, delay: float) -> None:
        self.event = threading.Event()
        self.timer = threading.Timer(delay, self._fire)
        self.fired_at: float | None = None

    def _fire(self) -> None:
        self.fired_at = time.monotonic()
        self.event.set()

    def start(self) -> CancelAfter:
        self.timer.start()
        return self

    def latency(self) -> float:
        assert self.fired_at is not None, "the work ended before the cancel fired"
        return time.monotonic() - self.fired_at


def test_reading_a_long_audio_stops_within_a_second(tmp_path):
    from tests import bombs

    path = bombs.silent_flac(tmp_path / "long.flac", seconds=3600)  # seconds of work, no limits given
    audio.melspectrogram(np.zeros(4000, np.float32))  # the one-time librosa import, as a worker's warm-up does
    cancel = CancelAfter(0.5).start()
    with pytest.raises(RenderCancelled):
        AudioFeatures.from_file(path, sha256="x", should_stop=cancel.event.is_set)
    assert cancel.latency() < 1.0


def test_face_detection_pass_stops_within_a_second():
    def slow_detect(frames):
        time.sleep(0.05 * len(frames))  # a slow detector: 50 ms a frame
        return [np.zeros((0, 5), np.float32) for _ in frames]

    def frames():
        for i in range(100_000):
            yield i, np.zeros((8, 8, 3), np.uint8)

    cancel = CancelAfter(0.5).start()
    with pytest.raises(RenderCancelled):
        build_track(
            frames(), slow_detect, (1.0, 1.0), 8, 8, 25, "slow", key_interval=1, should_stop=cancel.event.is_set
        )
    assert cancel.latency() < 1.0


class FlickeringDetector:
    """A slow detector (50 ms a frame) that finds a face on every other frame
    it sees, so every stretch between key frames is detected frame by frame:
    one window of the detection pass takes seconds."""

    name = "flicker"

    def __init__(self, on_first_call) -> None:
        self.calls = 0
        self.on_first_call = on_first_call

    def detect(self, frames):
        if self.calls == 0:
            self.on_first_call()
        out = []
        for _ in frames:
            time.sleep(0.05)
            face = self.calls % 2 == 0
            self.calls += 1
            out.append(np.array([[100, 50, 200, 150, 0.9]] if face else [], np.float32).reshape(-1, 5))
        return out


def test_engine_detection_stage_calls_progress_often_enough_to_cancel(engine, media, speech_2s, tmp_path, monkeypatch):
    """The platform cancels through the progress callback: during a slow
    detection pass the engine must still call it every few hundred ms."""
    clip = mf.make_face_clip(media / "face_2s.mp4", seconds=2.0, fps=25)
    cancel = CancelAfter(0.3)
    monkeypatch.setattr(engine, "_detector", FlickeringDetector(cancel.start))

    def progress(p: Progress) -> None:
        if cancel.event.is_set():
            raise RenderCancelled()

    with pytest.raises(RenderCancelled):
        engine.render(clip, speech_2s, tmp_path / "out.mp4", progress=progress)
    assert cancel.latency() < 1.0
    assert not (tmp_path / "out.mp4").exists()
