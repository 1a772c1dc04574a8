"""Cleaning a script, splitting it into sentence chunks, and telling which
writing system it is in (to warn when it does not fit the voice)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

#: Longest chunk handed to the synthesiser at once: short enough for steady
#: progress and bounded memory, long enough to keep the intonation of a sentence.
MAX_CHUNK = 400
_SENTENCE_END = re.compile(r"(?<=[.!?;:。！？；：…])\s*|\n+")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
#: Character categories that can be spoken or shape the speech (letters,
#: marks, digits, punctuation, spaces, currency).
_SPEAKABLE = ("L", "M", "N", "P", "Zs")
_KEPT_SYMBOLS = set("%&+=$€£¥@#°/")


@dataclass
class CleanText:
    text: str
    #: Characters removed because no voice can say them (emoji, pictographs,
    #: control characters), most frequent first: shown to the member.
    unsupported: list[str] = field(default_factory=list)


def clean_text(raw: str) -> CleanText:
    """Unicode NFC, one space between words, paragraphs kept as line breaks;
    unsupported characters removed *and reported*."""
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    removed: Counter[str] = Counter()
    kept = []
    for ch in text:
        if ch == "\n" or ch in _KEPT_SYMBOLS or unicodedata.category(ch).startswith(_SPEAKABLE):
            kept.append(ch)
        elif ch == "\t":
            kept.append(" ")
        else:
            removed[ch] += 1
            kept.append(" ")
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(kept).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return CleanText(text=text, unsupported=[ch for ch, _ in removed.most_common()])


def chunks(text: str, limit: int = MAX_CHUNK) -> list[str]:
    """Sentences, packed into chunks of at most `limit` characters; a single
    sentence longer than that is cut at a space (or anywhere, for scripts
    without spaces)."""
    out: list[str] = []
    current = ""
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            piece, sentence = sentence[:cut].strip(), sentence[cut:].strip()
            if current:
                out.append(current)
                current = ""
            out.append(piece)
        if current and len(current) + 1 + len(sentence) > limit:
            out.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        out.append(current)
    return out


def script_of(ch: str) -> str | None:
    """A coarse writing system for a letter: han, kana, hangul, latin, cyrillic, ... (None for non-letters)."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    name = unicodedata.name(ch, "")
    if name.startswith("CJK"):
        return "han"
    if name.startswith(("HIRAGANA", "KATAKANA")):
        return "kana"
    first = name.split(" ", 1)[0].lower()
    return first or None


def main_script(text: str) -> tuple[str | None, float]:
    """The writing system of most letters in `text`, and its share of them."""
    counts = Counter(s for s in map(script_of, text) if s)
    if not counts:
        return None, 0.0
    script, n = counts.most_common(1)[0]
    return script, n / sum(counts.values())


#: The writing system each language's text is expected in (languages not
#: listed here are not checked).
LANGUAGE_SCRIPTS = {
    "cmn": {"han"}, "yue": {"han"}, "zh": {"han"}, "ja": {"han", "kana"}, "ko": {"hangul", "han"},
    "ru": {"cyrillic"}, "uk": {"cyrillic"}, "bg": {"cyrillic"}, "sr": {"cyrillic", "latin"},
    "el": {"greek"}, "ar": {"arabic"}, "fa": {"arabic"}, "he": {"hebrew"}, "hi": {"devanagari"},
    "th": {"thai"},
}
LATIN_DEFAULT = {"latin"}


def script_mismatch(text: str, language: str) -> str | None:
    """The script found in `text` when it obviously does not fit `language`
    (e.g. Chinese text to an English voice), else None."""
    script, share = main_script(text)
    if script is None or share < 0.6:
        return None
    base = language.lower().split("-")[0].split("_")[0]
    expected = LANGUAGE_SCRIPTS.get(base, LATIN_DEFAULT)
    return None if script in expected else script
