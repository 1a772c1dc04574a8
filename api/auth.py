"""`Authorization: Bearer <token>`: the token acts as its member (same access
rules, quotas and fair share as the web pages). A read-only token may only
read. An unknown, revoked or expired token, or a disabled member, gets 401."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission

from api.models import ApiToken, hash_token

#: last_used_at is written at most this often per token (not one write per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenProblem(exceptions.AuthenticationFailed):
    default_code = "invalid_token"


class BearerTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            raise TokenProblem(_("Send the token as “Authorization: Bearer <token>”."), code="invalid_token")
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(parts[1])).first()
        if token is None:
            raise TokenProblem(_("This API token is not valid."), code="invalid_token")
        if token.is_revoked:
            raise TokenProblem(_("This API token was revoked."), code="token_revoked")
        if token.is_expired:
            raise TokenProblem(_("This API token has expired."), code="token_expired")
        if not token.user.is_active:
            raise TokenProblem(_("The member of this API token is disabled."), code="invalid_token")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when no credentials were sent.
        return f'{self.keyword} realm="api"'


def token_member(request: HttpRequest) -> HttpResponse | None:
    """For a plain Django view (api/web.py): the token's member becomes
    ``request.user``; a bad token gets the API's 401."""
    authenticator = BearerTokenAuthentication()
    try:
        request.user, _token = authenticator.authenticate(request)
    except exceptions.AuthenticationFailed as problem:
        body = {"error": {"code": problem.get_codes(), "message": str(problem.detail)}}
        return JsonResponse(body, status=401, headers={"WWW-Authenticate": authenticator.authenticate_header(request)})
    return None


class TokenScope(BasePermission):
    """Logged in (token or session); a read-only token may only read."""

    message = _("This API token is read-only.")
    code = "read_only_token"

    def has_permission(self, request, view) -> bool:
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated(_("Send an API token: “Authorization: Bearer <token>”."))
        token = request.auth
        if isinstance(token, ApiToken) and token.read_only and request.method not in SAFE_METHODS:
            return False
        return True



class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The schema's security scheme (docs page: "Authorize" with a token)."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal API token (hg_...)."}
