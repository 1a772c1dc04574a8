from fractions import Fraction

import mediafactory as mf
import numpy as np
import pytest

from ml.detect import HaarDetector, S3FDDetector, make_detector
from ml.errors import ModelNotInstalled, NoFaceFound
from ml.pipeline import LipSyncEngine
from ml.track import build_track, detect_frame_size


class FakeDetector:
    """Detector returning scripted boxes per frame index, counting calls."""

    def __init__(self, script):
        self.script = script
        self.seen: list[int] = []

    def __call__(self, frames):
        out = []
        for f in frames:
            idx = int(f[0, 0, 0])
            self.seen.append(idx)
            out.append(np.array(self.script(idx), np.float32).reshape(-1, 5))
        return out


def frames(n):
    for i in range(n):
        img = np.zeros((4, 4, 3), np.uint8)
        img[0, 0, 0] = i
        yield i, img


def moving(i):
    return [[100 + i, 50, 180 + i, 130, 0.9]]


def test_key_frames_only_and_interpolation_between():
    det = FakeDetector(moving)
    track = build_track(frames(41), det, (1.0, 1.0), 640, 360, Fraction(25), "fake", key_interval=5)
    assert sorted(det.seen) == list(range(0, 41, 5))
    assert track.n_frames == 41 and track.complete and track.faceless == 0
    np.testing.assert_allclose(track.boxes[:, 0], 100 + np.arange(41))


def test_face_appearing_between_key_frames_is_found_exactly():
    det = FakeDetector(lambda i: [] if 7 <= i <= 13 else moving(i))
    track = build_track(frames(30), det, (1.0, 1.0), 640, 360, Fraction(25), "fake", key_interval=5)
    assert np.flatnonzero(~track.valid).tolist() == list(range(7, 14))
    assert len(det.seen) < 30


def test_track_follows_the_same_person():
    # Person A (small) on the left at the start; B (bigger) appears later on the right.
    def script(i):
        a = [100, 100, 160, 160, 0.9]
        b = [400, 80, 520, 200, 0.9]
        return [a, b] if i >= 6 else [a]

    det = FakeDetector(script)
    track = build_track(frames(20), det, (1.0, 1.0), 640, 360, Fraction(25), "fake", key_interval=5)
    assert np.all(track.boxes[:, 0] == 100)
    det = FakeDetector(lambda i: [[100, 100, 160, 160, 0.9], [400, 80, 520, 200, 0.9]])
    track = build_track(frames(5), det, (1.0, 1.0), 640, 360, Fraction(25), "fake")
    assert np.all(track.boxes[:, 0] == 400)  # the largest at the start


def test_boxes_scale_back_to_full_frames_and_limit_stops_early():
    det = FakeDetector(lambda i: [[10, 20, 30, 40, 0.9]])
    track = build_track(frames(50), det, (0.5, 0.25), 640, 360, Fraction(25), "fake", limit=12)
    assert track.n_frames == 12 and not track.complete
    np.testing.assert_allclose(track.boxes[0], [20, 80, 60, 160])
    assert detect_frame_size(1280, 720, 384) == (384, 216)
    assert detect_frame_size(320, 240, 384) == (320, 240)


def test_haar_finds_the_astronaut(tmp_path):
    import cv2

    img = cv2.imread(str(mf.make_face_image(tmp_path / "f.png")))
    (boxes,) = HaarDetector().detect([img])
    assert len(boxes) >= 1
    x1, y1, x2, y2, _ = boxes[np.argmax(boxes[:, 2] - boxes[:, 0])]
    assert 80 < (x1 + x2) / 2 < 200 and 40 < (y1 + y2) / 2 < 140


def test_auto_falls_back_to_opencv_and_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("HEYGEM_MODEL_DIR", raising=False)
    det, note = make_detector("auto", tmp_path)
    assert det.name == "opencv" and "fallback" in note
    with pytest.raises(ModelNotInstalled):
        make_detector("sfd", tmp_path)


def test_s3fd_code_path_runs_with_random_weights(tmp_path, monkeypatch, random_checkpoint, speech_1s):
    """Random S3FD weights: checks the code path, shapes and batching only."""
    weights = mf.make_random_s3fd(tmp_path / "models" / "s3fd-619a316812.pth")
    det = S3FDDetector(weights, batch_size=2)
    batch = [np.zeros((120, 160, 3), np.uint8)] * 3
    out = det.detect(batch)
    assert len(out) == 3 and all(o.ndim == 2 and o.shape[1] == 5 for o in out)
    assert det.calls == 3
    monkeypatch.setenv("HEYGEM_MODEL_DIR", str(tmp_path / "models"))
    det, note = make_detector("auto")
    assert det.name == "sfd" and "S3FD" in note
    clip = mf.make_face_clip(tmp_path / "c.mp4", seconds=0.4, size=(160, 120))
    engine = LipSyncEngine(random_checkpoint, device="cpu", detector="sfd")
    with pytest.raises(NoFaceFound):  # random weights find nothing
        engine.render(clip, speech_1s, tmp_path / "out.mp4")
    assert engine.detector().calls > 0
    assert not (tmp_path / "out.mp4").exists()


# ---------------------------------------------------------- adaptive key frames


def still(i):
    return [[100, 50, 180, 130, 0.9]]


def test_adaptive_key_frames_skip_detection_where_the_face_stays():
    det = FakeDetector(still)
    track = build_track(frames(41), det, (1.0, 1.0), 640, 360, Fraction(25), "fake", key_interval=5, key_span=20)
    assert sorted(det.seen) == [0, 20, 40]
    assert track.n_frames == 41 and track.faceless == 0
    np.testing.assert_allclose(track.boxes, np.tile([100, 50, 180, 130], (41, 1)))


def test_adaptive_key_frames_bisect_where_the_boxes_differ_and_match_every_key_frame():
    # Still until frame 30, then 3 px per frame to the right (faster than the tolerance).
    def script(i):
        x = 100 + 3 * max(0, i - 30)
        return [[x, 50, x + 80, 130, 0.9]]

    det = FakeDetector(script)
    track = build_track(frames(41), det, (1.0, 1.0), 640, 360, Fraction(25), "fake", key_interval=5, key_span=20)
    # 0-20 agree: nothing between; 20-40 differ: 30, then 30-40 differ: 35.
    assert sorted(det.seen) == [0, 20, 30, 35, 40]
    old = build_track(frames(41), FakeDetector(script), (1.0, 1.0), 640, 360, Fraction(25), "fake", key_interval=5)
    np.testing.assert_allclose(track.boxes, old.boxes)
    np.testing.assert_allclose(track.boxes[:, 0], [100 + 3 * max(0, i - 30) for i in range(41)])


def test_adaptive_key_frames_find_a_cut_away_and_back_to_the_same_face():
    # The face is at the same place on both sides of a short faceless cut (27-33),
    # which the key frames 20 and 40 both miss: the picture change is what bisects.
    def cut_frames(n):
        for i in range(n):
            img = np.full((18, 32, 3), 200 if 27 <= i <= 33 else 0, np.uint8)
            img[0, 0, 0] = i
            yield i, img

    det = FakeDetector(lambda i: [] if 27 <= i <= 33 else still(i))
    track = build_track(cut_frames(60), det, (1.0, 1.0), 640, 360, Fraction(25), "fake", key_interval=5, key_span=20)
    assert np.flatnonzero(~track.valid).tolist() == list(range(27, 34))
    assert track.n_frames == 60
    assert len(det.seen) < 30
    assert not any(1 <= i < 20 for i in det.seen)  # the steady first span is not detected


def test_key_span_is_part_of_the_track_cache_key():
    from ml.settings import RenderSettings

    assert RenderSettings().detection_key() != RenderSettings(key_span=0).detection_key()
    assert RenderSettings(key_span=0).detection_key() == RenderSettings(key_span=5).detection_key()  # both off
    with pytest.raises(ValueError):
        RenderSettings(key_span=-1)
