"""Render jobs run by a real rq worker (in this process, burst mode) against
real Redis, with a random-weight checkpoint and tiny clips."""

from fractions import Fraction

import av
import pytest

from ml.audio import AudioFeatures
from rendering import services
from rendering.models import Render, Status
from rendering.worker import run_worker
from tests import mediafactory
from tests.rendering.helpers import add_asset, start_batch, statuses

pytestmark = pytest.mark.django_db(transaction=True)


def work():
    run_worker(["gpu"], burst=True)


def probe(path):
    with av.open(str(path)) as container:
        video_stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video_stream))
        return frames, Fraction(video_stream.average_rate), len(container.streams.audio)


def test_batch_renders_each_item_and_computes_the_mel_once(alice, project, audio, video, face_jpg, tmp_path,
                                                            model_dir, monkeypatch):
    second = add_asset(project, mediafactory.make_face_clip(tmp_path / "other.mp4", seconds=0.8, fps=25))
    image = add_asset(project, face_jpg)
    computed = []
    original = AudioFeatures.from_file.__func__

    def counting(cls, *args, **kwargs):
        computed.append(args[0])
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(AudioFeatures, "from_file", classmethod(counting))
    batch = start_batch(alice, project, audio, [video, second, image])
    work()

    assert statuses(batch) == ["succeeded"] * 3
    assert len(computed) == 1
    for render in batch.renders.all():
        assert render.output_size and render.output.storage.exists(render.output.name)
        frames, fps, audio_streams = probe(render.output.path)
        assert fps == 25 and audio_streams == 1
        assert frames == 30  # 1.2 s of audio at 25 fps, whatever the video's length
        assert render.manifest["model"]["sha256"] == mediafactory_sha(model_dir)
        assert render.manifest["audio"]["sha256"] == audio.sha256
        assert render.timings["infer"] > 0 and "store" in render.timings
        assert render.worker_name
        assert "custom checkpoint" in render.log  # random weights are never passed off as the model
    logs = [r.log for r in batch.renders.order_by("position")]
    assert "Audio features computed" in logs[0]
    assert all("reused from the cache" in log for log in logs[1:])


def mediafactory_sha(model_dir):
    from ml.hashing import file_sha256

    return file_sha256(next(model_dir.glob("*.pth")))


def test_bad_items_fail_alone(alice, project, audio, video, faceless_clip, tmp_path, model_dir):
    faceless = add_asset(project, faceless_clip)
    broken = add_asset(project, mediafactory.make_face_clip(tmp_path / "broken.mp4", seconds=0.6, fps=25))
    with open(broken.file.path, "r+b") as fh:  # damaged on disk after upload
        fh.seek(64)
        fh.write(b"\0" * 4096)
        fh.truncate(6000)
    batch = start_batch(alice, project, audio, [faceless, video, broken])
    work()
    renders = list(batch.renders.order_by("position"))
    assert [r.status for r in renders] == ["failed", "succeeded", "failed"]
    assert renders[0].error_code == "no_face_found"
    assert renders[2].error_code == "corrupt_media"
    for failed in (renders[0], renders[2]):
        assert not failed.output and failed.finished_at and "Traceback" not in failed.message
    assert renders[1].output
    # The log names the member's file, not its storage key.
    assert "No face was found in landscape.mp4." in renders[0].log
    assert faceless.file.name.rsplit("/", 1)[1] not in renders[0].log + renders[0].message


def test_second_render_of_a_video_reuses_its_face_track(alice, project, audio, video, model_dir):
    first = start_batch(alice, project, audio, [video], name="first")
    work()
    second = start_batch(alice, project, audio, [video], name="second")
    work()
    assert first.renders.get().manifest["track_cache_hit"] is False
    assert second.renders.get().manifest["track_cache_hit"] is True


def test_missing_model_fails_clearly_then_retry_works(alice, project, audio, video, settings, tmp_path, random_checkpoint):
    settings.HEYGEM_MODEL_DIR = tmp_path / "empty-models"
    batch = start_batch(alice, project, audio, [video])
    work()
    render = batch.renders.get()
    assert (render.status, render.error_code) == ("failed", "model_not_installed")

    settings.HEYGEM_MODEL_DIR.mkdir()
    (settings.HEYGEM_MODEL_DIR / "custom.pth").write_bytes(random_checkpoint.read_bytes())
    assert services.retry_render(render)
    render.refresh_from_db()
    assert render.status == Status.QUEUED and render.error_code == ""
    work()
    render.refresh_from_db()
    assert render.status == Status.SUCCEEDED and render.attempts == 2


def test_cancelled_item_is_skipped(alice, project, audio, video, face_jpg, model_dir):
    image = add_asset(project, face_jpg)
    batch = start_batch(alice, project, audio, [video, image])
    first = batch.renders.get(position=0)
    assert services.cancel_render(first)
    work()
    assert statuses(batch) == ["cancelled", "succeeded"]
    first.refresh_from_db()
    assert not first.output and first.attempts == 0


def test_deleted_input_fails_with_a_message(alice, project, audio, video, model_dir):
    batch = start_batch(alice, project, audio, [video])
    video.file.storage.delete(video.file.name)
    work()
    render = batch.renders.get()
    assert (render.status, render.error_code) == ("failed", "missing_input")


def test_reconcile_fails_renders_of_dead_workers(alice, project, audio, video, settings):
    from datetime import timedelta

    from django.utils import timezone

    batch = start_batch(alice, project, audio, [video])
    render = batch.renders.get()
    Render.objects.filter(pk=render.pk).update(
        status=Status.RUNNING, worker_name="gone.123", attempts=1, started_at=timezone.now() - timedelta(minutes=1)
    )
    settings.HEYGEM_RENDER_RETRIES = 0
    assert services.reconcile() == {"failed": 1, "requeued": 0}
    render.refresh_from_db()
    assert (render.status, render.error_code) == ("failed", "worker_lost")


def test_reconcile_requeues_once_when_configured(alice, project, audio, video, settings, model_dir):
    from datetime import timedelta

    from django.utils import timezone

    batch = start_batch(alice, project, audio, [video])
    render = batch.renders.get()
    old_job = render.job_id
    Render.objects.filter(pk=render.pk).update(
        status=Status.RUNNING, worker_name="gone.123", attempts=1, started_at=timezone.now() - timedelta(minutes=1)
    )
    settings.HEYGEM_RENDER_RETRIES = 1
    assert services.reconcile() == {"failed": 0, "requeued": 1}
    render.refresh_from_db()
    assert render.status == Status.QUEUED and render.job_id != old_job
    work()
    render.refresh_from_db()
    assert render.status == Status.SUCCEEDED and render.attempts == 2
    outputs = list(render.output.storage.listdir(render.output.name.rsplit("/", 1)[0])[1])
    assert len(outputs) == 1  # the retry left one output, not two


def test_reconcile_requeues_lost_jobs(alice, project, audio, video, model_dir):
    from datetime import timedelta

    from django.utils import timezone

    from tests.queues import clear_queues

    batch = start_batch(alice, project, audio, [video])
    render = batch.renders.get()
    clear_queues()  # e.g. Redis was flushed
    Render.objects.filter(pk=render.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert services.reconcile()["requeued"] == 1
    work()
    render.refresh_from_db()
    assert render.status == Status.SUCCEEDED


def test_the_worker_keeps_the_engine_loaded_between_jobs(alice, project, audio, video, face_jpg, model_dir,
                                                          monkeypatch):
    from ml import pipeline
    from rendering import engine as engines

    loads = []
    real = pipeline.LipSyncEngine

    def counting(*args, **kwargs):
        loads.append(args[0])
        return real(*args, **kwargs)

    # rendering.engine imports the pipeline when it loads the engine (web processes never do).
    monkeypatch.setattr(pipeline, "LipSyncEngine", counting)
    monkeypatch.setattr(engines, "_engine", None)
    image = add_asset(project, face_jpg)
    start_batch(alice, project, audio, [video, image])
    start_batch(alice, project, audio, [image], name="later")
    work()
    assert Render.objects.filter(status=Status.SUCCEEDED).count() == 3
    assert len(loads) == 1


def test_an_unexpected_error_shows_members_a_plain_message_and_staff_the_traceback(
        alice, project, audio, video, monkeypatch, alice_client, staff_client, caplog):
    import socket

    from rendering import jobs

    host = socket.gethostname()

    def broken(render, reporter, scratch):
        reporter.log("Reading the audio.")
        raise RuntimeError(f"cannot reach {host}:/var/heygem/cache")

    monkeypatch.setattr(jobs, "_run", broken)
    render = start_batch(alice, project, audio, [video]).renders.get()
    work()
    render.refresh_from_db()
    assert (render.status, render.error_code) == ("failed", "internal")
    assert "Reading the audio." in render.log
    leak = f"cannot reach {host}"  # the exception text, which names the host
    assert "Traceback" not in render.log and leak not in render.log and leak not in render.message
    assert "Traceback" in render.internal_log and "RuntimeError" in render.internal_log
    assert any(r.exc_info and getattr(r, "render_id", None) == render.pk for r in caplog.records)  # the server log

    members_page = alice_client.get(render.get_absolute_url()).content.decode()
    assert "Something went wrong inside the renderer" in members_page
    # (Not the bare host name: a short one such as "vm" can turn up inside the page's random CSRF token.)
    assert "Traceback" not in members_page and leak not in members_page and render.worker_name not in members_page
    staff_page = staff_client.get(render.get_absolute_url()).content.decode()
    assert "Traceback" in staff_page and render.worker_name in staff_page


def test_redis_lost_during_a_render_says_so_and_the_item_can_be_retried(
        alice, project, audio, video, monkeypatch, alice_client):
    import redis

    from rendering import jobs

    def lost(render, reporter, scratch):
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(jobs, "_run", lost)
    render = start_batch(alice, project, audio, [video]).renders.get()
    work()
    render.refresh_from_db()
    assert (render.status, render.error_code) == ("failed", "queue_unavailable")
    page = alice_client.get(render.get_absolute_url()).content.decode()
    assert "queue server was briefly unreachable" in page and "Traceback" not in page
    assert services.retry_render(render)
    render.refresh_from_db()
    assert render.status == Status.QUEUED
