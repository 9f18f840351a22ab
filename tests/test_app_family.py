"""The self-expression family section through AppTest (Learn and Diagnostics tabs) and its pure helpers."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app.views.family import FamilySettings, run_family, summary_rows, verdicts
from app.views.learn import FAMILY_EXAMPLES
from sscn_core import Dataset
from sscn_core.data import make_subspaces
from sscn_core.viz import family as figures_family


def learn_page() -> None:
    from app.views import learn

    learn.render()


def diagnostics_page(dataset) -> None:
    from app.views import diagnostics

    diagnostics.render(dataset, None)


def run_ok(at: AppTest) -> None:
    at.run()
    assert not at.exception, at.exception


def button(at: AppTest, start: str):
    return next(b for b in at.button if b.label.startswith(start))


def table(at: AppTest) -> dict[str, dict[str, object]]:
    """The family table (the last dataframe), as {method label: row}."""
    frame = at.dataframe[-1].value
    return {row["method"]: row for row in frame.to_dict("records")}



@pytest.fixture
def learn() -> AppTest:
    at = AppTest.from_function(learn_page, default_timeout=120)
    run_ok(at)
    return at


def test_lines_lesson_shows_l1_clean_and_l2_mixed(learn: AppTest) -> None:
    assert any("Press the button" in c.value for c in learn.caption)          # nothing computed before asked
    button(learn, FAMILY_EXAMPLES["lines"][0]).click()
    run_ok(learn)
    assert learn.selectbox(key="learn.relation").value == "dependent"
    assert learn.slider(key="learn.subspace_dim").value == 1
    rows = table(learn)
    assert list(rows) == ["EDSC / SSCN (ℓ2)", "SSC (ℓ1)", "EnSC (elastic net)", "LRR (low rank)"]
    share = {k: float(str(r["off-subspace |C|"]).rstrip("%")) / 100 for k, r in rows.items()}
    assert share["EDSC / SSCN (ℓ2)"] > 0.3 and share["LRR (low rank)"] > 0.3
    assert share["SSC (ℓ1)"] <= share["EDSC / SSCN (ℓ2)"] / 10
    assert len(learn.get("plotly_chart")) == 3                                # dims bar, |C| grid, summary
    text = " ".join(m.value for m in learn.markdown)
    assert "**SSC (ℓ1)** is subspace-preserving" in text and "**EDSC / SSCN (ℓ2)** puts 60%" in text


def test_few_points_lesson_shows_l1_split_and_l2_connected(learn: AppTest) -> None:
    button(learn, FAMILY_EXAMPLES["few"][0]).click()
    run_ok(learn)
    assert learn.slider(key="learn.n_per_cluster").value == 4
    rows = table(learn)
    assert rows["EDSC / SSCN (ℓ2)"]["components per block"] == "1 · 1 · 1 · 1"
    assert "2" in str(rows["SSC (ℓ1)"]["components per block"])
    assert rows["SSC (ℓ1)"]["smallest λ₂"] == 0.0 and rows["EDSC / SSCN (ℓ2)"]["smallest λ₂"] > 0.1


def test_choosing_priors_and_stale_results(learn: AppTest) -> None:
    learn.multiselect(key="learn.family.methods").set_value(["ssc_omp", "edsc"])
    run_ok(learn)
    button(learn, "Compare the priors on").click()
    run_ok(learn)
    assert list(table(learn)) == ["SSC-OMP (ℓ0, greedy)", "EDSC / SSCN (ℓ2)"]
    assert not any("earlier settings" in i.value for i in learn.info)
    learn.select_slider(key="learn.family.l1_ratio").set_value(0.9)
    run_ok(learn)
    assert any("earlier settings" in i.value for i in learn.info)
    learn.multiselect(key="learn.family.methods").set_value([])
    run_ok(learn)
    button(learn, "Compare the priors on").click()
    run_ok(learn)
    assert any("choose at least one prior" in e.value for e in learn.error)


def test_diagnostics_compares_the_family_on_a_sample() -> None:
    data = make_subspaces(3, 2, 12, 150, 0.01, "independent", None, 0)
    at = AppTest.from_function(diagnostics_page, args=(data,), default_timeout=120)
    run_ok(at)
    button(at, "Compare the priors on 300 points").click()                   # 450 points, sampled to 300
    run_ok(at)
    rows = table(at)
    assert len(rows) == 4 and all(int(str(r["ACC"]).rstrip("%")) >= 90 for r in rows.values())
    at = AppTest.from_function(diagnostics_page, args=(Dataset(data.X[:60], data.y[:60], "small", None),),
                               default_timeout=120)
    run_ok(at)
    assert any(b.label == "Compare the priors on 60 points" for b in at.button)


def test_pure_helpers_and_figures() -> None:
    data = make_subspaces(3, 1, 3, 3, 0.0, "independent", None, 2)
    run = run_family(data.X, data.y, 3, 1, FamilySettings(methods=("ssc", "edsc")), names={0: "a", 1: "b", 2: "c"})
    assert run.names == ["a", "b", "c"]
    rows = summary_rows(run)
    assert [r["method"] for r in rows] == ["SSC (ℓ1)", "EDSC / SSCN (ℓ2)"] and rows[0]["components per block"] == \
        "1 · 1 · 1"
    assert len(verdicts(run)) == 2
    grid = figures_family.coefficient_grid([f.C for f in run.fits], run.labels, ["x", "y"], names=run.names)
    assert len(grid.data) == 2 and grid.data[0].zmax == 1.0
    summary = figures_family.family_summary(["x", "y"], [0.0, 0.5], [np.array([1.0, 0.0, 0.5])] * 2,
                                            [np.array([1, 2, 1])] * 2, names=run.names)
    assert [t.name for t in summary.data][1:] == ["block a", "block b", "block c"]
    assert summary.data[2].text == ("2 parts", "2 parts")
    with pytest.raises(ValueError, match="one title per matrix"):
        figures_family.coefficient_grid([run.fits[0].C], run.labels, [])
