"""The explorer's figures (training, affinity, embeddings, metrics): arrays in, plotly figures out.

No Streamlit, no model: the app and the notebook views (:mod:`sscn_core.viz.notebook`) draw with
these same functions.

Large matrices are average-pooled and sent as one PNG (``go.Image``) so that a redraw every second
stays small (a 2000×2000 float heatmap would be ~25 MB of JSON). Only pure display transforms
live here: pooling, colour mapping, smoothing of a plotted curve, sorting for display.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from matplotlib import colormaps
from PIL import Image
from plotly.subplots import make_subplots

from sscn_core.cluster_count import EXACT_FACTOR, rivals
from sscn_core.plan import COUNT_NULL_FACTOR
from sscn_core.trainer import PHASE_LABELS

# Okabe-Ito-like qualitative palette (readable on a projector), cycled past 10 classes.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#8C564B", "#7F7F7F", "#17BECF", "#BCBD22")
TERM_COLOURS = {"total": "#000000", "q_norm": "#0072B2", "self_expression": "#D55E00",
                "reconstruction": "#009E73", "classifier": "#CC79A7", "distillation": "#E69F00"}
TERM_LABELS = {"total": "total", "q_norm": "½‖Q‖²", "self_expression": "½‖Z − QZ‖²",
               "reconstruction": "½‖X − dec(QZ)‖²", "classifier": "classifier loss",
               "balance": "balance (−entropy)", "distillation": "student: distance to the model's H"}
FONT = dict(size=14)


def colour(k: int) -> str:
    """The palette colour of class/cluster ``k``."""
    return PALETTE[int(k) % len(PALETTE)]


def _layout(fig: go.Figure, *, title: str | None = None, height: int = 420, **kwargs: Any) -> go.Figure:
    fig.update_layout(title=dict(text=title) if title else None, height=height, font=FONT,
                      margin=dict(l=60, r=20, t=50 if title else 20, b=50), template="plotly_white", **kwargs)
    return fig


# --------------------------------------------------------------------------------- display transforms
def ema(values: Sequence[float] | np.ndarray, smoothing: float) -> np.ndarray:
    """Exponential moving average for display: s_t = smoothing·s_{t−1} + (1 − smoothing)·v_t.

    ``smoothing`` in [0, 1); 0 returns the values unchanged. NaNs are carried over without
    disturbing the average.
    """
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    v = np.asarray(values, dtype=np.float64)
    out = np.empty_like(v)
    acc = np.nan
    for i, x in enumerate(v):
        if np.isfinite(x):
            acc = x if not np.isfinite(acc) else smoothing * acc + (1.0 - smoothing) * x
        out[i] = acc if np.isfinite(x) else np.nan
    return out


def pool_mean(matrix: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """Average-pool a 2-D array by an integer factor so that no side exceeds ``max_side``.

    Returns the pooled array and the factor. Edge rows/columns that do not fill a whole window
    are averaged over what there is.
    """
    m = np.asarray(matrix, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {m.shape}")
    if max_side < 1:
        raise ValueError(f"max_side must be ≥ 1, got {max_side}")
    f = max(1, int(np.ceil(max(m.shape) / max_side)))
    if f == 1:
        return m, 1
    rows, cols = -(-m.shape[0] // f), -(-m.shape[1] // f)
    padded = np.full((rows * f, cols * f), np.nan, dtype=np.float32)
    padded[:m.shape[0], :m.shape[1]] = m
    return np.nanmean(padded.reshape(rows, f, cols, f), axis=(1, 3)), f


def to_uint8(matrix: np.ndarray, *, percentile: float = 99.0) -> np.ndarray:
    """Scale non-negative values to 0..255, saturating above the given percentile (of nonzeros)."""
    m = np.nan_to_num(np.asarray(matrix, dtype=np.float32))
    nz = m[m > 0]
    top = float(np.percentile(nz, percentile)) if nz.size else 1.0
    top = top if top > 0 else 1.0
    return np.clip(np.rint(m / top * 255.0), 0, 255).astype(np.uint8)


def png_data_uri(levels: np.ndarray, cmap: str = "magma_r") -> str:
    """A PNG data URI of a uint8 2-D array through a matplotlib colour map."""
    rgb = (colormaps[cmap](np.arange(256))[:, :3] * 255).astype(np.uint8)[levels]
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG", optimize=False, compress_level=3)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def group_runs(groups: np.ndarray) -> list[tuple[Any, int, int]]:
    """Runs of equal consecutive values: [(value, start, stop)] with stop exclusive."""
    g = np.asarray(groups)
    if g.size == 0:
        return []
    cuts = np.flatnonzero(g[1:] != g[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [g.size]])
    return [(g[s], int(s), int(e)) for s, e in zip(starts, stops)]


def top_two(energy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the largest and second largest shares and their block indices."""
    e = np.asarray(energy)
    order = np.argsort(-e, axis=1, kind="stable")
    first, second = order[:, 0], order[:, 1] if e.shape[1] > 1 else order[:, 0]
    rows = np.arange(e.shape[0])
    return e[rows, first], e[rows, second], first, second


def _segments(steps: np.ndarray, values: np.ndarray, runs: list[tuple[Any, int, int]],
              smoothing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, raw and smoothed y with a NaN gap between runs; the EMA restarts in each run."""
    xs, raws, smooths = [], [], []
    for _, start, stop in runs:
        xs += [steps[start:stop], [np.nan]]
        raws += [values[start:stop], [np.nan]]
        smooths += [ema(values[start:stop], smoothing), [np.nan]]
    return np.concatenate(xs)[:-1], np.concatenate(raws)[:-1], np.concatenate(smooths)[:-1]


# One row of a loss history as the loss chart reads it (``loss_figure``): {"phase", "step" (from 1 in its phase),
# "i" (the step counted across phases, the x axis), "t" (seconds since the run began, when known), then the
# loss terms of that step (trainer.LOSS_TERMS)}. Made by ``loss_row``; the app's job and the notebook's live
# progress record their histories with it.
LossRow = dict[str, Any]


def loss_row(phase: str, step: int, i: int, losses: Mapping[str, float], *, t: float | None = None) -> LossRow:
    """The history row of one training step (see ``LossRow``): its ``phase``, ``step``, global step ``i``,
    seconds ``t`` since the run began (left out when None) and the step's ``losses``."""
    row: LossRow = {"phase": phase, "step": step, "i": i}
    if t is not None:
        row["t"] = t
    row.update(losses)
    return row


def with_global_steps(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """History rows (``SSCN.history_``: per phase, steps from 1) numbered across phases as "i" (the loss x axis)."""
    return [{**row, "i": i + 1} for i, row in enumerate(history)]


def display_name(value: Any, names: Sequence[str] | None) -> str:
    """A class's display name: ``names[value]`` when there is one, else the value itself."""
    return names[int(value)] if names is not None and 0 <= int(value) < len(names) else str(value)


# --------------------------------------------------------------------------------- figures
def loss_figure(history: Sequence[Mapping[str, Any]], *, terms: Sequence[str] = ("total",), smoothing: float = 0.0,
                log_y: bool = True, height: int = 420,
                empty_text: str = "Press Start: the first loss point appears after the first step.") -> go.Figure:
    """Loss per step: one line per term (smoothed by ``ema``; raw values faint behind), phase bands.

    ``history`` rows (``LossRow``) carry "i" (global step), "phase" and the loss terms; ``empty_text`` stands
    in for the curves before the first step. When a "paper_start" run (h trained from the paper's
    random start, for comparison) is followed by the self-expression phase, the latter's first value
    of each term is drawn as a dashed line across the plot: Theorem 1's optimum where h starts, which
    the comparison run approaches.
    """
    fig = go.Figure()
    if history:
        steps = np.array([row["i"] for row in history])
        runs = group_runs(np.array([row["phase"] for row in history]))
        for term in terms:
            values = np.array([row.get(term, np.nan) for row in history], dtype=np.float64)
            if log_y:
                values = np.where(values > 0, values, np.nan)
            if not np.isfinite(values).any():
                continue
            name, c = TERM_LABELS.get(term, term), TERM_COLOURS.get(term, "#444444")
            # Each phase is its own segment: the scales differ by orders of magnitude, so neither the
            # line nor its moving average may run across a phase boundary.
            x, raw, smooth = _segments(steps, values, runs, smoothing)
            if smoothing > 0:
                fig.add_trace(go.Scatter(x=x, y=raw, mode="lines", line=dict(color=c, width=1), connectgaps=False,
                                         opacity=0.25, showlegend=False, hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=x, y=smooth, mode="lines+markers" if len(history) <= 30 else "lines", name=name,
                                     line=dict(color=c, width=2.5), marker=dict(size=6),
                                     connectgaps=False,
                                     hovertemplate=f"{name}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>"))
            optimum = optimum_value(history, term)
            if optimum is not None and (not log_y or optimum > 0):   # a trace, not a shape: data units on any axis
                fig.add_trace(go.Scatter(
                    x=[steps[0], steps[-1]], y=[optimum, optimum], mode="lines", line=dict(color=c, width=1.5, dash="dash"),
                    name=f"Theorem 1's optimum ({optimum:.4g}): this run's h starts here" if term == terms[0] else
                    f"optimum of {name}", legendgroup="optimum", showlegend=term == terms[0],
                    hovertemplate=f"Theorem 1's optimum of {name}: %{{y:.4g}}<extra></extra>"))
        rows = label_rows([steps[start] for _, start, _ in runs], steps[-1] - steps[0] + 1)
        for (phase, start, stop), row in zip(runs, rows):
            fig.add_vrect(x0=steps[start] - 0.5, x1=steps[stop - 1] + 0.5, line_width=0,
                          fillcolor="#999999" if start % 2 else "#dddddd", opacity=0.12)
            fig.add_annotation(x=steps[start], y=1.0, yref="paper", xanchor="left", yanchor="bottom",
                               yshift=LABEL_ROW_PX * row, text=PHASE_LABELS.get(phase, phase), showarrow=False,
                               font=dict(size=12))
    else:
        fig.add_annotation(text=empty_text,
                           showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=16))
    fig.update_xaxes(title="step")
    if history and history[-1]["i"] < 10:   # a short run: show whole steps 0..10, not 0.6..1.4
        fig.update_xaxes(range=[0, 10.5], dtick=1)
    fig.update_yaxes(title="loss", type="log" if log_y else "linear")
    fig = _layout(fig, height=height, legend=dict(orientation="h", y=-0.2), hovermode="x unified")
    if history:   # room above the plot for the rows of phase labels
        fig.update_layout(margin=dict(t=20 + LABEL_ROW_PX * (max(rows) + 1)))
    return fig


def optimum_value(history: Sequence[Mapping[str, Any]], term: str = "total") -> float | None:
    """The self-expression phase's first value of ``term`` when a "paper_start" comparison run came before it
    (h then starts at Theorem 1's optimum, so that value is the optimum's), else None."""
    phases = [row["phase"] for row in history]
    if "paper_start" not in phases or "self_expression" not in phases:
        return None
    value = history[phases.index("self_expression")].get(term)
    return float(value) if value is not None and np.isfinite(value) else None


LABEL_ROW_PX = 16      # height of one row of phase labels above the loss plot
LABEL_GAP = 0.18       # a label needs this share of the x range before the next label in its row


def label_rows(starts: Sequence[float], span: float) -> list[int]:
    """Row of each phase label (0 = nearest the plot): a label goes to the lowest row whose last
    label starts at least ``LABEL_GAP`` of the x range ``span`` before it, so short phases (a
    stationary start, a cached pre-training) do not print their names on top of each other."""
    last: list[float] = []
    rows = []
    for x in starts:
        row = next((r for r, previous in enumerate(last) if x - previous >= LABEL_GAP * span), len(last))
        if row == len(last):
            last.append(x)
        last[row] = x
        rows.append(row)
    return rows


def affinity_figure(matrix: np.ndarray, groups: np.ndarray | None = None, *, group_names: Sequence[str] | None = None,
                    max_side: int = 500, title: str | None = None, height: int = 560) -> go.Figure:
    """|Q| (already in display order) as a pooled PNG, with lines between groups and group names on the axes."""
    pooled, factor = pool_mean(np.abs(matrix), max_side)
    fig = go.Figure(go.Image(source=png_data_uri(to_uint8(pooled)), hoverinfo="skip"))
    n = matrix.shape[0]
    ticks, labels = [], []
    if groups is not None and len(groups) == n:
        runs = group_runs(np.asarray(groups))
        for value, start, stop in runs:
            ticks.append((start + stop) / 2 / factor - 0.5)
            labels.append(group_names[int(value)] if group_names is not None and 0 <= int(value) < len(group_names)
                          else str(value))
            if start > 0:
                pos = start / factor - 0.5
                fig.add_shape(type="line", x0=pos, x1=pos, y0=-0.5, y1=pooled.shape[0] - 0.5,
                              line=dict(color="#00A0FF", width=1))
                fig.add_shape(type="line", y0=pos, y1=pos, x0=-0.5, x1=pooled.shape[1] - 0.5,
                              line=dict(color="#00A0FF", width=1))
    axis = dict(tickmode="array", tickvals=ticks, ticktext=labels, showgrid=False, zeroline=False)
    fig.update_xaxes(**axis, side="top")
    fig.update_yaxes(**axis, autorange="reversed", scaleanchor="x")
    return _layout(fig, title=title, height=height)


def scatter_figure(coords: np.ndarray, *, colour_by: np.ndarray, colour_kind: str = "category",
                   ids: np.ndarray | None = None, hover: Mapping[str, np.ndarray] | None = None,
                   names: Sequence[str] | None = None, title: str | None = None, height: int = 560,
                   legend_title: str = "") -> go.Figure:
    """A 2-D scatter (UMAP) coloured by a category (one trace per value) or a continuous value.

    ``ids`` go into customdata[0] (the selection reports them); ``hover`` adds named columns to
    the tooltip. WebGL (Scattergl) keeps thousands of points responsive.
    """
    xy = np.asarray(coords, dtype=np.float32)
    n = xy.shape[0]
    ids = np.arange(n) if ids is None else np.asarray(ids)
    hover = dict(hover or {})
    cols = [ids] + [np.asarray(v) for v in hover.values()]
    custom = np.stack([np.asarray(c, dtype=object) for c in cols], axis=1) if n else np.empty((0, len(cols)))
    lines = ["point %{customdata[0]}"] + [f"{k}: %{{customdata[{j + 1}]}}" for j, k in enumerate(hover)]
    template = "<br>".join(lines) + "<extra></extra>"
    fig = go.Figure()
    if colour_kind == "category":
        values = np.asarray(colour_by)
        for v in np.unique(values):
            mask = values == v
            label = names[int(v)] if names is not None and 0 <= int(v) < len(names) else str(v)
            fig.add_trace(go.Scattergl(x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=label,
                                       marker=dict(size=6, color=colour(int(v)), opacity=0.85),
                                       customdata=custom[mask], hovertemplate=template))
    else:
        fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", name="",
                                   marker=dict(size=6, color=np.asarray(colour_by, dtype=np.float64),
                                               colorscale="Viridis", cmin=0, cmax=1, showscale=True,
                                               colorbar=dict(title=legend_title)),
                                   customdata=custom, hovertemplate=template))
    fig.update_xaxes(showticklabels=False, title="UMAP 1")
    fig.update_yaxes(showticklabels=False, title="UMAP 2")
    return _layout(fig, title=title, height=height, legend=dict(title=legend_title, itemsizing="constant"),
                   dragmode="lasso")


EMBEDDING_COLOURS = {"label": "true label", "cluster": "predicted cluster", "confidence": "confidence"}


def embedding_figure(coords: np.ndarray, *, pred: np.ndarray, confidence: np.ndarray, ids: np.ndarray,
                     labels: np.ndarray | None = None, class_names: Sequence[str] | None = None,
                     colour_by: str = "cluster", title: str | None = None, height: int = 560) -> go.Figure:
    """A 2-D layout (UMAP) of an embedding coloured by ``colour_by`` (a key of EMBEDDING_COLOURS).

    The tooltip shows each point's id, true label (when ``labels`` are given), cluster and
    confidence (its largest class probability).
    """
    if colour_by not in EMBEDDING_COLOURS or (colour_by == "label" and labels is None):
        allowed = [k for k in EMBEDDING_COLOURS if k != "label" or labels is not None]
        raise ValueError(f"colour_by must be one of {allowed}, got {colour_by!r}")
    hover: dict[str, np.ndarray] = {}
    if labels is not None:
        hover["label"] = np.array([display_name(v, class_names) for v in labels], dtype=object)
    hover["cluster"] = np.asarray(pred)
    hover["confidence"] = np.array([f"{c:.0%}" for c in confidence], dtype=object)
    if colour_by == "label":
        values, kind, names = labels, "category", class_names
    elif colour_by == "confidence":
        values, kind, names = confidence, "continuous", None
    else:
        values, kind, names = pred, "category", None
    return scatter_figure(coords, colour_by=values, colour_kind=kind, ids=ids, hover=hover, names=names,
                          legend_title=EMBEDDING_COLOURS[colour_by].replace("predicted ", ""), title=title,
                          height=height)


def energy_heatmap(energy: np.ndarray, clusters: np.ndarray, *, max_rows: int = 600, height: int = 480,
                   title: str | None = None) -> go.Figure:
    """Points (sorted by cluster, then by how much energy lies in their own block) × K blocks."""
    e = np.asarray(energy, dtype=np.float32)
    c = np.asarray(clusters)
    own = e[np.arange(len(c)), c] if len(c) else np.zeros(0)
    order = np.lexsort((-own, c))
    if len(order) > max_rows:  # an even thinning keeps every cluster's share of rows
        order = order[np.linspace(0, len(order) - 1, max_rows).round().astype(int)]
    z = e[order]
    fig = go.Figure(go.Heatmap(z=np.round(z, 3), x=[f"block {k}" for k in range(e.shape[1])],
                               y=np.arange(len(order)), customdata=np.stack([order, c[order]], axis=1),
                               colorscale="Magma", reversescale=True, zmin=0, zmax=1,
                               colorbar=dict(title="share"),
                               hovertemplate="sample point %{customdata[0]} (cluster %{customdata[1]})"
                                             "<br>%{x}: %{z:.1%}<extra></extra>"))
    for _, start, stop in group_runs(c[order])[1:]:
        fig.add_hline(y=start - 0.5, line=dict(color="#00A0FF", width=1))
    fig.update_yaxes(autorange="reversed", showticklabels=False, title="points, sorted by cluster")
    return _layout(fig, title=title, height=height)


def energy_scatter(energy: np.ndarray, clusters: np.ndarray, *, ids: np.ndarray | None = None,
                   height: int = 480, title: str | None = None) -> go.Figure:
    """Largest vs second-largest block share per point: points near the diagonal sit between two subspaces."""
    first, second, b1, b2 = top_two(energy)
    ids = np.arange(len(first)) if ids is None else np.asarray(ids)
    c = np.asarray(clusters)
    fig = go.Figure()
    for k in np.unique(c):
        m = c == k
        fig.add_trace(go.Scattergl(
            x=first[m], y=second[m], mode="markers", name=f"cluster {k}",
            marker=dict(size=6, color=colour(int(k)), opacity=0.8),
            customdata=np.stack([ids[m], b1[m], b2[m]], axis=1),
            hovertemplate="point %{customdata[0]}<br>block %{customdata[1]}: %{x:.1%}"
                          "<br>block %{customdata[2]}: %{y:.1%}<extra></extra>"))
    if len(first):
        lo, hi = float(second.min()), float(first.max())
        end = min(hi, 0.5)
        fig.add_shape(type="line", x0=lo, y0=lo, x1=end, y1=end, line=dict(color="#999999", dash="dot"))
        fig.add_annotation(x=min(hi, 0.5), y=min(hi, 0.5), text="equal shares", showarrow=False, xanchor="left",
                           font=dict(size=11, color="#777777"))
    fig.update_xaxes(title="share in the strongest block", tickformat=".0%")
    fig.update_yaxes(title="share in the second block", tickformat=".0%")
    return _layout(fig, title=title, height=height, legend=dict(itemsizing="constant"))


def bar_figure(values: Sequence[float] | np.ndarray, labels: Sequence[str], *, title: str | None = None,
               y_title: str = "", percent: bool = False, highlight: int | None = None, height: int = 320) -> go.Figure:
    """A plain bar chart (cluster sizes, class probabilities); ``highlight`` colours one bar."""
    v = np.asarray(values, dtype=np.float64)
    colours = ["#0072B2" if i != highlight else "#D55E00" for i in range(len(v))]
    text = [(f"{x:.0%}" if x >= 0.005 else "") if percent else f"{x:,.0f}" for x in v]
    fig = go.Figure(go.Bar(x=list(labels), y=v, marker_color=colours, text=text, textposition="outside",
                           cliponaxis=False, hovertemplate="%{x}: %{text}<extra></extra>"))
    fig.update_yaxes(title=y_title, tickformat=".0%" if percent else None, range=[0, 1.1] if percent else None)
    fig.update_xaxes(type="category")
    return _layout(fig, title=title, height=height)


def confusion_figure(table: np.ndarray, classes: Sequence[Any], clusters: Sequence[Any], *,
                     class_names: Sequence[str] | None = None, height: int = 480,
                     title: str | None = None) -> go.Figure:
    """Counts of true classes (rows) × predicted clusters (columns) with the counts written in."""
    t = np.asarray(table)
    rows = [class_names[int(c)] if class_names is not None and 0 <= int(c) < len(class_names) else str(c)
            for c in classes]
    cols = [f"c{k}" for k in clusters]
    fig = go.Figure(go.Heatmap(z=t, x=cols, y=rows, colorscale="Blues", text=t, texttemplate="%{text}",
                               hovertemplate="class %{y}, cluster %{x}: %{z}<extra></extra>", showscale=False))
    fig.update_xaxes(title=dict(text="predicted cluster", standoff=4), type="category", side="bottom")
    fig.update_yaxes(title="true class", type="category", autorange="reversed")
    return _layout(fig, title=title, height=height)


# --------------------------------------------------------------------------------- how many subspaces
ZERO_EIGENVALUE = 1e-10       # below this a Laplacian eigenvalue counts as zero (as sscn_core.cluster_count floors it)
CHOSEN_COLOUR, DATA_COLOUR, REFERENCE_COLOUR = "#D55E00", "#0072B2", "#999999"


def _count_arrays(count: Mapping[str, Any]) -> tuple[int, list[int], np.ndarray, np.ndarray, np.ndarray]:
    """K kept, the candidates, the scores and the two spectra of a count (lists from a checkpoint, or arrays)."""
    k = int(count["value"])
    candidates = [int(c) for c in count["candidates"]]
    scores = np.asarray(count["scores"], dtype=np.float64).reshape(-1)
    if len(scores) != len(candidates):
        raise ValueError(f"a count needs one score per candidate K: {len(candidates)} candidates, {len(scores)} scores")
    if k not in candidates:
        raise ValueError(f"the K kept ({k}) is not among the candidates {candidates[0]}…{candidates[-1]}")
    mu, null = (np.asarray(count.get(key) if count.get(key) is not None else [], dtype=np.float64).reshape(-1)
                for key in ("eigenvalues", "null_eigenvalues"))
    return k, candidates, scores, mu, null


def _times(factor: float) -> str:
    """A factor in words for a caption: 1.03, 21.4, 1,250; beyond 10,000 (a ratio over an eigenvalue of zero,
    capped by the floor of the computation) "more than 10,000"."""
    if not np.isfinite(factor) or factor >= 1e4:
        return "more than 10,000"
    return f"{factor:,.0f}" if factor >= 100 else f"{factor:.3g}"


def runner_up(count: Mapping[str, Any]) -> tuple[int, float] | None:
    """The best-scoring other candidate the rule could have kept (:func:`sscn_core.cluster_count.rivals`) and its
    factor over the reference, or None when there is none."""
    _count_arrays(count)
    return rivals(count)["runner_up"]


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st…"""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def cluster_count_caption(count: Mapping[str, Any]) -> str:
    """One or two sentences saying what :func:`cluster_count_figure` shows for a count of
    ``SSCN(n_clusters="auto")`` (``model.cluster_count_``).

    Parameters
    ----------
    count : Mapping
        The fit's ``cluster_count_`` (from :func:`sscn_core.cluster_count.count_for_frontends`), as the model holds it
        or as a checkpoint gives it back (lists).

    Returns
    -------
    str
        The K kept and by how much its graph's gap beats the structureless reference's, with the runner-up; or, when
        the data show no cluster structure, that warning and the K the fit used all the same.
    """
    k, candidates, scores, mu, _ = _count_arrays(count)
    factor = float(count.get("factor", np.exp(scores[candidates.index(k)])))
    second = runner_up(count)
    if not bool(count.get("structure", True)):
        return (f"No cluster structure found: no K splits this data's graph clearly more than it splits structureless "
                f"data of the same spread (the best, K = {k}, beats it only {_times(factor)}×; at least "
                f"{COUNT_NULL_FACTOR:g}× is needed). The fit used K = {k} all the same: give K yourself if you know it.")
    if (len(mu) >= k and mu[k - 1] <= ZERO_EIGENVALUE) or factor >= EXACT_FACTOR:
        first = (f"K = {k}: the first {k} eigenvalues are zero, so the graph falls apart into exactly {k} separate "
                 f"groups, which structureless data does not do.")
    else:
        first = (f"K = {k}: the eigenvalues jump after the {_ordinal(k)}, a gap {_times(factor)}× as large as structureless "
                 f"data of the same spread shows there.")
    if second is None:
        return first
    if second[1] >= EXACT_FACTOR:
        return first + (f" K = {second[0]} splits exactly too, into coarser groups (unions of these): the finest "
                        f"exact split is kept.")
    first += f" The runner-up, K = {second[0]}, beats its reference only {_times(second[1])}×."
    over = rivals(count)["unconfirmed"]
    if over is not None:
        first += (f" K = {over[0]} scored higher ({_times(over[1])}×), but the graph built for K = {over[0]} puts its "
                  f"own largest gap at another K, so it does not confirm itself and is passed over.")
    return first


def cluster_count_figure(count: Mapping[str, Any], *, height: int = 420, title: str | None = None) -> go.Figure:
    """Why ``n_clusters="auto"`` kept its K: the eigenvalue gap of the kept K's graph, and each candidate's score.

    Parameters
    ----------
    count : Mapping
        ``model.cluster_count_`` of a fit with ``n_clusters="auto"``: "value" (K kept), "candidates", "scores" (one per
        candidate), "eigenvalues" and "null_eigenvalues" (ascending μ₁, μ₂, … of the kept K's graph and of the
        structureless reference's), "structure"; "ratios" and "null_ratios" go into the hover text when present.
        Lists (as a checkpoint gives them back) or arrays.
    height : int
        Height in pixels.
    title : str, optional
        Replaces the default title ("How many subspaces? K = …", or "… no cluster structure found …").

    Returns
    -------
    plotly.graph_objects.Figure
        Left: the eigenvalues of the kept K's graph (markers and line; the first K in the highlight colour) with the
        reference's beside them (faint, dotted); the gap between μ_K and μ_{K+1} shaded and annotated "gap → K = …".
        Right: the score of every candidate K (bars), the kept K highlighted, its neighbours K−1 and K+1 labelled with
        their scores, and the level the best score must reach (the reference beaten by ``COUNT_NULL_FACTOR``).

    Raises
    ------
    ValueError
        When the scores do not match the candidates or the K kept is not a candidate.
    """
    k, candidates, scores, mu, null = _count_arrays(count)
    structure = bool(count.get("structure", True))
    if title is None:
        title = (f"How many subspaces? K = {k}" if structure
                 else f"How many subspaces? No cluster structure found (the fit used K = {k})")
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, column_widths=[0.5, 0.5],
                        subplot_titles=(f"Smallest eigenvalues μ of the graph's Laplacian (K = {k}'s graph)",
                                        "Score of each K: its gap against the reference's"))
    if len(null):
        fig.add_trace(go.Scatter(x=np.arange(1, len(null) + 1), y=null, mode="lines+markers",
                                 name="structureless reference (same spread)", opacity=0.55,
                                 line=dict(color=REFERENCE_COLOUR, width=1.5, dash="dot"), marker=dict(size=5),
                                 hovertemplate="reference μ%{x}: %{y:.3g}<extra></extra>"), row=1, col=1)
    if len(mu):
        index = np.arange(1, len(mu) + 1)
        fig.add_trace(go.Scatter(x=index, y=mu, mode="lines+markers", name="this data's graph",
                                 line=dict(color=DATA_COLOUR, width=2.5), marker=dict(size=7),
                                 hovertemplate="μ%{x}: %{y:.3g}<extra></extra>"), row=1, col=1)
        first = index <= k
        fig.add_trace(go.Scatter(x=index[first], y=mu[first], mode="markers", marker=dict(size=10, color=CHOSEN_COLOUR),
                                 name=f"μ<sub>1</sub> … μ<sub>{k}</sub>: all small when the graph has {k} groups",
                                 hovertemplate="μ%{x}: %{y:.3g}<extra></extra>"), row=1, col=1)
    if len(mu) > k:
        fig.add_vrect(x0=k, x1=k + 1, line_width=0, fillcolor=CHOSEN_COLOUR, opacity=0.15, row=1, col=1)
        if mu[k] > mu[k - 1]:
            fig.add_annotation(x=k + 0.5, y=mu[k], ax=k + 0.5, ay=mu[k - 1], xref="x", yref="y", axref="x", ayref="y",
                               text="", showarrow=True, arrowhead=2, arrowwidth=2, arrowcolor=CHOSEN_COLOUR)
        top = float(max(mu.max(), null.max() if len(null) else 0.0))
        fig.add_annotation(x=k + 0.5, y=top, xref="x", yref="y", text=f"gap → K = {k}", showarrow=False,
                           yanchor="bottom", font=dict(color=CHOSEN_COLOUR, size=13))
    n_values = max(len(mu), len(null), k + 1)
    fig.update_xaxes(title="i (μ₁ ≤ μ₂ ≤ …)", row=1, col=1, range=[0.5, n_values + 0.5],
                     dtick=1 if n_values <= 20 else None)
    fig.update_yaxes(title="eigenvalue μᵢ", row=1, col=1, rangemode="tozero")

    ratios, null_ratios = count.get("ratios"), count.get("null_ratios")
    custom = (np.stack([np.exp(scores), np.asarray(ratios, dtype=np.float64), np.asarray(null_ratios, dtype=np.float64)],
                       axis=1) if ratios is not None and null_ratios is not None and len(ratios) == len(candidates)
                                 and len(null_ratios) == len(candidates) else np.exp(scores)[:, None])
    hover = "K = %{x}: score %{y:.3f} (%{customdata[0]:.3g}× the reference)"
    if custom.shape[1] == 3:
        hover += "<br>μ<sub>K+1</sub>/μ<sub>K</sub>: %{customdata[1]:.3g} here, %{customdata[2]:.3g} for the reference"
    neighbours = (k - 1, k, k + 1)
    fig.add_trace(go.Bar(x=candidates, y=scores, name="score",
                         marker_color=[CHOSEN_COLOUR if c == k else DATA_COLOUR for c in candidates],
                         marker_opacity=[1.0 if c in neighbours else 0.45 for c in candidates], customdata=custom,
                         hovertemplate=hover + "<extra></extra>", showlegend=False), row=1, col=2)
    # The kept K and its neighbours, labelled with their scores: how clearly K beats K−1 and K+1. Annotations (not
    # bar text, which shrinks to a narrow bar's width) pointing from above left, above and above right.
    for c, name, shift in ((k - 1, "K−1", -25), (k, "K", 0), (k + 1, "K+1", 25)):
        if c not in candidates:
            continue
        score = float(scores[candidates.index(c)])
        fig.add_annotation(x=c, y=max(score, 0.0), xref="x2", yref="y2", ax=shift, ay=-30 if c == k else -60,
                           text=f"{name} = {c}: {score:+.2f}", showarrow=True, arrowhead=0, arrowwidth=1,
                           arrowcolor="#777777", font=dict(size=12, color=CHOSEN_COLOUR if c == k else "#333333"),
                           bgcolor="rgba(255,255,255,0.8)")
    fig.add_hline(y=float(np.log(COUNT_NULL_FACTOR)), line=dict(color="#555555", width=1, dash="dash"), row=1, col=2,
                  annotation_text=f"{COUNT_NULL_FACTOR:g}× the reference", annotation_position="top left",
                  annotation_font=dict(size=11, color="#555555"))
    fig.update_xaxes(title="K (candidates)", row=1, col=2, range=[candidates[0] - 0.6, candidates[-1] + 0.6],
                     dtick=1 if len(candidates) <= 20 else None)
    fig.update_yaxes(title="score: log(ratio ÷ reference's)", row=1, col=2, zeroline=True)
    for heading in fig.layout.annotations[:2]:      # the two panels' titles (make_subplots writes them first)
        heading.font = dict(size=13)
    return _layout(fig, title=title, height=height, legend=dict(orientation="h", y=-0.22), bargap=0.25)
