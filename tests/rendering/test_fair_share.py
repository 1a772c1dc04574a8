"""Fair share of the GPU workers between members (rendering/queues.py,
rendering/worker.py): each member has a queue, workers take the next job from
the member served least recently, and a member alone keeps every worker busy."""

import threading
import time

import pytest
from django.utils import timezone

from rendering import queues, services
from rendering.models import Render, Status
from rendering.worker import HeyGemWorker
from tests.processes import start_worker, stop
from tests.rendering.helpers import add_asset, start_batch, wait_until


def new_worker(name):
    # Started before any member queue exists, as a worker that has run for days.
    return HeyGemWorker([queues.gpu_queue(queues.GPU)], connection=queues.connection(), name=name)


def owner_of(result):
    job, _queue = result
    return Render.objects.get(pk=job.args[0]).batch.owner.username


@pytest.fixture
def queue_batch(project, audio, video, django_capture_on_commit_callbacks):
    def queue(user, count):
        with django_capture_on_commit_callbacks(execute=True):
            return start_batch(user, project, audio, [video] * count, name=f"{user.username} x{count}")

    return queue


@pytest.mark.django_db
def test_a_new_members_item_is_next_however_long_the_queue_ahead(alice, bob, queue_batch):
    worker = new_worker("w1")
    queue_batch(alice, 5)
    assert owner_of(worker.dequeue_job_and_maintain_ttl(None)) == "alice"
    queue_batch(bob, 1)  # bob's queue did not exist when the worker started
    assert owner_of(worker.dequeue_job_and_maintain_ttl(None)) == "bob"
    assert [owner_of(worker.dequeue_job_and_maintain_ttl(None)) for _ in range(4)] == ["alice"] * 4
    assert worker.dequeue_job_and_maintain_ttl(None) is None


@pytest.mark.django_db
def test_members_take_turns_across_workers(alice, bob, staff, queue_batch):
    queue_batch(alice, 4)
    queue_batch(bob, 2)
    queue_batch(staff, 1)
    one, two = new_worker("w1"), new_worker("w2")  # what one serves, the other knows (Redis)
    order = [owner_of(worker.dequeue_job_and_maintain_ttl(None)) for worker in (one, two) * 3 + (one,)]
    assert sorted(order[:3]) == ["alice", "bob", "sam"]
    assert sorted(order[3:5]) == ["alice", "bob"]
    assert order[5:] == ["alice", "alice"]


@pytest.mark.django_db
def test_a_member_alone_keeps_every_worker_busy(alice, queue_batch):
    queue_batch(alice, 3)
    workers = [new_worker("w1"), new_worker("w2")]
    assert [owner_of(worker.dequeue_job_and_maintain_ttl(None)) for worker in workers] == ["alice", "alice"]


@pytest.mark.django_db
def test_an_idle_worker_notices_a_new_members_queue_within_seconds(alice, queue_batch):
    worker = new_worker("w1")
    got = []
    waiting = threading.Thread(target=lambda: got.append(worker.dequeue_job_and_maintain_ttl(timeout=30)))
    waiting.start()
    time.sleep(0.5)  # the worker is blocked on the queues it knew: none but the plain `gpu`
    queued_at = time.monotonic()
    queue_batch(alice, 1)
    waiting.join(timeout=15)
    assert got and owner_of(got[0]) == "alice"
    assert time.monotonic() - queued_at < 2 * 2 + 1  # at most about one poll interval (POLL_S)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_bobs_item_starts_right_after_the_one_running_when_he_queued(alice, bob, project, short_speech, face_jpg,
                                                                     model_dir, tmp_path):
    audio = add_asset(project, short_speech)
    image = add_asset(project, face_jpg)
    worker = start_worker(model_dir=model_dir, log_path=tmp_path / "worker.log")
    try:
        alices = start_batch(alice, project, audio, [image] * 6, name="alice's six")
        wait_until(lambda: alices.renders.filter(status=Status.RUNNING).exists(), timeout=90, interval=0.05)
        bobs = start_batch(bob, project, audio, [image], name="bob's one")
        queued_at = timezone.now()
        bobs_item = bobs.renders.get()
        wait_until(lambda: Render.objects.filter(pk=bobs_item.pk, started_at__isnull=False).exists(), timeout=90)
    finally:
        services.cancel_member_work(alice)
        stop(worker)
    started = list(Render.objects.filter(started_at__isnull=False).order_by("started_at"))
    before = [r for r in started if r.started_at < queued_at]
    after = [r for r in started if r.started_at >= queued_at]
    assert before and all(r.batch_id == alices.pk for r in before)
    assert after[0].pk == bobs_item.pk  # not behind alice's other items


@pytest.mark.django_db
def test_a_redis_error_while_listing_queues_keeps_the_last_list(alice, queue_batch, monkeypatch):
    import redis

    worker = new_worker("w1")
    queue_batch(alice, 2)
    assert owner_of(worker.dequeue_job_and_maintain_ttl(None)) == "alice"

    def unreachable(conn=None):
        raise redis.exceptions.ConnectionError("Redis restarting")

    with monkeypatch.context() as patch:
        patch.setattr(queues, "gpu_queue_names", unreachable)
        assert owner_of(worker.dequeue_job_and_maintain_ttl(None)) == "alice"  # no crash: the queues it knew
