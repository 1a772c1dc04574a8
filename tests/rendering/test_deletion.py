"""Deleting a project, an asset in use, or a template: a confirmation that says
what goes and how much it frees, then rows and files gone, never a 500."""

from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from projects.models import Asset, Project, Template
from rendering import queues, services
from rendering.models import Render, RenderBatch, Status
from tests.rendering.helpers import add_asset, finish, start_batch

pytestmark = pytest.mark.django_db

OUTPUT = b"o" * 3000


def stored_paths(*objects) -> list[Path]:
    paths = []
    for obj in objects:
        for name in ("file", "poster", "output"):
            field = getattr(obj, name, None)
            if field:
                paths.append(Path(field.path))
    assert paths and all(p.exists() for p in paths)
    return paths


@pytest.fixture
def image(project, face_jpg):
    return add_asset(project, face_jpg)


# --- projects ------------------------------------------------------------------------


def test_project_confirmation_says_what_is_freed(alice_client, alice, project, audio, video):
    batch = start_batch(alice, project, audio, [video, video])
    for render in batch.renders.all():
        finish(render, OUTPUT)
    page = alice_client.get(reverse("projects:delete", args=[project.pk])).content.decode()
    total = audio.size + video.size + 2 * len(OUTPUT)
    assert f'data-freed="{total}"' in page
    assert filesizeformat(total) in page
    assert "2 files" in page and "2 renders" in page
    assert Render.objects.count() == 2  # a GET deletes nothing


def test_deleting_a_project_with_batches_removes_rows_and_files(alice_client, alice, project, audio, video, image):
    template = Template.objects.create(project=project, name="Studio", avatar=video)
    batch = start_batch(alice, project, audio, [video, image])
    finish(batch.renders.get(position=0), OUTPUT)
    files = stored_paths(audio, video, image, *batch.renders.all())
    assert video.poster  # posters go too

    response = alice_client.post(reverse("projects:delete", args=[project.pk]), follow=True)

    assert response.status_code == 200
    assert f"Project “Physics 101” deleted; {filesizeformat(audio.size + video.size + image.size + len(OUTPUT))} freed." in (
        response.content.decode()
    )
    assert not Project.objects.exists() and not Asset.objects.exists()
    assert not RenderBatch.objects.exists() and not Render.objects.exists()
    assert not Template.objects.filter(pk=template.pk).exists()
    assert [p for p in files if p.exists()] == []


def test_deleting_a_project_cancels_its_queued_renders(alice_client, alice, project, audio, video,
                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        start_batch(alice, project, audio, [video, video])
    queue = queues.gpu_queue(queues.member_queue_name(alice.pk))
    assert queue.count == 2
    alice_client.post(reverse("projects:delete", args=[project.pk]))
    assert queue.count == 0
    assert not Render.objects.exists()


def test_a_file_the_storage_refuses_to_delete_is_no_error(alice_client, alice, project, audio, video, monkeypatch):
    start_batch(alice, project, audio, [video])

    def refuse(storage, name):
        raise PermissionError(name)

    monkeypatch.setattr(FileSystemStorage, "delete", refuse)
    response = alice_client.post(reverse("projects:delete", args=[project.pk]))
    assert response.status_code == 302
    assert not Project.objects.exists()


# --- assets --------------------------------------------------------------------------


def test_asset_confirmation_names_what_uses_it(alice_client, alice, project, audio, video, image):
    template = Template.objects.create(project=project, name="Studio look", avatar=video)
    mixed = start_batch(alice, project, audio, [video, image], name="Mixed lesson")
    only = start_batch(alice, project, audio, [video], name="Video only")
    finish(mixed.renders.get(position=0), OUTPUT)
    page = alice_client.get(reverse("projects:asset_delete", args=[video.pk])).content.decode()
    assert "Mixed lesson" in page and "Video only" in page and template.name in page
    assert filesizeformat(video.size + len(OUTPUT)) in page
    assert "2 renders" in page
    assert Asset.objects.filter(pk=video.pk).exists() and only.renders.exists()


def test_deleting_an_asset_used_by_renders_and_a_template(alice_client, alice, project, audio, video, image):
    template = Template.objects.create(project=project, name="Studio look", avatar=video)
    mixed = start_batch(alice, project, audio, [video, image], name="Mixed lesson")
    only = start_batch(alice, project, audio, [video], name="Video only")
    done = finish(mixed.renders.get(position=0), OUTPUT)
    kept = finish(mixed.renders.get(position=1), OUTPUT)
    files = stored_paths(video, done)

    response = alice_client.post(reverse("projects:asset_delete", args=[video.pk]))

    assert response["Location"] == project.get_absolute_url()
    assert not Asset.objects.filter(pk=video.pk).exists()
    assert not Template.objects.filter(pk=template.pk).exists()
    assert not RenderBatch.objects.filter(pk=only.pk).exists()  # nothing left in it
    assert list(mixed.renders.all()) == [kept]  # the image's render stays, with its output
    assert Path(kept.output.path).exists()
    assert [p for p in files if p.exists()] == []


def test_deleting_the_voice_recording_deletes_its_batches(alice_client, alice, project, audio, video):
    batch = start_batch(alice, project, audio, [video])
    done = finish(batch.renders.get(), OUTPUT)
    files = stored_paths(audio, done)
    alice_client.post(reverse("projects:asset_delete", args=[audio.pk]))
    assert not RenderBatch.objects.exists() and not Asset.objects.filter(pk=audio.pk).exists()
    assert Asset.objects.filter(pk=video.pk).exists()
    assert [p for p in files if p.exists()] == []


def test_deleting_an_asset_in_a_running_render_cancels_it_first(alice_client, alice, project, audio, video, monkeypatch):
    render = start_batch(alice, project, audio, [video]).renders.get()
    Render.objects.filter(pk=render.pk).update(status=Status.RUNNING)
    cancelled = []
    real = services.cancel_render
    monkeypatch.setattr("projects.deletion.cancel_render", lambda r: cancelled.append(r.pk) or real(r))
    alice_client.post(reverse("projects:asset_delete", args=[video.pk]))
    assert cancelled == [render.pk]
    assert not Render.objects.exists()


def test_other_member_cannot_see_or_delete_an_asset(bob_client, project, video):
    url = reverse("projects:asset_delete", args=[video.pk])
    assert bob_client.get(url).status_code == 404
    assert bob_client.post(url).status_code == 404
    assert Asset.objects.filter(pk=video.pk).exists()


# --- templates -----------------------------------------------------------------------


def test_deleting_a_template_keeps_its_renders(alice_client, alice, project, audio, video):
    template = Template.objects.create(project=project, name="Studio look", avatar=video)
    batch = services.create_batch(alice, project, "From template", audio, [services.Item(video, template)], {})
    done = finish(batch.renders.get(), OUTPUT)
    alice_client.post(reverse("projects:template_delete", args=[template.pk]))
    done.refresh_from_db()
    assert not Template.objects.exists()
    assert done.template is None and done.has_output and Path(done.output.path).exists()
