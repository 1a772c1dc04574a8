"""Small synthetic media and checkpoints for tests (no pytest, no Django).

Every clip is built from ``skimage.data.astronaut()`` (a real face photo) or
from plain noise, with PyAV, and kept tiny so tests stay fast.

``make_random_checkpoint`` writes a *randomly initialised* Wav2Lip in the
official file format. It exercises every code path but produces noise, never
lip-sync: it must never be presented as a real model.
"""

from __future__ import annotations

import math
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np

# The face in astronaut() sits at x 177..272, y 66..161 (512x512 image); this
# crop keeps it large and centred-ish.
_CROP = (0, 300, 100, 400)  # y1, y2, x1, x2


def _astronaut_bgr() -> np.ndarray:
    import skimage.data

    rgb = skimage.data.astronaut()
    y1, y2, x1, x2 = _CROP
    return np.ascontiguousarray(rgb[y1:y2, x1:x2, ::-1])


def make_random_checkpoint(path: str | Path, seed: int = 0, module_prefix: bool = False) -> Path:
    """Write a random Wav2Lip state dict in the official checkpoint format."""
    import torch

    from ml.model import Wav2Lip

    torch.manual_seed(seed)
    model = Wav2Lip()
    # Non-trivial BatchNorm statistics so eval-mode behaviour is exercised.
    g = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1, generator=g)
            mod.running_var.uniform_(0.5, 1.5, generator=g)
    sd = model.state_dict()
    if module_prefix:
        sd = {f"module.{k}": v for k, v in sd.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": sd, "optimizer": {}, "global_step": 0, "global_epoch": 0}, path)
    return path


def make_random_s3fd(path: str | Path, seed: int = 0) -> Path:
    """Write a random S3FD state dict (detects nothing; for speed and shape tests).

    The classifier heads are biased towards "background" so the detector's
    per-candidate Python decoding is not flooded by random scores (which
    would make timings meaningless): like a real detector on a faceless frame.
    """
    import torch
    from face_alignment.detection.sfd.net_s3fd import s3fd

    torch.manual_seed(seed)
    sd = s3fd().state_dict()
    for key in sd:
        if key.endswith("mbox_conf.weight"):
            sd[key] = sd[key] * 1e-3
        elif key.endswith("mbox_conf.bias"):
            bias = torch.full_like(sd[key], 8.0)
            bias[-1] = -8.0  # the last channel is the face class
            sd[key] = bias
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, path)
    return path


def face_frame(i: int, n: int, size: tuple[int, int] = (320, 240), moving: bool = True) -> np.ndarray:
    """Frame ``i`` of ``n`` (BGR uint8): the astronaut on grey, drifting and zooming."""
    w, h = size
    canvas = np.full((h, w, 3), 96, np.uint8)
    face = _astronaut_bgr()
    t = i / max(n - 1, 1) if moving else 0.0
    scale = (h / face.shape[0]) * (0.9 + 0.1 * t)
    fw, fh = int(face.shape[1] * scale), int(face.shape[0] * scale)
    import cv2

    face = cv2.resize(face, (fw, fh), interpolation=cv2.INTER_AREA)
    ox = (w - fw) // 2 + int(round(12 * math.sin(2 * math.pi * t)))
    oy = (h - fh) // 2 + int(round(6 * t))
    # Paste with clipping to the canvas.
    x1, y1 = max(ox, 0), max(oy, 0)
    x2, y2 = min(ox + fw, w), min(oy + fh, h)
    canvas[y1:y2, x1:x2] = face[y1 - oy : y2 - oy, x1 - ox : x2 - ox]
    return canvas


def _tone_samples(seconds: float, freq: float, sr: int, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _write_video(
    path: Path,
    frames,
    fps: Fraction | int | float,
    size: tuple[int, int],
    audio: np.ndarray | None = None,
    sr: int = 16000,
    hevc10: bool = False,
) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
    with av.open(str(path), "w") as out:
        if hevc10:  # what phones record: HEVC, 10-bit 4:2:0, tagged hvc1 as Apple players want
            vs = out.add_stream("libx265", rate=rate)
            vs.pix_fmt = "yuv420p10le"
            vs.codec_tag = "hvc1"
            vs.options = {"crf": "18", "preset": "ultrafast", "x265-params": "log-level=error"}
        else:
            vs = out.add_stream("libx264", rate=rate)
            vs.pix_fmt = "yuv420p"
            vs.options = {"crf": "12", "preset": "ultrafast"}
        vs.width, vs.height = size
        as_ = None
        if audio is not None:
            as_ = out.add_stream("aac", rate=sr)
            as_.layout = "mono"
        import cv2

        for img in frames:
            # OpenCV's exact BT.601 conversion (swscale's default drifts).
            vf = av.VideoFrame.from_ndarray(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
            if hevc10:
                vf = vf.reformat(format="yuv420p10le")
            for pkt in vs.encode(vf):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        if as_ is not None:
            af = av.AudioFrame.from_ndarray(audio.reshape(1, -1), format="fltp", layout="mono")
            af.sample_rate = sr
            af.pts = 0  # lets the muxer record the AAC priming in an edit list
            af.time_base = Fraction(1, sr)
            for pkt in as_.encode(af):
                out.mux(pkt)
            for pkt in as_.encode():
                out.mux(pkt)
    return path


def make_face_clip(
    path: str | Path,
    seconds: float = 1.0,
    fps: Fraction | int | float = 25,
    size: tuple[int, int] = (320, 240),
    moving: bool = True,
    faceless_frames: range | list[int] | None = None,
    with_audio: bool = False,
) -> Path:
    """An H.264 mp4 of the astronaut face, optionally with flat grey (faceless) frames."""
    rate = Fraction(fps).limit_denominator(1001)
    n = max(1, int(round(seconds * rate)))
    blank = set(faceless_frames or ())
    w, h = size

    def frames():
        for i in range(n):
            if i in blank:
                yield np.full((h, w, 3), 128, np.uint8)
            else:
                yield face_frame(i, n, size, moving)

    audio = _tone_samples(n / rate, 220.0, 16000) if with_audio else None
    return _write_video(Path(path), frames(), rate, size, audio)


def make_rotated_clip(
    path: str | Path,
    rotation: int = 90,
    kind: str = "matrix",
    seconds: float = 0.4,
    fps: int = 25,
    size: tuple[int, int] = (240, 320),
    hevc10: bool = False,
    with_audio: bool = False,
) -> Path:
    """A clip that shows the astronaut upright at ``size`` (w, h) only once
    turned ``rotation`` degrees clockwise, as players do: its pixels are
    stored turned the other way, like a phone's.

    ``kind`` "matrix" stores the turn as a display matrix (what phones write;
    a portrait phone clip is ``rotation=90``: landscape pixels, a -90°
    matrix); "tag" as a ``rotate`` stream tag (older files; only Matroska keeps
    such a tag). ``hevc10`` encodes 10-bit HEVC. The turn is added by
    ffmpeg with ``-c copy``, as a phone's file has it.
    """
    import subprocess

    import cv2
    import imageio_ffmpeg

    path = Path(path)
    n = max(1, int(round(seconds * fps)))
    undo = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}[rotation]
    coded = (size[1], size[0]) if rotation in (90, 270) else size
    frames = (cv2.rotate(face_frame(i, n, size), undo) for i in range(n))
    audio = _tone_samples(n / fps, 220.0, 16000) if with_audio else None
    plain = path.with_name(f".{path.stem}.plain.mp4")
    _write_video(plain, frames, fps, coded, audio, hevc10=hevc10)
    if kind == "matrix":  # -display_rotation is counter-clockwise
        turn = ["-display_rotation:v:0", str(-rotation), "-i", str(plain)]
    elif kind == "tag":
        turn = ["-i", str(plain), "-metadata:s:v:0", f"rotate={rotation}"]
    else:
        raise ValueError(kind)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *turn, "-c", "copy", str(path)]
    subprocess.run(cmd, check=True)
    plain.unlink()
    return path


def hevc_encoder_available() -> bool:
    import av

    return "libx265" in av.codecs_available


def make_vfr_clip(path: str | Path, seconds: float = 1.0, size: tuple[int, int] = (320, 240)) -> Path:
    """A variable-frame-rate clip: frame gaps alternate 40 ms and 60 ms (about 20 fps)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    times, t = [], 0
    while t < seconds * 1000:
        times.append(t)
        t += 40 if len(times) % 2 else 60
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.codec_context.time_base = Fraction(1, 1000)
        vs.time_base = Fraction(1, 1000)
        vs.options = {"crf": "12", "preset": "ultrafast"}
        for i, ms in enumerate(times):
            import cv2

            img = cv2.cvtColor(face_frame(i, len(times), size), cv2.COLOR_BGR2YUV_I420)
            vf = av.VideoFrame.from_ndarray(img, format="yuv420p")
            vf.pts = ms
            vf.time_base = Fraction(1, 1000)
            for pkt in vs.encode(vf):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    return path


def make_faceless_clip(
    path: str | Path,
    seconds: float = 1.0,
    fps: Fraction | int | float = 25,
    size: tuple[int, int] = (320, 240),
) -> Path:
    """A clip with no face at all: a moving colour gradient with a little noise."""
    rate = Fraction(fps).limit_denominator(1001)
    n = max(1, int(round(seconds * rate)))
    w, h = size
    rng = np.random.default_rng(0)
    xx = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    yy = np.linspace(0, 255, h, dtype=np.float32)[:, None]

    def frames():
        for i in range(n):
            b = (xx + 8 * i) % 256 + 0 * yy
            g = (yy + 4 * i) % 256 + 0 * xx
            r = np.full((h, w), (16 * i) % 256, np.float32)
            img = np.stack([b, g, r], -1) + rng.normal(0, 6, (h, w, 3))
            yield np.clip(img, 0, 255).astype(np.uint8)

    return _write_video(Path(path), frames(), rate, size)


def make_face_image(path: str | Path, size: tuple[int, int] = (320, 240)) -> Path:
    """A still image (jpg or png by suffix) of the astronaut."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), face_frame(0, 1, size, moving=False)):
        raise OSError(f"could not write {path}")
    return path


def make_rotated_photo(path: str | Path, size: tuple[int, int] = (288, 512)) -> Path:
    """A JPEG shown upright at ``size`` (w, h) only once its EXIF orientation
    (6: turn 90° clockwise) is applied, as phones save portrait photos."""
    import cv2
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    coded = cv2.rotate(face_frame(0, 1, size, moving=False), cv2.ROTATE_90_COUNTERCLOCKWISE)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    Image.fromarray(np.ascontiguousarray(coded[:, :, ::-1])).save(path, exif=exif.tobytes(), quality=92)
    return path


def _write_wav(path: Path, samples: np.ndarray, sr: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(samples * 32767.0, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return path


def make_tone(path: str | Path, seconds: float = 1.0, freq: float = 440.0, sr: int = 16000) -> Path:
    """A mono 16-bit wav sine tone."""
    return _write_wav(Path(path), _tone_samples(seconds, freq, sr), sr)


def make_silence(path: str | Path, seconds: float = 1.0, sr: int = 16000) -> Path:
    """A mono 16-bit wav of digital silence."""
    return _write_wav(Path(path), np.zeros(int(round(seconds * sr)), np.float32), sr)


def cut_audio(src: str | Path, dst: str | Path, seconds: float) -> Path:
    """The first ``seconds`` of a wav file, written as a new wav (e.g. short speech)."""
    with wave.open(str(src), "rb") as r:
        sr, ch, sw = r.getframerate(), r.getnchannels(), r.getsampwidth()
        data = r.readframes(int(round(seconds * sr)))
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(ch)
        w.setsampwidth(sw)
        w.setframerate(sr)
        w.writeframes(data)
    return dst
