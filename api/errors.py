"""Every error is JSON with a stable code and a human message:

    {"error": {"code": "not_found", "message": "Not found.", "fields": {...}}}

`fields` (validation errors only) maps each bad field to its messages.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApiError(exceptions.APIException):
    """An error with our own code: ApiError(409, "output_not_available", message)."""

    def __init__(self, status_code: int, code: str, message: str):
        super().__init__(message, code)
        self.status_code = status_code


def error_response(status_code: int, code: str, message: str, fields: dict | None = None, headers=None) -> Response:
    body = {"code": code, "message": str(message)}
    if fields:
        body["fields"] = fields
    return Response({"error": body}, status=status_code, headers=headers)


def _first_code(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_code(value)
    if isinstance(detail, list) and detail:
        return _first_code(detail[0])
    return getattr(detail, "code", "") or "invalid"


def _messages(detail):
    if isinstance(detail, dict):
        return {key: _messages(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_messages(value) for value in detail]
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, PermissionDenied):
        # Only projects/access.py `require` raises it: someone who may see the
        # object asked for more than their role in its project allows.
        exc = ApiError(403, "forbidden_role", _(
            "Your role in this project does not allow this. Viewers see and download; editors also upload, speak "
            "scripts and start, cancel and retry batches; the owner also archives and restores the project."))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a 500: Django's handler logs it
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After")}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _messages(detail)
        first = next(iter(fields.values()))
        message = first[0] if isinstance(first, list) and first and isinstance(first[0], str) else _("The request is not valid.")
        return error_response(status.HTTP_400_BAD_REQUEST, "validation_error", message, fields)
    code = _first_code(exc.detail)
    if isinstance(exc, exceptions.Throttled):
        code = "rate_limited"
    message = exc.detail if isinstance(exc.detail, str) else exc.default_detail
    return error_response(response.status_code, code, message, headers=headers)
