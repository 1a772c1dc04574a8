"""Cropping faces out of frames and pasting generated faces back in."""

from __future__ import annotations

import cv2
import numpy as np

from .infer import IMG_SIZE


def crop_face(frame: np.ndarray, box: np.ndarray | tuple[int, int, int, int]) -> np.ndarray:
    """The box (x1, y1, x2, y2) resized to 96x96 with bilinear interpolation."""
    x1, y1, x2, y2 = (int(v) for v in box)
    return cv2.resize(frame[y1:y2, x1:x2], (IMG_SIZE, IMG_SIZE), interpolation=cv2.INTER_LINEAR)


def lower_face_mask(size: int = IMG_SIZE, top: float = 0.5, margin: float = 0.08, feather: float = 0.06) -> np.ndarray:
    """A (size, size) float32 mask: 1 over the lower face (mouth, chin, cheeks),
    falling smoothly to 0 before every edge of the box, so there is no seam.

    The model regenerates the lower half of the crop; the upper half is copied
    from the original frame, so only the lower face needs pasting.
    """
    mask = np.zeros((size, size), np.float32)
    m = int(round(margin * size))
    mask[int(round(top * size)) : size - m, m : size - m] = 1.0
    sigma = max(0.5, feather * size)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    # Exactly zero at the border, whatever the blur left.
    mask[0, :] = mask[-1, :] = mask[:, 0] = mask[:, -1] = 0.0
    return mask


_MASK = lower_face_mask()


def paste_mouth(frame: np.ndarray, face: np.ndarray, box, blend: str = "feather") -> np.ndarray:
    """A copy of ``frame`` with the generated 96x96 ``face`` pasted into ``box``.

    ``blend="none"`` pastes the whole box like the reference; ``"feather"``
    blends it through :func:`lower_face_mask`. Pixels outside the box are
    never touched.
    """
    x1, y1, x2, y2 = (int(v) for v in box)
    w, h = x2 - x1, y2 - y1
    out = frame.copy()
    if w <= 0 or h <= 0:
        return out
    resized = cv2.resize(face, (w, h), interpolation=cv2.INTER_LINEAR)
    if blend == "none":
        out[y1:y2, x1:x2] = resized
        return out
    if blend != "feather":
        raise ValueError(f"unknown blend {blend!r}")
    mask = cv2.resize(_MASK, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    region = out[y1:y2, x1:x2].astype(np.float32)
    region += (resized.astype(np.float32) - region) * mask
    out[y1:y2, x1:x2] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
    return out
