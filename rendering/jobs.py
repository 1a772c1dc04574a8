"""The rq jobs. `render_item` runs on the `gpu` queue, one render per job."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
import traceback
from pathlib import Path

import django_rq
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rq import get_current_job

from ml.audio import AudioFeatures
from ml.errors import LipSyncError, RenderCancelled
from ml.track import TrackCache
from projects.probe import media_limits
from rendering import engine as engines
from rendering.events import publish
from rendering.models import Render, Stage, Status
from rendering.progress import ProgressReporter

log = logging.getLogger(__name__)


class MissingInput(LipSyncError):
    code = "missing_input"
    default_message = "An input file of this render has been deleted."


def enqueue_render(render: Render) -> None:
    """Queue a render; inside a transaction the job is sent on commit."""
    render.job_id = f"render-{render.pk}-{render.attempts + 1}-{int(time.time() * 1000) % 10**9}"
    Render.objects.filter(pk=render.pk).update(job_id=render.job_id)
    django_rq.get_queue("gpu").enqueue(
        render_item, render.pk, job_id=render.job_id, description=f"render {render.pk}",
        result_ttl=3600, failure_ttl=7 * 86400,
    )


def worker_name() -> str:
    job = get_current_job()
    return job.worker_name if job and job.worker_name else f"{socket.gethostname()}.{os.getpid()}"


def render_item(render_id: int) -> None:
    claimed = Render.objects.filter(pk=render_id, status=Status.QUEUED).update(
        status=Status.RUNNING, stage=Stage.AUDIO, started_at=timezone.now(), finished_at=None,
        worker_name=worker_name()[:200], attempts=F("attempts") + 1, progress=0.0,
        frames_done=0, frames_total=0, fps=None, eta_s=None,
    )
    if not claimed:
        log.info("render %s is not queued any more; skipping", render_id, extra={"render_id": render_id})
        return
    render = Render.objects.select_related("batch", "batch__audio", "source", "batch__project").get(pk=render_id)
    log.info("render started", extra={"render_id": render.pk, "batch_id": render.batch_id, "job_id": render.job_id})
    publish(render)
    scratch = Path(tempfile.mkdtemp(prefix=f"render-{render.pk}-", dir=_scratch_root()))
    reporter = ProgressReporter(render)
    try:
        with reporter:
            _run(render, reporter, scratch)
    except RenderCancelled:
        _finish_cancelled(render, reporter)
    except LipSyncError as err:
        _fail(render, reporter, err.code, str(err))
    except Exception:
        reporter.log(traceback.format_exc())
        log.exception("render failed", extra={"render_id": render.pk, "job_id": render.job_id})
        _fail(render, reporter, "internal", "")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(render: Render, reporter: ProgressReporter, scratch: Path) -> None:
    batch = render.batch
    for asset in (batch.audio, render.source):
        if not asset.file or not asset.file.storage.exists(asset.file.name):
            raise MissingInput()
    engine = engines.get_engine()
    reporter.log(f"Worker {render.worker_name} on {engine.device}.")
    audio_path = local_file(batch.audio.file, scratch, "audio" + batch.audio.extension)
    feats = batch_audio_features(batch.audio, audio_path, reporter.log, reporter.cancelled.is_set)
    face_path = local_file(render.source.file, scratch, "face" + render.source.extension)
    outfile = scratch / "output.mp4"
    result = engine.render(
        face_path,
        feats,
        outfile,
        settings=engines.engine_settings(render.settings),
        progress=reporter.on_progress,
        track_cache=TrackCache(engines.cache_dir("tracks")),
        video_sha256=render.source.sha256,
        log=reporter.log,
        audio_source=audio_path,
        limits=media_limits(),
    )
    reporter.set_stage(Stage.STORE)
    started = time.perf_counter()
    with transaction.atomic():
        locked = Render.objects.select_for_update().get(pk=render.pk)
        if locked.status != Status.RUNNING:
            raise RenderCancelled()
        with outfile.open("rb") as fh:
            locked.output.save("output.mp4", File(fh), save=False)
        timings = {k: round(v, 3) for k, v in result.timings.items()}
        timings["store"] = round(time.perf_counter() - started, 3)
        locked.status = Status.SUCCEEDED
        locked.stage = Stage.STORE
        locked.progress = 1.0
        locked.eta_s = 0
        locked.frames_done = locked.frames_total = result.frames
        locked.output_size = locked.output.size
        locked.duration = result.duration
        locked.faceless_frames = result.faceless_frames
        locked.timings = timings
        locked.finished_at = timezone.now()
        locked.message = ""
        locked.error_code = ""
        locked.manifest = manifest(render, result)
        locked.log = joined_log(locked.log, reporter.take_lines())
        locked.save()
    log.info("render succeeded in %.1f s", timings.get("total", 0),
             extra={"render_id": render.pk, "batch_id": render.batch_id, "job_id": render.job_id})
    publish(locked)


def manifest(render: Render, result) -> dict:
    """Everything needed to reproduce this output."""
    batch = render.batch
    return {
        "audio": {"name": batch.audio.original_name, "sha256": batch.audio.sha256},
        "video": {"name": render.source.original_name, "sha256": render.source.sha256},
        "template": render.template.name if render.template_id else None,
        "settings": render.settings,
        "engine_settings": engines.engine_settings(render.settings).to_dict(),
        "model": {"sha256": result.model_sha256, "name": result.model_name},
        "detector": result.detector_used,
        "track_cache_hit": result.track_cache_hit,
        "frames": result.frames,
        "fps": f"{result.fps.numerator}/{result.fps.denominator}",
        "size": [result.width, result.height],
        "faceless_frames": result.faceless_frames,
    }


def batch_audio_features(audio, audio_path: Path, note, should_stop=None) -> AudioFeatures:
    """The batch audio's mel, computed once per audio file (by sha256) and
    reused by every item and every later batch with the same audio. A Redis
    lock keeps two workers from computing it at the same time."""
    cache = engines.cache_dir("mel") / f"{audio.sha256}.npz"
    if cache.exists():
        note("Audio features reused from the cache.")
        return AudioFeatures.load(cache)
    connection = django_rq.get_connection("gpu")
    with connection.lock(f"heygem:lock:mel:{audio.sha256}", timeout=900, blocking_timeout=900):
        if cache.exists():
            note("Audio features reused from the cache.")
            return AudioFeatures.load(cache)
        feats = AudioFeatures.from_file(audio_path, sha256=audio.sha256, should_stop=should_stop, limits=media_limits())
        feats.save(cache)
        note("Audio features computed and cached.")
        return feats


def local_file(field, scratch: Path, name: str) -> Path:
    """A path the engine can open: the file itself on local storage, or a
    copy in the job's scratch directory for remote (S3) storage."""
    try:
        return Path(field.path)
    except NotImplementedError:
        target = scratch / name
        with field.open("rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return target


def _scratch_root() -> Path:
    root = Path(settings.HEYGEM_SCRATCH_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return root


def joined_log(existing: str, lines: list[str]) -> str:
    """The render log with a new, time-stamped block of lines appended."""
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    block = "\n".join(lines)
    return (existing + "\n" if existing else "") + f"--- {stamp}\n{block}"


def _fail(render: Render, reporter: ProgressReporter, code: str, message: str) -> None:
    log.warning("render failed: %s", code, extra={"render_id": render.pk, "batch_id": render.batch_id,
                                                   "job_id": render.job_id})
    lines = reporter.take_lines()
    lines.append(f"Failed: {code}: {message}")
    with transaction.atomic():
        locked = Render.objects.select_for_update().get(pk=render.pk)
        locked.log = joined_log(locked.log, lines)
        if locked.status == Status.RUNNING:
            locked.status = Status.FAILED
            locked.error_code = code
            locked.message = message
            locked.finished_at = timezone.now()
            locked.eta_s = None
        locked.save()
    publish(locked)


def _finish_cancelled(render: Render, reporter: ProgressReporter) -> None:
    lines = reporter.take_lines() + ["Cancelled."]
    with transaction.atomic():
        locked = Render.objects.select_for_update().get(pk=render.pk)
        locked.log = joined_log(locked.log, lines)
        locked.eta_s = None
        locked.fps = None
        if locked.status == Status.RUNNING:
            locked.status = Status.CANCELLED
            locked.finished_at = timezone.now()
        locked.save()
    publish(locked)
