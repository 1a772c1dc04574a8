"""Members see plain, friendly error pages; tracebacks go to the server log."""

import logging

import pytest
from django.test import Client
from django.urls import include, path

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def explode(request):
    raise RuntimeError("database password is hunter2 in /srv/heygem/settings.py")


urlpatterns = [path("explode/", explode), path("", include("heygem_site.urls"))]


def test_an_error_shows_the_friendly_500_page(alice, caplog, settings):
    assert settings.DEBUG is False  # as under `make run` now
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/explode/")
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page and "logged for your administrator" in page
    assert "hunter2" not in page and "Traceback" not in page and "/srv/heygem" not in page
    assert any("hunter2" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


def test_not_found_is_a_page_in_the_site_style(alice_client):
    response = alice_client.get("/batches/987654/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Back to the dashboard" in page and 'class="topbar"' in page and "Dashboard" in page


def test_an_expired_form_says_so(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/projects/new/", {"name": "Chemistry"})
    assert response.status_code == 403
    assert "Page expired" in response.content.decode()


def test_an_unknown_host_name_gets_a_plain_page():
    response = Client(HTTP_HOST="heygem.elsewhere.example").get("/accounts/login/")
    assert response.status_code == 400
    assert "ALLOWED_HOSTS" in response.content.decode()
