"""Serving private files (uploads, posters, outputs) after an ownership check.

Without HEYGEM_ACCEL_REDIRECT_PREFIX Django streams the file itself (with
byte ranges, so players can seek). Behind Nginx the view only answers with
an X-Accel-Redirect header and Nginx sends the bytes from an `internal`
location that cannot be reached directly.
"""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import quote

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def content_disposition(filename: str, attachment: bool) -> str:
    kind = "attachment" if attachment else "inline"
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "") or "download"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def serve_private(
    request: HttpRequest, field: FieldFile, filename: str, *, attachment: bool = False
) -> HttpResponse:
    if not field or not field.name or not field.storage.exists(field.name):
        raise Http404
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    prefix = settings.HEYGEM_ACCEL_REDIRECT_PREFIX
    if prefix:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(field.name)
        response["Content-Disposition"] = content_disposition(filename, attachment)
        return response
    size = field.size
    match = _RANGE.match(request.headers.get("Range", ""))
    if match and (match.group(1) or match.group(2)):
        start_s, end_s = match.groups()
        if start_s:
            start, end = int(start_s), min(int(end_s) if end_s else size - 1, size - 1)
        else:
            start, end = max(0, size - int(end_s)), size - 1
        if start > end or start >= size:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        handle = field.open("rb")
        handle.seek(start)
        response = StreamingHttpResponse(_read_range(handle, end - start + 1), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(field.open("rb"), content_type=content_type)
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition(filename, attachment)
    response["Cache-Control"] = "private, max-age=0"
    return response


def _read_range(handle, length: int, block: int = 1 << 16):
    try:
        while length > 0:
            data = handle.read(min(block, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        handle.close()
