"""Embeddings tab: UMAP of H and of the rotated HR, selectable; each point's energy per block."""
from __future__ import annotations

import numpy as np
import streamlit as st

from sscn_core.analysis import Analysis
from sscn_core.viz import figures

from ..state import AppState
from .common import (Current, follow_job_state, label_name, live_fragment, refreshed, sample_images,
                     show_nothing)

SPACES = {"h": "H", "rotated": "HR (rotated)"}
SPACE_TITLES = {"h": "H, the self-expression embedding", "rotated": "HR, H rotated into K blocks"}
MAX_SHOWN = 40


def render(state: AppState, cur: Current) -> None:
    """Draw the Embeddings tab."""
    st.markdown("Each dot is a training point, placed by **UMAP** from its row of H (or of HR). Points of one "
                "subspace should gather. Draw a box or lasso to see the images you selected.")
    c1, c2, c3 = st.columns([3, 2, 2])
    space = c1.radio("Space", list(SPACES), format_func=SPACES.get, horizontal=True, key="emb.space")
    labelled = cur.train is not None and cur.train.y is not None
    colours = list(figures.EMBEDDING_COLOURS) if labelled else ["cluster", "confidence"]
    colour_by = c2.selectbox("Colour by", colours, format_func=figures.EMBEDDING_COLOURS.get, key="emb.colour")
    metric = c3.selectbox("UMAP metric", ["cosine", "euclidean"], key="emb.metric",
                          help="Cosine compares directions, which is what subspaces share.")
    runner = state.umap

    def scatter() -> None:
        follow_job_state(state)
        now = refreshed(state, cur)
        if show_nothing(now):
            return
        a = now.analysis
        slot = (now.slot, space, metric)
        runner.request(slot, now.version, a.h if space == "h" else a.rotated, metric)
        if runner.warmup_error is not None:
            st.error(f"UMAP is not available: {runner.warmup_error.type}: {runner.warmup_error.message}")
            return
        layout = runner.get(slot)
        if layout is None:
            if not runner.warm:
                st.info("UMAP is warming up… (it compiles once per server start, about a minute on a small CPU)")
            elif runner.error(slot) is not None:
                err = runner.error(slot)
                st.error(f"UMAP failed: {err.type}: {err.message}")
            else:
                st.info(f"Computing the UMAP layout of {len(a.embed_rows):,} points…")
            return
        _scatter(now, a, layout.coords, colour_by, space)
        pending = layout.version < now.version or runner.busy(slot)
        note = f"Layout of snapshot {layout.version} in {layout.seconds:.1f} s"
        st.caption(note + ("; a newer one is being computed." if pending else "."))
        if polling and not pending and not now.live:
            st.rerun()   # the layout is final: a full rerun turns the polling off

    slot_now = (cur.slot, space, metric)
    have = runner.get(slot_now)
    behind = cur.analysis is not None and runner.error(slot_now) is None and (have is None or have.version < cur.version)
    polling = cur.live or not runner.warm or runner.busy(slot_now) or behind
    live_fragment(2.0 if polling else None, scatter)

    st.subheader("Which subspace does a point fall into?")
    st.markdown("The classifier rotates H so that each cluster owns a block of q coordinates of HR. For each "
                "point: the share of its energy ‖HR‖² inside each block. A clean point has one dark cell; "
                "a point between two subspaces splits its energy.")

    def energy() -> None:
        follow_job_state(state)
        now = refreshed(state, cur)
        if show_nothing(now):
            return
        a = now.analysis
        if not a.classifier_trained:
            st.caption("R is still the identity (the classifier has not been trained yet): the blocks are "
                       "the raw coordinates of H.")
        left, right = st.columns(2)
        left.plotly_chart(figures.energy_heatmap(a.energy, a.pred, title="Energy per block (rows: points)"),
                          key="emb.energy")
        right.plotly_chart(figures.energy_scatter(a.energy, a.pred, ids=a.embed_rows,
                                                  title="Strongest vs second block"), key="emb.top2")

    live_fragment(3.0 if cur.live else None, energy)


def _scatter(cur: Current, a: Analysis, coords: np.ndarray, colour_by: str, space: str) -> None:
    labels = cur.train.y[a.embed_rows] if cur.train.y is not None else None
    plot, shown = st.columns([3, 2])
    with plot:
        fig = figures.embedding_figure(coords, pred=a.pred, confidence=a.confidence, ids=a.embed_rows, labels=labels,
                                       class_names=cur.class_names, colour_by=colour_by,
                                       title=f"UMAP of {SPACE_TITLES[space]}")
        event = st.plotly_chart(fig, key="emb.scatter", on_select="rerun", selection_mode=("box", "lasso"),
                                config={"displaylogo": False})
    with shown:
        points = event.selection.points if event is not None and event.selection else []
        rows = np.array([int(p["customdata"][0]) for p in points if p.get("customdata")], dtype=np.int64)
        _selected(cur, a, rows)


def _selected(cur: Current, a: Analysis, rows: np.ndarray) -> None:
    if rows.size == 0:
        st.caption("Select points (box or lasso) to see them here.")
        return
    train = cur.train
    pred = a.train_pred[rows]
    st.markdown(f"**{rows.size:,} selected** · clusters: "
                + ", ".join(f"c{k} ({n})" for k, n in zip(*np.unique(pred, return_counts=True))))
    shown = rows[:MAX_SHOWN]
    if train.y is not None:
        st.caption("Under each image: its true label / its cluster.")
        captions = [f"{label_name(train.y[r], cur.class_names)} / c{a.train_pred[r]}" for r in shown]
    else:
        captions = [f"c{a.train_pred[r]}" for r in shown]
    images = sample_images(train, shown)
    if images:
        st.image(images, caption=captions, width=64, clamp=True)
    else:
        st.dataframe({"point": shown, "cluster": a.train_pred[shown],
                      **({"label": train.y[shown]} if train.y is not None else {})}, hide_index=True)
    if rows.size > MAX_SHOWN:
        st.caption(f"The first {MAX_SHOWN} of {rows.size:,} are shown.")
