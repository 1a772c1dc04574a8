"""Worker caches shared through the bucket.

Each worker keeps its mel features (per audio sha256) and face tracks (per
video sha256 and detection settings) in HEYGEM_CACHE_DIR on its own machine.
With an S3-compatible bucket (HEYGEM_STORAGE=s3) the same files also go to the
bucket under ``cache/``, keyed by the same content hashes, so a worker on
another machine downloads what one worker computed instead of computing it
again. On local storage the machine's cache directory is already shared by
every worker on it, and nothing here does anything.

A cache entry is derived data: a bucket that cannot be reached makes a miss
(the worker computes and keeps going), never a failed render.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from django.core.files.storage import default_storage

from heygem_site.files import is_remote, object_key
from ml.track import FaceTrack, TrackCache

log = logging.getLogger(__name__)

PREFIX = "cache"


def enabled() -> bool:
    return is_remote(default_storage)


def bucket_key(kind: str, filename: str) -> str:
    return f"{PREFIX}/{kind}/{filename}"


def fetch(kind: str, local: Path) -> bool:
    """Download the bucket's copy of ``local`` (cache/<kind>/<name>) when there
    is one; True when ``local`` now exists."""
    if local.is_file():
        return True
    if not enabled():
        return False
    from botocore.exceptions import BotoCoreError, ClientError  # boto3 is loaded only with a bucket

    storage = default_storage
    partial = local.with_name(f".{local.name}.{os.getpid()}.part")
    try:
        storage.connection.meta.client.download_file(
            storage.bucket_name, object_key(storage, bucket_key(kind, local.name)), str(partial),
            Config=storage.transfer_config,
        )
    except ClientError as err:
        partial.unlink(missing_ok=True)
        if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            log.warning("could not read the shared cache entry %s: %s", local.name, err)
        return False
    except BotoCoreError as err:
        partial.unlink(missing_ok=True)
        log.warning("could not read the shared cache entry %s: %s", local.name, err)
        return False
    partial.replace(local)  # other workers on this machine never see half a file
    return True


def publish(kind: str, local: Path) -> None:
    """Upload a freshly computed cache file for the other machines. Same
    content hash, same bytes: a second upload of one key changes nothing."""
    if not enabled() or not local.is_file():
        return
    from botocore.exceptions import BotoCoreError, ClientError

    storage = default_storage
    extra = {"ContentType": "application/octet-stream"}
    if storage.default_acl:
        extra["ACL"] = storage.default_acl
    try:
        storage.connection.meta.client.upload_file(
            str(local), storage.bucket_name, object_key(storage, bucket_key(kind, local.name)),
            ExtraArgs=extra, Config=storage.transfer_config,
        )
    except (BotoCoreError, ClientError) as err:
        log.warning("could not share the cache entry %s: %s", local.name, err)


def bucket_entries(*, with_dates: bool = False) -> list[tuple]:
    """(key, size[, last modified]) of every shared cache object (for the
    disk page and cleanup)."""
    if not enabled():
        return []
    storage = default_storage
    paginator = storage.connection.meta.client.get_paginator("list_objects_v2")
    entries = []
    for page in paginator.paginate(Bucket=storage.bucket_name, Prefix=object_key(storage, PREFIX) + "/"):
        for item in page.get("Contents", []):
            entry = (item["Key"], item["Size"], item["LastModified"]) if with_dates else (item["Key"], item["Size"])
            entries.append(entry)
    return entries


def delete(key: str) -> None:
    storage = default_storage
    storage.connection.meta.client.delete_object(Bucket=storage.bucket_name, Key=key)


class SharedTrackCache(TrackCache):
    """The machine's face-track cache, backed by the bucket."""

    def get(self, video_sha256: str, detector: str, settings: dict) -> FaceTrack | None:
        path = self.path(video_sha256, detector, settings)
        if not path.is_file():
            self.directory.mkdir(parents=True, exist_ok=True)
            fetch("tracks", path)
        return super().get(video_sha256, detector, settings)

    def put(self, video_sha256: str, detector: str, settings: dict, track: FaceTrack) -> Path:
        path = super().put(video_sha256, detector, settings, track)
        publish("tracks", path)
        return path
