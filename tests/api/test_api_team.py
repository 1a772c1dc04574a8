"""The API follows team sharing as the web pages do (tests/test_team.py):
alice owns a project, bob is its editor, charlie its viewer, dave an outsider,
each with their own token. Every endpoint with the status each of them gets,
nothing changed by a refused request, the activity list written by API
actions, shared projects in the lists, team library templates in batches,
and who hears a teammate's batch by webhook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api import webhooks
from api.models import ApiToken, WebhookDelivery, WebhookEndpoint
from projects.models import Activity, Member, Project, Role, Template, default_render_settings
from rendering.models import Render, RenderBatch, Status
from tests.api.conftest import bearer
from tests.streams import body as streamed_body
from tests.teamworld import World
from tests.test_team import snapshot

pytestmark = pytest.mark.django_db

PEOPLE = ("alice", "bob", "charlie", "dave")
OK, CREATED, FORBIDDEN, MISSING = 200, 201, 403, 404
SEE = (OK, OK, OK, MISSING)
EDIT = (OK, OK, FORBIDDEN, MISSING)
EDIT_CREATE = (CREATED, CREATED, FORBIDDEN, MISSING)
MANAGE = (OK, FORBIDDEN, FORBIDDEN, MISSING)


@dataclass
class Call:
    method: str
    path: Callable[[World], str]
    #: Expected status for alice (owner), bob (editor), charlie (viewer), dave (outsider).
    expected: tuple[int, int, int, int]
    data: Callable[[World], dict] | None = None
    setup: Callable[[World], None] | None = None


def _upload(w: World) -> dict:
    return {"file": SimpleUploadedFile("notes.txt", b"not media")}


def _archived(w: World) -> None:
    Project.objects.filter(pk=w.project.pk).update(archived=True)


CALLS = {
    # reading
    "project": Call("get", lambda w: f"/api/v1/projects/{w.project.pk}/", SEE),
    "assets": Call("get", lambda w: f"/api/v1/projects/{w.project.pk}/assets/", SEE),
    "templates": Call("get", lambda w: f"/api/v1/projects/{w.project.pk}/templates/", SEE),
    "asset": Call("get", lambda w: f"/api/v1/assets/{w.video.pk}/", SEE),
    "template": Call("get", lambda w: f"/api/v1/templates/{w.template.pk}/", SEE),
    "batch": Call("get", lambda w: f"/api/v1/batches/{w.batch.pk}/", SEE),
    "render": Call("get", lambda w: f"/api/v1/renders/{w.done.pk}/", SEE),
    "manifest": Call("get", lambda w: f"/api/v1/renders/{w.done.pk}/manifest/", SEE),
    "log": Call("get", lambda w: f"/api/v1/renders/{w.done.pk}/log/", SEE),
    "download": Call("get", lambda w: f"/api/v1/renders/{w.done.pk}/download/", SEE),
    # editing: editors and the owner
    "upload": Call("post", lambda w: f"/api/v1/projects/{w.project.pk}/assets/", (400, 400, FORBIDDEN, MISSING), _upload),
    "batch start": Call("post", lambda w: "/api/v1/batches/", EDIT_CREATE,
                        lambda w: {"project": w.project.pk, "audio": w.audio.pk, "presenters": [w.video.pk],
                                   "templates": [w.template.pk], "name": "Week 3"}),
    "batch cancel": Call("post", lambda w: f"/api/v1/batches/{w.running_batch.pk}/cancel/", EDIT),
    "batch retry": Call("post", lambda w: f"/api/v1/batches/{w.batch.pk}/retry/", EDIT),
    "render cancel": Call("post", lambda w: f"/api/v1/renders/{w.running.pk}/cancel/", EDIT),
    "render retry": Call("post", lambda w: f"/api/v1/renders/{w.failed.pk}/retry/", EDIT),
    # managing: the owner (and staff)
    "archive": Call("post", lambda w: f"/api/v1/projects/{w.project.pk}/archive/", MANAGE),
    "restore": Call("post", lambda w: f"/api/v1/projects/{w.project.pk}/restore/", MANAGE, setup=_archived),
}


def token(user) -> dict:
    return bearer(ApiToken.issue(user, f"{user.get_username()}'s script")[1])


@pytest.mark.parametrize("who", range(4), ids=PEOPLE)
@pytest.mark.parametrize("name", CALLS)
def test_every_endpoint_per_role(name, who, world, client, request):
    call = CALLS[name]
    headers = token(request.getfixturevalue(PEOPLE[who]))
    if call.setup:
        call.setup(world)
    before = snapshot()
    path = call.path(world)
    if call.method == "get":
        response = client.get(path, headers=headers)
    elif call.data is _upload:
        response = client.post(path, _upload(world), headers=headers)
    else:
        data = call.data(world) if call.data else {}
        response = client.post(path, data, content_type="application/json", headers=headers)
    if response.streaming:
        streamed_body(response)
    assert response.status_code == call.expected[who], f"{PEOPLE[who]}: {name}: {response.content[:300]!r}"
    if response.status_code >= 400:
        assert snapshot() == before, f"{PEOPLE[who]}'s refused {name} changed something"
        expected_code = {FORBIDDEN: "forbidden_role", MISSING: "not_found", 400: "upload_refused"}
        assert response.json()["error"]["code"] == expected_code[response.status_code]
    elif call.method == "post":
        assert snapshot() != before, f"{PEOPLE[who]}'s {name} did nothing"


def test_a_viewer_is_told_why_in_the_apis_error_shape(world, client, charlie):
    response = client.post(f"/api/v1/batches/{world.running_batch.pk}/cancel/", headers=token(charlie))
    error = response.json()["error"]
    assert response.status_code == 403 and error["code"] == "forbidden_role"
    assert error["message"].startswith("Your role in this project does not allow this.")
    world.running.refresh_from_db()
    assert world.running.status == Status.RUNNING


def test_api_actions_write_the_projects_activity_as_the_web_does(world, client, bob, short_speech):
    headers = token(bob)
    with short_speech.open("rb") as fh:
        uploaded = client.post(f"/api/v1/projects/{world.project.pk}/assets/", {"file": fh}, headers=headers)
    assert uploaded.status_code == 201
    with short_speech.open("rb") as fh:  # the same file again: nothing uploaded, nothing written
        assert client.post(f"/api/v1/projects/{world.project.pk}/assets/", {"file": fh}, headers=headers).json()[
            "duplicate"]
    started = client.post("/api/v1/batches/", {"project": world.project.pk, "audio": uploaded.json()["id"],
                                               "presenters": [world.video.pk], "name": "Week 3"},
                          content_type="application/json", headers=headers)
    assert started.status_code == 201 and started.json()["started_by"] == "bob"
    assert client.post(f"/api/v1/renders/{world.running.pk}/cancel/", headers=headers).status_code == 200
    assert client.post(f"/api/v1/renders/{world.failed.pk}/retry/", headers=headers).status_code == 200
    assert client.post(f"/api/v1/batches/{started.json()['id']}/cancel/", headers=headers).json()["cancelled"] == 1
    assert client.post(f"/api/v1/batches/{started.json()['id']}/retry/", headers=headers).json()["retried"] == 1
    lines = list(Activity.objects.filter(project=world.project).order_by("pk").values_list("actor", "verb", "target"))
    assert lines == [
        (bob.pk, Activity.Verb.UPLOADED, "short speech.wav"),
        (bob.pk, Activity.Verb.STARTED, "Week 3 (1)"),
        (bob.pk, Activity.Verb.CANCELLED, "Week 2: presenter.mp4"),
        (bob.pk, Activity.Verb.RETRIED, "Week 1: Studio"),
        (bob.pk, Activity.Verb.CANCELLED, "Week 3 (1)"),
        (bob.pk, Activity.Verb.RETRIED, "Week 3: presenter.mp4"),
    ]
    # bob's batch counts against bob (quotas, queue), alice's retried item stays alice's.
    assert RenderBatch.objects.get(name="Week 3").owner == bob
    assert world.failed.batch.owner.get_username() == "alice"


@pytest.mark.parametrize("who, role", [("alice", "owner"), ("bob", "editor"), ("charlie", "viewer"), ("dave", None)])
def test_project_lists_show_shared_projects_with_the_role_and_owner(who, role, world, client, request):
    headers = token(request.getfixturevalue(who))
    projects = client.get("/api/v1/projects/", headers=headers).json()["results"]
    shown = {p["name"]: (p["owner"], p["role"]) for p in projects}
    assert shown == ({"Physics 101": ("alice", role)} if role else {})
    if role:
        detail = client.get(f"/api/v1/projects/{world.project.pk}/", headers=headers).json()
        assert (detail["owner"], detail["role"], detail["is_library"]) == ("alice", role, False)
    batches = client.get("/api/v1/batches/", headers=headers).json()
    assert sorted(b["name"] for b in batches["results"]) == (["Week 1", "Week 2"] if role else [])
    assert {b["started_by"] for b in batches["results"]} <= {"alice"}
    assert client.get("/api/v1/renders/", headers=headers).json()["count"] == (3 if role else 0)


def test_a_team_library_template_is_used_in_any_members_batch(world, client, alice, dave, short_speech):
    """As on the web's batch form: every member may pick a library project's
    templates in their own batches; the library itself stays read-only to them."""
    library = Project.objects.create(owner=alice, name="Presenters", is_library=True)
    studio = Template.objects.create(project=library, name="HQ studio", avatar=world.video,
                                     settings={**default_render_settings(), "quality": "high"})
    own = Project.objects.create(owner=dave, name="Branch office")
    headers = token(dave)
    with short_speech.open("rb") as fh:
        audio = client.post(f"/api/v1/projects/{own.pk}/assets/", {"file": fh}, headers=headers).json()
    listed = {p["name"]: (p["role"], p["is_library"]) for p in
              client.get("/api/v1/projects/", headers=headers).json()["results"]}
    assert listed == {"Branch office": ("owner", False), "Presenters": ("viewer", True)}

    not_library = client.post("/api/v1/batches/", {"project": own.pk, "audio": audio["id"],
                                                   "templates": [world.template.pk]},
                              content_type="application/json", headers=headers)
    assert not_library.status_code == 400
    assert not_library.json()["error"]["fields"]["templates"] == [
        f"No template with id {world.template.pk} in the project or the team library."]
    assert not RenderBatch.objects.filter(project=own).exists()

    started = client.post("/api/v1/batches/", {"project": own.pk, "audio": audio["id"], "templates": [studio.pk]},
                          content_type="application/json", headers=headers)
    assert started.status_code == 201
    item = Render.objects.get(batch_id=started.json()["id"])
    assert (item.template, item.source, item.settings["quality"]) == (studio, world.video, "high")
    # Read-only to dave: no upload, no batch in the library project itself.
    before = snapshot()
    refused = client.post(f"/api/v1/projects/{library.pk}/assets/",
                          {"file": SimpleUploadedFile("x.wav", b"RIFF")}, headers=headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden_role"
    refused = client.post("/api/v1/batches/", {"project": library.pk, "audio": audio["id"], "templates": [studio.pk]},
                          content_type="application/json", headers=headers)
    assert refused.status_code == 403
    assert snapshot() == before


def _endpoint(user, url) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(user=user, url=url, secret=WebhookEndpoint.new_secret(),
                                          events=WebhookEndpoint.Event.values)


def test_a_teammates_batch_is_heard_by_its_starter_and_the_project_owner(world, client, alice, bob, charlie):
    hooks = {who.get_username(): _endpoint(who, f"https://{who.get_username()}.example.org/hook")
             for who in (alice, bob, charlie)}
    started = client.post("/api/v1/batches/", {"project": world.project.pk, "audio": world.audio.pk,
                                               "presenters": [world.video.pk]},
                          content_type="application/json", headers=token(bob))
    item = Render.objects.get(batch_id=started.json()["id"])
    Render.objects.filter(pk=item.pk).update(status=Status.SUCCEEDED)
    webhooks.on_render_finished(sender=None, render_id=item.pk, status=Status.SUCCEEDED)
    heard = sorted(WebhookDelivery.objects.values_list("endpoint__user__username", "event"))
    assert heard == [("alice", "batch.finished"), ("alice", "render.succeeded"),
                     ("bob", "batch.finished"), ("bob", "render.succeeded")]  # not charlie, a viewer
    payload = WebhookDelivery.objects.filter(endpoint=hooks["alice"], event="batch.finished").get().payload
    assert '"started_by": "bob"' in payload

    # Removed from the project, bob hears nothing more of it, even of his own batch.
    WebhookDelivery.objects.all().delete()
    Member.objects.filter(project=world.project, user=bob).delete()
    Render.objects.filter(pk=item.pk).update(status=Status.FAILED)
    webhooks.on_render_finished(sender=None, render_id=item.pk, status=Status.FAILED)
    assert sorted(WebhookDelivery.objects.values_list("endpoint__user__username", flat=True)) == ["alice"]


def test_a_library_projects_owner_does_not_hear_other_members_batches(world, client, alice, dave):
    """The project owner's endpoints hear batches in projects they own, not
    batches elsewhere that only use their library templates."""
    world.project.is_library = True
    world.project.save()
    _endpoint(alice, "https://alice.example.org/hook")
    _endpoint(dave, "https://dave.example.org/hook")
    own = Project.objects.create(owner=dave, name="Branch office")
    audio = own.assets.create(kind="audio", original_name="d.wav", extension=".wav", sha256="d" * 64, size=1,
                              file="uploads/d.wav")
    started = client.post("/api/v1/batches/", {"project": own.pk, "audio": audio.pk,
                                               "templates": [world.template.pk]},
                          content_type="application/json", headers=token(dave))
    assert started.status_code == 201
    item = Render.objects.get(batch_id=started.json()["id"])
    Render.objects.filter(pk=item.pk).update(status=Status.SUCCEEDED)
    webhooks.on_render_finished(sender=None, render_id=item.pk, status=Status.SUCCEEDED)
    assert set(WebhookDelivery.objects.values_list("endpoint__user__username", flat=True)) == {"dave"}


def test_a_member_role_change_takes_effect_on_the_next_request(world, client, charlie):
    headers = token(charlie)
    path = f"/api/v1/renders/{world.running.pk}/cancel/"
    assert client.post(path, headers=headers).status_code == 403
    Member.objects.filter(project=world.project, user=charlie).update(role=Role.EDITOR)
    assert client.post(path, headers=headers).status_code == 200
    Member.objects.filter(project=world.project, user=charlie).delete()
    assert client.get(f"/api/v1/renders/{world.running.pk}/", headers=headers).status_code == 404


def test_a_new_project_is_its_creators_and_staff_act_as_owners(world, client, dave, staff):
    created = client.post("/api/v1/projects/", {"name": "Branch office"}, content_type="application/json",
                          headers=token(dave))
    assert created.status_code == 201 and (created.json()["owner"], created.json()["role"]) == ("dave", "owner")
    headers = token(staff)
    listed = {p["name"]: p["role"] for p in client.get("/api/v1/projects/", headers=headers).json()["results"]}
    assert listed == {"Physics 101": "owner", "Branch office": "owner"}
    assert client.post(f"/api/v1/projects/{world.project.pk}/archive/", headers=headers).json()["archived"]
