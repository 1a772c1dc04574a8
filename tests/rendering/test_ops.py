"""The staff dashboard: disk, queues, workers, cleanup; 404 for everyone else."""

import time

import django_rq
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from rendering.models import Render, Status
from tests.rendering.helpers import add_asset, start_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(alice, project, short_speech, face_clip):
    audio = add_asset(project, short_speech)
    video = add_asset(project, face_clip)
    render = start_batch(alice, project, audio, [video], name="Lesson").renders.get()
    render.output.save("output.mp4", ContentFile(b"v" * 2048), save=False)
    render.status, render.output_size = Status.SUCCEEDED, 2048
    render.finished_at = timezone.now() - timezone.timedelta(days=45)
    render.save()
    return render


def test_staff_sees_disk_queues_and_workers(staff_client, done):
    redis = django_rq.get_connection("gpu")
    redis.hset("heygem:worker:box-gpu0.77", mapping={"host": "box", "device": "cuda:0 NVIDIA H100", "model_loaded": "1",
                                                   "model": "wav2lip_gan.pth", "current_job": "render-9-1",
                                                   "queues": "gpu", "heartbeat": f"{time.time():.0f}"})
    redis.expire("heygem:worker:box-gpu0.77", 20)
    try:
        page = staff_client.get(reverse("ops:dashboard")).content.decode()
    finally:
        redis.delete("heygem:worker:box-gpu0.77")
    assert 'data-kind="outputs">2.0\xa0KB' in page
    assert "alice" in page and "Physics 101" in page and "Lesson" in page
    assert 'data-worker="box-gpu0.77"' in page and "cuda:0 NVIDIA H100" in page and "render-9-1" in page
    assert 'data-queue="gpu"' in page


def test_no_worker_is_said_plainly(staff_client, done):
    assert "No worker is running" in staff_client.get(reverse("ops:dashboard")).content.decode()


@pytest.mark.parametrize("name", ["ops:dashboard", "ops:cleanup"])
def test_members_get_404(alice_client, name):
    assert alice_client.get(reverse(name)).status_code == 404
    assert alice_client.post(reverse(name), {"older_than_days": 1, "outputs": "on"}).status_code == 404


def test_cleanup_preview_then_confirm(staff_client, done):
    preview = staff_client.get(reverse("ops:cleanup"), {"older_than_days": 30, "outputs": "on"}).content.decode()
    assert f'data-key="render:{done.pk}"' in preview
    assert done.output.storage.exists(done.output.name)
    staff_client.post(reverse("ops:cleanup"), {"older_than_days": 30, "outputs": "on", "key": [f"render:{done.pk}"]})
    done.refresh_from_db()
    assert done.output_deleted_at and not done.output.storage.exists(done.output.name)


def test_confirm_without_preview_keys_deletes_nothing(staff_client, done):
    staff_client.post(reverse("ops:cleanup"), {"older_than_days": 30, "outputs": "on"})
    done.refresh_from_db()
    assert done.has_output


def test_staff_see_each_members_queued_and_running_work(staff_client, alice, bob, project, short_speech, face_clip,
                                                         django_capture_on_commit_callbacks):
    audio, video = add_asset(project, short_speech), add_asset(project, face_clip)
    with django_capture_on_commit_callbacks(execute=True):
        start_batch(alice, project, audio, [video, video, video])
        running = start_batch(bob, project, audio, [video]).renders.get()
    Render.objects.filter(pk=running.pk).update(status=Status.RUNNING)
    page = staff_client.get(reverse("ops:dashboard")).content.decode()
    alice_row = page[page.index('data-member="alice"'):].split("</tr>")[0]
    bob_row = page[page.index('data-member="bob"'):].split("</tr>")[0]
    assert "<td>3</td><td>0</td>" in alice_row and "ago" in alice_row
    assert "<td>0</td><td>1</td>" in bob_row
    assert reverse("ops:cancel_member_work", args=[alice.pk]) in alice_row
    gpu_row = page[page.index('data-queue="gpu"'):].split("</tr>")[0]
    assert "<td>4</td>" in gpu_row  # the jobs of every member's GPU queue


def test_staff_cancel_all_of_one_members_work_after_confirming(staff_client, alice, bob, project, short_speech,
                                                              face_clip):
    audio, video = add_asset(project, short_speech), add_asset(project, face_clip)
    alices = start_batch(alice, project, audio, [video, video])
    Render.objects.filter(pk=alices.renders.first().pk).update(status=Status.RUNNING)
    bobs = start_batch(bob, project, audio, [video])
    url = reverse("ops:cancel_member_work", args=[alice.pk])

    confirm = staff_client.get(url).content.decode()
    assert 'data-count="2"' in confirm and "alice" in confirm
    assert set(alices.renders.values_list("status", flat=True)) == {Status.QUEUED, Status.RUNNING}  # GET changes nothing

    response = staff_client.post(url)
    assert response.status_code == 302
    assert set(alices.renders.values_list("status", flat=True)) == {Status.CANCELLED}
    assert bobs.renders.get().status == Status.QUEUED


@pytest.mark.parametrize("method", ["get", "post"])
def test_members_cannot_cancel_others_work(bob_client, alice, project, short_speech, face_clip, method):
    batch = start_batch(alice, project, add_asset(project, short_speech), [add_asset(project, face_clip)])
    response = getattr(bob_client, method)(reverse("ops:cancel_member_work", args=[alice.pk]))
    assert response.status_code == 404
    assert batch.renders.get().status == Status.QUEUED
