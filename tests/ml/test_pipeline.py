"""End-to-end renders on tiny real media with a RANDOM checkpoint.

Random weights produce noise where the mouth goes: these tests check
geometry, timing, streaming and error handling, never lip-sync quality.
"""

from __future__ import annotations

import json
import threading
from fractions import Fraction
from pathlib import Path

import av
import mediafactory as mf
import numpy as np
import pytest
import torch

from ml.checkpoint import load_wav2lip
from ml.errors import (
    AudioTooShort,
    CheckpointError,
    CorruptMedia,
    LipSyncError,
    NoAudioStream,
    NoFaceFound,
    SilentAudio,
)
from ml.infer import Generator
from ml.paste import crop_face
from ml.pipeline import AudioFeatures, LipSyncEngine, Progress, RenderSettings, TrackCache
from ml.track import pingpong_index
from ml.video import to_bgr

BOX = (60, 200, 100, 230)  # y1 y2 x1 x2, around the astronaut's face
LOSSLESS = dict(lossless=True)
BACKENDS = ["torch", "onnx"]  # every backend that runs on a CPU


def read_frames(path: Path) -> list[np.ndarray]:
    """Decoded like the engine decodes (exact BT.601 for 4:2:0)."""
    with av.open(str(path)) as c:
        return [to_bgr(f, f.width, f.height) for f in c.decode(video=0)]


def probe(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        n = sum(1 for _ in c.decode(video=0))
        return {
            "rate": v.average_rate,
            "frames": n,
            "audio": a.codec_context.name if a else None,
            "audio_s": float(a.duration * a.time_base) if a is not None and a.duration else None,
        }


def outside(frame: np.ndarray, box) -> np.ndarray:
    x1, y1, x2, y2 = box
    m = np.ones(frame.shape[:2], bool)
    m[y1:y2, x1:x2] = False
    return frame[m]


def no_leftovers(directory: Path, keep: set[str] = frozenset()) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


def test_render_keeps_audio_duration_and_fps(engine, face_clip, speech_1s, tmp_path):
    seen: list[Progress] = []
    res = engine.render(face_clip, speech_1s, tmp_path / "out.mp4", progress=seen.append)
    info = probe(res.outfile)
    assert res.fps == 25 and info["rate"] == 25
    assert res.frames == info["frames"] == 25
    assert abs(res.duration - res.audio_duration) < 1 / 25
    assert info["audio"] == "aac" and abs(info["audio_s"] - 1.0) < 0.03
    assert res.detector_used == "opencv" and not res.track_cache_hit
    assert res.faceless_frames == 3  # the three blank frames
    assert {"detect", "infer", "encode", "total"} <= set(res.timings)
    assert {p.stage for p in seen} == {"audio", "detect", "infer", "encode"}  # audio given as a path
    assert seen[-1].stage == "encode" and seen[-1].done == seen[-1].total
    assert no_leftovers(tmp_path) == ["out.mp4"]


def test_ntsc_rate_is_kept_exactly(engine, media, speech_1s, tmp_path):
    clip = mf.make_face_clip(media / "ntsc.mp4", seconds=0.5, fps=Fraction(30000, 1001))
    audio = mf.cut_audio(speech_1s, tmp_path / "a.wav", 0.5)
    res = engine.render(clip, audio, tmp_path / "out.mp4", RenderSettings(box=BOX))
    info = probe(res.outfile)
    assert res.fps == info["rate"] == Fraction(30000, 1001)
    assert res.frames == info["frames"] == 15  # ceil(0.5 * 29.97)


@pytest.mark.parametrize("backend", BACKENDS)
def test_box_render_matches_the_reference_semantics(engines, backend, face_clip, speech_1s, tmp_path, random_checkpoint):
    """--box: one fixed box, no pads/smoothing; blend none pastes the whole box
    exactly as the reference (eager PyTorch, NCHW) computes it, whichever
    backend ran the network."""
    engine = engines(backend)
    settings = RenderSettings(box=BOX, blend="none", **LOSSLESS)
    res = engine.render(face_clip, speech_1s, tmp_path / "out.mkv", settings)
    assert res.detector_used == "box" and res.faceless_frames == 0
    assert res.runtime == {"backend": backend, "requested": backend, "device": "cpu", "precision": "fp32"}
    assert any(line.startswith(f"Backend: {backend},") for line in res.log)
    out, src = read_frames(res.outfile), read_frames(face_clip)
    y1, y2, x1, x2 = BOX
    box = (x1, y1, x2, y2)
    # Reference computation for frame 3.
    model, _ = load_wav2lip(random_checkpoint)
    feats = AudioFeatures.from_file(speech_1s)
    start = int(3 * 80 / 25)
    pred = Generator(model, torch.device("cpu"))(crop_face(src[3], box)[None], feats.mel[None, :, start : start + 16])[
        0
    ]
    import cv2

    expected = cv2.resize(pred, (x2 - x1, y2 - y1))
    diff = np.abs(out[3][y1:y2, x1:x2].astype(int) - expected.astype(int))
    assert diff.max() <= 2
    for i in range(0, 25, 6):
        np.testing.assert_array_equal(outside(out[i], box), outside(src[i], box))


def test_pixels_outside_the_face_box_are_unchanged(engine, face_clip, speech_1s, tmp_path):
    cache = TrackCache(tmp_path / "tracks")
    res = engine.render(face_clip, speech_1s, tmp_path / "out.mkv", RenderSettings(**LOSSLESS), track_cache=cache)
    track = cache.get(mf_sha(face_clip), "opencv", RenderSettings().detection_key())
    boxes = track.render_boxes((0, 10, 0, 0), 5)
    out, src = read_frames(res.outfile), read_frames(face_clip)
    changed_inside = 0
    for i, (o, s) in enumerate(zip(out, src)):
        if boxes[i][0] < 0:
            np.testing.assert_array_equal(o, s)  # faceless: passed through
            continue
        np.testing.assert_array_equal(outside(o, boxes[i]), outside(s, boxes[i]))
        x1, y1, x2, y2 = boxes[i]
        changed_inside += int(np.any(o[y1:y2, x1:x2] != s[y1:y2, x1:x2]))
        # Feathered mask: the box's top rows and border are untouched.
        np.testing.assert_array_equal(o[y1 : y1 + (y2 - y1) // 3, x1:x2], s[y1 : y1 + (y2 - y1) // 3, x1:x2])
    assert changed_inside == 22


def mf_sha(path: Path) -> str:
    from ml.hashing import file_sha256

    return file_sha256(path)


def test_faceless_frames_pass_through_in_lossy_output(engine, face_clip, speech_1s, tmp_path):
    res = engine.render(face_clip, speech_1s, tmp_path / "out.mp4")
    out, src = read_frames(res.outfile), read_frames(face_clip)
    for i in (10, 11, 12):
        assert np.abs(out[i].astype(int) - src[i].astype(int)).mean() < 2.0  # codec tolerance


def test_second_render_of_the_same_video_skips_detection(engine, face_clip, speech_1s, speech_2s, tmp_path):
    cache = TrackCache(tmp_path / "tracks")
    det = engine.detector()
    before = det.calls
    first = engine.render(face_clip, speech_1s, tmp_path / "a.mp4", track_cache=cache)
    used = det.calls - before
    assert not first.track_cache_hit and 0 < used < 25  # key frames, not every frame
    second = engine.render(
        face_clip, speech_2s, tmp_path / "b.mp4", track_cache=cache, settings=RenderSettings(pads=(0, 20, 5, 5))
    )
    assert second.track_cache_hit and det.calls - before == used
    assert second.frames == 50


def test_cancel_through_the_progress_callback_leaves_no_file(engine, face_clip, speech_2s, tmp_path):
    class Cancelled(Exception):
        pass

    def progress(p: Progress) -> None:
        if p.stage == "infer" and p.done >= 8:
            raise Cancelled()

    with pytest.raises(Cancelled):
        engine.render(face_clip, speech_2s, tmp_path / "out.mp4", progress=progress)
    assert no_leftovers(tmp_path) == []


def test_static_image_input(engine, media, speech_1s, tmp_path):
    image = mf.make_face_image(media / "face.jpg")
    res = engine.render(image, speech_1s, tmp_path / "out.mp4")
    assert res.fps == 25 and res.frames == probe(res.outfile)["frames"] == 25
    assert res.faceless_frames == 0


def test_audio_longer_than_video_plays_ping_pong(engine, face_clip, speech_2s, tmp_path):
    res = engine.render(face_clip, speech_2s, tmp_path / "out.mkv", RenderSettings(box=BOX, **LOSSLESS))
    out, src = read_frames(res.outfile), read_frames(face_clip)
    assert len(out) == 50
    box = (BOX[2], BOX[0], BOX[3], BOX[1])
    for i in range(0, 50, 3):
        np.testing.assert_array_equal(outside(out[i], box), outside(src[pingpong_index(i, 25)], box))


def test_forward_loop_is_available_and_faceless_counts_follow_the_loop(engine, face_clip, speech_2s, tmp_path):
    res = engine.render(face_clip, speech_2s, tmp_path / "out.mkv", RenderSettings(loop="forward", **LOSSLESS))
    out, src = read_frames(res.outfile), read_frames(face_clip)
    assert res.faceless_frames == 6
    np.testing.assert_array_equal(out[35], src[10])  # 35 = 25 + 10: jumped back to 0


def test_video_longer_than_audio_is_trimmed(engine, media, tmp_path):
    clip = mf.make_face_clip(media / "long.mp4", seconds=2.0)
    audio = mf.cut_audio(mf_fixture("speech_en_16k.wav"), tmp_path / "a.wav", 0.4)
    res = engine.render(clip, audio, tmp_path / "out.mp4")
    assert res.frames == probe(res.outfile)["frames"] == 10


def mf_fixture(name: str) -> Path:
    return Path(__file__).resolve().parents[1] / "fixtures" / name


def test_variable_frame_rate_is_normalised(engine, media, speech_1s, tmp_path):
    clip = mf.make_vfr_clip(media / "vfr.mp4", seconds=1.0)
    res = engine.render(clip, speech_1s, tmp_path / "out.mp4", RenderSettings(box=BOX))
    info = probe(res.outfile)
    assert res.fps == info["rate"] == 20
    assert info["frames"] == 20


def test_precomputed_audio_features_are_reused(engine, face_clip, speech_1s, tmp_path):
    feats = AudioFeatures.load(AudioFeatures.from_file(speech_1s).save(tmp_path / "a.npz"))
    res = engine.render(face_clip, feats, tmp_path / "out.mp4", RenderSettings(box=BOX))
    assert res.frames == 25 and probe(res.outfile)["audio"] == "aac"


def test_settings_roundtrip_through_json():
    s = RenderSettings(pads=(1, 2, 3, 4), box=(1, 2, 3, 4), blend="none", loop="forward")
    back = RenderSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s and isinstance(back.pads, tuple)
    assert RenderSettings.from_dict(RenderSettings().to_dict()) == RenderSettings()
    with pytest.raises(ValueError):
        RenderSettings.from_dict({"blend": "smudge"})
    with pytest.raises(ValueError):
        RenderSettings.from_dict({"colour": 1})


# ------------------------------------------------------------ bad input


def _fails_cleanly(engine, face, audio, tmp_path, error, **kw):
    out = tmp_path / "out" / "result.mp4"
    out.parent.mkdir()
    with pytest.raises(error) as err:
        engine.render(face, audio, out, **kw)
    assert isinstance(err.value, LipSyncError)
    assert err.value.code and err.value.message and "Traceback" not in err.value.message
    assert no_leftovers(out.parent) == []
    return err.value


def test_too_short_audio(engine, face_clip, tmp_path):
    short = mf.make_tone(tmp_path / "short.wav", 0.1)
    _fails_cleanly(engine, face_clip, short, tmp_path, AudioTooShort)


def test_silent_audio(engine, face_clip, tmp_path):
    _fails_cleanly(engine, face_clip, mf.make_silence(tmp_path / "z.wav", 1.0), tmp_path, SilentAudio)


def test_audio_without_a_stream(engine, face_clip, tmp_path):
    _fails_cleanly(engine, face_clip, face_clip, tmp_path, NoAudioStream)


def test_video_with_no_face_at_all(engine, media, speech_1s, tmp_path):
    clip = mf.make_faceless_clip(media / "noface.mp4", seconds=0.6)
    err = _fails_cleanly(engine, clip, speech_1s, tmp_path, NoFaceFound)
    assert err.code == "no_face_found"


def test_corrupt_video(engine, face_clip, speech_1s, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(face_clip.read_bytes()[:3000])
    _fails_cleanly(engine, bad, speech_1s, tmp_path, CorruptMedia)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01garbage" * 500)
    with pytest.raises(CorruptMedia):
        engine.render(junk, speech_1s, tmp_path / "junk_out.mp4")
    assert not (tmp_path / "junk_out.mp4").exists()


def test_checkpoint_with_wrong_keys(tmp_path):
    sd = {"conv.weight": torch.zeros(3, 3)}
    path = tmp_path / "wrong.pth"
    torch.save({"state_dict": sd, "optimizer": {}, "global_step": 0, "global_epoch": 0}, path)
    with pytest.raises(CheckpointError) as err:
        LipSyncEngine(path, device="cpu", detector="opencv")
    assert "not a Wav2Lip" in err.value.message


def test_detection_frames_read_ahead_keep_order_errors_and_cleanup():
    """The detection pass reads frames in a thread of its own: same items in
    the same order, a decoder error reaches the render, and stopping early
    (a cancel) closes the decoder."""
    from ml.pipeline import _read_ahead

    assert list(_read_ahead(iter(range(100)), 3, "t")) == list(range(100))

    def broken():
        yield 1
        raise CorruptMedia("damaged at frame 2")

    got = []
    with pytest.raises(CorruptMedia, match="damaged at frame 2"):
        for item in _read_ahead(broken(), 4, "t"):
            got.append(item)
    assert got == [1]

    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    reader = _read_ahead(endless(), 2, "t")
    assert [next(reader) for _ in range(5)] == [0, 1, 2, 3, 4]
    reader.close()  # what a cancel does to the pass
    assert closed.is_set()
