"""Video input: probing, constant-rate frame streams, looping; still images.

Frames are numbered on a constant-rate grid at the stream's own frame rate
(exact rational: 30000/1001 stays 30000/1001). Output frame ``k`` shows the
latest source frame whose time is at most ``(k + 1/2) / fps``: for a
constant-rate source that is frame ``k`` itself; a variable-rate source gets
frames repeated or dropped to fit the grid.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import CorruptMedia, NoVideoStream
from .limits import NO_LIMITS, MediaLimits, image_size, metadata_seconds

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
STANDARD_RATES = [
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(48),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
]
SEGMENT_BYTES = 256 << 20  # memory for one reversed segment (ping-pong playback)


def choose_fps(average: Fraction | None, guessed: Fraction | None) -> Fraction:
    """The constant rate for a stream: the real rate for constant-rate video;
    for variable-rate video the average, snapped to a standard rate if close."""
    avg = Fraction(average) if average else None
    gss = Fraction(guessed) if guessed else None
    if avg and gss and abs(avg - gss) <= gss / 200:
        return gss
    base = avg or gss
    if not base or base <= 0 or base > 1000:
        return Fraction(25)
    for std in STANDARD_RATES:
        if abs(base - std) <= std * Fraction(2, 100):
            return std
    whole = Fraction(round(base))
    if whole and abs(base - whole) <= whole * Fraction(3, 100):
        return whole
    return base.limit_denominator(1001)


def grid_start(t: Fraction, fps: Fraction) -> int:
    """First grid index whose frame shows a source frame at time ``t``."""
    return max(0, math.ceil(t * fps - Fraction(1, 2)))


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    is_image: bool
    frames_estimate: int  # from the container (0 if unknown); the grid count is found by decoding
    rotation: int = 0  # degrees clockwise applied to the coded pixels (width/height are as displayed)


def _even(v: int) -> int:
    return max(2, v - (v % 2))


def display_rotation(stream, frame=None) -> int:
    """Degrees (0, 90, 180, 270) to turn a stream's decoded pixels clockwise
    so they show as players show them.

    Phones store portrait video as landscape pixels plus a display matrix
    (which ffmpeg attaches to every decoded frame, ``frame.rotation``,
    counter-clockwise degrees); older files and some muxers carry a
    ``rotate`` tag instead (clockwise degrees). The matrix wins when both
    are present, as in ffmpeg's own autorotation.
    """
    ccw = getattr(frame, "rotation", 0) if frame is not None else 0
    if ccw:
        degrees = -float(ccw)
    else:
        tags = {k.lower(): v for k, v in (stream.metadata or {}).items()}
        try:
            degrees = float(tags.get("rotate") or 0)
        except ValueError:
            degrees = 0.0
    return int(round(degrees / 90)) % 4 * 90


def rotate_upright(img: np.ndarray, rotation: int) -> np.ndarray:
    """``img`` turned clockwise by ``rotation`` degrees (a multiple of 90)."""
    if not rotation:
        return img
    import cv2

    code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[rotation]
    return cv2.rotate(img, code)


def to_bgr(frame, width: int, height: int, rotation: int = 0) -> np.ndarray:
    """A decoded frame as BGR at (width, height).

    4:2:0 video is converted by OpenCV (BT.601, limited range, exact
    rounding) because swscale's default RGB<->YUV conversion drifts by a few
    levels per round trip, which would tint the untouched parts of every
    frame. The encoder uses the inverse conversion.

    ``rotation`` (clockwise degrees) turns the picture upright; (width,
    height) is the size as displayed, after turning.
    """
    if rotation in (90, 270):
        width, height = height, width
    return rotate_upright(_coded_bgr(frame, width, height), rotation)


def _coded_bgr(frame, width: int, height: int) -> np.ndarray:
    import cv2

    if frame.format.name == "yuv420p" and width % 2 == 0 and height % 2 == 0:
        if (frame.width, frame.height) != (width, height):
            frame = frame.reformat(width=width, height=height)
        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2BGR_I420)
    return frame.to_ndarray(format="bgr24", width=width, height=height)


class VideoSource:
    """A face video or still image, read as a stream of BGR uint8 frames."""

    def __init__(
        self,
        path: str | os.PathLike,
        resize_factor: int = 1,
        image_fps: Fraction = Fraction(25),
        threads: int = 0,
        limits: MediaLimits = NO_LIMITS,
    ):
        """``limits`` refuses (:class:`ml.limits.MediaOverLimit`) a picture,
        frame rate or duration over them, from metadata, before decoding."""
        self.path = Path(path)
        self.threads = threads  # decoder threads (0: ffmpeg's choice)
        self.limits = limits
        if not self.path.is_file():
            raise CorruptMedia(f"Face file not found: {self.path.name}")
        size = image_size(self.path)
        if size is not None:  # PNG/JPEG header: before any decoder sees the picture
            limits.check_picture(self.path.name, *size, still=True)
        self.resize_factor = max(1, int(resize_factor))
        self._image: np.ndarray | None = None
        self._t0: Fraction | None = None
        self.n_frames: int | None = None  # grid frames, known after a full pass
        self.color_tags: dict[str, object] = {}  # the source's colour metadata, for the output
        if self.path.suffix.lower() in IMAGE_SUFFIXES:
            self._image = self._read_image()
            h, w = self._image.shape[:2]
            self.info = VideoInfo(w, h, Fraction(image_fps), True, 1)
            self.n_frames = 1
            return
        self.info = self._probe(Fraction(image_fps))
        if self.info.is_image:
            self.n_frames = 1

    # ------------------------------------------------------------ probing

    def _read_image(self) -> np.ndarray:
        import cv2

        data = np.fromfile(str(self.path), np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if img is None:
            raise CorruptMedia(f"{self.path.name} is not a readable image.")
        return self._resize(img)

    def _resize(self, img: np.ndarray) -> np.ndarray:
        if self.resize_factor == 1:
            return img
        import cv2

        h, w = img.shape[:2]
        return cv2.resize(img, (_even(w // self.resize_factor), _even(h // self.resize_factor)))

    def _open(self):
        import av

        try:
            container = av.open(str(self.path))
        except av.FFmpegError:
            raise CorruptMedia(f"{self.path.name} is damaged or not a video.") from None
        if not container.streams.video:
            container.close()
            raise NoVideoStream(f"{self.path.name} has no video track.")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if self.threads:
            stream.codec_context.thread_count = self.threads
        return container, stream

    def _probe(self, image_fps: Fraction) -> VideoInfo:
        container, stream = self._open()
        with container:
            cc = stream.codec_context
            w, h = cc.width, cc.height
            still = container.format.name in ("image2", "png_pipe", "jpeg_pipe", "webp_pipe") or (stream.frames == 1)
            if not w or not h:
                raise CorruptMedia(f"{self.path.name} has a video track with no picture size.")
            self.limits.check_picture(self.path.name, w, h, still=still)
            first = self._first_frame(container, stream)  # the display matrix travels on decoded frames
            rotation = display_rotation(stream, first)
            if still:
                if first is None:
                    raise CorruptMedia(f"{self.path.name} has no decodable picture.")
                self._image = self._resize(rotate_upright(first.to_ndarray(format="bgr24"), rotation))
                ih, iw = self._image.shape[:2]
                return VideoInfo(iw, ih, image_fps, True, 1, rotation)
            fps = choose_fps(stream.average_rate, stream.guessed_rate)
            self.limits.check_fps(self.path.name, fps)
            self.limits.check_duration(self.path.name, metadata_seconds(container, stream))
            self.color_tags = {
                name: getattr(cc, name, None) for name in ("colorspace", "color_range", "color_primaries", "color_trc")
            }
            if self.resize_factor > 1:
                w, h = _even(w // self.resize_factor), _even(h // self.resize_factor)
            if rotation in (90, 270):
                w, h = h, w
            return VideoInfo(w, h, fps, False, int(stream.frames or 0), rotation)

    @staticmethod
    def _first_frame(container, stream):
        """The first decodable frame, or None (frames() reports the damage)."""
        try:
            for frame in container.decode(stream):
                return frame
        except Exception:
            return None
        return None

    # ------------------------------------------------------------ streams

    def frames(
        self, size: tuple[int, int] | None = None, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Grid frames ``start <= k < stop`` in order, as (k, BGR array).

        ``size`` (w, h) scales frames on decode (for detection). A full pass
        from 0 records the grid frame count in ``n_frames``.
        """
        if self._image is not None:
            img = self._image
            if size and (size[0], size[1]) != (img.shape[1], img.shape[0]):
                import cv2

                img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            if start == 0 and (stop is None or stop > 0):
                yield 0, img
            return
        w, h = size or (self.info.width, self.info.height)
        fps = self.info.fps
        container, stream = self._open()
        with container:
            tb = stream.time_base or Fraction(1, 90000)
            if start > 0:
                self._seek(container, stream, start)
            held: tuple[int, object] | None = None  # (grid start, frame)
            try:
                for frame in container.decode(stream):
                    t = self._time(frame, tb)
                    k = grid_start(t, fps)
                    if held is not None:
                        yield from self._emit(held, k, start, stop, w, h)
                        if stop is not None and k >= stop:
                            return
                    held = (k, frame)
            except Exception as exc:
                import av

                if not isinstance(exc, av.FFmpegError):
                    raise
                if held is None and start == 0:
                    raise CorruptMedia(f"{self.path.name} is damaged: no frame can be decoded.") from None
            if held is None:
                if start == 0:
                    raise CorruptMedia(f"{self.path.name} has no decodable frames.")
                return
            k_end = max(held[0] + 1, grid_start(self._time(held[1], tb) + 1 / fps, fps))
            yield from self._emit(held, k_end, start, stop, w, h)
            self.n_frames = k_end  # reached the end: the grid frame count

    def _time(self, frame, tb: Fraction) -> Fraction:
        pts = frame.pts if frame.pts is not None else frame.dts
        t = Fraction(pts or 0) * tb
        if self._t0 is None:
            self._t0 = t
        return t - self._t0

    def _emit(self, held, k_next: int, start: int, stop: int | None, w: int, h: int):
        k0, frame = held
        lo, hi = max(k0, start), k_next if stop is None else min(k_next, stop)
        if lo >= hi:
            return
        img = to_bgr(frame, w, h, self.info.rotation)
        for k in range(lo, hi):
            yield k, img

    def _seek(self, container, stream, k: int) -> None:
        if self._t0 is None:  # learn the time origin from the first frame
            for _ in self.frames(stop=1):
                pass
        tb = stream.time_base or Fraction(1, 90000)
        target = self._t0 + (Fraction(k) - 1) / self.info.fps
        container.seek(max(0, int(target / tb)), stream=stream, backward=True, any_frame=False)

    def reversed_frames(self, first: int, last: int) -> Iterator[tuple[int, np.ndarray]]:
        """Grid frames ``first, first-1, .., last`` (first >= last), in segments
        that fit in ``SEGMENT_BYTES``: seek, decode forward, yield reversed."""
        if self._image is not None:
            for k in range(first, last - 1, -1):
                yield k, self._image
            return
        per_frame = self.info.width * self.info.height * 3
        seg = max(8, min(512, SEGMENT_BYTES // max(per_frame, 1)))
        hi = first + 1
        while hi > last:
            lo = max(last, hi - seg)
            chunk = list(self.frames(start=lo, stop=hi))
            if len(chunk) != hi - lo:  # seeking failed: decode from the start instead
                chunk = [fk for fk in self._frames_from_zero(lo, hi)]
            yield from reversed(chunk)
            hi = lo

    def _frames_from_zero(self, lo: int, hi: int):
        for k, img in self.frames(stop=hi):
            if k >= lo:
                yield k, img

    def playback(self, n_out: int, loop: str = "pingpong") -> Iterator[tuple[int, int, np.ndarray]]:
        """(output index, source index, frame) for ``n_out`` output frames:
        the video trimmed to ``n_out`` frames, or looped past its end."""
        i = 0
        if self._image is not None:
            for i in range(n_out):
                yield i, 0, self._image
            return
        img = None
        for k, img in self.frames(stop=n_out):
            yield i, k, img
            i += 1
        if i >= n_out:
            return
        self.n_frames = n = self.n_frames or i
        if n == 1:  # a one-frame video: a still
            for j in range(i, n_out):
                yield j, 0, img
            return
        for first, last in loop_runs(i, n_out, n, loop):
            frames = self.frames(start=first, stop=last + 1) if last >= first else self.reversed_frames(first, last)
            for k, img in frames:
                yield i, k, img
                i += 1


def loop_runs(i0: int, n_out: int, n: int, loop: str) -> list[tuple[int, int]]:
    """Output frames ``i0 .. n_out-1`` as runs of consecutive source frames
    (first, last), ascending or descending, following :func:`loop_index`."""
    from .track import loop_index

    runs: list[tuple[int, int]] = []
    i = i0
    while i < n_out:
        first = loop_index(i, n, loop)
        last, step = first, 0
        while i + 1 < n_out:
            nxt = loop_index(i + 1, n, loop)
            d = nxt - last
            if d not in (1, -1) or (step and d != step):
                break
            step, last = d, nxt
            i += 1
        runs.append((first, last))
        i += 1
    return runs
