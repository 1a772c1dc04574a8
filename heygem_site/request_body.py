"""Request bodies with bounded memory, and a size limit enforced as they arrive.

Django's ASGIHandler collects the body in a SpooledTemporaryFile that rolls
over to disk only past FILE_UPLOAD_MAX_MEMORY_SIZE, which is 0 here (so that
every uploaded *file* gets a path on disk): a body of any size stayed in
memory. And HEYGEM_MAX_UPLOAD_MB was checked only after the whole body had
arrived. Here:

- Only the upload endpoints take big bodies (HEYGEM_MAX_UPLOAD_MB plus room
  for the multipart framing); every other URL takes what Django would parse
  anyway (DATA_UPLOAD_MAX_MEMORY_SIZE). `body_limit` says which.
- `BoundedBody` (ASGI middleware in front of Django) answers 413 from the
  Content-Length header alone, without reading the body, and otherwise spools
  the body to a temporary file (memory only up to SPOOL_MEMORY), refusing it
  as soon as it grows past the limit (chunked uploads have no length).
- `heygem_site.webserver` (how HeyGem runs daphne) applies the same limit
  while the bytes arrive, before the application starts, and hands its
  on-disk body file over instead of pushing the body through memory.
"""

from __future__ import annotations

import contextvars
import json
import tempfile
from typing import IO
from urllib.parse import unquote

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.translation import gettext as _

# Bodies up to this size stay in memory; larger ones go to a temporary file.
SPOOL_MEMORY = 1 << 20
# Multipart framing around the file: boundaries, part headers, the CSRF token, form fields.
MULTIPART_OVERHEAD = 1 << 20
# The URLs that accept media files (one file per request from the upload page
# and the API; the batch form takes one audio file).
UPLOAD_URLS = {"projects:upload", "rendering:batch_create", "api:asset-list"}
# The scope extension under which heygem_site.webserver hands over the body file.
BODY_FILE_EXTENSION = "heygem.body_file"

_body_file: contextvars.ContextVar[IO[bytes] | None] = contextvars.ContextVar("heygem_body_file", default=None)


def is_upload_url(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.view_name in UPLOAD_URLS


def body_limit(path: str) -> int:
    """The most bytes a request body to `path` may have."""
    if is_upload_url(path):
        return settings.HEYGEM_MAX_UPLOAD_MB * 1024 * 1024 + MULTIPART_OVERHEAD
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def too_large(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The 413 answer (headers, body) in the user's language: JSON in the
    shape the upload page reads when it asked for JSON (or the API's, under
    /api/), plain text otherwise."""
    request = HttpRequest()
    for name, value in headers:
        key = name.decode("latin1").upper().replace("-", "_")
        if key == "COOKIE":
            request.COOKIES = parse_cookie(value.decode("latin1"))
        request.META["HTTP_" + key] = value.decode("latin1")
    upload = is_upload_url(path)
    with translation.override(translation.get_language_from_request(request)):
        if upload:
            message = _("This file is larger than the upload limit of %(limit)s MB.") % {
                "limit": settings.HEYGEM_MAX_UPLOAD_MB
            }
        else:
            message = _("This request is too large for the server.")
    if path.startswith("/api/"):  # the API's error shape (api/errors.py)
        payload = {"error": {"code": "too_large", "message": message}}
        return [(b"content-type", b"application/json")], json.dumps(payload).encode()
    if upload and "application/json" in request.META.get("HTTP_ACCEPT", ""):
        payload = {"files": [{"ok": False, "error": message}], "error": message}
        return [(b"content-type", b"application/json")], json.dumps(payload).encode()
    return [(b"content-type", b"text/plain; charset=utf-8")], message.encode()


async def _send_too_large(scope: dict, send) -> None:
    headers, body = too_large(scope["path"], scope["headers"])
    headers += [(b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BoundedBody:
    """ASGI middleware in front of Django's HTTP handler (see module doc)."""

    def __init__(self, app: ASGIHandler) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive, send) -> None:
        limit = body_limit(scope["path"])
        declared = declared_length(scope["headers"])
        if declared is not None and declared > limit:
            await _send_too_large(scope, send)
            return
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, mode="w+b")
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body.close()
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                body.close()
                await _send_too_large(scope, send)
                return
            body.write(chunk)
            if not message.get("more_body", False):
                break
        handed_over = scope.get("extensions", {}).get(BODY_FILE_EXTENSION)
        if handed_over is not None:  # heygem_site.webserver kept the body on disk
            body.close()
            body = handed_over["file"]
        body.seek(0)
        token = _body_file.set(body)
        try:
            await self.app(scope, receive, send)
        finally:
            _body_file.reset(token)
            body.close()


class BodyFileASGIHandler(ASGIHandler):
    """Django's handler, taking the body BoundedBody already read."""

    async def read_body(self, receive) -> IO[bytes]:
        body = _body_file.get()
        if body is None:
            return await super().read_body(receive)
        return body


def path_from_target(target: bytes) -> str:
    """The decoded path of a request target (as daphne puts it in the scope)."""
    return unquote(target.split(b"?", 1)[0].decode("ascii", "replace"))
