import django_rq
import pytest

from tests.rendering.helpers import add_asset


@pytest.fixture(autouse=True)
def empty_queues(settings, tmp_path):
    """Each test starts with empty queues and its own worker caches."""
    settings.HEYGEM_CACHE_DIR = tmp_path / "cache"
    for name in ("gpu", "default"):
        django_rq.get_queue(name).empty()
    yield
    for name in ("gpu", "default"):
        django_rq.get_queue(name).empty()


@pytest.fixture
def audio(project, short_speech):
    """1.2 s of speech, uploaded into alice's project."""
    return add_asset(project, short_speech)


@pytest.fixture
def video(project, face_clip):
    """A 1 s presenter clip, uploaded into alice's project."""
    return add_asset(project, face_clip)
