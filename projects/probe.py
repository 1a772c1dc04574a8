"""Probe an uploaded file with PyAV: what it is, and the facts a render needs.

The kind (audio, video, image) comes from the content, never from the name;
a name whose extension contradicts the content is refused. The media limits
(duration, frame size, frame rate, image pixels) are checked from metadata
before anything is decoded, so a small file that would decode to hours of
audio or a gigapixel picture costs the web process next to nothing; where the
metadata says nothing, demuxing stops as soon as the limit is passed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from django.conf import settings

from ml.limits import NO_LIMITS, MediaLimits, MediaOverLimit, format_duration, format_rate, image_size, metadata_seconds
from ml.video import display_rotation, rotate_upright

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
# Frames decoded at most to reach one preflight sample after a seek: a video
# with one key frame per hour must not be decoded whole to find its middle.
MAX_DECODE_PER_SAMPLE = 250
# Audio decoded at upload to make sure it decodes at all (the worker reads the rest).
AUDIO_CHECK_SECONDS = 2.0


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


def media_limits() -> MediaLimits:
    """The limits from the settings (HEYGEM_MAX_MEDIA_SECONDS and friends)."""
    return MediaLimits(
        max_seconds=settings.HEYGEM_MAX_MEDIA_SECONDS,
        max_frame_side=settings.HEYGEM_MAX_FRAME_SIDE,
        max_fps=settings.HEYGEM_MAX_FPS,
        max_image_pixels=settings.HEYGEM_MAX_IMAGE_PIXELS,
    )


def probe(path: Path, original_name: str, limits: MediaLimits = NO_LIMITS) -> MediaInfo:
    extension = Path(original_name).suffix.lower()
    if extension not in ALLOWED_EXTENSIONS:
        raise ProbeError("bad_extension", extension=extension or "?")
    if path.stat().st_size == 0:
        raise ProbeError("empty")
    try:
        info = _probe_limited(path, original_name, limits)
    except MediaOverLimit as over:
        raise _over_limit(over) from None
    if extension not in EXTENSIONS_FOR_KIND[info.kind]:
        raise ProbeError("extension_mismatch", kind=info.kind, extension=extension)
    return info


def _probe_limited(path: Path, name: str, limits: MediaLimits) -> MediaInfo:
    size = image_size(path)
    if size is not None:  # before av.open, which decodes the whole picture
        limits.check_picture(name, *size, still=True)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        if _looks_like_mp4(path):  # an MP4/MOV whose index (moov) never got written
            raise ProbeError("truncated", str(exc)) from None
        raise ProbeError("undecodable", str(exc)) from None
    with container:
        return _probe_open(container, limits, name)


def _over_limit(over: MediaOverLimit) -> ProbeError:
    """The limit and the file's value, formatted for the refusal message."""
    if over.limit == "duration":
        value = format_duration(over.value) if over.value is not None else ""
        return ProbeError("over_limit", str(over), limit=over.limit, value=value, maximum=format_duration(over.maximum))
    if over.limit == "fps":
        return ProbeError(
            "over_limit",
            str(over),
            limit=over.limit,
            value=format_rate(over.value or 0),
            maximum=format_rate(over.maximum),
        )
    if over.limit == "image_pixels":
        value, maximum = f"{(over.value or 0) / 1e6:.1f}", f"{over.maximum / 1e6:.1f}"
    else:
        value, maximum = str(int(over.value or 0)), str(int(over.maximum))
    return ProbeError("over_limit", str(over), limit=over.limit, value=value, maximum=maximum, **over.extra)


def _looks_like_mp4(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(12)[4:8] == b"ftyp"


def _probe_open(container, limits: MediaLimits, name: str) -> MediaInfo:
    # Cover art in an MP3/M4A is a one-picture "video" stream marked as an
    # attached picture: the file is still a voice recording.
    video = next((s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic), None)
    audio = next((s for s in container.streams.audio), None)
    format_names = set(container.format.name.split(","))
    if video is not None and (video.codec_context.name in IMAGE_CODECS and format_names & IMAGE_FORMATS):
        return _probe_image(container, video, limits, name)
    if video is not None:
        return _probe_video(container, video, audio, limits, name)
    if audio is not None:
        return _probe_audio(container, audio, limits, name)
    raise ProbeError("no_streams")


def _probe_image(container, stream, limits: MediaLimits, name: str) -> MediaInfo:
    cc = stream.codec_context
    if cc.width and cc.height:
        limits.check_picture(name, cc.width, cc.height, still=True)
    try:
        frame = next(container.decode(stream))
    except (StopIteration, av.error.FFmpegError):
        raise ProbeError("undecodable", "image does not decode") from None
    # A phone photo's EXIF orientation arrives as the frame's display matrix.
    rotation = display_rotation(stream, frame)
    width, height = (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)
    return MediaInfo(
        kind="image",
        container=container.format.name,
        width=width,
        height=height,
        rotation=rotation,
        video_codec=stream.codec_context.name,
    )


def _probe_audio(container, stream, limits: MediaLimits, name: str) -> MediaInfo:
    rate = stream.codec_context.sample_rate or stream.sample_rate
    duration = metadata_seconds(container, stream)
    limits.check_duration(name, duration)
    if duration is None:
        duration = _demuxed_seconds(container, stream, limits, name)
    samples = 0
    try:
        container.seek(0)
        # The first seconds only: enough to know the audio decodes.
        for frame in container.decode(stream):
            samples += frame.samples
            rate = rate or frame.sample_rate
            if samples >= AUDIO_CHECK_SECONDS * (rate or 1):
                break
    except av.error.FFmpegError as exc:
        raise ProbeError("corrupt", str(exc)) from None
    if samples == 0 or not rate:
        raise ProbeError("corrupt", "no audio samples decoded")
    return MediaInfo(
        kind="audio",
        container=container.format.name,
        duration=duration if duration is not None else samples / rate,
        audio_codec=stream.codec_context.name,
        sample_rate=rate,
        channels=stream.codec_context.channels,
    )


def _demuxed_seconds(container, stream, limits: MediaLimits, name: str) -> float | None:
    """The duration from packet timestamps, for a stream whose metadata has
    none (demuxing, no decoding); stops and refuses as soon as it passes the limit."""
    time_base = stream.time_base
    if not time_base:
        return None
    first = end = None
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            first = packet.pts if first is None else min(first, packet.pts)
            end = max(end or packet.pts, packet.pts + (packet.duration or 0))
            if limits.max_seconds and float((end - first) * time_base) > limits.max_seconds:
                raise MediaOverLimit(name, "duration", None, limits.max_seconds)
    except av.error.FFmpegError as exc:
        raise ProbeError("corrupt", str(exc)) from None
    return float((end - first) * time_base) if first is not None else None


def _probe_video(container, stream, audio, limits: MediaLimits, name: str) -> MediaInfo:
    cc = stream.codec_context
    if cc.width and cc.height:
        limits.check_picture(name, cc.width, cc.height, still=False)
    limits.check_duration(name, metadata_seconds(container, stream))
    # Demux the packets (no decoding) to catch truncated files and measure
    # the real frame timing; the limits bound how far this goes, whatever
    # the metadata said.
    time_base = stream.time_base
    pts: list[int] = []
    lo = hi = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts is not None:
                lo, hi = (packet.pts, packet.pts) if not pts else (min(lo, packet.pts), max(hi, packet.pts))
                pts.append(packet.pts)
                if len(pts) % 256 == 0:
                    _check_demuxed(len(pts), float((hi - lo) * time_base) if time_base else 0.0, limits, name)
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
    limits.check_fps(name, fps)

    first = _decode_first_frame(container, stream)
    limits.check_picture(name, first.width, first.height, still=False)  # where the stream did not say
    # Width and height as players show the video: a phone's portrait clip is
    # landscape pixels turned by its display matrix (or rotate tag).
    rotation = display_rotation(stream, first)
    width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
    duration = None
    if container.duration:
        duration = container.duration / av.time_base
    elif stream.duration and time_base:
        duration = float(stream.duration * time_base)
    if deltas and time_base:
        duration = float((pts[-1] - pts[0] + statistics.median(deltas)) * time_base)
    limits.check_duration(name, duration)

    info = MediaInfo(
        kind="video",
        container=container.format.name,
        duration=duration,
        fps=Fraction(fps),
        frame_count=len(pts),
        width=width,
        height=height,
        rotation=rotation,
        video_codec=stream.codec_context.name,
        variable_frame_rate=vfr,
    )
    if audio is not None:
        info.audio_codec = audio.codec_context.name
        info.sample_rate = audio.codec_context.sample_rate
        info.channels = audio.codec_context.channels
    return info


def _check_demuxed(count: int, span: float, limits: MediaLimits, name: str) -> None:
    """While demuxing (``count`` frames over ``span`` seconds so far): over the
    duration limit, or far more frames than the frame rate limit allows in
    that time (timestamps that lie)."""
    if limits.max_seconds and span > limits.max_seconds:
        raise MediaOverLimit(name, "duration", None, limits.max_seconds)
    if limits.max_fps and count > 2 * limits.max_fps * max(span, 1.0):
        raise MediaOverLimit(name, "fps", count / max(span, 1.0), limits.max_fps)


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
    itself), upright as players show them, downscaled to at most
    ``max_width`` pixels wide."""
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
                frames.append(_upright_bgr(frame, max_width, display_rotation(stream, frame)))
                if len(frames) >= count:
                    break
            return frames
        for i in range(count):
            frame = _frame_near(container, stream, duration * (i + 0.5) / count)
            if frame is not None:
                frames.append(_upright_bgr(frame, max_width, display_rotation(stream, frame)))
    return frames


def _frame_near(container, stream, target: float):
    """The first frame at ``target`` seconds: decoding forward from the key
    frame before it, but at most MAX_DECODE_PER_SAMPLE frames (a video with
    one key frame an hour is not decoded whole); then the last one decoded."""
    container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
    last = None
    for decoded, frame in enumerate(container.decode(stream), 1):
        last = frame
        if frame.time is None or frame.time >= target - 0.05 or decoded >= MAX_DECODE_PER_SAMPLE:
            break
    return last


def _upright_bgr(frame, max_width: int, rotation: int) -> np.ndarray:
    """The frame turned clockwise by ``rotation``, at most ``max_width`` wide once turned."""
    turned = rotation in (90, 270)
    width, height = (frame.height, frame.width) if turned else (frame.width, frame.height)
    if width > max_width:
        height = max(2, round(height * max_width / width))
        width = max_width
    if turned:
        width, height = height, width  # scale the coded picture, then turn it
    return rotate_upright(frame.to_ndarray(format="bgr24", width=width, height=height), rotation)
