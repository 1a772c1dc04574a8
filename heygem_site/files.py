"""Serving private files (uploads, posters, outputs) after an ownership check.

Without HEYGEM_ACCEL_REDIRECT_PREFIX Django streams the file itself (with
byte ranges, so players can seek). Behind Nginx the view only answers with
an X-Accel-Redirect header and Nginx sends the bytes from an `internal`
location that cannot be reached directly.

Under daphne (ASGI) Django reads a *synchronous* iterator to the end before it
sends the first byte, so a FileResponse of a 1 GB video costs 1 GB of memory.
Every body here is an *async* iterator instead: one block is read (in a
thread, off the event loop), sent, and only then is the next one read. When
the client goes away Django closes the iterator, which closes the file.

With an S3-compatible bucket (HEYGEM_STORAGE=s3) a download is, after the
same ownership check, either a redirect to a short-lived presigned URL that
names the disposition and content type (HEYGEM_S3_DOWNLOADS=presigned), or
streamed by this process from ranged GETs (proxy): django-storages' own
File reads the whole object first, so nothing here opens one for reading.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import re
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO
from urllib.parse import quote

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse

BLOCK = 1 << 18  # 256 KiB: few thread hops per MB, little memory per download
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def content_disposition(filename: str, attachment: bool) -> str:
    """The header for a user-chosen name: control characters (a line break
    would make Django refuse the header, a 500) are dropped, the ASCII
    fallback loses quotes and backslashes, the full name goes in filename*."""
    kind = "attachment" if attachment else "inline"
    filename = "".join(ch for ch in filename if ch.isprintable()).strip() or "download"
    ascii_name = re.sub(r'["\\]', "", filename.encode("ascii", "ignore").decode()).strip() or "download"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


# Blocking reads run here, one at a time per download.
_READS = ThreadPoolExecutor(thread_name_prefix="heygem-read")


class _Blocking:
    """Runs one blocking call at a time in a thread for one async iterator.
    Cleanup waits for a call still in flight: when the client disconnects the
    iterator is closed while a read may still run, and a file must not be
    closed (nor a generator closed) under that read."""

    def __init__(self) -> None:
        self._pending: Future | None = None

    async def __call__(self, fn: Callable, *args):
        self._pending = _READS.submit(fn, *args)
        return await asyncio.wrap_future(self._pending)

    def finally_(self, cleanup: Callable[[], None]) -> None:
        if self._pending is None or self._pending.done():
            cleanup()
        else:
            self._pending.add_done_callback(lambda _: cleanup())


async def aiter_file(
    open_file: Callable[[], IO[bytes]], *, start: int = 0, length: int | None = None, block: int = BLOCK
) -> AsyncIterator[bytes]:
    """Blocks of a file until EOF or `length` bytes. The file is opened on the
    first block (a response that is never sent holds nothing open) and closed
    however the iteration ends (end of data, client gone, error)."""
    run = _Blocking()
    handle = await run(open_file)
    try:
        if start:
            await run(handle.seek, start)
        while length is None or length > 0:
            data = await run(handle.read, block if length is None else min(block, length))
            if not data:
                break
            if length is not None:
                length -= len(data)
            yield data
    finally:
        run.finally_(handle.close)


async def aiter_sync(iterator: Iterator[bytes]) -> AsyncIterator[bytes]:
    """A blocking iterator (e.g. a zip writer reading files) driven one step
    at a time in a thread: nothing is produced ahead of what was sent."""
    run = _Blocking()
    done = object()
    try:
        while (part := await run(next, iterator, done)) is not done:
            yield part
    finally:
        run.finally_(getattr(iterator, "close", lambda: None))


# --- S3-compatible storage -----------------------------------------------------


def is_remote(storage) -> bool:
    """Whether ``storage`` is a bucket (django-storages' S3Storage) rather than local files."""
    return hasattr(storage, "bucket_name") and hasattr(storage, "connection")


def object_key(storage, name: str) -> str:
    from storages.utils import clean_name

    return storage._normalize_name(clean_name(name))


class ObjectReader:
    """A read-only stream of one object (or one byte range of it): a single
    GET whose body is read block by block, never whole."""

    def __init__(self, storage, name: str, start: int = 0, length: int | None = None) -> None:
        if length == 0:
            self._body = io.BytesIO()
            return
        params = {"Bucket": storage.bucket_name, "Key": object_key(storage, name)}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            params["Range"] = f"bytes={start}-{end}"
        self._body = storage.connection.meta.client.get_object(**params)["Body"]

    def read(self, size: int = BLOCK) -> bytes:
        return self._body.read(size)

    def seek(self, offset: int) -> None:  # the range is chosen when opening
        raise OSError("ObjectReader cannot seek")

    def close(self) -> None:
        self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_stream(field: FieldFile, start: int = 0, length: int | None = None) -> IO[bytes]:
    """The file behind ``field`` for reading front to back in blocks, from
    ``start`` (``length`` bytes, or to the end), with bounded memory."""
    storage = field.storage
    if is_remote(storage):
        return ObjectReader(storage, field.name, start, length)
    handle = storage.open(field.name, "rb")
    if start:
        handle.seek(start)
    return handle


def download_to(field: FieldFile, target) -> None:
    """Copy a stored file to a local path (multipart, streamed to disk)."""
    storage = field.storage
    if is_remote(storage):
        storage.connection.meta.client.download_file(
            storage.bucket_name, object_key(storage, field.name), str(target), Config=storage.transfer_config
        )
        return
    import shutil

    with storage.open(field.name, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def presigned_url(field: FieldFile, filename: str, content_type: str, attachment: bool) -> str:
    storage = field.storage
    return storage.url(
        field.name,
        parameters={
            "ResponseContentDisposition": content_disposition(filename, attachment),
            "ResponseContentType": content_type,
            "ResponseCacheControl": "private, max-age=0",
        },
        expire=settings.AWS_QUERYSTRING_EXPIRE,
    )


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The (start, end) bytes, both included, that a ``Range`` header asks of
    a file of ``size`` bytes; None for no range (or one we do not read, e.g.
    several ranges: the whole file then). Raises ValueError when the range
    starts past the end (416)."""
    match = _RANGE.match(header)
    if not match or not (match.group(1) or match.group(2)):
        return None
    start_s, end_s = match.groups()
    if start_s:
        start, end = int(start_s), min(int(end_s) if end_s else size - 1, size - 1)
    else:
        start, end = max(0, size - int(end_s)), size - 1
    if start > end or start >= size:
        raise ValueError(header)
    return start, end


def _streamed(
    request: HttpRequest,
    size: int,
    open_at: Callable[[int, int], IO[bytes]],
    *,
    filename: str,
    content_type: str,
    attachment: bool,
    cache_control: str,
) -> HttpResponse:
    """The one way this process sends a file's bytes: by async iteration,
    with byte ranges (206 and Content-Range, 416 past the end) so players can
    seek. ``open_at(start, length)`` opens the file positioned at ``start``;
    it runs in a thread on the first block."""
    try:
        wanted = _byte_range(request.headers.get("Range", ""), size)
    except ValueError:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = wanted or (0, size - 1)
    length = max(0, end - start + 1)
    response = StreamingHttpResponse(
        aiter_file(lambda: open_at(start, length), length=length),
        status=206 if wanted else 200,
        content_type=content_type,
    )
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition(filename, attachment)
    response["Cache-Control"] = cache_control
    return response


def _open_local(path, start: int) -> IO[bytes]:
    handle = open(path, "rb")
    if start:
        handle.seek(start)
    return handle


def serve_local(request: HttpRequest, path, filename: str, content_type: str = "") -> HttpResponse:
    """A file of the server's own (not a member's upload: e.g. a voice's
    sample), streamed like the private files, byte ranges included. Whoever
    calls it has already decided who may hear it."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise Http404
    return _streamed(
        request,
        path.stat().st_size,
        lambda start, _length: _open_local(path, start),
        filename=filename,
        content_type=content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream",
        attachment=False,
        cache_control="private, max-age=3600",
    )


def serve_private(request: HttpRequest, field: FieldFile, filename: str, *, attachment: bool = False) -> HttpResponse:
    if not field or not field.name or not field.storage.exists(field.name):
        raise Http404
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    remote = is_remote(field.storage)
    if remote and settings.HEYGEM_S3_DOWNLOADS == "presigned":
        # The bucket answers byte ranges itself: players can seek.
        response = HttpResponseRedirect(presigned_url(field, filename, content_type, attachment))
        response["Cache-Control"] = "private, no-store"
        return response
    prefix = settings.HEYGEM_ACCEL_REDIRECT_PREFIX
    if prefix and not remote:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(field.name)
        response["Content-Disposition"] = content_disposition(filename, attachment)
        return response
    return _streamed(
        request,
        field.size,
        lambda start, length: open_stream(field, start, length),
        filename=filename,
        content_type=content_type,
        attachment=attachment,
        cache_control="private, max-age=0",
    )
