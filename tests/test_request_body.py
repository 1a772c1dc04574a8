"""Request body limits in the ASGI application itself (BoundedBody): what any
ASGI server in front of HeyGem gets, heygem_site.webserver or not. The same
limits applied by the server while the bytes arrive are in test_streaming.py."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync

from heygem_site.request_body import SPOOL_MEMORY, BodyFileASGIHandler, BoundedBody, body_limit

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


@pytest.fixture
def small_uploads(settings):
    settings.HEYGEM_MAX_UPLOAD_MB = 1
    return 2 * MiB  # the file plus 1 MiB of multipart framing


class Recorder:
    """The inner application: records the body Django's handler would read."""

    def __init__(self) -> None:
        self.handler = BodyFileASGIHandler()
        self.body: bytes | None = None
        self.rolled_to_disk = False

    async def __call__(self, scope, receive, send) -> None:
        handle = await self.handler.read_body(receive)
        self.body = handle.read()
        self.rolled_to_disk = getattr(handle, "_rolled", True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]] = ()):
    """Run BoundedBody over a request; returns (status, body, chunks read, app)."""
    app = Recorder()
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    read = []
    sent = []

    async def receive():
        message = messages[len(read)]
        read.append(message)
        return message

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "headers": list(headers), "method": "POST"}
    async_to_sync(BoundedBody(app))(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body, len(read), app


def test_upload_urls_take_media_other_urls_small_bodies(settings, small_uploads, project):
    assert body_limit(f"/projects/{project.pk}/upload/") == small_uploads
    assert body_limit(f"/projects/{project.pk}/batches/new/") == small_uploads
    assert body_limit("/accounts/login/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert body_limit("/no/such/page/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_a_declared_length_over_the_limit_is_refused_unread(small_uploads, project):
    status, body, reads, app = call(
        f"/projects/{project.pk}/upload/",
        [b"x" * MiB] * 5,
        [(b"content-length", str(5 * MiB).encode()), (b"accept", b"application/json")],
    )
    assert (status, reads, app.body) == (413, 0, None)
    assert json.loads(body)["files"][0]["error"] == "This file is larger than the upload limit of 1 MB."


def test_a_body_without_length_is_cut_off_at_the_limit(small_uploads, project):
    status, body, reads, app = call(f"/projects/{project.pk}/upload/", [b"x" * MiB] * 10)
    assert (status, reads, app.body) == (413, 3, None)  # the third MiB passed the limit; the rest stayed unread
    assert body == b"This file is larger than the upload limit of 1 MB."


def test_other_urls_refuse_big_bodies_in_plain_words(settings):
    status, body, reads, _ = call("/accounts/login/", [b"x" * MiB] * 3)
    assert status == 413 and body == b"This request is too large for the server."


def test_a_body_within_the_limit_reaches_django_from_disk(small_uploads, project):
    chunks = [bytes([n]) * (MiB // 2) for n in range(3)]
    status, _, reads, app = call(f"/projects/{project.pk}/upload/", chunks)
    assert (status, reads) == (200, 3)
    assert app.body == b"".join(chunks)
    assert app.rolled_to_disk and len(app.body) > SPOOL_MEMORY
