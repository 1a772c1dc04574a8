"""Login lockout (django-axes), Content-Security-Policy and CSRF."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests.processes import ROOT, python

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
TEMPLATES = Path(settings.BASE_DIR) / "templates"


def fail_logins(client: Client, username: str, times: int) -> list[int]:
    return [client.post(LOGIN, {"username": username, "password": "wrong-guess"}).status_code for _ in range(times)]


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- lockout -------------------------------------------------------------------


def test_it_locks_out_after_repeated_failures(alice):
    client = Client()
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5  # the documented default
    statuses = fail_logins(client, "alice", limit)
    assert statuses[:-1] == [200] * (limit - 1)  # the login form again, with an error
    assert statuses[-1] == 429  # the last allowed failure already locks

    response = client.post(LOGIN, {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 429
    assert not is_logged_in(client)
    page = response.content.decode()
    assert "Too many login attempts" in page
    assert "Wait 15 minutes, then try again." in page
    assert "even the right password is refused" in page


def test_a_good_login_before_the_limit_resets_the_count(alice):
    client = Client()
    fail_logins(client, "alice", settings.AXES_FAILURE_LIMIT - 1)
    assert client.post(LOGIN, {"username": "alice", "password": "alice-pass-123"}).status_code == 302
    client.logout()
    assert fail_logins(client, "alice", settings.AXES_FAILURE_LIMIT - 1)[-1] == 200


def test_a_lockout_does_not_lock_out_colleagues(alice, bob):
    # Same address (a shared office), other username: not locked.
    client = Client()
    fail_logins(client, "alice", settings.AXES_FAILURE_LIMIT)
    response = Client().post(LOGIN, {"username": "bob", "password": "bob-pass-123"})
    assert response.status_code == 302


def test_the_limits_come_from_settings(alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    assert fail_logins(client, "alice", 2) == [200, 429]


def test_many_addresses_share_one_limit_per_username(alice, bob, settings):
    # Rotating addresses buys no more guesses: the username is locked everywhere.
    limit = settings.HEYGEM_LOGIN_USERNAME_LIMIT
    assert limit == 20  # the documented default
    statuses = [
        Client(REMOTE_ADDR=f"203.0.113.{n}").post(LOGIN, {"username": "alice", "password": "wrong-guess"}).status_code
        for n in range(limit)
    ]
    assert statuses[:-1] == [200] * (limit - 1)  # no single address reached the per-address limit
    assert statuses[-1] == 429

    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    response = elsewhere.post(LOGIN, {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 429
    assert not is_logged_in(elsewhere)
    page = response.content.decode()
    assert "locked on every device" in page
    assert "Wait 15 minutes, then try again." in page
    # A colleague behind one of those addresses still logs in.
    assert Client(REMOTE_ADDR="203.0.113.1").post(LOGIN, {"username": "bob", "password": "bob-pass-123"}).status_code == 302


def test_the_lockout_page_says_how_long_is_left(alice, settings):
    from axes.models import AccessAttempt
    from django.utils import timezone

    client = Client()
    fail_logins(client, "alice", settings.AXES_FAILURE_LIMIT)
    # Ten minutes later five of the fifteen minutes are left, and trying
    # again meanwhile does not start the wait over.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timezone.timedelta(minutes=10))
    for _ in range(2):
        response = client.post(LOGIN, {"username": "alice", "password": "alice-pass-123"})
        assert response.status_code == 429
        assert "Wait 5 minutes, then try again." in response.content.decode()
    AccessAttempt.objects.update(attempt_time=timezone.now() - timezone.timedelta(minutes=16))
    assert client.post(LOGIN, {"username": "alice", "password": "alice-pass-123"}).status_code == 302


# --- Content-Security-Policy ---------------------------------------------------------


def test_pages_carry_a_strict_csp(alice_client):
    for response in (Client().get(LOGIN), alice_client.get("/projects/")):
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self';" in policy
        assert "style-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy


def test_the_lockout_page_carries_the_csp(alice):
    client = Client()
    fail_logins(client, "alice", settings.AXES_FAILURE_LIMIT)
    response = client.post(LOGIN, {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 429
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_only_the_rq_dashboard_gets_inline_allowances(staff_client):
    response = staff_client.get("/admin/rq/")
    assert response.status_code == 200
    assert "script-src 'self' 'unsafe-inline'" in response["Content-Security-Policy"]


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def test_templates_have_no_inline_script_or_style():
    offenders = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0).strip()}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for match in INLINE.finditer(path.read_text())
    ]
    assert offenders == []


# --- CSRF ----------------------------------------------------------------------


def test_post_without_csrf_token_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/projects/new/", {"name": "Sneaky"}).status_code == 403
    assert client.post(LOGIN, {"username": "alice", "password": "alice-pass-123"}).status_code == 403


def test_post_with_csrf_token_is_accepted(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/projects/new/")
    token = client.cookies["csrftoken"].value
    response = client.post("/projects/new/", {"name": "Honest", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


# --- cookies in production ---------------------------------------------------------

COOKIE_SETTINGS = ("SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SECURE")


def production_cookie_settings(tmp_path) -> dict:
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {COOKIE_SETTINGS!r}}}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "heygem_site.settings",
        "HEYGEM_ENV": "production",
        "SECRET_KEY": "k" * 60,
        "ALLOWED_HOSTS": "heygem.example.org",
        "HEYGEM_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run([python(), "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_cookies_are_secure_and_http_only(alice, tmp_path):
    production = production_cookie_settings(tmp_path)
    assert production == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
    }
    with override_settings(**production):
        client = Client()
        client.get(LOGIN)
        response = client.post(LOGIN, {"username": "alice", "password": "alice-pass-123"}, secure=True)
    assert response.status_code == 302
    session, csrf = response.cookies["sessionid"], client.cookies["csrftoken"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert csrf["secure"]
