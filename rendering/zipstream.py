"""A zip written on the fly: bytes go to the client as they are produced,
nothing is assembled in memory or on disk first."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Iterable, Iterator

from django.db.models.fields.files import FieldFile

CHUNK = 1 << 20


class _Sink:
    """A write-only, non-seekable file: zipfile then writes data descriptors."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._pos = 0

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def pop(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


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


def stream_zip(entries: list[tuple[str, FieldFile]]) -> Iterator[bytes]:
    sink = _Sink()
    # Videos are already compressed: store them, don't deflate them again.
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, field in entries:
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.compress_type = zipfile.ZIP_STORED
            with field.open("rb") as source, archive.open(info, "w", force_zip64=True) as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    yield sink.pop()
            yield sink.pop()
    yield sink.pop()
