import pytest

from api.models import ApiToken
from tests.rendering.conftest import clear_queues


@pytest.fixture(autouse=True)
def empty_queues(settings, tmp_path):
    settings.HEYGEM_CACHE_DIR = tmp_path / "cache"
    clear_queues()
    yield
    clear_queues()


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def alice_token(alice) -> str:
    return ApiToken.issue(alice, "LMS")[1]


@pytest.fixture
def bob_token(bob) -> str:
    return ApiToken.issue(bob, "bob's script")[1]


@pytest.fixture
def audio(project, short_speech):
    from tests.rendering.helpers import add_asset

    return add_asset(project, short_speech)


@pytest.fixture
def video(project, face_clip):
    from tests.rendering.helpers import add_asset

    return add_asset(project, face_clip)
