"""Figures of the self-expression family comparison (Learn and Diagnostics tabs): arrays in, plotly figures out.

No Streamlit, no model. Shared helpers come from :mod:`~sscn_core.viz.figures` and :mod:`~sscn_core.viz.subspaces`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import colour, group_runs, pool_mean
from .subspaces import _group_lines, _layout, sort_by_group

GRID_MAX_SIDE = 150   # cells per side of each panel sent to the browser (larger matrices are average-pooled)
# Magma from light (0) to dark (1), written out: inside Streamlit, ``colorscale="Magma", reversescale=True``
# drew the top of the scale light purple instead of black (seen in Chromium; a stand-alone HTML export was right).
SCALE = [[0.0, "#fcfdbf"], [0.2, "#feca8d"], [0.4, "#f1605d"], [0.6, "#9e2f7f"], [0.8, "#440f76"], [1.0, "#180f3d"]]


def coefficient_grid(matrices: Sequence[np.ndarray], labels: np.ndarray, titles: Sequence[str], *,
                     names: Sequence[str] | None = None, max_side: int = GRID_MAX_SIDE, width: int = 760,
                     title: str | None = None) -> go.Figure:
    """|C| of several methods side by side, points sorted by ``labels`` (true subspace), block lines drawn.

    Each panel is divided by its own 99th percentile of |C| and clipped at 1, so that matrices of
    very different scales (dense ℓ2, sparse ℓ1) show their structure on one colour bar. ``names``
    label the groups (default: the label values). Up to three panels share a row, four or more
    take two rows, so that a sparse matrix's few entries stay visible; the height follows from
    the expected plotting ``width`` in pixels.
    """
    lab = np.asarray(labels)
    if len(matrices) != len(titles) or not matrices:
        raise ValueError(f"expected one title per matrix and at least one matrix; got {len(matrices)} matrices and "
                         f"{len(titles)} titles")
    order = sort_by_group(lab)
    runs = group_runs(lab[order])
    text = [str(v) for v, _, _ in runs] if names is None else [str(n) for n in names]
    n_cols = len(matrices) if len(matrices) <= 3 else (len(matrices) + 1) // 2
    n_rows = -(-len(matrices) // n_cols)
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=list(titles), horizontal_spacing=0.04,
                        vertical_spacing=0.12 if n_rows > 1 else 0.0)
    for i, m in enumerate(matrices, start=1):
        row, col = (i - 1) // n_cols + 1, (i - 1) % n_cols + 1
        q = np.abs(np.asarray(m, dtype=np.float64))
        if q.shape != (lab.size, lab.size):
            raise ValueError(f"matrix {i} has shape {q.shape}; expected ({lab.size}, {lab.size}) for the labels")
        top = float(np.percentile(q, 99)) or float(q.max()) or 1.0
        pooled, factor = pool_mean(np.minimum(q[np.ix_(order, order)] / top, 1.0), max_side)
        hover = "row %{y}, column %{x}<br>|C| / scale = %{z:.2f}<extra></extra>" if factor == 1 else \
            f"pooled {factor}×{factor} cells<br>mean |C| / scale = %{{z:.2f}}<extra></extra>"
        fig.add_trace(go.Heatmap(z=pooled, zmin=0.0, zmax=1.0, colorscale=SCALE,
                                 showscale=i == 1, colorbar=dict(title="|C| (own scale)", thickness=12),
                                 hovertemplate=hover), row=row, col=col)
        ticks = _group_lines(fig, lab[order], factor, pooled.shape[0], row=row, col=col)
        axis = dict(tickmode="array", tickvals=ticks, ticktext=text, showgrid=False, zeroline=False)
        fig.update_xaxes(**axis, side="top", row=row, col=col)
        anchor = "x" if i == 1 else f"x{i}"
        fig.update_yaxes(**axis, autorange="reversed", scaleanchor=anchor, showticklabels=col == 1, row=row, col=col)
    panel = width / n_cols
    fig = _layout(fig, title=title, height=int(n_rows * (panel + 40) + 60))
    fig.update_annotations(yshift=22)                          # subplot titles above the top tick labels
    fig.update_layout(margin=dict(t=100 if title else 75))
    return fig


def family_summary(methods: Sequence[str], sp_errors: Sequence[float], algebraic: Sequence[np.ndarray],
                   components: Sequence[np.ndarray], *, names: Sequence[str] | None = None, height: int = 360,
                   title: str | None = None) -> go.Figure:
    """Left: each method's off-subspace share of |C|. Right: the algebraic connectivity of each true block.

    A block split into several connected components has algebraic connectivity 0; its bar is
    replaced by the number of parts, written above the axis.
    """
    if not (len(methods) == len(sp_errors) == len(algebraic) == len(components)):
        raise ValueError("methods, sp_errors, algebraic and components must have one entry per method")
    n_blocks = len(algebraic[0]) if algebraic else 0
    blocks = [str(n) for n in names] if names is not None else [str(b) for b in range(n_blocks)]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.35, 0.65], horizontal_spacing=0.12,
                        subplot_titles=["off-subspace share of |C| (lower is better)",
                                        "algebraic connectivity of each block (0 = split)"])
    fig.add_trace(go.Bar(x=list(methods), y=[100 * float(e) for e in sp_errors], marker_color="#555555",
                         text=[f"{100 * float(e):.1f} %" for e in sp_errors], textposition="outside",
                         hovertemplate="%{x}: %{y:.2f} % of |C| links different subspaces<extra></extra>",
                         showlegend=False), row=1, col=1)
    top = max([float(np.nanmax(a)) for a in algebraic if np.isfinite(a).any()] + [1e-9])
    for b, block in enumerate(blocks):
        values = [float(a[b]) for a in algebraic]
        parts = [int(c[b]) for c in components]
        fig.add_trace(go.Bar(x=list(methods), y=values, name=f"block {block}", marker_color=colour(b),
                             text=[f"{p} parts" if p > 1 else "" for p in parts], textposition="outside",
                             customdata=parts,
                             hovertemplate=f"block {block}, %{{x}}<br>λ₂ = %{{y:.3f}}, %{{customdata}} connected "
                                           "component(s)<extra></extra>"), row=1, col=2)
    fig.update_yaxes(title="% of |C|", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title="λ₂ of the normalised Laplacian", range=[0, top * 1.25], row=1, col=2)
    fig.update_layout(barmode="group", legend=dict(title="true block", orientation="h", y=-0.15),
                      uniformtext=dict(minsize=12, mode="show"))
    fig = _layout(fig, title=title, height=height)
    fig.update_layout(margin=dict(t=90 if title else 60))
    return fig


__all__ = ["coefficient_grid", "family_summary"]
