"""Face tracks: one box per video frame, built from key-frame detections.

Detection runs on downscaled frames, on every ``key_interval``-th frame; the
boxes in between are interpolated linearly. Where the face appears or
disappears between two key frames, or moves too much, every frame in between
is detected too, so the faceless stretches are exact. With several faces the
track follows one person: the largest face at the start, then the face
nearest to the previous box.

Boxes are ``x1, y1, x2, y2`` in full-frame pixels (floats until rendering).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import RenderCancelled

TRACK_VERSION = 2  # bump when detection or tracking changes what a track holds (2: upright rotated video)


# ---------------------------------------------------------------- pure math


def pad_box(
    box: tuple[float, float, float, float] | np.ndarray,
    pads: tuple[int, int, int, int],
    width: int,
    height: int,
) -> tuple[int, int, int, int]:
    """Pad (top, bottom, left, right) like the reference, clamped to the frame."""
    x1, y1, x2, y2 = (float(v) for v in box)
    top, bottom, left, right = pads
    return (
        int(max(0, x1 - left)),
        int(max(0, y1 - top)),
        int(min(width, x2 + right)),
        int(min(height, y2 + bottom)),
    )


def smooth_boxes(boxes: np.ndarray, valid: np.ndarray, window: int = 5) -> np.ndarray:
    """Centred moving average of boxes, within each run of frames with a face.

    The window is centred on the frame (half before, half after), unlike the
    reference's forward-looking window that runs ahead of head motion. Near
    the ends of a run the window shrinks symmetrically, so it stays centred.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    out = boxes.copy()
    half = max(0, (int(window) - 1) // 2)
    if half == 0 or len(boxes) == 0:
        return out
    valid = np.asarray(valid, dtype=bool)
    n = len(boxes)
    i = 0
    while i < n:
        if not valid[i]:
            i += 1
            continue
        j = i
        while j < n and valid[j]:
            j += 1
        run = boxes[i:j]
        csum = np.vstack([np.zeros((1, 4)), np.cumsum(run, axis=0)])
        for k in range(j - i):
            h = min(half, k, j - i - 1 - k)
            out[i + k] = (csum[k + h + 1] - csum[k - h]) / (2 * h + 1)
        i = j
    return out


def interpolate_boxes(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """``steps - 1`` boxes strictly between ``a`` (step 0) and ``b`` (step ``steps``)."""
    t = (np.arange(1, steps) / steps)[:, None]
    return (1 - t) * np.asarray(a, np.float64)[None] + t * np.asarray(b, np.float64)[None]


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def select_face(candidates: np.ndarray, previous: np.ndarray | None) -> np.ndarray | None:
    """The tracked person's box among ``candidates`` (k, >=4): largest if no
    previous box, else the one whose centre is nearest to the previous one."""
    if len(candidates) == 0:
        return None
    c = np.asarray(candidates, np.float64)[:, :4]
    if previous is None:
        area = (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1])
        return c[int(np.argmax(area))]
    centres = (c[:, :2] + c[:, 2:4]) / 2
    prev_centre = (previous[:2] + previous[2:4]) / 2
    return c[int(np.argmin(np.sum((centres - prev_centre) ** 2, axis=1)))]


def pingpong_index(i: int, n: int) -> int:
    """Source frame for output frame ``i`` playing ``n`` frames forth and back
    (0, 1, .., n-1, n-2, .., 1, 0, 1, ..) so looping never jumps."""
    if n <= 1:
        return 0
    period = 2 * n - 2
    p = i % period
    return p if p < n else period - p


def loop_index(i: int, n: int, mode: str = "pingpong") -> int:
    """Source frame for output frame ``i``: ``pingpong`` or ``forward`` (the
    reference: after the last frame, back to frame 0)."""
    if mode == "pingpong":
        return pingpong_index(i, n)
    if mode == "forward":
        return i % max(n, 1)
    raise ValueError(f"unknown loop mode {mode!r}")


# ---------------------------------------------------------------- the track


@dataclass
class FaceTrack:
    """Raw per-frame face boxes for a video (before pads and smoothing)."""

    boxes: np.ndarray  # (N, 4) float64, x1 y1 x2 y2 in full-frame pixels
    valid: np.ndarray  # (N,) bool: a face was found
    width: int
    height: int
    fps: Fraction
    detector: str
    complete: bool = True  # covers the whole video (else only a prefix)

    @property
    def n_frames(self) -> int:
        return int(len(self.valid))

    @property
    def faceless(self) -> int:
        return int(np.count_nonzero(~self.valid))

    def render_boxes(self, pads: tuple[int, int, int, int] = (0, 10, 0, 0), smooth_window: int = 5) -> np.ndarray:
        """(N, 4) int boxes to crop, padded, clamped and smoothed; -1 where no face."""
        out = np.full((self.n_frames, 4), -1, np.int64)
        if not self.valid.any():
            return out
        padded = np.array(
            [pad_box(b, pads, self.width, self.height) if v else (0, 0, 0, 0) for b, v in zip(self.boxes, self.valid)],
            np.float64,
        )
        smoothed = np.rint(smooth_boxes(padded, self.valid, smooth_window)).astype(np.int64)
        out[self.valid] = smoothed[self.valid]
        return out

    @classmethod
    def fixed(cls, box_yyxx: tuple[int, int, int, int], n: int, width: int, height: int, fps: Fraction) -> FaceTrack:
        """The reference's ``--box y1 y2 x1 x2``: one box for every frame."""
        y1, y2, x1, x2 = box_yyxx
        boxes = np.tile(np.array([x1, y1, x2, y2], np.float64), (n, 1))
        return cls(boxes, np.ones(n, bool), width, height, Fraction(fps), "box")

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp.npz")
        np.savez(
            tmp,
            boxes=self.boxes,
            valid=self.valid,
            meta=np.str_(
                json.dumps(
                    {
                        "width": self.width,
                        "height": self.height,
                        "fps": [self.fps.numerator, self.fps.denominator],
                        "detector": self.detector,
                        "complete": self.complete,
                        "version": TRACK_VERSION,
                    }
                )
            ),
        )
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> FaceTrack:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(
                z["boxes"].astype(np.float64),
                z["valid"].astype(bool),
                int(meta["width"]),
                int(meta["height"]),
                Fraction(*meta["fps"]),
                str(meta["detector"]),
                bool(meta["complete"]),
            )


class TrackCache:
    """Face tracks on disk, keyed by (video sha256, detector, detection settings)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)

    @staticmethod
    def key(video_sha256: str, detector: str, settings: dict) -> str:
        blob = json.dumps(
            {"video": video_sha256, "detector": detector, "settings": settings, "version": TRACK_VERSION},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:40]

    def path(self, video_sha256: str, detector: str, settings: dict) -> Path:
        # The video's sha256 leads the name, so a cleanup can tell which input
        # a track belongs to (and keep the tracks of videos still in use).
        return self.directory / f"{video_sha256}-{self.key(video_sha256, detector, settings)}.track.npz"

    def get(self, video_sha256: str, detector: str, settings: dict) -> FaceTrack | None:
        path = self.path(video_sha256, detector, settings)
        if not path.is_file():
            return None
        try:
            return FaceTrack.load(path)
        except Exception:  # a damaged cache entry is a miss, not an error
            return None

    def put(self, video_sha256: str, detector: str, settings: dict, track: FaceTrack) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return track.save(self.path(video_sha256, detector, settings))


# ---------------------------------------------------------------- building


def _needs_refining(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if (a is None) != (b is None):
        return True
    if a is None:
        return False
    size = max(a[2] - a[0], a[3] - a[1], 1.0)
    shift = np.hypot(*((a[:2] + a[2:]) / 2 - (b[:2] + b[2:]) / 2))
    return box_iou(a, b) < 0.6 or shift > 0.25 * size


SPAN_TOLERANCE = 0.06  # boxes "agree" when no edge moved more than 6% of the face's size (about a detector's own frame-to-frame jitter)


def boxes_agree(a: np.ndarray | None, b: np.ndarray | None, tolerance: float = SPAN_TOLERANCE) -> bool:
    """True when both are faces and no edge differs by more than ``tolerance``
    times the face's size: the frames between two such key frames are
    interpolated without detecting the key frames in between."""
    if a is None or b is None:
        return False
    a, b = np.asarray(a[:4], np.float64), np.asarray(b[:4], np.float64)
    size = max(a[2] - a[0], a[3] - a[1], 1.0)
    return bool(np.max(np.abs(a - b)) <= tolerance * size)


STEADY_LEVELS = 8.0  # mean grey-level difference (0-255) of 32x18 thumbnails


def _thumb(frame: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return cv2.resize(gray, (32, 18), interpolation=cv2.INTER_AREA).astype(np.float32)


def _steady(thumbs: list[np.ndarray], a: int, b: int, levels: float = STEADY_LEVELS) -> bool:
    """Every frame strictly between ``a`` and ``b`` looks like one of the two
    ends (a cut away and back, or a move there and back, does not)."""
    ta, tb = thumbs[a], thumbs[b]
    for j in range(a + 1, b):
        if min(np.abs(thumbs[j] - ta).mean(), np.abs(thumbs[j] - tb).mean()) > levels:
            return False
    return True


def build_track(
    frames: Iterable[tuple[int, np.ndarray]],
    detect: Callable[[list[np.ndarray]], list[np.ndarray]],
    scale: tuple[float, float],
    width: int,
    height: int,
    fps: Fraction,
    detector_name: str,
    key_interval: int = 5,
    keys_per_batch: int = 8,
    limit: int | None = None,
    on_frames: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    key_span: int = 0,
) -> FaceTrack:
    """Detect faces on key frames of a stream of downscaled frames.

    ``frames`` yields (index, small BGR frame) in order; ``scale`` is (sx, sy),
    small = full * scale. Memory holds one window of
    ``max(key_interval * keys_per_batch, 2 * key_span) + 1`` small frames.
    ``limit`` stops after that many frames; the track is then marked
    incomplete if the video goes on.
    ``should_stop`` is polled for every frame read and before every call to
    ``detect`` (at most ``keys_per_batch`` frames each); True (or an exception
    it raises) stops the pass: a cancel takes effect within one detector batch.

    ``key_span`` (adaptive key frames; < 2 * ``key_interval``: off) detects
    first every ``key_span``-th frame (rounded down to a multiple of
    ``key_interval``). Where the boxes at both ends of a span agree
    (:func:`boxes_agree`) and every frame between looks like one of the two
    ends (:func:`_steady`: no cut away and back), the frames between are
    interpolated; elsewhere the
    span is bisected (its middle key frame detected, on a multiple of
    ``key_interval``) until the boxes agree or the key frames are
    ``key_interval`` apart, where the usual rules apply. So a still face costs
    one detection per span, and a moving one the same detections as without.
    """
    K = max(1, int(key_interval))
    S = max(1, int(key_span) // K) * K  # the coarse stride, a multiple of K
    per_call = max(1, keys_per_batch)
    window_len = max(K * per_call, 2 * S) + 1

    def check() -> None:
        if should_stop is not None and should_stop():
            raise RenderCancelled()

    def detect_polled(batch: list[np.ndarray]) -> list[np.ndarray]:
        found: list[np.ndarray] = []
        for i in range(0, len(batch), per_call):
            check()
            found.extend(detect(batch[i : i + per_call]))
        return found

    boxes: list[np.ndarray | None] = []  # small-frame coordinates
    prev: np.ndarray | None = None  # the tracked person's last box
    carry: tuple[np.ndarray, np.ndarray | None] | None = None  # last key frame, its box
    it: Iterator[tuple[int, np.ndarray]] = iter(frames)
    consumed = 0
    ended = False
    complete = True

    while not ended:
        window: list[np.ndarray] = [carry[0]] if carry else []
        while len(window) < window_len:
            if limit is not None and consumed >= limit:
                ended = True
                complete = next(it, None) is None
                break
            check()
            item = next(it, None)
            if item is None:
                ended = True
                break
            window.append(item[1])
            consumed += 1
        first_new = 1 if carry else 0
        if len(window) <= first_new:
            break
        last = len(window) - 1
        keys = sorted(set(range(0, last + 1, S)) | {last})
        todo = [k for k in keys if k >= first_new]
        found = dict(zip(todo, detect_polled([window[k] for k in todo])))
        chosen: dict[int, np.ndarray | None] = {0: carry[1]} if carry else {}
        at_key: dict[int, np.ndarray | None] = {}  # tracking reference at each key
        for k in keys:
            at_key[k] = prev
            if k in found:
                chosen[k] = select_face(found[k], prev)
            if chosen[k] is not None:
                prev = chosen[k]
        if S > K:
            # Bisect the spans whose end boxes disagree, one level at a time
            # (each level's middles in one batch), down to K apart.
            spans = list(zip(keys, keys[1:]))
            thumbs = [_thumb(f) for f in window]
            while spans:
                split = []
                for a, b in spans:
                    if b - a > K and not (boxes_agree(chosen[a], chosen[b]) and _steady(thumbs, a, b)):
                        m = a + max(1, round((b - a) / (2 * K))) * K
                        if a < m < b:
                            split.append((a, m, b))
                if not split:
                    break
                found = dict(zip([m for _, m, _ in split], detect_polled([window[m] for _, m, _ in split])))
                for a, m, _ in split:
                    ref = chosen[a] if chosen[a] is not None else at_key[a]
                    at_key[m] = ref
                    chosen[m] = select_face(found[m], ref)
                spans = [s for a, m, b in split for s in ((a, m), (m, b))]
            keys = sorted(chosen)
            prev = next((chosen[k] for k in reversed(keys) if chosen[k] is not None), prev)
        window_boxes: list[np.ndarray | None] = [chosen[0]]
        for a, b in zip(keys, keys[1:]):
            ba, bb = chosen[a], chosen[b]
            if b - a > K:  # a span whose ends agree
                window_boxes.extend(interpolate_boxes(ba, bb, b - a))
            elif b - a > 1 and _needs_refining(ba, bb):
                ref = ba if ba is not None else at_key[a]
                for cands in detect_polled(window[a + 1 : b]):
                    pick = select_face(cands, ref)
                    if pick is not None:
                        ref = pick
                    window_boxes.append(pick)
            elif b - a > 1 and ba is not None:
                window_boxes.extend(interpolate_boxes(ba, bb, b - a))
            else:
                window_boxes.extend([None] * (b - a - 1))
            window_boxes.append(bb)
        new = window_boxes[first_new:]
        boxes.extend(new)
        if on_frames:
            on_frames(len(new))
        carry = (window[last], chosen[last])

    sx, sy = scale
    to_full = np.array([sx, sy, sx, sy], np.float64)
    n = len(boxes)
    arr = np.zeros((n, 4), np.float64)
    valid = np.zeros(n, bool)
    limits = np.array([width, height, width, height], np.float64)
    for i, b in enumerate(boxes):
        if b is not None:
            arr[i] = np.clip(np.asarray(b[:4], np.float64) / to_full, 0, limits)
            valid[i] = arr[i, 2] > arr[i, 0] and arr[i, 3] > arr[i, 1]
    return FaceTrack(arr, valid, width, height, Fraction(fps), detector_name, complete)


def detect_frame_size(width: int, height: int, detect_size: int) -> tuple[int, int]:
    """Size of the downscaled detection frames: the longer side at most
    ``detect_size`` (0 = full size), even dimensions."""
    f = 1.0 if detect_size <= 0 else min(1.0, detect_size / max(width, height))
    if f >= 1.0:
        return width, height
    return max(2, int(math.floor(width * f / 2)) * 2), max(2, int(math.floor(height * f / 2)) * 2)
