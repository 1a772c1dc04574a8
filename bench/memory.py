"""Peak RSS of a 60 s 720p render versus a 10 s one (each in its own process).

Target: the 60 s peak within 15% of the 10 s peak (memory does not grow
with duration). Uses --box so the numbers are about the streaming render.
"""

import json
import resource
import subprocess
import sys
import time

from _media import BOX_720, OUT, checkpoint, clip_720p, speech


def child(seconds: int, detect: bool) -> None:
    from ml.pipeline import LipSyncEngine, RenderSettings

    engine = LipSyncEngine(checkpoint(), device="cpu", detector="opencv")
    settings = RenderSettings() if detect else RenderSettings(box=BOX_720)
    t = time.perf_counter()
    res = engine.render(clip_720p(seconds), speech(seconds), OUT / f"mem_{seconds}.mp4", settings)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"seconds": seconds, "frames": res.frames, "peak_rss_mib": rss, "wall_s": time.perf_counter() - t})
    )


def main() -> None:
    detect = "--detect" in sys.argv
    for s in (10, 60):  # build media first, outside the measured processes
        clip_720p(s), speech(s)
    checkpoint()
    rows = []
    for seconds in (10, 60):
        args = [sys.executable, __file__, "--child", str(seconds)] + (["--detect"] if detect else [])
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(rows[-1])
    ratio = rows[1]["peak_rss_mib"] / rows[0]["peak_rss_mib"]
    print(
        f"peak RSS 10 s: {rows[0]['peak_rss_mib']:.0f} MiB, 60 s: {rows[1]['peak_rss_mib']:.0f} MiB,"
        f" ratio {ratio:.3f} (target <= 1.15)"
    )


if __name__ == "__main__":
    if "--child" in sys.argv:
        child(int(sys.argv[sys.argv.index("--child") + 1]), "--detect" in sys.argv)
    else:
        main()
