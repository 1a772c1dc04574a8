"""Webhook deliveries without the worker processes (those are in test_flow.py):
events recorded when a render finishes, signatures, retries, SSRF refusals."""

import json
import time
from datetime import timedelta

import django_rq
import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from rq import SimpleWorker

from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from api.webhook_verify import verify
from rendering.models import Render
from tests.receiver import Receiver
from tests.rendering.helpers import start_batch

pytestmark = pytest.mark.django_db


def endpoint_for(user, url, **kwargs) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(user=user, url=url, secret=WebhookEndpoint.new_secret(),
                                          events=WebhookEndpoint.Event.values, **kwargs)


def run_default_queue() -> None:
    django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)


def succeed(render: Render) -> None:
    assert Render.objects.claim(render.pk, "test-worker")
    render.refresh_from_db()
    assert render.succeed(lambda locked: locked.output.save("out.mp4", ContentFile(b"mp4"), save=False))


def test_the_documented_verifier_accepts_a_signature_and_refuses_anything_else():
    secret, body, now = "whsec_test", b'{"type": "render.succeeded"}', int(time.time())
    header = webhooks.sign(secret, now, body)
    assert verify(secret, header, body)
    assert not verify(secret, header, body + b" ")  # body changed
    assert not verify("whsec_other", header, body)  # another endpoint's secret
    assert not verify(secret, header.replace("v1=", "v1=0"), body)
    assert not verify(secret, webhooks.sign(secret, now - 3600, body), body)  # an old delivery replayed
    assert not verify(secret, "", body) and not verify(secret, "t=x,v1=y", body)


def test_a_finished_render_and_batch_are_delivered_signed(alice, project, audio, video, django_capture_on_commit_callbacks):
    batch = start_batch(alice, project, audio, [video])
    with Receiver() as receiver:
        endpoint = endpoint_for(alice, receiver.url, allow_private=True)
        with django_capture_on_commit_callbacks(execute=True):
            succeed(batch.renders.get())
        run_default_queue()
        requests = receiver.wait_for(lambda r: len(r) == 2, timeout=10)
    events = {}
    for headers, body in requests:
        assert verify(endpoint.secret, headers["HeyGem-Signature"], body)
        events[headers["HeyGem-Event"]] = json.loads(body)
    assert set(events) == {"render.succeeded", "batch.finished"}
    assert events["render.succeeded"]["data"]["render"]["status"] == "succeeded"
    assert events["batch.finished"]["data"]["batch"]["id"] == batch.pk
    assert events["batch.finished"]["data"]["batch"]["status"] == "succeeded"
    assert set(WebhookDelivery.objects.values_list("status", "attempts", "response_code")) == {("succeeded", 1, 200)}


def test_a_receiver_failing_twice_gets_the_third_attempt_on_schedule(alice, settings, project,
                                                                    django_capture_on_commit_callbacks):
    settings.HEYGEM_WEBHOOK_RETRY_SCHEDULE = [60, 600]
    with Receiver([500, 503]) as receiver:
        endpoint = endpoint_for(alice, receiver.url, allow_private=True)
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="batch.finished", payload='{"n": 1}')
        assert webhooks.deliver(delivery.pk) == "pending"
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.response_code) == (1, 500)
        assert timedelta(seconds=59) < delivery.next_attempt_at - delivery.last_attempt_at <= timedelta(seconds=61)
        assert webhooks.queue_due() == 0  # not due yet
        assert webhooks.deliver(delivery.pk) == "not yet"  # a stray job does not jump the queue
        with django_capture_on_commit_callbacks(execute=True):
            assert webhooks.queue_due(now=timezone.now() + timedelta(seconds=61)) == 1
        assert webhooks.queue_due(now=timezone.now() + timedelta(seconds=61)) == 0  # queued once
        run_default_queue()
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.response_code, delivery.status) == (2, 503, "pending")
        assert timedelta(seconds=599) < delivery.next_attempt_at - delivery.last_attempt_at <= timedelta(seconds=601)
        with django_capture_on_commit_callbacks(execute=True):
            assert webhooks.queue_due(now=timezone.now() + timedelta(seconds=601)) == 1
        run_default_queue()
        assert len(receiver.requests) == 3
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code, delivery.status) == (3, 200, "succeeded")
    assert delivery.next_attempt_at is None


def test_a_delivery_gives_up_after_the_schedule(alice, settings):
    settings.HEYGEM_WEBHOOK_RETRY_SCHEDULE = [0]
    with Receiver([500, 500, 500]) as receiver:
        endpoint = endpoint_for(alice, receiver.url, allow_private=True)
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="render.failed", payload="{}")
        assert webhooks.deliver(delivery.pk) == "pending"
        assert webhooks.deliver(delivery.pk) == "failed"
        assert len(receiver.requests) == 2


def test_an_endpoint_that_resolves_to_loopback_is_refused_at_delivery(alice):
    with Receiver() as receiver:
        endpoint = endpoint_for(alice, receiver.url.replace("127.0.0.1", "localhost"))  # not staff-allowed
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="render.failed", payload="{}")
        assert webhooks.deliver(delivery.pk) == "failed"
        assert receiver.requests == []
    delivery.refresh_from_db()
    assert "loopback, private or link-local" in delivery.error and delivery.next_attempt_at is None


def test_resend_from_the_page_sends_the_same_event_again(alice, alice_client, django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        endpoint = endpoint_for(alice, receiver.url, allow_private=True)
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="batch.finished", payload='{"x": 1}')
        webhooks.deliver(delivery.pk)
        page = alice_client.get("/accounts/webhooks/").content.decode()
        assert "batch.finished" in page and "200" in page
        with django_capture_on_commit_callbacks(execute=True):
            assert alice_client.post(f"/accounts/webhooks/deliveries/{delivery.pk}/resend/").status_code == 302
        run_default_queue()
        assert [body for _, body in receiver.requests] == [b'{"x": 1}', b'{"x": 1}']
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 2


def test_bob_cannot_resend_or_see_alices_deliveries(alice, bob_client, bob_token, client):
    endpoint = endpoint_for(alice, "https://example.com/hook")
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="batch.finished", payload="{}")
    assert bob_client.post(f"/accounts/webhooks/deliveries/{delivery.pk}/resend/").status_code == 404
    headers = {"Authorization": f"Bearer {bob_token}"}
    assert client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/", headers=headers).status_code == 404
    assert client.post(f"/api/v1/deliveries/{delivery.pk}/resend/", headers=headers).status_code == 404
    assert WebhookDelivery.objects.count() == 1


def test_a_delivery_whose_job_died_mid_request_is_tried_again_not_lost(alice, settings,
                                                                      django_capture_on_commit_callbacks):
    settings.HEYGEM_WEBHOOK_RETRY_SCHEDULE = [60]
    with Receiver() as receiver:
        endpoint = endpoint_for(alice, receiver.url, allow_private=True)
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="render.failed", payload="{}")
        # As a job killed during its request leaves it: counted, with the lease as its next attempt.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=1, last_attempt_at=timezone.now(), next_attempt_at=timezone.now() + timedelta(seconds=150))
        assert webhooks.deliver(delivery.pk) == "not yet" and receiver.requests == []  # the job may still run
        with django_capture_on_commit_callbacks(execute=True):
            assert webhooks.queue_due(now=timezone.now() + timedelta(seconds=151)) == 1
        run_default_queue()
        assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


def test_batch_finished_is_not_swallowed_by_a_key_left_from_an_older_database(alice, project, audio, video):
    """A restored or recreated database numbers its batches from 1 again, while
    Redis keeps the keys that made `batch.finished` once-only for the old
    batches: a new batch with an old id still gets its event."""
    batch = start_batch(alice, project, audio, [video])
    render = batch.renders.get()
    Render.objects.filter(pk=render.pk).update(status="succeeded")
    redis = django_rq.get_connection("default")
    # What the previous database's batch with this id left behind (finished_at unset, or set).
    redis.set(f"heygem:webhooks:batch-finished:{batch.pk}:0", 1)
    redis.set(f"heygem:webhooks:batch-finished:{batch.pk}:{time.time() - 3600}", 1)
    endpoint_for(alice, "https://alice.example.org/hook")
    webhooks.on_render_finished(sender=None, render_id=render.pk, status="succeeded")
    assert sorted(WebhookDelivery.objects.values_list("event", flat=True)) == ["batch.finished", "render.succeeded"]
    # ...and only once.
    webhooks.on_render_finished(sender=None, render_id=render.pk, status="succeeded")
    assert WebhookDelivery.objects.filter(event="batch.finished").count() == 1
