"""`Idempotency-Key`: a POST retried with the same key (a timeout, a crashed
client) answers what the first one answered instead of doing it again.

The key is claimed in its own committed row before the work starts, so a
concurrent duplicate finds it (409 while the first is still running). Only a
success is remembered: a refused request (bad input, over quota) may be sent
again with the same key once fixed. Keys are kept for KEEP."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ApiError
from api.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
#: A claim still without an answer after this was left by a process that died: it no longer blocks the key.
ABANDONED = timedelta(minutes=5)
MAX_LENGTH = 200


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str) if request.data else ""
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def once(request: Request, work: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return work()
    if len(key) > MAX_LENGTH:
        raise ApiError(400, "bad_idempotency_key", _("The Idempotency-Key is longer than %(max)d characters.")
                       % {"max": MAX_LENGTH})
    user, fingerprint = request.user, _fingerprint(request)
    now = timezone.now()
    IdempotencyKey.objects.filter(user=user, key=key, created_at__lt=now - KEEP).delete()
    IdempotencyKey.objects.filter(user=user, key=key, status_code__isnull=True, created_at__lt=now - ABANDONED).delete()
    try:
        with transaction.atomic():
            claim = IdempotencyKey.objects.create(user=user, key=key, path=request.path[:200], request_hash=fingerprint)
    except IntegrityError:
        earlier = IdempotencyKey.objects.get(user=user, key=key)
        if earlier.request_hash != fingerprint:
            raise ApiError(422, "idempotency_key_reused", _(
                "This Idempotency-Key was already used for a different request. Use a new key for a new request."
            )) from None
        if earlier.status_code is None:
            raise ApiError(409, "idempotency_in_progress", _(
                "A request with this Idempotency-Key is still being processed. Try again in a moment."
            )) from None
        return Response(earlier.response, status=earlier.status_code, headers={"Idempotent-Replayed": "true"})
    try:
        response = work()
    except BaseException:
        claim.delete()
        raise
    if 200 <= response.status_code < 300:
        claim.status_code = response.status_code
        claim.response = json.loads(json.dumps(response.data, default=str))
        claim.save(update_fields=["status_code", "response"])
    else:
        claim.delete()
    return response
