"""Batch pages, downloads, zip, history: what the owner sees, and the 404
everyone else gets."""

import io
import re
import zipfile

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import trans_real

from projects.models import Template
from rendering.models import Render, RenderBatch, Status
from tests.rendering.helpers import add_asset, finish, start_batch
from tests.streams import body

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(project, face_jpg):
    return add_asset(project, face_jpg)


@pytest.fixture
def batch(alice, project, audio, video, image):
    return start_batch(alice, project, audio, [video, image], name="Week 1: intro/overview")


def test_new_batch_form_lists_project_media(alice_client, project, audio, video):
    page = alice_client.get(reverse("rendering:batch_create", args=[project.pk])).content.decode()
    assert audio.original_name in page and video.original_name in page
    assert "Lip-sync model not installed" in page


def test_start_a_batch(alice_client, alice, project, audio, video, image, model_dir):
    template = Template.objects.create(project=project, name="Studio", avatar=video,
                                       settings={"pad_bottom": 30, "blend": "none", "loop": "forward", "quality": "high"})
    data = {"name": "Lesson 2", "audio": audio.pk, "videos": [video.pk, image.pk], "templates": [template.pk],
            "pad_top": 0, "pad_bottom": 12, "pad_left": 0, "pad_right": 0, "blend": "feather", "loop": "pingpong",
            "quality": "standard"}
    response = alice_client.post(reverse("rendering:batch_create", args=[project.pk]), data)
    batch = RenderBatch.objects.get()
    assert response["Location"] == batch.get_absolute_url()
    assert batch.owner == alice and batch.audio == audio
    renders = list(batch.renders.order_by("position"))
    assert [r.source for r in renders] == [video, image, video]
    assert renders[0].settings["pad_bottom"] == 12
    assert renders[2].template == template and renders[2].settings["pad_bottom"] == 30
    assert all(r.status == Status.QUEUED and r.job_id for r in renders)
    assert "Lip-sync model not installed" not in alice_client.get(batch.get_absolute_url()).content.decode()


def test_batch_with_a_new_audio_upload(alice_client, project, video, speech_wav):
    with speech_wav.open("rb") as fh:
        alice_client.post(reverse("rendering:batch_create", args=[project.pk]),
                          {"name": "B", "audio_file": fh, "videos": [video.pk], "pad_top": 0, "pad_bottom": 10,
                           "pad_left": 0, "pad_right": 0, "blend": "feather", "loop": "pingpong", "quality": "standard"})
    batch = RenderBatch.objects.get()
    assert batch.audio.original_name == "speech.wav"


def test_batch_needs_audio_and_presenters(alice_client, project, audio, video):
    response = alice_client.post(reverse("rendering:batch_create", args=[project.pk]),
                                 {"name": "B", "pad_top": 0, "pad_bottom": 10, "pad_left": 0, "pad_right": 0,
                                  "blend": "feather", "loop": "pingpong", "quality": "standard"})
    page = response.content.decode()
    assert "Choose the voice recording, or upload one." in page
    assert "Choose at least one presenter video, image or template." in page
    assert not RenderBatch.objects.exists()


def test_batch_page_shows_state_from_the_database(alice_client, batch):
    first = batch.renders.get(position=0)
    Render.objects.filter(pk=first.pk).update(status=Status.RUNNING, stage="infer", frames_done=12,
                                              frames_total=30, fps=14.5, eta_s=1.2, progress=0.5)
    second = batch.renders.get(position=1)
    Render.objects.filter(pk=second.pk).update(status=Status.FAILED, error_code="no_face_found")
    page = alice_client.get(batch.get_absolute_url()).content.decode()
    assert "Lip-syncing" in page and "12/30" in page and "14.5 fps" in page and "0:00:01 left" in page
    assert "No face was found in this image." in page  # the second presenter is a photo, not a video
    assert "1 failed, 1 running" in page and "of 2 done" not in page


def test_download_one_output(alice_client, batch):
    render = finish(batch.renders.get(position=0))
    response = alice_client.get(reverse("rendering:render_file", args=[render.pk]) + "?download=1")
    assert response.status_code == 200
    assert body(response) == b"fake-mp4-bytes-for-download-tests"
    assert "attachment" in response["Content-Disposition"]


def test_no_download_before_success(alice_client, batch):
    render = batch.renders.get(position=0)
    assert alice_client.get(reverse("rendering:render_file", args=[render.pk])).status_code == 404


def test_zip_holds_what_succeeded_so_far(alice_client, batch, alice, project, audio, video):
    first = finish(batch.renders.get(position=0), b"first video")
    second = batch.renders.get(position=1)
    Render.objects.filter(pk=second.pk).update(status=Status.RUNNING)
    response = alice_client.get(reverse("rendering:batch_zip", args=[batch.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "Week 1_ intro_overview.zip" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    assert archive.namelist() == [f"{first.source.original_name.rsplit('.', 1)[0]}.mp4"]
    assert archive.read(archive.namelist()[0]) == b"first video"


def test_zip_names_are_unique_and_safe(alice_client, alice, project, audio, video):
    batch = start_batch(alice, project, audio, [video, video, video])
    for render in batch.renders.all():
        finish(render)
    Render.objects.filter(batch=batch, position=2).update(status=Status.FAILED)
    archive = zipfile.ZipFile(io.BytesIO(body(alice_client.get(reverse("rendering:batch_zip", args=[batch.pk])))))
    assert archive.namelist() == ["presenter.mp4", "presenter (2).mp4"]


def test_zip_with_nothing_finished_says_so(alice_client, batch):
    response = alice_client.get(reverse("rendering:batch_zip", args=[batch.pk]), follow=True)
    assert "No finished videos to download yet." in response.content.decode()


def test_cancel_and_retry_from_the_page(alice_client, batch):
    render = batch.renders.get(position=0)
    alice_client.post(reverse("rendering:render_cancel", args=[render.pk]))
    render.refresh_from_db()
    assert render.status == Status.CANCELLED
    alice_client.post(reverse("rendering:render_retry", args=[render.pk]))
    render.refresh_from_db()
    assert render.status == Status.QUEUED
    alice_client.post(reverse("rendering:batch_cancel", args=[batch.pk]))
    assert set(batch.renders.values_list("status", flat=True)) == {Status.CANCELLED}


def test_rerun_makes_a_new_batch(alice_client, batch):
    render = finish(batch.renders.get(position=1))
    response = alice_client.post(reverse("rendering:render_rerun", args=[render.pk]))
    new = RenderBatch.objects.exclude(pk=batch.pk).get()
    assert response["Location"] == new.get_absolute_url()
    copy = new.renders.get()
    assert copy.source == render.source and copy.settings == render.settings and new.audio == batch.audio


def test_a_running_render_offers_no_render_again(alice_client, batch):
    running = batch.renders.get(position=0)
    Render.objects.filter(pk=running.pk).update(status=Status.RUNNING)
    finish(batch.renders.get(position=1))
    assert "data-rerun" not in alice_client.get(running.get_absolute_url()).content.decode()
    history = alice_client.get(reverse("rendering:history")).content.decode()
    assert history.count("data-rerun") == 1  # the finished one only
    # One name per action: "Retry" an item in place, "Render again" as a new batch.
    assert "Re-run" not in history and "Render again" in history
    response = alice_client.post(reverse("rendering:render_rerun", args=[running.pk]))  # a stale page
    assert response["Location"] == running.get_absolute_url()
    assert RenderBatch.objects.count() == 1


def finished_with_facts(render: Render) -> Render:
    render = finish(render)
    Render.objects.filter(pk=render.pk).update(
        log="Model: custom checkpoint\nAudio features computed and cached.\n"
            "Audio: 5.76 s, resampled to 16 kHz with soxr HQ.", duration=5.76,
        timings={"infer": 2.5, "crop_paste": 1.25, "total": 45.2}, worker_name="gpu-box-gpu0.42",
        manifest={"model": {"sha256": "ab" * 32}, "detector": "opencv", "settings": render.settings},
    )
    return render


def test_render_page_shows_log_timings_and_checksum(alice_client, staff_client, batch):
    render = finished_with_facts(batch.renders.get(position=0))
    page = alice_client.get(render.get_absolute_url()).content.decode()
    assert "ab" * 32 in page and "2.5 s" in page and "custom checkpoint" in page
    # Host names are for staff only.
    assert "gpu-box-gpu0.42" not in page
    assert "gpu-box-gpu0.42" in staff_client.get(render.get_absolute_url()).content.decode()


def facts(page: str) -> str:
    """The render page's fact lists (what a member reads), without the raw manifest."""
    return "".join(re.findall(r'<dl class="facts-list">(.*?)</dl>', page, re.S))


def test_render_page_says_settings_stages_and_detector_in_words(alice_client, batch):
    render = finished_with_facts(batch.renders.get(position=0))
    page = alice_client.get(render.get_absolute_url()).content.decode()
    shown = facts(page)
    for words in ("Pad top (px)", "Blending", "Feathered mouth area", "Play the video forwards then backwards",
                  "Standard (small files)", "Lip-syncing", "Pasting the mouth", "OpenCV (fast, less accurate)"):
        assert words in shown
    for raw in ("pad_top", "blend", "pingpong", "standard<", "infer", "crop_paste", ">opencv<"):
        assert raw not in shown
    # Video length and render time, apart and as h:mm:ss.
    assert re.search(r"<dt>Video length</dt><dd[^>]*>0:00:06</dd>", shown)
    assert re.search(r"<dt>Render time</dt><dd[^>]*>0:00:45</dd>", shown)
    assert "Duration" not in shown
    # The raw manifest is one click away, for experts.
    details = page[page.index("<details"):page.index("</details>")]
    assert "&quot;pad_top&quot;: 0" in details and "&quot;detector&quot;: &quot;opencv&quot;" in details


def test_the_chinese_render_page_has_no_english_labels(alice_client, batch, monkeypatch):
    """Every label of the render page goes through the translation catalogue:
    with a catalogue that marks what it translates, no label is left unmarked
    (the lead's Chinese catalogue then covers them all)."""
    render = finished_with_facts(batch.renders.get(position=0))
    real = trans_real.gettext

    monkeypatch.setattr(translation._trans, "gettext", lambda message: f"⟦{real(message)}⟧")
    page = alice_client.get(render.get_absolute_url()).content.decode()
    labels = re.findall(r"<dt>(.*?)</dt>", facts(page), re.S)
    assert len(labels) >= 15
    assert [label for label in labels if not label.startswith("⟦")] == []
    assert "<h2>⟦Time per stage⟧</h2>" in page and "⟦Technical details (manifest)⟧" in page
    assert "⟦Audio features computed and cached.⟧" in page  # the worker's fixed log lines too
    assert "⟦Audio: 5.76 s, resampled to 16 kHz with soxr HQ.⟧" in page  # and the engine's, values kept
    assert "⟦Feathered mouth area (no visible box)⟧" in facts(page)
    monkeypatch.undo()

    chinese = alice_client.get(render.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "正在同步口型" in chinese and "上边距（像素）" in chinese and "融合方式" in chinese
    for english in ("Lip-syncing", "Pad top (px)", "Blending"):
        assert english not in chinese


def test_batch_summary_counts_failures_apart(alice_client, batch):
    finish(batch.renders.get(position=0))
    Render.objects.filter(position=1).update(status=Status.FAILED, error_code="no_face_found")
    page = alice_client.get(batch.get_absolute_url()).content.decode()
    summary = re.search(r"<strong data-batch-summary[^>]*>(.*?)</strong>", page, re.S).group(1)
    assert summary == "1 succeeded, 1 failed"
    assert re.search(r"<a [^>]*data-zip>", page)  # one video to download


def test_no_zip_link_when_nothing_can_be_downloaded(alice_client, batch):
    Render.objects.filter(batch=batch).update(status=Status.FAILED, error_code="no_face_found")
    page = alice_client.get(batch.get_absolute_url()).content.decode()
    assert re.search(r"<a [^>]*data-zip hidden>", page)
    assert "2 failed" in page


def test_history_filters(alice_client, batch, alice, project, audio, video):
    finish(batch.renders.get(position=0))
    other = start_batch(alice, project, audio, [video], name="Week 2")
    page = alice_client.get(reverse("rendering:history") + "?status=succeeded").content.decode()
    assert "Week 1: intro/overview" in page and "Week 2" not in page
    page = alice_client.get(reverse("rendering:history") + "?q=week+2").content.decode()
    assert "Week 2" in page and "Week 1" not in page
    tomorrow = (timezone.localdate() + timezone.timedelta(days=1)).isoformat()
    assert "No renders match" in alice_client.get(reverse("rendering:history") + f"?since={tomorrow}").content.decode()
    assert other.get_absolute_url() in alice_client.get(reverse("rendering:project_history", args=[project.pk])).content.decode()


def test_history_shows_only_own_renders(bob_client, batch):
    assert "Week 1" not in bob_client.get(reverse("rendering:history")).content.decode()


@pytest.mark.parametrize(
    "name,method,target",
    [
        ("batch", "get", "batch"), ("batch_zip", "get", "batch"), ("batch_cancel", "post", "batch"),
        ("render", "get", "render"), ("render_row", "get", "render"), ("render_file", "get", "render"),
        ("render_cancel", "post", "render"), ("render_retry", "post", "render"), ("render_rerun", "post", "render"),
        ("batch_create", "get", "project"), ("batch_create", "post", "project"), ("project_history", "get", "project"),
    ],
)
def test_other_member_gets_404(bob_client, batch, name, method, target):
    render = finish(batch.renders.get(position=0))
    pk = {"batch": batch.pk, "render": render.pk, "project": batch.project_id}[target]
    response = getattr(bob_client, method)(reverse(f"rendering:{name}", args=[pk]))
    assert response.status_code == 404
    assert RenderBatch.objects.count() == 1
    assert set(batch.renders.values_list("status", flat=True)) == {Status.SUCCEEDED, Status.QUEUED}


def give_project_to(project, user) -> None:
    """What staff do in the admin: change Project.owner."""
    project.owner = user
    project.save()


@pytest.mark.parametrize(
    "name,method,target",
    [
        ("batch", "get", "batch"), ("batch_zip", "get", "batch"), ("batch_cancel", "post", "batch"),
        ("render", "get", "render"), ("render_row", "get", "render"), ("render_file", "get", "render"),
        ("render_cancel", "post", "render"), ("render_retry", "post", "render"), ("render_rerun", "post", "render"),
    ],
)
def test_access_follows_the_project_to_its_new_owner(alice_client, bob_client, bob, batch, name, method, target):
    render = finish(batch.renders.get(position=0))
    Render.objects.filter(batch=batch, position=1).update(status=Status.FAILED)  # retry-able
    give_project_to(batch.project, bob)
    pk = {"batch": batch.pk, "render": render.pk}[target]
    url = reverse(f"rendering:{name}", args=[pk])
    # Alice started the batch (it stays RenderBatch.owner), but the project is bob's now.
    assert getattr(alice_client, method)(url).status_code == 404
    assert RenderBatch.objects.count() == 1
    assert list(batch.renders.order_by("position").values_list("status", flat=True)) == [Status.SUCCEEDED, Status.FAILED]
    assert getattr(bob_client, method)(url).status_code in (200, 302)


def test_moved_project_leaves_the_old_owners_history_and_dashboard(alice_client, bob_client, bob, batch):
    finish(batch.renders.get(position=0))
    give_project_to(batch.project, bob)
    for url in (reverse("rendering:history"), reverse("home")):
        assert "Week 1: intro/overview" not in alice_client.get(url).content.decode()
        assert "Week 1: intro/overview" in bob_client.get(url).content.decode()


def test_retry_and_rerun_need_the_project(alice_client, bob, batch):
    failed = batch.renders.get(position=1)
    Render.objects.filter(pk=failed.pk).update(status=Status.FAILED)
    give_project_to(batch.project, bob)
    assert alice_client.post(reverse("rendering:render_retry", args=[failed.pk])).status_code == 404
    assert alice_client.post(reverse("rendering:render_rerun", args=[failed.pk])).status_code == 404
    failed.refresh_from_db()
    assert failed.status == Status.FAILED and RenderBatch.objects.count() == 1


def test_rerun_by_the_new_owner_lands_in_the_same_project(bob_client, bob, batch):
    give_project_to(batch.project, bob)
    render = finish(batch.renders.get(position=0))  # a queued render is not rendered again
    bob_client.post(reverse("rendering:render_rerun", args=[render.pk]))
    new = RenderBatch.objects.exclude(pk=batch.pk).get()
    assert new.project == batch.project and new.owner == bob


def test_staff_can_look(staff_client, batch):
    assert staff_client.get(batch.get_absolute_url()).status_code == 200


@pytest.mark.parametrize(
    "statuses,expected",
    [
        (["queued", "succeeded"], "queued"),
        (["running", "queued", "failed"], "running"),
        (["succeeded", "succeeded"], "succeeded"),
        (["succeeded", "failed"], "partial"),
        (["failed", "cancelled"], "failed"),
        (["cancelled"], "cancelled"),
    ],
)
def test_batch_status_is_derived_from_its_items(alice, project, audio, video, statuses, expected):
    batch = start_batch(alice, project, audio, [video] * len(statuses))
    for render, status in zip(batch.renders.order_by("position"), statuses):
        Render.objects.filter(pk=render.pk).update(status=status)
    assert batch.status == expected


def test_project_page_shows_each_batch_status(alice_client, batch, project):
    Render.objects.filter(batch=batch, position=0).update(status=Status.SUCCEEDED)
    Render.objects.filter(batch=batch, position=1).update(status=Status.FAILED)
    assert "Partly done" in alice_client.get(project.get_absolute_url()).content.decode()
