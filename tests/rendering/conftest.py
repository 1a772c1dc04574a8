import django_rq
import pytest


@pytest.fixture(autouse=True)
def empty_queues(settings, tmp_path):
    """Each test starts with empty queues and its own worker caches."""
    settings.HEYGEM_CACHE_DIR = tmp_path / "cache"
    for name in ("gpu", "default"):
        django_rq.get_queue(name).empty()
    yield
    for name in ("gpu", "default"):
        django_rq.get_queue(name).empty()
