"""Web URLs that the API hands out (a voice's `sample_url`) take the API's
token as well as a signed-in session, so a program can follow them with the
header it already sends. Django REST framework loads only when a token comes
(the web process does not import it for its pages)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


def login_or_token_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`Authorization: Bearer <token>`: the API's rules (its member, or 401 in
    the API's error shape for an unknown, revoked or expired token). Without
    one: `login_required` (signed out, the login page)."""
    signed_in = login_required(view)

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.headers.get("Authorization", "").split(" ", 1)[0].lower() == "bearer":
            from api.auth import token_member

            refused = token_member(request)
            if refused is not None:
                return refused
            return view(request, *args, **kwargs)
        return signed_in(request, *args, **kwargs)

    return wrapped
