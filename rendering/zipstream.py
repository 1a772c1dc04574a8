"""The batch zip, written on the fly by zipstream-ng: entries are stored (videos
are compressed already), Zip64 is used where an entry or the archive needs it,
and the total size is known before the first byte (Content-Length, so the
browser shows progress). Nothing is assembled in memory or on disk: each
entry is read block by block from its storage (from a bucket, one streamed GET
per entry)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from django.db.models.fields.files import FieldFile
from zipstream import ZIP_STORED, ZipStream

from heygem_site.files import open_stream

CHUNK = 1 << 18


def safe_name(name: str, limit: int = 120) -> str:
    """A file name that unpacks safely everywhere: no directories, no
    characters Windows refuses, no leading dots."""
    name = re.sub(r'[\x00-\x1f<>:"/\\|?*]+', "_", name).strip(" .")
    return (name or "video")[:limit]


def unique_names(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for name in names:
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        candidate, n = name, 2
        while candidate.lower() in seen:
            candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
            n += 1
        seen.add(candidate.lower())
        result.append(candidate)
    return result


def _chunks(field: FieldFile) -> Iterator[bytes]:
    # Opened when the zip writer reaches this entry, closed when it is done
    # (or when the download stops and the writer is closed).
    with open_stream(field) as source:
        while chunk := source.read(CHUNK):
            yield chunk


def zip_stream(entries: list[tuple[str, FieldFile]]) -> ZipStream:
    """A sized ZipStream of the given (name in the zip, file) pairs: `len()`
    is the archive's size, iterating it yields the archive (blocking reads)."""
    archive = ZipStream(compress_type=ZIP_STORED, sized=True)
    for name, field in entries:
        archive.add(_chunks(field), name, size=field.size)
    return archive
