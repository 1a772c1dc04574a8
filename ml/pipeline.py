"""The lip-sync pipeline: audio features + face track -> streamed render.

``LipSyncEngine`` loads the model once and renders many jobs. One render:

1. audio features (mel) from a file, or reused from :class:`AudioFeatures`;
2. the face track: fixed ``box``, a cached track, or key-frame detection on
   downscaled frames (a light first pass over the video);
3. one streaming pass: a decode + face-crop thread -> the batched model on
   the calling thread -> a paste thread -> an encode thread (H.264 +
   original audio), connected by bounded queues, so the model never waits
   for the rest and memory does not grow with the duration.

The network runs on the backend chosen at load (``ml.backends``: PyTorch or
ONNX Runtime, ``auto`` = fastest measured on this device).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from .audio import MEL_STEP, RESAMPLER, AudioFeatures, file_sha256, mel_chunk_starts, output_frame_count
from .backends import (
    BACKENDS,
    Choice,
    OnnxGenerator,
    compiled_dir,
    device_key,
    ensure_onnx,
    onnx_providers,
    read_choice,
    time_generator,
    write_choice,
)
from .checkpoint import build_model, identify, read_state_dict
from .detect import make_detector
from .encode import VideoWriter
from .errors import BadBox, CorruptMedia, LipSyncError, NoFaceFound
from .infer import PRECISIONS, Generator, pick_device, precision_unsupported
from .limits import NO_LIMITS, MediaLimits
from .paste import crop_face, paste_mouth
from .settings import Progress, RenderResult, RenderSettings
from .track import TrackCache, build_track, detect_frame_size
from .video import VideoSource

__all__ = ["LipSyncEngine", "RenderSettings", "RenderResult", "Progress", "AudioFeatures", "TrackCache"]

_END = object()


class _Stage:
    """Progress bookkeeping for one stage; calls the user callback."""

    def __init__(self, name: str, total: int, callback, started: float) -> None:
        self.name, self.total, self.callback = name, total, callback
        self.t0 = time.perf_counter()
        self.started = started
        self.done = 0
        self._last = 0.0

    def advance(self, n: int, force: bool = False) -> None:
        self.done += n
        if self.callback is None:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.25 and self.done < self.total:
            return
        self._last = now
        dt = now - self.t0
        fps = self.done / dt if dt > 0 else 0.0
        eta = (self.total - self.done) / fps if fps > 0 else None
        self.callback(Progress(self.name, self.done, self.total, fps, eta, now - self.started))

    def poll(self) -> bool:
        """For loops that run long between advances (audio decoding, face
        detection): hand the callback the current numbers, at most every
        0.25 s, so a callback that raises (a cancelled render) stops the
        stage within that time. Returns False: stopping is the callback's."""
        self.advance(0)
        return False


class _Worker(threading.Thread):
    """A daemon thread that records its exception for the caller."""

    def __init__(self, target, name: str) -> None:
        super().__init__(target=self._run, name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None
        self.busy = 0.0

    def _run(self) -> None:
        try:
            self._target_fn(self)
        except BaseException as exc:  # handed to the main thread
            self.error = exc


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _read_ahead(frames: Iterator, max_items: int, name: str) -> Iterator:
    """What ``frames`` yields, read by a thread of its own up to ``max_items``
    ahead: the detection pass decodes and scales the next frames while the
    detector runs on the ones before. An error in the reader is raised here;
    when the consumer stops early (a cancel, an error) the reader stops and
    its generator is closed (which closes the file)."""
    q: queue.Queue = queue.Queue(maxsize=max(1, max_items))
    stop = threading.Event()

    def read(worker: _Worker) -> None:
        it = iter(frames)
        try:
            for item in it:
                if not _put(q, item, stop):
                    return
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
            _put(q, _END, stop)

    reader = _Worker(read, name)
    reader.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            yield item
        if reader.error is not None:
            raise reader.error
    finally:
        stop.set()
        reader.join()


class LipSyncEngine:
    """A loaded Wav2Lip model, reusable for many renders (not thread-safe)."""

    def __init__(
        self,
        checkpoint_path: str | os.PathLike,
        device: str = "auto",
        detector: str = "auto",
        model_dir: str | os.PathLike | None = None,
        batch_size: int | None = None,
        threads: int | None = None,
        io_threads: int | None = None,
        backend: str = "auto",
        precision: str = "fp32",
        compiled_dir: str | os.PathLike | None = None,
    ) -> None:
        if detector not in ("auto", "sfd", "opencv"):
            raise ValueError(f"unknown detector {detector!r}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
        if threads:
            torch.set_num_threads(int(threads))
        self.device = pick_device(device)
        self.checkpoint_path = Path(checkpoint_path)
        self.checkpoint = identify(checkpoint_path)
        self.model_sha256 = self.checkpoint.sha256
        self.model_name = self.checkpoint.known_as
        self.batch_size = int(batch_size or (64 if self.device.type == "cuda" else 16))
        # Decoder and x264 threads. On a small CPU they compete with the
        # model's OpenMP threads, which stall whenever one of them is
        # descheduled, so keep them to one each there.
        cores = os.cpu_count() or 1
        self.io_threads = int(io_threads if io_threads is not None else (1 if cores <= 4 else 0))
        self.detector_kind = detector
        self.model_dir = model_dir
        self.compiled_dir = compiled_dir
        self._model = None  # the PyTorch module, loaded only when a backend needs it
        self._generators: dict[str, Generator] = {}
        self._onnx: OnnxGenerator | None = None
        self._detector = None
        self._detector_note = ""
        self.backend, self.backend_choice = self._resolve_backend(backend, precision)
        self.backend_requested = backend
        self.generator(precision)  # load now: a bad checkpoint fails here, not in the first job

    # ------------------------------------------------------------ backends

    @property
    def model(self):
        if self._model is None:
            self._model = build_model(read_state_dict(self.checkpoint_path))
        return self._model

    def _device_name(self) -> str:
        return str(self.device) if self.device.type == "cuda" else "cpu"

    def _onnx_generator(self) -> OnnxGenerator:
        if self._onnx is None:
            path, built = ensure_onnx(
                self.checkpoint_path, self.model_sha256, model=self._model, cache_dir=self.compiled_dir
            )
            try:
                self._onnx = OnnxGenerator(path, self._device_name(), threads=torch.get_num_threads())
            except ValueError:
                raise
            except Exception:
                if built:
                    raise
                # A cached graph the runtime cannot read (damaged on disk, or
                # from an incompatible exporter): build it again, once.
                path.unlink(missing_ok=True)
                path, _ = ensure_onnx(
                    self.checkpoint_path, self.model_sha256, model=self._model, cache_dir=self.compiled_dir
                )
                self._onnx = OnnxGenerator(path, self._device_name(), threads=torch.get_num_threads())
        return self._onnx

    def _resolve_backend(self, backend: str, precision: str) -> tuple[str, Choice]:
        onnx_ok = onnx_providers(self._device_name()) is not None
        if backend == "torch":
            return "torch", Choice("torch", {}, False)
        if backend == "onnx":
            if not onnx_ok:
                raise ValueError(
                    f"The onnx backend cannot run on {self._device_name()} here: the installed onnxruntime"
                    " has no provider for it (on CUDA it needs onnxruntime-gpu). Use the torch or auto backend."
                )
            return "onnx", Choice("onnx", {}, False)
        if not onnx_ok:
            return "torch", Choice("torch", {}, False)
        folder = compiled_dir(self.checkpoint_path, self.compiled_dir)
        key = device_key(self._device_name(), self.batch_size, torch.get_num_threads(), self._torch_precision(precision))
        cached = read_choice(folder, key)
        if cached is not None:
            return cached["backend"], Choice(cached["backend"], cached.get("ms_per_batch") or {}, True)
        ms = {
            "torch": time_generator(self._torch_generator(precision), self.batch_size),
            "onnx": time_generator(self._onnx_generator(), self.batch_size),
        }
        best = min(ms, key=ms.get)
        write_choice(folder, key, best, ms)
        if best == "onnx":  # keep one copy of the weights in memory, not two
            self._generators.clear()
            self._model = None
        else:
            self._onnx = None
        return best, Choice(best, ms, False)

    def _torch_precision(self, precision: str) -> str:
        """The precision the torch backend runs for ``precision``: fp32 where the device lacks it."""
        return "fp32" if precision_unsupported(self.device, precision) else precision

    def _torch_generator(self, precision: str) -> Generator:
        key = self._torch_precision(precision)
        if key not in self._generators:
            self._generators[key] = Generator(self.model, self.device, precision=key, channels_last=True)
        return self._generators[key]

    def precision(self, precision: str) -> str:
        """The precision the network runs in when ``precision`` is asked for."""
        return self._torch_precision(precision) if self.backend == "torch" else "fp32"

    def backend_note(self, precision: str) -> str:
        """One line for the render log: which runtime ran the network, and why."""
        if self.backend == "onnx":
            import onnxruntime

            runtime = f"ONNX Runtime {onnxruntime.__version__}"
        else:
            runtime = f"PyTorch {torch.__version__.split('+')[0]} (channels-last)"
        why = "set by configuration" if self.backend_requested != "auto" else self.backend_choice.describe()
        if self.backend_requested == "auto" and not self.backend_choice.ms_per_batch:
            why = "the only backend that runs on this device"
        extra = ""
        if precision != "fp32" and self.backend == "onnx":
            extra = f"; {precision} was asked for but the onnx backend runs fp32"
        elif precision != "fp32":
            missing = precision_unsupported(self.device, precision)
            if missing:
                extra = f"; {precision} was asked for but {missing}: fp32 ran"
        return (
            f"Backend: {self.backend}, {runtime} on {self._device_name()}, {self.precision(precision)}"
            f" ({why}){extra}."
        )

    def runtime_facts(self, precision: str) -> dict:
        return {
            "backend": self.backend,
            "requested": self.backend_requested,
            "device": self._device_name(),
            "precision": self.precision(precision),
        }

    def warm_up(self, precision: str = "fp32") -> None:
        """Pay the one-time costs before the first job: the mel filterbank
        and the first forward pass (kernel selection; cuDNN autotuning on
        CUDA)."""
        from .audio import _mel_basis

        _mel_basis()
        gen = self.generator(precision)
        crops = np.zeros((self.batch_size, 96, 96, 3), np.uint8)
        mels = np.zeros((self.batch_size, 80, 16), np.float32)
        gen(crops, mels)

    def encoder_preset(self, settings: RenderSettings) -> str:
        if settings.preset != "auto":
            return settings.preset
        return "veryfast" if self.device.type == "cuda" else "superfast"

    # ------------------------------------------------------------ parts

    def generator(self, precision: str = "fp32"):
        """The network runner of the chosen backend: (B,96,96,3) uint8 crops +
        (B,80,16) mels -> (B,96,96,3) uint8 faces."""
        if self.backend == "onnx":
            return self._onnx_generator()
        return self._torch_generator(precision)

    @property
    def checkpoint_note(self) -> str:
        if self.model_name:
            return f"Model: {self.model_name} (official, sha256 verified)."
        return f"Model: custom checkpoint (sha256 {self.model_sha256[:16]}…, not an official file)."

    def detector(self):
        if self._detector is None:
            self._detector, self._detector_note = make_detector(
                self.detector_kind, self.model_dir, "cuda" if self.device.type == "cuda" else "cpu"
            )
        return self._detector

    # ------------------------------------------------------------ render

    def render(
        self,
        face_path: str | os.PathLike,
        audio: AudioFeatures | str | os.PathLike,
        outfile: str | os.PathLike,
        settings: RenderSettings | None = None,
        progress: Callable[[Progress], None] | None = None,
        track_cache: TrackCache | None = None,
        video_sha256: str | None = None,
        log: Callable[[str], None] | None = None,
        audio_source: str | os.PathLike | None = None,
        limits: MediaLimits = NO_LIMITS,
    ) -> RenderResult:
        """Render ``face_path`` lip-synced to ``audio`` into ``outfile``.

        ``audio`` is a path or precomputed :class:`AudioFeatures` (whose
        ``source`` file, or ``audio_source``, is muxed into the output). If
        ``progress`` raises, the render stops, the partial output is deleted
        and the exception propagates unchanged; it is called at least every
        0.25 s or so in every stage (audio decoding and face detection too).
        Inputs over ``limits`` are refused with :class:`MediaOverLimit`.
        """
        settings = settings or RenderSettings()
        started = time.perf_counter()
        timings: dict[str, float] = {}
        lines: list[str] = []

        def note(line: str) -> None:
            lines.append(line)
            if log:
                log(line)

        note(self.checkpoint_note)
        note(self.backend_note(settings.precision))
        t = time.perf_counter()
        if isinstance(audio, AudioFeatures):
            feats = audio
        else:
            audio_stage = _Stage("audio", 1, progress, started)
            feats = AudioFeatures.from_file(audio, should_stop=audio_stage.poll, limits=limits)
        timings["audio"] = time.perf_counter() - t
        mux_from = Path(audio_source or feats.source or "")
        if not feats.source and audio_source is None:
            raise CorruptMedia("The audio features have no source file to take the sound from.")
        limits.check_duration(mux_from.name, feats.duration)  # features computed before the limits
        note(f"Audio: {feats.duration:.2f} s, resampled to 16 kHz with {RESAMPLER}.")

        source = VideoSource(
            face_path, settings.resize_factor, Fraction(settings.image_fps), threads=self.io_threads, limits=limits
        )
        info = source.info
        fps = info.fps
        n_out = output_frame_count(feats.samples, feats.n_mel, fps)
        starts = mel_chunk_starts(feats.n_mel, fps, n_out)
        note(
            f"Video: {info.width}x{info.height} at {fps} fps"
            f"{' (still image)' if info.is_image else ''}"
            f"{f' (turned {info.rotation}° clockwise, as players show it)' if info.rotation else ''}; {n_out} output frames."
        )

        t = time.perf_counter()
        boxes, detector_used, cache_hit = self._face_boxes(
            source, settings, n_out, progress, started, track_cache, video_sha256, note
        )
        timings["detect"] = time.perf_counter() - t

        result = self._stream(
            source, feats, mux_from, outfile, settings, boxes, starts, n_out, progress, started, timings
        )
        frames, faceless = result
        if faceless:
            note(f"{faceless} frame(s) without a face were passed through unchanged.")
        timings["total"] = time.perf_counter() - started
        return RenderResult(
            outfile=Path(outfile),
            frames=frames,
            fps=fps,
            duration=float(frames / fps),
            audio_duration=feats.duration,
            width=info.width - info.width % 2,
            height=info.height - info.height % 2,
            faceless_frames=faceless,
            detector_used=detector_used,
            track_cache_hit=cache_hit,
            timings=timings,
            model_sha256=self.model_sha256,
            model_name=self.model_name,
            runtime=self.runtime_facts(settings.precision),
            log=lines,
        )

    def _face_boxes(
        self,
        source: VideoSource,
        settings: RenderSettings,
        n_out: int,
        progress,
        started,
        track_cache,
        video_sha256,
        note,
    ):
        """Per-source-frame crop boxes (N, 4) int (-1 = no face); a fixed box is (1, 4)."""
        info = source.info
        if settings.box is not None:
            y1, y2, x1, x2 = settings.box
            x2, y2 = min(x2, info.width), min(y2, info.height)
            if x1 >= x2 or y1 >= y2:
                raise BadBox(f"The box {settings.box} lies outside the {info.width}x{info.height} frame.")
            note("Face box: fixed (no detection, no padding, no smoothing).")
            return np.array([[x1, y1, x2, y2]], np.int64), "box", False

        detector = self.detector()
        note(self._detector_note)
        key = settings.detection_key()
        track = None
        if track_cache is not None:
            video_sha256 = video_sha256 or file_sha256(source.path)
            track = track_cache.get(video_sha256, detector.name, key)
            if track is not None and not track.complete and track.n_frames < n_out:
                track = None  # cached for a shorter audio: not enough frames
        cache_hit = track is not None
        if cache_hit:
            note("Face track: from cache (detection skipped).")
        else:
            small = detect_frame_size(info.width, info.height, settings.detect_size)
            expected = min(n_out, info.frames_estimate or n_out)
            stage = _Stage("detect", expected, progress, started)
            # Small frames read ahead (at most 64 MiB of them) while the detector runs.
            ahead = max(2, min(64, (64 << 20) // (small[0] * small[1] * 3)))
            track = build_track(
                _read_ahead(source.frames(size=small, stop=None if info.is_image else n_out + 1), ahead,
                            "lipsync-detect-decode"),
                detector.detect,
                (small[0] / info.width, small[1] / info.height),
                info.width,
                info.height,
                info.fps,
                detector.name,
                key_interval=settings.key_interval,
                key_span=settings.key_span,
                limit=n_out,
                on_frames=stage.advance,
                should_stop=stage.poll,
            )
            stage.total = max(stage.done, 1)
            stage.advance(0, force=True)
            if track_cache is not None:
                track_cache.put(video_sha256, detector.name, key, track)
        if not track.valid.any():
            raise NoFaceFound(f"No face was found in {source.path.name}.")
        if track.complete:
            source.n_frames = track.n_frames
        return track.render_boxes(settings.pads, settings.smooth_window), detector.name, cache_hit

    def _stream(
        self, source, feats, mux_from, outfile, settings, boxes, starts, n_out, progress, started, timings
    ) -> tuple[int, int]:
        """Four stages in a chain of bounded queues, so the model (on the
        calling thread) never waits for the others: decode + face crop ->
        model -> paste -> encode. Memory is a few batches of frames."""
        info = source.info
        bs = self.batch_size
        gen = self.generator(settings.precision)
        stop = threading.Event()
        frames_q: queue.Queue = queue.Queue(maxsize=2 * bs)
        paste_q: queue.Queue = queue.Queue(maxsize=2)  # whole batches
        out_q: queue.Queue = queue.Queue(maxsize=2 * bs)
        writer = VideoWriter(
            outfile,
            info.width,
            info.height,
            info.fps,
            mux_from,
            crf=settings.quality,
            preset=self.encoder_preset(settings),
            lossless=settings.lossless,
            color_tags=source.color_tags,
            threads=self.io_threads,
        )
        fixed = boxes if len(boxes) == 1 else None

        def decode(worker: _Worker) -> None:
            it = source.playback(n_out, settings.loop)
            while not stop.is_set():
                t = time.perf_counter()
                item = next(it, _END)
                if item is not _END:
                    i, k, img = item
                    box = fixed[0] if fixed is not None else (boxes[k] if k < len(boxes) else None)
                    ok = box is not None and box[2] - box[0] >= 2 and box[3] - box[1] >= 2
                    row = box if ok else None
                    item = (i, img, row, crop_face(img, row) if ok else None)
                worker.busy += time.perf_counter() - t
                if not _put(frames_q, item, stop) or item is _END:
                    return

        def _take(q: queue.Queue):
            while True:
                try:
                    return q.get(timeout=0.1)
                except queue.Empty:
                    if stop.is_set():
                        return _END

        def paste(worker: _Worker) -> None:
            while True:
                item = _take(paste_q)
                if item is _END:
                    break
                batch, pred, faced = item
                t = time.perf_counter()
                outs = [img for _, img, _, _ in batch]
                for p, j in zip(pred, faced):
                    outs[j] = paste_mouth(batch[j][1], p, batch[j][2], settings.blend)
                worker.busy += time.perf_counter() - t
                for img in outs:
                    if not self._put_checked(out_q, img, stop, encoder):
                        raise encoder.error or LipSyncError("The encoder stopped.")
            if not stop.is_set():
                self._put_checked(out_q, _END, stop, encoder)

        def encode(worker: _Worker) -> None:
            while True:
                item = _take(out_q)
                if item is _END:
                    return
                t = time.perf_counter()
                writer.write(item)
                worker.busy += time.perf_counter() - t

        decoder = _Worker(decode, "lipsync-decode")
        paster = _Worker(paste, "lipsync-paste")
        encoder = _Worker(encode, "lipsync-encode")
        stage = _Stage("infer", n_out, progress, started)
        faceless = 0
        infer_s = 0.0
        try:
            decoder.start()
            encoder.start()
            paster.start()
            done = False
            while not done:
                batch = []
                while len(batch) < bs:
                    item = self._get(frames_q, decoder)
                    if item is _END:
                        done = True
                        break
                    batch.append(item)
                if not batch:
                    break
                faced = [j for j, b in enumerate(batch) if b[2] is not None]
                pred = None
                if faced:
                    crops = np.stack([batch[j][3] for j in faced])
                    mels = np.stack([feats.mel[:, starts[batch[j][0]] : starts[batch[j][0]] + MEL_STEP] for j in faced])
                    t1 = time.perf_counter()
                    pred = gen(crops, mels)
                    infer_s += time.perf_counter() - t1
                faceless += len(batch) - len(faced)
                if not self._put_checked(paste_q, (batch, pred if pred is not None else [], faced), stop, paster):
                    raise paster.error or encoder.error or LipSyncError("The encoder stopped.")
                stage.advance(len(batch))
            self._put_checked(paste_q, _END, stop, paster)
            paster.join()
            if paster.error:
                raise paster.error
            encoder.join()
            if encoder.error:
                raise encoder.error
            if writer.frames != n_out:
                raise CorruptMedia(
                    f"{source.path.name} could not be decoded to the end ({writer.frames} of {n_out} frames)."
                )
            t = time.perf_counter()
            estage = _Stage("encode", 1, progress, started)
            writer.finish()
            estage.advance(1, force=True)
            timings["finish"] = time.perf_counter() - t
        except BaseException:
            stop.set()
            for th in (decoder, paster, encoder):
                if th.is_alive():
                    th.join(timeout=10)
            writer.abort()
            raise
        timings["infer"] = infer_s
        timings["crop_paste"] = paster.busy  # the crop is in the decode thread's time
        timings["decode"] = decoder.busy
        timings["encode"] = encoder.busy
        return writer.frames, faceless

    @staticmethod
    def _get(q: queue.Queue, producer: _Worker):
        while True:
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                pass
            if producer.error is not None:
                raise producer.error
            if not producer.is_alive() and q.empty():
                return _END

    @staticmethod
    def _put_checked(q: queue.Queue, item, stop: threading.Event, consumer: _Worker) -> bool:
        while True:
            if consumer.error is not None:
                raise consumer.error
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                if not consumer.is_alive():
                    return False
