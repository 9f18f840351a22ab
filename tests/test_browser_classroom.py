"""Two browser sessions on one server with room for one run at a time (issue 16): the second waits
in a visible queue, then trains; both finish; closing a tab ends its run; the server log stays clean."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator

import psutil
import pytest

from app.train_worker import BUSY_NAME
from browser_support import ARTIFACTS, browser_marks, streamlit_server

pytestmark = browser_marks


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with streamlit_server("server-classroom.log", env={"SSCN_EXPLORER_MAX_JOBS": "1"}) as url:
        yield url


def small_run(page) -> None:  # noqa: ANN001 - playwright Page
    """Two epochs of self-expression and one of the classifier on the bundled MNIST sample."""
    for label, value in (("Epochs", "2"),):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")
    page.get_by_text("More settings", exact=True).click()
    box = page.get_by_label("Classifier epochs", exact=True)
    box.fill("1")
    box.press("Enter")
    page.wait_for_timeout(500)


def training_workers() -> set[int]:
    """Pids of this test's worker processes that train a job now."""
    pids = set()
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.name() == BUSY_NAME and proc.status() != psutil.STATUS_ZOMBIE:
                pids.add(proc.pid)
        except psutil.Error:        # it ended meanwhile
            pass
    return pids


def test_two_sessions_share_the_server(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    from bench.appserver import launch_chromium, open_app

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            first, second = open_app(browser, server), open_app(browser, server)
            for page in (first, second):
                small_run(page)
            first.get_by_role("button", name="Start").click()
            expect(first.get_by_text(re.compile(r"^Training · "))).to_be_visible(timeout=180_000)
            second.get_by_role("button", name="Start").click()
            expect(second.get_by_text(re.compile(r"^Waiting: You are next"))).to_be_visible(timeout=30_000)
            expect(second.get_by_text("at most 1 at once", exact=False)).to_be_visible()
            second.screenshot(path=ARTIFACTS / "classroom-waiting.png")
            expect(first.get_by_text(re.compile(r"^Finished · "))).to_be_visible(timeout=240_000)
            expect(second.get_by_text(re.compile(r"^Training · "))).to_be_visible(timeout=180_000)
            expect(second.get_by_text(re.compile(r"^Finished · "))).to_be_visible(timeout=240_000)

            # a closed tab ends its run
            third = open_app(browser, server)
            box = third.get_by_label("Epochs", exact=True)
            box.fill("200")
            box.press("Enter")
            before = training_workers()
            third.get_by_role("button", name="Start").click()
            expect(third.get_by_text(re.compile(r"^Training · .*step [1-9]"))).to_be_visible(timeout=180_000)
            running = training_workers() - before
            assert len(running) == 1
            third.context.close()
            closed = time.monotonic()
            while running & training_workers() and time.monotonic() - closed < 15:
                time.sleep(0.1)
            assert not running & training_workers(), "the closed tab's run was still training after 15 s"
        finally:
            browser.close()
    log = (ARTIFACTS / "server-classroom.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
