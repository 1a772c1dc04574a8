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


#: A language code people type, and the built-in voice that speaks it when no
#: installed voice does (eSpeak NG names Mandarin "cmn", and has no plain "en").
_BUILT_IN_FOR = {"en": "en-us", "zh": "cmn", "zh-cn": "cmn", "zh-hans": "cmn", "zh-hk": "yue", "zh-yue": "yue"}


def voice_for_language(language: str) -> str | None:
    """The voice a script in `language` gets when none is named: an installed
    (natural) voice for it first, then the built-in one of that exact code,
    then the usual built-in one for a short code ("en", "zh"), then the first
    built-in regional variant ("de" → "de-…"). None: no voice speaks it."""
    wanted = language.strip().lower().replace("_", "-")
    if not wanted:
        return None
    voices = available_voices()

    def code(voice) -> str:
        return voice.language.lower().replace("_", "-")

    for voice in voices:
        if voice.engine == "neural" and (code(voice) == wanted or code(voice).startswith(wanted + "-")):
            return voice.name
    built_in = {code(v): v.name for v in voices if v.engine != "neural"}
    for candidate in (wanted, _BUILT_IN_FOR.get(wanted)):
        if candidate in built_in:
            return built_in[candidate]
    return next((name for c, name in sorted(built_in.items()) if c.startswith(wanted + "-")), None)

