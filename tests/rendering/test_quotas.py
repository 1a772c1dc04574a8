"""Quotas per member: items per batch, queued + running items, storage.
Over a quota the form says so and nothing is created or queued."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from projects.uploads import ingest
from rendering import queues
from rendering.models import Render, RenderBatch, Status
from rendering.quotas import storage_used
from tests.rendering.helpers import add_asset, start_batch

pytestmark = pytest.mark.django_db

FORM = {"pad_top": 0, "pad_bottom": 10, "pad_left": 0, "pad_right": 0, "blend": "feather", "loop": "pingpong",
        "quality": "standard"}


@pytest.fixture
def image(project, face_jpg):
    return add_asset(project, face_jpg)


def queued_jobs() -> int:
    return sum(queues.gpu_queue(name).count for name in queues.gpu_queue_names())


def post_batch(client, project, audio, videos, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rendering:batch_create", args=[project.pk]),
                               {"name": "Many", "audio": audio.pk, "videos": [v.pk for v in videos], **FORM})
    return response


def test_a_batch_over_the_items_limit_is_refused_by_the_form(alice_client, project, audio, video, image, settings,
                                                              django_capture_on_commit_callbacks):
    settings.HEYGEM_MAX_BATCH_ITEMS = 1
    response = post_batch(alice_client, project, audio, [video, image], django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert "A batch can hold at most 1 items; this one has 2." in response.content.decode()
    assert not RenderBatch.objects.exists() and queued_jobs() == 0


def test_over_the_active_items_quota_nothing_is_queued(alice_client, alice, project, audio, video, image, settings,
                                                        django_capture_on_commit_callbacks):
    settings.HEYGEM_MAX_ACTIVE_ITEMS = 3
    with django_capture_on_commit_callbacks(execute=True):
        start_batch(alice, project, audio, [video, video])
    response = post_batch(alice_client, project, audio, [video, image], django_capture_on_commit_callbacks)
    page = response.content.decode()
    assert response.status_code == 200 and "You already have 2 items queued or running" in page
    assert RenderBatch.objects.count() == 1 and queued_jobs() == 2
    # Finished work does not count: once one is done, one more fits.
    Render.objects.filter(pk=Render.objects.first().pk).update(status=Status.SUCCEEDED)
    assert post_batch(alice_client, project, audio, [video, image],
                      django_capture_on_commit_callbacks).status_code == 302


def test_retry_and_rerun_over_the_quota_say_so(alice_client, alice, project, audio, video, settings):
    failed = start_batch(alice, project, audio, [video]).renders.get()
    Render.objects.filter(pk=failed.pk).update(status=Status.FAILED, error_code="no_face_found")
    start_batch(alice, project, audio, [video])
    settings.HEYGEM_MAX_ACTIVE_ITEMS = 1
    response = alice_client.post(reverse("rendering:render_retry", args=[failed.pk]), follow=True)
    assert "You already have 1 items queued or running" in response.content.decode()
    assert Render.objects.get(pk=failed.pk).status == Status.FAILED
    response = alice_client.post(reverse("rendering:render_rerun", args=[failed.pk]), follow=True)
    assert "You already have 1 items queued or running" in response.content.decode()
    assert RenderBatch.objects.count() == 2


def test_quotas_are_per_member(bob_client, bob, alice, project, audio, video, settings, short_speech, face_clip,
                               django_capture_on_commit_callbacks):
    from projects.models import Project

    settings.HEYGEM_MAX_ACTIVE_ITEMS = 2
    start_batch(alice, project, audio, [video, video])
    theirs = Project.objects.create(owner=bob, name="Bob's")
    response = post_batch(bob_client, theirs, add_asset(theirs, short_speech), [add_asset(theirs, face_clip)],
                          django_capture_on_commit_callbacks)
    assert response.status_code == 302


def test_storage_counts_uploads_posters_and_outputs(alice, project, audio, video):
    assert video.poster
    assert storage_used(alice) == audio.size + video.size + video.poster.size
    render = start_batch(alice, project, audio, [video]).renders.get()
    render.output.save("output.mp4", ContentFile(b"v" * 5000), save=False)
    render.status, render.output_size, render.finished_at = Status.SUCCEEDED, 5000, timezone.now()
    render.save()
    assert storage_used(alice) == audio.size + video.size + video.poster.size + 5000


def test_over_the_storage_quota_uploads_and_batches_are_refused(alice_client, alice, project, audio, video, settings,
                                                                 short_speech, django_capture_on_commit_callbacks):
    render = start_batch(alice, project, audio, [video]).renders.get()
    render.output.save("output.mp4", ContentFile(b"v" * (1024 * 1024)), save=False)
    render.status, render.output_size, render.finished_at = Status.SUCCEEDED, 1024 * 1024, timezone.now()
    render.save()
    settings.HEYGEM_STORAGE_QUOTA_MB = 1

    outcome = ingest(project, SimpleUploadedFile("new voice.wav", short_speech.read_bytes()))
    assert not outcome.ok and "new voice.wav" in outcome.error and "storage quota of 1.0\xa0MB" in outcome.error
    assert project.assets.count() == 2

    response = post_batch(alice_client, project, audio, [video], django_capture_on_commit_callbacks)
    assert "storage quota" in response.content.decode()
    assert RenderBatch.objects.count() == 1 and queued_jobs() == 0

    settings.HEYGEM_STORAGE_QUOTA_MB = 0  # off
    assert ingest(project, SimpleUploadedFile("new voice.wav", short_speech.read_bytes())).ok
