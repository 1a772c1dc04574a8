"""Sharing a project: members and roles, giving a project to someone else,
and the project's activity list (with renaming and archiving, which the
whole team should see). Used by the share page and by
``manage.py share_project``; each change is written to the activity list,
and members whose access changed are told at once, so an open progress
socket re-checks access immediately (rendering/consumers.py)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from projects.models import Activity, Member, Project, Role

#: What the share page and the command accept; "none" removes the member.
NONE = "none"
ROLE_CHOICES = (Role.VIEWER.value, Role.EDITOR.value, NONE)


class SharingError(ValueError):
    """A share request that cannot be done; the message is for the member."""


def record(project: Project | int, actor, verb: str, target: str = "") -> Activity:
    """One line of the project's activity list."""
    project_id = project if isinstance(project, int) else project.pk
    name = actor.get_username() if actor is not None else _("system")
    return Activity.objects.create(
        project_id=project_id, actor=actor if actor is not None and actor.pk else None, actor_name=name[:150],
        verb=verb, target=str(target)[:300],
    )


def set_archived(project: Project, archived: bool, actor) -> bool:
    """Archive the project or restore it (web page and API alike), written to
    its activity list. Returns False when it already was so (nothing written)."""
    with transaction.atomic():
        changed = Project.objects.filter(pk=project.pk, archived=not archived).update(archived=archived)
        project.archived = archived
        if changed:
            record(project, actor, Activity.Verb.ARCHIVED if archived else Activity.Verb.RESTORED)
    return bool(changed)


def renamed(project: Project, before: str, actor) -> None:
    """After the project's form was saved: one line when its name changed."""
    if project.name != before:
        record(project, actor, Activity.Verb.RENAMED, f"{before} → {project.name}")


def set_role(project: Project, user, role: str, actor=None) -> str:
    """Share `project` with `user` as viewer or editor, change their role, or
    remove them (role "none"). Returns what happened: "added", "changed",
    "removed" or "unchanged". Raises SharingError."""
    if role not in ROLE_CHOICES:
        raise SharingError(_("Choose a role: viewer, editor or none."))
    if user.pk == project.owner_id:
        raise SharingError(_("%(name)s owns this project already.") % {"name": user.get_username()})
    if role != NONE and not user.is_active:
        raise SharingError(_("%(name)s cannot log in any more.") % {"name": user.get_username()})
    with transaction.atomic():
        member = Member.objects.select_for_update().filter(project=project, user=user).first()
        if role == NONE:
            if member is None:
                return "unchanged"
            member.delete()
            record(project, actor, Activity.Verb.UNSHARED, user.get_username())
            outcome = "removed"
        elif member is None:
            Member.objects.create(project=project, user=user, role=role)
            record(project, actor, Activity.Verb.SHARED, f"{user.get_username()} ({Role(role).label})")
            outcome = "added"
        elif member.role != role:
            member.role = role
            member.save(update_fields=["role"])
            record(project, actor, Activity.Verb.SHARED, f"{user.get_username()} ({Role(role).label})")
            outcome = "changed"
        else:
            return "unchanged"
        transaction.on_commit(lambda: access_changed([user.pk], project.pk))
    return outcome


def transfer(project: Project, new_owner, actor=None) -> None:
    """Give the project to `new_owner`; the previous owner stays as an editor."""
    if new_owner.pk == project.owner_id:
        raise SharingError(_("%(name)s owns this project already.") % {"name": new_owner.get_username()})
    if not new_owner.is_active:
        raise SharingError(_("%(name)s cannot log in any more.") % {"name": new_owner.get_username()})
    with transaction.atomic():
        previous = project.owner
        Member.objects.filter(project=project, user=new_owner).delete()
        project.owner = new_owner
        project.save(update_fields=["owner"])
        Member.objects.update_or_create(project=project, user=previous, defaults={"role": Role.EDITOR})
        record(project, actor, Activity.Verb.TRANSFERRED, new_owner.get_username())
        transaction.on_commit(lambda: access_changed([previous.pk, new_owner.pk], project.pk))


def access_changed(user_ids, project_id: int) -> None:
    """Tell these members' open sockets to check their access again now."""
    from rendering.events import notify_access_changed

    for user_id in user_ids:
        notify_access_changed(user_id, project_id)
