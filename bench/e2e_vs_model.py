"""The whole render against the bare reference network, on the same frames (issue 14).

On a 10 s 720p25 clip with ``--box``:

* **CLI ratio**: eager PyTorch model-only time of the reference network
  (NCHW, fp32, ``ml.infer.Generator`` as the reference runs it) at its best
  batch size, divided by the wall time of the whole CLI process
  (``python -m ml.lipsync``: start-up, audio, decode, crop, model, paste,
  encode, exit). Runs are interleaved and the minimum of each is taken (the
  machine is noisy). Target >= 1.0 (the whole render faster than the bare
  network), and on toward 1.3.
* **Preloaded ratio**: the same model-only time divided by a render with the
  engine already loaded, as a worker sees it.
* each backend's **model-only fps** at the engine's batch size.

Usage: python bench/e2e_vs_model.py [--rounds 2] [--backend auto] [--device cpu]
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import torch
from _media import BOX_720, BOX_1080, OUT, ROOT, checkpoint, clip_720p, clip_1080p, speech

from ml.checkpoint import load_wav2lip
from ml.infer import Generator
from ml.pipeline import LipSyncEngine, RenderSettings
from ml.settings import PRECISIONS


def model_time(gen, frames: int, batch: int) -> float:
    """Seconds for ``frames`` frames in batches of ``batch`` (after one warm-up batch)."""
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (batch, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (batch, 80, 16)).astype(np.float32)
    gen(crops, mels)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    done = 0
    while done < frames:
        n = min(batch, frames - done)
        gen(crops[:n], mels[:n])
        done += n
    return time.perf_counter() - t


def cli_time(clip, audio, ckpt, args, box) -> float:
    cmd = [
        sys.executable, "-m", "ml.lipsync", "--face", clip, "--audio", audio, "--checkpoint", ckpt,
        "--outfile", OUT / "e2e-cli.mp4", "--box", *map(str, box), "--device", args.device,
        "--backend", args.backend, "--precision", args.precision, "--quiet",
    ]
    t = time.perf_counter()
    subprocess.run(list(map(str, cmd)), cwd=ROOT, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", choices=PRECISIONS, default="fp32",
                    help="the engine's precision (the reference stays fp32)")
    ap.add_argument("--fp16", action="store_true", help="same as --precision fp16")
    ap.add_argument("--size", choices=["720p", "1080p"], default="720p")
    ap.add_argument("--batches", default=None, help="reference batch sizes to try (default 8,16,32 CPU; 32,64,128 CUDA)")
    args, _ = ap.parse_known_args()
    if args.fp16:
        args.precision = "fp16"
    clip = clip_720p(args.seconds) if args.size == "720p" else clip_1080p(args.seconds)
    box = BOX_720 if args.size == "720p" else BOX_1080
    audio, ckpt = speech(args.seconds), checkpoint()
    frames = args.seconds * 25
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    sizes = [int(b) for b in (args.batches or ("32,64,128" if cuda else "8,16,32")).split(",")]

    model, _ = load_wav2lip(ckpt)
    reference = Generator(model, device)  # eager, NCHW, fp32: the reference network
    per_batch = {b: model_time(reference, 4 * b, b) / (4 * b) for b in sizes}
    best = min(per_batch, key=per_batch.get)
    print(f"reference eager PyTorch, s/frame by batch size: { {b: round(v, 4) for b, v in per_batch.items()} }"
          f" -> best batch {best}")

    # Build the compiled graph and the auto choice outside the timed runs:
    # they are one-time costs of a machine (install_models does them).
    engine = LipSyncEngine(ckpt, device=args.device, backend=args.backend, precision=args.precision)
    print(engine.backend_note(args.precision))
    settings = RenderSettings(box=box, precision=args.precision)
    engine.warm_up(args.precision)

    ref_t, cli_t, pre_t = [], [], []
    for _ in range(args.rounds):  # interleaved: the load on the machine hits all of them alike
        ref_t.append(model_time(reference, frames, best))
        cli_t.append(cli_time(clip, audio, ckpt, args, box))
        t = time.perf_counter()
        res = engine.render(clip, audio, OUT / "e2e-preloaded.mp4", settings)
        pre_t.append(time.perf_counter() - t)
    ref, cli, pre = min(ref_t), min(cli_t), min(pre_t)
    print(f"frames: {res.frames} ({args.size}25, --box, engine batch {engine.batch_size}, backend {engine.backend},"
          f" {engine.precision(args.precision)}, x264 {engine.encoder_preset(settings)})")
    print("stage seconds (preloaded):", {k: round(v, 2) for k, v in res.timings.items()})
    print(f"reference network alone, batch {best}: {ref:.1f} s ({frames / ref:.2f} fps)  runs {[round(x, 1) for x in ref_t]}")
    print(f"whole CLI process:                {cli:.1f} s ({frames / cli:.2f} fps)  runs {[round(x, 1) for x in cli_t]}")
    print(f"engine preloaded (worker):        {pre:.1f} s ({frames / pre:.2f} fps)  runs {[round(x, 1) for x in pre_t]}")
    print(f"CLI ratio:       {ref / cli:.3f}  (target >= 1.0, toward 1.3)")
    print(f"preloaded ratio: {ref / pre:.3f}")


if __name__ == "__main__":
    main()
