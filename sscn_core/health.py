"""Failures you can see: checks of a finished fit that no label is needed for.

``fit_warnings`` looks at what a fit produced — the evidence for its K when it estimated K, its
clusters, its embedding's rank, its loss history, whether each phase converged, how well the
classifier reproduces its pseudo-labels — and
returns plain sentences for everything that makes the result suspect. The estimator stores them in
``warnings_`` and raises them as :class:`SSCNWarning`; the CLI and the app show them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .plan import COUNT_NULL_FACTOR

AGREEMENT_MIN = 0.99      # below this share of reproduced pseudo-labels the classifier is suspect
DOMINANT_SHARE = 0.5      # one cluster holding more than this share of the points (K ≥ 3)
EXPLOSION = 10.0          # a phase's last loss this many times its first


class SSCNWarning(UserWarning):
    """A fit finished, but its result is suspect (degenerate clusters, no convergence, …)."""


def count_warning(cluster_count: dict[str, Any] | None) -> list[str]:
    """n_clusters="auto" found no cluster structure: no K beat the structureless reference by COUNT_NULL_FACTOR.

    ``cluster_count`` is the fit's ``cluster_count_`` (None when K was given)."""
    if cluster_count is None or cluster_count["structure"]:
        return []
    k = cluster_count["value"]
    return [f"n_clusters='auto': the data show no cluster structure: no K beat a structureless reference by "
            f"{COUNT_NULL_FACTOR:g}× (the best was K = {k}, ×{cluster_count['factor']:.3g}), so the {k} clusters "
            f"found are not evidence of subspaces; give n_clusters if you know it"]


def cluster_warnings(labels: np.ndarray | None, n_clusters: int, what: str) -> list[str]:
    """Empty clusters, or one cluster holding most points."""
    if labels is None or len(labels) == 0:
        return []
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_clusters)
    out = []
    empty = int((counts == 0).sum())
    if empty:
        out.append(f"{what}: {empty} of the {n_clusters} clusters are empty; try a smaller n_clusters or "
                   f"subspace_dim, or the defaults (autoencoder='auto', frontend='auto')")
    share = counts.max() / counts.sum()
    if n_clusters >= 3 and share > DOMINANT_SHARE:
        out.append(f"{what}: one cluster holds {share:.0%} of the points (degenerate); check n_clusters, try "
                   f"normalize='unit_rows' or a smaller subspace_dim")
    return out


def rank_warning(h: np.ndarray | None, n_clusters: int) -> list[str]:
    """H of numerical rank below K cannot separate K clusters."""
    if h is None or h.size == 0:
        return []
    s = np.linalg.svd(np.asarray(h, dtype=np.float64), compute_uv=False)
    rank = int((s > s[0] * 1e-6).sum()) if s[0] > 0 else 0
    if rank < n_clusters:
        return [f"H has rank {rank} < n_clusters = {n_clusters}: the embedding has collapsed; try h_init="
                f"'closed_form', a lower lr, or autoencoder=None"]
    return []


def loss_warnings(history: list[dict[str, Any]]) -> list[str]:
    """A phase whose loss grew by a factor ≥ 10 from its first to its last step."""
    out = []
    phases: dict[str, list[float]] = {}
    for row in history:
        phases.setdefault(row["phase"], []).append(float(row["total"]))
    for phase, losses in phases.items():
        first, last = abs(losses[0]), abs(losses[-1])
        if len(losses) > 1 and first > 0 and last > EXPLOSION * first:
            out.append(f"{phase}: the loss grew from {losses[0]:.3g} to {losses[-1]:.3g} (exploding); try a lr ten "
                       f"times lower")
    return out


def convergence_warnings(convergence: dict[str, dict[str, Any]]) -> list[str]:
    """Phases whose step budget ran out before the loss settled."""
    return [f"{phase}: the step budget ({c['budget']:,}) ran out while the loss was still improving (last "
            f"relative improvement {c['relative_change']:.2g} ≥ tol {c['tol']:g}); try more epochs or a larger tol"
            for phase, c in convergence.items() if c["stopped_by"] == "budget"]


def agreement_warning(agreement: float | None) -> list[str]:
    """The classifier reproduces fewer than 99 % of the pseudo-labels it was trained on."""
    if agreement is None or agreement >= AGREEMENT_MIN:
        return []
    return [f"the classifier reproduces only {agreement:.1%} of the pseudo-labels it was trained on "
            f"(below {AGREEMENT_MIN:.0%}): its predictions and the spectral clusters disagree; try more "
            f"classifier_epochs, or classifier_temperature=20 if it was None (the paper's logits)"]


def fit_warnings(*, labels: np.ndarray | None, pseudo_labels: np.ndarray | None, h: np.ndarray | None,
                 n_clusters: int, history: list[dict[str, Any]], convergence: dict[str, dict[str, Any]],
                 agreement: float | None, cluster_count: dict[str, Any] | None = None) -> list[str]:
    """Everything suspect about a finished fit, as sentences (empty when all is well); ``cluster_count`` is the
    evidence for an estimated K (``cluster_count_``)."""
    return (count_warning(cluster_count) + cluster_warnings(labels, n_clusters, "clusters")
            + cluster_warnings(pseudo_labels, n_clusters, "pseudo-labels")
            + rank_warning(h, n_clusters) + loss_warnings(history) + convergence_warnings(convergence)
            + agreement_warning(agreement))
