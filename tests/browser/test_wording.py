"""What a member reads in a real browser: a batch page that catches up with a
render that finished before its live connection opened, and pages that keep
their width with 200-character names, on a laptop and on a phone."""

from __future__ import annotations

import threading

import pytest
from django.core.files.base import ContentFile
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from projects.models import Project, Template, default_render_settings
from rendering.models import Render, Stage, Status
from tests import mediafactory
from tests.browser.conftest import PHONE, log_in, new_page, screenshot
from tests.rendering.helpers import add_asset, start_batch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Holds the page's WebSockets until the test releases them: the page is
# rendered, the render finishes (no event reaches anyone), and only then does
# the socket open for the first time.
HOLD_SOCKETS = """(() => {
  const Real = window.WebSocket;
  window.__held = [];
  window.__release = () => window.__held.splice(0).forEach((open) => open());
  window.WebSocket = function (url) {
    const proxy = {};
    window.__held.push(() => {
      const socket = new Real(url);
      socket.onopen = (e) => proxy.onopen && proxy.onopen(e);
      socket.onmessage = (e) => proxy.onmessage && proxy.onmessage(e);
      socket.onclose = (e) => proxy.onclose && proxy.onclose(e);
    });
    return proxy;
  };
})();"""

LAPTOP_1280 = {"width": 1280, "height": 800}


def in_another_thread(work) -> None:
    """A database write while the browser is open (Playwright's loop runs in
    this thread, where Django refuses database calls)."""

    def run():
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


@pytest.fixture
def almost_done(alice, short_speech, face_clip, faceless_clip, tmp_path):
    """A batch of two: one failed, one running whose output is already stored."""
    project = Project.objects.create(owner=alice, name="Physics 101")
    audio = add_asset(project, short_speech)
    batch = start_batch(alice, project, audio, [add_asset(project, face_clip), add_asset(project, faceless_clip)])
    running, failed = batch.renders.order_by("position")
    Render.objects.filter(pk=failed.pk).update(status=Status.FAILED, error_code="no_face_found",
                                               finished_at=timezone.now())
    output = mediafactory.make_face_clip(tmp_path / "out.mp4", seconds=0.4, fps=25, size=(64, 48))
    running.output.save("output.mp4", ContentFile(output.read_bytes()), save=False)
    Render.objects.filter(pk=running.pk).update(status=Status.RUNNING, stage=Stage.AUDIO, progress=0.01,
                                                output=running.output.name, output_size=running.output.size)
    return batch, running


def test_a_render_that_finishes_before_the_page_connects(almost_done, site_url, browser):
    batch, running = almost_done
    page, console = new_page(browser, site_url)
    log_in(page, "alice", "alice-pass-123")
    page.add_init_script(HOLD_SOCKETS)
    page.goto(batch.get_absolute_url())
    row = page.locator(f'[data-render="{running.pk}"]')
    expect(row).to_have_attribute("data-status", "running")
    expect(row.locator('[data-field="stage"]')).to_have_text("Reading the audio")
    expect(page.locator("[data-batch-summary]")).to_have_text("1 failed, 1 running")
    expect(page.get_by_role("link", name="Download all (zip)")).to_be_hidden()

    in_another_thread(lambda: Render.objects.filter(pk=running.pk).update(
        status=Status.SUCCEEDED, stage=Stage.STORE, progress=1.0, finished_at=timezone.now()
    ))
    page.evaluate("window.__release()")

    expect(row).to_have_attribute("data-status", "succeeded")
    expect(row.locator("video")).to_have_count(1)
    expect(row.locator('[data-field="stage"]')).to_have_text("")
    expect(page.locator("[data-batch-summary]")).to_have_text("1 succeeded, 1 failed")
    expect(page.get_by_role("link", name="Download all (zip)")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel the rest")).to_be_hidden()
    assert console.errors == []


LONG = "x" * 196

# The elements sticking out on the right, to name in a failure.
TOO_WIDE = """Array.from(document.querySelectorAll("body *"))
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(-6).map((el) => el.tagName + "." + el.className + " " + Math.round(el.getBoundingClientRect().right))"""


@pytest.fixture
def long_names(alice, short_speech, face_clip, face_jpg):
    project = Project.objects.create(owner=alice, name="P" * 200)
    audio = add_asset(project, short_speech, name=f"{LONG}.wav")
    video = add_asset(project, face_clip, name=f"{LONG}.mp4")
    image = add_asset(project, face_jpg, name=f"{LONG}.jpg")
    template = Template.objects.create(project=project, name="T" * 200, avatar=image,
                                       settings=default_render_settings())
    batch = start_batch(alice, project, audio, [video, image], name="B" * 200)
    render = batch.renders.order_by("position").first()
    Render.objects.filter(pk=render.pk).update(status=Status.FAILED, error_code="no_face_found",
                                               log=f"No face was found in {LONG}.mp4.")
    return [
        "/", "/projects/", project.get_absolute_url(), video.get_absolute_url(), image.get_absolute_url(),
        reverse("rendering:batch_create", args=[project.pk]), reverse("projects:template_edit", args=[template.pk]),
        batch.get_absolute_url(), render.get_absolute_url(), "/history/",
    ]


@pytest.mark.parametrize("viewport", [LAPTOP_1280, PHONE], ids=["1280px", "phone"])
def test_long_names_do_not_widen_the_pages(long_names, viewport, site_url, browser):
    page, console = new_page(browser, site_url, viewport=viewport)
    log_in(page, "alice", "alice-pass-123")
    for url in long_names:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{url} scrolls sideways at {viewport['width']} px: {page.evaluate(TOO_WIDE)}"
    # A name cut short on a card keeps the full name on hover.
    page.goto(long_names[-3])
    assert page.locator(f'[data-render] .asset-name[title="{LONG}.mp4"]').count() == 1
    screenshot(page, f"long-names-batch-{viewport['width']}")
    assert console.errors == []
