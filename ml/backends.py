"""Inference backends: the same Wav2Lip network run by PyTorch or ONNX Runtime.

* ``torch``: eager PyTorch, channels-last memory layout (faster convolutions on
  CPU and on CUDA tensor cores), optional reduced precision (fp16 autocast on
  CUDA, bf16 on GPUs and CPUs that have it: ``ml.infer.precision_unsupported``).
* ``onnx``: ONNX Runtime on a graph exported locally from the installed
  checkpoint (nothing is downloaded). The graph takes the uint8 crops and the
  mel chunks and does the reference's masking and scaling itself. It is cached
  as ``wav2lip-<sha256>.onnx`` in a ``compiled/`` folder next to the
  checkpoint, keyed by the checkpoint's sha256: a changed checkpoint gets a new
  graph and the stale ones are removed. fp32 only.
* ``auto``: time a few batches of each available backend on this device and
  keep the fastest; the choice is cached per device (``backend-choice.json`` in
  the same folder) so that only the first engine on a machine measures.

The graph is exported with the TorchScript exporter (``dynamo=False``): it
gives a plain Conv/ConvTranspose/Relu graph with a dynamic batch axis from one
call, in a few seconds, and its uint8 output is within one level of
PyTorch's (on 0.0007 % of values, random weights). The dynamo exporter also works with torch 2.13 but needs a
``dynamic_shapes`` spec and takes several times longer for the same graph.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from .model import Wav2Lip

BACKENDS = ("auto", "torch", "onnx")
IMG_SIZE = 96
ONNX_OPSET = 17
COMPILED_DIR = "compiled"
CHOICE_FILE = "backend-choice.json"
# auto: one warm-up batch, then this many timed batches; the minimum counts.
AUTO_TIMED_BATCHES = 3

log = logging.getLogger(__name__)


def onnx_runtime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def onnx_providers(device: str) -> list[str] | None:
    """ONNX Runtime execution providers for ``device`` ("cpu", "cuda", "cuda:N"),
    or None when this onnxruntime build cannot run there (the CPU-only wheel
    has no CUDA provider; onnxruntime-gpu is not installable here)."""
    if not onnx_runtime_available():
        return None
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device.startswith("cuda"):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"] if "CUDAExecutionProvider" in available else None
    return ["CPUExecutionProvider"]


# --------------------------------------------------------------- the graph


def compiled_dir(checkpoint_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the compiled graphs of this checkpoint live: ``cache_dir`` if
    given, else ``compiled/`` next to the checkpoint when that folder is
    writable, else the user's cache (``$XDG_CACHE_HOME/heygem``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    beside = Path(checkpoint_path).resolve().parent
    if os.access(beside, os.W_OK) or os.access(beside / COMPILED_DIR, os.W_OK):
        return beside / COMPILED_DIR
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "heygem" / COMPILED_DIR


def onnx_path(directory: Path, sha256: str) -> Path:
    return Path(directory) / f"wav2lip-{sha256}.onnx"


class _UInt8Wrapper:
    """Builds the exported module lazily (torch is imported only to export)."""

    @staticmethod
    def make(model: Wav2Lip):
        import torch
        from torch import nn

        class Wrapped(nn.Module):
            """uint8 crops (B,96,96,3) BGR + mels (B,80,16) -> pred*255 (B,96,96,3) float."""

            def __init__(self, net: nn.Module) -> None:
                super().__init__()
                self.net = net
                mask = torch.ones(1, 3, IMG_SIZE, IMG_SIZE)
                mask[:, :, IMG_SIZE // 2 :] = 0
                self.register_buffer("mask", mask)

            def forward(self, crops: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
                x = crops.permute(0, 3, 1, 2).float() / 255.0
                face = torch.cat([x * self.mask, x], dim=1)
                pred = self.net(mels.unsqueeze(1), face)
                return pred.permute(0, 2, 3, 1) * 255.0

        return Wrapped(model).eval()


def export_onnx(model: Wav2Lip, dest: Path) -> Path:
    """Export ``model`` to ``dest`` (atomically: a reader never sees half a file)."""
    import torch

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    wrapped = _UInt8Wrapper.make(model.cpu().eval())
    crops = torch.zeros(2, IMG_SIZE, IMG_SIZE, 3, dtype=torch.uint8)
    mels = torch.zeros(2, 80, 16)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=dest.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped,
                (crops, mels),
                tmp,
                dynamo=False,
                input_names=["crops", "mels"],
                output_names=["faces"],
                dynamic_axes={"crops": {0: "batch"}, "mels": {0: "batch"}, "faces": {0: "batch"}},
                opset_version=ONNX_OPSET,
                do_constant_folding=True,
            )
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return dest


def ensure_onnx(
    checkpoint_path: str | os.PathLike,
    sha256: str,
    model: Wav2Lip | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[Path, bool]:
    """The cached graph for the checkpoint with this ``sha256``, exported now
    if missing (loading the checkpoint unless ``model`` is given). Graphs of
    other checkpoints in the same folder are removed: the installed
    checkpoint changed. Returns (path, built now)."""
    directory = compiled_dir(checkpoint_path, cache_dir)
    path = onnx_path(directory, sha256)
    if path.is_file():
        return path, False
    if model is None:
        from .checkpoint import load_wav2lip

        model, _ = load_wav2lip(checkpoint_path)
    t = time.perf_counter()
    export_onnx(model, path)
    log.info("exported the ONNX graph of %s in %.1f s", Path(checkpoint_path).name, time.perf_counter() - t)
    for stale in directory.glob("wav2lip-*.onnx"):
        if stale != path:
            with contextlib.suppress(OSError):
                stale.unlink()
    return path, True


# --------------------------------------------------------------- runners


class OnnxGenerator:
    """ONNX Runtime session with the :class:`ml.infer.Generator` interface:
    (B,96,96,3) uint8 crops + (B,80,16) mels -> (B,96,96,3) uint8 faces."""

    backend = "onnx"
    precision = "fp32"

    def __init__(self, path: Path, device: str = "cpu", threads: int | None = None) -> None:
        import onnxruntime as ort

        providers = onnx_providers(device)
        if providers is None:
            raise ValueError(
                "The onnx backend cannot run on CUDA here: the installed onnxruntime has no CUDA provider"
                " (onnxruntime-gpu is needed). Use --backend torch or auto."
            )
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = int(threads or _torch_threads())
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if providers[0] == "CUDAExecutionProvider":
            index = int(device.split(":")[1]) if ":" in device else 0
            providers = [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        self.path = Path(path)
        self.version = ort.__version__

    def __call__(self, crops: np.ndarray, mels: np.ndarray) -> np.ndarray:
        out = self.session.run(
            None,
            {
                "crops": np.ascontiguousarray(crops, dtype=np.uint8),
                "mels": np.ascontiguousarray(mels, dtype=np.float32),
            },
        )[0]
        return out.astype(np.uint8)  # truncation, like the reference


def _torch_threads() -> int:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is a dependency
        return os.cpu_count() or 1


# --------------------------------------------------------------- auto


@dataclass(frozen=True)
class Choice:
    backend: str
    ms_per_batch: dict[str, float]  # measured backends (empty when not measured)
    cached: bool  # the choice came from the per-device cache

    def describe(self) -> str:
        if not self.ms_per_batch:
            return "chosen"
        times = ", ".join(f"{k} {v:.0f} ms" for k, v in sorted(self.ms_per_batch.items(), key=lambda kv: kv[1]))
        return f"fastest measured on this device{' (cached)' if self.cached else ''}: {times} per batch"


def device_key(device: str, batch_size: int, threads: int, precision: str) -> str:
    """What a measured choice depends on: the hardware, the runtimes and the batch shape."""
    import torch

    hw = torch.cuda.get_device_name(device) if device.startswith("cuda") else (_cpu_name() or platform.machine())
    ort_version = "none"
    if onnx_runtime_available():
        import onnxruntime

        ort_version = onnxruntime.__version__
    return (
        f"{device}|{hw}|cores {os.cpu_count()}|threads {threads}|batch {batch_size}|torch {precision}"
        f"|torch {torch.__version__}|ort {ort_version}"
    )


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return ""


def time_generator(gen, batch_size: int, batches: int | None = None) -> float:
    """Minimum ms per batch over ``batches`` timed runs after one warm-up."""
    batches = AUTO_TIMED_BATCHES if batches is None else batches
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (batch_size, IMG_SIZE, IMG_SIZE, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (batch_size, 80, 16)).astype(np.float32)
    gen(crops, mels)
    best = float("inf")
    for _ in range(batches):
        t = time.perf_counter()
        gen(crops, mels)
        best = min(best, time.perf_counter() - t)
    return best * 1000


def read_choice(directory: Path, key: str) -> dict | None:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((Path(directory) / CHOICE_FILE).read_text())
        entry = data.get(key)
        if isinstance(entry, dict) and entry.get("backend") in ("torch", "onnx"):
            return entry
    return None


def write_choice(directory: Path, key: str, backend: str, ms: dict[str, float]) -> None:
    path = Path(directory) / CHOICE_FILE
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[key] = {"backend": backend, "ms_per_batch": {k: round(v, 1) for k, v in ms.items()}}
        fd, tmp = tempfile.mkstemp(prefix=".choice-", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
