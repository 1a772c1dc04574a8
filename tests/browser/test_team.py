"""Working as a team, in real browsers: alice shares her project with bob as
an editor; bob starts a batch in it; alice watches it render live on her own
screen (the worker renders with a random-weight checkpoint: noise, which is
all this test needs)."""

from __future__ import annotations

import re

import pytest

from projects.models import Project
from tests.browser.conftest import log_in, new_page, screenshot
from tests.browser.test_everyday import WATCH
from tests.processes import start_worker, stop
from tests.rendering.helpers import add_asset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RENDER_TIMEOUT_MS = 120_000


@pytest.fixture
def shared_project(alice, short_speech, face_jpg):
    project = Project.objects.create(owner=alice, name="Branch course")
    add_asset(project, short_speech)
    add_asset(project, face_jpg)
    return project


def test_alice_shares_bob_starts_alice_watches(alice, bob, shared_project, model_dir, tmp_path, site_url, browser):
    from playwright.sync_api import expect

    # --- alice shares the project with bob as an editor ------------------------------
    alice_page, alice_console = new_page(browser, site_url)
    log_in(alice_page, "alice", "alice-pass-123")
    alice_page.goto(f"/projects/{shared_project.pk}/")
    alice_page.get_by_role("link", name="Share").click()
    alice_page.get_by_label("Member's user name").fill("bob")
    alice_page.get_by_label("Role").select_option("editor")
    alice_page.locator("[data-share]").get_by_role("button", name="Save").click()
    expect(alice_page.locator(".msg, [role=status], .messages").first).to_contain_text("bob is now a member as Editor")
    expect(alice_page.locator("[data-members]")).to_contain_text("bob · Editor")
    screenshot(alice_page, "team-share")

    # --- bob finds it in his list, marked as shared, and starts a batch -------------
    bob_page, bob_console = new_page(browser, site_url)
    log_in(bob_page, "bob", "bob-pass-123")
    bob_page.goto("/projects/")
    card = bob_page.locator(".card.project", has_text="Branch course")
    expect(card).to_contain_text("Shared by alice: you are an editor")
    card.get_by_role("link", name="Branch course").click()
    bob_page.get_by_role("link", name="New batch").click()
    bob_page.get_by_label("Batch name").fill("Bob's local version")
    bob_page.get_by_label("Voice recording").select_option(index=1)
    bob_page.locator(".pick-item", has_text="portrait.jpg").locator("input").check()
    bob_page.get_by_role("button", name="Start rendering").click()
    expect(bob_page).to_have_url(re.compile(r"/batches/\d+/$"))
    batch_path = re.search(r"/batches/\d+/$", bob_page.url).group(0)

    # --- alice opens it and watches; the worker starts only now ---------------------
    alice_page.goto(f"/projects/{shared_project.pk}/")
    alice_page.get_by_role("link", name="Bob's local version").click()
    expect(alice_page).to_have_url(re.compile(re.escape(batch_path) + "$"))
    expect(alice_page.locator("[data-batch][data-live-ready]")).to_have_count(1)
    expect(alice_page.locator("[data-started-by]")).to_have_text("started by bob")
    alice_page.evaluate(WATCH, "[data-render]")
    alice_page.wait_for_timeout(300)  # the socket finishes connecting
    worker = start_worker(model_dir=model_dir, log_path=tmp_path / "worker.log", HEYGEM_PROGRESS_INTERVAL_MS="100")
    try:
        expect(alice_page.locator('[data-render][data-status="succeeded"]')).to_have_count(
            1, timeout=RENDER_TIMEOUT_MS
        )
        expect(alice_page.locator("[data-render] video")).to_have_count(1)
    finally:
        stop(worker)
    seen = alice_page.evaluate("window.__seen")
    assert alice_page.evaluate("window.__sameDocument") == "yes", "alice's page reloaded"
    assert "running" in seen["statuses"], seen
    screenshot(alice_page, "team-alice-watches")
    # The activity list says who did what.
    alice_page.goto(f"/projects/{shared_project.pk}/activity/")
    activity = alice_page.locator("[data-activity]")
    expect(activity).to_contain_text("bob started the batch Bob's local version")
    expect(activity).to_contain_text("alice shared the project with bob")
    assert alice_console.errors == [] and bob_console.errors == []
