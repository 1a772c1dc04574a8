"""Numbers for people who are not engineers: durations as h:mm:ss."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import filesizeformat

register = template.Library()


@register.filter
def hms(seconds: float | int | None) -> str:
    """5.76 -> "0:00:06", 36000 -> "10:00:00"; "" for no value."""
    if seconds is None or seconds == "":
        return ""
    total = max(0, round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@register.simple_tag
def asset_facts(asset) -> list[str]:
    """An uploaded file's facts for its card, only those it has: an image has
    no length and no frame rate, so its card starts at its size."""
    facts = []
    if asset.duration:
        facts.append(hms(asset.duration))
    if asset.width:
        facts.append(f"{asset.width}×{asset.height}")
    if asset.fps_num and asset.kind == "video":
        facts.append(f"{asset.fps_display} fps")
    if asset.sample_rate and asset.kind == "audio":
        facts.append(f"{asset.sample_rate} Hz")
    facts.append(str(filesizeformat(asset.size)))
    return facts
