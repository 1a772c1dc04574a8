"""Login lockout (django-axes) with two limits, and the page a locked-out
login gets.

- AXES_FAILURE_LIMIT failures for one username from one address lock that
  pair: one person's typos in a shared office lock out nobody else.
- HEYGEM_LOGIN_USERNAME_LIMIT failures for one username, from any number of
  addresses, lock that username everywhere: someone who rotates addresses (or
  forged X-Forwarded-For headers) gets that many guesses per cool-off, not
  five per address.

Both count the failures within the cool-off time (AXES_COOLOFF_TIME).
"""

from __future__ import annotations

import math
from datetime import datetime

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def _username_attempts(request: HttpRequest, username: str | None):
    return AccessAttempt.objects.filter(username=username, attempt_time__gte=get_cool_off_threshold(request))


def username_locked(request: HttpRequest, username: str | None) -> bool:
    """Whether ``username`` has used up its failures across all addresses."""
    if not username:
        return False
    failures = _username_attempts(request, username).aggregate(n=Sum("failures_since_start"))["n"] or 0
    return failures >= settings.HEYGEM_LOGIN_USERNAME_LIMIT


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, plus the per-username limit (AXES_HANDLER)."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        failures = super().get_failures(request, credentials)
        if username_locked(request, get_client_username(request, credentials)):
            # Axes locks when failures reach its limit: report at least that.
            return max(failures, get_failure_limit(request, credentials))
        return failures


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: plain words, and how long the lock lasts from
    now (the cool-off runs from the last failed attempt)."""
    username = get_client_username(request, credentials)
    everywhere = username_locked(request, username)
    attempts = _username_attempts(request, username)
    if not everywhere:
        attempts = attempts.filter(ip_address=getattr(request, "axes_ip_address", None))
    last: datetime | None = attempts.aggregate(last=Max("attempt_time"))["last"]
    cool_off = settings.AXES_COOLOFF_TIME
    remaining = (last + cool_off - timezone.now()) if last else cool_off
    context = {
        "minutes": max(1, math.ceil(remaining.total_seconds() / 60)),
        "failure_limit": settings.HEYGEM_LOGIN_USERNAME_LIMIT if everywhere else settings.AXES_FAILURE_LIMIT,
        "everywhere": everywhere,
    }
    return render(request, "registration/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
