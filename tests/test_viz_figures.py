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
