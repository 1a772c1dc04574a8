"""Freeing disk space: what can go, and going.

:func:`plan` lists exactly what a cleanup would delete (the dry run);
:func:`execute` deletes what a plan listed, re-checking each item, so a
real run never frees more than its dry run showed. Nothing used by a queued
or running render is ever listed. Render rows stay in the history, marked
"output deleted".
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import pgettext

from projects.models import Asset
from rendering import shared_cache
from rendering.models import ACTIVE, HAS_OUTPUT, Render, RenderBatch, Status

log = logging.getLogger(__name__)

KINDS = ("outputs", "leftovers", "caches", "uploads")


@dataclass(frozen=True)
class Candidate:
    kind: str  # one of KINDS
    key: str  # stable identity: "render:12", "scratch:/path", "cache:/path", "asset:7", "orphan:outputs/..."
    size: int
    label: str
    age_days: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Scope:
    older_than_days: int | None = None
    project_id: int | None = None
    user_id: int | None = None
    outputs: bool = True
    leftovers: bool = False
    caches: bool = False
    uploads: bool = False


def plan(scope: Scope) -> list[Candidate]:
    found: list[Candidate] = []
    if scope.outputs:
        found += _outputs(scope)
    if scope.leftovers:
        found += _leftovers()
    if scope.caches:
        found += _caches(scope)
    if scope.uploads:
        found += _uploads(scope)
    return found


def execute(scope: Scope, keys: set[str] | None = None) -> list[Candidate]:
    """Delete what ``plan(scope)`` lists now (limited to ``keys`` when given:
    the keys a person saw in the dry run). Returns what was deleted."""
    deleted = []
    for candidate in plan(scope):
        if keys is not None and candidate.key not in keys:
            continue
        if _delete(candidate):
            deleted.append(candidate)
    log.info("cleanup freed %d bytes in %d items", sum(c.size for c in deleted), len(deleted))
    return deleted


def _cutoff(scope: Scope):
    return timezone.now() - timedelta(days=scope.older_than_days) if scope.older_than_days else None


def _age(when) -> float | None:
    return (timezone.now() - when).total_seconds() / 86400 if when else None


def _outputs(scope: Scope) -> list[Candidate]:
    renders = Render.objects.filter(HAS_OUTPUT)
    if (cutoff := _cutoff(scope)) is not None:
        renders = renders.filter(finished_at__lt=cutoff)
    if scope.project_id:
        renders = renders.filter(batch__project_id=scope.project_id)
    if scope.user_id:
        renders = renders.filter(batch__owner_id=scope.user_id)
    renders = renders.select_related("batch", "batch__project", "batch__owner", "source").order_by("finished_at")
    return [
        Candidate(
            "outputs", f"render:{r.pk}", r.output_size or 0,
            f"{r.batch.owner.username} / {r.batch.project.name} / {r.batch.name} / {r.source.original_name}",
            _age(r.finished_at),
        )
        for r in renders
    ]


def _leftovers() -> list[Candidate]:
    """Scratch directories of renders that are not running (a killed job
    cannot clean up), and output files no render points to."""
    found = []
    running = set(Render.objects.filter(status=Status.RUNNING).values_list("pk", flat=True))
    scratch = Path(settings.HEYGEM_SCRATCH_DIR)
    if scratch.is_dir():
        for path in sorted(scratch.glob("render-*")):
            try:
                render_id = int(path.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if render_id in running:
                continue
            found.append(Candidate("leftovers", f"scratch:{path}", _tree_size(path), path.name,
                                   _age_of_path(path)))
    referenced = set(Render.objects.exclude(output="").values_list("output", flat=True))
    for name, size in _storage_walk("outputs"):
        # A worker saves the file a moment before its row commits: only an
        # hour-old file that nothing points to is an orphan.
        if name not in referenced and _storage_age_hours(name) > 1:
            found.append(Candidate("leftovers", f"orphan:{name}", size, name))
    return found


def _in_use_hashes() -> set[str]:
    """sha256 of every input of a queued or running render."""
    active = Render.objects.filter(status__in=ACTIVE)
    return (
        set(active.values_list("source__sha256", flat=True))
        | set(active.values_list("batch__audio__sha256", flat=True))
        | set(active.exclude(audio=None).values_list("audio__sha256", flat=True))
    )


def _caches(scope: Scope) -> list[Candidate]:
    """Mel and face-track caches of files that are not in any project any
    more (or older than the cut-off), except those a queued or running
    render needs."""
    found = []
    in_use = _in_use_hashes()
    existing = set(Asset.objects.values_list("sha256", flat=True))
    cutoff_days = scope.older_than_days
    root = Path(settings.HEYGEM_CACHE_DIR)
    for path in sorted(root.glob("*/*")) if root.is_dir() else []:
        if not path.is_file():
            continue
        sha = _cache_sha(path)
        if sha in in_use:
            continue
        age = _age_of_path(path)
        stale = cutoff_days is not None and age is not None and age > cutoff_days
        if sha not in existing or stale:
            found.append(Candidate("caches", f"cache:{path}", path.stat().st_size,
                                   f"{path.parent.name}/{path.name}", age))
    # The copies shared through the bucket (HEYGEM_STORAGE=s3), by the same rule.
    for key, size, modified in shared_cache.bucket_entries(with_dates=True):
        path = Path(key)
        sha = _cache_sha(path)
        if sha in in_use:
            continue
        age = (timezone.now() - modified).total_seconds() / 86400
        stale = cutoff_days is not None and age > cutoff_days
        if sha not in existing or stale:
            found.append(Candidate("caches", f"bucketcache:{key}", size,
                                   f"{pgettext('storage', 'bucket')}: {path.parent.name}/{path.name}", age))
    return found


def _uploads(scope: Scope) -> list[Candidate]:
    """Uploaded files no render and no template uses (render history keeps
    its inputs), optionally older than the cut-off."""
    assets = Asset.objects.filter(renders__isnull=True, templates__isnull=True).exclude(
        Q(sha256__in=_in_use_hashes())
    )
    if (cutoff := _cutoff(scope)) is not None:
        assets = assets.filter(created_at__lt=cutoff)
    if scope.project_id:
        assets = assets.filter(project_id=scope.project_id)
    if scope.user_id:
        assets = assets.filter(project__owner_id=scope.user_id)
    assets = assets.exclude(pk__in=_batch_audio_ids()).select_related("project", "project__owner")
    return [
        Candidate("uploads", f"asset:{a.pk}", a.size,
                  f"{a.project.owner.username} / {a.project.name} / {a.original_name}", _age(a.created_at))
        for a in assets.distinct()
    ]


def _cache_sha(path: Path) -> str:
    """The input sha256 a cache file belongs to (`<sha>.npz`, `<sha>-<settings>.npz`)."""
    return path.name.split(".")[0].split("-")[0]


def _batch_audio_ids() -> set[int]:
    return set(RenderBatch.objects.values_list("audio_id", flat=True)) | set(
        Render.objects.exclude(audio=None).values_list("audio_id", flat=True)
    )


def _delete(candidate: Candidate) -> bool:
    kind, _, ident = candidate.key.partition(":")
    if kind == "render":
        render = Render.objects.filter(HAS_OUTPUT, pk=int(ident)).first()
        if render is None:
            return False
        render.output.storage.delete(render.output.name)
        Render.objects.filter(pk=render.pk).update(output_deleted_at=timezone.now())
        return True
    if kind == "scratch":
        path = Path(ident)
        render_id = int(path.name.split("-")[1])
        if Render.objects.filter(pk=render_id, status=Status.RUNNING).exists():
            return False
        shutil.rmtree(path, ignore_errors=True)
        return True
    if kind == "orphan":
        if Render.objects.filter(output=ident).exists():
            return False
        default_storage.delete(ident)
        return True
    if kind == "cache":
        path = Path(ident)
        if _cache_sha(path) in _in_use_hashes():
            return False
        path.unlink(missing_ok=True)
        return True
    if kind == "bucketcache":
        if _cache_sha(Path(ident)) in _in_use_hashes():
            return False
        shared_cache.delete(ident)
        return True
    if kind == "asset":
        asset = Asset.objects.filter(pk=int(ident), renders__isnull=True, templates__isnull=True).first()
        if asset is None or asset.sha256 in _in_use_hashes() or asset.pk in _batch_audio_ids():
            return False
        for field in (asset.file, asset.poster):
            if field:
                field.storage.delete(field.name)
        asset.delete()
        return True
    return False


def _tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


def _age_of_path(path: Path) -> float | None:
    try:
        return (timezone.now().timestamp() - path.stat().st_mtime) / 86400
    except OSError:
        return None


def _storage_age_hours(name: str) -> float:
    try:
        return (timezone.now() - default_storage.get_modified_time(name)).total_seconds() / 3600
    except (NotImplementedError, OSError):
        return 0.0


def _storage_walk(prefix: str):
    """(name, size) of every file under ``prefix`` in the default storage."""
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotImplementedError):
        return
    for name in files:
        full = f"{prefix}/{name}"
        yield full, default_storage.size(full)
    for directory in dirs:
        yield from _storage_walk(f"{prefix}/{directory}")


def parse_age(text: str) -> int:
    """'30d', '30', '2w' -> days."""
    text = text.strip().lower()
    units = {"d": 1, "w": 7}
    if text and text[-1] in units:
        number, unit = text[:-1], units[text[-1]]
    else:
        number, unit = text, 1
    if not number.isdigit():
        raise ValueError(f"{text!r} is not an age like 30d or 2w")
    return int(number) * unit
