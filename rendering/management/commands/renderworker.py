"""A long-lived rq worker for HeyGem queues: `gpu` (every member's GPU queue,
served fairly: rendering/queues.py) and `default`.

Redis may go away (restarted, failed over, a network cut) while the worker
runs. rq itself retries only while it waits for a job; an error elsewhere (a
job ending while Redis is down) ends its loop. This command then waits until
Redis answers and starts the loop again in the same process, so the loaded
lip-sync engine stays loaded. The render that was running keeps going (its
database row is the truth) and is saved when it ends.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import socket
import time

import django_rq
import redis
from django.core.management.base import BaseCommand, CommandError
from rq import Worker

from rendering.heartbeat import NameTaken
from rendering.worker import run_worker

log = logging.getLogger(__name__)

#: More loop restarts than this within a minute: something other than Redis is wrong; exit.
MAX_RESTARTS_PER_MINUTE = 5
#: Longest pause between two attempts to reach Redis.
MAX_WAIT_S = 10.0


class Command(BaseCommand):
    help = "Run a HeyGem worker (one per GPU: --device cuda:N, or CUDA_VISIBLE_DEVICES for each)."

    def add_arguments(self, parser):
        parser.add_argument("--queues", nargs="+", default=["gpu", "default"])
        parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
        parser.add_argument("--name", default=None,
                            help="unique among running workers (default: host.device.pid, e.g. gpu2.cuda1.4242); "
                                 "a restart may reuse it: it waits until the earlier run's heartbeat expires")
        parser.add_argument("--device", default=None, type=_device,
                            help="cpu, cuda or cuda:N (default: HEYGEM_DEVICE)")

    def handle(self, *args, queues, burst, name, device=None, **options):
        if device and device.startswith("cuda"):
            check_gpu(device)
        restarts: list[float] = []
        while True:
            try:
                run_worker(queues, burst=burst, name=name, device=device)
            except NameTaken as taken:
                raise CommandError(f"another worker named {taken.name!r} is running (its heartbeat is being "
                                   "refreshed): give this one a different --name") from None
            except (redis.ConnectionError, redis.TimeoutError) as err:
                log.warning("worker lost its Redis connection (%s); starting again once Redis answers", err)
            else:
                if burst or stop_requested():
                    return
                log.warning("worker loop ended without a stop request; starting again once Redis answers")
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < 60] + [now]
            if len(restarts) > MAX_RESTARTS_PER_MINUTE:
                raise CommandError("the worker loop keeps ending; exiting")
            connection = django_rq.get_connection(queues[0])
            wait_for_redis(connection)
            forget_own_workers(connection)


def _device(value: str) -> str:
    if not re.fullmatch(r"cpu|cuda(:\d+)?", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a device: use cpu, cuda or cuda:N (cuda:1 is the second GPU)")
    return value


def check_gpu(device: str) -> None:
    """A clear refusal instead of a CUDA traceback when the GPU is not there."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    if index >= count:
        raise CommandError(f"--device {device}: this machine has {count} usable CUDA device(s)"
                           + (f" (cuda:0 to cuda:{count - 1})" if count else ""))


def stop_requested() -> bool:
    """Whether rq's loop ended because SIGTERM/SIGINT asked it to: rq answers
    the first such signal by arming its cold-shutdown handler (a second
    signal stops at once), and leaves it in place."""
    return getattr(signal.getsignal(signal.SIGTERM), "__name__", "") == "request_force_stop"


def wait_for_redis(connection: redis.Redis) -> None:
    """Block until Redis answers a PING. SIGTERM/SIGINT meanwhile end the
    process at once (there is no job in hand)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_now)
    delay = 0.5
    while True:
        try:
            connection.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError):
            log.info("waiting for Redis")
            time.sleep(delay)
            delay = min(delay * 2, MAX_WAIT_S)


def forget_own_workers(connection: redis.Redis) -> None:
    """Mark this process's earlier rq registration dead: a loop that ended
    while Redis was away could not, and rq refuses to start a worker whose
    name is registered alive."""
    host = socket.gethostname()
    for worker in Worker.all(connection=connection):
        if worker.pid == os.getpid() and worker.hostname == host:
            worker.register_death()


def _exit_now(signum, frame) -> None:
    raise SystemExit(0)
