"""sscn_core.viz.figures: display transforms and the figures built from arrays."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from sscn_core.viz import figures


def test_one_loss_row_for_the_app_and_the_notebook() -> None:
    from sscn_core.trainer import TrainingEvent
    from sscn_core.viz.live import LiveProgress

    row = figures.loss_row("classifier", 3, 7, {"total": 1.5, "classifier": 1.0}, t=0.25)
    assert list(row.items()) == [("phase", "classifier"), ("step", 3), ("i", 7), ("t", 0.25), ("total", 1.5),
                                 ("classifier", 1.0)]
    assert figures.loss_row("pretrain", 1, 1, {"total": 2.0}) == {"phase": "pretrain", "step": 1, "i": 1, "total": 2.0}
    live = LiveProgress()     # outside IPython it only records (and prints finished phases)
    live(TrainingEvent("step", "self_expression", 1, 5, {"total": 2.0}))
    live(TrainingEvent("step", "self_expression", 2, 5, {"total": 1.0}))
    assert live.history == [figures.loss_row("self_expression", 1, 1, {"total": 2.0}),
                            figures.loss_row("self_expression", 2, 2, {"total": 1.0})]


def test_ema_zero_smoothing_is_identity_and_restarts_after_nan() -> None:
    v = np.array([1.0, 2.0, 3.0])
    assert np.allclose(figures.ema(v, 0.0), v)
    out = figures.ema([1.0, 3.0, np.nan, 5.0], 0.5)
    assert out[0] == 1.0 and out[1] == 2.0
    assert np.isnan(out[2]) and out[3] == pytest.approx(0.5 * 2.0 + 0.5 * 5.0)
    with pytest.raises(ValueError, match="smoothing"):
        figures.ema(v, 1.0)


def test_pool_mean_factor_and_edges() -> None:
    m = np.arange(25, dtype=np.float32).reshape(5, 5)
    pooled, f = figures.pool_mean(m, 3)
    assert f == 2 and pooled.shape == (3, 3)
    assert pooled[0, 0] == pytest.approx(m[:2, :2].mean())
    assert pooled[2, 2] == pytest.approx(m[4, 4])          # a partial window averages what it has
    same, f1 = figures.pool_mean(m, 10)
    assert f1 == 1 and np.array_equal(same, m)
    with pytest.raises(ValueError, match="2-D"):
        figures.pool_mean(np.zeros(3), 2)


def test_to_uint8_saturates_at_percentile() -> None:
    m = np.array([[0.0, 1.0], [2.0, 100.0]])
    levels = figures.to_uint8(m, percentile=50)
    assert levels.dtype == np.uint8 and levels[0, 0] == 0 and levels[1, 1] == 255
    assert figures.to_uint8(np.zeros((2, 2))).max() == 0


def test_group_runs_and_top_two() -> None:
    assert figures.group_runs(np.array([0, 0, 1, 1, 1, 0])) == [(0, 0, 2), (1, 2, 5), (0, 5, 6)]
    assert figures.group_runs(np.array([])) == []
    e = np.array([[0.1, 0.7, 0.2], [0.5, 0.5, 0.0]])
    first, second, b1, b2 = figures.top_two(e)
    assert np.allclose(first, [0.7, 0.5]) and np.allclose(second, [0.2, 0.5])
    assert list(b1) == [1, 0] and list(b2) == [2, 1]


def _history() -> list[dict]:
    rows, i = [], 0
    for phase, n, scale in (("self_expression", 5, 1e6), ("classifier", 4, 2.0)):
        for step in range(1, n + 1):
            i += 1
            rows.append({"phase": phase, "step": step, "i": i, "total": scale / step, "classifier": 2.0 / step
                         if phase == "classifier" else None})
    return rows


def test_loss_figure_keeps_phases_apart() -> None:
    fig = figures.loss_figure(_history(), terms=["total", "classifier"], smoothing=0.9)
    smooth = [t for t in fig.data if t.name == "total"][0]
    y = np.array(smooth.y, dtype=float)
    gap = int(np.flatnonzero(np.isnan(y))[0])
    assert gap == 5                                   # one NaN between the 5 + 4 steps
    assert y[gap + 1] == pytest.approx(2.0)           # the average restarts in the new phase
    assert fig.layout.yaxis.type == "log"
    assert {a.text for a in fig.layout.annotations} >= {"self-expression", "classifier"}
    raw = [t for t in fig.data if t.name != "total" and t.showlegend is False]
    assert raw, "faint raw curves are drawn behind smoothed ones"


def test_loss_figure_empty_and_linear() -> None:
    empty = figures.loss_figure([])
    assert len(empty.data) == 0 and "Start" in empty.layout.annotations[0].text
    lin = figures.loss_figure(_history(), smoothing=0.0, log_y=False)
    assert lin.layout.yaxis.type == "linear" and len(lin.data) == 1


def test_affinity_figure_is_a_small_png_with_group_lines() -> None:
    n = 1200
    groups = np.repeat(np.arange(3), n // 3)
    q = np.where(groups[:, None] == groups[None, :], 1.0, 0.01)
    fig = figures.affinity_figure(q, groups, group_names=("a", "b", "c"), max_side=300)
    image = fig.data[0]
    assert isinstance(image, go.Image)
    png = Image.open(io.BytesIO(base64.b64decode(image.source.split(",", 1)[1])))
    assert png.size == (300, 300)
    assert len(fig.layout.shapes) == 4                # 2 boundaries × (vertical + horizontal)
    assert list(fig.layout.xaxis.ticktext) == ["a", "b", "c"]
    assert len(json.dumps(fig.to_plotly_json(), default=str)) < 300_000


def test_scatter_figure_categories_and_continuous() -> None:
    xy = np.random.default_rng(0).normal(size=(30, 2))
    labels = np.repeat([0, 1, 2], 10)
    fig = figures.scatter_figure(xy, colour_by=labels, ids=np.arange(100, 130), hover={"label": labels},
                                 names=("zero", "one", "two"))
    assert [t.name for t in fig.data] == ["zero", "one", "two"]
    assert fig.data[1].customdata[0][0] == 110 and "label" in fig.data[0].hovertemplate
    cont = figures.scatter_figure(xy, colour_by=np.linspace(0, 1, 30), colour_kind="continuous")
    assert len(cont.data) == 1 and cont.data[0].marker.showscale


def test_energy_figures() -> None:
    rng = np.random.default_rng(0)
    e = rng.dirichlet(np.ones(4), size=50)
    c = e.argmax(axis=1)
    heat = figures.energy_heatmap(e, c, max_rows=20)
    assert np.asarray(heat.data[0].z).shape == (20, 4)
    scatter = figures.energy_scatter(e, c)
    xs = np.concatenate([t.x for t in scatter.data])
    ys = np.concatenate([t.y for t in scatter.data])
    assert np.all(xs >= ys)


def test_bar_and_confusion() -> None:
    bar = figures.bar_figure([0.1, 0.9], ["c0", "c1"], percent=True, highlight=1)
    assert list(bar.data[0].marker.color) == ["#0072B2", "#D55E00"]
    assert list(bar.data[0].text) == ["10%", "90%"]
    conf = figures.confusion_figure(np.array([[5, 1], [0, 4]]), [0, 1], [1, 0], class_names=("cat", "dog"))
    assert list(conf.data[0].y) == ["cat", "dog"] and list(conf.data[0].x) == ["c1", "c0"]


def test_phase_labels_of_short_phases_take_rows_of_their_own() -> None:
    assert figures.label_rows([1, 2, 3, 50], 100) == [0, 1, 2, 0]      # three short phases, then a long one
    assert figures.label_rows([1, 40, 80], 100) == [0, 0, 0]           # far apart: one row
    history = [{"i": i + 1, "phase": phase, "total": 1.0} for i, phase in
               enumerate(["model_choice", "self_expression", "classifier"] + ["student"] * 97)]   # four starts within 4 %
    fig = figures.loss_figure(history, terms=["total"], smoothing=0.0)
    shifts = [a.yshift or 0 for a in fig.layout.annotations]
    assert sorted(set(shifts)) == [0, 16, 32, 48] and fig.layout.margin.t >= 20 + 4 * figures.LABEL_ROW_PX


def test_a_paper_start_run_is_drawn_beside_theorem_1s_optimum() -> None:
    history = [{"i": i, "phase": "paper_start", "total": 100.0 / i} for i in range(1, 6)] + \
              [{"i": 6, "phase": "self_expression", "total": 2.0}]
    assert figures.optimum_value(history) == 2.0
    assert figures.optimum_value(history[:5]) is None and figures.optimum_value(history[5:]) is None
    for log_y in (True, False):
        fig = figures.loss_figure(history, terms=("total",), log_y=log_y)
        optimum = [t for t in fig.data if t.line.dash == "dash"]
        assert len(optimum) == 1 and list(optimum[0].y) == [2.0, 2.0] and list(optimum[0].x) == [1, 6]
        assert "Theorem 1's optimum" in optimum[0].name and optimum[0].showlegend
    assert any("the paper's start" in (a.text or "") for a in fig.layout.annotations)
    plain = figures.loss_figure([{"i": 1, "phase": "self_expression", "total": 2.0}], terms=("total",))
    assert not [t for t in plain.data if t.line.dash == "dash"]


def _count(k: int = 4, kmax: int = 8, *, structure: bool = True, zero: bool = False) -> dict:
    """A hand-made ``cluster_count_`` as a checkpoint gives it back (lists): candidates 2 … kmax, K kept with the
    largest score, the kept graph's eigenvalues jumping after μ_K (all zero up to μ_K when ``zero``)."""
    candidates = list(range(2, kmax + 1))
    scores = [0.05 * (c % 3) - 0.02 for c in candidates]
    scores[candidates.index(k)] = 2.5 if structure else 0.3
    small = [0.0] * k if zero else [0.0] + [0.01 * i for i in range(1, k)]
    eigenvalues = small + [0.4 + 0.02 * i for i in range(kmax + 1 - k)]
    null = [0.0] + [0.1 + 0.04 * i for i in range(kmax)]
    return {"value": k, "candidates": candidates, "scores": scores,
            "ratios": [1.0 + abs(s) for s in scores], "null_ratios": [1.0] * len(candidates),
            "eigenvalues": eigenvalues, "null_eigenvalues": null, "graph_k": candidates, "structure": structure,
            "factor": float(np.exp(max(scores))), "frontend": "pixels", "alpha": 3.5, "sample": 200,
            "by_frontend": {"pixels": {"value": k, "factor": float(np.exp(max(scores)))}}}


def _gap_band(fig: go.Figure) -> tuple[float, float]:
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(bands) == 1, fig.layout.shapes
    return bands[0].x0, bands[0].x1


def _texts(fig: go.Figure) -> list[str]:
    return [a.text or "" for a in fig.layout.annotations]


def test_cluster_count_figure_marks_the_gap_of_the_kept_k_beside_the_reference() -> None:
    count = _count(k=4, kmax=8)
    fig = figures.cluster_count_figure(json.loads(json.dumps(count)))      # lists, as from a checkpoint
    assert fig.layout.title.text == "How many subspaces? K = 4"
    names = [t.name for t in fig.data]
    reference = next(t for t in fig.data if t.name.startswith("structureless reference"))
    data = next(t for t in fig.data if t.name == "this data's graph")
    assert list(reference.y) == count["null_eigenvalues"] and reference.opacity < 1 and reference.line.dash == "dot"
    assert list(data.x) == list(range(1, 10)) and list(data.y) == count["eigenvalues"] and data.mode == "lines+markers"
    first_k = next(t for t in fig.data if t.name.startswith("μ<sub>1</sub>"))
    assert list(first_k.x) == [1, 2, 3, 4], names
    assert _gap_band(fig) == (4, 5)                                        # between μ_4 and μ_5
    gap = [a for a in fig.layout.annotations if a.text == "gap → K = 4"]
    assert len(gap) == 1 and gap[0].x == 4.5
    arrow = next(a for a in fig.layout.annotations if a.showarrow and a.axref == "x")
    assert (arrow.ay, arrow.y) == (count["eigenvalues"][3], count["eigenvalues"][4])   # from μ_4 up to μ_5
    bars = next(t for t in fig.data if isinstance(t, go.Bar))
    assert list(bars.x) == count["candidates"] and list(bars.y) == count["scores"]
    colours = list(bars.marker.color)
    assert colours[2] == figures.CHOSEN_COLOUR and colours.count(figures.CHOSEN_COLOUR) == 1   # K = 4 highlighted
    labels = _texts(fig)
    assert f"K−1 = 3: {count['scores'][1]:+.2f}" in labels and f"K+1 = 5: {count['scores'][3]:+.2f}" in labels
    assert "K = 4: +2.50" in labels and any("2× the reference" in t for t in labels)
    assert bars.xaxis == "x2" and data.xaxis == "x"                        # two panels


def test_cluster_count_figure_at_the_ends_of_the_range_and_without_structure() -> None:
    low = figures.cluster_count_figure(_count(k=2, kmax=6))
    assert _gap_band(low) == (2, 3) and "gap → K = 2" in _texts(low)
    assert not any(t.startswith("K−1") for t in _texts(low)) and "K+1 = 3: -0.02" in _texts(low)
    high = figures.cluster_count_figure(_count(k=6, kmax=6))               # K = Kmax: μ_{Kmax+1} is still there
    assert _gap_band(high) == (6, 7) and "gap → K = 6" in _texts(high)
    assert not any(t.startswith("K+1") for t in _texts(high)) and any(t.startswith("K−1 = 5") for t in _texts(high))
    flat = figures.cluster_count_figure(_count(k=3, kmax=6, structure=False))
    assert "no cluster structure found" in flat.layout.title.text.lower() and "K = 3" in flat.layout.title.text
    arrays = {key: np.asarray(value) if isinstance(value, list) else value for key, value in _count().items()}
    assert _gap_band(figures.cluster_count_figure(arrays)) == (4, 5)      # as count_clusters makes it: arrays work too
    assert figures.cluster_count_caption(arrays).startswith("K = 4")
    bare = {key: value for key, value in _count().items() if key not in ("null_eigenvalues", "ratios", "null_ratios")}
    assert not any(t.name.startswith("structureless") for t in figures.cluster_count_figure(bare).data)
    with pytest.raises(ValueError, match="one score per candidate"):
        figures.cluster_count_figure({**_count(), "scores": [1.0]})
    with pytest.raises(ValueError, match="not among the candidates"):
        figures.cluster_count_figure({**_count(kmax=6), "value": 9})


def test_cluster_count_caption_says_what_the_figure_shows() -> None:
    text = figures.cluster_count_caption(_count(k=4, kmax=8))
    assert text.startswith("K = 4: the eigenvalues jump after the 4th") and f"{np.exp(2.5):.3g}×" in text
    assert [figures._ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 102)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "102nd"]
    assert "runner-up, K = 2" in text                        # the second-best score (0.08; ties: the smaller K)
    zero = figures.cluster_count_caption({**_count(k=4, zero=True), "factor": 1.5e9})
    assert "first 4 eigenvalues are zero" in zero and "exactly 4 separate groups" in zero
    flat = figures.cluster_count_caption(_count(k=3, kmax=6, structure=False))
    assert flat.startswith("No cluster structure found") and "K = 3" in flat and "2×" in flat
    assert figures.runner_up(_count(k=2, kmax=2)) is None
    assert "runner-up" not in figures.cluster_count_caption(_count(k=2, kmax=2))


def test_cluster_count_caption_when_a_coarser_k_also_splits_exactly() -> None:
    count = _count(k=4, kmax=8, zero=True)
    count["scores"][0] = 20.0                                              # K = 2's graph has 2 components too
    count["scores"][2] = 21.0
    text = figures.cluster_count_caption(count)
    assert "exactly 4 separate groups" in text and "K = 2 splits exactly too" in text and "runner-up" not in text
