"""Empty render queues for the tests that enqueue work. The conftests of the
rendering, API and S3 tests import ``empty_queues``, which makes it autouse
there (and only there: other tests never touch Redis for it)."""

import django_rq
import pytest

from rendering import queues


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
