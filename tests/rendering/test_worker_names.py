"""A worker started again under the same --name: the render its killed
predecessor left running is recovered, not hidden by the new heartbeats."""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from rendering import heartbeat, queues, services
from rendering.models import Render, Status
from tests import mediafactory
from tests.processes import start_worker, stop
from tests.rendering.helpers import add_asset, start_batch, wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

pytestmark = pytest.mark.django_db(transaction=True)

# A dead worker is found within ~11 s instead of ~50 s (the defaults): same code path, shorter waits.
FAST_DEATH = {"HEYGEM_WORKER_HEARTBEAT_S": "1", "HEYGEM_WORKER_LOST_AFTER_S": "8", "HEYGEM_RECONCILE_EVERY_S": "3"}
NAME = "gpu-box.cuda0"


@pytest.fixture
def fast_death(settings):
    settings.HEYGEM_WORKER_HEARTBEAT_S = 1
    settings.HEYGEM_WORKER_LOST_AFTER_S = 2
    conn = queues.connection()
    yield conn
    conn.delete(*(heartbeat.HEARTBEAT_KEY + name for name in (NAME, "box.old")))


def running(render: Render, name: str, incarnation: str) -> None:
    Render.objects.filter(pk=render.pk).update(status=Status.RUNNING, worker_name=name, worker_incarnation=incarnation,
                                               attempts=1, started_at=timezone.now() - timedelta(minutes=1))


def test_reconcile_recovers_only_renders_of_an_earlier_run_of_a_name(alice, project, audio, video, settings,
                                                                      fast_death):
    batch = start_batch(alice, project, audio, [video, video, video])
    killed, current, old_version = batch.renders.order_by("position")
    running(killed, NAME, "run-before-the-kill")
    running(current, NAME, "run-after-the-restart")
    running(old_version, "box.old", "")  # claimed by a worker that records no incarnation
    heartbeat.beat(fast_death, NAME, {"incarnation": "run-after-the-restart"})
    heartbeat.beat(fast_death, "box.old", {"host": "box"})
    settings.HEYGEM_RENDER_RETRIES = 0

    assert services.reconcile() == {"failed": 1, "requeued": 0}
    assert [r.status for r in batch.renders.order_by("position")] == ["failed", "running", "running"]
    killed.refresh_from_db()
    assert killed.error_code == "worker_lost"


def test_a_new_run_waits_out_the_heartbeat_of_a_dead_run_then_takes_the_name(fast_death):
    heartbeat.beat(fast_death, NAME, {"incarnation": "killed-run"})
    started = time.monotonic()
    heartbeat.take_name(fast_death, NAME, poll=0.1)
    assert time.monotonic() - started > 1  # not before the dead run's heartbeat expired
    assert fast_death.hget(heartbeat.HEARTBEAT_KEY + NAME, "incarnation").decode() == heartbeat.incarnation()
    assert 0 < fast_death.ttl(heartbeat.HEARTBEAT_KEY + NAME) <= 2


def test_a_worker_started_under_a_live_worker_s_name_refuses_to_start(fast_death, monkeypatch):
    monkeypatch.setattr("rendering.worker._device_name", lambda: "cpu")  # no torch import: a faster test
    stop_beating = threading.Event()

    def live_worker():
        while not stop_beating.is_set():
            heartbeat.beat(fast_death, NAME, {"incarnation": "live-run", "pid": 1})
            stop_beating.wait(0.5)

    beating = threading.Thread(target=live_worker)
    beating.start()
    try:
        with pytest.raises(CommandError, match=f"another worker named '{NAME}' is running"):
            call_command("renderworker", "--queues", "default", "--name", NAME)
    finally:
        stop_beating.set()
        beating.join()
    assert fast_death.hget(heartbeat.HEARTBEAT_KEY + NAME, "incarnation") == b"live-run"


@pytest.mark.slow
def test_a_worker_restarted_under_its_name_recovers_the_render_it_was_killed_in(alice, project, model_dir, tmp_path):
    # A clip no other test renders (its face track is not in the shared cache) and 7 s of speech
    # (88 frames at 12 fps): long enough to be caught mid-render, short enough to render again.
    clip = mediafactory.make_face_clip(tmp_path / "long take.mp4", seconds=2.0, fps=12, size=(240, 176))
    speech = add_asset(project, FIXTURES / "speech_en_16k.wav")
    batch = start_batch(alice, project, speech, [add_asset(project, clip)])
    render = batch.renders.get()
    env = {**FAST_DEATH, "HEYGEM_RENDER_RETRIES": "1", "HEYGEM_PROGRESS_INTERVAL_MS": "100"}
    log = tmp_path / "worker.log"
    worker = start_worker(model_dir=model_dir, log_path=log, name=NAME, **env)
    replacement = None
    try:
        try:
            wait_until(lambda: Render.objects.filter(pk=render.pk, status=Status.RUNNING, frames_done__gt=0).exists(),
                       interval=0.1)
        except TimeoutError:
            render.refresh_from_db()
            raise AssertionError(f"not caught mid-render: {render.status}, {render.frames_done} frames\n"
                                 + render.log + log.read_text()[-3000:]) from None
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed = Render.objects.get(pk=render.pk)
        assert killed.status == Status.RUNNING and killed.worker_incarnation
        # As systemd (Restart=always) would: the same unit, the same --name, at once.
        replacement = start_worker(model_dir=model_dir, log_path=log, name=NAME, **env)
        beats = queues.connection()
        wait_until(lambda: beats.hget(heartbeat.HEARTBEAT_KEY + NAME, "incarnation") not in
                   (None, killed.worker_incarnation.encode()), timeout=120, interval=0.1)
        taken_at = time.time()
        wait_until(lambda: "Worker lost" in Render.objects.get(pk=render.pk).log, timeout=90, interval=0.1)
        requeued_at = time.time()
        wait_until(lambda: Render.objects.get(pk=render.pk).status in (Status.SUCCEEDED, Status.FAILED), timeout=120)
    finally:
        stop(worker)
        if replacement:
            stop(replacement)
    render.refresh_from_db()
    # The replacement reconciles at once, then every 3 s; a render younger
    # than the grace period waits for it, and a reconcile lock the killed
    # worker held lapses with its heartbeat (8 s).
    due = max(taken_at, killed.started_at.timestamp() + services.GRACE.total_seconds())
    print(f"requeued {requeued_at - taken_at:.1f} s after the replacement took the name")
    assert requeued_at - due < 8 + 3 + 9, log.read_text()[-3000:]
    assert render.status == Status.SUCCEEDED, render.log + log.read_text()[-3000:]
    assert render.attempts == 2 and render.log.count("Worker lost; queued again.") == 1
    assert render.worker_name == NAME
    outputs = render.output.storage.listdir(render.output.name.rsplit("/", 1)[0])[1]
    assert outputs == [render.output.name.rsplit("/", 1)[1]]  # one output, none from the killed attempt
