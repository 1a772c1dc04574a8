"""Checking a HeyGem webhook in a receiver (copy this file; it needs only the
standard library). docs/api.md shows the same in JavaScript.

    from webhook_verify import verify
    if not verify(secret, request.headers["HeyGem-Signature"], raw_body):
        return 400
"""

from __future__ import annotations

import hashlib
import hmac
import time

#: Refuse deliveries signed longer ago than this (a replayed old request).
TOLERANCE_S = 300


def verify(secret: str, header: str, body: bytes, *, tolerance: int = TOLERANCE_S, now: float | None = None) -> bool:
    """True when `header` ("t=<unix time>,v1=<hex>") signs `body` (the raw
    bytes received, before any JSON parsing) with `secret`, recently."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)
