"""Diagnostics tab: does this run's data — and the model's latent Z and embedding H — fit independent subspaces?

For a sample of the training data, grouped by the true labels (or, without them, by the model's
clusters): per-cluster singular value spectra and effective dimensions, the K×K smallest principal
angles and the independence ratio in each space, and the subspace-preserving error and leakage of
the learned Q = HHᵀ. The computations live in :mod:`sscn_core.spaces`; :func:`render` draws and
offers CSV / JSON / HTML downloads.
"""
from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from threadpoolctl import threadpool_limits

from sscn_core import SSCN, Dataset
from sscn_core.spaces import (PREDICTED, SPACE_TITLES, TRUE, SpaceSample, compute, export_json, export_zip, sample_key,
                              sample_spaces, summary_rows)
from sscn_core.theory import Diagnostics
from sscn_core.viz import figures
from sscn_core.viz import subspaces as figs
from sscn_core.viz.notebook import fitted_k

from . import family as fam

KEY = "diag."
STATE_KEY = "diag.sample"         # the last SpaceSample of this session
FAMILY_POINTS = 300               # points of the self-expression family's comparison (per-point solvers)


# ---------------------------------------------------------------------------------- page
def _figure(fig: go.Figure, key: str, caption: str) -> None:
    """A chart, one or two sentences on how to read it, and its HTML download (made only when clicked)."""
    st.plotly_chart(fig, key=KEY + key, config={"displaylogo": False})
    st.caption(caption)
    st.download_button("Figure as HTML", data=lambda: fig.to_html(include_plotlyjs=True, full_html=True),
                       file_name=f"{key}.html", mime="text/html", key=KEY + key + ".html", on_click="ignore",
                       icon=":material/download:", type="tertiary")


def _space_view(name: str, d: Diagnostics, names: list[str]) -> None:
    c = st.columns(4)
    c[0].metric("Σ effective dims", d.sum_dims, help=f"Sum over clusters of the number of directions holding "
                f"{d.energy:.0%} of the cluster's energy (Σ s²).")
    c[1].metric("rank of the union", d.union_rank, help="Dimension of everything the clusters' effective subspaces "
                f"span together: singular values of their stacked orthonormal bases above {d.rank_tol:g} (for two "
                "subspaces that treats directions within about 8° of each other as one).")
    c[2].metric("independence ratio", f"{d.independence_ratio:.2f}",
                help="Σ effective dims / rank of the union: 1.00 when the subspaces are independent; the larger, the "
                     "more the clusters share directions (up to K when they all coincide).")
    with c[3]:
        st.markdown("**Verdict**", help="From the effective subspaces of the clusters in this space: independent "
                    "when the rank of their union equals the sum of their dimensions.")
        colour = "green" if d.verdict == "independent" else "red"
        st.markdown(f":{colour}-badge[{d.verdict}]")
    left, right = st.columns(2)
    with left:
        _figure(figs.spectra_figure(d.spectra, d.effective_dims, names=names, energy=d.energy, max_index=200,
                                    title=f"Singular values per cluster in {name}"), f"spectra_{name}",
                "Each line is one cluster's singular values divided by its largest. A sharp drop after a few values "
                "means the cluster lies near a low-dimensional subspace; the diamond marks its effective dimension.")
    with right:
        _figure(figs.angle_heatmap(d.smallest_angles, names=names, title=f"Smallest principal angle between clusters "
                                                                         f"in {name}"), f"angles_{name}",
                "The smallest angle between the effective subspaces of two clusters. 0° means they share a direction "
                "(always the case when their dimensions add up to more than the space's); large angles are good.")


COUNT_READING = ("Left: the smallest eigenvalues of the graph the fit clusters (its Laplacian's); a graph made of K "
                 "separate groups has K of them near zero and then a jump, the gap. Faint: the same graph built from "
                 "structureless data with the same spread. Right: how much larger each K's gap is than the "
                 "reference's (log scale; above the dashed line it is at least twice as large).")


def cluster_count_section(model: SSCN) -> None:
    """How many subspaces: the evidence behind a K estimated from the data (``n_clusters="auto"``), or a note that K
    was given."""
    st.subheader("How many subspaces?")
    count = getattr(model, "cluster_count_", None)
    if count is None:
        st.caption(f"K = {fitted_k(model)} was given, so this fit did not estimate it. To let the data choose, switch "
                   "on **auto K** under K clusters in the sidebar and train again.")
        return
    caption = figures.cluster_count_caption(count)
    if not count.get("structure", True):
        st.warning(caption, icon="⚠️")
    else:
        st.markdown(caption)
    _figure(figures.cluster_count_figure(count), "cluster_count", COUNT_READING)


def render(dataset: Dataset | None, model: SSCN | None) -> None:
    """Draw the Diagnostics tab for a data set and a fitted model (or None)."""
    st.markdown("SSCN's guarantee needs the clusters to lie on **independent** subspaces. Here you can check "
                "whether they do — in the data X, in the auto-encoder's latent space Z and in SSCN's embedding H — "
                "and how much the learned Q = HHᵀ leaks between clusters.")
    if dataset is None:
        st.info("No data yet: choose a data set in the sidebar (and train or load a model).")
        return
    if model is not None and int(getattr(model, "n_features_in_", dataset.n_features)) != dataset.n_features:
        st.warning(f"The model reads {model.n_features_in_} features per point but the data has "
                   f"{dataset.n_features}; showing the data only.")
        model = None
    if model is None:
        st.caption("No trained model available (none yet, or training is running — pause it or let it finish): "
                   "only the data X is diagnosed.")

    c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
    can_choose = dataset.y is not None and model is not None
    label_choice = c1.radio("Group points by", [TRUE, PREDICTED], horizontal=True, key=KEY + "labels",
                            help="True labels show whether the classes are independent subspaces; predicted clusters "
                                 "show what the model found.") if can_choose else (TRUE if dataset.y is not None
                                                                                   else PREDICTED)
    if not can_choose and (dataset.y is not None or model is not None):
        c1.markdown(f"**Grouped by** {label_choice}",
                    help="True labels when the data has them, else the model's predicted clusters.")
    energy = c2.select_slider("energy kept", options=[0.8, 0.9, 0.95, 0.99], value=0.95, key=KEY + "energy",
                              help="A cluster's effective dimension is the smallest d whose first d singular values "
                                   "hold this share of Σ s².")
    rank_tol = c3.select_slider("rank tolerance", options=[0.05, 0.1, 0.2, 0.3], value=0.1, key=KEY + "tol",
                                help="Singular values of the stacked orthonormal bases at or below this count as "
                                     "dependent directions (1 = orthogonal).")
    c4.button("Recompute", key=KEY + "recompute", on_click=lambda: st.session_state.pop(STATE_KEY, None),
              help="Embed a fresh sample with the model as it is now.")
    if dataset.y is None and model is None:
        st.info("This data has no labels and there is no model to cluster it, so there is nothing to group the "
                "points by. Train or load a model first.")
        return

    wanted = sample_key(dataset, model, TRUE if label_choice == TRUE and dataset.y is not None else PREDICTED)
    sample: SpaceSample | None = st.session_state.get(STATE_KEY)
    # One BLAS thread: on a 2-core machine shared with training and UMAP, two OpenBLAS threads spin-wait
    # for each other and the same SVDs take ten times longer.
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            if sample is None or sample.key != wanted:
                with st.spinner("Embedding a sample and computing spectra…"):
                    sample = sample_spaces(dataset, model, use_true_labels=label_choice == TRUE)
                st.session_state[STATE_KEY] = sample
            with st.spinner("Computing diagnostics…"):
                diags = compute(sample, energy=float(energy), rank_tol=float(rank_tol))
    except ValueError as exc:   # e.g. values so large that the model's outputs overflow
        st.error(f"No diagnostics for this data: {exc}")
        return

    first = next(iter(diags.values()))
    st.caption(f"Points grouped by **{sample.label_kind}** ({len(sample.clusters)} groups); "
               f"{sum(first.n_used):,} points sampled evenly over the groups"
               f"{f', Q on {sample.q.shape[0]:,} of them' if sample.q is not None else ''}. "
               f"Computed {time.strftime('%H:%M:%S', time.localtime(sample.computed_at))}. " + " ".join(sample.notes))
    st.dataframe(summary_rows(diags), hide_index=True, width="stretch")
    st.caption("One row per space. Independent subspaces have an independence ratio of 1.00; well-separated "
               "clusters in H with a ratio near 1 are what Theorem 1 needs.")

    options = list(diags)
    space = st.segmented_control("Space", options, default=options[-1], format_func=SPACE_TITLES.get,
                                 key=KEY + "space") or options[-1]
    _space_view(space, diags[space], sample.names)

    h = diags.get("H")
    if h is not None and h.leakage is not None:
        st.subheader("Leakage of the learned Q")
        left, right = st.columns([1, 2])
        left.metric("subspace-preserving error", f"{h.sp_error:.1%}",
                    help="Share of the off-diagonal |Q| mass that links points of different groups (0 % = perfectly "
                         "block-diagonal).")
        left.caption(f"Q = HHᵀ on {h.extra.get('q_points', 0):,} sampled points, grouped by {sample.label_kind}.")
        with right:
            _figure(figs.leakage_heatmap(h.leakage, names=sample.names, title="Where each group's |Q| mass goes"),
                    "leakage", "Row a: the share of the off-diagonal |Q| mass of group a's points that lands on each "
                               "group. A bright diagonal means each group expresses itself; bright off-diagonal cells "
                               "are pairs the clustering can confuse.")

    if model is not None:
        cluster_count_section(model)

    st.subheader("The self-expression family on a sample")
    st.caption(f"ℓ2 (what SSCN learns) against the sparse and low-rank priors on the points of {SPACE_TITLES[space]}, "
               f"grouped by {sample.label_kind}: see the Learn tab for what to look for.")
    fam.section(sample.spaces[space], sample.labels, len(sample.clusters),
                model.params_["subspace_dim"] if model is not None else max(1, int(np.median(diags[space].effective_dims))),
                prefix=KEY + "family.", data_key=(sample.key, space), names=dict(zip(sample.clusters, sample.names)),
                max_points=FAMILY_POINTS)

    st.subheader("Export")
    c1, c2, c3, c4 = st.columns([1, 1, 2, 1])
    c1.download_button("JSON (all spaces)", data=lambda: export_json(sample, diags), file_name="diagnostics.json",
                       mime="application/json", key=KEY + "json", on_click="ignore", icon=":material/download:")
    c2.download_button("CSV tables (ZIP)", data=lambda: export_zip(diags), file_name="diagnostics-csv.zip",
                       mime="application/zip", key=KEY + "zip", on_click="ignore", icon=":material/download:")
    tables = diags[space].to_csv_tables()
    table = c3.selectbox(f"One table of {space}", list(tables), key=KEY + "table", label_visibility="collapsed")
    c4.download_button("CSV", data=tables[table], file_name=f"diagnostics_{space}_{table}.csv", mime="text/csv",
                       key=KEY + "csv", on_click="ignore", icon=":material/download:")

