"""Settings come from the environment, strictly; production passes
`manage.py check --deploy` with no warnings."""

import os
import subprocess

import pytest

from tests.processes import ROOT, python

PRODUCTION = {
    "HEYGEM_ENV": "production",
    "SECRET_KEY": "x" * 20 + "-not-a-real-key-but-long-enough-0123456789abcdef",
    "ALLOWED_HOSTS": "heygem.example.org",
    "DJANGO_SETTINGS_MODULE": "heygem_site.settings",
}


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [python(), "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_passes_check_deploy(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", HEYGEM_VAR_DIR=str(tmp_path), **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "override,message",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is required"),
        ({"DEBUG": "true"}, "DEBUG must be false"),
        ({"HEYGEM_MAX_UPLOAD_MB": "2GB"}, "HEYGEM_MAX_UPLOAD_MB='2GB' is not a whole number"),
        ({"DATABASE_URL": "mysql://db/heygem"}, "unsupported scheme"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"HEYGEM_WORKER_HEARTBEAT_S": "10", "HEYGEM_WORKER_LOST_AFTER_S": "15"},
         "HEYGEM_WORKER_LOST_AFTER_S must be at least twice HEYGEM_WORKER_HEARTBEAT_S"),
    ],
)
def test_bad_settings_stop_start_up(tmp_path, override, message):
    result = manage("check", HEYGEM_VAR_DIR=str(tmp_path), **{**PRODUCTION, **override})
    assert result.returncode != 0
    assert message in result.stderr


def test_development_keeps_a_generated_secret_key(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "heygem_site.settings", "HEYGEM_VAR_DIR": str(tmp_path), "SECRET_KEY": ""}
    assert manage("check", **env).returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert len(key) > 50
    assert manage("check", **env).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key


DEVELOPMENT_PAGES = """
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="localhost")
print("debug", settings.DEBUG)
print("static", client.get("/static/css/app.css").status_code)
missing = client.get("/no-such-page/")
print("missing", missing.status_code, "Back to the dashboard" in missing.content.decode())
"""


def development_pages(tmp_path, **env) -> str:
    base = {"DJANGO_SETTINGS_MODULE": "heygem_site.settings", "HEYGEM_VAR_DIR": str(tmp_path), "HEYGEM_ENV": ""}
    result = manage("shell", "-c", DEVELOPMENT_PAGES, **{**base, **env})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_development_serves_no_debug_pages_unless_asked(tmp_path):
    # `make run` settings: no DEBUG in the environment.
    out = development_pages(tmp_path, DEBUG="")
    assert "debug False" in out
    assert "static 200" in out  # WhiteNoise still serves the CSS from the source tree
    assert "missing 404 True" in out  # the site's own 404 page, not Django's debug page
    assert "debug True" in development_pages(tmp_path, DEBUG="true")
