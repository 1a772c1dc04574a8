"""A team library template used by two members in their own projects: the
batches reference the library's presenter (no copy), run on each member's own
queue, and editing the template afterwards changes neither finished render."""

import pytest
from django.test import Client
from django.urls import reverse

from projects.models import Asset, Project, Template
from rendering import queues
from rendering.models import Render, Status
from tests.rendering.helpers import add_asset
from tests.rendering.test_jobs import work
from tests.streams import body

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {"pad_top": 0, "pad_bottom": 10, "pad_left": 0, "pad_right": 0, "blend": "feather", "loop": "pingpong",
        "quality": "standard"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_library_template_in_two_members_batches(alice, bob, charlie, staff, face_jpg, short_speech, model_dir):
    hq = Project.objects.create(owner=alice, name="Headquarters")
    presenter = add_asset(hq, face_jpg)
    template = Template.objects.create(project=hq, name="HQ presenter", avatar=presenter,
                                       settings={**FORM, "pad_bottom": 20, "blend": "none"})
    # Not in the library yet: bob cannot see it at all.
    assert client_for(bob).get(reverse("projects:detail", args=[hq.pk])).status_code == 404
    staff_client = client_for(staff)
    staff_client.post(reverse("projects:share", args=[hq.pk]), {"action": "library", "is_library": "1"})
    hq.refresh_from_db()
    assert hq.is_library

    renders = []
    for member in (bob, charlie):
        own = Project.objects.create(owner=member, name=f"{member.username}'s branch")
        audio = add_asset(own, short_speech)
        client = client_for(member)
        form_page = client.get(reverse("rendering:batch_create", args=[own.pk])).content.decode()
        assert "HQ presenter" in form_page and "library: Headquarters" in form_page
        response = client.post(reverse("rendering:batch_create", args=[own.pk]),
                               {"name": "Local course", "audio": audio.pk, "templates": [template.pk], **FORM})
        assert response.status_code == 302, response.content.decode()[:2000]
        render = Render.objects.get(batch__project=own)
        assert render.source == presenter and render.template == template  # referenced, not copied
        assert Asset.objects.filter(project=own).count() == 1  # only the member's own recording
        assert render.batch.owner == member
        assert queues.gpu_queue(queues.member_queue_name(member.pk)).count == 1  # their own share of the GPUs
        # Read-only to them: they see the library, they do not change it.
        assert client.get(reverse("projects:template_edit", args=[template.pk])).status_code == 403
        assert client.post(reverse("projects:template_delete", args=[template.pk])).status_code == 403
        renders.append(render)

    work()
    finished = [Render.objects.get(pk=r.pk) for r in renders]
    assert [r.status for r in finished] == [Status.SUCCEEDED, Status.SUCCEEDED], [r.log for r in finished]
    manifests = [r.manifest for r in finished]
    for manifest in manifests:
        assert manifest["template"] == "HQ presenter"
        assert manifest["template_source"] == {"id": template.pk, "project": hq.pk, "library": True}
        assert manifest["settings"]["pad_bottom"] == 20 and manifest["video"]["sha256"] == presenter.sha256

    # HQ changes its template: new settings, a new name.
    response = client_for(alice).post(reverse("projects:template_edit", args=[template.pk]),
                                      {"name": "HQ presenter v2", "avatar": presenter.pk, **FORM, "pad_bottom": 40})
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.settings["pad_bottom"] == 40
    for render, manifest in zip(finished, manifests):
        render.refresh_from_db()
        assert render.manifest == manifest and render.settings["pad_bottom"] == 20
        client = client_for(render.batch.owner)
        assert body(client.get(reverse("rendering:render_file", args=[render.pk]))).startswith(b"\x00\x00\x00")
        # The other member's branch stays theirs alone.
        other = bob if render.batch.owner == charlie else charlie
        assert client_for(other).get(reverse("rendering:render", args=[render.pk])).status_code == 404
