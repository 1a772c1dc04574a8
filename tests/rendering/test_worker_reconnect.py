"""A worker outlives its Redis: when Redis goes away while a job runs (so rq's
own loop ends), `renderworker` waits for Redis and goes on in the same process,
keeping what it loaded."""

import signal
import subprocess
import time

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from heygem_site import embedded_redis
from heygem_site.embedded_redis import free_port
from tests.processes import ROOT, python, spawn, stop, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def status(job: Job) -> JobStatus | None:
    try:
        return job.get_status(refresh=True)
    except Exception:  # Redis away
        return None


@pytest.fixture
def private_redis(tmp_path):
    """A persistent redis-server of the test's own, which the test kills and starts again."""
    port = free_port()
    data = tmp_path / "redis"
    servers = [embedded_redis.start(port, data)]
    yield port, data, servers
    for server in servers:
        stop(server)


def test_the_worker_survives_redis_going_away_mid_job(private_redis, tmp_path):
    port, data, servers = private_redis
    log = (tmp_path / "worker.log").open("wb")
    worker = spawn(
        [python(), "manage.py", "renderworker", "--queues", "default"],
        cwd=ROOT, env=worker_env(REDIS_URL=f"redis://127.0.0.1:{port}/0"), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        queue = Queue("default", connection=Redis(port=port))
        slow = queue.enqueue("time.sleep", 3)
        wait_for(lambda: status(slow) == JobStatus.STARTED, 60, "the first job started")
        servers[0].kill()
        servers[0].wait()
        time.sleep(4)  # the job ends while Redis is away: rq's loop gives up
        servers.append(embedded_redis.start(port, data))

        follow_up = queue.enqueue("os.getpid")
        wait_for(lambda: status(follow_up) == JobStatus.FINISHED, 60, "the next job ran")
        assert follow_up.return_value() == worker.pid  # the same process, not a new one
        assert worker.poll() is None

        worker.send_signal(signal.SIGTERM)  # and a stop request still stops it
        assert worker.wait(timeout=30) == 0
    finally:
        stop(worker)
