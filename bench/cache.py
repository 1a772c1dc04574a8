"""Second render of the same video (face track cached) versus the first."""

import time

from _media import OUT, checkpoint, clip_720p, speech

from ml.pipeline import LipSyncEngine, TrackCache


def main() -> None:
    clip, audio = clip_720p(10), speech(10)
    engine = LipSyncEngine(checkpoint(), device="cpu", detector="opencv")
    cache = TrackCache(OUT / "tracks")
    for f in (OUT / "tracks").glob("*"):
        f.unlink()
    for label in ("first", "second"):
        calls = engine.detector().calls
        t = time.perf_counter()
        res = engine.render(clip, audio, OUT / f"cache_{label}.mp4", track_cache=cache)
        wall = time.perf_counter() - t
        print(
            f"{label}: {wall:.1f} s total, detect stage {res.timings['detect']:.2f} s, "
            f"detector frames {engine.detector().calls - calls}, cache hit {res.track_cache_hit}"
        )


if __name__ == "__main__":
    main()
