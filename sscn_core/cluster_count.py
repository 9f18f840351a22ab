"""How many subspaces: K from the data (``n_clusters="auto"``), by the rule of :mod:`sscn_core.plan`.

Each candidate K is judged on the graph a fit with that K would itself build (the self-consistent
eigengap): the linear model's Theorem-1 affinity Q of the features at the half-weight λ of rank
r = K·q (q by :func:`~sscn_core.plan.subspace_dim_rule`), post-processed at that rank into the graph
spectral clustering sees. Its normalised Laplacian's eigenvalues μ₁ ≤ μ₂ ≤ … say how clearly the graph
falls into K groups: the ratio μ_{K+1}/μ_K (:func:`~sscn_core.postprocess.well_clustered_ratio`).
Graphs of few directions have larger ratios at small K whatever the data, so each ratio is measured
against the same construction on structureless data of the same spectrum (the points' singular
directions replaced by a random orthonormal set: a Gaussian blob with the data's variances), as the
gap statistic measures a clustering against a reference without clusters. Only fixed points count: a K
whose own graph puts its largest quotient, over every candidate position, at K itself; of those, the K
whose graph beats its reference by the largest factor is kept (graphs that split exactly into
components: the finest such K). When the kept K does not beat it by
:data:`~sscn_core.plan.COUNT_NULL_FACTOR` the data show no cluster structure, and the result says so. Through several
candidate front-ends, a front-end's K counts first only when the front-end choice made with that K keeps that
front-end (:func:`~sscn_core.plan.count_frontend`), and the data show structure when any front-end's best K does.

Nothing here reads labels. Pure functions of arrays; the fit's ``n_clusters`` phase
(:func:`sscn_core.choice.choose_n_clusters`) calls :func:`count_for_frontends` on the training rows.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .plan import (COUNT_EXACT_UP_TO, COUNT_GRID_STEP, COUNT_MAX, COUNT_MIN_POINTS, COUNT_NULL_FACTOR,
                   count_frontend, subspace_dim_rule, verdict_alpha)
from .postprocess import affinity_from_coefficients
from .theory import half_weight_lambda

_FLOOR = 1e-10      # eigenvalues below this count as zero (a disconnected graph): the ratio is then capped
EXACT_FACTOR = 1e6   # a factor over the reference this large means μ_K is zero: the graph has exactly K components
_EXACT = math.log(EXACT_FACTOR)


def candidate_counts(n: int) -> list[int]:
    """The candidate K for n points: 2 … min(COUNT_MAX, ⌊n / COUNT_MIN_POINTS⌋) (at least [2])."""
    top = max(2, min(COUNT_MAX, n // COUNT_MIN_POINTS))
    return list(range(2, top + 1))


def graph_counts(candidates: list[int]) -> list[int]:
    """The K whose graphs are built: every K up to COUNT_EXACT_UP_TO, then a grid of ratio COUNT_GRID_STEP.

    A candidate K is scored on the graph of the largest grid value ≤ K (its rank is within a factor
    COUNT_GRID_STEP of K's own)."""
    grid: list[int] = []
    for k in candidates:
        if k <= COUNT_EXACT_UP_TO or not grid or k >= grid[-1] * COUNT_GRID_STEP:
            grid.append(k)
    return grid


def laplacian_spectrum(affinity: np.ndarray | torch.Tensor, n_values: int) -> np.ndarray:
    """The ``n_values`` smallest eigenvalues μ (ascending) of the normalised Laplacian I − D^-½ A D^-½ of a
    dense affinity A (self-loops ignored, as the spectral clustering of :mod:`sscn_core.postprocess` does)."""
    a = torch.as_tensor(affinity, dtype=torch.float64).clone()
    a.fill_diagonal_(0.0)
    degree = a.sum(dim=1)
    scale = torch.where(degree > 0, degree.clamp(min=1e-300).rsqrt(), torch.zeros_like(degree))
    m = a * scale[:, None] * scale[None, :]
    values = torch.linalg.eigvalsh(m).flip(0)          # descending eigenvalues of the normalised affinity
    return (1.0 - values[:n_values]).clamp(min=0.0).numpy()


def log_ratio(mu: np.ndarray, k: int) -> float:
    """log(μ_{K+1} / μ_K) of ascending Laplacian eigenvalues, zeros floored at 1e-10."""
    return math.log(max(float(mu[k]), _FLOOR) / max(float(mu[k - 1]), _FLOOR))


def theorem1_affinity(u: np.ndarray, s2: np.ndarray, rank: int, default_lam: float) -> np.ndarray:
    """Theorem 1's Q of features with left singular vectors ``u`` and squared singular values ``s2``
    (descending), as the linear model with d_H = ``rank`` starts it: U_r diag(λs²/(1+λs²)) U_rᵀ at the
    half-weight λ of rank r (``default_lam`` where h has room for every direction)."""
    lam = half_weight_lambda(s2, rank) or default_lam
    keep = min(rank, int((s2 > s2[0] * 1e-8).sum()))
    weight = lam * s2[:keep] / (1.0 + lam * s2[:keep])
    return (u[:, :keep] * weight[None, :]) @ u[:, :keep].T


def count_clusters(features: np.ndarray | torch.Tensor, *, alpha: float | None, rho: float, variant: str, seed: int,
                   frontend: str = "pixels", default_lam: float = 1.5,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """K for these features (rows are points) by the self-consistent, reference-corrected eigengap (module doc).

    ``alpha``, ``rho`` and ``variant`` are the post-processing's, as the fit will use them (``alpha`` None: the
    power a fit with each K would take after choosing ``frontend``, :func:`~sscn_core.plan.verdict_alpha`, at
    the sample's N). Returns a dict:
    "value" (the K kept), "candidates" (list of K), "scores" (log ratio minus the reference's, one per
    candidate), "ratios" and "null_ratios" (μ_{K+1}/μ_K of the data's graph and of the reference's),
    "eigenvalues" (the smallest Laplacian eigenvalues of the kept K's graph, up to the largest candidate
    + 1), "graph_k" (the K whose graph scored each candidate), "fixed_points" (the K whose own graph puts
    its largest gap at K), "structure" (whether the kept K's score clears log COUNT_NULL_FACTOR), "factor" (exp
    of the best score) and "alpha" (the kept K's power). ``progress(done, total)``, when given, is called after
    each graph (it may raise to stop the search).
    """
    z = torch.as_tensor(features, dtype=torch.float64)
    n = z.shape[0]
    if n < 2 * COUNT_MIN_POINTS:
        raise ValueError(f"n_clusters='auto' needs at least {2 * COUNT_MIN_POINTS} points, got {n}")
    u, s, _ = torch.linalg.svd(z, full_matrices=False)
    u, s2 = u.numpy(), (s ** 2).numpy()
    rng = np.random.default_rng(seed)
    null_u, _ = np.linalg.qr(rng.standard_normal(u.shape))
    candidates = candidate_counts(n)
    grid = graph_counts(candidates)
    n_values = candidates[-1] + 1
    spectra: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    power = {k: alpha if alpha is not None else verdict_alpha(frontend, n, k)[0] for k in grid}
    for done, k in enumerate(grid, start=1):
        q = subspace_dim_rule(n, k)[0]
        rank = min(k * q, n - 1)
        pair = []
        for basis in (u, null_u):
            c = theorem1_affinity(basis, s2, rank, default_lam)
            a = affinity_from_coefficients(c, k, q, rho=rho, alpha=power[k], seed=seed, variant=variant, dense=True)
            pair.append(laplacian_spectrum(a, n_values))
        spectra[k] = (pair[0], pair[1])
        if progress is not None:
            progress(done, len(grid))
    owner = {k: max(g for g in grid if g <= k) for k in candidates}
    ratios, null_ratios, scores = [], [], []
    for k in candidates:
        data, null = spectra[owner[k]]
        ratios.append(log_ratio(data, k))
        null_ratios.append(log_ratio(null, k))
        scores.append(ratios[-1] - null_ratios[-1])
    # Each graph's own verdict: the position of its largest reference-corrected gap over every candidate.
    verdict = {g: candidates[int(np.argmax([log_ratio(spectra[g][0], k) - log_ratio(spectra[g][1], k)
                                            for k in candidates]))] for g in grid}
    fixed = [i for i, k in enumerate(candidates) if verdict[owner[k]] == k]
    exact = [i for i, score in enumerate(scores) if score >= _EXACT]
    # Graphs that fall apart exactly into K components: the finest such K (a coarser graph's components
    # are unions of the finer's). Otherwise, of the fixed points (the graph built for K puts its largest
    # gap at K itself), the largest score; with none, the largest score (ties: the smaller K).
    if exact:
        best = exact[-1]
    else:
        best = max(fixed or range(len(candidates)), key=lambda i: (scores[i], -i))
    value = candidates[best]
    return {"value": value, "candidates": candidates, "scores": scores,
            "ratios": [math.exp(r) for r in ratios], "null_ratios": [math.exp(r) for r in null_ratios],
            "eigenvalues": spectra[owner[value]][0].tolist(), "null_eigenvalues": spectra[owner[value]][1].tolist(),
            "graph_k": [owner[k] for k in candidates], "fixed_points": [candidates[i] for i in fixed],
            "structure": scores[best] >= math.log(COUNT_NULL_FACTOR), "factor": math.exp(scores[best]),
            "alpha": power[owner[value]]}


def count_for_frontends(x: torch.Tensor, frontends: dict[str, Any], *, alpha: float | None, rho: float,
                        variant: str, seed: int, default_lam: float = 1.5,
                        progress: Callable[[int, int], None] | None = None,
                        confirm: Callable[[str, int], bool] | None = None) -> dict[str, Any]:
    """``n_clusters="auto"``: K from the rows ``x`` (N × D, float32) through each candidate front-end.

    ``frontends`` maps a name ("pixels", "scattering") to an unfitted front-end module; each is fitted on
    a seeded sample of at most COUNT_SAMPLE rows and searched with :func:`count_clusters` at ``alpha``
    (None: the power a fit with each K would take after choosing that front-end, ``plan.verdict_alpha``). The
    front-end whose best K beats its reference by the larger factor gives K, of those that ``confirm`` (when given
    and there are several front-ends) confirms: ``confirm(name, K)`` says whether the front-end choice made with
    that front-end's K keeps that front-end (:func:`~sscn_core.plan.count_frontend`). Returns that front-end's
    result with "frontend" (its name), "sample" (the sample's size), "by_frontend" ({name: {"value", "factor"}
    and, where asked, "confirmed"}) and "structure" true when any front-end's best K beat its reference by
    COUNT_NULL_FACTOR. ``progress(done, total)``, when given, is called after each graph of each
    front-end and after each confirmation (it may raise to stop).
    """
    from .plan import COUNT_SAMPLE

    n = x.shape[0]
    sample = x
    if n > COUNT_SAMPLE:
        stream = torch.Generator().manual_seed(int(seed))
        sample = x[torch.randperm(n, generator=stream)[:COUNT_SAMPLE].sort().values]
    results: dict[str, dict[str, Any]] = {}
    asking = confirm is not None and len(frontends) > 1
    per_frontend = len(graph_counts(candidate_counts(int(sample.shape[0]))))
    total = len(frontends) * (per_frontend + asking)
    for index, (name, front) in enumerate(frontends.items()):
        with torch.no_grad():
            features = front.fit_transform(sample)
        step = None if progress is None else \
            (lambda done, graphs, before=index * per_frontend: progress(before + done, total))
        results[name] = count_clusters(features.double(), alpha=alpha, rho=rho, variant=variant, seed=seed,
                                       frontend=name, default_lam=default_lam, progress=step)
    found: dict[str, dict[str, Any]] = {name: {"value": r["value"], "factor": r["factor"]} for name, r in results.items()}
    if asking:
        for index, (name, entry) in enumerate(found.items(), start=1):
            entry["confirmed"] = bool(confirm(name, int(entry["value"])))
            if progress is not None:
                progress(len(frontends) * per_frontend + index, total)
    best = count_frontend(found)
    # Cluster structure is in the data when any front-end's graph shows it, whichever front-end gives K.
    structure = any(r["structure"] for r in results.values())
    return {**results[best], "structure": structure, "frontend": best, "sample": int(sample.shape[0]),
            "by_frontend": found}


def rivals(count: dict[str, Any]) -> dict[str, tuple[int, float] | None]:
    """The kept K's rivals in a count (:func:`count_clusters`' result, or a checkpoint's copy of it).

    Returns {"runner_up": (K, factor) of the best-scoring other candidate that the rule could have kept (a
    fixed point, when the count lists them), "unconfirmed": (K, factor) of a candidate that scored above the
    kept K but whose own graph put its largest gap elsewhere (so the rule passed it over)}; each None when
    there is none. Factors are exp(score), the quotient over the structureless reference.
    """
    k = int(count["value"])
    candidates = [int(c) for c in count["candidates"]]
    scores = [float(s) for s in count["scores"]]
    kept = scores[candidates.index(k)]
    fixed = count.get("fixed_points")
    allowed = set(candidates) if fixed is None else {int(c) for c in fixed}
    others = [(s, c) for c, s in zip(candidates, scores) if c != k and c in allowed]
    higher = [(s, c) for c, s in zip(candidates, scores) if c not in allowed and s > kept]
    best = max(others, key=lambda pair: (pair[0], -pair[1]), default=None)
    over = max(higher, key=lambda pair: (pair[0], -pair[1]), default=None)
    return {"runner_up": None if best is None else (best[1], math.exp(best[0])),
            "unconfirmed": None if over is None else (over[1], math.exp(over[0]))}
