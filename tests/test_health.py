"""/healthz: `ok` when database, Redis, storage and a worker are there; 503
naming what is down otherwise; no login needed."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import django_rq
import pytest
from django.core.files.storage import FileSystemStorage
from django.test import Client

from heygem_site import health
from heygem_site.embedded_redis import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_conn():
    return django_rq.get_connection("default")


@pytest.fixture
def no_workers(redis_conn):
    # A worker started by another test may have left its heartbeat behind.
    for key in list(redis_conn.scan_iter(match=health.WORKER_KEY_PATTERN)):
        redis_conn.delete(key)


@pytest.fixture
def worker_heartbeat(redis_conn, no_workers):
    key = f"heygem:worker:test-{uuid.uuid4().hex[:8]}"
    redis_conn.hset(key, mapping={"queues": "gpu", "state": "idle"})
    redis_conn.expire(key, 30)
    yield key
    redis_conn.delete(key)


def test_it_says_ok_when_everything_is_up(worker_heartbeat):
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_it_names_missing_workers(no_workers):
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.content == b"down: workers"


@pytest.fixture
def health_log():
    """Messages logged by the health checks (without relying on caplog)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(health.__name__)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_it_names_an_unreachable_redis_without_details(worker_heartbeat, monkeypatch, health_log):
    # django_rq reads RQ_QUEUES once at import, so point its copy at a closed port.
    from django_rq import settings as rq_settings

    monkeypatch.setitem(rq_settings.QUEUES, "default", {"URL": f"redis://127.0.0.1:{free_port()}/0"})
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.content == b"down: redis, workers"
    # The reason is in the log, not in the answer.
    assert any(r.getMessage() == "health check redis failed" and r.exc_info for r in health_log)


def test_it_names_a_broken_database(worker_heartbeat, monkeypatch):
    def broken() -> None:
        raise RuntimeError("connection refused by db.internal:5432")

    monkeypatch.setattr(health, "check_database", broken)
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.content == b"down: database"


def test_it_names_unwritable_storage(worker_heartbeat, monkeypatch, tmp_path):
    # A plain file where the media folder should be: even root cannot write below it.
    not_a_folder = tmp_path / "media"
    not_a_folder.write_text("")
    monkeypatch.setattr(health, "default_storage", FileSystemStorage(location=not_a_folder))
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.content == b"down: storage"


def test_it_needs_no_login_and_leaves_no_files(worker_heartbeat, settings):
    response = Client().head("/healthz")
    assert response.status_code == 200
    assert not list(Path(settings.MEDIA_ROOT, "healthz").glob("*"))


def test_it_refuses_post(worker_heartbeat):
    assert Client().post("/healthz").status_code == 405
