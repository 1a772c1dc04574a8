"""The render log in the reader's language.

A render's log holds two kinds of lines. The job writes fixed sentences
(rendering/jobs.py, rendering/services.py), marked with gettext_noop and
translated as they are. The engine (ml/, which imports no Django) writes
English sentences with values in them: "Audio: 1.20 s, resampled to 16 kHz
with soxr HQ." Each such shape is here: a regular expression with named
groups and a translatable template with the same placeholders, so the values
(file names, numbers, versions) go into the translated sentence as written.

Some values are themselves one of a few English phrases (why a backend was
chosen, why a precision fell back to fp32, an optional "(still image)"): such
a group has its own small table of shapes and stays as written when none
matches. A line that matches no shape stays as written too, so a new engine
line is never lost, only untranslated until it is added here
(tests/rendering/test_log_lines.py fails until it is).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Shape:
    """One line (or phrase) shape: ``pattern`` must match the whole text;
    ``parts`` names the groups whose value is translated by shapes of its own."""

    pattern: re.Pattern[str]
    template: Promise
    parts: Mapping[str, Sequence[Shape]] = field(default_factory=dict)


def shape(pattern: str, template: Promise, **parts: Sequence[Shape]) -> Shape:
    return Shape(re.compile(pattern), template, parts)


# --- phrases inside the Backend line (ml/pipeline.py backend_note, ml/backends.py Choice.describe,
# ml/infer.py precision_unsupported) --------------------------------------------------------------

RUNTIMES = (
    shape(r"PyTorch (?P<version>\S+) \(channels-last\)", _("PyTorch %(version)s (channels-last)")),
    shape(r"ONNX Runtime (?P<version>\S+)", _("ONNX Runtime %(version)s")),
)

BACKEND_REASONS = (
    shape(r"set by configuration", _("set by configuration")),
    shape(r"the only backend that runs on this device", _("the only backend that runs on this device")),
    # Translators: inside the "Backend: ..." line, why this backend ran.
    shape(r"chosen", pgettext_lazy("why a backend ran", "chosen")),
    shape(
        r"fastest measured on this device: (?P<times>.+) per batch",
        # Translators: inside the "Backend: ..." line; "times" is e.g. "onnx 820 ms, torch 900 ms".
        _("fastest measured on this device: %(times)s per batch"),
    ),
    shape(
        r"fastest measured on this device \(cached\): (?P<times>.+) per batch",
        # Translators: inside the "Backend: ..." line; "times" is e.g. "onnx 820 ms, torch 900 ms".
        _("fastest measured on this device (cached): %(times)s per batch"),
    ),
)

PRECISION_REASONS = (
    shape(r"the onnx backend runs fp32", _("the onnx backend runs fp32")),
    shape(r"fp16 needs a GPU \(CPUs run it slower than fp32\)", _("fp16 needs a GPU (CPUs run it slower than fp32)")),
    shape(r"this GPU has no bf16", _("this GPU has no bf16")),
    shape(r"this CPU has no bf16 instructions \(AVX-512 BF16 or AMX\)",
          _("this CPU has no bf16 instructions (AVX-512 BF16 or AMX)")),
)

PRECISION_FALLBACKS = (
    shape(
        r"; (?P<asked>\w+) was asked for but (?P<reason>.+): (?P<ran>\w+) ran",
        # Translators: the end of the "Backend: ..." line, starting with "; ". "asked" and "ran" are fp32, fp16
        # or bf16; "reason" is one of the phrases translated next to this one.
        _("; %(asked)s was asked for but %(reason)s: %(ran)s ran"),
        reason=PRECISION_REASONS,
    ),
    shape(
        r"; (?P<asked>\w+) was asked for but (?P<reason>.+)",
        # Translators: the end of the "Backend: ..." line, starting with "; ". "asked" is fp16 or bf16.
        _("; %(asked)s was asked for but %(reason)s"),
        reason=PRECISION_REASONS,
    ),
)

# --- phrases inside the Video line (ml/pipeline.py) ----------------------------------------------

STILL_IMAGE = (
    # Translators: inside the "Video: ..." line, after the frame rate; starts with a space.
    shape(r" \(still image\)", _(" (still image)")),
)

TURNED = (
    shape(
        r" \(turned (?P<degrees>-?\d+)° clockwise, as players show it\)",
        # Translators: inside the "Video: ..." line, after the frame rate; starts with a space.
        _(" (turned %(degrees)s° clockwise, as players show it)"),
    ),
)

#: Every line shape the engine writes (ml/pipeline.py note(...), ml/detect.py make_detector),
#: and the job's failure line (rendering/jobs.py _fail), in the order they are tried.
ENGINE_LINES: tuple[Shape, ...] = (
    shape(r"Model: custom checkpoint \(sha256 (?P<sha256>[0-9a-f]+)…, not an official file\)\.",
          _("Model: custom checkpoint (sha256 %(sha256)s…, not an official file).")),
    shape(r"Model: (?P<name>.+) \(official, sha256 verified\)\.", _("Model: %(name)s (official, sha256 verified).")),
    shape(
        r"Backend: (?P<backend>\w+), (?P<runtime>.+?) on (?P<device>\S+), (?P<precision>\w+)"
        r" \((?P<why>.+?)\)(?P<fallback>(?:; .+)?)\.",
        # Translators: e.g. "Backend: torch, PyTorch 2.8.0 (channels-last) on cpu, fp32 (set by configuration)."
        _("Backend: %(backend)s, %(runtime)s on %(device)s, %(precision)s (%(why)s)%(fallback)s."),
        runtime=RUNTIMES, why=BACKEND_REASONS, fallback=PRECISION_FALLBACKS,
    ),
    shape(r"Audio: (?P<seconds>\d+(?:\.\d+)?) s, resampled to 16 kHz with (?P<resampler>.+)\.",
          _("Audio: %(seconds)s s, resampled to 16 kHz with %(resampler)s.")),
    shape(
        r"Video: (?P<width>\d+)x(?P<height>\d+) at (?P<fps>\S+) fps(?P<still>(?: \(still image\))?)"
        r"(?P<turned>(?: \(turned -?\d+° clockwise, as players show it\))?); (?P<frames>\d+) output frames\.",
        # Translators: "still" and "turned" are optional phrases (" (still image)", " (turned 90° clockwise, ...)").
        _("Video: %(width)sx%(height)s at %(fps)s fps%(still)s%(turned)s; %(frames)s output frames."),
        still=STILL_IMAGE, turned=TURNED,
    ),
    shape(r"(?P<count>\d+) frame\(s\) without a face were passed through unchanged\.",
          _("%(count)s frame(s) without a face were passed through unchanged.")),
    shape(r"Face box: fixed \(no detection, no padding, no smoothing\)\.",
          _("Face box: fixed (no detection, no padding, no smoothing).")),
    shape(r"Face detector: OpenCV Haar cascade \(requested\)\.", _("Face detector: OpenCV Haar cascade (requested).")),
    shape(
        r"Face detector: OpenCV Haar cascade \(fallback: no (?P<file>\S+) in the model directory;"
        r" install it for better detection\)\.",
        _("Face detector: OpenCV Haar cascade (fallback: no %(file)s in the model directory;"
          " install it for better detection)."),
    ),
    shape(r"Face detector: S3FD \((?P<file>.+)\)\.", _("Face detector: S3FD (%(file)s).")),
    shape(r"Face track: from cache \(detection skipped\)\.", _("Face track: from cache (detection skipped).")),
    # rendering/jobs.py _fail: the code is a stable key, the message the engine's (shown translated above the log).
    shape(r"Failed: (?P<code>\w+): (?P<message>.+)", _("Failed: %(code)s: %(message)s")),
    shape(r"Failed: (?P<code>\w+)\.", _("Failed: %(code)s.")),
)


def _translate(text: str, shapes: Sequence[Shape]) -> tuple[str, bool] | None:
    """(the text in the active language, whether every phrase in it had a shape),
    or None when no shape matches."""
    for candidate in shapes:
        found = candidate.pattern.fullmatch(text)
        if found is None:
            continue
        values, complete = {}, True
        for name, value in found.groupdict(default="").items():
            if value and name in candidate.parts:
                inner = _translate(value, candidate.parts[name])
                if inner is None:
                    complete = False
                else:
                    value, inner_complete = inner
                    complete = complete and inner_complete
            values[name] = value
        return candidate.template % values, complete
    return None


def translate_line(line: str) -> str | None:
    """An engine line in the active language, or None when it has no known shape."""
    translated = _translate(line, ENGINE_LINES)
    return None if translated is None else translated[0]


def is_known(line: str) -> bool:
    """Whether every part of an engine line has a shape (phrases inside it included)."""
    translated = _translate(line, ENGINE_LINES)
    return translated is not None and translated[1]


def localized_log(text: str) -> str:
    """A render log with each line in the active language: an engine line
    through its shape, a fixed sentence of the job through the catalogue;
    anything else (time stamps, unknown lines) as written."""
    lines = []
    for line in (text or "").split("\n"):
        if not line.strip():
            # gettext("") would return the catalogue's header.
            lines.append(line)
            continue
        translated = translate_line(line)
        lines.append(gettext(line) if translated is None else translated)
    return "\n".join(lines)
