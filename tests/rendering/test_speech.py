"""Speech from a script through the web (a real rq worker on `default`, in
this process), batches of several recordings × presenters, and the
`speak` command. Outsiders get 404 and change nothing."""

from __future__ import annotations

import io
import re
import wave
import zipfile

import pytest
from django.core.management import call_command
from django.urls import reverse

from projects.models import Asset, Template, default_render_settings
from rendering.models import RenderBatch, Status
from rendering.worker import run_worker
from speech.models import ScriptBatch, Speech
from tests.rendering.helpers import finish, statuses
from tests.streams import body

pytestmark = pytest.mark.django_db(transaction=True)

ENGLISH = "Welcome to the first lesson."
MANDARIN = "欢迎来到第一课。"
SETTINGS = {"pad_top": 0, "pad_bottom": 10, "pad_left": 0, "pad_right": 0, "blend": "feather",
            "loop": "pingpong", "quality": "standard"}


def speak(client, project, text, voice, **extra):
    return client.post(reverse("speech:create", args=[project.pk]),
                       {"text": text, "voice": voice, "speed": "1.0", **extra})


def spoken(client, project, text, voice, **extra) -> Speech:
    response = speak(client, project, text, voice, **extra)
    speech = Speech.objects.latest("pk")
    assert response.status_code == 302 and response["Location"] == speech.get_absolute_url()
    run_worker(["default"], burst=True)
    speech.refresh_from_db()
    assert speech.status == Speech.Status.SUCCEEDED, speech.error
    return speech


def test_english_and_mandarin_scripts_to_speech_to_rendered_videos(alice_client, alice, project, video, model_dir):
    """Both languages in one batch (two recordings × one presenter): one
    worker run renders both, with the real speech job before it."""
    english = spoken(alice_client, project, ENGLISH, "espeak:en-us")
    mandarin = spoken(alice_client, project, MANDARIN, "espeak:cmn")
    for speech, units, (low, high) in ((english, len(ENGLISH.split()) * 60, (100, 260)),
                                       (mandarin, len(MANDARIN.rstrip("。")), (2, 8))):
        asset = speech.asset
        # An ordinary, probed audio asset of the project, marked as spoken from this script.
        assert asset.kind == Asset.Kind.AUDIO and asset.project == project and asset.sample_rate and asset.duration
        assert asset.speeches.get() == speech
        assert low < units / asset.duration < high  # words per minute, or syllables per second
        assert not any(f["code"] == "audio_silent" for f in asset.preflight)
    state = alice_client.get(reverse("speech:status", args=[english.pk])).json()
    assert state["status"] == "succeeded" and state["asset"] == english.asset.pk
    page = alice_client.get(english.get_absolute_url()).content.decode()
    batch_link = f"{reverse('rendering:batch_create', args=[project.pk])}?audio={english.asset.pk}"
    assert batch_link in page and reverse("projects:asset_file", args=[english.asset.pk]) in page
    response = alice_client.post(reverse("rendering:batch_create", args=[project.pk]), {
        "name": "Lesson", "audio": english.asset.pk, "more_audios": [mandarin.asset.pk], "videos": [video.pk],
        **SETTINGS})
    batch = RenderBatch.objects.get()
    assert response["Location"] == batch.get_absolute_url()
    run_worker(["gpu"], burst=True)
    assert statuses(batch) == ["succeeded", "succeeded"], [r.message for r in batch.renders.all()]
    for render, speech in zip(batch.renders.order_by("position"), (english, mandarin)):
        assert render.speech == speech.asset
        assert render.duration == pytest.approx(speech.asset.duration, abs=0.1)
        assert render.manifest["audio"]["sha256"] == speech.asset.sha256


def test_the_form_refuses_a_script_without_words_and_queues_nothing(alice_client, project):
    response = speak(alice_client, project, "🎉 🎉 …", "espeak:en-us")
    assert response.status_code == 200 and "The script has no words to speak." in response.content.decode()
    assert not Speech.objects.exists()


def test_a_mismatched_script_and_left_out_characters_are_shown(alice_client, project):
    speech = spoken(alice_client, project, MANDARIN + " 🎓", "espeak:en-us", title="Wrong voice")
    page = alice_client.get(speech.get_absolute_url()).content.decode()
    assert "mispronounce" in page and "🎓" in page
    assert speech.asset.original_name == "Wrong voice.wav"


def test_members_cannot_queue_scripts_without_limit(alice_client, project, settings):
    settings.HEYGEM_SPEECH_ACTIVE_MAX = 1
    speak(alice_client, project, ENGLISH, "espeak:en-us")
    response = speak(alice_client, project, ENGLISH, "espeak:en-us")
    assert response.status_code == 200 and "wait for it to finish" in response.content.decode()
    assert Speech.objects.count() == 1


def test_outsiders_get_404_and_create_nothing(bob_client, alice_client, project):
    speech = spoken(alice_client, project, ENGLISH, "espeak:en-us")
    for url in (speech.get_absolute_url(), reverse("speech:status", args=[speech.pk]),
                reverse("speech:create", args=[project.pk])):
        assert bob_client.get(url).status_code == 404
    assert speak(bob_client, project, ENGLISH, "espeak:en-us").status_code == 404
    assert Speech.objects.count() == 1


def test_several_scripts_times_one_template_make_one_video_each(alice_client, alice, project, video):
    lessons = [spoken(alice_client, project, f"Lesson {n}. {ENGLISH}", "espeak:en-us", title=f"Lesson {n}").asset
               for n in (1, 2, 3)]
    template = Template.objects.create(project=project, name="Studio", avatar=video, settings=default_render_settings())
    form = alice_client.get(reverse("rendering:batch_create", args=[project.pk])).content.decode()
    assert 'name="more_audios"' in form and "from a script" in form
    response = alice_client.post(reverse("rendering:batch_create", args=[project.pk]), {
        "name": "Course", "audio": lessons[0].pk, "more_audios": [lessons[2].pk, lessons[1].pk, lessons[0].pk],
        "templates": [template.pk], **SETTINGS})
    batch = RenderBatch.objects.get()
    assert response["Location"] == batch.get_absolute_url()
    renders = list(batch.renders.order_by("position"))
    assert [r.speech for r in renders] == [lessons[0], lessons[2], lessons[1]]  # the order ticked, no duplicate
    assert [r.title for r in renders] == ["Lesson 1 × Studio", "Lesson 3 × Studio", "Lesson 2 × Studio"]
    assert renders[0].download_name == "Lesson 1 - Studio - Course.mp4"
    assert all(r.status == Status.QUEUED and r.job_id for r in renders)
    for render in renders:
        finish(render, render.title.encode())
    archive = zipfile.ZipFile(io.BytesIO(body(alice_client.get(reverse("rendering:batch_zip", args=[batch.pk])))))
    assert sorted(archive.namelist()) == ["Lesson 1/Studio.mp4", "Lesson 2/Studio.mp4", "Lesson 3/Studio.mp4"]
    assert archive.read("Lesson 3/Studio.mp4") == b"Lesson 3 \xc3\x97 Studio"


def test_a_matrix_counts_against_the_quota_before_anything_starts(alice_client, project, video, face_jpg, settings):
    from tests.rendering.helpers import add_asset

    image = add_asset(project, face_jpg)
    audios = [spoken(alice_client, project, f"Part {n}.", "espeak:en-us").asset for n in (1, 2)]
    settings.HEYGEM_MAX_BATCH_ITEMS = 3
    response = alice_client.post(reverse("rendering:batch_create", args=[project.pk]), {
        "name": "Too big", "audio": audios[0].pk, "more_audios": [audios[1].pk], "videos": [video.pk, image.pk],
        **SETTINGS})
    assert response.status_code == 200
    assert "A batch can hold at most 3 items; this one has 4." in response.content.decode()
    assert not RenderBatch.objects.exists()


def test_speak_command_writes_the_same_speech_and_lists_voices(tmp_path, capsys):
    script = tmp_path / "script.txt"
    script.write_text(MANDARIN, encoding="utf-8")
    call_command("speak", "--text-file", str(script), "--language", "zh", "--out", str(tmp_path / "out.wav"))
    with wave.open(str(tmp_path / "out.wav")) as w:
        assert w.getnchannels() == 1 and 1.0 < w.getnframes() / w.getframerate() < 6
    call_command("speak", "--list-voices")
    listed = capsys.readouterr().out
    assert "espeak:cmn" in listed and "espeak:en-us" in listed and "synthetic" in listed


def test_the_asset_page_says_it_was_spoken_from_a_script(alice_client, project):
    speech = spoken(alice_client, project, ENGLISH, "espeak:en-us", title="Intro")
    page = alice_client.get(speech.asset.get_absolute_url()).content.decode()
    assert "from a script" in page and ENGLISH in page and "espeak:en-us" in page


# --- templates with a voice, and scripts × one template (typed or CSV) ---


@pytest.fixture
def voiced_template(alice_client, project, video):
    response = alice_client.post(reverse("projects:template_create", args=[project.pk]), {
        "name": "Studio", "avatar": video.pk, "voice": "espeak:en-gb", "voice_speed": "0.9", **SETTINGS})
    assert response.status_code == 302
    return Template.objects.get(name="Studio")


def csv_upload(text: str, name: str = "course.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode("utf-8-sig"), content_type="text/csv")


def test_a_template_keeps_its_voice(alice_client, voiced_template):
    assert voiced_template.settings["voice"] == {"voice": "espeak:en-gb", "language": "en-gb", "speed": 0.9}
    page = alice_client.get(reverse("projects:template_edit", args=[voiced_template.pk])).content.decode()
    # (Each option also carries its voice sample's URL, for "Listen".)
    assert re.search(r'<option value="espeak:en-gb"[^>]* selected[ >]', page)


def test_a_csv_of_scripts_against_a_template_makes_a_whole_course(alice_client, project, voiced_template):
    course = ("Title,Script\n"
              "Intro,\"Welcome to the course. We start with the basics.\"\n"
              ",\n"
              "Week 1,Plants need light and water.\n"
              "Week 2,\"Animals need food, water and shelter.\"\n")
    response = alice_client.post(reverse("speech:script_batch_create", args=[project.pk]), {
        "name": "Biology", "template": voiced_template.pk, "scripts_csv": csv_upload(course)})
    plan = ScriptBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == plan.get_absolute_url()
    assert [s.title for s in plan.speeches.order_by("position")] == ["Intro", "Week 1", "Week 2"]
    run_worker(["default"], burst=True)
    plan.refresh_from_db()
    assert plan.status == ScriptBatch.Status.SUCCEEDED, plan.error
    speeches = list(plan.speeches.order_by("position"))
    assert all(s.voice == "espeak:en-gb" and s.speed == 0.9 and s.asset.kind == "audio" for s in speeches)
    renders = list(plan.batch.renders.order_by("position"))
    assert [r.title for r in renders] == ["Intro × Studio", "Week 1 × Studio", "Week 2 × Studio"]
    assert [r.speech for r in renders] == [s.asset for s in speeches]
    assert all(r.template == voiced_template and r.status == Status.QUEUED for r in renders)
    follow = alice_client.get(plan.get_absolute_url() + "?follow=1")
    assert follow["Location"] == plan.batch.get_absolute_url()


def test_typed_scripts_times_one_template_make_one_video_each(alice_client, project, voiced_template):
    scripts = "First lesson about stars.\n---\nSecond lesson about planets.\n  ---  \nThird lesson about moons."
    alice_client.post(reverse("speech:script_batch_create", args=[project.pk]), {
        "name": "Space", "template": voiced_template.pk, "voice": "espeak:en-us", "scripts": scripts})
    run_worker(["default"], burst=True)
    plan = ScriptBatch.objects.get()
    assert plan.status == ScriptBatch.Status.SUCCEEDED, plan.error
    assert [r.title for r in plan.batch.renders.order_by("position")] == [
        "First lesson about stars. × Studio", "Second lesson about planets. × Studio",
        "Third lesson about moons. × Studio"]
    assert set(plan.speeches.values_list("voice", flat=True)) == {"espeak:en-us"}  # chosen over the template's


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("Name,Body\nA,Hello\n", "The CSV needs a “title” and a “script” column in its first row."),
        ("title,script\nA,Hello there\nB,🎉\n", "Row 3 (“B”) has no words to speak."),
        ("title,script\n", "No scripts found."),
    ],
)
def test_a_bad_csv_says_what_is_wrong_and_starts_nothing(alice_client, project, voiced_template, csv_text, message):
    response = alice_client.post(reverse("speech:script_batch_create", args=[project.pk]), {
        "name": "Bad", "template": voiced_template.pk, "scripts_csv": csv_upload(csv_text)})
    assert response.status_code == 200 and message in response.content.decode()
    assert not ScriptBatch.objects.exists() and not Speech.objects.exists()


def test_a_csv_that_is_not_utf8_is_refused(alice_client, project, voiced_template):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("course.csv", "title,script\nÉté,Bonjour à tous\n".encode("latin-1"))
    response = alice_client.post(reverse("speech:script_batch_create", args=[project.pk]), {
        "name": "Bad", "template": voiced_template.pk, "scripts_csv": upload})
    assert "The CSV is not UTF-8 text" in response.content.decode()
    assert not ScriptBatch.objects.exists()


def test_outsiders_get_404_for_script_batches(bob_client, alice_client, project, voiced_template):
    alice_client.post(reverse("speech:script_batch_create", args=[project.pk]), {
        "name": "Mine", "template": voiced_template.pk, "scripts": "Hello class."})
    plan = ScriptBatch.objects.get()
    assert bob_client.get(plan.get_absolute_url()).status_code == 404
    assert bob_client.get(reverse("speech:script_batch_create", args=[project.pk])).status_code == 404
    response = bob_client.post(reverse("speech:script_batch_create", args=[project.pk]), {
        "name": "Theirs", "template": voiced_template.pk, "scripts": "Hello class."})
    assert response.status_code == 404 and ScriptBatch.objects.count() == 1


def test_a_voice_removed_after_the_script_was_queued_fails_with_a_sentence(alice_client, project):
    response = speak(alice_client, project, ENGLISH, "espeak:en-us")
    assert response.status_code == 302
    Speech.objects.update(voice="gone-voice")  # as if the admin removed it meanwhile
    run_worker(["default"], burst=True)
    speech = Speech.objects.get()
    assert speech.status == Speech.Status.FAILED and speech.asset is None
    assert speech.error == "The voice “gone-voice” is not installed (any more)."
    assert speech.error in alice_client.get(speech.get_absolute_url()).content.decode()


def test_deleting_one_recording_of_a_batch_keeps_the_videos_of_the_others(alice_client, alice, project, video):
    from projects.deletion import for_asset
    from rendering import services

    first, second = (spoken(alice_client, project, f"Part {n}.", "espeak:en-us", title=f"Part {n}").asset
                     for n in (1, 2))
    presenters = [services.Item(video)]
    batch = services.create_batch(alice, project, "Two parts", first, services.pairings([first, second], presenters),
                                  default_render_settings())
    for render in batch.renders.all():
        finish(render)
    for_asset(first).execute()
    batch.refresh_from_db()
    assert batch.audio == second
    assert [r.title for r in batch.renders.all()] == ["Part 2 × presenter.mp4"]
    for_asset(second).execute()
    assert not RenderBatch.objects.exists()


def test_install_models_refuses_a_corrupt_voice_and_lists_nothing(tmp_path, settings, capsys):
    from django.core.management.base import CommandError

    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    (tmp_path / "en_US-x.onnx").write_bytes(b"not an onnx model" * 100)
    (tmp_path / "tokens.txt").write_text("a 0\n")
    with pytest.raises(CommandError, match="refused"):
        call_command("install_models", "--voice", str(tmp_path / "en_US-x.onnx"), "--voice-language", "en-us")
    assert "en_US-x.onnx is not a loadable ONNX voice model" in capsys.readouterr().err
    call_command("speak", "--list-voices")
    assert "natural (installed)" not in capsys.readouterr().out
