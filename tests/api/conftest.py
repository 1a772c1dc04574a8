import pytest

from api.models import ApiToken
from tests.queues import empty_queues  # noqa: F401 (autouse: each test starts with empty queues)


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def alice_token(alice) -> str:
    return ApiToken.issue(alice, "LMS")[1]


@pytest.fixture
def bob_token(bob) -> str:
    return ApiToken.issue(bob, "bob's script")[1]
