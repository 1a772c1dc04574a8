"""Worker heartbeats in Redis: which workers are alive, and what they do.

Each worker keeps a hash ``heygem:worker:<name>`` (host, pid, device, whether
the model is loaded, the current job, its incarnation), refreshed every
HEYGEM_WORKER_HEARTBEAT_S seconds and expiring HEYGEM_WORKER_LOST_AFTER_S
seconds after its worker is gone. The worker writes
it (rendering/worker.py); reconciliation, /ops/ and /healthz read it. This
module imports no other module of the app, so readers and the writer do not
import each other.

A name says which worker, not which run of it: an operator may start a
worker again under the same ``--name``. Each worker process therefore has an
incarnation id, written into its heartbeat and onto every render it claims; a
running render whose incarnation is not the one in its worker name's
heartbeat belongs to an earlier, dead run (reconciliation recovers it). A new
run takes a name only once no other run's heartbeat holds it (take_name).
"""

from __future__ import annotations

import logging
import os
import time
import uuid

import django_rq
from django.conf import settings
from redis import Redis

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "heygem:worker:"

#: (process id, incarnation id): a forked child gets an id of its own.
_incarnation: tuple[int, str] | None = None

#: Create the heartbeat under the name with this incarnation (and the TTL of
#: any heartbeat) unless a heartbeat is there; 1 if the name is now this
#: incarnation's (already was, or was free), else 0.
_TAKE = """
local current = redis.call('HGET', KEYS[1], 'incarnation')
if current == ARGV[1] then return 1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'incarnation', ARGV[1], 'heartbeat', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class NameTaken(Exception):
    """Another live worker sends heartbeats under this name."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def every() -> int:
    """Seconds between two heartbeats of a worker."""
    return settings.HEYGEM_WORKER_HEARTBEAT_S


def lost_after() -> int:
    """Seconds of silence after which a worker is gone."""
    return settings.HEYGEM_WORKER_LOST_AFTER_S


def _connection() -> Redis:
    return django_rq.get_connection("gpu")


def incarnation() -> str:
    """This worker process's incarnation id: new for every start, whatever
    its name (the loop that renderworker restarts after losing Redis stays
    the same incarnation: same process, nothing of it was lost)."""
    global _incarnation
    if _incarnation is None or _incarnation[0] != os.getpid():
        _incarnation = (os.getpid(), uuid.uuid4().hex)
    return _incarnation[1]


def take_name(connection: Redis, name: str, poll: float = 0.5) -> None:
    """Make `name` this incarnation's, before the worker's first heartbeat.

    A heartbeat another incarnation left under the name (a worker killed and
    started again under the same --name) is waited out: it expires within
    lost_after() seconds, after which the renders that incarnation claimed
    no longer match the name's heartbeat and reconciliation recovers them.
    If that heartbeat is written again meanwhile, a live worker has the name:
    NameTaken. Only heartbeats decide, so this holds across machines."""
    key = HEARTBEAT_KEY + name
    mine = incarnation()
    take = connection.register_script(_TAKE)
    deadline = time.monotonic() + lost_after() + every() + 1
    first = None
    while not take(keys=[key], args=[mine, lost_after(), f"{time.time():.0f}"]):
        seen = connection.hgetall(key)
        if first is None:
            first = seen
            log.warning("worker name %s: waiting up to %d s for the heartbeat of its earlier run to expire",
                        name, lost_after())
        elif seen and seen != first:
            raise NameTaken(name)
        if time.monotonic() > deadline:  # kept alive some other way: not ours to take
            raise NameTaken(name)
        time.sleep(poll)


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


def live_incarnations(connection: Redis | None = None) -> dict[str, str]:
    """Each live worker's name and incarnation ("" for a heartbeat without
    one: a worker of an earlier version, whose renders recorded none)."""
    connection = connection or _connection()
    keys = list(_scan(connection))
    with connection.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hmget(key, "heartbeat", "incarnation")
        found = pipe.execute()
    return {
        key.decode()[len(HEARTBEAT_KEY):]: (run or b"").decode()
        for key, (beat, run) in zip(keys, found, strict=True)
        if beat is not None  # else expired between the scan and the read
    }


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
