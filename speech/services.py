"""Starting speech from a script: one row, one job on the `default` queue
(sent when the transaction commits, so the worker finds the row)."""

from __future__ import annotations

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from projects.models import Project, Template
from rendering import quotas
from rendering.quotas import QuotaExceeded
from rendering.services import _lock_member
from speech.models import ScriptBatch, Speech

ACTIVE = (Speech.Status.QUEUED, Speech.Status.RUNNING)


def _check_speech_quota(user) -> None:
    """One job per script, or per batch of scripts (spoken one after the other):
    at most HEYGEM_SPEECH_ACTIVE_MAX waiting or running per member."""
    limit = settings.HEYGEM_SPEECH_ACTIVE_MAX
    active = (Speech.objects.filter(owner=user, status__in=ACTIVE, script_batch=None).count()
              + ScriptBatch.objects.filter(owner=user, status__in=ACTIVE).count())
    if active >= limit:
        raise QuotaExceeded(ngettext(
            "You already have %(limit)d script being spoken; wait for it to finish.",
            "You already have %(limit)d scripts being spoken; wait for one to finish.", limit) % {"limit": limit})


def _enqueue(function: str, pk: int) -> None:
    transaction.on_commit(lambda: django_rq.get_queue("default").enqueue(
        function, pk, description=f"{function.rsplit('.', 1)[-1]} {pk}", result_ttl=3600, failure_ttl=7 * 86400))


def start_speech(user, project: Project, *, title: str, text: str, language: str, voice: str,
                 speed: float) -> Speech:
    """Raises QuotaExceeded when the member already has
    HEYGEM_SPEECH_ACTIVE_MAX scripts being spoken."""
    with transaction.atomic():
        _lock_member(user.pk)
        _check_speech_quota(user)
        speech = Speech.objects.create(project=project, owner=user, title=title, text=text, language=language,
                                       voice=voice, speed=speed)
        _enqueue("speech.jobs.synthesize_speech", speech.pk)
        project.touch()
    return speech


def start_script_batch(user, project: Project, *, name: str, template: Template, scripts: list[tuple[str, str]],
                       voice: str, language: str, speed: float) -> ScriptBatch:
    """Scripts [(title, text), ...] × one template: spoken in one job, then
    rendered as one batch. The render quotas are checked now (and again
    when the batch starts); raises QuotaExceeded."""
    with transaction.atomic():
        _lock_member(user.pk)
        _check_speech_quota(user)
        quotas.check_new_renders(user, len(scripts))
        plan = ScriptBatch.objects.create(project=project, owner=user, name=name, template=template)
        Speech.objects.bulk_create(
            Speech(project=project, owner=user, title=title, text=text, language=language, voice=voice, speed=speed,
                   script_batch=plan, position=n)
            for n, (title, text) in enumerate(scripts)
        )
        _enqueue("speech.jobs.speak_script_batch", plan.pk)
        project.touch()
    return plan


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
