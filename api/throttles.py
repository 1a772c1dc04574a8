"""Rate limits per token (per member for the docs page's session), counted in
Redis so every web process shares the count."""

from __future__ import annotations

from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken

_cache: RedisCache | None = None


def _redis_cache() -> RedisCache:
    global _cache
    if _cache is None:
        _cache = RedisCache(settings.REDIS_URL, {"KEY_PREFIX": "heygem:api"})
    return _cache


class PerTokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def __init__(self):
        self.cache = _redis_cache()
        super().__init__()

    def get_rate(self) -> str:
        return f"{settings.HEYGEM_API_RATE_PER_MINUTE}/min"

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiToken):
            return f"throttle:token:{request.auth.key_hash[:32]}"
        if request.user is not None and request.user.is_authenticated:
            return f"throttle:user:{request.user.pk}"
        return None  # refused anyway (401)
