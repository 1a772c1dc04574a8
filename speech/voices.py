"""The voice picker's contents, read once per process (the engine's
library loads here, on the first form shown, not when the web starts)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings


@lru_cache(maxsize=1)
def _cached(model_dir: str):
    from ml.speech import list_voices

    return tuple(list_voices(Path(model_dir)))


def available_voices():
    return _cached(str(settings.HEYGEM_MODEL_DIR))


def forget() -> None:
    """After installing a voice (and in tests)."""
    _cached.cache_clear()
