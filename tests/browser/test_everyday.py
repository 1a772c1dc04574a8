"""The pages people use every day, driven the way a person uses them: log in,
create a project, upload files, start a batch, watch it render live, download
the results, find them in the history. Another person sees none of it.

The worker renders with a random-weight checkpoint (tests/mediafactory.py):
the videos it makes are noise, which is all these tests need.
"""

from __future__ import annotations

import re
import zipfile

import pytest

from tests import mediafactory
from tests.browser.conftest import PHONE, log_in, new_page, screenshot
from tests.processes import start_worker, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RENDER_TIMEOUT_MS = 120_000

# Records, inside the page, what the live updates did: a property on window
# survives only as long as the document (a reload would drop it).
WATCH = """(selector) => {
  window.__sameDocument = "yes";
  window.__seen = {stages: [], progress: [], statuses: []};
  const record = () => {
    document.querySelectorAll(selector).forEach((el) => {
      const stage = el.querySelector('[data-field="stage"], [data-field="current"]');
      if (stage && stage.textContent.trim()) window.__seen.stages.push(stage.textContent.trim());
      const bar = el.querySelector('[data-field="progress"]');
      if (bar) window.__seen.progress.push(Number(bar.value));
      if (el.dataset.status) window.__seen.statuses.push(el.dataset.status);
    });
  };
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


@pytest.fixture
def second_presenter(tmp_path):
    return mediafactory.make_face_clip(tmp_path / "presenter two.mp4", seconds=1.0, fps=25, size=(256, 192))


@pytest.fixture
def not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are my speaker notes, not a video\n" * 20)
    return path


@pytest.fixture
def worker(model_dir, tmp_path):
    """Starts the render worker when the test says so (after the pages are watching)."""
    started = []

    def start():
        started.append(
            start_worker(model_dir=model_dir, log_path=tmp_path / "worker.log", HEYGEM_PROGRESS_INTERVAL_MS="100")
        )

    yield start
    for proc in started:
        stop(proc)


def test_a_batch_from_login_to_download(
    alice,
    bob,
    short_speech,
    face_clip,
    second_presenter,
    faceless_clip,
    not_a_video,
    worker,
    site_url,
    tmp_path,
    browser,
):
    from playwright.sync_api import expect

    page, console = new_page(browser, site_url)

    # --- log in: the login form, then the dashboard is the home page -----------------
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    screenshot(page, "login")
    log_in(page, "alice", "alice-pass-123")
    expect(page).to_have_url(f"{site_url}/")
    expect(page.get_by_role("heading", name="Welcome to HeyGem")).to_be_visible()
    screenshot(page, "dashboard-first-visit")

    # --- a project, and its files through the page's file input ----------------------
    page.get_by_role("link", name="Create your first project").click()
    page.get_by_label("Name").fill("Physics 101")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Physics 101")).to_be_visible()
    project_url = page.url
    expect(page.get_by_text("No audio yet")).to_be_visible()

    page.locator("input[type=file][name=files]").set_input_files(
        [short_speech, face_clip, second_presenter, faceless_clip, not_a_video]
    )
    uploads = page.locator("[data-upload-list] li")
    expect(uploads).to_have_count(5)
    expect(page.locator("[data-upload-list] li.done")).to_have_count(4, timeout=60_000)
    refused = page.locator("[data-upload-list] li.refused")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("notes.mp4 is not an audio, video or image file that can be read.")
    for bar in uploads.locator("progress").all():
        expect(bar).to_have_attribute("value", "100")
    # The refused file's message stays until the user has read it.
    page.get_by_role("button", name="Show the new files").click()
    expect(page.locator("[data-asset]")).to_have_count(4)
    landscape = page.locator("[data-asset]", has_text="landscape.mp4")
    expect(landscape.locator(".warning", has_text="No face found in any sampled frame")).to_be_visible()
    expect(page.locator("[data-asset]", has_text="presenter.mp4")).to_contain_text("320×240 · 25 fps")
    expect(page.locator("[data-asset]", has_text="presenter.mp4").locator("img.poster")).to_be_visible()
    screenshot(page, "project")

    # --- a new batch: choose, see the estimate, start ------------------------------
    page.get_by_role("link", name="New batch").click()
    expect(page.locator("[data-estimate]")).to_contain_text("Choose the audio")
    page.get_by_label("Batch name").fill("Lesson 1: welcome")
    page.get_by_label("Voice recording").select_option(label="short speech.wav (0:00:01)")
    for name in ("presenter.mp4", "presenter two.mp4", "landscape.mp4"):
        page.locator(".pick-item", has_text=re.compile(rf"^\s*{re.escape(name)}")).locator("input").check()
    expect(page.locator("[data-estimate]")).to_contain_text("3 videos, about 4 seconds of output")
    screenshot(page, "new-batch")
    page.get_by_role("button", name="Start rendering").click()
    expect(page).to_have_url(re.compile(r"/batches/\d+/$"))
    batch_url = page.url
    expect(page.locator("[data-render]")).to_have_count(3)
    expect(page.locator("[data-batch][data-live-ready]")).to_have_count(1)

    # The dashboard, open in a second tab, follows the same batch.
    dashboard = page.context.new_page()
    dashboard.goto("/")
    running = dashboard.locator("[data-dash-batch]")
    expect(running).to_have_count(1)
    expect(running).to_contain_text("Lesson 1: welcome")
    expect(running).to_contain_text("3 waiting")
    expect(dashboard.locator('[data-section="running"][data-live-ready]')).to_have_count(1)
    dashboard.evaluate(WATCH, "[data-dash-batch]")
    page.evaluate(WATCH, "[data-render]")
    page.wait_for_timeout(300)  # let both sockets finish connecting before anything happens

    # --- the worker starts now: everything it does reaches the open pages -------------
    worker()
    _screenshot_while_running(
        page, "batch-running", '[data-render][data-status="running"] [data-field="frames"]:not(:empty)'
    )
    _screenshot_while_running(dashboard, "dashboard-running", "[data-dash-batch]")
    rows = page.locator("[data-render]")
    expect(rows.locator("video")).to_have_count(2, timeout=RENDER_TIMEOUT_MS)
    failed = page.locator('[data-render][data-status="failed"]')
    expect(failed).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
    expect(failed).to_contain_text("landscape.mp4")
    expect(failed).to_contain_text("No face was found in this video")
    expect(failed.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.locator('[data-render][data-status="succeeded"]')).to_have_count(2)
    expect(page.locator("[data-batch-summary]")).to_have_text("2 succeeded, 1 failed")

    seen = page.evaluate("window.__seen")
    assert page.evaluate("window.__sameDocument") == "yes", "the batch page reloaded"
    assert {"Detecting faces", "Lip-syncing"} & set(seen["stages"]), seen["stages"]
    assert any(0 < value < 1 for value in seen["progress"]), seen["progress"]
    assert "running" in seen["statuses"]
    screenshot(page, "batch")

    expect(dashboard.locator('[data-section="results"] video')).to_have_count(2, timeout=30_000)
    expect(dashboard.locator("[data-dash-batch]")).to_have_count(0)
    dash_seen = dashboard.evaluate("window.__seen")
    assert dashboard.evaluate("window.__sameDocument") == "yes", "the dashboard reloaded"
    assert any(0 < value < 1 for value in dash_seen["progress"]), dash_seen["progress"]
    screenshot(dashboard, "dashboard")
    dashboard.close()

    # --- downloads -----------------------------------------------------------------
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all (zip)").click()
    archive = tmp_path / "download.zip"
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as zipped:
        names = sorted(zipped.namelist())
        assert names == ["presenter two.mp4", "presenter.mp4"]
        assert all(zipped.getinfo(name).file_size > 1000 for name in names)
    render_file_url = page.locator("[data-render] video").first.get_attribute("src")

    # --- the batch on a phone ----------------------------------------------------------
    phone = browser.new_context(base_url=site_url, viewport=PHONE, storage_state=page.context.storage_state())
    phone_page = phone.new_page()
    phone_page.goto(batch_url)
    expect(phone_page.locator("[data-render] video")).to_have_count(2)
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the page scrolls sideways"
    screenshot(phone_page, "batch-phone")
    for name, url in (
        ("dashboard", "/"),
        ("project", project_url),
        ("new-batch", f"{project_url}batches/new/"),
        ("history", "/history/"),
    ):
        phone_page.goto(url)
        assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
        screenshot(phone_page, f"{name}-phone")
    phone.close()

    # --- history ---------------------------------------------------------------------
    page.get_by_role("navigation").get_by_role("link", name="History").click()
    history_rows = page.locator("tr[data-render]", has_text="Lesson 1: welcome")
    expect(history_rows).to_have_count(3)
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-render]")).to_have_count(1)
    expect(page.locator("tr[data-render]")).to_contain_text("landscape.mp4")
    page.get_by_role("link", name="Clear the filters").click()
    expect(history_rows).to_have_count(3)
    screenshot(page, "history")
    page.get_by_role("link", name="Lesson 1: welcome").first.click()
    expect(page).to_have_url(batch_url)

    assert console.errors == [], console.errors

    # --- another person sees none of it ------------------------------------------------
    other, _ = new_page(browser, site_url)
    log_in(other, "bob", "bob-pass-123")
    expect(other.get_by_role("heading", name="Welcome to HeyGem")).to_be_visible()
    expect(other.locator("body")).not_to_contain_text("Lesson 1")
    for url in (
        project_url,
        batch_url,
        f"{batch_url}download.zip",
        f"{site_url}{render_file_url}",
        f"{site_url}{render_file_url}?download=1",
    ):
        assert other.request.get(url).status == 404, url
    other.goto("/history/")
    expect(other.locator("tr[data-render]")).to_have_count(0)
    expect(other.locator("body")).not_to_contain_text("Lesson 1")
    other.context.close()
    page.context.close()


def _screenshot_while_running(page, name: str, selector: str) -> None:
    """Best effort: a render of 1.2 s may be over before the picture is taken."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_selector(selector, timeout=60_000)
        screenshot(page, name)
    except PlaywrightTimeout:
        pass
