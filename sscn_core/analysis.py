"""What the views (the app's tabs, the notebook views of :mod:`sscn_core.viz`) show about a model.

:func:`analyse` asks a (fitted or being-fitted) SSCN for the affinity of a sample, the embeddings
H and RH, block energies, predictions and metrics, and packs them into an :class:`Analysis`. The
app's training job calls it on the training thread between steps; for a loaded checkpoint the
page calls it once; a notebook calls it on a fitted model. Nothing here is model math: the numbers come from ``SSCN`` and
``sscn_core.metrics``/``sscn_core.postprocess``; this module only samples, orders and counts.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .data import Dataset
from .estimator import SSCN
from .metrics import confusion, evaluate, subspace_preserving_error
from .postprocess import threshold_columns

AFFINITY_POINTS = 2000   # |Q| heatmap sample
EMBED_POINTS = 5000      # UMAP / block-energy sample


@dataclass(frozen=True)
class Probe:
    """The fixed points an analysis looks at: the training set, a held-out set and two samples.

    ``affinity_idx`` ⊆ ``embed_idx`` index rows of ``train`` (a seeded random sample, sorted).
    """

    train: Dataset
    holdout: Dataset | None
    affinity_idx: np.ndarray
    embed_idx: np.ndarray


def make_probe(train: Dataset, holdout: Dataset | None = None, *, affinity_points: int = AFFINITY_POINTS,
               embed_points: int = EMBED_POINTS, seed: int = 0) -> Probe:
    """Draw the samples once per run so that successive analyses show the same points."""
    order = np.random.default_rng(seed).permutation(len(train))
    embed = np.sort(order[:min(embed_points, len(train))])
    affinity = np.sort(order[:min(affinity_points, len(train))])
    return Probe(train, holdout, affinity, embed)


@dataclass(frozen=True)
class Confusion:
    """Counts of true classes (rows) × predicted clusters (columns), matched clusters on the diagonal."""

    table: np.ndarray
    classes: np.ndarray
    clusters: np.ndarray


@dataclass(frozen=True)
class Analysis:
    """A snapshot of what a model does on the probe's points (all arrays are numpy).

    Affinity: ``affinity_rows`` are training-set indices in display order (sorted by true label
    when known, else by predicted cluster, then by the other); ``affinity_abs`` = |Q| and
    ``affinity_thr`` = |ρ-thresholded Q| in that order; ``affinity_groups`` the label/cluster of
    each displayed row. Embedding: ``h`` (H), ``rotated`` (H R), ``pred``, ``confidence`` (the
    largest class probability) and ``energy`` (share of ‖RH‖² per block) for ``embed_rows``.
    ``train_pred``: clusters of all training points. Metrics are dicts {"acc","ari","nmi"} or None.
    ``classifier_trained``: False while R is still the identity (predictions are provisional).
    ``pseudo_note``: why ``metrics_pseudo`` is None although the data has labels (the triplet
    classifier uses no pseudo-labels), else None. ``fit_report``: ``SSCN.fit_report()`` once the
    fit has finished (settings and their reasons, convergence, agreement, warnings), else None.
    """

    phase: str
    step: int
    classifier_trained: bool
    affinity_rows: np.ndarray
    affinity_abs: np.ndarray
    affinity_thr: np.ndarray
    affinity_groups: np.ndarray
    affinity_sorted_by: str
    sp_error: float | None
    sp_error_thr: float | None
    embed_rows: np.ndarray
    h: np.ndarray
    rotated: np.ndarray
    pred: np.ndarray
    confidence: np.ndarray
    energy: np.ndarray
    train_pred: np.ndarray
    cluster_sizes: np.ndarray
    metrics_in: dict[str, float] | None
    metrics_out: dict[str, float] | None
    metrics_pseudo: dict[str, float] | None
    confusion: Confusion | None
    seconds: float
    pseudo_note: str | None = None
    fit_report: dict | None = None


def display_order(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Indices that sort by ``primary`` and, within equal values, by ``secondary`` (stable)."""
    return np.lexsort((np.asarray(secondary), np.asarray(primary)))


def cluster_sizes(pred: np.ndarray, n_clusters: int) -> np.ndarray:
    """How many points each of the K clusters received."""
    return np.bincount(np.asarray(pred, dtype=np.int64), minlength=n_clusters)[:n_clusters]


def majority_labels(y: np.ndarray, pred: np.ndarray, n_clusters: int) -> list[tuple[int, float] | None]:
    """Per cluster: (most frequent true label, its share of the cluster), or None for an empty cluster."""
    out: list[tuple[int, float] | None] = []
    for k in range(n_clusters):
        members = np.asarray(y)[np.asarray(pred) == k]
        if members.size == 0:
            out.append(None)
            continue
        counts = np.bincount(members)
        top = int(counts.argmax())
        out.append((top, float(counts[top] / members.size)))
    return out


def _pseudo_metrics(model: SSCN, y: np.ndarray | None) -> dict[str, float] | None:
    labels = getattr(model, "pseudo_labels_", None)
    if y is None or labels is None:
        return None
    idx = getattr(model, "pseudo_label_indices_", None)
    truth = y if idx is None else y[idx]
    return evaluate(truth, labels) if truth.shape == labels.shape else None


NO_PSEUDO_LABELS = "No pseudo-labels: the triplet classifier needs none (it learns from Q's neighbours)."


def pseudo_labels_note(model: SSCN) -> str | None:
    """A note for views when ``model`` has no pseudo-labels by design (classifier_loss="triplet"), else None."""
    if model.classifier_loss == "triplet" and getattr(model, "pseudo_labels_", None) is None:
        return NO_PSEUDO_LABELS
    return None


def analyse(model: SSCN, probe: Probe, *, phase: str = "", step: int = 0, classifier_trained: bool = True) -> Analysis:
    """Compute an :class:`Analysis` of ``model`` on ``probe`` (the model must have ``net_``).

    Safe to call from a fit callback on the training thread. Cost: one forward pass over the
    training set and one over the held-out set, one n×n affinity (n ≤ 2000) and its thresholding.
    """
    start = time.perf_counter()
    # self-training starts from the trained classifier (labels_ is set only at the very end of fit)
    classifier_trained = classifier_trained or phase == "self_training"
    train = probe.train
    K = int(model.n_clusters_)
    # One forward pass over the training set gives every view's numbers (the front-end may be costly).
    emb = model.embedding(train.X)
    train_pred = emb["labels"]

    pred_aff = train_pred[probe.affinity_idx]
    if train.y is not None:
        y_aff = train.y[probe.affinity_idx]
        order, sorted_by, groups = display_order(y_aff, pred_aff), "label", y_aff
    else:
        order, sorted_by, groups = display_order(pred_aff, np.zeros_like(pred_aff)), "cluster", pred_aff
    q = model.affinity_of(emb["h"][probe.affinity_idx[order]])
    thr = threshold_columns(q, float(model.rho))
    q_abs = np.abs(q).astype(np.float32, copy=False)
    thr_abs = np.abs(thr.toarray()).astype(np.float32, copy=False)
    sp, sp_thr = None, None
    if train.y is not None:
        sp = subspace_preserving_error(q, groups[order])
        sp_thr = subspace_preserving_error(thr, groups[order])
    del q, thr

    metrics_in = evaluate(train.y, train_pred) if train.y is not None else None
    metrics_out = None
    holdout = probe.holdout
    if holdout is not None and holdout.y is not None and holdout.X.shape[1] == train.X.shape[1]:
        metrics_out = evaluate(holdout.y, model.predict(holdout.X))
    conf = Confusion(*confusion(train.y, train_pred)) if train.y is not None else None
    rows = probe.embed_idx
    return Analysis(
        phase=phase, step=step, classifier_trained=classifier_trained,
        affinity_rows=probe.affinity_idx[order], affinity_abs=q_abs, affinity_thr=thr_abs,
        affinity_groups=np.asarray(groups)[order], affinity_sorted_by=sorted_by, sp_error=sp, sp_error_thr=sp_thr,
        embed_rows=rows, h=emb["h"][rows], rotated=emb["rotated"][rows], pred=train_pred[rows],
        confidence=emb["proba"][rows].max(axis=1), energy=emb["energy"][rows],
        train_pred=train_pred, cluster_sizes=cluster_sizes(train_pred, K), metrics_in=metrics_in,
        metrics_out=metrics_out, metrics_pseudo=_pseudo_metrics(model, train.y), confusion=conf,
        seconds=time.perf_counter() - start, pseudo_note=pseudo_labels_note(model),
        fit_report=model.fit_report() if getattr(model, "labels_", None) is not None else None,
    )
