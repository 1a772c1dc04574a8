"""Pages do not slow down as history grows: the dashboard, the project page
and the history cost the same number of queries, and fetch a bounded number
of rows, with 15 renders or 1,000."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from projects.models import Asset, Project
from rendering.models import Render, RenderBatch, Status

pytestmark = pytest.mark.django_db

SMALL = (5, 3)  # batches x renders per batch
LARGE = (40, 25)
# Rows a page may fetch at the large size (1,000 renders): a page of each list.
ROW_LIMIT = 150


def asset(project: Project, kind: str, n: int) -> Asset:
    return Asset.objects.create(
        project=project, kind=kind, file=f"uploads/{kind}{n}", original_name=f"{kind} {n}.mp4",
        extension=".mp4", sha256=f"{kind}{n}".ljust(64, "0"), size=1,
    )


def make_history(user, project: Project, batches: int, per_batch: int) -> None:
    """Many finished batches (some items failed), the newest two still rendering. No files."""
    audio = asset(project, Asset.Kind.AUDIO, 0)
    videos = [asset(project, Asset.Kind.VIDEO, n) for n in range(3)]
    made = RenderBatch.objects.bulk_create(
        RenderBatch(owner=user, project=project, name=f"Batch {n}", audio=audio) for n in range(batches)
    )
    renders = []
    for index, batch in enumerate(made):
        for position in range(per_batch):
            if index >= batches - 2:
                status = (Status.SUCCEEDED, Status.RUNNING)[min(position, 1)] if position < 2 else Status.QUEUED
            else:
                status = Status.FAILED if position == 1 else Status.SUCCEEDED
            done = status == Status.SUCCEEDED
            renders.append(Render(
                batch=batch, position=position, source=videos[position % 3], status=status,
                progress=1.0 if done else 0.5 if status == Status.RUNNING else 0.0,
                output=f"outputs/{batch.pk}-{position}.mp4" if done else "",
            ))
    Render.objects.bulk_create(renders)


def cost(client, url: str) -> tuple[int, int]:
    """(queries, rows fetched) of one GET."""
    statements = []

    def record(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.get(url)
    assert response.status_code == 200
    rows = 0
    with connection.cursor() as cursor:
        for sql, params in statements:
            if sql.lstrip().upper().startswith("SELECT"):
                cursor.execute(sql, params)
                rows += len(cursor.fetchall())
    return len(statements), rows


def pages(project: Project) -> list[str]:
    return [reverse("home"), project.get_absolute_url(), reverse("rendering:history"),
            reverse("rendering:project_history", args=[project.pk]), reverse("projects:list")]


@pytest.fixture
def measure(alice, alice_client):
    def run(size: tuple[int, int]) -> list[tuple[int, int]]:
        project = Project.objects.create(owner=alice, name=f"Project {size}")
        make_history(alice, project, *size)
        costs = [cost(alice_client, url) for url in pages(project)]
        Render.objects.all().delete()
        RenderBatch.objects.all().delete()
        project.delete()
        return costs

    return run


def test_pages_cost_the_same_with_a_long_history(measure):
    small, large = measure(SMALL), measure(LARGE)
    assert [queries for queries, _ in large] == [queries for queries, _ in small]
    for url_rows in (rows for _, rows in large):
        assert url_rows <= ROW_LIMIT


def test_the_project_page_counts_and_pages_its_batches(alice, alice_client):
    project = Project.objects.create(owner=alice, name="Physics 101")
    make_history(alice, project, *LARGE)
    html = alice_client.get(project.get_absolute_url()).content.decode()
    assert html.count('<li><span><a href="/batches/') == 20
    assert "Batch 39" in html and "Batch 19" not in html  # newest first
    assert "1 succeeded, 1 running, 23 waiting" in html  # a rendering batch
    assert "24 succeeded, 1 failed" in html and "Partly done" in html
    older = alice_client.get(project.get_absolute_url() + "?page=2").content.decode()
    assert "Batch 19" in older and "Batch 0" in older and "Page 2 of 2" in older


def test_the_dashboard_shows_running_batches_from_counts(alice, alice_client):
    project = Project.objects.create(owner=alice, name="Physics 101")
    make_history(alice, project, *LARGE)
    html = alice_client.get("/").content.decode()
    running = html[html.index('data-section="running"') : html.index('data-section="results"')]
    assert running.count("data-dash-batch=") == 2
    assert 'data-total="25" data-finished="1"' in running
    assert running.count("data-item=") == 2  # only the running items, not all fifty
    assert 'value="0.0600"' in running  # (1 done + 0.5 running) / 25
