"""Starting speech from a script: one row, one job on the `default` queue
(sent when the transaction commits, so the worker finds the row)."""

from __future__ import annotations

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _, ngettext

from projects.models import Project
from rendering.quotas import QuotaExceeded
from speech.models import Speech

ACTIVE = (Speech.Status.QUEUED, Speech.Status.RUNNING)


def start_speech(user, project: Project, *, title: str, text: str, language: str, voice: str,
                 speed: float) -> Speech:
    """Raises QuotaExceeded when the member already has
    HEYGEM_SPEECH_ACTIVE_MAX scripts being spoken."""
    limit = settings.HEYGEM_SPEECH_ACTIVE_MAX
    with transaction.atomic():
        active = Speech.objects.select_for_update().filter(owner=user, status__in=ACTIVE)
        if len(active) >= limit:
            raise QuotaExceeded(ngettext(
                "You already have %(limit)d script being spoken; wait for it to finish.",
                "You already have %(limit)d scripts being spoken; wait for one to finish.", limit) % {"limit": limit})
        speech = Speech.objects.create(project=project, owner=user, title=title, text=text, language=language,
                                       voice=voice, speed=speed)
        transaction.on_commit(lambda: django_rq.get_queue("default").enqueue(
            "speech.jobs.synthesize_speech", speech.pk, description=f"speech {speech.pk}",
            result_ttl=3600, failure_ttl=7 * 86400))
        project.touch()
    return speech


def mismatch_warning(findings: dict) -> str:
    if not findings.get("mismatch"):
        return ""
    return _("The script looks like it is written in another script (%(script)s) than the voice’s language: "
             "the voice will mispronounce it. Choose a voice for the script’s language.") % {
        "script": findings["mismatch"]}


def unsupported_warning(findings: dict) -> str:
    chars = findings.get("unsupported") or []
    if not chars:
        return ""
    return _("These characters cannot be spoken and were left out: %(chars)s") % {"chars": " ".join(chars[:20])}
