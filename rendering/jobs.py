"""The rq jobs. `render_item` runs on a member's GPU queue (rendering/queues.py), one render per job."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
import time
import traceback
from pathlib import Path

import django_rq
from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError as BucketError
from django.conf import settings
from django.core.files import File
from django.utils.translation import gettext_noop
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import get_current_job

from heygem_site.files import download_to
from ml.audio import AudioFeatures
from ml.errors import LipSyncError, RenderCancelled
from projects.probe import media_limits
from rendering import engine as engines
from rendering import heartbeat, shared_cache
from rendering.events import publish
from rendering.models import Render, Stage
from rendering.progress import ProgressReporter

log = logging.getLogger(__name__)


class MissingInput(LipSyncError):
    code = "missing_input"
    default_message = "An input file of this render has been deleted."


def worker_name() -> str:
    job = get_current_job()
    return job.worker_name if job and job.worker_name else f"{socket.gethostname()}.{os.getpid()}"


def render_item(render_id: int) -> None:
    if not Render.objects.claim(render_id, worker_name(), heartbeat.incarnation()):
        log.info("render %s is not queued any more; skipping", render_id, extra={"render_id": render_id})
        return
    render = Render.objects.select_related("batch", "batch__audio", "audio", "source", "batch__project").get(pk=render_id)
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
    except (RedisConnectionError, RedisTimeoutError):
        # Redis restarted or was unreachable at a step that needs it (the
        # shared mel lock, say): nothing is lost, the member can retry.
        log.warning("render stopped: Redis unreachable", extra={"render_id": render.pk, "job_id": render.job_id})
        _fail(render, reporter, "queue_unavailable", "The queue server (Redis) was unreachable.",
              internal=[traceback.format_exc()])
    except (BotoCoreError, BucketError):
        # The bucket was unreachable (or refused) while fetching an input or
        # storing the output: the inputs are still there, the member can retry.
        log.warning("render stopped: bucket unreachable", extra={"render_id": render.pk, "job_id": render.job_id})
        _fail(render, reporter, "storage_unavailable", "The file storage (bucket) was unreachable.",
              internal=[traceback.format_exc()])
    except Exception:
        # The traceback (paths, host names) is for staff: the server log and
        # the staff-only internal log. The member sees a plain sentence.
        log.exception("render failed", extra={"render_id": render.pk, "job_id": render.job_id})
        _fail(render, reporter, "internal", "", internal=[traceback.format_exc()])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(render: Render, reporter: ProgressReporter, scratch: Path) -> None:
    for asset in (render.speech, render.source):
        if not asset.file or not asset.file.storage.exists(asset.file.name):
            raise MissingInput()
    loading = engines.loaded_engine() is None
    if loading:
        # The first render after a (re)start waits for the model (half a minute
        # on some GPUs): the page says so instead of "Reading the audio".
        reporter.set_stage(Stage.LOAD)
    engine = engines.get_engine()
    if loading:
        reporter.set_stage(Stage.AUDIO)
    # Fixed sentences, marked for translation: the render page shows them in the reader's language.
    reporter.log(gettext_noop("Rendering on the GPU.") if engine.device.type == "cuda" else gettext_noop("Rendering on the CPU."))
    if engines.uses_test_model(engine):
        reporter.log(gettext_noop("Test model: the mouth is noise, not lip-sync. Install the Wav2Lip weights for real output."))
    audio_path = local_file(render.speech.file, scratch, "audio" + render.speech.extension)
    feats = batch_audio_features(render.speech, audio_path, reporter.log, reporter.cancelled.is_set)
    face_path = local_file(render.source.file, scratch, "face" + render.source.extension)
    outfile = scratch / "output.mp4"
    result = engine.render(
        face_path,
        feats,
        outfile,
        settings=engines.engine_settings(render.settings),
        progress=reporter.on_progress,
        track_cache=shared_cache.SharedTrackCache(engines.cache_dir("tracks")),
        video_sha256=render.source.sha256,
        log=reporter.log,
        audio_source=audio_path,
        limits=media_limits(),
    )
    reporter.set_stage(Stage.STORE)
    started = time.perf_counter()
    timings = {k: round(v, 3) for k, v in result.timings.items()}

    def store(locked: Render) -> None:
        with outfile.open("rb") as fh:
            locked.output.save("output.mp4", File(fh), save=False)
        timings["store"] = round(time.perf_counter() - started, 3)

    reporter.stop()  # the store stage is the last progress event; "succeeded" comes after it
    succeeded = render.succeed(
        store,
        lines=reporter.take_lines(),
        stage=Stage.STORE,
        frames_done=result.frames,
        frames_total=result.frames,
        duration=result.duration,
        faceless_frames=result.faceless_frames,
        timings=timings,
        manifest=manifest(render, result),
    )
    if not succeeded:
        raise RenderCancelled()
    log.info("render succeeded in %.1f s", timings.get("total", 0),
             extra={"render_id": render.pk, "batch_id": render.batch_id, "job_id": render.job_id})
    publish(render)


def manifest(render: Render, result) -> dict:
    """Everything needed to reproduce this output."""
    return {
        "audio": {"name": render.speech.original_name, "sha256": render.speech.sha256},
        "video": {"name": render.source.original_name, "sha256": render.source.sha256},
        "template": render.template.name if render.template_id else None,
        # Which template, from which project (a team library's, maybe): its
        # settings and presenter as they were are "settings" and "video" here,
        # so a later edit of the template changes nothing in this manifest.
        "template_source": {"id": render.template_id, "project": render.template.project_id,
                            "library": render.template.project.is_library} if render.template_id else None,
        "settings": render.settings,
        "engine_settings": engines.engine_settings(render.settings).to_dict(),
        "model": engines.model_facts(result),
        "runtime": result.runtime,  # which backend ran the network, on which device, at which precision
        "detector": result.detector_used,
        "track_cache_hit": result.track_cache_hit,
        "frames": result.frames,
        "fps": f"{result.fps.numerator}/{result.fps.denominator}",
        "size": [result.width, result.height],
        "faceless_frames": result.faceless_frames,
    }


def batch_audio_features(audio, audio_path: Path, note, should_stop=None) -> AudioFeatures:
    """The batch audio's mel, computed once per audio file (by sha256) and
    reused by every item and every later batch with the same audio, on any
    machine: each worker keeps it in its own cache directory and, with a
    bucket, shares it there (rendering/shared_cache.py). A Redis lock keeps
    two workers (on any machines) from computing it at the same time."""
    cache = engines.cache_dir("mel") / f"{audio.sha256}.npz"
    if cache.exists():
        note(gettext_noop("Audio features reused from the cache."))
        return AudioFeatures.load(cache)
    if shared_cache.fetch("mel", cache):
        note(gettext_noop("Audio features reused from the shared cache (computed by another worker)."))
        return AudioFeatures.load(cache)
    connection = django_rq.get_connection("gpu")
    with connection.lock(f"heygem:lock:mel:{audio.sha256}", timeout=900, blocking_timeout=900):
        if cache.exists():
            note(gettext_noop("Audio features reused from the cache."))
            return AudioFeatures.load(cache)
        if shared_cache.fetch("mel", cache):
            note(gettext_noop("Audio features reused from the shared cache (computed by another worker)."))
            return AudioFeatures.load(cache)
        feats = AudioFeatures.from_file(audio_path, sha256=audio.sha256, should_stop=should_stop, limits=media_limits())
        feats.save(cache)
        shared_cache.publish("mel", cache)
        note(gettext_noop("Audio features computed and cached."))
        return feats


def local_file(field, scratch: Path, name: str) -> Path:
    """A path the engine can open: the file itself on local storage, or a
    copy in the job's private scratch directory when the file is in a bucket
    (downloaded in parts, straight to disk)."""
    try:
        return Path(field.path)
    except NotImplementedError:
        target = scratch / name
        download_to(field, target)
        return target


def _scratch_root() -> Path:
    root = Path(settings.HEYGEM_SCRATCH_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _fail(render: Render, reporter: ProgressReporter, code: str, message: str, *,
          internal: list[str] | None = None) -> None:
    log.warning("render failed: %s", code, extra={"render_id": render.pk, "batch_id": render.batch_id,
                                                   "job_id": render.job_id})
    message = member_names(render, message)
    lines = [member_names(render, line) for line in reporter.take_lines()]
    lines.append(f"Failed: {code}: {message}" if message else f"Failed: {code}.")
    render.fail(code, message, lines=lines, internal=internal or [])
    publish(render)


def member_names(render: Render, text: str) -> str:
    """The engine names the files it opened: the storage key (uploads/…/3f9a….mp4)
    or the scratch copy (face.mp4). The member knows them by the names they uploaded."""
    names = {}
    for asset, scratch_stem in ((render.source, "face"), (render.speech, "audio")):
        names[Path(asset.file.name).name] = asset.original_name
        names[scratch_stem + asset.extension] = asset.original_name
    # One pass, whole names only: "face.mp4" inside "myface.mp4" is left alone.
    pattern = "|".join(rf"(?<![\w.-]){re.escape(name)}(?![\w-])" for name in names if name)
    return re.sub(pattern, lambda found: names[found.group(0)], text) if pattern else text


def _finish_cancelled(render: Render, reporter: ProgressReporter) -> None:
    render.cancel(lines=[*reporter.take_lines(), gettext_noop("Cancelled.")])
    publish(render)
