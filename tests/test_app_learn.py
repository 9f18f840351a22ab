"""The Learn tab through streamlit.testing.v1.AppTest: controls, the independence verdict, Theorem 1 live."""
from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app.views.learn import verdict_messages
from sscn_core import DataError
from sscn_core.playground import EXAMPLES, Playground, run_playground, subspaces_report


def learn_page() -> None:
    """The Learn tab alone, as a Streamlit script (AppTest runs this function's body)."""
    from app.views import learn

    learn.render()


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_function(learn_page, default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def share(text: str) -> float:
    """A displayed share ("3.8%" or "2.2e-06") as a number."""
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def run_ok(at: AppTest) -> None:
    at.run()
    assert not at.exception, at.exception


def chart_titles(at: AppTest) -> list[str]:
    titles = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        titles.append(spec["layout"].get("title", {}).get("text", ""))
    return titles


def test_defaults_show_an_independent_verdict_without_training(at: AppTest) -> None:
    m = metrics(at)
    assert m["Σ dim S_k"] == "8" and m["rank of the union"] == "8"
    assert any("Verdict: independent" in s.value for s in at.success)
    assert "‖Q − Q*‖ / ‖Q*‖" not in m                               # nothing trained yet
    assert [b.label for b in at.button][:4] == [label for label, _ in EXAMPLES.values()]


def test_controls_update_the_verdict_at_once(at: AppTest) -> None:
    at.selectbox(key="learn.relation").set_value("dependent")
    at.slider(key="learn.subspace_dim").set_value(1)
    run_ok(at)
    m = metrics(at)
    assert (m["Σ dim S_k"], m["rank of the union"]) == ("4", "2")    # 4 lines in a plane
    assert any("Verdict: dependent by 2 dims" in e.value for e in at.error)
    assert at.toggle(key="learn.set_angle").proto.disabled          # the angle applies to independent subspaces
    at.selectbox(key="learn.relation").set_value("overlapping")
    run_ok(at)
    assert any("valid subspaces" in w.value and "subspace_dim >= 2" in w.value for w in at.warning)
    assert not any(b.label == "Train linear SSCN" for b in at.button)
    at.slider(key="learn.subspace_dim").set_value(2)
    run_ok(at)
    assert any("Verdict: dependent by" in e.value for e in at.error)


def test_independent_subspaces_train_to_the_closed_form(at: AppTest) -> None:
    button(at, "Train linear SSCN").click()
    run_ok(at)
    m = metrics(at)
    assert share(m["‖Q − Q*‖ / ‖Q*‖"]) < 0.05
    assert m["ACC"] == "100%" and m["pseudo-label ACC"] == "100%"
    assert share(m["off-block mass of Q"]) < 0.10
    titles = chart_titles(at)
    for title in ("Closed form Q* (Theorem 1)", "Learned Q = HHᵀ", "Distance to the closed form while training",
                  "Leakage of the learned Q"):
        assert title in titles
    assert any("every point is clustered correctly" in s.value for s in at.success)
    assert at.latex                                                   # the formulas are there
    # moving a slider afterwards marks the results as stale instead of silently mixing settings
    at.slider(key="learn.noise").set_value(0.1)
    run_ok(at)
    assert any("previous settings" in i.value for i in at.info)


def test_lines_in_a_plane_leak(at: AppTest) -> None:
    button(at, "Lines in a plane").click()
    run_ok(at)
    m = metrics(at)
    assert (m["Σ dim S_k"], m["rank of the union"]) == ("4", "2")
    assert share(m["‖Q − Q*‖ / ‖Q*‖"]) < 0.05              # Theorem 1 still holds …
    assert share(m["off-block mass of Q"]) > 0.30         # … but Q* mixes the lines
    warning = next(w.value for w in at.warning if "Dependent subspaces" in w.value)
    # The words follow the outcome: lines at distinct angles may still be told apart after the post-processing.
    assert ("still separates them here (ACC 100%)" in warning) == (m["ACC"] == "100%")
    assert ("the clustering suffers" in warning) == (m["ACC"] != "100%")


def test_run_playground_records_the_error_curve_and_explains_itself() -> None:
    res = run_playground(Playground(n_clusters=3, subspace_dim=2, ambient_dim=10, n_per_cluster=20, steps=300))
    assert res.steps[0] == 10 and res.steps[-1] == 300 and len(res.errors) == 30
    assert res.errors[-1] < res.errors[0] and res.q.shape == res.q_star.shape == (60, 60)
    assert not res.truncated and res.report.verdict == "independent"
    np.testing.assert_allclose(res.leakage.sum(axis=1), 1.0)
    kinds = [k for k, _ in verdict_messages(res)]
    assert kinds in (["success"], ["info", "success"], ["info", "warning"], ["warning"])
    noisy = run_playground(Playground(n_clusters=2, subspace_dim=1, ambient_dim=6, n_per_cluster=15, noise=0.1,
                                      steps=100))
    assert noisy.truncated                                            # full-rank X: Q* is the best rank-d_H one
    assert any("still" in text for _, text in verdict_messages(noisy)) or noisy.final_error < 0.05
    with pytest.raises(DataError, match="n_clusters·subspace_dim <= ambient_dim"):
        subspaces_report(Playground(n_clusters=8, subspace_dim=5, ambient_dim=20))
