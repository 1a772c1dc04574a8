"""Content-Security-Policy on every response.

The app's own pages use no inline scripts or styles, so the policy allows
only files from this origin; a successful HTML injection then cannot run
script. The django-rq dashboard (staff only) ships inline scripts and styles,
so paths in CSP_RELAXED_PATHS get 'unsafe-inline' for those two.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def build_policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}".strip() for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = build_policy(settings.CSP_DIRECTIVES)
        relaxed = dict(settings.CSP_DIRECTIVES)
        for name in ("script-src", "style-src"):
            relaxed[name] = f"{relaxed.get(name, '')} 'unsafe-inline'".strip()
        self.relaxed_policy = build_policy(relaxed)
        self.relaxed_paths = tuple(settings.CSP_RELAXED_PATHS)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # A view may set its own (stricter) policy; keep it.
        if HEADER not in response:
            relaxed = request.path.startswith(self.relaxed_paths)
            response[HEADER] = self.relaxed_policy if relaxed else self.policy
        return response
