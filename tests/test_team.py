"""Working as a team: alice owns a project, bob is its editor, charlie its
viewer, dave an outsider. Every URL and action, with the status each of them
gets, and nothing changed by a refused request (healthchecks' alice/bob/charlie
tests are the model)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from projects import access
from projects.models import Activity, Asset, Member, Project, Role, Template
from rendering.models import Render, RenderBatch, Status
from speech.models import Speech
from tests.streams import body
from tests.teamworld import World

pytestmark = pytest.mark.django_db

SETTINGS_FORM = {"pad_top": 0, "pad_bottom": 12, "pad_left": 0, "pad_right": 0, "blend": "feather",
                 "loop": "pingpong", "quality": "standard"}


def snapshot() -> dict:
    """Everything a refused request must leave as it was."""
    return {
        "projects": list(Project.objects.order_by("pk").values_list("pk", "name", "archived", "owner_id", "is_library")),
        "members": list(Member.objects.order_by("pk").values_list("project_id", "user_id", "role")),
        "assets": list(Asset.objects.order_by("pk").values_list("pk", "file")),
        "templates": list(Template.objects.order_by("pk").values_list("pk", "name", "avatar_id", "settings")),
        "batches": list(RenderBatch.objects.order_by("pk").values_list("pk", "name")),
        "renders": list(Render.objects.order_by("pk").values_list("pk", "status", "attempts")),
        "activity": Activity.objects.count(),
        "speeches": list(Speech.objects.order_by("pk").values_list("pk", "text")),
    }


@dataclass
class Action:
    method: str
    url: Callable[[World], str]
    #: Expected status for alice (owner), bob (editor), charlie (viewer), dave (outsider).
    expected: tuple[int, int, int, int]
    data: Callable[[World], dict] | None = None


OK, MOVED, FORBIDDEN, MISSING = 200, 302, 403, 404
SEE = (OK, OK, OK, MISSING)
EDIT_PAGE = (OK, OK, FORBIDDEN, MISSING)
EDIT_POST = (MOVED, MOVED, FORBIDDEN, MISSING)
MANAGE_PAGE = (OK, FORBIDDEN, FORBIDDEN, MISSING)
MANAGE_POST = (MOVED, FORBIDDEN, FORBIDDEN, MISSING)


def _template_form(w: World) -> dict:
    return {"name": "Studio 2", "avatar": w.video.pk, **SETTINGS_FORM}


ACTIONS = {
    # pages
    "project": Action("get", lambda w: reverse("projects:detail", args=[w.project.pk]), SEE),
    "project history": Action("get", lambda w: reverse("rendering:project_history", args=[w.project.pk]), SEE),
    "activity": Action("get", lambda w: reverse("projects:activity", args=[w.project.pk]), SEE),
    "asset": Action("get", lambda w: reverse("projects:asset", args=[w.video.pk]), SEE),
    "batch": Action("get", lambda w: reverse("rendering:batch", args=[w.batch.pk]), SEE),
    "batch status": Action("get", lambda w: reverse("rendering:batch_status", args=[w.batch.pk]), SEE),
    "render (log, manifest)": Action("get", lambda w: reverse("rendering:render", args=[w.done.pk]), SEE),
    "render row": Action("get", lambda w: reverse("rendering:render_row", args=[w.done.pk]), SEE),
    # downloads
    "asset file": Action("get", lambda w: reverse("projects:asset_file", args=[w.video.pk]), SEE),
    "asset poster": Action("get", lambda w: reverse("projects:asset_poster", args=[w.video.pk]), SEE),
    "render video": Action("get", lambda w: reverse("rendering:render_file", args=[w.done.pk]), SEE),
    "batch zip": Action("get", lambda w: reverse("rendering:batch_zip", args=[w.batch.pk]), SEE),
    # editor actions
    "upload": Action("post", lambda w: reverse("projects:upload", args=[w.project.pk]), EDIT_POST,
                     lambda w: {"files": SimpleUploadedFile("notes.txt", b"not media")}),
    "asset delete page": Action("get", lambda w: reverse("projects:asset_delete", args=[w.audio.pk]), EDIT_PAGE),
    "asset delete": Action("post", lambda w: reverse("projects:asset_delete", args=[w.video.pk]), EDIT_POST),
    "template new page": Action("get", lambda w: reverse("projects:template_create", args=[w.project.pk]), EDIT_PAGE),
    "template new": Action("post", lambda w: reverse("projects:template_create", args=[w.project.pk]), EDIT_POST,
                           _template_form),
    "template edit page": Action("get", lambda w: reverse("projects:template_edit", args=[w.template.pk]), EDIT_PAGE),
    "template edit": Action("post", lambda w: reverse("projects:template_edit", args=[w.template.pk]), EDIT_POST,
                            _template_form),
    "template delete": Action("post", lambda w: reverse("projects:template_delete", args=[w.template.pk]), EDIT_POST),
    "batch new page": Action("get", lambda w: reverse("rendering:batch_create", args=[w.project.pk]), EDIT_PAGE),
    "batch start": Action("post", lambda w: reverse("rendering:batch_create", args=[w.project.pk]), EDIT_POST,
                          lambda w: {"name": "Week 3", "audio": w.audio.pk, "videos": [w.video.pk], **SETTINGS_FORM}),
    "speech page": Action("get", lambda w: reverse("speech:create", args=[w.project.pk]), EDIT_PAGE),
    "speech from a script": Action("post", lambda w: reverse("speech:create", args=[w.project.pk]), EDIT_POST,
                                   lambda w: {"title": "Welcome", "text": "Welcome to week three.",
                                              "voice": "espeak:en-us", "speed": 1.0}),
    "videos from scripts page": Action("get", lambda w: reverse("speech:script_batch_create", args=[w.project.pk]),
                                       EDIT_PAGE),
    "batch cancel": Action("post", lambda w: reverse("rendering:batch_cancel", args=[w.running_batch.pk]), EDIT_POST),
    "render cancel": Action("post", lambda w: reverse("rendering:render_cancel", args=[w.running.pk]), EDIT_POST),
    "render retry": Action("post", lambda w: reverse("rendering:render_retry", args=[w.failed.pk]), EDIT_POST),
    "render again": Action("post", lambda w: reverse("rendering:render_rerun", args=[w.done.pk]), EDIT_POST),
    # owner (and staff) actions
    "share page": Action("get", lambda w: reverse("projects:share", args=[w.project.pk]), MANAGE_PAGE),
    "share": Action("post", lambda w: reverse("projects:share", args=[w.project.pk]), MANAGE_POST,
                    lambda w: {"action": "share", "username": "dave", "role": "editor"}),
    "remove member": Action("post", lambda w: reverse("projects:share", args=[w.project.pk]), MANAGE_POST,
                            lambda w: {"action": "share", "username": "charlie", "role": "none"}),
    "give away": Action("post", lambda w: reverse("projects:share", args=[w.project.pk]), MANAGE_POST,
                        lambda w: {"action": "transfer", "username": "charlie"}),
    "rename page": Action("get", lambda w: reverse("projects:edit", args=[w.project.pk]), MANAGE_PAGE),
    "rename": Action("post", lambda w: reverse("projects:edit", args=[w.project.pk]), MANAGE_POST,
                     lambda w: {"name": "Chemistry", "description": ""}),
    "archive": Action("post", lambda w: reverse("projects:archive", args=[w.project.pk]), MANAGE_POST),
    "delete page": Action("get", lambda w: reverse("projects:delete", args=[w.project.pk]), MANAGE_PAGE),
    "delete": Action("post", lambda w: reverse("projects:delete", args=[w.project.pk]), MANAGE_POST),
}
PEOPLE = ("alice", "bob", "charlie", "dave")


@pytest.mark.parametrize("who", range(4), ids=PEOPLE)
@pytest.mark.parametrize("name", ACTIONS)
def test_every_url_and_action_per_role(name, who, world, request):
    action = ACTIONS[name]
    client = Client()
    client.force_login(request.getfixturevalue(PEOPLE[who]))
    before = snapshot()
    url = action.url(world)
    data = action.data(world) if action.data else {}
    response = getattr(client, action.method)(url, data)
    if response.streaming:
        body(response)
    assert response.status_code == action.expected[who], f"{PEOPLE[who]}: {name}"
    if response.status_code in (FORBIDDEN, MISSING):
        assert snapshot() == before, f"{PEOPLE[who]}'s refused {name} changed something"
    elif action.method == "post" and name != "upload":  # the upload's text file is refused, in the member's words
        assert snapshot() != before, f"{PEOPLE[who]}'s {name} did nothing"


@pytest.mark.parametrize("who, shown", [("alice", True), ("bob", True), ("charlie", True), ("dave", False)])
def test_project_list_dashboard_and_history_show_shared_projects(who, shown, world, request):
    client = Client()
    client.force_login(request.getfixturevalue(who))
    listing = client.get(reverse("projects:list")).content.decode()
    assert ("Physics 101" in listing) is shown
    dashboard = client.get(reverse("home")).content.decode()
    assert ("Physics 101" in dashboard) is shown
    assert ("Week 1" in client.get(reverse("rendering:history")).content.decode()) is shown
    if who == "bob":
        assert "Shared by alice: you are an editor" in listing and "Shared by alice: you are an editor" in dashboard
    if who == "charlie":
        assert "Shared by alice: you can view" in listing
        page = client.get(reverse("rendering:batch", args=[world.batch.pk])).content.decode()
        assert "data-retry" not in page and "Cancel the rest" not in page  # no buttons that would answer 403


def test_quota_and_queue_stay_with_who_started_the_work(world, bob, alice):
    """bob starts a batch in alice's project: it counts against bob's quotas
    and goes to bob's queue; alice's retry of bob's item stays on bob's."""
    from rendering import quotas

    client = Client()
    client.force_login(bob)
    data = {"name": "Week 3", "audio": world.audio.pk, "videos": [world.video.pk], **SETTINGS_FORM}
    client.post(reverse("rendering:batch_create", args=[world.project.pk]), data)
    batch = RenderBatch.objects.get(name="Week 3")
    assert batch.owner == bob
    assert quotas.active_items(bob) == 1 and quotas.active_items(alice) == 1  # alice's own running item only
    assert Activity.objects.filter(project=world.project, actor=bob, verb=Activity.Verb.STARTED).exists()


def test_activity_keeps_the_name_of_a_member_who_left(world, bob, alice):
    client = Client()
    client.force_login(bob)
    client.post(reverse("rendering:render_cancel", args=[world.running.pk]))
    client.force_login(alice)
    client.post(reverse("projects:share", args=[world.project.pk]), {"action": "share", "username": "bob", "role": "none"})
    bob.delete()
    page = client.get(reverse("projects:activity", args=[world.project.pk])).content.decode()
    assert "bob" in page and "cancelled" in page and "removed from the project" in page
    assert list(Activity.objects.filter(project=world.project).values_list("actor_name", "verb")) == [
        ("alice", Activity.Verb.UNSHARED), ("bob", Activity.Verb.CANCELLED)]


def test_renaming_archiving_and_restoring_are_in_the_activity_list(world, alice, staff):
    """The whole team sees who renamed, archived or restored the project, in
    order, from the web pages and the API alike; a save that keeps the name,
    or archiving what is archived, writes nothing."""
    from api.models import ApiToken

    owner, admin = Client(), Client()
    owner.force_login(alice)
    admin.force_login(staff)
    edit = reverse("projects:edit", args=[world.project.pk])
    archive = reverse("projects:archive", args=[world.project.pk])
    assert owner.post(edit, {"name": "Chemistry", "description": ""}).status_code == 302
    owner.post(edit, {"name": "Chemistry", "description": "Only the description changes."})
    owner.post(archive)
    admin.post(archive)  # the same button restores
    api = {"Authorization": f"Bearer {ApiToken.issue(alice, 'LMS')[1]}"}
    for path in ("archive", "archive", "restore"):
        assert owner.post(f"/api/v1/projects/{world.project.pk}/{path}/", headers=api).status_code == 200
    world.project.refresh_from_db()
    assert world.project.name == "Chemistry" and not world.project.archived

    lines = [("alice", Activity.Verb.RENAMED, "Physics 101 → Chemistry"), ("alice", Activity.Verb.ARCHIVED, ""),
             ("sam", Activity.Verb.RESTORED, ""), ("alice", Activity.Verb.ARCHIVED, ""),
             ("alice", Activity.Verb.RESTORED, "")]
    assert list(Activity.objects.filter(project=world.project).order_by("pk")
                .values_list("actor_name", "verb", "target")) == lines
    # The page, newest first, as a viewer sees it.
    viewer = Client()
    viewer.force_login(world.project.members.get(role=Role.VIEWER).user)
    page = viewer.get(reverse("projects:activity", args=[world.project.pk])).content.decode()
    shown = [(who, text.strip()) for who, text in re.findall(r"<strong>([^<]+)</strong> ([^<]*)</li>", page)]
    assert shown == [(who, f"{Activity.Verb(verb).label} {target}".strip()) for who, verb, target in reversed(lines)]


def test_share_errors_are_in_the_members_words(world, alice):
    client = Client()
    client.force_login(alice)
    before = snapshot()
    url = reverse("projects:share", args=[world.project.pk])
    page = client.post(url, {"action": "share", "username": "nobody", "role": "editor"})
    assert page.status_code == 400 and "There is no member called “nobody”." in page.content.decode()
    page = client.post(url, {"action": "share", "username": "alice", "role": "viewer"})
    assert "alice owns this project already." in page.content.decode()
    assert snapshot() == before


def test_roles_change_and_ownership_moves(world, alice, bob, charlie):
    client = Client()
    client.force_login(alice)
    url = reverse("projects:share", args=[world.project.pk])
    client.post(url, {"action": "share", "username": "charlie", "role": "editor"})
    assert access.may_edit(charlie, world.project)
    client.post(url, {"action": "transfer", "username": "bob"})
    world.project.refresh_from_db()
    assert world.project.owner == bob
    assert access.role_in(alice, world.project) == Role.EDITOR and access.role_in(bob, world.project) == "owner"
    assert client.get(url).status_code == FORBIDDEN  # alice manages no more


def test_share_project_command(world, dave):
    call_command("share_project", str(world.project.pk), "dave", "--role", "viewer")
    assert access.role_in(dave, world.project) == Role.VIEWER
    call_command("share_project", str(world.project.pk), "dave", "--role", "none")
    assert access.role_in(dave, world.project) is None
    with pytest.raises(CommandError, match="No user named 'erin'"):
        call_command("share_project", str(world.project.pk), "erin", "--role", "viewer")
    with pytest.raises(CommandError, match="owns this project already"):
        call_command("share_project", str(world.project.pk), "alice", "--role", "viewer")


def test_a_library_presenter_used_by_others_is_not_deleted(world, alice, dave):
    world.project.is_library = True
    world.project.save()
    own = Project.objects.create(owner=dave, name="Dave's branch")
    audio = Asset.objects.create(project=own, kind=Asset.Kind.AUDIO, original_name="d.wav", extension=".wav",
                                 sha256="d" * 64, size=1, file="uploads/d.wav")
    batch = RenderBatch.objects.create(owner=dave, project=own, name="Local", audio=audio)
    Render.objects.create(batch=batch, source=world.video, template=world.template, status=Status.SUCCEEDED)
    client = Client()
    client.force_login(alice)
    before = snapshot()
    response = client.post(reverse("projects:asset_delete", args=[world.video.pk]), follow=True)
    assert "is used by other members’ batches" in response.content.decode()
    response = client.post(reverse("projects:delete", args=[world.project.pk]), follow=True)
    assert "cannot be deleted. Archive it instead." in response.content.decode()
    assert snapshot() == before


def test_a_member_who_cannot_log_in_is_not_added_but_can_be_removed(world, alice, bob, dave):
    dave.is_active = bob.is_active = False
    dave.save()
    bob.save()
    client = Client()
    client.force_login(alice)
    url = reverse("projects:share", args=[world.project.pk])
    page = client.post(url, {"action": "share", "username": "dave", "role": "viewer"})
    assert "dave cannot log in any more." in page.content.decode()
    assert client.post(url, {"action": "share", "username": "bob", "role": "none"}).status_code == 302
    assert not Member.objects.filter(user__in=[bob, dave]).exists()


def test_videos_from_scripts_can_use_a_team_library_template(world, dave):
    """dave's own project: the library's template is offered (with its voice)
    beside his own, and is used without copying anything; charlie's viewer
    role in the library does not let him start anything there."""
    world.project.is_library = True
    world.project.save()
    world.template.settings = {**world.template.settings, "voice": {"voice": "espeak:en-us", "speed": 1.0}}
    world.template.save()
    own = Project.objects.create(owner=dave, name="Dave's branch")
    client = Client()
    client.force_login(dave)
    page = client.get(reverse("speech:script_batch_create", args=[own.pk]))
    assert page.status_code == 200
    assert f'<option value="{world.template.pk}"' in page.content.decode()
    templates_before = Template.objects.count()
    response = client.post(reverse("speech:script_batch_create", args=[own.pk]),
                           {"name": "Branch course", "template": world.template.pk, "scripts": "Hello there."})
    assert response.status_code == 302
    assert Template.objects.count() == templates_before
    from speech.models import ScriptBatch

    plan = ScriptBatch.objects.get(project=own)
    assert plan.template_id == world.template.pk
