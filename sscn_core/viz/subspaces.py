"""Figures about subspaces (the explorer's Learn and Diagnostics tabs): arrays in, plotly figures out.

|Q| against the closed form Q*, the error curve of Theorem 1, dimensions against the rank of
the union, spectra, principal angles and leakage. No Streamlit, no model. Shared helpers
(palette, pooling) come from :mod:`sscn_core.viz.figures`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .figures import FONT, colour, group_runs, pool_mean

HEATMAP_MAX_SIDE = 300   # cells per side sent to the browser (larger matrices are average-pooled)


def _layout(fig: go.Figure, *, title: str | None = None, height: int = 420, **kwargs: Any) -> go.Figure:
    """The explorer's common look (white template, readable font), with an optional title."""
    fig.update_layout(title=dict(text=title) if title else None, height=height, font=FONT,
                      margin=dict(l=60, r=20, t=60 if title else 30, b=50), template="plotly_white", **kwargs)
    return fig


def sort_by_group(labels: np.ndarray) -> np.ndarray:
    """Indices that sort points by label (stable, so the original order stays within a group)."""
    return np.argsort(np.asarray(labels), kind="stable")


def _group_lines(fig: go.Figure, groups: np.ndarray, factor: int, size: int, *, row: int | None = None,
                 col: int | None = None) -> list[float]:
    """Draw lines between groups (already sorted) and return the tick positions of the group centres."""
    ticks = []
    for _, start, stop in group_runs(groups):
        ticks.append((start + stop) / 2 / factor - 0.5)
        if start > 0:
            pos = start / factor - 0.5
            line = dict(color="#00A0FF", width=1)
            fig.add_shape(type="line", x0=pos, x1=pos, y0=-0.5, y1=size - 0.5, line=line, row=row, col=col)
            fig.add_shape(type="line", y0=pos, y1=pos, x0=-0.5, x1=size - 0.5, line=line, row=row, col=col)
    return ticks


def block_heatmap(Q: np.ndarray, labels: np.ndarray, *, title: str | None = None, zmax: float | None = None,
                  max_side: int = HEATMAP_MAX_SIDE, height: int = 430) -> go.Figure:
    """|Q| with points sorted by ``labels`` (true subspace), lines between the blocks, labels on the axes.

    ``zmax`` fixes the top of the colour scale (pass the same value to compare two matrices); by
    default the 99th percentile of |Q|. Matrices larger than ``max_side`` are average-pooled.
    """
    q = np.abs(np.asarray(Q, dtype=np.float64))
    lab = np.asarray(labels)
    if q.ndim != 2 or q.shape[0] != q.shape[1] or q.shape[0] != lab.shape[0]:
        raise ValueError(f"expected a square Q with one label per row; got Q {q.shape} and {lab.shape[0]} labels")
    order = sort_by_group(lab)
    pooled, factor = pool_mean(q[np.ix_(order, order)], max_side)
    top = float(np.percentile(q, 99)) if zmax is None else float(zmax)
    hover = "row %{y}, column %{x}<br>|Q| = %{z:.3g}<extra></extra>" if factor == 1 else \
        f"pooled {factor}×{factor} cells<br>mean |Q| = %{{z:.3g}}<extra></extra>"
    fig = go.Figure(go.Heatmap(z=pooled, zmin=0.0, zmax=top if top > 0 else 1.0, colorscale="Magma", reversescale=True,
                               colorbar=dict(title="|Q|", thickness=12), hovertemplate=hover))
    ticks = _group_lines(fig, lab[order], factor, pooled.shape[0])
    names = [str(v) for v, _, _ in group_runs(lab[order])]
    axis = dict(tickmode="array", tickvals=ticks, ticktext=names, showgrid=False, zeroline=False)
    fig.update_xaxes(**axis, side="top", title=None)
    fig.update_yaxes(**axis, autorange="reversed", scaleanchor="x", title="subspace")
    fig = _layout(fig, title=title, height=height)
    fig.update_layout(margin=dict(t=85 if title else 45))    # room for the title above the top tick labels
    return fig


def error_curve(steps: Sequence[int] | np.ndarray, errors: Sequence[float] | np.ndarray, *, target: float | None = 0.05,
                title: str | None = None, height: int = 330) -> go.Figure:
    """Relative error ‖Q − Q*‖/‖Q*‖ against the training step, on a log scale, with a reference line."""
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(errors, dtype=np.float64)
    fig = go.Figure(go.Scatter(x=x, y=np.where(y > 0, y, np.nan), mode="lines+markers" if x.size < 40 else "lines",
                               line=dict(color="#0072B2", width=2.5), name="‖Q − Q*‖ / ‖Q*‖",
                               hovertemplate="step %{x}<br>relative error %{y:.2%}<extra></extra>"))
    if target is not None:
        fig.add_hline(y=target, line=dict(color="#D55E00", dash="dot"),
                      annotation_text=f"{target:.0%}", annotation_position="top right")
    fig.update_xaxes(title="step (full batch: one step = one epoch)")
    fig.update_yaxes(title="relative error", type="log", exponentformat="power", dtick=1)
    return _layout(fig, title=title, height=height, showlegend=False)


def dims_vs_rank(dims: Sequence[int], union_rank: int, *, names: Sequence[str] | None = None,
                 title: str | None = None, height: int = 260) -> go.Figure:
    """Two bars: the dimensions of the subspaces stacked (Σ dim S_k) next to the rank of their union.

    Equal heights mean independent subspaces; the gap is the number of dependent dimensions.
    """
    fig = go.Figure()
    labels = [str(n) for n in names] if names is not None else [str(k) for k in range(len(dims))]
    for k, (d, name) in enumerate(zip(dims, labels)):
        fig.add_trace(go.Bar(x=[int(d)], y=["Σ dim S_k"], orientation="h", name=f"S_{name}",
                             marker=dict(color=colour(k), line=dict(color="white", width=1)),
                             hovertemplate=f"dim S_{name} = {int(d)}<extra></extra>", showlegend=False))
    fig.add_trace(go.Bar(x=[int(union_rank)], y=["rank of the union"], orientation="h", name="union",
                         marker_color="#555555", hovertemplate="rank of the union = %{x}<extra></extra>",
                         showlegend=False))
    total = int(sum(int(d) for d in dims))
    fig.add_annotation(x=total, y="Σ dim S_k", text=f" {total}", showarrow=False, xanchor="left")
    fig.add_annotation(x=int(union_rank), y="rank of the union", text=f" {int(union_rank)}", showarrow=False,
                       xanchor="left")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="dimensions", range=[0, max(total, int(union_rank), 1) * 1.12], dtick=max(1, total // 10))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title=title, height=height)


def spectra_figure(spectra: Sequence[np.ndarray], effective_dims: Sequence[int], *, names: Sequence[str] | None = None,
                   energy: float = 0.95, max_index: int | None = None, title: str | None = None,
                   height: int = 400) -> go.Figure:
    """Singular values of each cluster divided by its largest (log scale), a marker at its effective dimension."""
    fig = go.Figure()
    labels = [str(n) for n in names] if names is not None else [str(k) for k in range(len(spectra))]
    longest = max((len(s) for s in spectra), default=0)
    shown = longest if max_index is None else min(longest, int(max_index))
    for k, (s, d, name) in enumerate(zip(spectra, effective_dims, labels)):
        s = np.asarray(s, dtype=np.float64)[:shown]
        if s.size == 0 or s[0] <= 0:
            continue
        rel = np.where(s > 0, s / s[0], np.nan)
        idx = np.arange(1, s.size + 1)
        fig.add_trace(go.Scatter(x=idx, y=rel, mode="lines", name=f"{name} (d={int(d)})",
                                 line=dict(color=colour(k), width=2), legendgroup=name,
                                 hovertemplate=f"cluster {name}<br>σ_%{{x}} / σ_1 = %{{y:.3g}}<extra></extra>"))
        if 0 < d <= s.size:
            fig.add_trace(go.Scatter(x=[int(d)], y=[rel[int(d) - 1]], mode="markers", legendgroup=name,
                                     marker=dict(color=colour(k), size=10, symbol="diamond",
                                                 line=dict(color="white", width=1)), showlegend=False,
                                     hovertemplate=f"cluster {name}: {energy:.0%} of the energy in the first "
                                                   f"{int(d)} directions<extra></extra>"))
    fig.update_xaxes(title="index i of the singular value", type="log" if shown > 60 else "linear")
    fig.update_yaxes(title="σ_i / σ_1", type="log", exponentformat="power")
    return _layout(fig, title=title, height=height, legend=dict(title="cluster (effective dim)", itemsizing="constant"))


def _matrix_heatmap(m: np.ndarray, names: Sequence[str], *, text: np.ndarray, colorscale: str, zmin: float,
                    zmax: float, reverse: bool, hover: str, x_title: str, y_title: str, bar_title: str,
                    title: str | None, height: int) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=m, x=list(names), y=list(names), text=text, texttemplate="%{text}",
                               colorscale=colorscale, reversescale=reverse, zmin=zmin, zmax=zmax,
                               colorbar=dict(title=bar_title, thickness=12), hovertemplate=hover, hoverongaps=False))
    fig.update_xaxes(title=x_title, type="category", side="top")
    fig.update_yaxes(title=y_title, type="category", autorange="reversed", scaleanchor="x")
    fig = _layout(fig, title=title, height=height)
    fig.update_layout(margin=dict(t=110 if title else 70))   # room for the title above the top axis and its title
    return fig


def angle_heatmap(angles: np.ndarray, *, names: Sequence[str] | None = None, title: str | None = None,
                  height: int = 430) -> go.Figure:
    """K×K smallest principal angles in degrees: dark (small) cells are pairs of nearly intersecting subspaces."""
    a = np.asarray(angles, dtype=np.float64)
    k = a.shape[0]
    labels = [str(n) for n in names] if names is not None else [str(i) for i in range(k)]
    shown = a.copy()
    np.fill_diagonal(shown, np.nan)                              # the diagonal (0°) says nothing
    text = np.array([["" if (i == j or not np.isfinite(v)) else f"{v:.0f}°" if k <= 12 else ""
                      for j, v in enumerate(row)] for i, row in enumerate(a)])
    return _matrix_heatmap(shown, labels, text=text, colorscale="Viridis", zmin=0.0, zmax=90.0, reverse=False,
                           hover="clusters %{y} and %{x}: %{z:.1f}°<extra></extra>", x_title="cluster",
                           y_title="cluster", bar_title="degrees", title=title, height=height)


def leakage_heatmap(leakage: np.ndarray, *, names: Sequence[str] | None = None, title: str | None = None,
                    height: int = 430) -> go.Figure:
    """K×K share of each cluster's off-diagonal |Q| mass landing in each cluster (rows sum to 100 %)."""
    m = np.asarray(leakage, dtype=np.float64)
    k = m.shape[0]
    labels = [str(n) for n in names] if names is not None else [str(i) for i in range(k)]
    text = np.array([[f"{v:.0%}" if k <= 12 else "" for v in row] for row in m])
    return _matrix_heatmap(m, labels, text=text, colorscale="Blues", zmin=0.0, zmax=1.0, reverse=False,
                           hover="from %{y} to %{x}: %{z:.1%}<extra></extra>", x_title="to cluster",
                           y_title="from cluster", bar_title="share", title=title, height=height)
