"""Detection cost per frame: our detection pass versus S3FD on full 720p frames.

Random S3FD weights (timing only; they find no face, so no refinement
happens -- with a real face, refinement adds detections only where the face
appears, disappears or moves fast). Target: at least 10x less per frame.
"""

import time
from fractions import Fraction

from _media import clip_720p, s3fd_dir

from ml.detect import S3FDDetector
from ml.track import build_track, detect_frame_size
from ml.video import VideoSource


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    args, _ = ap.parse_known_args()
    clip = clip_720p(10)
    det = S3FDDetector(s3fd_dir() / "s3fd-619a316812.pth", device=args.device)
    src = VideoSource(clip)
    full = [img for _, img in src.frames(stop=3)]
    det.detect(full[:1])  # warm-up
    t = time.perf_counter()
    det.detect(full)
    per_full = (time.perf_counter() - t) / len(full)

    print(f"S3FD on full 720p frames ({args.device}): {per_full * 1000:.0f} ms/frame")
    for size, key in ((384, 5), (384, 1)):
        small = detect_frame_size(1280, 720, size)
        t = time.perf_counter()
        track = build_track(
            src.frames(size=small),
            det.detect,
            (small[0] / 1280, small[1] / 720),
            1280,
            720,
            Fraction(25),
            "sfd",
            key_interval=key,
        )
        per = (time.perf_counter() - t) / track.n_frames
        print(
            f"detect_size {size or 'full'} key_interval {key}: {per * 1000:.1f} ms/frame "
            f"(decode included), {per_full / per:.1f}x less than full-frame S3FD"
        )


if __name__ == "__main__":
    main()
