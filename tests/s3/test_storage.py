"""HEYGEM_STORAGE=s3 against a real S3 server (moto_server on loopback):
uploads, posters, outputs, downloads, zips, renders, cleanup and the disk page,
in this process."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from rendering import cleanup
from rendering.models import Status
from rendering.worker import run_worker
from tests import mediafactory
from tests.rendering.helpers import add_asset, finish, start_batch
from tests.s3.conftest import BUCKET, keys
from tests.streams import body

pytestmark = pytest.mark.django_db(transaction=True)

VIDEO = bytes(range(256)) * 400  # 100 KiB standing in for a video


def test_an_upload_and_its_poster_go_to_the_bucket_as_private_objects(bucket, alice_client, project, face_clip):
    with face_clip.open("rb") as fh:
        response = alice_client.post(reverse("projects:upload", args=[project.pk]), {"files": fh},
                                     headers={"accept": "application/json"})
    assert response.status_code == 200 and response.json()["files"][0]["ok"], response.content
    asset = project.assets.get()
    stored = keys(bucket)
    assert stored[asset.file.name] == face_clip.stat().st_size
    assert asset.poster and asset.poster.name in stored
    for key in (asset.file.name, asset.poster.name):
        grants = bucket.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner only: no public grant
        assert all(g["Grantee"].get("Type") == "CanonicalUser" for g in grants)


def test_an_existing_key_is_never_overwritten(bucket):
    first = default_storage.save("uploads/same/name.bin", ContentFile(b"first"))
    second = default_storage.save("uploads/same/name.bin", ContentFile(b"second"))
    assert first != second
    assert bucket.get_object(Bucket=BUCKET, Key=first)["Body"].read() == b"first"
    assert bucket.get_object(Bucket=BUCKET, Key=second)["Body"].read() == b"second"


def test_a_big_file_goes_up_in_parts(bucket, tmp_path):
    # The tests' storage uses 5 MB parts (the smallest S3 allows); 12 MB is three parts.
    data = bytes(range(256)) * (12 * 4096)
    name = default_storage.save("outputs/big.bin", ContentFile(data))
    head = bucket.head_object(Bucket=BUCKET, Key=name)
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload's ETag counts its parts


def test_a_download_is_a_short_presigned_link_after_the_ownership_check(bucket, alice, alice_client, bob_client,
                                                                        project, audio, video):
    render = start_batch(alice, project, audio, [video]).renders.get()
    finish(render, VIDEO)
    url = reverse("rendering:render_file", args=[render.pk])
    assert bob_client.get(url).status_code == 404
    assert bob_client.get(url + "?download=1").status_code == 404

    response = alice_client.get(url + "?download=1")
    assert response.status_code == 302
    link = response["Location"]
    assert "X-Amz-Signature=" in link and "X-Amz-Expires=300" in link
    fetched = requests.get(link, timeout=10)
    assert fetched.status_code == 200 and fetched.content == VIDEO
    assert fetched.headers["Content-Type"] == "video/mp4"
    assert fetched.headers["Content-Disposition"].startswith('attachment; filename="presenter - Lesson 1.mp4"')

    inline = requests.get(alice_client.get(url)["Location"], headers={"Range": "bytes=1000-1999"}, timeout=10)
    assert inline.status_code == 206 and inline.content == VIDEO[1000:2000]  # players can seek
    assert inline.headers["Content-Disposition"].startswith("inline")


def test_a_proxied_download_streams_byte_ranges_from_the_bucket(bucket, settings, alice, alice_client, bob_client,
                                                                project, audio, video):
    settings.HEYGEM_S3_DOWNLOADS = "proxy"
    render = start_batch(alice, project, audio, [video]).renders.get()
    finish(render, VIDEO)
    url = reverse("rendering:render_file", args=[render.pk])
    assert bob_client.get(url).status_code == 404
    whole = alice_client.get(url)
    assert whole.status_code == 200 and whole["Content-Length"] == str(len(VIDEO)) and body(whole) == VIDEO
    part = alice_client.get(url, headers={"range": "bytes=5000-"})
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 5000-{len(VIDEO) - 1}/{len(VIDEO)}"
    assert body(part) == VIDEO[5000:]


def test_the_batch_zip_streams_from_the_bucket(bucket, alice, alice_client, bob_client, project, audio, video):
    batch = start_batch(alice, project, audio, [video, video])
    for n, render in enumerate(batch.renders.order_by("position")):
        finish(render, VIDEO * (n + 1))
    url = reverse("rendering:batch_zip", args=[batch.pk])
    assert bob_client.get(url).status_code == 404
    response = alice_client.get(url)
    data = body(response)
    assert response["Content-Length"] == str(len(data))
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert [archive.read(name) for name in archive.namelist()] == [VIDEO, VIDEO * 2]


def test_a_render_fetches_its_inputs_uploads_its_output_and_shares_its_caches(bucket, settings, alice, project,
                                                                              short_speech, model_dir, tmp_path):
    # Few frames: 0.6 s of speech on a small 12 fps clip.
    audio = add_asset(project, mediafactory.cut_audio(short_speech, tmp_path / "voice.wav", 0.6))
    video = add_asset(project, mediafactory.make_face_clip(tmp_path / "take.mp4", seconds=0.6, fps=12,
                                                           size=(160, 120)))
    first = start_batch(alice, project, audio, [video])
    run_worker(["gpu"], burst=True)
    render = first.renders.get()
    assert render.status == Status.SUCCEEDED, render.log
    stored = keys(bucket)
    assert stored[render.output.name] == render.output_size > 0
    assert f"cache/mel/{audio.sha256}.npz" in stored
    assert any(k.startswith(f"cache/tracks/{video.sha256}-") for k in stored)
    assert not list(settings.HEYGEM_SCRATCH_DIR.glob(f"render-{render.pk}-*"))  # scratch copies removed

    # Another machine: an empty cache directory of its own. It takes the mel
    # and the face track from the bucket instead of computing them again.
    settings.HEYGEM_CACHE_DIR = tmp_path / "other-machine-cache"
    second = start_batch(alice, project, audio, [video], name="Lesson 2")
    run_worker(["gpu"], burst=True)
    again = second.renders.get()
    assert again.status == Status.SUCCEEDED, again.log
    assert "reused from the shared cache" in again.log
    assert again.manifest["track_cache_hit"] is True
    assert (tmp_path / "other-machine-cache" / "mel" / f"{audio.sha256}.npz").is_file()


def test_cleanup_and_the_disk_page_see_the_bucket(bucket, staff_client, alice, project, audio, video):
    render = start_batch(alice, project, audio, [video]).renders.get()
    finish(render, VIDEO)
    orphan_cache = "cache/mel/" + "0" * 64 + ".npz"  # the mel of an audio no project has any more
    bucket.put_object(Bucket=BUCKET, Key=orphan_cache, Body=b"x" * 1000)

    page = staff_client.get(reverse("ops:dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-kind="outputs">100.0\xa0KB' in html
    assert 'data-kind="caches">1000\xa0bytes' in html
    assert "Free on the storage volume" not in html  # a bucket has no free space to show

    planned = cleanup.plan(cleanup.Scope(outputs=True, caches=True))
    assert {c.key for c in planned} == {f"render:{render.pk}", f"bucketcache:{orphan_cache}"}
    deleted = cleanup.execute(cleanup.Scope(outputs=True, caches=True), {c.key for c in planned})
    assert len(deleted) == 2
    stored = keys(bucket)
    assert render.output.name not in stored and orphan_cache not in stored
    assert audio.file.name in stored and video.file.name in stored  # inputs stay
    render.refresh_from_db()
    assert render.output_deleted_at is not None


def test_a_file_on_disk_goes_up_from_its_path_in_parts(bucket, tmp_path):
    from django.core.files import File

    source = tmp_path / "take.bin"
    source.write_bytes(bytes(range(256)) * (11 * 4096))  # 11 MB: three 5 MB parts
    with source.open("rb") as fh:
        name = default_storage.save("uploads/take.bin", File(fh))
    head = bucket.head_object(Bucket=BUCKET, Key=name)
    assert head["ETag"].strip('"').endswith("-3") and head["ContentLength"] == source.stat().st_size
    assert bucket.get_object(Bucket=BUCKET, Key=name, Range="bytes=0-9")["Body"].read() == source.read_bytes()[:10]
    assert bucket.get_object_acl(Bucket=BUCKET, Key=name)["Grants"][0]["Permission"] == "FULL_CONTROL"


def test_a_render_fails_with_a_clear_message_when_the_bucket_is_unreachable(bucket, settings, alice, project,
                                                                             audio, video):
    from botocore.config import Config

    from heygem_site.embedded_redis import free_port
    from heygem_site.settings import s3_storage
    from rendering.jobs import render_item
    from rendering.messages import error_text
    from tests.s3.conftest import KEYS, REGION

    render = start_batch(alice, project, audio, [video]).renders.get()
    working = settings.STORAGES
    gone = s3_storage(BUCKET, f"http://127.0.0.1:{free_port()}", REGION, KEYS["AWS_ACCESS_KEY_ID"],
                      KEYS["AWS_SECRET_ACCESS_KEY"], "path")
    gone["OPTIONS"]["client_config"] = Config(retries={"max_attempts": 1}, connect_timeout=2,
                                              signature_version="s3v4", s3={"addressing_style": "path"})
    settings.STORAGES = {**working, "default": gone}
    render_item(render.pk)
    render.refresh_from_db()
    assert (render.status, render.error_code) == (Status.FAILED, "storage_unavailable")
    assert "Nothing was lost: retry the item." in error_text(render.error_code)
    assert "Traceback" not in render.log  # the member's log: a sentence, not a traceback
    settings.STORAGES = working
    assert {audio.file.name, video.file.name} <= set(keys(bucket))  # the inputs are still there
