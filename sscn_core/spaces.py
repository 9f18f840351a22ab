"""The Diagnostics tab's computation: a sample of the data in each of a model's spaces, diagnosed.

For a stratified sample of a data set, grouped by the true labels (or, without them, by the
model's clusters): X, the auto-encoder's latent Z and SSCN's embedding H, each diagnosed by
:func:`sscn_core.theory.diagnose` (spectra, effective dimensions, principal angles, independence
ratio), and the subspace-preserving error and leakage of the learned Q = HHᵀ. Shared by the
explorer's Diagnostics tab and the notebook view :func:`sscn_core.viz.notebook.independence`.
"""
from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, replace

import numpy as np

from .data import Dataset
from .estimator import SSCN
from .theory import DEFAULT_MAX_POINTS, Diagnostics, diagnose, q_diagnostics, stratified_sample

MAX_SOURCE = 20_000               # points drawn uniformly before anything is embedded or predicted
MAX_Q_POINTS = 1500               # points of the Q = HHᵀ sample (an n×n matrix)
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
        clusters = list(range(int(model.n_clusters_)))
    else:
        clusters = [v.item() for v in np.unique(labels)]
    x = dataset.X[rows]
    spaces = {"X": x}
    q = q_rows = None
    if model is not None:
        if model.params_["autoencoder"] is None and model.params_["frontend"] == "pixels":
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
