"""Each state change of a render is one Render method that acts only from
its allowed states (rendering/models.py)."""

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from rendering.models import RESET_PROGRESS, Render, Stage, Status
from tests.rendering.helpers import start_batch

pytestmark = pytest.mark.django_db

ALL = list(Status.values)


@pytest.fixture
def render(alice, project, audio, video):
    return start_batch(alice, project, audio, [video]).renders.get()


def put(render, status, **fields):
    """The row in `status`, mid-render, with progress that a reset must clear."""
    Render.objects.filter(pk=render.pk).update(
        status=status, stage=Stage.INFER, progress=0.5, frames_done=10, frames_total=20, fps=12.0, eta_s=3.0,
        job_id="job-1", **fields,
    )
    render.refresh_from_db()
    return render


def assert_reset(render):
    assert {name: getattr(render, name) for name in RESET_PROGRESS} == dict(RESET_PROGRESS)


@pytest.mark.parametrize("status", ALL)
def test_claim_only_from_queued(render, status):
    put(render, status)
    claimed = Render.objects.claim(render.pk, "box.1")
    render.refresh_from_db()
    assert claimed == (status == Status.QUEUED)
    if claimed:
        assert (render.status, render.stage, render.worker_name, render.attempts) == ("running", "audio", "box.1", 1)
        assert render.started_at and render.frames_done == 0 and render.fps is None
    else:
        assert render.status == status and render.attempts == 0


@pytest.mark.parametrize("status", ALL)
def test_succeed_only_from_running(render, status):
    put(render, status)
    stored = []

    def store(locked):
        stored.append(locked.pk)
        locked.output.save("output.mp4", ContentFile(b"v" * 100), save=False)

    ok = render.succeed(store, lines=["done"], frames_done=30, frames_total=30, duration=1.2, timings={"infer": 1})
    assert ok == (status == Status.RUNNING)
    render.refresh_from_db()
    if ok:
        assert render.status == "succeeded" and render.has_output and render.output_size == 100
        assert render.progress == 1.0 and render.duration == 1.2 and render.finished_at
    else:
        assert render.status == status and not stored and not render.output  # a cancelled render stores nothing
    assert "done" in render.log


@pytest.mark.parametrize("status", ALL)
def test_fail_only_from_running(render, status):
    put(render, status)
    ok = render.fail("no_face_found", "No face.", lines=["Failed."], internal=["Traceback: x"])
    render.refresh_from_db()
    assert ok == (status == Status.RUNNING)
    assert (render.status == "failed" and render.error_code == "no_face_found") == ok
    if not ok:
        assert render.status == status
    assert "Failed." in render.log and "Traceback" not in render.log and "Traceback: x" in render.internal_log


@pytest.mark.parametrize("status", ALL)
def test_cancel_only_while_active(render, status):
    put(render, status)
    ok = render.cancel(lines=["Cancelled."])
    render.refresh_from_db()
    assert ok == (status in ("queued", "running"))
    assert render.status == ("cancelled" if ok else status)
    if ok:
        assert render.finished_at and render.fps is None and render.eta_s is None


@pytest.mark.parametrize("status", ALL)
def test_retry_only_after_failure_or_cancel(render, status):
    put(render, status, error_code="no_face_found", message="x", finished_at=timezone.now(), started_at=timezone.now())
    ok = render.retry()
    render.refresh_from_db()
    assert ok == (status in ("failed", "cancelled"))
    if ok:
        assert render.status == "queued" and render.error_code == "" and not render.finished_at
        assert not render.started_at
        assert_reset(render)
    else:
        assert render.status == status


@pytest.mark.parametrize("status", ALL)
def test_requeue_only_while_active_and_unchanged(render, status):
    put(render, status)
    ok = render.requeue("Worker lost; queued again.")
    render.refresh_from_db()
    assert ok == (status in ("queued", "running"))
    if ok:
        assert render.status == "queued" and "Worker lost" in render.log
        assert_reset(render)


def test_requeue_does_nothing_when_the_row_moved_on(render):
    snapshot = put(render, Status.QUEUED)
    Render.objects.claim(render.pk, "box.1")  # a worker claimed it after reconcile read it
    assert not snapshot.requeue("The queued job was lost; queued again.")
    assert Render.objects.get(pk=render.pk).status == "running"


@pytest.mark.parametrize("status", ALL)
def test_mark_lost_only_while_running_the_same_job(render, status):
    snapshot = put(render, status)
    ok = snapshot.mark_lost("worker_lost", "The worker stopped while rendering.")
    render.refresh_from_db()
    assert ok == (status == Status.RUNNING)
    assert render.status == ("failed" if ok else status)
    if ok:
        assert render.error_code == "worker_lost" and render.finished_at


def test_mark_lost_leaves_a_newer_attempt_alone(render):
    snapshot = put(render, Status.RUNNING)
    Render.objects.filter(pk=render.pk).update(job_id="job-2")
    assert not snapshot.mark_lost("worker_lost", "gone")
    assert Render.objects.get(pk=render.pk).status == "running"
