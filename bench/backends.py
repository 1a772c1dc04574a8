"""Model-only speed and parity of each inference backend on this device.

Backends: the reference (eager PyTorch, NCHW, fp32), the torch backend
(channels-last; fp16 on CUDA, bf16 on CUDA and on CPUs with bf16
instructions) and the onnx backend (ONNX Runtime), on the
same random inputs at the same batch size, interleaved, minimum of
``--rounds``. Parity: uint8 output against the reference (max difference and
share of differing values). Usage: python bench/backends.py [--device cpu]
"""

import argparse

import numpy as np
import torch
from _media import OUT, checkpoint

from ml import backends
from ml.checkpoint import load_wav2lip
from ml.hashing import file_sha256
from ml.infer import Generator, precision_unsupported


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=3)
    args, _ = ap.parse_known_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    bs = args.batch_size or (64 if cuda else 16)
    ckpt = checkpoint()
    runners = {
        "reference (eager, NCHW)": Generator(load_wav2lip(ckpt)[0], device),
        "torch (channels-last)": Generator(load_wav2lip(ckpt)[0], device, channels_last=True),
    }
    for precision in ("fp16", "bf16"):
        missing = precision_unsupported(device, precision)
        if missing:
            print(f"torch {precision}: not on this device ({missing})")
        else:
            runners[f"torch {precision} (channels-last)"] = Generator(
                load_wav2lip(ckpt)[0], device, precision=precision, channels_last=True
            )
    if backends.onnx_providers(str(device)) is not None:
        path, _ = backends.ensure_onnx(ckpt, file_sha256(ckpt), cache_dir=OUT / "compiled")
        runners["onnx (ONNX Runtime)"] = backends.OnnxGenerator(path, str(device))
    else:
        print(f"onnx backend: not available on {device} (the installed onnxruntime has no provider for it)")

    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (bs, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (bs, 80, 16)).astype(np.float32)
    ref = runners["reference (eager, NCHW)"](crops, mels).astype(int)
    ms = {name: float("inf") for name in runners}
    for _ in range(args.rounds):
        for name, gen in runners.items():
            ms[name] = min(ms[name], backends.time_generator(gen, bs, batches=1))
    print(f"batch {bs} on {device}, {torch.get_num_threads()} threads, minimum of {args.rounds} interleaved rounds")
    for name, gen in runners.items():
        diff = np.abs(gen(crops, mels).astype(int) - ref)
        print(
            f"  {name:28s} {ms[name]:8.0f} ms/batch  {bs * 1000 / ms[name]:6.2f} fps"
            f"  ({ms['reference (eager, NCHW)'] / ms[name]:.2f}x)  parity: max {diff.max()} levels,"
            f" mean {diff.mean():.4f}, {100 * (diff > 0).mean():.4f}% of values differ"
        )


if __name__ == "__main__":
    main()
