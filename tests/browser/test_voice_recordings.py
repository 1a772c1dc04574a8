"""A voice recording that would render badly is flagged when it is uploaded:
on its card, and in the batch form when it is chosen."""

from __future__ import annotations

import pytest

from tests import mediafactory
from tests.browser.conftest import log_in, new_page, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SILENT = "This recording is silent: the mouth will not move. Check the microphone or the export."


def test_a_silent_recording_is_flagged_at_upload(alice, project, short_speech, face_clip, tmp_path, site_url, browser):
    from playwright.sync_api import expect

    silent = mediafactory.make_silence(tmp_path / "muted mic.wav", seconds=2.0)
    page, console = new_page(browser, site_url)
    log_in(page, "alice", "alice-pass-123")
    page.goto(project.get_absolute_url())
    page.locator("input[type=file][name=files]").set_input_files([silent, short_speech, face_clip])
    # Every file is in: the page shows the new cards by itself.
    expect(page.locator("[data-asset]")).to_have_count(3, timeout=60_000)

    muted = page.locator("[data-asset]", has_text="muted mic.wav")
    expect(muted.locator(".warning")).to_have_text(SILENT)
    expect(page.locator("[data-asset]", has_text="short speech.wav").locator(".warning")).to_have_count(0)
    screenshot(page, "audio-silent-card")

    # The batch form shows the warning of the recording chosen, and only that one.
    page.get_by_role("link", name="New batch").click()
    warning = page.locator("[data-audio-warnings]")
    page.get_by_label("Voice recording").select_option(label="muted mic.wav (0:00:02) ⚠")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(f"muted mic.wav: {SILENT}")
    screenshot(page, "audio-silent-batch-form")
    page.get_by_label("Voice recording").select_option(label="short speech.wav (0:00:01)")
    expect(warning).to_be_hidden()
    assert console.errors == []
