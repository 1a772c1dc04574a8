import pytest
from django.urls import reverse

from projects.models import Project

pytestmark = pytest.mark.django_db


def test_list_requires_login(client):
    response = client.get(reverse("projects:list"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_list_shows_own_projects_with_counts(alice_client, project, bob):
    Project.objects.create(owner=bob, name="Bob's secret course")
    response = alice_client.get(reverse("projects:list"))
    assert response.status_code == 200
    assert "Physics 101" in response.content.decode()
    assert "secret course" not in response.content.decode()


def test_empty_list_says_what_to_do(alice_client):
    response = alice_client.get(reverse("projects:list"))
    assert "Create your first project" in response.content.decode()


def test_create_project(alice_client, alice):
    response = alice_client.post(reverse("projects:create"), {"name": "Chemistry", "description": "Year 2"})
    project = Project.objects.get(name="Chemistry")
    assert project.owner == alice
    assert response["Location"] == project.get_absolute_url()


def test_create_requires_a_name(alice_client):
    response = alice_client.post(reverse("projects:create"), {"name": ""})
    assert response.status_code == 200
    assert not Project.objects.exists()


def test_owner_opens_project(alice_client, project):
    assert alice_client.get(project.get_absolute_url()).status_code == 200


@pytest.mark.parametrize(
    "name,method",
    [("detail", "get"), ("edit", "get"), ("edit", "post"), ("archive", "post"), ("delete", "get"), ("delete", "post"),
     ("upload", "post"), ("template_create", "get")],
)
def test_other_member_gets_404(bob_client, project, name, method):
    response = getattr(bob_client, method)(reverse(f"projects:{name}", args=[project.pk]), {"name": "x"})
    assert response.status_code == 404
    project.refresh_from_db()
    assert project.name == "Physics 101" and not project.archived


def test_staff_may_open_any_project(staff_client, project):
    assert staff_client.get(project.get_absolute_url()).status_code == 200


def test_rename(alice_client, project):
    alice_client.post(reverse("projects:edit", args=[project.pk]), {"name": "Physics 102", "description": ""})
    project.refresh_from_db()
    assert project.name == "Physics 102"


def test_archive_and_restore(alice_client, project):
    alice_client.post(reverse("projects:archive", args=[project.pk]))
    project.refresh_from_db()
    assert project.archived
    link = f'href="{project.get_absolute_url()}"'
    assert link not in alice_client.get(reverse("projects:list")).content.decode()
    assert link in alice_client.get(reverse("projects:list") + "?archived=1").content.decode()
    alice_client.post(reverse("projects:archive", args=[project.pk]))
    project.refresh_from_db()
    assert not project.archived


def test_archive_rejects_get(alice_client, project):
    assert alice_client.get(reverse("projects:archive", args=[project.pk])).status_code == 405


def test_delete_removes_project_and_files(alice_client, project, speech_wav):
    with speech_wav.open("rb") as fh:
        alice_client.post(reverse("projects:upload", args=[project.pk]), {"files": [fh]})
    asset = project.assets.get()
    stored = asset.file.path
    alice_client.post(reverse("projects:delete", args=[project.pk]))
    assert not Project.objects.filter(pk=project.pk).exists()
    import os

    assert not os.path.exists(stored)
