"""Speech from a script in a real browser: type a script, wait for the
worker (queue `default`) to speak it, play it in the page, and start a
batch with it."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in, new_page, screenshot
from tests.processes import start_worker, stop
from tests.rendering.helpers import add_asset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def presenter(project, face_jpg):
    return add_asset(project, face_jpg, "teacher.jpg")


def test_create_speech_preview_it_and_start_a_batch(alice, project, presenter, tmp_path, site_url, browser):
    from playwright.sync_api import expect

    worker = start_worker(queues=("default",), log_path=tmp_path / "worker.log")
    try:
        page, console = new_page(browser, site_url)
        log_in(page, "alice", "alice-pass-123")
        page.goto(project.get_absolute_url())
        page.get_by_role("link", name="Speech from a script").click()
        expect(page.locator("body")).to_contain_text("sound synthetic")
        page.get_by_label("Title").fill("Lesson one")
        page.get_by_label("Script").fill("Good morning, everyone. Today we learn about the water cycle.")
        page.get_by_label("Voice").select_option("espeak:en-gb")
        # "Listen" plays a short sample of the chosen voice.
        page.get_by_role("button", name="Listen").click()
        sample = page.evaluate("""() => new Promise((resolve, reject) => {
            const player = document.querySelector('[data-voice-audio]');
            if (player.duration > 0) return resolve(player.duration);
            player.addEventListener('loadedmetadata', () => resolve(player.duration), {once: true});
            player.addEventListener('error', () => reject(new Error('the sample does not load')), {once: true});
        })""")
        assert 1.0 < sample < 8.0
        page.get_by_role("button", name="Create the speech").click()

        # The page follows the job by itself, then offers the recording to play.
        audio = page.locator("[data-speech-audio]")
        expect(audio).to_be_visible(timeout=60_000)
        expect(page.locator("[data-speech-label]")).to_have_text("Ready")
        seconds = page.evaluate("""() => new Promise((resolve, reject) => {
            const player = document.querySelector('[data-speech-audio]');
            player.addEventListener('loadedmetadata', () => resolve(player.duration), {once: true});
            player.addEventListener('error', () => reject(new Error('the audio does not load')), {once: true});
            player.preload = 'metadata';
            player.load();
        })""")
        assert 2.0 < seconds < 8.0
        screenshot(page, "speech-ready")

        page.get_by_role("link", name="Start a batch with this speech").click()
        expect(page.get_by_label("Voice recording")).to_have_value(
            page.locator("#id_audio option", has_text="Lesson one.wav").get_attribute("value"))
        page.locator("label", has_text="teacher.jpg").click()
        expect(page.locator("[data-estimate]")).to_contain_text("This batch makes 1 video")
        page.get_by_role("button", name="Start rendering").click()
        expect(page.locator("h1")).to_contain_text("Batch")
        expect(page.locator("body")).to_contain_text("Voice: Lesson one.wav")

        # Videos from scripts counts the typed scripts before anything starts.
        page.goto(f"{site_url}/projects/{project.pk}/scripts/new/")
        page.get_by_label("…or type the scripts").fill("Stars are far.\n---\nPlanets are near.")
        expect(page.locator("[data-script-estimate]")).to_have_text("This batch makes 2 videos (one per script).")
        assert console.errors == []
    finally:
        stop(worker)
