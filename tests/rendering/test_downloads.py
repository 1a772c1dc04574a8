"""Downloads through Django's test client: bodies are async iterators (so
daphne streams them a block at a time), ranges, the zip's framing, and user
names that would break a header. The memory side is in tests/test_streaming.py."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
from django.urls import reverse

from projects.models import Template, default_render_settings
from rendering import services
from rendering.models import Render, RenderBatch
from rendering.zipstream import zip_stream
from tests.rendering.helpers import finish, start_batch
from tests.streams import body

pytestmark = pytest.mark.django_db

VIDEO = bytes(range(256)) * 40  # 10 240 bytes, every offset distinguishable


@pytest.fixture
def done(alice, project, audio, video) -> Render:
    return finish(start_batch(alice, project, audio, [video]).renders.get(), VIDEO)


def get_file(client, render: Render, **headers):
    return client.get(reverse("rendering:render_file", args=[render.pk]), headers=headers)


def test_a_full_download_streams_with_its_length(alice_client, done):
    response = get_file(alice_client, done)
    assert response.status_code == 200
    assert response.is_async  # a sync iterator would be read whole into daphne's memory
    assert response["Content-Length"] == str(len(VIDEO))
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == VIDEO


def test_a_range_gets_206_and_those_bytes(alice_client, done):
    response = get_file(alice_client, done, Range="bytes=100-299")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-299/{len(VIDEO)}"
    assert response["Content-Length"] == "200"
    assert body(response) == VIDEO[100:300]


def test_a_suffix_range_gets_the_end(alice_client, done):
    response = get_file(alice_client, done, Range="bytes=-50")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {len(VIDEO) - 50}-{len(VIDEO) - 1}/{len(VIDEO)}"
    assert body(response) == VIDEO[-50:]


def test_an_open_range_from_zero_streams_the_whole_file(alice_client, done):
    # What video players send first: it must not be read whole into memory either.
    response = get_file(alice_client, done, Range="bytes=0-")
    assert response.status_code == 206 and response.is_async
    assert response["Content-Range"] == f"bytes 0-{len(VIDEO) - 1}/{len(VIDEO)}"
    assert body(response) == VIDEO


def test_a_range_past_the_end_gets_416(alice_client, done):
    response = get_file(alice_client, done, Range=f"bytes={len(VIDEO)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(VIDEO)}"


def test_outsiders_get_404_for_files_and_zips(bob_client, done):
    assert get_file(bob_client, done).status_code == 404
    assert bob_client.get(reverse("rendering:batch_zip", args=[done.batch_id])).status_code == 404


def test_the_zip_is_stored_sized_and_streamed(alice_client, alice, project, audio, video):
    batch = start_batch(alice, project, audio, [video, video])
    for n, render in enumerate(batch.renders.order_by("position")):
        finish(render, VIDEO * (n + 1))
    response = alice_client.get(reverse("rendering:batch_zip", args=[batch.pk]))
    assert response.is_async
    data = body(response)
    assert response["Content-Length"] == str(len(data))  # the browser can show progress
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert [(i.filename, i.compress_type, i.file_size) for i in archive.infolist()] == [
        ("presenter.mp4", zipfile.ZIP_STORED, len(VIDEO)),
        ("presenter (2).mp4", zipfile.ZIP_STORED, 2 * len(VIDEO)),
    ]
    assert archive.read("presenter (2).mp4") == VIDEO * 2


def test_names_with_line_breaks_download_cleanly(alice_client, alice, project, audio, video):
    template = Template.objects.create(
        project=project, name="Studio\nTake 2", avatar=video, settings=default_render_settings()
    )
    batch = services.create_batch(
        alice, project, "a\nb", audio, [services.Item(video), services.Item(video, template)], default_render_settings()
    )
    assert (batch.name, Template.objects.get(pk=template.pk).name) == ("a b", "Studio Take 2")  # cleaned when saved
    # Rows saved before names were cleaned still hold the line breaks: downloads clean them too.
    RenderBatch.objects.filter(pk=batch.pk).update(name="a\nb")
    Template.objects.filter(pk=template.pk).update(name="Studio\nTake 2")
    for render in batch.renders.all():
        finish(render, VIDEO)
    zipped = alice_client.get(reverse("rendering:batch_zip", args=[batch.pk]))
    assert zipped.status_code == 200
    assert "\n" not in zipped["Content-Disposition"] and "a_b.zip" in zipped["Content-Disposition"]
    assert sorted(zipfile.ZipFile(io.BytesIO(body(zipped))).namelist()) == ["Studio_Take 2.mp4", "presenter.mp4"]
    from_template = batch.renders.get(template=template)
    response = alice_client.get(reverse("rendering:render_file", args=[from_template.pk]) + "?download=1")
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert "\n" not in disposition and "\r" not in disposition
    assert disposition.startswith('attachment; filename="StudioTake 2 - ab.mp4"')
    assert body(response) == VIDEO


class _BigFile:
    """A FieldFile stand-in for a sparse file on disk (nothing is written)."""

    def __init__(self, path) -> None:
        self.name, self.storage, self.size = str(path), self, os.path.getsize(path)

    def open(self, name, mode):
        return open(name, mode)


def test_entries_over_4_gb_get_zip64_headers(tmp_path):
    big = tmp_path / "big.mp4"
    with big.open("wb") as fh:
        fh.truncate(4 * 1024**3 + 10)  # sparse: costs no disk
    archive = zip_stream([("big.mp4", _BigFile(big))])
    assert len(archive) > 4 * 1024**3 + 10
    header = next(iter(archive))  # the local file header, before any data
    assert header[:4] == b"PK\x03\x04"
    assert header[18:26] == b"\xff\xff\xff\xff" * 2  # sizes moved to the Zip64 extra field
    assert b"\x01\x00" in header[30 + len("big.mp4") :]  # Zip64 extended information (0x0001)
