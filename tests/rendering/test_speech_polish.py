"""The voice picker's samples, the count of "Videos from scripts" before it
starts, and deleting what speeches and script batches use."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from speech import voices
from tests.ml.test_speech_engine import vits_shaped_onnx, write_tokens
from tests.rendering.test_speech import SETTINGS, spoken
from tests.streams import body

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_voices(tmp_path, settings):
    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    settings.HEYGEM_CACHE_DIR = tmp_path / "cache"
    voices.forget()
    yield tmp_path / "models"
    voices.forget()


@pytest.fixture
def studio(alice_client, project, video):
    """A template with a voice (as in test_speech.py)."""
    from projects.models import Template

    response = alice_client.post(reverse("projects:template_create", args=[project.pk]), {
        "name": "Studio", "avatar": video.pk, "voice": "espeak:en-gb", "voice_speed": "0.9", **SETTINGS})
    assert response.status_code == 302
    return Template.objects.get(name="Studio")


def decoded(response) -> tuple[np.ndarray, int]:
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(body(response))) as w:
        rate = w.getframerate()
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768, rate


@pytest.mark.parametrize("voice", ["espeak:en-us", "espeak:cmn"])
def test_a_built_in_voice_sample_plays_in_its_language(alice_client, fresh_voices, settings, voice):
    url = reverse("speech:voice_sample", args=[voice])
    samples, rate = decoded(alice_client.get(url))
    duration = len(samples) / rate
    assert 1.5 < duration < 8, duration  # one short sentence
    assert np.sqrt(np.mean(samples**2)) > 0.02  # not silent
    # Kept as a file: the second request serves the same bytes without speaking again.
    cached = settings.HEYGEM_CACHE_DIR / "voice-samples" / "espeak" / f"{voice.split(':')[1]}.wav"
    stamp = cached.stat().st_mtime_ns
    again, _ = decoded(alice_client.get(url))
    assert np.array_equal(again, samples) and cached.stat().st_mtime_ns == stamp


def test_a_sample_answers_byte_ranges_so_players_can_seek(alice_client, fresh_voices, settings):
    url = reverse("speech:voice_sample", args=["espeak:en-us"])
    whole = alice_client.get(url)
    data = body(whole)
    assert whole["Accept-Ranges"] == "bytes" and whole["Content-Length"] == str(len(data))
    size = len(data)
    assert size > 1000

    middle = alice_client.get(url, headers={"Range": "bytes=100-599"})
    assert middle.status_code == 206 and middle.is_async
    assert middle["Content-Range"] == f"bytes 100-599/{size}" and middle["Content-Length"] == "500"
    assert body(middle) == data[100:600]

    tail = alice_client.get(url, headers={"Range": "bytes=-64"})
    assert tail.status_code == 206 and body(tail) == data[-64:]
    assert tail["Content-Range"] == f"bytes {size - 64}-{size - 1}/{size}"

    past = alice_client.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{size}"


def test_samples_need_a_login_and_a_real_voice(client, alice_client, fresh_voices):
    url = reverse("speech:voice_sample", args=["espeak:en-us"])
    assert client.get(url).status_code == 302  # to the login page
    response = alice_client.get(reverse("speech:voice_sample", args=["espeak:xx-nothing"]))
    assert response.status_code == 404 and "There is no voice called" in response.content.decode()


def test_an_installed_voice_without_a_sample_says_so(alice_client, fresh_voices, tmp_path, capsys):
    """The stand-in model has a voice's inputs but speaks nothing, so the
    install keeps it and warns; its "Listen" says there is no sample."""
    model = vits_shaped_onnx(tmp_path / "en_US-lessons.onnx")
    write_tokens(tmp_path)
    call_command("install_models", "--voice", str(model), "--voice-language", "en-us")
    assert "could not speak its sample" in capsys.readouterr().err
    voices.forget()
    response = alice_client.get(reverse("speech:voice_sample", args=["en_US-lessons"]))
    assert response.status_code == 404
    assert "has no sample" in response.content.decode() and "install_models --voice" in response.content.decode()


def test_every_voice_in_the_picker_has_a_listen_control(alice_client, project, fresh_voices, tmp_path):
    model = vits_shaped_onnx(tmp_path / "en_US-lessons.onnx")
    write_tokens(tmp_path)
    from ml.speech.neural import install_voice

    install_voice(model, fresh_voices, language="en-us")
    voices.forget()
    page = alice_client.get(reverse("speech:create", args=[project.pk])).content.decode()
    assert "data-voice-listen" in page and "js/voice_sample.js" in page
    for voice in voices.available_voices():
        assert f'data-sample="{reverse("speech:voice_sample", args=[voice.name])}"' in page, voice.name


# --- deleting what speeches and script batches use ----------------------------


@pytest.mark.django_db(transaction=True)
def test_deleting_audio_or_project_names_the_speeches_and_scripts_and_keeps_pages_working(
        alice_client, project, studio):
    from projects.models import Asset
    from rendering.models import RenderBatch
    from rendering.worker import run_worker
    from speech.models import ScriptBatch, Speech

    alone = spoken(alice_client, project, "A speech of its own.", "espeak:en-us")
    alice_client.post(reverse("speech:script_batch_create", args=[project.pk]), {
        "name": "Space course", "template": studio.pk, "scripts": "Stars are far.\n---\nPlanets are near."})
    run_worker(["default"], burst=True)
    plan = ScriptBatch.objects.get()
    assert plan.status == ScriptBatch.Status.SUCCEEDED, plan.error
    first = plan.speeches.order_by("position").first()

    # An audio spoken from a script batch: the page names the speech and the script batch.
    page = alice_client.get(reverse("projects:asset_delete", args=[first.asset_id])).content.decode()
    assert first.get_absolute_url() in page and plan.get_absolute_url() in page and "Space course" in page
    assert alice_client.post(reverse("projects:asset_delete", args=[first.asset_id])).status_code == 302
    first.refresh_from_db()
    assert first.asset is None and first.text == "Stars are far."  # the script stays
    page = alice_client.get(first.get_absolute_url()).content.decode()
    assert "The audio made from this script was deleted" in page
    assert 'data-speech-deleted hidden' not in page
    assert alice_client.get(reverse("speech:status", args=[first.pk])).json()["audio_url"] is None
    page = alice_client.get(plan.get_absolute_url()).content.decode()
    assert "Audio deleted" in page
    # The batch keeps the other script's video.
    assert [r.title for r in RenderBatch.objects.get().renders.all()] == ["Planets are near. × Studio"]

    # The project: every speech and script batch is listed, and all of it goes.
    page = alice_client.get(reverse("projects:delete", args=[project.pk])).content.decode()
    assert alone.get_absolute_url() in page and plan.get_absolute_url() in page
    assert "Its 3 speeches from scripts go too" in page
    assert alice_client.post(reverse("projects:delete", args=[project.pk])).status_code == 302
    assert not (Speech.objects.exists() or ScriptBatch.objects.exists() or Asset.objects.exists()
                or RenderBatch.objects.exists())


@pytest.mark.django_db(transaction=True)
def test_a_script_batch_whose_videos_were_deleted_says_so(alice_client, project, studio):
    from rendering.worker import run_worker
    from speech.models import ScriptBatch

    alice_client.post(reverse("speech:script_batch_create", args=[project.pk]), {
        "name": "One", "template": studio.pk, "scripts": "Only one lesson."})
    run_worker(["default"], burst=True)
    plan = ScriptBatch.objects.get()
    speech = plan.speeches.get()
    # Its one recording goes, and with it the batch (left with no video).
    page = alice_client.get(reverse("projects:asset_delete", args=[speech.asset_id])).content.decode()
    assert plan.get_absolute_url() in page and plan.batch.get_absolute_url() in page
    alice_client.post(reverse("projects:asset_delete", args=[speech.asset_id]))
    plan.refresh_from_db()
    assert plan.batch is None
    page = alice_client.get(plan.get_absolute_url()).content.decode()
    assert "The videos of these scripts were deleted" in page


# --- "Videos from scripts" counts before it starts ---------------------------

COURSE = "title,script\nIntro,Welcome to the course.\nWeek 1,Plants need light.\nWeek 2,Animals need food.\n"


def test_check_counts_a_csv_starts_nothing_and_keeps_the_rows_for_the_start(alice_client, project, studio):
    from speech.models import ScriptBatch
    from tests.rendering.test_speech import csv_upload

    url = reverse("speech:script_batch_create", args=[project.pk])
    response = alice_client.post(url, {"name": "Biology", "template": studio.pk,
                                       "scripts_csv": csv_upload(COURSE), "check": "1"})
    page = response.content.decode()
    assert response.status_code == 200 and not ScriptBatch.objects.exists()
    assert "Checked: this batch makes 3 videos (one per script)." in page
    assert "The CSV’s scripts are kept" in page
    kept = response.context["form"]["checked_rows"].value()
    # Started from the page as it is now: no second upload.
    response = alice_client.post(url, {"name": "Biology", "template": studio.pk, "checked_rows": kept})
    plan = ScriptBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == plan.get_absolute_url()
    assert [s.title for s in plan.speeches.order_by("position")] == ["Intro", "Week 1", "Week 2"]


def test_check_counts_typed_scripts_and_says_when_the_quota_is_exceeded(alice_client, project, studio,
                                                                         settings):
    from speech.models import ScriptBatch

    settings.HEYGEM_MAX_BATCH_ITEMS = 2
    url = reverse("speech:script_batch_create", args=[project.pk])
    page = alice_client.get(url).content.decode()
    assert 'data-batch="2"' in page and "js/script_batch.js" in page  # the estimate's limits, for the browser
    response = alice_client.post(url, {"name": "Space", "template": studio.pk, "check": "1",
                                       "scripts": "Stars.\n---\nPlanets.\n---\nMoons."})
    page = response.content.decode()
    assert "Checked: this batch makes 3 videos" in page
    assert "A batch can hold at most 2 items; this one has 3." in page
    assert not ScriptBatch.objects.exists()
    settings.HEYGEM_MAX_BATCH_ITEMS = 3
    page = alice_client.post(url, {"name": "Space", "template": studio.pk, "check": "1",
                                   "scripts": "Stars.\n---\nPlanets.\n---\nMoons."}).content.decode()
    assert "Checked: this batch makes 3 videos" in page and "A batch can hold" not in page


def test_a_project_deleted_while_its_scripts_are_spoken_gets_nothing_stored(alice, project, studio,
                                                                             monkeypatch):
    from projects import deletion
    from projects.models import Asset
    from speech import jobs, services
    from speech.models import ScriptBatch

    plan = services.start_script_batch(alice, project, name="Gone", template=studio,
                                       scripts=[("A", "One."), ("B", "Two.")], voice="espeak:en-us",
                                       language="en-us", speed=1.0)
    real, spoken_texts = jobs.synthesize, []

    def speak_then_delete(text, *args, **kwargs):
        spoken_texts.append(text)
        result = real(text, *args, **kwargs)
        deletion.for_project(project).execute()  # the member deletes the project during the first script
        return result

    monkeypatch.setattr(jobs, "synthesize", speak_then_delete)
    jobs.speak_script_batch(plan.pk)
    assert spoken_texts == ["One."]  # the second script is not spoken
    assert not (ScriptBatch.objects.exists() or Asset.objects.exists())
