"""First render of a new video (face detection) versus one with its track cached.

10 s 720p25 clip, the same backend and settings; ratio = cached time / first
time. Target >= 0.7 (detection costs at most 30%).
Usage: python bench/cache.py [--device cpu] [--backend auto] [--size 720p|1080p]

The detector is OpenCV's Haar cascade: the random S3FD weights of the
benchmarks find no face, so a render with them stops at "no face found";
`s3fd_first_render.py` measures the same ratio with S3FD's real compute
(boxes from Haar), `detect_cost.py` S3FD's cost per frame.
"""

import argparse
import time

from _media import OUT, checkpoint, clip_720p, speech

from ml.pipeline import LipSyncEngine, RenderSettings, TrackCache
from ml.settings import PRECISIONS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--detector", choices=["opencv"], default="opencv")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--size", choices=["720p", "1080p"], default="720p")
    ap.add_argument("--precision", choices=PRECISIONS, default="fp32")
    args, _ = ap.parse_known_args()
    from _media import clip_1080p

    clip, audio = (clip_720p(10) if args.size == "720p" else clip_1080p(10)), speech(10)
    engine = LipSyncEngine(checkpoint(), device=args.device, detector=args.detector, backend=args.backend,
                           precision=args.precision)
    engine.warm_up(args.precision)
    print(engine.backend_note(args.precision))
    engine.detector()
    cache = TrackCache(OUT / "tracks")
    walls = {}
    for label in ("first", "second"):
        if label == "first":
            for f in (OUT / "tracks").glob("*"):
                f.unlink()
        calls = engine.detector().calls
        t = time.perf_counter()
        res = engine.render(clip, audio, OUT / f"cache_{label}.mp4", RenderSettings(precision=args.precision),
                            track_cache=cache)
        walls[label] = time.perf_counter() - t
        print(
            f"{label}: {walls[label]:.1f} s total, detect stage {res.timings['detect']:.2f} s, "
            f"detector frames {engine.detector().calls - calls}, cache hit {res.track_cache_hit}"
        )
    print(f"detection ratio (cached / first, {args.detector}, backend {engine.backend}): "
          f"{walls['second'] / walls['first']:.3f} (target >= 0.7)")


if __name__ == "__main__":
    main()
