"""First render of a new video (face detection) versus one with its track cached.

10 s 720p25 clip, the same backend and settings; ratio = cached time / first
time. Target >= 0.7 (detection costs at most 30%).
Usage: python bench/cache.py [--detector opencv|sfd] [--device cpu] [--backend auto]
"""

import argparse
import time

from _media import OUT, checkpoint, clip_720p, s3fd_dir, speech

from ml.pipeline import LipSyncEngine, TrackCache


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--detector", default="opencv")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--size", choices=["720p", "1080p"], default="720p")
    args, _ = ap.parse_known_args()
    from _media import clip_1080p

    clip, audio = (clip_720p(10) if args.size == "720p" else clip_1080p(10)), speech(10)
    model_dir = s3fd_dir() if args.detector == "sfd" else None
    engine = LipSyncEngine(checkpoint(), device=args.device, detector=args.detector, model_dir=model_dir,
                           backend=args.backend)
    engine.warm_up(False)
    engine.detector()
    cache = TrackCache(OUT / "tracks")
    walls = {}
    for label in ("first", "second"):
        if label == "first":
            for f in (OUT / "tracks").glob("*"):
                f.unlink()
        calls = engine.detector().calls
        t = time.perf_counter()
        res = engine.render(clip, audio, OUT / f"cache_{label}.mp4", track_cache=cache)
        walls[label] = time.perf_counter() - t
        print(
            f"{label}: {walls[label]:.1f} s total, detect stage {res.timings['detect']:.2f} s, "
            f"detector frames {engine.detector().calls - calls}, cache hit {res.track_cache_hit}"
        )
    print(f"detection ratio (cached / first, {args.detector}, backend {engine.backend}): "
          f"{walls['second'] / walls['first']:.3f} (target >= 0.7)")


if __name__ == "__main__":
    main()
