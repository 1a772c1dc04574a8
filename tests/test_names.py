"""Names are saved clean: a line break in a batch or template name used to
break every download of it (a header cannot hold one)."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from heygem_site.text import clean_name
from projects.models import Project, Template
from rendering.models import RenderBatch, Status
from tests.rendering.helpers import add_asset

pytestmark = pytest.mark.django_db

SETTINGS = {"pad_top": 0, "pad_bottom": 10, "pad_left": 0, "pad_right": 0, "blend": "feather", "loop": "pingpong",
            "quality": "standard"}


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("Week 1\r\nintro", "Week 1 intro"),
        ("\tLesson\t2 ", "Lesson 2"),
        ("bell\x07 and\x00 nul\x7f", "bell and nul"),
        ("line\u2028separator", "line separator"),
        ("物理\n课程", "物理 课程"),
        ("  plain name  ", "plain name"),
    ],
)
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


def test_project_name_with_a_line_break_is_saved_clean(alice_client):
    alice_client.post(reverse("projects:create"), {"name": "Physics\r\n101\t", "description": "line\nbreaks stay here"})
    project = Project.objects.get()
    assert project.name == "Physics 101"
    assert project.description == "line\nbreaks stay here"


def test_a_name_of_only_control_characters_is_no_name(alice_client):
    response = alice_client.post(reverse("projects:create"), {"name": "\r\n\t\x00"})
    assert response.status_code == 200 and not Project.objects.exists()


def test_names_saved_outside_forms_are_clean_too(project, face_clip):
    # The admin, the shell, a script: model save cleans as well.
    avatar = add_asset(project, face_clip)
    avatar.original_name = "take\n2.mp4"
    avatar.save()
    template = Template.objects.create(project=project, name="Studio\nlook", avatar=avatar)
    avatar.refresh_from_db()
    assert (avatar.original_name, template.name) == ("take 2.mp4", "Studio look")


def test_batch_with_a_line_break_in_its_name_downloads(alice_client, project, short_speech, face_clip):
    audio, video = add_asset(project, short_speech), add_asset(project, face_clip)
    template = Template.objects.create(project=project, name="Studio\r\nlook", avatar=video)
    alice_client.post(reverse("rendering:batch_create", args=[project.pk]),
                      {"name": "Week 1\nintro", "audio": audio.pk, "templates": [template.pk], **SETTINGS})
    batch = RenderBatch.objects.get()
    assert batch.name == "Week 1 intro"
    render = batch.renders.get()
    render.output.save("output.mp4", ContentFile(b"video"), save=False)
    render.status = Status.SUCCEEDED
    render.save()
    download = alice_client.get(reverse("rendering:render_file", args=[render.pk]) + "?download=1")
    assert download.status_code == 200
    assert "Studio look - Week 1 intro.mp4" in download["Content-Disposition"]
    assert alice_client.get(reverse("rendering:batch_zip", args=[batch.pk])).status_code == 200
