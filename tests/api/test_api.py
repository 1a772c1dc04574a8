"""The API as a token's holder uses it (Django's test client; the real daphne
and worker are in test_flow.py): tokens act as their member, 404 for others'
objects, read-only tokens cannot write, idempotent batch creation, JSON errors."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from api.models import ApiToken, IdempotencyKey, hash_token
from projects.models import Asset, Project
from rendering.models import Render, RenderBatch, Status
from tests.api.conftest import bearer
from tests.rendering.helpers import finish, start_batch
from tests.streams import body as streamed_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_batch(alice, project, audio, video):
    return start_batch(alice, project, audio, [video])


def test_a_token_lists_its_members_projects_only(client, alice, bob, project, alice_token):
    Project.objects.create(owner=bob, name="Bob's")
    response = client.get("/api/v1/projects/", headers=bearer(alice_token))
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["results"]] == ["Physics 101"]


def test_no_token_bad_token_revoked_and_expired_get_401(client, alice, alice_token):
    assert client.get("/api/v1/projects/").status_code == 401
    bad = client.get("/api/v1/projects/", headers=bearer("hg_not-a-token"))
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_token"

    token = ApiToken.objects.get(key_hash=hash_token(alice_token))
    token.revoke()
    revoked = client.get("/api/v1/projects/", headers=bearer(alice_token))
    assert revoked.status_code == 401
    assert revoked.json()["error"] == {"code": "token_revoked", "message": "This API token was revoked."}

    _, raw = ApiToken.issue(alice, "old", expires_at=timezone.now() - timedelta(seconds=1))
    expired = client.get("/api/v1/projects/", headers=bearer(raw))
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "token_expired"


def test_tokens_are_stored_hashed_and_record_their_last_use(client, alice, alice_token):
    token = ApiToken.objects.get(user=alice)
    assert alice_token not in (token.key_hash, token.prefix) and token.last_used_at is None
    client.get("/api/v1/projects/", headers=bearer(alice_token))
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_read_only_token_reads_but_cannot_write(client, alice, project, alices_batch):
    _, raw = ApiToken.issue(alice, "dashboard", read_only=True)
    assert client.get(f"/api/v1/batches/{alices_batch.pk}/", headers=bearer(raw)).status_code == 200
    for path, body in [
        ("/api/v1/projects/", {"name": "New"}),
        (f"/api/v1/batches/{alices_batch.pk}/cancel/", {}),
        (f"/api/v1/projects/{project.pk}/archive/", {}),
    ]:
        response = client.post(path, body, content_type="application/json", headers=bearer(raw))
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "read_only_token"
    assert Project.objects.count() == 1 and not Project.objects.get().archived
    assert set(alices_batch.renders.values_list("status", flat=True)) == {Status.QUEUED}


def test_bob_gets_404_for_everything_of_alices_and_changes_nothing(client, alice, project, alices_batch, bob_token):
    render = alices_batch.renders.get()
    finish(render)
    audio = alices_batch.audio
    reads = [
        f"/api/v1/projects/{project.pk}/", f"/api/v1/projects/{project.pk}/assets/",
        f"/api/v1/projects/{project.pk}/templates/", f"/api/v1/assets/{audio.pk}/",
        f"/api/v1/batches/{alices_batch.pk}/", f"/api/v1/renders/{render.pk}/",
        f"/api/v1/renders/{render.pk}/manifest/", f"/api/v1/renders/{render.pk}/log/",
        f"/api/v1/renders/{render.pk}/download/",
    ]
    for path in reads:
        response = client.get(path, headers=bearer(bob_token))
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    writes = [
        (f"/api/v1/projects/{project.pk}/archive/", {}), (f"/api/v1/batches/{alices_batch.pk}/cancel/", {}),
        (f"/api/v1/batches/{alices_batch.pk}/retry/", {}), (f"/api/v1/renders/{render.pk}/retry/", {}),
        ("/api/v1/batches/", {"project": project.pk, "audio": audio.pk, "presenters": [render.source_id]}),
    ]
    for path, body in writes:
        assert client.post(path, body, content_type="application/json", headers=bearer(bob_token)).status_code == 404
    upload = client.post(f"/api/v1/projects/{project.pk}/assets/",
                         {"file": SimpleUploadedFile("x.wav", b"RIFF")}, headers=bearer(bob_token))
    assert upload.status_code == 404
    for path in ["/api/v1/batches/", "/api/v1/renders/", "/api/v1/projects/"]:
        assert client.get(path, headers=bearer(bob_token)).json()["count"] == 0
    project.refresh_from_db()
    assert not project.archived and RenderBatch.objects.count() == 1 and Asset.objects.count() == 2
    render.refresh_from_db()
    assert render.status == Status.SUCCEEDED


def test_bob_cannot_start_a_batch_in_his_project_with_alices_assets(client, bob, alices_batch, bob_token):
    mine = Project.objects.create(owner=bob, name="Bob's")
    response = client.post("/api/v1/batches/", {
        "project": mine.pk, "audio": alices_batch.audio_id, "presenters": [alices_batch.renders.get().source_id],
    }, content_type="application/json", headers=bearer(bob_token))
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["audio"] == ["No audio with this id in the project."]
    assert RenderBatch.objects.count() == 1


def test_the_same_idempotency_key_twice_queues_one_batch(client, alice, project, audio, video, alice_token,
                                                         django_capture_on_commit_callbacks):
    body = {"project": project.pk, "audio": audio.pk, "presenters": [video.pk], "settings": {"quality": "high"}}
    headers = {**bearer(alice_token), "Idempotency-Key": "lesson-42"}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/api/v1/batches/", body, content_type="application/json", headers=headers)
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post("/api/v1/batches/", body, content_type="application/json", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert RenderBatch.objects.count() == 1 and Render.objects.count() == 1
    from rendering import queues

    assert queues.gpu_queue(queues.member_queue_name(alice.pk)).count == 1  # one job queued, not two
    assert Render.objects.get().settings["quality"] == "high"

    other = client.post("/api/v1/batches/", {**body, "presenters": [video.pk, video.pk]},
                        content_type="application/json", headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    # Another key is another batch.
    client.post("/api/v1/batches/", body, content_type="application/json",
                headers={**bearer(alice_token), "Idempotency-Key": "lesson-43"})
    assert RenderBatch.objects.count() == 2


def test_a_refused_request_does_not_use_up_its_key(client, project, audio, video, alice_token, settings):
    settings.HEYGEM_MAX_BATCH_ITEMS = 1
    body = {"project": project.pk, "audio": audio.pk, "presenters": [video.pk, video.pk]}
    headers = {**bearer(alice_token), "Idempotency-Key": "k1"}
    refused = client.post("/api/v1/batches/", body, content_type="application/json", headers=headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "quota_exceeded"
    assert "at most 1 items" in refused.json()["error"]["message"]
    assert not IdempotencyKey.objects.exists() and not RenderBatch.objects.exists()
    settings.HEYGEM_MAX_BATCH_ITEMS = 5
    assert client.post("/api/v1/batches/", body, content_type="application/json", headers=headers).status_code == 201


def test_bad_batch_requests_say_what_is_wrong(client, project, audio, video, alice_token):
    def post(body):
        return client.post("/api/v1/batches/", body, content_type="application/json", headers=bearer(alice_token))

    no_presenter = post({"project": project.pk, "audio": audio.pk})
    assert no_presenter.status_code == 400
    assert no_presenter.json()["error"]["code"] == "validation_error"
    assert no_presenter.json()["error"]["message"] == "Choose at least one presenter video, image or template."
    video_as_audio = post({"project": project.pk, "audio": video.pk, "presenters": [video.pk]})
    assert video_as_audio.json()["error"]["fields"] == {"audio": ["No audio with this id in the project."]}
    bad_setting = post({"project": project.pk, "audio": audio.pk, "presenters": [video.pk],
                        "settings": {"quality": "ultra", "colour": "red"}})
    assert bad_setting.status_code == 400 and "colour" in bad_setting.json()["error"]["message"]
    assert not RenderBatch.objects.exists()


def test_upload_answers_probed_facts_or_the_webs_refusal(client, project, alice_token, short_speech, tmp_path):
    with short_speech.open("rb") as fh:
        response = client.post(f"/api/v1/projects/{project.pk}/assets/", {"file": fh}, headers=bearer(alice_token))
    assert response.status_code == 201
    facts = response.json()
    assert facts["kind"] == "audio" and facts["sample_rate"] == 16000 and 1.1 < facts["duration"] < 1.3
    with short_speech.open("rb") as fh:
        again = client.post(f"/api/v1/projects/{project.pk}/assets/", {"file": fh}, headers=bearer(alice_token))
    assert again.status_code == 200 and again.json()["duplicate"] and again.json()["id"] == facts["id"]

    fake = SimpleUploadedFile("lesson.mp4", b"this is not a video at all" * 100)
    refused = client.post(f"/api/v1/projects/{project.pk}/assets/", {"file": fake}, headers=bearer(alice_token))
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "code": "upload_refused", "message": "lesson.mp4 is not an audio, video or image file that can be read."
    }
    assert project.assets.count() == 1


def test_batch_status_lists_items_with_progress_and_renders_filter_by_status(client, alices_batch, alice_token):
    render = alices_batch.renders.get()
    batch = client.get(f"/api/v1/batches/{alices_batch.pk}/", headers=bearer(alice_token)).json()
    assert batch["status"] == "queued" and batch["counts"]["queued"] == 1
    assert batch["items"][0]["id"] == render.pk and batch["items"][0]["progress"] == 0
    assert batch["items"][0]["download_url"] is None
    assert client.get(f"/api/v1/renders/{render.pk}/download/", headers=bearer(alice_token)).json()["error"][
        "code"] == "not_finished"
    finish(render)
    queued = client.get("/api/v1/renders/?status=queued", headers=bearer(alice_token)).json()
    done = client.get("/api/v1/renders/?status=succeeded", headers=bearer(alice_token)).json()
    assert queued["count"] == 0 and [r["id"] for r in done["results"]] == [render.pk]
    future = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert client.get(f"/api/v1/batches/?created_after={future}", headers=bearer(alice_token)).json()["count"] == 0
    bad = client.get("/api/v1/renders/?created_after=yesterday", headers=bearer(alice_token))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_filter"
    download = client.get(done["results"][0]["download_url"], headers=bearer(alice_token))
    assert download.status_code == 200 and streamed_body(download) == b"fake-mp4-bytes-for-download-tests"


def test_cancel_and_retry(client, alices_batch, alice_token):
    cancelled = client.post(f"/api/v1/batches/{alices_batch.pk}/cancel/", headers=bearer(alice_token)).json()
    assert cancelled["cancelled"] == 1 and cancelled["status"] == "cancelled"
    retried = client.post(f"/api/v1/batches/{alices_batch.pk}/retry/", headers=bearer(alice_token)).json()
    assert retried["retried"] == 1 and retried["items"][0]["status"] == "queued"


def test_rate_limit_per_token(client, alice, settings, alice_token, bob_token):
    settings.HEYGEM_API_RATE_PER_MINUTE = 3
    codes = [client.get("/api/v1/projects/", headers=bearer(alice_token)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/projects/", headers=bearer(alice_token))
    assert limited.json()["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) > 0
    assert client.get("/api/v1/projects/", headers=bearer(bob_token)).status_code == 200  # per token


def test_create_token_command_prints_a_working_token_once(client, alice, capsys):
    call_command("create_token", "alice", "--read-only", "--name", "nightly upload")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(user=alice)
    assert raw.startswith("hg_") and token.key_hash == hash_token(raw) and token.read_only
    assert token.name == "nightly upload"
    assert client.get("/api/v1/projects/", headers=bearer(raw)).status_code == 200


def test_schema_and_docs_are_served_without_a_cdn(client, alice_client):
    assert client.get("/api/v1/schema/?format=json").status_code == 401
    assert client.get("/api/v1/docs/").status_code == 401
    schema = alice_client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ["/api/v1/projects/", "/api/v1/projects/{id}/assets/", "/api/v1/batches/", "/api/v1/batches/{id}/",
                 "/api/v1/batches/{id}/cancel/", "/api/v1/renders/{id}/", "/api/v1/renders/{id}/download/"]:
        assert path in paths, path
    docs = alice_client.get("/api/v1/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert any("swagger-ui-bundle.js" in a for a in assets)
    for asset in assets:  # every script and style from this server: the page works offline
        assert asset.startswith("/"), asset
        assert alice_client.get(asset).status_code == 200, asset


def test_an_upload_over_the_limit_is_refused_before_its_body_in_the_apis_shape(project, settings):
    import json

    from heygem_site.request_body import body_limit, too_large

    path = f"/api/v1/projects/{project.pk}/assets/"
    assert body_limit(path) > settings.HEYGEM_MAX_UPLOAD_MB * 1024 * 1024  # uploads may be large here...
    assert body_limit("/api/v1/batches/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # ...JSON requests may not
    headers, body = too_large(path, [])
    assert headers == [(b"content-type", b"application/json")]
    assert json.loads(body) == {"error": {"code": "too_large", "message": (
        f"This file is larger than the upload limit of {settings.HEYGEM_MAX_UPLOAD_MB} MB.")}}


def test_a_request_still_in_progress_with_the_key_gets_409_until_abandoned(client, alice, project, audio, video,
                                                                         alice_token):
    body = {"project": project.pk, "audio": audio.pk, "presenters": [video.pk]}
    headers = {**bearer(alice_token), "Idempotency-Key": "slow"}
    first = client.post("/api/v1/batches/", body, content_type="application/json", headers=headers)
    claim = IdempotencyKey.objects.get(key="slow")
    IdempotencyKey.objects.filter(pk=claim.pk).update(status_code=None, response=None)  # as while the first runs
    busy = client.post("/api/v1/batches/", body, content_type="application/json", headers=headers)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "idempotency_in_progress"
    assert RenderBatch.objects.count() == 1
    IdempotencyKey.objects.filter(pk=claim.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    assert client.post("/api/v1/batches/", body, content_type="application/json", headers=headers).status_code == 201
    assert first.status_code == 201


def test_the_web_process_loads_the_api_framework_only_at_the_first_api_request():
    """Django REST framework and drf-spectacular cost the web process about
    20 MiB: the API's URLs resolve without importing them (test_web_light.py)."""
    import subprocess

    from tests.processes import ROOT, platform_env, python

    probe = (
        "import sys, django; django.setup()\n"
        "from django.urls import get_resolver, resolve, reverse\n"
        "get_resolver().url_patterns\n"
        "resolve(reverse('api:batch-detail', args=[1])); resolve(reverse('api:docs')); resolve('/accounts/tokens/')\n"
        "print(sorted(m for m in ('rest_framework.views', 'drf_spectacular.openapi') if m in sys.modules))\n"
    )
    done = subprocess.run([python(), "-c", probe], cwd=ROOT, env=platform_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_batch_request_can_name_its_own_webhook(client, project, audio, video, alice_token, settings):
    body = {"project": project.pk, "audio": audio.pk, "presenters": [video.pk],
            "webhook": {"url": "http://127.0.0.1:9/hook", "events": ["batch.finished"]}}
    refused = client.post("/api/v1/batches/", body, content_type="application/json", headers=bearer(alice_token))
    assert refused.status_code == 400 and "loopback, private" in refused.json()["error"]["fields"]["webhook"][0]
    assert not RenderBatch.objects.exists()

    settings.HEYGEM_WEBHOOK_ALLOW_PRIVATE = True  # the operator allows private addresses for everyone
    started = client.post("/api/v1/batches/", body, content_type="application/json", headers=bearer(alice_token))
    assert started.status_code == 201
    from api.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.batch_id == started.json()["id"] and endpoint.events == ["batch.finished"]
    assert started.json()["webhook_secret"] == endpoint.secret


def test_unknown_paths_and_server_errors_answer_in_the_apis_json_shape(alice, alice_token, project, monkeypatch):
    """A program never has to parse an HTML page: an unknown API path is a
    JSON 404 and a crash is a JSON 500 (its traceback goes to the server
    log); pages outside the API keep the friendly HTML."""
    from django.test import Client

    from api import views

    client = Client(raise_request_exception=False)
    missing = client.get("/api/v1/no-such-thing/", headers=bearer(alice_token))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"

    def crash(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(views.ProjectList, "list", crash)
    broken = client.get("/api/v1/projects/", headers=bearer(alice_token))
    assert broken.status_code == 500
    assert broken["Content-Type"] == "application/json"
    error = broken.json()["error"]
    assert error["code"] == "internal_error" and "disk on fire" not in error["message"]
    client.force_login(alice)
    page = client.get("/projects/999999/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
