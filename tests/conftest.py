"""Shared fixtures: the people (alice owns things, bob is another team
member, charlie and dave two more for the sharing tests, staff is an
administrator), small real media files, alice's uploaded audio and video,
and a real daphne.

Django is imported only by the fixtures that use it, so the engine tests
(tests/ml) also run where only the engine's packages are installed, with
``-p no:django`` (bench/gpu_check.sh on a GPU machine)."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from tests import mediafactory

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-pass-123")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-pass-123")


@pytest.fixture
def charlie(django_user_model):
    """A viewer of alice's shared project in the team tests (tests/teamworld.py)."""
    return django_user_model.objects.create_user("charlie", password="charlie-pass-123")


@pytest.fixture
def dave(django_user_model):
    """A member with no access to alice's project in the team tests."""
    return django_user_model.objects.create_user("dave", password="dave-pass-123")


@pytest.fixture
def world(alice, bob, charlie, dave):
    """alice's project shared with bob (editor) and charlie (viewer); dave is outside."""
    from tests.teamworld import build_world

    return build_world(alice, bob, charlie)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("sam", password="sam-pass-123", is_staff=True)


def _client_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice):
    return _client_for(alice)


@pytest.fixture
def bob_client(bob):
    return _client_for(bob)


@pytest.fixture
def staff_client(staff):
    return _client_for(staff)


@pytest.fixture
def project(alice):
    from projects.models import Project

    return Project.objects.create(owner=alice, name="Physics 101")


# --- media: built once per session, copied by tests that change them ----------


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def speech_wav(media_dir) -> Path:
    return shutil.copy(FIXTURES / "speech_en_16k.wav", media_dir / "speech.wav")


@pytest.fixture(scope="session")
def face_clip(media_dir) -> Path:
    return mediafactory.make_face_clip(media_dir / "presenter.mp4", seconds=1.0, fps=25, size=(320, 240))


@pytest.fixture(scope="session")
def faceless_clip(media_dir) -> Path:
    return mediafactory.make_faceless_clip(media_dir / "landscape.mp4", seconds=1.0, fps=25, size=(320, 240))


@pytest.fixture(scope="session")
def face_jpg(media_dir) -> Path:
    return mediafactory.make_face_image(media_dir / "portrait.jpg", size=(320, 240))


def encode_audio(source_wav: Path, target: Path, codec: str, rate: int | None = None) -> Path:
    """Re-encode a wav with PyAV (mp3, aac in m4a, opus in ogg, flac)."""
    with av.open(str(source_wav)) as src:
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in src.decode(audio=0)]).astype(np.float32)
        if samples.dtype != np.float32 or np.abs(samples).max() > 1.5:
            samples = samples / 32768.0
        sr = src.streams.audio[0].sample_rate
    rate = rate or sr
    with av.open(str(target), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = sr
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=rate)
        for rframe in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(rframe):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return target


# --- rendering: a random-weight checkpoint (never a working model) -----------


@pytest.fixture(scope="session")
def random_checkpoint(media_dir) -> Path:
    """A randomly initialised Wav2Lip in the official file format. It drives
    every code path; its output is noise, and it is installed under a name
    that says so."""
    return mediafactory.make_random_checkpoint(media_dir / "random-weights-test-only.pth", seed=1)


@pytest.fixture
def model_dir(tmp_path, random_checkpoint, settings) -> Path:
    directory = tmp_path / "models"
    directory.mkdir()
    shutil.copy(random_checkpoint, directory / random_checkpoint.name)
    settings.HEYGEM_MODEL_DIR = directory
    return directory


@pytest.fixture(scope="session")
def short_speech(media_dir) -> Path:
    """1.2 s of the English speech fixture (voice from the first frame)."""
    import soundfile

    samples, rate = soundfile.read(FIXTURES / "speech_en_16k.wav")
    path = media_dir / "short speech.wav"
    soundfile.write(path, samples[rate // 2 : rate // 2 + int(1.2 * rate)], rate)
    return path


@pytest.fixture
def audio(project, short_speech):
    """1.2 s of speech, uploaded into alice's project."""
    from tests.rendering.helpers import add_asset

    return add_asset(project, short_speech)


@pytest.fixture
def video(project, face_clip):
    """A 1 s presenter clip, uploaded into alice's project."""
    from tests.rendering.helpers import add_asset

    return add_asset(project, face_clip)


@pytest.fixture
def daphne(tmp_path, model_dir):
    """daphne serving the platform (HTTP + WebSocket) against the test
    database, with the random-weight model installed; its output goes to
    tmp_path / "daphne.log". Tests that start it need a transactional
    database (the server is another process)."""
    from tests.processes import start_daphne, worker_env  # here: the engine tests run without the platform

    with start_daphne(tmp_path / "daphne.log", worker_env(model_dir)) as server:
        yield server
