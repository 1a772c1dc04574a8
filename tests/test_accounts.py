import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_login_and_logout(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 302
    assert client.get(reverse("projects:list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("projects:list")).status_code == 302


def test_wrong_password_is_explained(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_there_is_no_sign_up(client):
    assert client.get("/accounts/signup/").status_code == 404
    assert "Ask your HeyGem administrator" in client.get(reverse("login")).content.decode()


def test_change_password(alice_client, alice):
    response = alice_client.post(
        reverse("password_change"),
        {"old_password": "alice-pass-123", "new_password1": "a-much-better-one-42", "new_password2": "a-much-better-one-42"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a-much-better-one-42")


def test_members_page_is_for_staff(client, alice_client, staff_client, alice):
    # A member gets a 404 (a redirect to the login page used to bounce back forever).
    assert alice_client.get(reverse("members")).status_code == 404
    response = client.get(reverse("members"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    page = staff_client.get(reverse("members")).content.decode()
    assert "alice" in page


@pytest.mark.parametrize("url", ["/accounts/members/", "/ops/", "/ops/cleanup/"])
def test_staff_pages_give_members_a_404(alice_client, url):
    assert alice_client.get(url).status_code == 404


@pytest.mark.parametrize("url", ["/admin/", "/admin/rq/"])
def test_admin_pages_do_not_loop_for_members(alice_client, url):
    response = alice_client.get(url, follow=True)
    assert response.status_code == 200
    assert len(response.redirect_chain) <= 1
    assert "not authorized to access this page" in response.content.decode()


def test_create_member_command(capsys):
    call_command("create_member", "dana", "--password", "dana-pass-123")
    user = get_user_model().objects.get(username="dana")
    assert user.check_password("dana-pass-123") and not user.is_staff
    with pytest.raises(CommandError):
        call_command("create_member", "dana")


def test_create_member_prints_generated_password_once(capsys):
    call_command("create_member", "erin", "--staff")
    out = capsys.readouterr().out
    password = out.split("Password (shown once): ")[1].strip()
    user = get_user_model().objects.get(username="erin")
    assert user.is_staff and user.check_password(password)
