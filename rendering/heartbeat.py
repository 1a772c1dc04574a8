"""Worker heartbeats in Redis: which workers are alive, and what they do.

Each worker keeps a hash ``heygem:worker:<name>`` (host, pid, device, whether
the model is loaded, the current job), refreshed every
HEYGEM_WORKER_HEARTBEAT_S seconds and expiring HEYGEM_WORKER_LOST_AFTER_S
seconds after its worker is gone. The worker writes
it (rendering/worker.py); reconciliation, /ops/ and /healthz read it. This
module imports no other module of the app, so readers and the writer do not
import each other.
"""

from __future__ import annotations

import time

import django_rq
from django.conf import settings
from redis import Redis

HEARTBEAT_KEY = "heygem:worker:"


def every() -> int:
    """Seconds between two heartbeats of a worker."""
    return settings.HEYGEM_WORKER_HEARTBEAT_S


def lost_after() -> int:
    """Seconds of silence after which a worker is gone."""
    return settings.HEYGEM_WORKER_LOST_AFTER_S


def _connection() -> Redis:
    return django_rq.get_connection("gpu")


def beat(connection: Redis, name: str, fields: dict[str, str | int]) -> None:
    """Write (or refresh) one worker's heartbeat."""
    key = HEARTBEAT_KEY + name
    with connection.pipeline() as pipe:
        pipe.hset(key, mapping={**fields, "heartbeat": f"{time.time():.0f}"})
        pipe.expire(key, lost_after())
        pipe.execute()


def stop(connection: Redis, name: str) -> None:
    """A worker that exits cleanly is gone at once, not after the TTL."""
    connection.delete(HEARTBEAT_KEY + name)


def _scan(connection: Redis):
    return connection.scan_iter(match=HEARTBEAT_KEY + "*", count=500)


def alive_workers(connection: Redis | None = None) -> set[str]:
    """Names of the workers whose heartbeat has not expired."""
    connection = connection or _connection()
    return {key.decode()[len(HEARTBEAT_KEY):] for key in _scan(connection)}


def any_alive(connection: Redis) -> bool:
    return next(iter(_scan(connection)), None) is not None


def worker_info(connection: Redis | None = None) -> list[dict]:
    """Every live worker's heartbeat hash (plus its name), sorted by name."""
    connection = connection or _connection()
    infos = []
    for key in _scan(connection):
        data = {k.decode(): v.decode() for k, v in connection.hgetall(key).items()}
        if not data:  # expired between the scan and the read
            continue
        data["name"] = key.decode()[len(HEARTBEAT_KEY):]
        infos.append(data)
    return sorted(infos, key=lambda d: d["name"])
