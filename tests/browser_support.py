"""Shared pieces of the browser tests: the Streamlit server under test and screenshots."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.appserver import CHROMIUM, launch_chromium, open_app
from bench.appserver import streamlit_server as _server

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"

browser_marks = [pytest.mark.browser, pytest.mark.slow,
                 pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not "
                                                                   "installed; CI installs it with apt-get install chromium")]


@contextlib.contextmanager
def streamlit_server(log_name: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app/main.py` on a free port, its log in tests/artifacts/; yields its URL and always stops it."""
    with _server(ARTIFACTS / log_name, env=env) as (url, _proc):
        yield url


def shoot(page, name: str, full_height: int = 2200) -> None:  # noqa: ANN001 - playwright Page
    """The 1280×800 view as a user sees it, and the whole main column (it scrolls inside the page)."""
    page.screenshot(path=ARTIFACTS / f"{name}.png")
    page.set_viewport_size({"width": 1280, "height": full_height})
    page.wait_for_timeout(1500)
    page.screenshot(path=ARTIFACTS / f"{name}-full.png")
    page.set_viewport_size({"width": 1280, "height": 800})


@contextlib.contextmanager
def app_page(playwright, url: str) -> Iterator:  # noqa: ANN001 - playwright objects
    """Debian's headless Chromium on the app at ``url``, once the page is drawn and connected."""
    browser = launch_chromium(playwright)
    try:
        yield open_app(browser, url)
    finally:
        browser.close()
