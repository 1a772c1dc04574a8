"""End-to-end fps with --box on a 10 s 720p25 clip, divided by model-only fps.

Model-only: the same Generator forward passes on the same number of frames
at the same batch size, nothing else. Target: ratio >= 0.8.
"""

import argparse
import time

import numpy as np
import torch
from _media import BOX_720, OUT, checkpoint, clip_720p, speech

from ml.checkpoint import load_wav2lip
from ml.infer import Generator
from ml.pipeline import LipSyncEngine, RenderSettings


def model_fps(gen, frames: int, batch: int) -> float:
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (batch, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (batch, 80, 16)).astype(np.float32)
    gen(crops, mels)  # warm-up
    t = time.perf_counter()
    done = 0
    while done < frames:
        n = min(batch, frames - done)
        gen(crops[:n], mels[:n])
        done += n
    return frames / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--preset", default="auto")
    ap.add_argument("--io-threads", type=int, default=None)
    args = ap.parse_args()
    clip, audio, ckpt = clip_720p(args.seconds), speech(args.seconds), checkpoint()
    engine = LipSyncEngine(ckpt, device="cpu", batch_size=args.batch_size, io_threads=args.io_threads)
    settings = RenderSettings(box=BOX_720, preset=args.preset)
    model, _ = load_wav2lip(ckpt)
    gen = Generator(model, torch.device("cpu"))
    frames = args.seconds * 25
    # The machine is shared: measure the model alone before and after the
    # render and compare with their mean.
    before = model_fps(gen, frames, args.batch_size)
    t = time.perf_counter()
    cold = engine.render(clip, audio, OUT / "e2e-cold.mp4", settings)
    cold_fps = cold.frames / (time.perf_counter() - t)
    # Steady state, as in a worker: the engine stays loaded between jobs.
    t = time.perf_counter()
    res = engine.render(clip, audio, OUT / "e2e.mp4", settings)
    e2e = res.frames / (time.perf_counter() - t)
    after = model_fps(gen, frames, args.batch_size)
    alone = (before + after) / 2
    print(
        f"frames: {res.frames} (720p25, --box, batch {args.batch_size}, x264 {engine.encoder_preset(settings)}, "
        f"io threads {engine.io_threads or 'auto'})"
    )
    print("stage seconds:", {k: round(v, 2) for k, v in res.timings.items()})
    print(f"end-to-end, first render in a fresh process: {cold_fps:.2f} fps (audio stack import, model warm-up)")
    print(f"end-to-end, engine loaded (as in a worker): {e2e:.2f} fps (audio features included)")
    print(f"model only: {alone:.2f} fps (before {before:.2f}, after {after:.2f})")
    print(f"ratio:      {e2e / alone:.3f}  (target >= 0.8)")


if __name__ == "__main__":
    main()
