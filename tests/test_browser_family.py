"""The Learn tab's self-expression family in headless Chromium: the dependent-lines lesson, with screenshots.

Screenshots go to tests/artifacts/ (git-ignored): learn-family-lines*.png and learn-family-few*.png.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from browser_support import app_page, browser_marks, shoot, streamlit_server

pytestmark = browser_marks


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with streamlit_server("server-family.log") as url:
        yield url


def test_family_lessons_side_by_side(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        with app_page(p, server) as page:
            page.get_by_role("tab", name="Learn").click()
            expect(page.get_by_text("Verdict: independent.")).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Dependent lines: ℓ1 clean, ℓ2 mixed").click()
            expect(page.get_by_text("Verdict: dependent by 2 dims.")).to_be_visible(timeout=30_000)
            expect(page.get_by_text("puts 60% of |C| between different subspaces").first).to_be_visible(
                timeout=120_000)
            expect(page.get_by_text("is subspace-preserving (0.0% of |C| off the blocks)").first).to_be_visible()
            expect(page.locator(".js-plotly-plot")).to_have_count(3, timeout=30_000)   # rank bars, |C| grid, summary
            page.get_by_role("heading", name="The self-expression family side by side").scroll_into_view_if_needed()
            page.wait_for_timeout(1500)
            shoot(page, "learn-family-lines", full_height=2700)

            page.get_by_role("button", name="Few points per plane: ℓ1 split, ℓ2 connected").click()
            expect(page.get_by_text("splits block 2 into unconnected parts")).to_be_visible(timeout=120_000)
            page.get_by_role("heading", name="The self-expression family side by side").scroll_into_view_if_needed()
            page.wait_for_timeout(1500)
            shoot(page, "learn-family-few", full_height=2700)
