"""Translated labels for the raw keys a render page would otherwise show:
render settings, stage timings, face detectors and the worker's log lines.
The raw manifest stays one click away on the render page, for experts."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from projects.forms import RenderSettingsForm
from rendering.log_lines import localized_log
from rendering.models import Status

register = template.Library()

#: Time per stage, as the engine and the job record it (ml/pipeline.py, rendering/jobs.py).
TIMING_LABELS = {
    "audio": _("Reading the audio"),
    "detect": _("Detecting faces"),
    "decode": _("Reading the video"),
    "infer": _("Lip-syncing"),
    "crop_paste": _("Pasting the mouth"),
    "encode": _("Encoding"),
    "finish": _("Finishing the video"),
    "store": _("Storing"),
    "total": _("Total"),
}

#: ml.settings.RenderResult.detector_used
DETECTOR_LABELS = {
    "sfd": _("S3FD (accurate)"),
    "opencv": _("OpenCV (fast, less accurate)"),
    "box": _("Fixed face box"),
}


@register.simple_tag
def setting_rows(settings: dict) -> list[tuple[str, str]]:
    """A render's settings as (translated label, translated value) pairs, in
    the form's order; a key the form does not know is shown as it is."""
    known = RenderSettingsForm.SETTING_FIELDS
    rows = []
    for key in [*(k for k in known if k in settings), *sorted(set(settings) - set(known))]:
        value, field = settings[key], RenderSettingsForm.base_fields.get(key)
        if field is None:
            rows.append((key, str(value)))
        else:
            choices = dict(getattr(field, "choices", ()))
            rows.append((str(field.label), str(choices.get(value, value))))
    return rows


@register.filter
def timing_label(key: str) -> str:
    return str(TIMING_LABELS.get(key, key))


@register.filter
def detector_label(key: str) -> str:
    return str(DETECTOR_LABELS.get(key, key))


@register.filter
def translated_log(text: str) -> str:
    """The render log with each line in the reader's language: the engine's
    lines through their shapes (rendering/log_lines.py, values kept as
    written), the job's fixed sentences (marked with gettext_noop) through the
    catalogue; time stamps and unknown lines stay as written."""
    return localized_log(text)


@register.filter
def batch_summary(counts: dict[str, int]) -> str:
    """"2 succeeded, 1 failed": each outcome counted apart, so a failure is
    never hidden in "3 of 3 done". static/js/batch.js builds the same line live."""
    parts = {
        Status.SUCCEEDED: gettext("%(n)s succeeded"),
        Status.FAILED: gettext("%(n)s failed"),
        Status.CANCELLED: gettext("%(n)s cancelled"),
        Status.RUNNING: gettext("%(n)s running"),
        Status.QUEUED: gettext("%(n)s waiting"),
    }
    return pgettext("list separator", ", ").join(
        text % {"n": counts[status]} for status, text in parts.items() if counts.get(status)
    )
