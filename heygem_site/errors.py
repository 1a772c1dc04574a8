"""Error answers: the friendly pages for people, the API's JSON shape for
programs. Django logs a 500's traceback before calling `server_error`."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": {"code": "not_found", "message": _("Not found.")}}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        message = _("Something went wrong on the server. Try again, and tell your administrator if it keeps "
                    "happening.")
        return JsonResponse({"error": {"code": "internal_error", "message": message}}, status=500)
    return defaults.server_error(request)
