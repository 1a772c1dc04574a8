"""Running the Wav2Lip generator on batches of face crops and mel chunks."""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import torch

from .model import Wav2Lip
from .settings import PRECISIONS

IMG_SIZE = 96

# Network precisions (``PRECISIONS``): fp32 is the reference; fp16 and bf16
# are opt-in per worker (``HEYGEM_PRECISION``) and run only where the
# hardware has them.
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def precision_unsupported(device: torch.device, precision: str) -> str | None:
    """Why ``precision`` cannot run on ``device`` (None when it can).

    fp16 needs a GPU: CPUs have no fast fp16 convolutions (oneDNN runs them
    several times slower than fp32). bf16 runs on GPUs that have it (Ampere
    and later) and on CPUs with bf16 instructions (AVX-512 BF16, AMX), where
    oneDNN runs the convolutions at about twice the fp32 speed.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
    if precision == "fp32":
        return None
    if device.type == "cuda":
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            return "this GPU has no bf16"
        return None
    if precision == "fp16":
        return "fp16 needs a GPU (CPUs run it slower than fp32)"
    if not cpu_has_bf16():
        return "this CPU has no bf16 instructions (AVX-512 BF16 or AMX)"
    return None


@functools.cache
def cpu_has_bf16() -> bool:
    """Native bf16 arithmetic (oneDNN also emulates it on plain AVX-512, slower
    than fp32). Read once per process: every render asks."""
    if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return False
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return True  # no cpuinfo to read: trust oneDNN


class ChannelsLast(torch.nn.Module):
    """Runs a convolutional net (itself in channels-last layout) on a
    channels-last copy of its input, for a caller that hands it NCHW tensors."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net.to(memory_format=torch.channels_last)

    def forward(self, x):
        return self.net(x.contiguous(memory_format=torch.channels_last))


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

    def __init__(
        self, model: Wav2Lip, device: torch.device, precision: str = "fp32", channels_last: bool = False
    ) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        # What runs: the precision asked for where the device has it, else fp32.
        self.precision = "fp32" if precision_unsupported(device, precision) else precision
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
        if self.precision != "fp32":
            return torch.autocast(self.device.type, dtype=_DTYPES[self.precision])
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
