import django_rq
import pytest

from rendering import queues
from tests.rendering.helpers import add_asset


def clear_queues() -> None:
    """Every member's GPU queue (and which were served when), and `default`."""
    conn = queues.connection()
    for name in queues.gpu_queue_names(conn):
        queues.gpu_queue(name, conn).empty()
    conn.delete(queues.REGISTRY_KEY, queues.SERVED_KEY, queues.SERIAL_KEY)
    django_rq.get_queue("default").empty()


@pytest.fixture(autouse=True)
def empty_queues(settings, tmp_path):
    """Each test starts with empty queues and its own worker caches."""
    settings.HEYGEM_CACHE_DIR = tmp_path / "cache"
    clear_queues()
    yield
    clear_queues()


@pytest.fixture
def audio(project, short_speech):
    """1.2 s of speech, uploaded into alice's project."""
    return add_asset(project, short_speech)


@pytest.fixture
def video(project, face_clip):
    """A 1 s presenter clip, uploaded into alice's project."""
    return add_asset(project, face_clip)
