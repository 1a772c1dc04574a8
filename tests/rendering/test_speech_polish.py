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
from tests.streams import body

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_voices(tmp_path, settings):
    settings.HEYGEM_MODEL_DIR = tmp_path / "models"
    settings.HEYGEM_CACHE_DIR = tmp_path / "cache"
    voices.forget()
    yield tmp_path / "models"
    voices.forget()


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
