"""Reading streamed responses in tests that use Django's test client."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.http import StreamingHttpResponse


def body(response: StreamingHttpResponse) -> bytes:
    """All bytes of a streaming response: downloads are async iterators (so
    daphne sends them a block at a time), which the sync test client leaves
    for the caller to consume."""
    assert response.is_async, "downloads must stream by async iteration under daphne"

    async def collect() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return async_to_sync(collect)()
