"""Running the Wav2Lip generator on batches of face crops and mel chunks."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from .model import Wav2Lip

IMG_SIZE = 96


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available.")
    return torch.device(device)


class Generator:
    """The model on its device, taking uint8 crops and returning uint8 faces.

    Input crops are (B, 96, 96, 3) BGR uint8; the model sees the crop with its
    lower half zeroed (channels 0-2) and the crop itself as the reference
    (channels 3-5), scaled to [0, 1]. The output is converted like the
    reference: ``(pred * 255)`` truncated to uint8.
    """

    backend = "torch"

    def __init__(self, model: Wav2Lip, device: torch.device, fp16: bool = False, channels_last: bool = False) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self.fp16 = bool(fp16 and self.cuda)
        # Channels-last (NHWC) lets oneDNN on the CPU and cuDNN's tensor-core
        # kernels on CUDA run the convolutions without layout conversions.
        self.channels_last = bool(channels_last)
        if self.cuda:
            torch.backends.cudnn.benchmark = True
            # fp32 means fp32: TF32 convolutions (cuDNN's default on Ampere and
            # later) would round to 10-bit mantissas, outside the parity figure.
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        self.model = model.to(device).eval()
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def _autocast(self):
        if self.fp16:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def __call__(self, crops: np.ndarray, mels: np.ndarray) -> np.ndarray:
        faces = torch.from_numpy(np.ascontiguousarray(crops))
        audio = torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32))
        if self.cuda:
            faces = faces.pin_memory().to(self.device, non_blocking=True)
            audio = audio.pin_memory().to(self.device, non_blocking=True)
        with torch.inference_mode(), self._autocast():
            x = faces.permute(0, 3, 1, 2).float().div_(255.0)
            masked = x.clone()
            masked[:, :, IMG_SIZE // 2 :] = 0
            face = torch.cat([masked, x], dim=1)
            if self.channels_last:
                face = face.contiguous(memory_format=torch.channels_last)
            pred = self.model(audio.unsqueeze(1), face)
            out = (pred.float() * 255.0).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
        return out.cpu().numpy()
