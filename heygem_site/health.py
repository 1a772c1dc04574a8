"""`/healthz` for load balancers, systemd watchdogs and uptime monitors.

Answers `ok` (200) or `down: <checks>` (503). No login: a monitor has no
account. The body names only which check failed, never why (no host names,
versions or exception text); the reason goes to the log. The words are fixed
English, not translated, because machines read them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import django_rq
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from redis import Redis

from rendering.heartbeat import HEARTBEAT_KEY

log = logging.getLogger(__name__)

# Each worker keeps a hash under this pattern, refreshed every few seconds and
# expiring soon after its worker is gone (rendering/heartbeat.py).
WORKER_KEY_PATTERN = HEARTBEAT_KEY + "*"
# A check must not hang the probe: an unreachable Redis host fails in seconds.
REDIS_TIMEOUT_S = 2.0


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def redis_connection() -> Redis:
    conn = django_rq.get_connection("default")
    # The pool creates connections lazily with these kwargs, so this bounds
    # the PING below without rebuilding the client from settings.
    conn.connection_pool.connection_kwargs.update(
        socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
    )
    return conn


def check_storage() -> None:
    name = default_storage.save(f"healthz/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    default_storage.delete(name)


def any_worker_alive(conn: Redis) -> bool:
    return next(iter(conn.scan_iter(match=WORKER_KEY_PATTERN, count=1000)), None) is not None


def _passes(name: str, check: Callable[[], object]) -> bool:
    try:
        return check() is not False
    except Exception:
        log.warning("health check %s failed", name, exc_info=True)
        return False


def failing_checks() -> list[str]:
    down = [
        name for name, check in (("database", check_database), ("storage", check_storage)) if not _passes(name, check)
    ]
    conn = redis_connection()
    try:
        if not _passes("redis", conn.ping):
            # Without Redis no heartbeat can be seen: workers count as down too.
            down += ["redis", "workers"]
        elif not _passes("workers", lambda: any_worker_alive(conn)):
            down.append("workers")
    finally:
        conn.close()
    return down


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    down = failing_checks()
    if down:
        return HttpResponse(f"down: {', '.join(down)}", status=503, content_type="text/plain; charset=utf-8")
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")
