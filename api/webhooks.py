"""Signed webhook deliveries: `render.succeeded`, `render.failed`, `batch.finished`.

A render's state change sends `rendering.models.render_finished` after its
commit; `on_render_finished` records one delivery per interested endpoint and
queues `deliver` on the `default` queue: nothing here runs on a render's
time beyond a few rows and a Redis push, and a failure here never fails a render.

Each delivery is a JSON body signed with HMAC-SHA256 over "<timestamp>.<body>":

    HeyGem-Signature: t=1767225600,v1=<hex digest>

A receiver checks the digest with its endpoint's secret and refuses old
timestamps (api/webhook_verify.py, docs/api.md). A failed delivery (no answer
within HEYGEM_WEBHOOK_TIMEOUT_S, or not 2xx) is retried after each delay of
HEYGEM_WEBHOOK_RETRY_SCHEDULE (about a day in all), then marked failed; the
workers' heartbeat loop queues the due retries (`queue_due`)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
import time
from datetime import timedelta
from urllib.parse import urlsplit

import django_rq
from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from api.models import WebhookDelivery, WebhookEndpoint
from api.ssrf import UnsafeURL, check_url
from rendering.models import ACTIVE, Render, RenderBatch, Status, render_finished

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "HeyGem-Signature"
USER_AGENT = "HeyGem-Webhooks/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# --- events -> deliveries -------------------------------------------------------------


@receiver(render_finished)
def on_render_finished(sender, render_id: int, status: str, **kwargs) -> None:
    try:
        _record_events(render_id, status)
    except Exception:  # never fail (or slow down) a render over a webhook
        log.warning("webhook events not recorded", extra={"render_id": render_id}, exc_info=True)


def _record_events(render_id: int, status: str) -> None:
    render = Render.objects.select_related("batch").filter(pk=render_id).first()
    if render is None:
        return
    batch = render.batch
    endpoints = _endpoints_for(batch)
    if not endpoints:
        return
    from api.serializers import BatchDetailSerializer, RenderSerializer

    if status in (Status.SUCCEEDED, Status.FAILED):
        _record(endpoints, f"render.{status}", {"render": RenderSerializer(render).data})
    if not batch.renders.filter(status__in=ACTIVE).exists() and _first_to_see_finished(batch):
        batch = RenderBatch.objects.with_counts().get(pk=batch.pk)
        _record(endpoints, "batch.finished", {"batch": BatchDetailSerializer(batch).data})


def _endpoints_for(batch: RenderBatch) -> list[WebhookEndpoint]:
    """Who hears of a batch (docs/api.md, "Who is notified"):

    - the endpoints given in this batch's request;
    - the general endpoints of the member who started it (whoever owns the project);
    - the general endpoints of the project's owner, also for batches their
      editors start (the payload's `started_by` says who), once each;

    and of those, only the endpoints whose member may still see the batch
    (rendering/access.py): a member removed from the project hears nothing more."""
    from django.db.models import Q

    from rendering.access import batches_for

    owner_id = RenderBatch.objects.filter(pk=batch.pk).values_list("project__owner_id", flat=True).first()
    endpoints = list(
        WebhookEndpoint.objects.filter(
            Q(batch=batch) | Q(user_id__in={batch.owner_id, owner_id}, batch__isnull=True), active=True
        ).select_related("user").order_by("pk")
    )
    allowed: dict[int, bool] = {}
    for endpoint in endpoints:
        if endpoint.user_id not in allowed:
            user = endpoint.user
            allowed[user.pk] = user.is_active and batches_for(user).filter(pk=batch.pk).exists()
    return [endpoint for endpoint in endpoints if allowed[endpoint.user_id]]


def _first_to_see_finished(batch: RenderBatch) -> bool:
    """Two items finishing at once may both find the batch finished: one
    `batch.finished` per finish (a retried batch that finishes again sends another).
    The key names the batch by id and creation time, so a database that starts
    its ids again (restored, or a test database) never meets an old key."""
    last = batch.renders.order_by("-finished_at").values_list("finished_at", flat=True).first()
    key = (f"heygem:webhooks:batch-finished:{batch.pk}:{batch.created_at.timestamp():.6f}:"
           f"{last.timestamp() if last else 0}")
    return bool(django_rq.get_connection("default").set(key, 1, nx=True, ex=2 * 86400))


def _record(endpoints: list[WebhookEndpoint], event: str, data: dict) -> None:
    payload = {"type": event, "created_at": timezone.now().isoformat(), "data": data}
    for endpoint in endpoints:
        if event not in endpoint.events:
            continue
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event=event, payload=json.dumps({**payload, "endpoint": endpoint.pk}, default=str)
        )
        enqueue(delivery)


def enqueue(delivery: WebhookDelivery) -> None:
    delivery_id = delivery.pk
    transaction.on_commit(lambda: django_rq.get_queue("default").enqueue(
        "api.webhooks.deliver", delivery_id, job_timeout=job_timeout(),
        result_ttl=600, failure_ttl=86400,
    ))


def resend(delivery: WebhookDelivery) -> WebhookDelivery:
    """A new delivery of the same event (from the webhooks page or the API)."""
    copy = WebhookDelivery.objects.create(endpoint=delivery.endpoint, event=delivery.event, payload=delivery.payload)
    enqueue(copy)
    return copy


# --- sending -------------------------------------------------------------------------


def job_timeout() -> int:
    """An attempt is cut off by rq after this (a receiver dripping its answer byte by byte)."""
    return settings.HEYGEM_WEBHOOK_TIMEOUT_S * 3 + 30


def deliver(delivery_id: int) -> str:
    """One attempt (an rq job on `default`).

    The attempt is counted, and the next one scheduled a lease away, *before*
    the request: a job killed mid-request (timeout, worker lost) leaves a
    delivery that queue_due picks up again, not one stuck pending, and a
    duplicate job finds it "not yet" due instead of sending it twice."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return "skipped"
    now = timezone.now()
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
        return "not yet"  # a stray duplicate job: queue_due sends it when it is due
    schedule = settings.HEYGEM_WEBHOOK_RETRY_SCHEDULE
    if delivery.attempts > len(schedule):  # the last attempt's job died
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        delivery.save(update_fields=["status", "next_attempt_at"])
        return delivery.status
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.next_attempt_at = now + timedelta(seconds=job_timeout() + 60)
    delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])

    endpoint = delivery.endpoint
    started = time.monotonic()
    code, error, final = None, "", False
    try:
        addresses = check_url(endpoint.url, allow_private=endpoint.allow_private)
        code = post(endpoint.url, addresses, delivery, endpoint.secret)
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except UnsafeURL as refused:  # refused, not failed: retrying would not change that
        error, final = refused.message, True
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    delivery.response_code = code
    delivery.error = error[:300]
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    if not error:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.SUCCEEDED, None
    elif not final and delivery.attempts <= len(schedule):
        delivery.next_attempt_at = delivery.last_attempt_at + timedelta(seconds=schedule[delivery.attempts - 1])
    else:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
    delivery.save()
    return delivery.status


def post(url: str, addresses: list[str], delivery: WebhookDelivery, secret: str) -> int:
    """POST the signed body to the checked addresses (no redirects followed); the response code."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    body = delivery.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
        "HeyGem-Event": delivery.event,
        "HeyGem-Delivery": str(delivery.pk),
    }
    timeout = settings.HEYGEM_WEBHOOK_TIMEOUT_S
    last_error: OSError | None = None
    for address in addresses:
        connection = _PinnedConnection(parts.hostname, address, port, https, timeout)
        try:
            path = parts.path or "/"
            connection.request("POST", path + (f"?{parts.query}" if parts.query else ""), body=body, headers=headers)
            return connection.getresponse().status  # the body is not read: only the status counts
        except OSError as exc:
            last_error = exc
        finally:
            connection.close()
    raise last_error or OSError("no address")


class _PinnedConnection:
    """http.client to one already-checked address, with the URL's host name
    for the Host header and TLS (certificate checked against the name)."""

    def __init__(self, host: str, address: str, port: int, https: bool, timeout: float):
        cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
        kwargs = {"context": ssl.create_default_context()} if https else {}
        self.connection = cls(host, port, timeout=timeout, **kwargs)
        pinned = (address, port)

        def create_connection(_address, *args, **kw):
            return socket.create_connection(pinned, *args, **kw)

        self.connection._create_connection = create_connection

    def request(self, *args, **kwargs):
        self.connection.request(*args, **kwargs)

    def getresponse(self):
        return self.connection.getresponse()

    def close(self):
        self.connection.close()


# --- retries -------------------------------------------------------------------------


def queue_due(now=None) -> int:
    """Queue the deliveries whose retry time has come (each once, whichever
    worker gets there first). Called from the workers' heartbeat loop."""
    now = now or timezone.now()
    queued = 0
    for pk, when in WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).values_list("pk", "next_attempt_at")[:500]:
        with transaction.atomic():
            if WebhookDelivery.objects.filter(pk=pk, next_attempt_at=when).update(next_attempt_at=None):
                enqueue(WebhookDelivery(pk=pk))
                queued += 1
    return queued
