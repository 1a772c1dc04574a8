"""Speech from scripts through the API, as a token's holder uses it: the
voices, a script spoken into an audio asset (the real speech job, run in
this process), batches of several recordings × presenters, scripts × a
template, the web form's limits, quotas and messages in the API's error
shape, and the roles of a shared project (tests/teamworld.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import django_rq
import pytest
from django.core.management import call_command
from django.utils import timezone

from api.models import ApiToken
from projects.models import Activity, Asset, Project
from rendering.models import Render, RenderBatch
from speech import jobs, voices
from speech.models import ScriptBatch, Speech
from tests.api.conftest import bearer
from tests.streams import body
from tests.test_team import snapshot

pytestmark = pytest.mark.django_db

ENGLISH = "Welcome to the first lesson."
MANDARIN = "欢迎来到第一课。"
PEOPLE = ("alice", "bob", "charlie", "dave")


def token(user, **kwargs) -> dict:
    return bearer(ApiToken.issue(user, f"{user.get_username()}'s LMS", **kwargs)[1])


def post(client, path: str, data: dict, headers: dict, **extra):
    return client.post(path, json.dumps(data), content_type="application/json", headers={**headers, **extra})


def speak(client, project, headers, **data):
    return post(client, f"/api/v1/projects/{project.pk}/speech/", data, headers)


def spoken(client, project, headers, **data) -> dict:
    """Speak a script and run its job here (what the `default` worker does)."""
    response = speak(client, project, headers, **data)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued" and response.json()["asset"] is None
    jobs.synthesize_speech(response.json()["id"])
    done = client.get(response["Location"], headers=headers)
    assert done.status_code == 200
    return done.json()


def test_voices_lists_built_in_voices_and_the_installed_ones_first(client, alice, settings, tmp_path):
    settings.HEYGEM_MODEL_DIR = tmp_path
    folder = tmp_path / "voices" / "amy"
    folder.mkdir(parents=True)
    (folder / "voice.json").write_text(json.dumps({"name": "amy", "language": "en_US", "label": "Amy",
                                                   "sha256": "0" * 64, "sample_text": "Hello."}))
    voices.forget()
    try:
        listed = client.get("/api/v1/voices/", headers=token(alice))
        assert listed.status_code == 200
        by_name = {v["name"]: v for v in listed.json()}
        assert listed.json()[0]["name"] == "amy"
        assert by_name["amy"] == {"name": "amy", "language": "en_US", "label": "Amy", "engine": "neural",
                                  "kind": "installed", "sample_text": "Hello.", "sample_url": None}
        assert by_name["espeak:en-us"]["kind"] == "built-in" and by_name["espeak:en-us"]["language"] == "en-us"
        assert by_name["espeak:cmn"]["language"] == "cmn"
        # A language without a voice named picks the installed voice for it.
        project = Project.objects.create(owner=alice, name="Course")
        queued = speak(client, project, token(alice), text=ENGLISH, language="en")
        assert queued.status_code == 202 and queued.json()["voice"] == "amy"
        assert client.get("/api/v1/voices/").status_code == 401
    finally:
        voices.forget()


def test_each_voice_has_a_sample_url_that_the_token_opens(client, alice, settings, tmp_path):
    """`sample_url` is the web's Listen URL, absolute; the API's token opens
    it (byte ranges too), a bad token gets the API's 401, no token the login
    page, an installed voice without a sample has none."""
    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    folder = settings.HEYGEM_MODEL_DIR / "voices" / "amy"
    folder.mkdir(parents=True)
    (folder / "voice.json").write_text(json.dumps({"name": "amy", "language": "en_US", "label": "Amy",
                                                   "sha256": "0" * 64}))
    voices.forget()
    try:
        headers = token(alice)
        by_name = {v["name"]: v for v in client.get("/api/v1/voices/", headers=headers).json()}
        assert by_name["amy"]["sample_url"] is None
        url = by_name["espeak:en-us"]["sample_url"]
        assert url == "http://testserver/voices/espeak:en-us/sample.wav"
        heard = client.get(url, headers=headers)
        assert heard.status_code == 200 and heard["Content-Type"] == "audio/wav"
        wav = body(heard)
        assert wav[:4] == b"RIFF" and len(wav) > 1000
        part = client.get(url, headers={**headers, "Range": "bytes=0-43"})
        assert part.status_code == 206 and body(part) == wav[:44]

        # An installed voice with a sample.wav gets its URL.
        (folder / "sample.wav").write_bytes(wav)
        listed = client.get("/api/v1/voices/", headers=headers).json()
        assert listed[0]["sample_url"] == "http://testserver/voices/amy/sample.wav"
        assert body(client.get(listed[0]["sample_url"], headers=headers)) == wav

        for bad in (bearer("hg_not-a-token"), token(alice, expires_at=timezone.now() - timedelta(days=1))):
            refused = client.get(url, headers=bad)
            assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
            assert refused.json()["error"]["code"] in ("invalid_token", "token_expired")
        assert client.get(url).status_code == 302  # no token, no session: the login page
        unknown = client.get("/voices/espeak:xx-nothing/sample.wav", headers=headers)
        assert unknown.status_code == 404
    finally:
        voices.forget()


def test_script_to_speech_to_a_batch_of_two_recordings(client, world, alice):
    headers = token(alice)
    english = spoken(client, world.project, headers, text=ENGLISH, language="en", title="Lesson 1", speed=1.1)
    mandarin = spoken(client, world.project, headers, text=MANDARIN, voice="espeak:cmn")
    assert (english["status"], english["progress"], english["voice"], english["language"]) == (
        "succeeded", 1.0, "espeak:en-us", "en-us")
    assert english["speed"] == 1.1 and english["warnings"] == [] and english["unsupported_characters"] == []
    # The speech is an ordinary, probed audio asset of the project.
    for speech in (english, mandarin):
        asset = client.get(speech["audio_url"], headers=headers).json()
        assert asset["id"] == speech["asset"] and asset["kind"] == "audio" and asset["duration"] > 0.5
    assert Asset.objects.get(pk=english["asset"]).original_name == "Lesson 1.wav"
    listed = client.get(f"/api/v1/projects/{world.project.pk}/speech/", headers=headers).json()
    assert [s["id"] for s in listed["results"]] == [mandarin["id"], english["id"]]

    body = {"project": world.project.pk, "audios": [english["asset"], mandarin["asset"]],
            "presenters": [world.video.pk], "templates": [world.template.pk], "name": "Week 3"}
    started = post(client, "/api/v1/batches/", body, headers, **{"Idempotency-Key": "week-3"})
    assert started.status_code == 201, started.content
    batch = started.json()
    # Every recording × every presenter, grouped by recording.
    assert batch["audio"] == english["asset"] and batch["audios"] == [english["asset"], mandarin["asset"]]
    assert [(i["audio"], i["presenter"], i["template"]) for i in batch["items"]] == [
        (english["asset"], world.video.pk, None), (english["asset"], world.video.pk, world.template.pk),
        (mandarin["asset"], world.video.pk, None), (mandarin["asset"], world.video.pk, world.template.pk)]
    renders = list(Render.objects.filter(batch_id=batch["id"]).order_by("position"))
    assert [r.speech.pk for r in renders] == [i["audio"] for i in batch["items"]]
    assert client.get(f"/api/v1/renders/{renders[2].pk}/", headers=headers).json()["audio"] == mandarin["asset"]
    assert Activity.objects.filter(project=world.project, verb=Activity.Verb.STARTED).get().target == "Week 3 (4)"

    again = post(client, "/api/v1/batches/", body, headers, **{"Idempotency-Key": "week-3"})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true" and again.json()["id"] == batch["id"]
    assert RenderBatch.objects.filter(name="Week 3").count() == 1


def test_audio_and_audios_together_count_each_recording_once(client, world, alice):
    headers = token(alice)
    second = Asset.objects.create(project=world.project, kind=Asset.Kind.AUDIO, original_name="two.wav",
                                  extension=".wav", sha256="2" * 64, size=4, file=world.audio.file.name)
    started = post(client, "/api/v1/batches/", {"project": world.project.pk, "audio": world.audio.pk,
                                                "audios": [second.pk, world.audio.pk], "presenters": [world.video.pk]},
                   headers)
    assert started.status_code == 201
    assert [i["audio"] for i in started.json()["items"]] == [world.audio.pk, second.pk]
    # One recording: the batch's audio, as before (no per-item audio stored).
    single = post(client, "/api/v1/batches/", {"project": world.project.pk, "audios": [second.pk],
                                               "presenters": [world.video.pk]}, headers)
    assert single.status_code == 201 and single.json()["audio"] == second.pk
    assert [i["audio"] for i in single.json()["items"]] == [second.pk]
    assert Render.objects.get(batch_id=single.json()["id"]).audio_id is None


def test_bad_recordings_are_refused_by_id_and_queue_nothing(client, world, alice):
    headers = token(alice)
    before = snapshot()
    cases = [
        ({"audios": [world.audio.pk, world.video.pk]}, "audios", f"No audio with id {world.video.pk} in the project."),
        ({"audio": world.video.pk}, "audio", "No audio with this id in the project."),
        ({}, "audio", "Choose the voice recording (audio or audios)."),
    ]
    for extra, field, message in cases:
        refused = post(client, "/api/v1/batches/", {"project": world.project.pk, "presenters": [world.video.pk],
                                                    **extra}, headers)
        assert refused.status_code == 400
        assert refused.json()["error"]["fields"][field] == [message]
    assert snapshot() == before


def test_findings_are_reported_with_stable_codes(client, world, alice):
    speech = spoken(client, world.project, token(alice), text=MANDARIN + " 🎓", voice="espeak:en-us")
    assert speech["status"] == "succeeded"
    assert speech["language_mismatch"] == "han" and speech["unsupported_characters"] == ["🎓"]
    codes = {w["code"]: w["message"] for w in speech["warnings"]}
    assert set(codes) == {"language_mismatch", "unsupported_characters"}
    assert "mispronounce" in codes["language_mismatch"] and "🎓" in codes["unsupported_characters"]


@pytest.mark.parametrize("data, field, message", [
    ({"text": "🎉 🎉 …", "voice": "espeak:en-us"}, "text", "The script has no words to speak."),
    ({"text": ENGLISH}, "voice", "Choose a voice, or a language."),
    ({"text": ENGLISH, "language": "xx"}, "language", "No voice speaks xx here. GET /api/v1/voices/ lists the voices."),
    ({"text": ENGLISH, "voice": "espeak:nobody"}, "voice", "Select a valid choice. espeak:nobody is not one of the "
                                                           "available choices."),
    ({"text": ENGLISH, "voice": "espeak:en-us", "speed": 9}, "speed", None),
    ({"text": "word " * 5000, "voice": "espeak:en-us"}, "text", "Ensure this value has at most"),
])
def test_the_web_forms_limits_and_messages_refuse_a_script(client, world, alice, data, field, message):
    refused = speak(client, world.project, token(alice), **data)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "validation_error" and list(error["fields"]) == [field]
    if message:
        assert error["fields"][field][0].startswith(message)
    assert not Speech.objects.exists()


def test_members_cannot_queue_scripts_without_limit(client, world, alice, bob, settings):
    settings.HEYGEM_SPEECH_ACTIVE_MAX = 1
    assert speak(client, world.project, token(alice), text=ENGLISH, language="en").status_code == 202
    refused = speak(client, world.project, token(alice), text=ENGLISH, language="en")
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "quota_exceeded", "message": "You already have 1 script being spoken; wait for it to finish."}
    # The quota is each member's own: bob (an editor) may still speak one.
    assert speak(client, world.project, token(bob), text=ENGLISH, language="en").status_code == 202
    assert Speech.objects.count() == 2


def test_the_same_idempotency_key_queues_one_speech_job(client, world, alice, django_capture_on_commit_callbacks):
    headers = {**token(alice), "Idempotency-Key": "bulletin-6pm"}
    with django_capture_on_commit_callbacks(execute=True):
        first = speak(client, world.project, headers, text=ENGLISH, language="en")
    with django_capture_on_commit_callbacks(execute=True):
        again = speak(client, world.project, headers, text=ENGLISH, language="en")
    assert first.status_code == again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"] and Speech.objects.count() == 1
    queued = django_rq.get_queue("default").jobs
    assert [(job.func_name, job.args) for job in queued] == [("speech.jobs.synthesize_speech", (first.json()["id"],))]


def test_the_schema_describes_the_speech_endpoints_without_warnings(tmp_path):
    schema = tmp_path / "schema.yaml"
    call_command("spectacular", urlconf="api.schema_urls", fail_on_warn=True, file=str(schema))
    text = schema.read_text()
    for path in ("/api/v1/voices/:", "/api/v1/projects/{id}/speech/:", "/api/v1/speech/{id}/:",
                 "/api/v1/projects/{id}/script-batches/:", "/api/v1/script-batches/{id}/:"):
        assert f"\n  {path}\n" in text, path
    assert "audios:" in text
    assert "sample_url:" in text


def test_a_read_only_token_cannot_speak(client, world, alice):
    refused = speak(client, world.project, token(alice, read_only=True), text=ENGLISH, language="en")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "read_only_token"
    assert not Speech.objects.exists()


@pytest.fixture
def alices_speech(world, alice) -> Speech:
    return Speech.objects.create(project=world.project, owner=alice, title="Intro", text=ENGLISH,
                                 language="en-us", voice="espeak:en-us")


@pytest.fixture
def alices_plan(world, alice, alices_speech) -> ScriptBatch:
    plan = ScriptBatch.objects.create(project=world.project, owner=alice, name="Course", template=world.template)
    Speech.objects.filter(pk=alices_speech.pk).update(script_batch=plan)
    return plan


@pytest.mark.parametrize("who", range(4), ids=PEOPLE)
def test_roles_editors_speak_viewers_read_outsiders_get_404(who, client, world, alices_plan, alices_speech, request):
    headers = token(request.getfixturevalue(PEOPLE[who]))
    project = world.project.pk
    reads = {f"/api/v1/speech/{alices_speech.pk}/": (200, 200, 200, 404),
             f"/api/v1/projects/{project}/speech/": (200, 200, 200, 404),
             f"/api/v1/script-batches/{alices_plan.pk}/": (200, 200, 200, 404)}
    for path, expected in reads.items():
        assert client.get(path, headers=headers).status_code == expected[who], path
    writes = {f"/api/v1/projects/{project}/speech/": {"text": ENGLISH, "language": "en"},
              f"/api/v1/projects/{project}/script-batches/": {
                  "name": "Week 4", "template": world.template.pk, "voice": "espeak:en-us",
                  "scripts": [{"title": "One", "script": ENGLISH}]}}
    for path, data in writes.items():
        before = snapshot()
        response = post(client, path, data, headers)
        assert response.status_code == (202, 202, 403, 404)[who], (path, response.content)
        if who >= 2:
            assert response.json()["error"]["code"] == ("forbidden_role", "not_found")[who - 2]
            assert snapshot() == before
        else:
            assert snapshot()["speeches"] != before["speeches"]
    assert client.get("/api/v1/voices/", headers=headers).status_code == 200


def test_scripts_times_a_template_make_a_batch_named_after_the_scripts(client, world, alice):
    headers = token(alice)
    body = {"name": "Course", "template": world.template.pk, "voice": "espeak:en-us",
            "scripts": [{"title": "Lesson 1", "script": ENGLISH}, {"script": "Second lesson, on waves."}]}
    queued = post(client, f"/api/v1/projects/{world.project.pk}/script-batches/", body, headers)
    assert queued.status_code == 202, queued.content
    assert [s["title"] for s in queued.json()["speeches"]] == ["Lesson 1", "Second lesson, on waves."]
    jobs.speak_script_batch(queued.json()["id"])
    plan = client.get(queued["Location"], headers=headers).json()
    assert plan["status"] == "succeeded" and {s["status"] for s in plan["speeches"]} == {"succeeded"}
    batch = client.get(f"/api/v1/batches/{plan['batch']}/", headers=headers).json()
    assert batch["audios"] == [s["asset"] for s in plan["speeches"]]
    assert [i["template"] for i in batch["items"]] == [world.template.pk] * 2
    assert [r.title for r in Render.objects.filter(batch_id=plan["batch"]).order_by("position")] == [
        "Lesson 1 × Studio", "Second lesson, on waves. × Studio"]


def test_a_script_batch_is_refused_with_the_web_forms_messages(client, world, alice):
    headers = token(alice)
    before = snapshot()
    path = f"/api/v1/projects/{world.project.pk}/script-batches/"
    empty = post(client, path, {"name": "Course", "template": world.template.pk, "voice": "espeak:en-us",
                                "scripts": [{"title": "One", "script": ENGLISH}, {"title": "Two", "script": "…"}]},
                 headers)
    assert empty.status_code == 400
    assert empty.json()["error"]["fields"] == {"scripts": ["Script 2 (“Two”) has no words to speak."]}
    no_voice = post(client, path, {"name": "Course", "template": world.template.pk,
                                   "scripts": [{"script": ENGLISH}]}, headers)
    assert no_voice.json()["error"]["fields"] == {"voice": ["This template has no voice: choose one."]}
    assert snapshot() == before and not ScriptBatch.objects.exists()
