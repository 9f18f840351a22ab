"""Synthetic data: points on a union of linear subspaces, independent, dependent or overlapping."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .dataset import DataError, Dataset

# How the subspaces of ``make_subspaces`` relate: key -> label.
RELATIONS: dict[str, str] = {"independent": "independent", "dependent": "dependent (pairwise disjoint)",
                             "overlapping": "overlapping"}


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _orthonormal(rng: np.random.Generator, d: int, k: int) -> np.ndarray:
    """A random (d, k) matrix with orthonormal columns (Haar distributed)."""
    q, r = np.linalg.qr(rng.standard_normal((d, k)))
    return q * np.sign(np.diag(r))


def _union_rank(bases: Sequence[np.ndarray]) -> int:
    return int(np.linalg.matrix_rank(np.hstack(bases), tol=1e-8))


def make_subspace_bases(n_clusters: int = 5, subspace_dim: int = 3, ambient_dim: int = 30,
                        relation: str = "independent", angle_deg: float | None = None, seed: int = 0,
                        union_dim: int | None = None) -> list[np.ndarray]:
    """Orthonormal bases (float64, (ambient_dim, subspace_dim) each) of K = ``n_clusters`` subspaces.

    ``relation``:

    - ``"independent"``: rank of the union = K·q (needs K·q <= D). Random bases, or, with
      ``angle_deg``, bases with *every* principal angle between *every* pair equal to ``angle_deg``:
      the K blocks of V·G^{1/2} with V a random (D, K·q) orthonormal matrix and
      G = ((1-c) I_K + c 11ᵀ) ⊗ I_q, c = cos(angle); then U_kᵀU_l = c·I_q for k != l.
    - ``"dependent"``: every pair intersects only in 0, yet rank(union) < K·q: all subspaces are
      random q-dim subspaces of one random ``union_dim``-dim subspace (default 2q; it must lie in
      [2q, K·q - 1], so K >= 3). With q = 1 (and the default union_dim): K lines in a plane,
      180°/K apart.
    - ``"overlapping"``: subspaces k and k+1 share exactly one direction (q >= 2; built from
      K·(q-1)+1 generic random directions: K+1 shared ones s_0..s_K, U_k spanning s_k, s_{k+1} and
      q-2 own ones; needs D >= K·(q-1) + 1 so that no other intersections occur).

    The same arguments always give the same bases (:func:`make_subspaces` uses them).
    """
    K = _positive_int(n_clusters, "n_clusters")
    q = _positive_int(subspace_dim, "subspace_dim")
    D = _positive_int(ambient_dim, "ambient_dim")
    if relation not in RELATIONS:
        raise DataError(f"relation must be one of {', '.join(RELATIONS)}; got {relation!r}")
    if q > D:
        raise DataError(f"subspace_dim ({q}) cannot exceed ambient_dim ({D})")
    if angle_deg is not None and relation != "independent":
        raise DataError(f"angle_deg applies to relation='independent' only, not {relation!r}")
    if union_dim is not None and relation != "dependent":
        raise DataError(f"union_dim applies to relation='dependent' only, not {relation!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))

    if relation == "independent":
        if K * q > D:
            raise DataError(f"independent subspaces need n_clusters·subspace_dim <= ambient_dim; got {K}·{q} = "
                            f"{K * q} > {D}")
        if angle_deg is None:
            bases = [_orthonormal(rng, D, q) for _ in range(K)]
            if _union_rank(bases) != K * q:  # probability zero for Gaussian draws
                raise DataError("the random subspaces came out dependent; try another seed")
            return bases
        angle = float(angle_deg)
        if not 0.0 < angle <= 90.0:
            raise DataError(f"angle_deg must be in (0, 90], got {angle_deg!r}")
        c = float(np.cos(np.deg2rad(angle)))
        c = 0.0 if angle == 90.0 else c
        avg = np.full((K, K), 1.0 / K)
        root = np.sqrt(1.0 - c) * (np.eye(K) - avg) + np.sqrt(1.0 + (K - 1) * c) * avg
        full = _orthonormal(rng, D, K * q) @ np.kron(root, np.eye(q))
        return [full[:, k * q:(k + 1) * q].copy() for k in range(K)]

    if relation == "dependent":
        if K < 3:
            raise DataError(f"dependent subspaces need n_clusters >= 3 (two subspaces whose union has rank "
                            f"< 2·q must intersect); got {K}")
        m = 2 * q if union_dim is None else _positive_int(union_dim, "union_dim")
        if not 2 * q <= m <= K * q - 1:
            raise DataError(f"union_dim must be in [2·subspace_dim, n_clusters·subspace_dim - 1] = [{2 * q}, "
                            f"{K * q - 1}], got {m}")
        if m > D:
            raise DataError(f"dependent subspaces need ambient_dim >= union_dim = {m}, got {D}")
        frame = _orthonormal(rng, D, m)
        if q == 1:  # K lines in a plane, evenly spread in angle (180°/K apart) from a random start
            start = rng.uniform(0.0, np.pi / K)
            bases = [frame @ np.array([[np.cos(start + k * np.pi / K)], [np.sin(start + k * np.pi / K)]])
                     for k in range(K)] if m == 2 else [frame @ _orthonormal(rng, m, 1) for _ in range(K)]
        else:
            bases = [frame @ _orthonormal(rng, m, q) for _ in range(K)]
        for i in range(K):
            for j in range(i + 1, K):
                if _union_rank([bases[i], bases[j]]) != 2 * q:  # probability zero
                    raise DataError("two random subspaces came out intersecting; try another seed")
        return bases

    if q < 2:
        raise DataError("overlapping subspaces need subspace_dim >= 2 (lines sharing a direction are equal)")
    needed = K * (q - 1) + 1
    if needed > D:
        raise DataError(f"overlapping subspaces need ambient_dim >= n_clusters·(subspace_dim-1)+1 = {needed}, got {D}")
    directions = rng.standard_normal((D, needed))  # generic, hence linearly independent, directions
    shared = directions[:, :K + 1]
    fresh = directions[:, K + 1:]
    bases = []
    for k in range(K):
        own = fresh[:, k * (q - 2):(k + 1) * (q - 2)]
        bases.append(np.linalg.qr(np.hstack([shared[:, k:k + 2], own]))[0])
    return bases


def make_subspaces(n_clusters: int = 5, subspace_dim: int = 3, ambient_dim: int = 30, n_per_cluster: int = 100,
                   noise: float = 0.0, relation: str = "independent", angle_deg: float | None = None,
                   seed: int = 0, union_dim: int | None = None) -> Dataset:
    """Points on a union of K subspaces (see :func:`make_subspace_bases` for ``relation``).

    Each point is ``U_k @ c`` with ``c ~ N(0, I_q)``, plus ``noise · N(0, I_D)``; values are not
    scaled. Points are generated cluster by cluster, then shuffled (labels with them) by ``seed``.
    """
    bases = make_subspace_bases(n_clusters, subspace_dim, ambient_dim, relation, angle_deg, seed, union_dim)
    n = _positive_int(n_per_cluster, "n_per_cluster")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating, np.integer)) \
            or not np.isfinite(noise) or noise < 0:
        raise DataError(f"noise must be a finite number >= 0, got {noise!r}")
    # Separate streams: the same seed gives the same clean points and order whatever the noise.
    coef_rng, noise_rng, order_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), 2]).spawn(3))
    K, q, D = len(bases), bases[0].shape[1], bases[0].shape[0]
    X = np.vstack([(U @ coef_rng.standard_normal((q, n))).T for U in bases])
    if noise > 0:
        X = X + float(noise) * noise_rng.standard_normal((K * n, D))
    y = np.repeat(np.arange(K, dtype=np.int64), n)
    order = order_rng.permutation(K * n)
    return Dataset(X[order].astype(np.float32), y[order], "synthetic", None, None)
