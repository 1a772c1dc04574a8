"""A real S3 server for the storage tests: `moto_server` (from moto[server]),
a separate HTTP process on a free loopback port, holding one bucket. The tests
switch the default storage to it (as HEYGEM_STORAGE=s3 does) and give the
processes they start the same environment a machine of a real deployment has."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from heygem_site.embedded_redis import free_port
from heygem_site.settings import s3_storage
from tests.processes import spawn, stop, wait_for_http
from tests.queues import empty_queues  # noqa: F401 (autouse: each test starts with empty queues)

BUCKET = "heygem-test"
REGION = "us-east-1"
KEYS = {"AWS_ACCESS_KEY_ID": "heygem-test-key", "AWS_SECRET_ACCESS_KEY": "heygem-test-secret"}


def moto_server_command() -> str:
    found = Path(sys.executable).with_name("moto_server")
    return str(found) if found.exists() else shutil.which("moto_server")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The endpoint URL of a running moto_server with an empty private bucket."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = spawn([moto_server_command(), "-H", "127.0.0.1", "-p", str(port)],
                 stdout=log.open("wb"), stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(endpoint + "/moto-api/", proc, timeout=60)
        client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        stop(proc)


def client(endpoint: str):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4"),
    )


def s3_env(endpoint: str, **extra: str) -> dict[str, str]:
    """What a web or worker process of an S3 deployment is given (besides
    DATABASE_URL and REDIS_URL)."""
    return {
        "HEYGEM_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ADDRESSING_STYLE": "path",
        **KEYS,
        **extra,
    }


@pytest.fixture
def bucket(s3_server, settings):
    """This test process stores in the bucket (HEYGEM_STORAGE=s3), which starts empty."""
    s3 = client(s3_server)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    settings.HEYGEM_STORAGE = "s3"
    settings.HEYGEM_S3_DOWNLOADS = "presigned"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage(BUCKET, s3_server, REGION, KEYS["AWS_ACCESS_KEY_ID"], KEYS["AWS_SECRET_ACCESS_KEY"],
                              "path", part_mb=5),
    }
    yield s3


def keys(s3, prefix: str = "") -> dict[str, int]:
    """Every object in the bucket under ``prefix``: key -> size."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        found.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
    return found
