"""The Learn tab end to end in headless Chromium: the independent and the dependent example, with screenshots.

Screenshots go to tests/artifacts/ (git-ignored): learn-independent*.png and learn-dependent*.png.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed; "
                                                                "CI installs it with apt-get install chromium")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`streamlit run app/main.py` on a free port, stopped after the module's tests."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(ARTIFACTS / "server-learn.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", "--server.port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode}; see {ARTIFACTS / 'server-learn.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the server did not answer on port {port} within 90 s") from None
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def shoot(page, name: str) -> None:  # noqa: ANN001 - playwright Page
    """The 1280×800 view, and the whole main column (it scrolls inside the page, so enlarge the viewport)."""
    page.screenshot(path=ARTIFACTS / f"{name}.png")
    page.set_viewport_size({"width": 1280, "height": 3000})
    page.wait_for_timeout(1500)
    page.screenshot(path=ARTIFACTS / f"{name}-full.png")
    page.set_viewport_size({"width": 1280, "height": 800})


def sidebar_numbers(page) -> list[str]:  # noqa: ANN001 - playwright Page
    """The values of the sidebar's number inputs (the training settings)."""
    return page.locator("[data-testid='stSidebar'] input[type='number']").evaluate_all("els => els.map(e => e.value)")


def metric(page, label: str) -> str:  # noqa: ANN001 - playwright Page
    """The value shown by the st.metric whose label is ``label``."""
    box = page.locator("[data-testid='stMetric']").filter(
        has=page.locator("[data-testid='stMetricLabel']", has_text=re.compile(f"^{re.escape(label)}$")))
    return box.locator("[data-testid='stMetricValue']").first.inner_text().strip()


def share(text: str) -> float:
    """A displayed share ("3.8%" or "2.2e-06") as a number."""
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def test_learn_independent_then_lines_in_a_plane(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(server)
            expect(page.get_by_role("heading", name="SSCN Explorer")).to_be_visible(timeout=60_000)
            expect(page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']")).to_have_count(1)
            expect(page.locator("[data-testid='stSidebar'] input[type='number']").first).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1000)
            settings = sidebar_numbers(page)
            page.get_by_role("tab", name="Learn").click()
            expect(page.get_by_text("Verdict: independent.")).to_be_visible(timeout=30_000)

            # Independent planes: train and wait for the verdict of the run.
            page.get_by_role("button", name="Independent planes").click()
            expect(page.get_by_text("every point is clustered correctly")).to_be_visible(timeout=120_000)
            assert metric(page, "Σ dim S_k") == metric(page, "rank of the union") == "8"
            assert share(metric(page, "‖Q − Q*‖ / ‖Q*‖")) < 0.05
            assert metric(page, "ACC") == "100%"
            off_block_independent = share(metric(page, "off-block mass of Q"))
            assert off_block_independent < 0.10
            expect(page.locator(".js-plotly-plot")).to_have_count(5, timeout=30_000)   # rank bars, Q*, Q, curve, leakage
            page.get_by_role("heading", name="Theorem 1 live").scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            shoot(page, "learn-independent")

            # Four lines in a plane: dependent, and the mass leaks across the blocks.
            page.get_by_role("button", name="Lines in a plane").click()
            expect(page.get_by_text("Verdict: dependent by 2 dims.")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Dependent subspaces (dependent by 2 dims)")).to_be_visible(timeout=120_000)
            assert (metric(page, "Σ dim S_k"), metric(page, "rank of the union")) == ("4", "2")
            off_block_dependent = share(metric(page, "off-block mass of Q"))
            assert off_block_dependent > 0.30 > 3 * off_block_independent
            assert metric(page, "ACC") != "100%"
            page.get_by_role("heading", name="Theorem 1 live").scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            shoot(page, "learn-dependent")
            assert sidebar_numbers(page) == settings and settings    # the playground leaves the sidebar alone
        finally:
            browser.close()
