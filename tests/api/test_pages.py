"""The account pages: tokens (shown once, revoked by their member or staff) and webhook endpoints."""

import pytest

from api.models import ApiToken, WebhookEndpoint, hash_token
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def test_a_new_token_is_shown_once_and_works(alice_client, client, alice):
    page = alice_client.post("/accounts/tokens/", {"name": "LMS", "read_only": "on", "expires_in_days": "30"})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    raw = page.context["new_token"]
    assert raw in page.content.decode()
    token = ApiToken.objects.get(user=alice)
    assert token.key_hash == hash_token(raw) and token.read_only and token.expires_at is not None
    assert client.get("/api/v1/projects/", headers=bearer(raw)).status_code == 200
    listing = alice_client.get("/accounts/tokens/").content.decode()
    assert "LMS" in listing and token.prefix in listing and raw not in listing


def test_a_member_revokes_their_token_but_not_anothers(alice_client, bob_client, client, alice, bob):
    alices, alice_raw = ApiToken.issue(alice, "LMS")
    bobs, bob_raw = ApiToken.issue(bob, "script")
    assert alice_client.post(f"/accounts/tokens/{bobs.pk}/revoke/").status_code == 404
    assert client.get("/api/v1/projects/", headers=bearer(bob_raw)).status_code == 200
    assert alice_client.post(f"/accounts/tokens/{alices.pk}/revoke/").status_code == 302
    assert client.get("/api/v1/projects/", headers=bearer(alice_raw)).status_code == 401
    assert "bob" not in alice_client.get("/accounts/tokens/").content.decode()


def test_staff_see_and_revoke_any_token(staff_client, client, bob):
    bobs, raw = ApiToken.issue(bob, "overnight upload")
    assert "overnight upload" in staff_client.get("/accounts/tokens/").content.decode()
    assert staff_client.post(f"/accounts/tokens/{bobs.pk}/revoke/").status_code == 302
    response = client.get("/api/v1/projects/", headers=bearer(raw))
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_revoked"


def test_a_member_cannot_add_a_loopback_webhook_but_staff_can_allow_one(alice_client, staff_client, alice, staff):
    page = alice_client.post("/accounts/webhooks/", {"url": "http://127.0.0.1:8000/hook", "events": ["batch.finished"],
                                                     "allow_private": "on"})
    assert page.status_code == 200 and "loopback, private or link-local" in page.content.decode()
    page = alice_client.post("/accounts/webhooks/", {"url": "http://10.0.0.8/hook", "events": ["batch.finished"]})
    assert "loopback, private or link-local" in page.content.decode()
    assert not WebhookEndpoint.objects.exists()

    assert staff_client.post("/accounts/webhooks/", {"url": "http://127.0.0.1:8000/hook", "events": ["render.failed"],
                                                     "allow_private": "on"}).status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.user == staff and endpoint.allow_private and endpoint.events == ["render.failed"]
    assert endpoint.secret in staff_client.get("/accounts/webhooks/").content.decode()
    assert alice_client.post(f"/accounts/webhooks/{endpoint.pk}/delete/").status_code == 404


def test_the_api_refuses_private_webhook_urls(client, alice_token):
    for url in ["http://127.0.0.1/x", "http://localhost/x", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/x", "http://192.168.1.1/x", "ftp://example.com/x"]:
        response = client.post("/api/v1/webhooks/", {"url": url}, content_type="application/json",
                               headers=bearer(alice_token))
        assert response.status_code == 400, url
        assert response.json()["error"]["code"] == "validation_error"
    assert not WebhookEndpoint.objects.exists()
