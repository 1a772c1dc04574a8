"""Probe an uploaded file with PyAV: what it is, and the facts a render needs.

The kind (audio, video, image) comes from the content, never from the name;
a name whose extension contradicts the content is refused.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

AUDIO_EXTENSIONS = {".wav", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".m4v"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png"}
ALLOWED_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS | IMAGE_EXTENSIONS
# A video container holding only sound is usable as the voice recording.
EXTENSIONS_FOR_KIND = {
    "audio": AUDIO_EXTENSIONS | VIDEO_EXTENSIONS,
    "video": VIDEO_EXTENSIONS,
    "image": IMAGE_EXTENSIONS,
}
IMAGE_CODECS = {"mjpeg", "png", "jpeg2000", "webp", "bmp", "tiff", "gif"}
IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif"}


class ProbeError(Exception):
    """A file we cannot use. ``code`` selects the (translated) message."""

    def __init__(self, code: str, detail: str = "", **params):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.params = params


@dataclass
class MediaInfo:
    kind: str
    container: str
    duration: float | None = None
    fps: Fraction | None = None
    frame_count: int | None = None
    width: int | None = None
    height: int | None = None
    rotation: int = 0
    video_codec: str = ""
    audio_codec: str = ""
    sample_rate: int | None = None
    channels: int | None = None
    variable_frame_rate: bool = False
    notes: list[str] = field(default_factory=list)


def probe(path: Path, original_name: str) -> MediaInfo:
    extension = Path(original_name).suffix.lower()
    if extension not in ALLOWED_EXTENSIONS:
        raise ProbeError("bad_extension", extension=extension or "?")
    if path.stat().st_size == 0:
        raise ProbeError("empty")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        if _looks_like_mp4(path):  # an MP4/MOV whose index (moov) never got written
            raise ProbeError("truncated", str(exc)) from None
        raise ProbeError("undecodable", str(exc)) from None
    with container:
        info = _probe_open(container)
    if extension not in EXTENSIONS_FOR_KIND[info.kind]:
        raise ProbeError("extension_mismatch", kind=info.kind, extension=extension)
    return info


def _looks_like_mp4(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(12)[4:8] == b"ftyp"


def _probe_open(container) -> MediaInfo:
    video = next((s for s in container.streams.video), None)
    audio = next((s for s in container.streams.audio), None)
    format_names = set(container.format.name.split(","))
    if video is not None and (video.codec_context.name in IMAGE_CODECS and format_names & IMAGE_FORMATS):
        return _probe_image(container, video)
    if video is not None:
        return _probe_video(container, video, audio)
    if audio is not None:
        return _probe_audio(container, audio)
    raise ProbeError("no_streams")


def _probe_image(container, stream) -> MediaInfo:
    try:
        frame = next(container.decode(stream))
    except (StopIteration, av.error.FFmpegError):
        raise ProbeError("undecodable", "image does not decode") from None
    return MediaInfo(
        kind="image",
        container=container.format.name,
        width=frame.width,
        height=frame.height,
        video_codec=stream.codec_context.name,
    )


def _probe_audio(container, stream) -> MediaInfo:
    samples = 0
    rate = stream.codec_context.sample_rate or stream.sample_rate
    try:
        for frame in container.decode(stream):
            samples += frame.samples
    except av.error.FFmpegError as exc:
        raise ProbeError("corrupt", str(exc)) from None
    if samples == 0 or not rate:
        raise ProbeError("corrupt", "no audio samples decoded")
    return MediaInfo(
        kind="audio",
        container=container.format.name,
        duration=samples / rate,
        audio_codec=stream.codec_context.name,
        sample_rate=rate,
        channels=stream.codec_context.channels,
    )


def _probe_video(container, stream, audio) -> MediaInfo:
    # Demux every packet (cheap, no decoding) to catch truncated files and
    # measure the real frame timing; decode the first and last frames.
    time_base = stream.time_base
    pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts is not None:
                pts.append(packet.pts)
    except av.error.FFmpegError as exc:
        raise ProbeError("corrupt", str(exc)) from None
    declared = stream.frames or 0
    if not pts:
        raise ProbeError("corrupt", "no video frames")
    if declared and len(pts) < declared:
        raise ProbeError("truncated", f"{len(pts)} of {declared} frames present")

    pts.sort()
    deltas = [b - a for a, b in zip(pts, pts[1:]) if b > a]
    fps = stream.average_rate or stream.guessed_rate or stream.base_rate
    vfr = False
    if deltas and time_base:
        median = statistics.median(deltas)
        spread = [abs(d - median) for d in deltas]
        # More than 5% of frames off the median duration by over 20%.
        vfr = sum(1 for s in spread if s > 0.2 * median) > 0.05 * len(deltas)
        if not vfr:
            exact = _exact_rate(stream, median * time_base)
            fps = exact or fps
    if not fps:
        raise ProbeError("corrupt", "unknown frame rate")

    first = _decode_first_frame(container, stream)
    duration = None
    if container.duration:
        duration = container.duration / av.time_base
    elif stream.duration and time_base:
        duration = float(stream.duration * time_base)
    if deltas and time_base:
        duration = float((pts[-1] - pts[0] + statistics.median(deltas)) * time_base)

    info = MediaInfo(
        kind="video",
        container=container.format.name,
        duration=duration,
        fps=Fraction(fps),
        frame_count=len(pts),
        width=first.width,
        height=first.height,
        rotation=int(getattr(first, "rotation", 0) or 0),
        video_codec=stream.codec_context.name,
        variable_frame_rate=vfr,
    )
    if audio is not None:
        info.audio_codec = audio.codec_context.name
        info.sample_rate = audio.codec_context.sample_rate
        info.channels = audio.codec_context.channels
    return info


def _exact_rate(stream, frame_duration) -> Fraction | None:
    """Prefer the stream's declared rational rate when it matches the measured
    frame duration: 30000/1001 stays 30000/1001 instead of becoming 29.97."""
    measured = 1 / Fraction(frame_duration)
    for candidate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if candidate and abs(float(candidate) - float(measured)) < 0.01 * float(measured):
            return Fraction(candidate)
    return measured.limit_denominator(1001)


def _decode_first_frame(container, stream):
    container.seek(0)
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise ProbeError("corrupt", str(exc)) from None
    raise ProbeError("corrupt", "no frame decodes")


def sample_frames(path: Path, count: int, max_width: int = 640) -> list[np.ndarray]:
    """Up to ``count`` BGR frames spread evenly over a video (or the image
    itself), downscaled to at most ``max_width`` pixels wide."""
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        total = stream.frames or 0
        duration = float(stream.duration * stream.time_base) if stream.duration else None
        if duration is None and container.duration:
            duration = container.duration / av.time_base
        if not duration or total <= 1:
            for frame in container.decode(stream):
                frames.append(_to_bgr(frame, max_width))
                if len(frames) >= count:
                    break
            return frames
        for i in range(count):
            target = duration * (i + 0.5) / count
            container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.time is None or frame.time >= target - 0.05:
                    frames.append(_to_bgr(frame, max_width))
                    break
    return frames


def _to_bgr(frame, max_width: int) -> np.ndarray:
    width, height = frame.width, frame.height
    if width > max_width:
        height = max(2, round(height * max_width / width))
        width = max_width
    return frame.to_ndarray(format="bgr24", width=width, height=height)
