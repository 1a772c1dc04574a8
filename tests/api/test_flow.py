"""The whole flow as an integrator runs it: a real daphne and a real worker,
an HTTP client holding a token: upload the audio and a presenter, start a
batch (retried with the same Idempotency-Key), poll, download, and the
video decodes. Webhook receivers on loopback ports (staff-allowed) get the
signed events; one answers 500 twice and gets the third attempt (the retry
schedule is shortened to seconds for the test)."""

import json
import time

import av
import pytest
import requests

from api.models import ApiToken, WebhookDelivery, WebhookEndpoint
from api.webhook_verify import verify
from rendering.models import RenderBatch
from tests.processes import start_worker, stop
from tests.receiver import Receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def worker(model_dir, tmp_path):
    """Started before the test body: it loads the model while the uploads are
    probed. Webhook retries after 1 s (the default waits a minute, then longer)."""
    proc = start_worker(model_dir=model_dir, log_path=tmp_path / "worker.log", HEYGEM_WEBHOOK_RETRY_SCHEDULE="1,1")
    yield proc
    stop(proc)


def poll(fetch, done, timeout=150.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if done(value):
            return value
        time.sleep(0.5)
    raise AssertionError(f"not done in {timeout:.0f} s: {value}")


def test_upload_start_poll_download_with_a_token_and_signed_webhooks(
    alice, bob, project, short_speech, face_clip, daphne, worker, tmp_path
):
    _, raw = ApiToken.issue(alice, "LMS")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {raw}"
    with Receiver() as hooks, Receiver([500, 500]) as flaky:
        # Loopback receivers: allowed by staff (a member's API request is refused, see test_pages.py).
        endpoint = WebhookEndpoint.objects.create(user=alice, url=hooks.url, secret=WebhookEndpoint.new_secret(),
                                                  events=WebhookEndpoint.Event.values, allow_private=True)
        flaky_endpoint = WebhookEndpoint.objects.create(user=alice, url=flaky.url, secret=WebhookEndpoint.new_secret(),
                                                        events=["batch.finished"], allow_private=True)

        with short_speech.open("rb") as fh:
            audio = api.post(f"{daphne.url}/api/v1/projects/{project.pk}/assets/", files={"file": ("lesson 1.wav", fh)})
        with face_clip.open("rb") as fh:
            presenter = api.post(f"{daphne.url}/api/v1/projects/{project.pk}/assets/", files={"file": ("anna.mp4", fh)})
        assert audio.status_code == presenter.status_code == 201, (audio.text, presenter.text)
        assert audio.json()["kind"] == "audio" and presenter.json()["kind"] == "video"
        assert presenter.json()["width"] == 320 and presenter.json()["fps"] == 25

        body = {"project": project.pk, "audio": audio.json()["id"], "presenters": [presenter.json()["id"]],
                "name": "Lesson 1"}
        started = api.post(f"{daphne.url}/api/v1/batches/", json=body, headers={"Idempotency-Key": "lesson-1"})
        retried = api.post(f"{daphne.url}/api/v1/batches/", json=body, headers={"Idempotency-Key": "lesson-1"})
        assert started.status_code == retried.status_code == 201, started.text
        assert retried.json()["id"] == started.json()["id"] and RenderBatch.objects.count() == 1
        batch_id = started.json()["id"]
        bob_auth = {"Authorization": "Bearer " + ApiToken.issue(bob, "bob's script")[1]}
        bobs = requests.get(f"{daphne.url}/api/v1/batches/{batch_id}/", headers=bob_auth)
        assert bobs.status_code == 404 and bobs.json()["error"]["code"] == "not_found"

        batch = poll(lambda: api.get(f"{daphne.url}/api/v1/batches/{batch_id}/").json(),
                     lambda b: b["status"] not in ("queued", "running"))
        assert batch["status"] == "succeeded", batch
        item = batch["items"][0]
        assert item["progress"] == 1 and item["frames_done"] == item["frames_total"] > 0

        download = api.get(item["download_url"], stream=True)
        assert download.status_code == 200 and download.headers["Content-Type"] == "video/mp4"
        output = tmp_path / "lesson.mp4"
        with output.open("wb") as out:
            for chunk in download.iter_content(1 << 16):
                out.write(chunk)
        with av.open(str(output)) as container:
            frames = sum(1 for _ in container.decode(video=0))
            assert container.streams.audio, "the audio is muxed in"
        assert frames == item["frames_total"]

        got = hooks.wait_for(lambda r: len(r) >= 2, timeout=30)
        third = flaky.wait_for(lambda r: len(r) >= 3, timeout=40)

    events = {}
    for headers, raw_body in got:
        assert verify(endpoint.secret, headers["HeyGem-Signature"], raw_body)
        events[headers["HeyGem-Event"]] = json.loads(raw_body)
    assert set(events) == {"render.succeeded", "batch.finished"}
    assert events["render.succeeded"]["data"]["render"]["id"] == item["id"]
    assert events["batch.finished"]["data"]["batch"]["status"] == "succeeded"
    assert [h["HeyGem-Event"] for h, _ in third] == ["batch.finished"] * 3
    assert all(verify(flaky_endpoint.secret, h["HeyGem-Signature"], b) for h, b in third)
    assert len({b for _, b in third}) == 1  # the same event each time
    delivery = WebhookDelivery.objects.get(endpoint=flaky_endpoint)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 3, 200)
