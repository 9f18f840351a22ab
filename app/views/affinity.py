"""Affinity tab: |Q| on a sample, sorted so that a subspace-preserving Q shows K diagonal blocks."""
from __future__ import annotations

import streamlit as st

from sscn_core.viz import figures

from ..state import AppState
from .common import (Current, follow_job_state, live_fragment, refresh_interval, refreshed, show_nothing,
                     snapshot_label)


def render(state: AppState, cur: Current) -> None:
    """Draw the Affinity tab."""
    st.markdown("Entry (i, j) of **|Q|** says how much point j helps to express point i. When Q is "
                "*subspace-preserving*, points only use points of their own subspace: sorted by class, "
                "the matrix shows dark blocks on the diagonal and stays pale elsewhere.")
    c1, c2 = st.columns([2, 3])
    thresholded = c1.toggle("Thresholded (ρ)", key="aff.thr",
                            help="Keep in each column only the largest entries that make up a share ρ of its "
                                 "mass, as the post-processing does before spectral clustering.")
    side = c2.select_slider("Resolution (pixels per side)", options=[250, 400, 500, 800], value=500, key="aff.side",
                            help="The matrix is average-pooled to this size so that it redraws quickly.")

    def body() -> None:
        follow_job_state(state)
        now = refreshed(state, cur)
        if show_nothing(now):
            return
        a = now.analysis
        n = a.affinity_abs.shape[0]
        matrix = a.affinity_thr if thresholded else a.affinity_abs
        error = a.sp_error_thr if thresholded else a.sp_error
        left, right = st.columns([4, 1])
        with right:
            if error is not None:
                st.markdown("**Subspace-preserving error**",
                            help="Share of the off-diagonal |Q| mass that links points of different true classes "
                                 "(0 % = perfectly block-diagonal).")
                st.metric("thresholded Q" if thresholded else "raw Q", f"{error:.1%}")
                other = a.sp_error if thresholded else a.sp_error_thr
                st.caption(f"{'Raw' if thresholded else 'Thresholded'} Q: {other:.1%}")
            else:
                st.caption("No true labels: the subspace-preserving error needs them.")
            order = ("true label, then predicted cluster" if a.affinity_sorted_by == "label"
                     else "predicted cluster")
            st.caption(f"{n:,} points, sorted by {order}. "
                       f"Snapshot taken {snapshot_label(a)}.")
        with left:
            names = now.class_names if a.affinity_sorted_by == "label" else None
            title = f"|Q|{' after thresholding (ρ)' if thresholded else ''}, {n:,} points"
            st.plotly_chart(figures.affinity_figure(matrix, a.affinity_groups, group_names=names, max_side=side,
                                                    title=title),
                            key="aff.chart", config={"displaylogo": False})

    live_fragment(refresh_interval(cur, 2.0), body)
