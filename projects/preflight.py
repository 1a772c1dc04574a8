"""Preflight for presenter videos and images: will a render find a face?

Findings are stored as codes with parameters and turned into (translated)
sentences when shown, so the asset page speaks the user's language.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ml.limits import format_duration

if TYPE_CHECKING:
    import cv2

SAMPLE_FRAMES = 12
MIN_FACE_FRACTION = 1 / 6  # face height relative to frame height
LOW_RESOLUTION = 256  # shorter side, pixels


_local = threading.local()


def _cascade() -> cv2.CascadeClassifier:
    # One per thread: a CascadeClassifier is not thread-safe, and daphne runs
    # concurrent uploads (the upload page sends files in parallel) in parallel threads.
    import cv2  # the web process loads OpenCV at its first upload, not at start

    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        cascade = _local.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    return cascade


def find_faces(frame: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Faces as (x, y, w, h) boxes, largest first."""
    import cv2

    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    min_side = max(24, min(grey.shape) // 20)
    faces = _cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=8, minSize=(min_side, min_side))
    return sorted((tuple(int(v) for v in f) for f in faces), key=lambda b: b[2] * b[3], reverse=True)


def check_frames(frames: list[np.ndarray], *, width: int, height: int, variable_frame_rate: bool) -> list[dict]:
    findings: list[dict] = []
    if min(width, height) < LOW_RESOLUTION:
        findings.append({"code": "low_resolution", "params": {"width": width, "height": height}})
    if variable_frame_rate:
        findings.append({"code": "variable_frame_rate", "params": {}})
    if not frames:
        return findings
    no_face = several = small = 0
    for frame in frames:
        faces = find_faces(frame)
        if not faces:
            no_face += 1
            continue
        if len(faces) > 1:
            several += 1
        if faces[0][3] < frame.shape[0] * MIN_FACE_FRACTION:
            small += 1
    total = len(frames)
    if no_face:
        findings.append({"code": "no_face", "params": {"percent": round(100 * no_face / total), "sampled": total}})
    with_face = total - no_face
    if with_face and small > with_face / 2:
        findings.append({"code": "small_face", "params": {}})
    # The Haar cascade sometimes sees a face in a pattern for one frame; a
    # second person is in shot for a good share of the video.
    if several and several >= max(1, total // 4):
        findings.append({"code": "several_faces", "params": {"percent": round(100 * several / total)}})
    return findings


def best_poster_frame(frames: list[np.ndarray]) -> np.ndarray | None:
    for frame in frames:
        if find_faces(frame):
            return frame
    return frames[len(frames) // 2] if frames else None


def encode_poster(frame: np.ndarray, max_width: int = 480) -> bytes:
    import cv2

    height, width = frame.shape[:2]
    if width > max_width:
        frame = cv2.resize(frame, (max_width, round(height * max_width / width)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:  # pragma: no cover - OpenCV always encodes a BGR array
        raise RuntimeError("poster encoding failed")
    return data.tobytes()


def describe(finding: dict, *, image: bool = False) -> str:
    """The finding as a sentence for the asset page (`image`: a photo, never called a video)."""
    code, params = finding["code"], finding.get("params", {})
    if code == "no_face":
        if image:
            return _("No face found in this image: it cannot be lip-synced as it is.")
        if params.get("percent") == 100:
            return _("No face found in any sampled frame: this video cannot be lip-synced as it is.")
        return _("No face in %(percent)s%% of sampled frames: those frames will be left unchanged.") % params
    if code == "small_face":
        return _("The face is smaller than 1/6 of the frame height: the mouth may look blurry. Use a closer shot.")
    if code == "several_faces":
        return _(
            "Several faces in %(percent)s%% of sampled frames: the largest face at the start is the one lip-synced."
        ) % params
    if code == "low_resolution":
        return _("Very low resolution (%(width)s×%(height)s): the result will look soft.") % params
    if code == "variable_frame_rate":
        return _("Variable frame rate: it will be converted to a constant rate when rendering.")
    return _describe_audio(code, params)


def _describe_audio(code: str, params: dict) -> str:
    """Findings of projects.audio_preflight."""
    if code == "audio_silent":
        if "analysed" in params:
            return _("The first %(duration)s of this recording are silent: check that it is the right file.") % {
                "duration": format_duration(params["analysed"])
            }
        return _("This recording is silent: the mouth will not move. Check the microphone or the export.")
    if code == "audio_too_short":
        seconds = f"{params['seconds']:.2f}"
        if params["seconds"] < 0.2:
            return _("Only %(seconds)s s long: a render needs at least 0.2 s of audio.") % {"seconds": seconds}
        return _("Very short (%(seconds)s s): the video will be just as short.") % {"seconds": seconds}
    if code == "audio_clipping":
        return _(
            "Clipped: %(percent)s%% of the samples are at full scale, so the voice sounds distorted. "
            "Record again at a lower level if you can."
        ) % params
    if code == "audio_long":
        return _("Long recording (%(duration)s): every presenter speaks all of it, so each render takes a while.") % {
            "duration": format_duration(params["seconds"])
        }
    if code == "audio_noise":
        return _("This sounds mostly like noise (hiss or static), not a voice: check that it is the right recording.")
    return code


def describe_count(count: int) -> str:
    return ngettext("%(count)d warning", "%(count)d warnings", count) % {"count": count}
