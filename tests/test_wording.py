"""Words and numbers a member who is not an engineer reads: durations,
file facts, the names of their own files in a failure, the navigation and
the login page, the presenter a new template starts with, and what a render
says while the worker loads the model."""

from __future__ import annotations

import re
import time

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from ml.errors import ModelNotInstalled
from rendering import engine as engines
from rendering import jobs
from rendering.models import Render, Stage, Status
from tests import mediafactory
from tests.rendering.helpers import add_asset, start_batch

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(5.76, "0:00:06"), (59.4, "0:00:59"), (754, "0:12:34"), (36000.0, "10:00:00"), (0, "0:00:00"), (None, "")],
)
def test_durations_read_as_hours_minutes_seconds(seconds, shown):
    assert Template("{% load wording %}{{ value|hms }}").render(Context({"value": seconds})) == shown


def test_an_image_card_has_no_length_and_no_stray_dot(alice_client, project, face_jpg, face_clip):
    image = add_asset(project, face_jpg)
    video = add_asset(project, face_clip)
    page = alice_client.get(project.get_absolute_url()).content.decode()

    def card_facts(asset) -> str:
        card = page[page.index(f'data-asset="{asset.pk}"'):]
        return re.search(r'<p class="facts small">(.*?)</p>', card, re.S).group(1).strip()

    assert re.fullmatch(r"320×240 · [\d.]+\xa0KB", card_facts(image))
    assert re.fullmatch(r"0:00:01 · 320×240 · 25 fps · [\d.]+\xa0KB", card_facts(video))
    asset_page = alice_client.get(image.get_absolute_url()).content.decode()
    assert "Video codec" not in asset_page and "Image format" in asset_page


def test_staff_find_the_operations_page_in_the_navigation(alice_client, staff_client):
    ops = f'href="{reverse("ops:dashboard")}"'
    assert ops in staff_client.get("/").content.decode()
    assert ops not in alice_client.get("/").content.decode()


def test_the_login_page_has_the_language_menu(client):
    page = client.get("/accounts/login/").content.decode()
    assert f'action="{reverse("set_language")}"' in page and '<option value="zh-hans"' in page
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/accounts/login/"})
    assert "登录" in client.get(response["Location"]).content.decode()


def test_a_new_template_does_not_start_with_a_presenter_without_a_face(alice_client, project, faceless_clip,
                                                                       face_clip):
    url = reverse("projects:template_create", args=[project.pk])
    faceless = add_asset(project, faceless_clip)
    assert any(f["code"] == "no_face" and f["params"]["percent"] == 100 for f in faceless.preflight)
    page = alice_client.get(url).content.decode()
    assert '<option value="" selected>Choose a presenter</option>' in page
    # Not even when the asset page's "Save as template" asks for it.
    page = alice_client.get(f"{url}?avatar={faceless.pk}").content.decode()
    assert f'<option value="{faceless.pk}" selected>' not in page
    assert '<option value="" selected>Choose a presenter</option>' in page

    with_face = add_asset(project, face_clip)
    page = alice_client.get(f"{url}?avatar={faceless.pk}").content.decode()
    assert f'<option value="{with_face.pk}" selected>' in page


def test_a_failure_names_the_members_files_not_the_storage_keys(alice, project, short_speech, face_clip):
    audio = add_asset(project, short_speech, name="my voice.wav")
    video = add_asset(project, face_clip, name="Ms Frizzle.mp4")
    render = start_batch(alice, project, audio, [video]).renders.get()
    key = video.file.name.rsplit("/", 1)[1]
    text = f"No face was found in {key}. face.mp4 is damaged; audio.wav too, myface.mp4 is not ours."
    assert jobs.member_names(render, text) == (
        "No face was found in Ms Frizzle.mp4. Ms Frizzle.mp4 is damaged; my voice.wav too, myface.mp4 is not ours."
    )


@pytest.mark.django_db(transaction=True)
def test_the_first_render_says_it_is_loading_the_model(alice, project, short_speech, face_clip, monkeypatch,
                                                       settings):
    settings.HEYGEM_PROGRESS_INTERVAL = 0.05
    render = start_batch(alice, project, add_asset(project, short_speech), [add_asset(project, face_clip)]).renders.get()
    seen = []

    def loading_engine():
        # What a member's page reads (the row) while the model loads.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Render.objects.get(pk=render.pk).stage != Stage.LOAD:
            time.sleep(0.05)
        seen.append(Render.objects.get(pk=render.pk).get_stage_display())
        raise ModelNotInstalled()

    monkeypatch.setattr(engines, "loaded_engine", lambda: None)
    monkeypatch.setattr(engines, "get_engine", loading_engine)
    with translation.override("en"):  # an earlier request in this thread may have left another language active
        jobs.render_item(render.pk)

    assert seen == ["Loading the model"]
    render.refresh_from_db()
    assert render.status == Status.FAILED and render.error_code == "model_not_installed"


def test_a_photo_without_a_face_is_not_called_a_video(alice_client, project, tmp_path):
    import cv2
    import numpy as np

    path = tmp_path / "wall.jpg"
    cv2.imwrite(str(path), np.full((240, 320, 3), 128, np.uint8))
    photo = add_asset(project, path)
    assert photo.kind == "image" and photo.preflight
    for url in (project.get_absolute_url(), photo.get_absolute_url()):
        page = alice_client.get(url).content.decode()
        assert "No face found in this image" in page and "this video" not in page


def test_the_dashboard_counts_each_outcome_of_a_running_batch(alice, alice_client, project, short_speech, face_clip):
    audio, video = add_asset(project, short_speech), add_asset(project, face_clip)
    batch = start_batch(alice, project, audio, [video, video, video])
    first, second, _third = batch.renders.order_by("position")
    Render.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED)
    Render.objects.filter(pk=second.pk).update(status=Status.FAILED, error_code="no_face_found")
    page = alice_client.get(reverse("home")).content.decode()
    card = page[page.index(f'data-dash-batch="{batch.pk}"'):]
    count = re.search(r'<span data-field="count">(.*?)</span>', card).group(1)
    assert count == "1 succeeded, 1 failed, 1 waiting"  # never "2 of 3 done" with the failure hidden


def test_the_batch_form_shows_recording_lengths_as_hours_minutes_seconds(alice_client, project, short_speech):
    audio = add_asset(project, short_speech)
    page = alice_client.get(reverse("rendering:batch_create", args=[project.pk])).content.decode()
    assert f"{audio.original_name} (0:00:01)" in page


def test_a_photo_that_passed_its_face_check_is_not_called_frames(alice_client, project, tmp_path):
    image = add_asset(project, mediafactory.make_face_image(tmp_path / "portrait.jpg", size=(640, 480)))
    assert image.preflight == []
    page = alice_client.get(image.get_absolute_url()).content.decode()
    assert "A face was found in the image." in page and "sampled frame" not in page
