from tests.queues import empty_queues  # noqa: F401 (autouse: each test starts with empty queues)
