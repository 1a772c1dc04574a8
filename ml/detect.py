"""Face detectors: S3FD (face-alignment, local weights) and OpenCV Haar fallback.

Both take a batch of same-sized BGR uint8 frames and return, per frame, an
array (k, 5) of ``x1, y1, x2, y2, score`` in that frame's pixel coordinates.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from .checkpoint import S3FD_FILENAME
from .errors import ModelNotInstalled

MODEL_DIR_ENV = "HEYGEM_MODEL_DIR"


def model_dir_from_env(model_dir: str | os.PathLike | None = None) -> Path | None:
    if model_dir is not None:
        return Path(model_dir)
    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env) if env else None


def s3fd_weights_path(model_dir: str | os.PathLike | None = None) -> Path | None:
    """The S3FD weights file if installed, else None."""
    base = model_dir_from_env(model_dir)
    if base is None:
        return None
    path = base / S3FD_FILENAME
    return path if path.is_file() else None


class FaceDetector(Protocol):
    name: str
    calls: int  # frames detected so far (tests count them)

    def detect(self, frames: list[np.ndarray]) -> list[np.ndarray]: ...


class S3FDDetector:
    """S3FD from face-alignment, loaded from a local file (never downloaded)."""

    name = "sfd"

    def __init__(
        self,
        weights: str | os.PathLike,
        device: str = "cpu",
        threshold: float = 0.5,
        batch_size: int = 8,
    ) -> None:
        import torch
        from face_alignment.detection.sfd.sfd_detector import SFDDetector

        if not Path(weights).is_file():
            raise ModelNotInstalled(f"The S3FD face detector weights are not installed ({S3FD_FILENAME}).")
        self._torch = torch
        self._impl = SFDDetector(str(device), path_to_detector=str(weights), verbose=False, filter_threshold=threshold)
        # Channels-last (NHWC): oneDNN and cuDNN run the VGG convolutions
        # without layout conversions, about 1.2x faster on a CPU; fp32 all
        # the same (outputs within 1e-5 of NCHW).
        from .infer import ChannelsLast

        self._impl.face_detector = ChannelsLast(self._impl.face_detector)
        self.device = str(device)
        self.batch_size = batch_size
        self.calls = 0

    def detect(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for i in range(0, len(frames), self.batch_size):
            batch = np.stack(frames[i : i + self.batch_size])[..., ::-1]  # BGR -> RGB
            tensor = self._torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))
            with self._torch.inference_mode():
                results = self._impl.detect_from_batch(tensor.to(self.device, dtype=self._torch.float32))
            for boxes in results:
                arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
                out.append(arr)
        self.calls += len(frames)
        return out


class HaarDetector:
    """OpenCV's frontal-face Haar cascade: fast, less accurate, always available."""

    name = "opencv"

    def __init__(self, min_neighbors: int = 6) -> None:
        import cv2

        self._cv2 = cv2
        path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise ModelNotInstalled("OpenCV's Haar face cascade is missing.")
        self.min_neighbors = min_neighbors
        self.calls = 0

    def detect(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        cv2 = self._cv2
        out = []
        for frame in frames:
            gray = cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
            side = min(gray.shape[:2])
            min_size = max(16, side // 12)
            found = self._cascade.detectMultiScale(
                gray, scaleFactor=1.1, minNeighbors=self.min_neighbors, minSize=(min_size, min_size)
            )
            boxes = np.zeros((len(found), 5), np.float32)
            for j, (x, y, w, h) in enumerate(found):
                boxes[j] = (x, y, x + w, y + h, 1.0)
            out.append(boxes)
        self.calls += len(frames)
        return out


def make_detector(
    kind: str = "auto",
    model_dir: str | os.PathLike | None = None,
    device: str = "cpu",
) -> tuple[FaceDetector, str]:
    """Build a detector; returns it and a log line saying which one and why."""
    if kind not in ("auto", "sfd", "opencv"):
        raise ValueError(f"unknown detector {kind!r}")
    weights = s3fd_weights_path(model_dir)
    if kind == "opencv":
        return HaarDetector(), "Face detector: OpenCV Haar cascade (requested)."
    if weights is None:
        if kind == "sfd":
            raise ModelNotInstalled(
                f"The S3FD face detector is not installed: put {S3FD_FILENAME} in the model"
                f" directory (${MODEL_DIR_ENV})."
            )
        return HaarDetector(), (
            f"Face detector: OpenCV Haar cascade (fallback: no {S3FD_FILENAME} in the model"
            " directory; install it for better detection)."
        )
    return S3FDDetector(weights, device=device), f"Face detector: S3FD ({weights.name})."
