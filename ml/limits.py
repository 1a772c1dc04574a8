"""Media limits: what one input may cost, judged from its metadata.

A small file can hold hours of silence or a huge flat picture, so the size
of the file says little about the work it makes. These checks read the
container's and stream's metadata (and, for images, the file header) before
anything is decoded; where metadata is missing, the decoders stop and refuse
as soon as the limit is passed. The platform and the worker use the same
checks (the limits come in as plain numbers, no Django here).
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from fractions import Fraction

from .errors import LipSyncError


def format_duration(seconds: float) -> str:
    """H:MM:SS, rounded up: a file a little over the limit never reads as equal to it."""
    total = math.ceil(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def format_rate(fps: float | Fraction) -> str:
    value = float(fps)
    return f"{value:.0f}" if abs(value - round(value)) < 0.005 else f"{value:.2f}"


class MediaOverLimit(LipSyncError):
    """An input over one of the media limits. ``details``: ``limit`` (duration,
    frame_side, fps or image_pixels), ``value`` (None when only known to be
    over), ``maximum``, and ``width``/``height`` for the picture limits."""

    code = "media_over_limit"
    default_message = "The file is over the media limits of this server."

    def __init__(self, name: str, limit: str, value: float | None, maximum: float, **extra: object) -> None:
        self.name, self.limit, self.value, self.maximum = name, limit, value, maximum
        self.extra = extra
        super().__init__(self._english(), limit=limit, value=value, maximum=maximum, **extra)

    def _english(self) -> str:
        name, value, maximum = self.name, self.value, self.maximum
        if self.limit == "duration":
            if value is None:
                return f"{name} is longer than {format_duration(maximum)}, the limit."
            return f"{name} is {format_duration(value)} long; the limit is {format_duration(maximum)}."
        if self.limit == "fps":
            return f"{name} has {format_rate(value or 0)} frames per second; the limit is {format_rate(maximum)}."
        size = f"{self.extra.get('width')}×{self.extra.get('height')}"
        if self.limit == "frame_side":
            return f"{name} is {size} pixels; the limit is {int(maximum)} pixels on the longer side."
        return (
            f"{name} is {size} pixels ({(value or 0) / 1e6:.1f} megapixels); "
            f"the limit is {maximum / 1e6:.1f} megapixels."
        )


@dataclass(frozen=True)
class MediaLimits:
    """Largest accepted input; 0 means no limit."""

    max_seconds: float = 0
    max_frame_side: int = 0
    max_fps: float = 0
    max_image_pixels: int = 0

    def check_duration(self, name: str, seconds: float | None) -> None:
        if self.max_seconds and seconds is not None and seconds > self.max_seconds:
            raise MediaOverLimit(name, "duration", seconds, self.max_seconds)

    def check_picture(self, name: str, width: int, height: int, still: bool) -> None:
        """Pixels first for a still (the image limit), then the longer side."""
        if still and self.max_image_pixels and width * height > self.max_image_pixels:
            raise MediaOverLimit(
                name, "image_pixels", width * height, self.max_image_pixels, width=width, height=height
            )
        if self.max_frame_side and max(width, height) > self.max_frame_side:
            raise MediaOverLimit(
                name, "frame_side", max(width, height), self.max_frame_side, width=width, height=height
            )

    def check_fps(self, name: str, fps: float | Fraction | None) -> None:
        if self.max_fps and fps and float(fps) > self.max_fps:
            raise MediaOverLimit(name, "fps", float(fps), self.max_fps)

    def samples_allowed(self, rate: int) -> int | None:
        """Decoded samples at ``rate`` past which a stream is over the duration limit."""
        return int(math.ceil(self.max_seconds * rate)) if self.max_seconds else None


NO_LIMITS = MediaLimits()


def metadata_seconds(container, stream) -> float | None:
    """The stated duration: the stream's, else the container's (no decoding)."""
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration and container.duration > 0:
        import av

        return container.duration / av.time_base
    return None


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, without decoding (ffmpeg
    decodes the whole picture just to open it); None for other formats."""
    with open(path, "rb") as fh:
        head = fh.read(32)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            width, height = struct.unpack(">II", head[16:24])
            return width, height
        if head[:2] == b"\xff\xd8":
            return _jpeg_size(fh)
    return None


# Start-of-frame markers hold the picture size; C4, C8 and CC share the range but are not frames.
_JPEG_SOF = {m for m in range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}


def _jpeg_size(fh) -> tuple[int, int] | None:
    fh.seek(2)
    for _ in range(10_000):  # segments before the frame header (EXIF and friends)
        byte = fh.read(1)
        while byte == b"\xff":
            byte = fh.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0x01, *range(0xD0, 0xD8)):  # no length field
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header seen
            return None
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if marker in _JPEG_SOF:
            data = fh.read(5)
            if len(data) < 5:
                return None
            height, width = struct.unpack(">HH", data[1:5])
            return width, height
        fh.seek(length - 2, 1)
    return None
