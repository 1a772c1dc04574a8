"""The voice picker's contents, read once per process (the engine's
library loads here, on the first form shown, not when the web starts)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy as _


@lru_cache(maxsize=1)
def _cached(model_dir: str):
    from ml.speech import list_voices

    return tuple(list_voices(Path(model_dir)))


def available_voices():
    return _cached(str(settings.HEYGEM_MODEL_DIR))


def forget() -> None:
    """After installing a voice (and in tests)."""
    _cached.cache_clear()


def voice_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    voices = available_voices()
    neural = [(v.name, f"{v.label} ({v.language})") for v in voices if v.engine == "neural"]
    bundled = [(v.name, f"{v.label} ({v.language})") for v in voices if v.engine != "neural"]
    groups = []
    if neural:
        groups.append((_("Installed natural voices"), neural))
    groups.append((_("Built-in voices (eSpeak NG: clear but synthetic-sounding)"), bundled))
    return groups


def language_of(name: str) -> str | None:
    return next((v.language for v in available_voices() if v.name == name), None)
