"""End to end in headless Chromium: start the server, train on MNIST, look at every tab, classify an image.

Screenshots go to tests/artifacts/ (git-ignored), with the server log and timings.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser_support import ARTIFACTS, app_page, browser_marks, shoot, streamlit_server

pytestmark = browser_marks


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with streamlit_server("server.log") as url:
        yield url


def digit_png(path: Path, index: int = 0) -> int:
    """Write MNIST test digit ``index`` as a photo-like PNG (dark ink on white, 112×112); return its label."""
    from sscn_core import load_dataset

    ds = load_dataset("mnist")
    img = (255 - np.rint(ds.X[index].reshape(28, 28) * 255)).astype(np.uint8)
    Image.fromarray(img, mode="L").resize((112, 112), Image.Resampling.BILINEAR).save(path)
    return int(ds.y[index])


def lasso_middle(page, chart) -> None:  # noqa: ANN001 - playwright Page and Locator
    """Draw a lasso over the middle of a plotly chart's plot area (the chart's drag mode is lasso)."""
    chart.scroll_into_view_if_needed()
    area = chart.locator(".nsewdrag").first.bounding_box()
    x0, y0 = area["x"] + area["width"] * 0.2, area["y"] + area["height"] * 0.2
    x1, y1 = area["x"] + area["width"] * 0.8, area["y"] + area["height"] * 0.8
    page.mouse.move(x0, y0)
    page.mouse.down()
    for x, y in ((x1, y0), (x1, y1), (x0, y1), (x0, y0 + 2)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def set_number(page, label: str, value: str) -> None:  # noqa: ANN001 - playwright Page
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")


def test_train_look_classify(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    timings: dict[str, float] = {}
    digit = tmp_path / "digit.png"
    label = digit_png(digit)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not an image")
    with sync_playwright() as p:
        with app_page(p, server) as page:
            # A small run: the bundled MNIST (2,000 digits), 2 epochs of self-expression, 1 of the classifier.
            set_number(page, "Epochs", "2")
            page.get_by_text("More settings", exact=True).click()
            set_number(page, "Classifier epochs", "1")
            page.wait_for_timeout(500)
            page.screenshot(path=ARTIFACTS / "01-start.png")

            start = page.get_by_role("button", name="Start")
            expect(start).to_be_enabled()
            t0 = time.monotonic()
            start.click()
            facts = page.locator("[data-testid='stCaptionContainer']", has_text="first loss point")
            expect(facts).to_be_visible(timeout=60_000)
            timings["first_loss_visible_s"] = time.monotonic() - t0
            timings["first_loss_reported_s"] = float(
                facts.inner_text().split("first loss point")[1].split("s after")[0])
            page.wait_for_timeout(1500)
            page.screenshot(path=ARTIFACTS / "02-training.png")
            expect(page.get_by_text(re.compile(r"^Finished · "))).to_be_visible(timeout=240_000)
            timings["finished_s"] = time.monotonic() - t0
            page.wait_for_timeout(1000)
            shoot(page, "03-finished")

            page.get_by_role("tab", name="Affinity").click()
            expect(page.get_by_text("Subspace-preserving error")).to_be_visible(timeout=30_000)
            page.get_by_text("Thresholded (ρ)").click()
            page.wait_for_timeout(1500)
            shoot(page, "04-affinity")

            page.get_by_role("tab", name="Embeddings").click()
            expect(page.get_by_text("Layout of snapshot")).to_be_visible(timeout=180_000)
            page.wait_for_timeout(1500)
            lasso_middle(page, page.get_by_test_id("stPlotlyChart").first)
            expect(page.get_by_text(re.compile(r"selected · clusters"))).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1000)
            shoot(page, "05-embeddings")

            page.get_by_role("tab", name="Metrics").click()
            expect(page.get_by_text("Out-of-sample", exact=True).first).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1000)
            shoot(page, "06-metrics")

            page.get_by_role("tab", name="Diagnostics").click()
            expect(page.get_by_text("One row per space", exact=False)).to_be_visible(timeout=60_000)
            page.wait_for_timeout(1000)
            shoot(page, "08-diagnostics")
            page.get_by_role("tab", name="Learn").click()
            page.wait_for_timeout(2000)
            shoot(page, "09-learn")

            page.get_by_role("tab", name="Classify").click()
            with page.expect_file_chooser() as chooser:
                page.get_by_test_id("stFileUploaderDropzone").get_by_test_id("stBaseButton-secondary").click()
            chooser.value.set_files([str(digit), str(broken)])
            verdict = page.get_by_text("most training points of this cluster are")
            expect(verdict).to_be_visible(timeout=30_000)
            refusal = page.get_by_test_id("stAlertContentError").filter(has_text="broken.png")
            expect(refusal).to_contain_text("not an image")
            prediction = verdict.inner_text()
            page.wait_for_timeout(1000)
            shoot(page, "07-classify")
    (ARTIFACTS / "timings.json").write_text(json.dumps({**timings, "prediction": prediction, "true_label": label},
                                                       indent=2))
    assert "Cluster" in prediction
    log = (ARTIFACTS / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "Warning" not in log and "warning" not in log.lower(), log[-3000:]
