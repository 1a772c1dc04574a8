"""A portrait clip straight from a phone: landscape pixels and a -90° display
matrix. The member sees it upright in the player, so the poster, the face
check and the rendered video must be upright too.

The worker renders with a random-weight checkpoint (tests/mediafactory.py):
the mouth is noise, which is all this test needs.
"""

from __future__ import annotations

import re

import pytest

from tests import mediafactory
from tests.browser.conftest import log_in, new_page, screenshot, wait_for_js
from tests.processes import start_worker, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RENDER_TIMEOUT_MS = 120_000
NATURAL_SIZE = "(el) => [el.naturalWidth, el.naturalHeight]"


@pytest.fixture
def phone_clip(tmp_path):
    return mediafactory.make_rotated_clip(tmp_path / "portrait phone.mp4", rotation=90, seconds=0.6, size=(288, 512))


@pytest.fixture
def worker(model_dir, tmp_path):
    proc = None

    def start():
        nonlocal proc
        proc = start_worker(model_dir=model_dir, log_path=tmp_path / "worker.log")

    yield start
    if proc is not None:
        stop(proc)


def test_a_portrait_phone_clip_is_upright_from_upload_to_result(
    alice, project, short_speech, phone_clip, worker, site_url, browser
):
    from playwright.sync_api import expect

    page, console = new_page(browser, site_url)
    log_in(page, "alice", "alice-pass-123")
    page.goto(project.get_absolute_url())
    page.locator("input[type=file][name=files]").set_input_files([short_speech, phone_clip])
    expect(page.locator("[data-upload-list] li.done")).to_have_count(2, timeout=60_000)
    expect(page.locator("[data-asset]")).to_have_count(2)  # every file in: the page shows them

    card = page.locator("[data-asset]", has_text="portrait phone.mp4")
    expect(card).to_contain_text("288×512")
    expect(card.locator(".warning")).to_have_count(0)  # the face is found: no "No face found"
    poster = card.locator("img.poster")
    expect(poster).to_be_visible()
    wait_for_js(page, "(img) => img.complete && img.naturalWidth > 0", poster.element_handle())
    width, height = poster.evaluate(NATURAL_SIZE)
    assert width < height, f"the poster is {width}x{height}: sideways"
    screenshot(page, "phone-clip-project")

    page.get_by_role("link", name="New batch").click()
    page.get_by_label("Voice recording").select_option(label="short speech.wav (0:00:01)")
    page.locator(".pick-item", has_text=re.compile(r"^\s*portrait phone\.mp4")).locator("input").check()
    page.get_by_role("button", name="Start rendering").click()
    expect(page).to_have_url(re.compile(r"/batches/\d+/$"))
    worker()

    video = page.locator('[data-render][data-status="succeeded"] video')
    expect(video).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
    wait_for_js(page, "(v) => v.readyState >= 1", video.element_handle())
    # What the browser plays, after any rotation it applies: upright, like the upload.
    assert video.evaluate("(v) => [v.videoWidth, v.videoHeight]") == [288, 512]
    screenshot(page, "phone-clip-rendered")
    assert console.errors == []
