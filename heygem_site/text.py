"""Cleaning names people type (projects, batches, templates) or that come
with an upload (asset display names)."""

from __future__ import annotations

import re
import unicodedata

# Line and paragraph breaks of every kind, and tabs: each run becomes one space.
_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")


def clean_name(value: str) -> str:
    """A name fit for a page title, a file name and a Content-Disposition
    header: line breaks and tabs become a space, other control characters are
    removed, and the ends are trimmed. (A line break in a batch name used to
    break every download of that batch.)"""
    value = _BREAKS.sub(" ", value)
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cc").strip()
