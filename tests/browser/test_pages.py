"""The server side of the everyday pages, without a browser: the dashboard's
content and who sees it, and pages that stay fast with thousands of renders."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from projects.models import Project, Template, default_render_settings
from rendering.models import Render, RenderBatch, Stage, Status
from tests.rendering.helpers import add_asset

pytestmark = pytest.mark.django_db

SETTINGS = default_render_settings()


@pytest.fixture
def media(project, short_speech, face_jpg):
    audio = add_asset(project, short_speech)
    face = add_asset(project, face_jpg)
    template = Template.objects.create(project=project, name="Ms Frizzle", avatar=face, settings=SETTINGS)
    return audio, face, template


def make_batch(project, audio, face, template, *, name="Lesson 1", statuses=(Status.QUEUED,)) -> RenderBatch:
    batch = RenderBatch.objects.create(owner=project.owner, project=project, name=name, audio=audio, settings=SETTINGS)
    Render.objects.bulk_create(
        Render(
            batch=batch,
            position=i,
            source=face,
            template=template if i % 2 else None,
            settings=SETTINGS,
            status=status,
            error_code="no_face_found" if status == Status.FAILED else "",
            finished_at=timezone.now() if status in (Status.SUCCEEDED, Status.FAILED) else None,
        )
        for i, status in enumerate(statuses)
    )
    return batch


def test_home_asks_anonymous_visitors_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_login_form_leads_to_the_dashboard(alice, client):
    html = client.get("/accounts/login/").content.decode()
    assert '<input type="hidden" name="next" value="/">' in html
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123", "next": "/"})
    assert response["Location"] == "/"
    assert "Dashboard" in client.get("/").content.decode()


def test_a_first_visit_explains_what_to_do(alice_client):
    html = alice_client.get("/").content.decode()
    assert "Welcome to HeyGem" in html
    assert 'href="/projects/new/"' in html
    assert "data-section" not in html  # no empty "rendering" and "results" sections yet


def test_it_shows_running_batches_and_recent_results(alice_client, project, media):
    audio, face, template = media
    make_batch(project, audio, face, template, name="Running one", statuses=(Status.SUCCEEDED, Status.RUNNING))
    Render.objects.filter(status=Status.RUNNING).update(stage=Stage.INFER, progress=0.5, eta_s=12)
    done = make_batch(project, audio, face, template, name="Done one", statuses=(Status.SUCCEEDED,))
    result = done.renders.get()
    result.output.save("out.mp4", ContentFile(b"\0" * 100))

    html = alice_client.get("/").content.decode()
    running = html[html.index('data-section="running"') : html.index('data-section="results"')]
    results = html[html.index('data-section="results"') :]
    assert "Running one" in running and "Done one" not in running
    assert "1 succeeded, 1 running" in running
    assert "Lip-syncing" in running and "0:00:12 left" in running
    assert re.search(r'<progress max="1" value="0\.7500"', running)
    assert f'src="/renders/{result.pk}/video/"' in results
    assert f'href="/renders/{result.pk}/video/?download=1"' in results
    assert "Physics 101" in html


def test_it_shows_nothing_of_other_people(bob_client, project, media):
    audio, face, template = media
    batch = make_batch(
        project, audio, face, template, name="Alice's lesson", statuses=(Status.SUCCEEDED, Status.QUEUED)
    )
    batch.renders.filter(status=Status.SUCCEEDED).get().output.save("out.mp4", ContentFile(b"\0" * 100))
    html = bob_client.get("/").content.decode()
    assert "Alice" not in html and "Physics 101" not in html and "/renders/" not in html
    assert "Welcome to HeyGem" in html


def test_the_dashboard_makes_few_queries(alice_client, project, media):
    audio, face, template = media
    for n in range(15):
        make_batch(
            project,
            audio,
            face,
            template,
            name=f"Batch {n}",
            statuses=(Status.QUEUED, Status.RUNNING, Status.SUCCEEDED),
        )
    with CaptureQueriesContext(connection) as queries:
        assert alice_client.get("/").status_code == 200
    assert len(queries) <= 10, [q["sql"] for q in queries]


def _history_queries(client, url="/history/") -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_history_queries_do_not_grow_with_the_renders(alice_client, project, media, django_assert_max_num_queries):
    audio, face, template = media
    make_batch(project, audio, face, template, statuses=[Status.SUCCEEDED, Status.FAILED] * 5)
    few = _history_queries(alice_client)
    assert few <= 8
    other = Project.objects.create(owner=project.owner, name="Chemistry")
    mix = [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.QUEUED, Status.RUNNING] * 10
    for n in range(5):
        make_batch(project if n % 2 else other, audio, face, template, name=f"Lesson {n}", statuses=mix)
    assert Render.objects.count() >= 250
    with django_assert_max_num_queries(few):
        response = alice_client.get("/history/")
    html = response.content.decode()
    assert html.count("<tr data-render=") == 50
    assert "Page 1 of 6" in html
    assert "No face was found in this image" in html  # the presenter is a photo
    with django_assert_max_num_queries(few):
        alice_client.get("/history/?page=3&status=failed")
    with django_assert_max_num_queries(few + 1):  # + the project itself
        alice_client.get(f"/projects/{project.pk}/history/?q=Lesson")


def test_history_says_what_to_do_when_empty(alice_client):
    html = alice_client.get("/history/").content.decode()
    assert "Nothing rendered yet" in html
    html = alice_client.get("/history/?status=failed").content.decode()
    assert "No renders match these filters." in html and "Clear the filters" in html


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def test_the_pages_have_no_inline_code(alice_client, project, media):
    """The CSP allows scripts and styles only from files: the pages must not need more."""
    audio, face, template = media
    batch = make_batch(project, audio, face, template, statuses=(Status.SUCCEEDED, Status.FAILED, Status.RUNNING))
    for url in (
        "/",
        "/projects/",
        f"/projects/{project.pk}/",
        f"/projects/{project.pk}/batches/new/",
        f"/batches/{batch.pk}/",
        "/history/",
        f"/projects/assets/{face.pk}/",
    ):
        html = alice_client.get(url).content.decode()
        assert not INLINE.findall(html), url
        assert "/static/js/lang.js" in html
        assert "https://" not in html.replace("https://github.com", "")  # no CDN


def test_uploads_checked_at_the_same_time_get_the_same_face_check():
    """daphne runs concurrent uploads in parallel threads (the upload page sends
    two files at a time). A shared OpenCV cascade classifier then gives wrong
    counts or crashes; each thread must have its own."""
    from concurrent.futures import ThreadPoolExecutor

    from projects.preflight import find_faces
    from tests.mediafactory import face_frame

    frames = [face_frame(i, 12, (320, 240)) for i in range(12)]
    alone = [len(find_faces(frame)) for frame in frames]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda frame: len(find_faces(frame)), frames * 10))
    assert together == alone * 10
