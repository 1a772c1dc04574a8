"""The GPU work queues: one rq queue per member, served least recently served first.

A render's job goes to the queue of the member who started its batch
(``gpu.u<owner id>``). The queue's name is added to a Redis set when it is
first used, so workers on every machine find new members' queues without a
restart. Before each dequeue a worker started with ``--queues gpu`` reads that
set and orders the queues by when each was last served (a Redis counter, so
clocks of different machines do not matter): a member whose queue has waited
longest comes first, and a member alone keeps every idle worker busy.
See docs/rendering.md ("Fair share").
"""

from __future__ import annotations

import time

import django_rq
from django.conf import settings
from django.db import transaction
from redis import Redis
from rq import Queue

from rendering.models import Render

#: What workers are started with (`--queues gpu default`): every member's GPU queue.
GPU = "gpu"
MEMBER_PREFIX = "gpu.u"
#: The names of every member queue ever used.
REGISTRY_KEY = "heygem:gpu:queues"
#: Member queue name -> serial number of its last dequeue (higher: served more recently).
SERVED_KEY = "heygem:gpu:served"
SERIAL_KEY = "heygem:gpu:serial"


def connection() -> Redis:
    return django_rq.get_connection(GPU)


def member_queue_name(user_id: int) -> str:
    return f"{MEMBER_PREFIX}{user_id}"


def gpu_queue(name: str, conn: Redis | None = None) -> Queue:
    """An rq queue for GPU work (a member's, or the plain `gpu` queue that
    holds jobs queued before per-member queues existed)."""
    return Queue(name, connection=conn or connection(), default_timeout=settings.RQ_QUEUES[GPU]["DEFAULT_TIMEOUT"])


def gpu_queue_names(conn: Redis | None = None) -> list[str]:
    """Every GPU queue, least recently served first (never served: first of all)."""
    conn = conn or connection()
    names = {name.decode() for name in conn.smembers(REGISTRY_KEY)} | {GPU}
    served = {name.decode(): score for name, score in conn.zrange(SERVED_KEY, 0, -1, withscores=True)}
    return sorted(names, key=lambda name: (served.get(name, 0.0), name))


def mark_served(conn: Redis, queue_name: str) -> None:
    """Record that a worker just took a job from this queue."""
    conn.zadd(SERVED_KEY, {queue_name: conn.incr(SERIAL_KEY)})


def job_id_for(render: Render) -> str:
    return f"render-{render.pk}-{render.attempts + 1}-{int(time.time() * 1000) % 10**9}"


def enqueue_render(render: Render) -> None:
    """Queue a render on the queue of the member who started its batch. Inside
    a transaction the job is sent when it commits, so a worker never sees a
    missing row (and a rolled-back batch queues nothing)."""
    render.job_id = job_id_for(render)
    Render.objects.filter(pk=render.pk).update(job_id=render.job_id)
    render_id, job_id, owner_id = render.pk, render.job_id, render.batch.owner_id

    def send() -> None:
        conn = connection()
        queue = gpu_queue(member_queue_name(owner_id), conn)
        # Registered before the job is pushed: a worker that sees the job can find its queue.
        conn.sadd(REGISTRY_KEY, queue.name)
        queue.enqueue(
            "rendering.jobs.render_item", render_id, job_id=job_id, description=f"render {render_id}",
            result_ttl=3600, failure_ttl=7 * 86400,
        )

    transaction.on_commit(send)
