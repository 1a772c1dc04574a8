import pytest
from django.urls import reverse

from projects.models import Template
from tests.test_uploads import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def avatar(alice_client, project, face_clip):
    upload(alice_client, project, face_clip)
    return project.assets.get()


FORM = {"name": "Dr Lee, front camera", "pad_top": 0, "pad_bottom": 20, "pad_left": 5, "pad_right": 5,
        "blend": "feather", "loop": "pingpong", "quality": "high"}


def test_create_template(alice_client, project, avatar):
    response = alice_client.post(reverse("projects:template_create", args=[project.pk]), {**FORM, "avatar": avatar.pk})
    assert response.status_code == 302
    template = Template.objects.get()
    assert template.avatar == avatar
    assert template.settings == {"pad_top": 0, "pad_bottom": 20, "pad_left": 5, "pad_right": 5,
                                 "blend": "feather", "loop": "pingpong", "quality": "high"}
    assert "Dr Lee, front camera" in alice_client.get(project.get_absolute_url()).content.decode()


def test_form_offers_sensible_defaults(alice_client, project, avatar):
    page = alice_client.get(reverse("projects:template_create", args=[project.pk])).content.decode()
    assert 'name="pad_bottom" value="10"' in page


def test_audio_cannot_be_the_presenter(alice_client, project, speech_wav):
    upload(alice_client, project, speech_wav)
    audio = project.assets.get()
    response = alice_client.post(reverse("projects:template_create", args=[project.pk]), {**FORM, "avatar": audio.pk})
    assert response.status_code == 200
    assert not Template.objects.exists()


def test_cannot_use_another_projects_asset(alice_client, alice, project, avatar):
    from projects.models import Project

    other = Project.objects.create(owner=alice, name="Other")
    response = alice_client.post(reverse("projects:template_create", args=[other.pk]), {**FORM, "avatar": avatar.pk})
    assert response.status_code == 200
    assert not Template.objects.exists()


def test_bad_pad_is_refused(alice_client, project, avatar):
    data = {**FORM, "avatar": avatar.pk, "pad_bottom": -4}
    response = alice_client.post(reverse("projects:template_create", args=[project.pk]), data)
    assert response.status_code == 200
    assert not Template.objects.exists()


def test_edit_and_delete(alice_client, project, avatar):
    template = Template.objects.create(project=project, name="Old", avatar=avatar)
    alice_client.post(reverse("projects:template_edit", args=[template.pk]), {**FORM, "avatar": avatar.pk, "name": "New"})
    template.refresh_from_db()
    assert template.name == "New" and template.settings["quality"] == "high"
    alice_client.post(reverse("projects:template_delete", args=[template.pk]))
    assert not Template.objects.exists()


def test_deleting_an_avatar_says_it_deletes_its_template(alice_client, project, avatar):
    Template.objects.create(project=project, name="Studio look", avatar=avatar)
    assert "Studio look" in alice_client.get(reverse("projects:asset_delete", args=[avatar.pk])).content.decode()
    assert project.assets.filter(pk=avatar.pk).exists()
    alice_client.post(reverse("projects:asset_delete", args=[avatar.pk]))
    assert not project.assets.filter(pk=avatar.pk).exists() and not Template.objects.exists()


def test_other_member_gets_404(bob_client, project, avatar):
    template = Template.objects.create(project=project, name="T", avatar=avatar)
    assert bob_client.get(reverse("projects:template_edit", args=[template.pk])).status_code == 404
    assert bob_client.post(reverse("projects:template_edit", args=[template.pk]), {**FORM, "avatar": avatar.pk}).status_code == 404
    assert bob_client.post(reverse("projects:template_delete", args=[template.pk])).status_code == 404
    assert Template.objects.get().name == "T"
