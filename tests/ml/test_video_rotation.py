"""Phone videos: pixels stored sideways plus a display matrix or a rotate tag.

The engine must see (and write) what a player shows: the astronaut upright
at the displayed size, never the coded landscape pixels.
"""

from __future__ import annotations

import subprocess

import av
import cv2
import imageio_ffmpeg
import mediafactory as mf
import numpy as np
import pytest

from ml.pipeline import RenderSettings
from ml.video import VideoSource

# (file name, maker arguments): a portrait phone clip (landscape pixels, a
# -90° display matrix), a .mov turned the other way, upside down, an older
# file's rotate tag, and a phone's 10-bit HEVC.
KINDS = {
    "phone": ("phone.mp4", dict(rotation=90)),
    "mov270": ("turned.mov", dict(rotation=270)),
    "upside_down": ("upside_down.mp4", dict(rotation=180)),
    "rotate_tag": ("tagged.mkv", dict(rotation=90, kind="tag")),
    "hevc10": ("phone_hevc.mp4", dict(rotation=90, hevc10=True)),
}
DISPLAYED = (240, 320)  # w, h: portrait, as the member sees it


def _cascade_faces(img: np.ndarray) -> int:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return len(cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=8, minSize=(24, 24)))


@pytest.fixture(scope="module", params=list(KINDS))
def rotated(request, media):
    name, kwargs = KINDS[request.param]
    if kwargs.get("hevc10") and not mf.hevc_encoder_available():
        pytest.skip("this PyAV build has no libx265 encoder")
    path = media / name
    if not path.exists():
        mf.make_rotated_clip(path, **kwargs)
    return request.param, path, kwargs["rotation"]


def test_the_clip_really_is_stored_sideways(rotated):
    kind, path, rotation = rotated
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        coded = (cc.width, cc.height)
    assert coded == ((320, 240) if rotation in (90, 270) else DISPLAYED)
    if kind == "hevc10":
        assert (cc.name, cc.pix_fmt) == ("hevc", "yuv420p10le")


def test_probe_reports_the_displayed_size_and_the_turn(rotated):
    _, path, rotation = rotated
    info = VideoSource(path).info
    assert (info.width, info.height, info.rotation) == (*DISPLAYED, rotation)


def test_frames_are_upright(rotated):
    _, path, _ = rotated
    frames = [img for _, img in VideoSource(path).frames()]
    assert len(frames) == 10
    assert all(img.shape == (320, 240, 3) for img in frames)
    # The face is found upright, and not in the picture turned a quarter.
    assert _cascade_faces(frames[0]) == 1
    assert _cascade_faces(cv2.rotate(frames[0], cv2.ROTATE_90_CLOCKWISE)) == 0


def test_frames_match_what_ffmpeg_shows(rotated):
    """ffmpeg's own autorotation (what players do) gives the same picture;
    ffmpeg no longer reads the legacy rotate tag, so that kind is left out."""
    kind, path, _ = rotated
    if kind == "rotate_tag":
        pytest.skip("ffmpeg ignores the legacy rotate tag; checked against the Haar face above")
    png = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "image2pipe"]
        + ["-vcodec", "png", "-"],
        capture_output=True,
        check=True,
    ).stdout
    shown = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    ours = next(VideoSource(path).frames())[1]
    assert shown.shape == ours.shape
    assert np.abs(shown.astype(int) - ours).mean() < 3


def test_seeking_scaling_and_reversing_stay_upright(rotated):
    _, path, _ = rotated
    source = VideoSource(path)
    whole = dict(source.frames())
    assert [img.shape for _, img in source.frames(size=(120, 160))] == [(160, 120, 3)] * 10
    later = dict(source.frames(start=6, stop=9))
    assert sorted(later) == [6, 7, 8]
    assert all(np.array_equal(later[k], whole[k]) for k in later)
    back = list(source.reversed_frames(9, 5))
    assert [k for k, _ in back] == [9, 8, 7, 6, 5]
    assert all(np.array_equal(img, whole[k]) for k, img in back)


def test_resize_factor_halves_the_displayed_size(rotated):
    _, path, _ = rotated
    source = VideoSource(path, resize_factor=2)
    assert (source.info.width, source.info.height) == (120, 160)
    assert next(source.frames())[1].shape == (160, 120, 3)


@pytest.mark.parametrize("kind", ["phone", "rotate_tag", "hevc10"])
def test_render_of_a_phone_clip_is_written_upright(engine, media, speech_1s, tmp_path, kind):
    name, kwargs = KINDS[kind]
    if kwargs.get("hevc10") and not mf.hevc_encoder_available():
        pytest.skip("this PyAV build has no libx265 encoder")
    clip = mf.make_rotated_clip(tmp_path / name, **kwargs)
    # 0.4 s of video under 1 s of speech: the clip plays forwards and backwards.
    res = engine.render(clip, speech_1s, tmp_path / "out.mp4", RenderSettings())
    assert (res.width, res.height) == DISPLAYED
    assert any("turned 90°" in line for line in res.log)
    with av.open(str(res.outfile)) as c:
        stream = c.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == DISPLAYED
        assert "rotate" not in {k.lower() for k in stream.metadata}
        frames = list(c.decode(stream))
    assert len(frames) == res.frames == 25
    assert all(f.rotation == 0 for f in frames)  # no display matrix: plays as encoded
    # The untouched picture around the mouth is the upright source.
    upright = dict(VideoSource(clip).frames())
    out0 = frames[0].to_ndarray(format="bgr24")
    assert np.abs(out0.astype(int) - upright[0]).mean() < 8


def test_a_phone_photo_is_read_upright(tmp_path):
    """EXIF orientation 6: stored sideways, shown upright (as the upload page shows it)."""
    source = VideoSource(mf.make_rotated_photo(tmp_path / "portrait.jpg", size=(288, 512)))
    assert (source.info.width, source.info.height) == (288, 512)
    img = next(source.frames())[1]
    assert img.shape == (512, 288, 3) and _cascade_faces(img) == 1
