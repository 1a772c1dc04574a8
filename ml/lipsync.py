"""Command line: ``python -m ml.lipsync --face V --audio A --checkpoint C --outfile O``.

A thin shell over :class:`ml.pipeline.LipSyncEngine`. Bad input prints one
line (``error: ...``) and exits with status 2; no traceback unless --debug.
"""

from __future__ import annotations

import argparse
import sys

from .settings import PRECISIONS

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ml.lipsync",
        description="Lip-sync a face video (or image) to an audio file with Wav2Lip.",
    )
    p.add_argument("--face", required=True, help="video or image with a face")
    p.add_argument("--audio", required=True, help="audio file, or a video to take the audio from")
    p.add_argument("--checkpoint", required=True, help="wav2lip.pth / wav2lip_gan.pth")
    p.add_argument("--outfile", required=True, help="output video (.mp4, .mov or .mkv)")
    p.add_argument(
        "--box",
        type=int,
        nargs=4,
        metavar=("Y1", "Y2", "X1", "X2"),
        help="fixed face box for every frame: no detection, padding or smoothing",
    )
    p.add_argument(
        "--pads",
        type=int,
        nargs=4,
        default=[0, 10, 0, 0],
        metavar=("TOP", "BOTTOM", "LEFT", "RIGHT"),
        help="padding around detected faces",
    )
    p.add_argument("--blend", choices=["feather", "none"], default="feather")
    p.add_argument("--loop", choices=["pingpong", "forward"], default="pingpong")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx"],
        default="auto",
        help="runtime for the network: auto (the fastest measured on this device, cached), torch or onnx"
        " (ONNX Runtime; the graph is built from the checkpoint on first use and cached beside it)",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="network precision (default fp32, the reference): fp16 on a GPU, bf16 on a GPU or a CPU with bf16"
        " instructions (AVX-512 BF16, AMX); torch backend; fp32 where the device lacks it",
    )
    p.add_argument("--fp16", action="store_true", help="same as --precision fp16")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--detector", choices=["auto", "sfd", "opencv"], default="auto")
    p.add_argument("--model-dir", default=None, help="folder with s3fd-619a316812.pth (default: $HEYGEM_MODEL_DIR)")
    p.add_argument("--lossless", action="store_true", help="lossless RGB H.264 for post-production")
    p.add_argument("--quality", type=int, default=18, help="x264 CRF (default 18)")
    p.add_argument("--preset", default="auto",
                   help="x264 preset (default auto: superfast on the CPU, veryfast with CUDA)")
    p.add_argument("--resize-factor", type=int, default=1)
    p.add_argument("--detect-size", type=int, default=384)
    p.add_argument("--key-span", type=int, default=20,
                   help="adaptive key frames: detect every N-th frame first, the frames between only"
                        " where the boxes differ (default 20; 0: every 5th frame)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the model")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import LipSyncError

    try:
        return _run(args)
    except LipSyncError as exc:
        if args.debug:
            raise
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an environment problem: still one line
        if args.debug:
            raise
        print(f"error: unexpected failure ({type(exc).__name__}: {exc}); rerun with --debug", file=sys.stderr)
        return EXIT_FAILURE


def _run(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from .audio import AudioFeatures
    from .pipeline import Progress, RenderSettings

    settings = RenderSettings(
        pads=tuple(args.pads),
        box=tuple(args.box) if args.box else None,
        blend=args.blend,
        loop=args.loop,
        lossless=args.lossless,
        quality=args.quality,
        preset=args.preset,
        resize_factor=args.resize_factor,
        detect_size=args.detect_size,
        key_span=args.key_span,
        precision=_precision(args),
    )
    # Start-up: the audio features (decoding, and importing the audio stack
    # once) are computed while the engine loads the network.
    with ThreadPoolExecutor(1, thread_name_prefix="lipsync-audio") as pool:
        audio_job = pool.submit(AudioFeatures.from_file, args.audio)
        try:
            engine = _load_engine(args)
        except BaseException:
            audio_job.cancel()
            raise
        feats = audio_job.result()
    bars: dict[str, object] = {}

    def progress(p: Progress) -> None:
        if args.quiet:
            return
        from tqdm import tqdm

        bar = bars.get(p.stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[p.stage] = tqdm(total=p.total, desc=p.stage, unit="frame", leave=False)
        bar.total = p.total
        bar.n = p.done
        bar.refresh()

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr)

    try:
        result = engine.render(
            args.face, feats, args.outfile, settings=settings, progress=progress, log=log, audio_source=args.audio
        )
    finally:
        for bar in bars.values():
            bar.close()
    if not args.quiet:
        t = result.timings
        print(
            f"{result.outfile}: {result.frames} frames at {result.fps} fps "
            f"({result.duration:.2f} s) in {t.get('total', 0):.1f} s; "
            f"{result.faceless_frames} without a face",
            file=sys.stderr,
        )
    return 0


def _load_engine(args: argparse.Namespace):
    from .pipeline import LipSyncEngine

    return LipSyncEngine(
        args.checkpoint,
        device=args.device,
        detector=args.detector,
        model_dir=args.model_dir,
        batch_size=args.batch_size,
        threads=args.threads,
        backend=args.backend,
        precision=_precision(args),
    )


def _precision(args: argparse.Namespace) -> str:
    if args.fp16 and args.precision not in (None, "fp16"):
        raise ValueError(f"--fp16 and --precision {args.precision} contradict each other")
    return "fp16" if args.fp16 else (args.precision or "fp32")


if __name__ == "__main__":
    sys.exit(main())
