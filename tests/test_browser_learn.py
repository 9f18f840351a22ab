"""The Learn tab end to end in headless Chromium: the independent and the dependent example, with screenshots.

Screenshots go to tests/artifacts/ (git-ignored): learn-independent*.png and learn-dependent*.png.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from browser_support import app_page, browser_marks, streamlit_server
from browser_support import shoot as shoot_views

pytestmark = browser_marks


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with streamlit_server("server-learn.log") as url:
        yield url


def shoot(page, name: str) -> None:  # noqa: ANN001 - playwright Page
    """Screenshots with a taller full view (the Learn tab is long)."""
    shoot_views(page, name, full_height=3000)


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
        with app_page(p, server) as page:
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
            separated = metric(page, "ACC") == "100%"       # lines at distinct angles may still be told apart …
            expect(page.get_by_text("still separates them here" if separated else "the clustering suffers",
                                    exact=False)).to_be_visible()       # … and the words say which happened
            page.get_by_role("heading", name="Theorem 1 live").scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            shoot(page, "learn-dependent")
            assert sidebar_numbers(page) == settings and settings    # the playground leaves the sidebar alone
