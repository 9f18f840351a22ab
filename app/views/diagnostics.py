"""Diagnostics tab: does this run's data — and the model's latent Z and embedding H — fit independent subspaces?

For a sample of the training data, grouped by the true labels (or, without them, by the model's
clusters): per-cluster singular value spectra and effective dimensions, the K×K smallest principal
angles and the independence ratio in each space, and the subspace-preserving error and leakage of
the learned Q = HHᵀ. The computations (:func:`sample_spaces`, :func:`compute`) are free of
Streamlit; :func:`render` draws and offers CSV / JSON / HTML downloads.
"""
from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from threadpoolctl import threadpool_limits

from sscn_core import SSCN, Dataset
from sscn_core.theory import DEFAULT_MAX_POINTS, Diagnostics, diagnose, q_diagnostics, stratified_sample

from .. import figures_diagnostics as figs
from . import family as fam

KEY = "diag."
STATE_KEY = "diag.sample"         # the last SpaceSample of this session
MAX_SOURCE = 20_000               # points drawn uniformly before anything is embedded or predicted
MAX_Q_POINTS = 1500               # points of the Q = HHᵀ sample (an n×n matrix)
FAMILY_POINTS = 300               # points of the self-expression family's comparison (per-point solvers)
SPACE_TITLES = {"X": "X (data)", "Z": "Z (auto-encoder latent)", "H": "H (SSCN embedding)"}
TRUE, PREDICTED = "true labels", "predicted clusters"


@dataclass(frozen=True)
class SpaceSample:
    """A stratified sample of the data in each available space, with its labels and Q."""

    key: tuple
    label_kind: str
    labels: np.ndarray                 # (n,)
    clusters: list                     # the label values, in display order
    names: list[str]                   # display name of each cluster
    spaces: dict[str, np.ndarray]      # "X", and with a model "Z" (unless Z = X) and "H": (n, d) arrays
    q: np.ndarray | None               # (m, m) Q = HHᵀ of the first rows picked by q_rows
    q_rows: np.ndarray | None          # rows of the sample that Q covers
    notes: tuple[str, ...]
    computed_at: float


def _label_names(values: list, kind: str, class_names: tuple[str, ...] | None) -> list[str]:
    if kind == TRUE and class_names is not None:
        return [class_names[int(v)] if 0 <= int(v) < len(class_names) else str(v) for v in values]
    return [f"c{v}" if kind == PREDICTED else str(v) for v in values]


def sample_key(dataset: Dataset, model: SSCN | None, label_kind: str) -> tuple:
    """What a sample depends on: the data, the model and how far it has trained, the grouping."""
    trained = len(getattr(model, "history_", ()) or ()) if model is not None else -1
    return (id(dataset), len(dataset), id(model), trained, label_kind)


def sample_spaces(dataset: Dataset, model: SSCN | None, *, use_true_labels: bool = True,
                  max_points: int = DEFAULT_MAX_POINTS, max_q_points: int = MAX_Q_POINTS, seed: int = 0) -> SpaceSample:
    """Pick a per-cluster stratified sample and embed it: X, Z = enc(X), H = h(Z), and Q = HHᵀ on a smaller part.

    Labels are ``dataset.y`` when known and ``use_true_labels``, else ``model.predict``; without
    both there is nothing to group by (ValueError).
    """
    rng = np.random.default_rng(seed)
    n = len(dataset)
    pool = np.sort(rng.choice(n, size=MAX_SOURCE, replace=False)) if n > MAX_SOURCE else np.arange(n)
    notes: list[str] = []
    if dataset.y is not None and (use_true_labels or model is None):
        kind, labels_pool = TRUE, dataset.y[pool]
    elif model is not None:
        kind, labels_pool = PREDICTED, model.predict(dataset.X[pool])
    else:
        raise ValueError("the data has no labels and there is no model to cluster it: nothing to group points by")
    rows = pool[stratified_sample(labels_pool, max_points, seed)]
    labels = dataset.y[rows] if kind == TRUE else labels_pool[np.searchsorted(pool, rows)]
    if kind == PREDICTED and model is not None:
        clusters = list(range(int(model.n_clusters)))
    else:
        clusters = [v.item() for v in np.unique(labels)]
    x = dataset.X[rows]
    spaces = {"X": x}
    q = q_rows = None
    if model is not None:
        if model.autoencoder is None and getattr(model, "frontend", "pixels") == "pixels":
            notes.append("This model has no auto-encoder (Z = X), so Z is not shown separately.")
        else:
            spaces["Z"] = model.transform(x, space="z")
        spaces["H"] = model.transform(x, space="h")
        q_rows = stratified_sample(labels, max_q_points, seed)
        q = model.affinity(x[q_rows])
    names = _label_names(clusters, kind, dataset.class_names)
    key = sample_key(dataset, model, kind)
    return SpaceSample(key, kind, labels, clusters, names, spaces, q, q_rows, tuple(notes), time.time())


def compute(sample: SpaceSample, *, energy: float, rank_tol: float) -> dict[str, Diagnostics]:
    """Diagnostics of every space of ``sample``; H's carries the subspace-preserving error and leakage of Q."""
    k = len(sample.clusters)
    n_clusters = k if sample.label_kind == PREDICTED else None
    out = {}
    for name, feats in sample.spaces.items():
        out[name] = diagnose(feats, sample.labels, n_clusters=n_clusters, energy=energy, rank_tol=rank_tol,
                             max_points=len(sample.labels), space=name, label_kind=sample.label_kind)
    if sample.q is not None and "H" in out:
        err, leak = q_diagnostics(sample.q, sample.labels[sample.q_rows], sample.clusters)
        out["H"] = replace(out["H"], sp_error=err, leakage=leak,
                           extra={"q_points": int(sample.q.shape[0])})
    return out


def summary_rows(diags: dict[str, Diagnostics]) -> list[dict[str, object]]:
    """One row per space for the comparison table."""
    rows = []
    for name, d in diags.items():
        dims = [x for x in d.effective_dims if x > 0]
        rows.append({"space": SPACE_TITLES.get(name, name), "dimension": d.ambient_dim,
                     "median effective dim": float(np.median(dims)) if dims else 0.0,
                     "Σ effective dims": d.sum_dims, "rank of the union": d.union_rank,
                     "independence ratio": round(d.independence_ratio, 2), "verdict": d.verdict})
    return rows


def export_json(sample: SpaceSample, diags: dict[str, Diagnostics]) -> str:
    """All spaces' diagnostics as one JSON document."""
    payload = {"labels": sample.label_kind, "cluster_names": sample.names, "notes": list(sample.notes),
               "spaces": {name: d.to_dict() for name, d in diags.items()}}
    return json.dumps(payload, indent=2, allow_nan=False)


def export_zip(diags: dict[str, Diagnostics]) -> bytes:
    """Every CSV table of every space in one ZIP (``{space}_{table}.csv``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, d in diags.items():
            for table, text in d.to_csv_tables().items():
                zf.writestr(f"{name}_{table}.csv", text)
    return buf.getvalue()


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
    with threadpool_limits(limits=1, user_api="blas"):
        if sample is None or sample.key != wanted:
            with st.spinner("Embedding a sample and computing spectra…"):
                sample = sample_spaces(dataset, model, use_true_labels=label_choice == TRUE)
            st.session_state[STATE_KEY] = sample
        with st.spinner("Computing diagnostics…"):
            diags = compute(sample, energy=float(energy), rank_tol=float(rank_tol))

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

    st.subheader("The self-expression family on a sample")
    st.caption(f"ℓ2 (what SSCN learns) against the sparse and low-rank priors on the points of {SPACE_TITLES[space]}, "
               f"grouped by {sample.label_kind}: see the Learn tab for what to look for.")
    fam.section(sample.spaces[space], sample.labels, len(sample.clusters),
                model.subspace_dim if model is not None else max(1, int(np.median(diags[space].effective_dims))),
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


__all__ = ["SpaceSample", "compute", "export_json", "export_zip", "render", "sample_key", "sample_spaces",
           "summary_rows"]
