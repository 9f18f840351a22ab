"""The Theorem 1 playground: subspaces that are (or are not) independent, and linear SSCN learning Q*.

The settings (:class:`Playground`) describe K subspaces of dimension q in R^D and how they relate
(independent, dependent, overlapping); :func:`subspaces_report` says whether their union is
independent; :func:`run_playground` draws the data, computes the closed form Q* of Theorem 1 and
trains *linear* SSCN full batch, measuring ‖Q − Q*‖/‖Q*‖ as it goes. Shared by the explorer's
Learn tab and the notebooks.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .data import RELATIONS, Dataset, make_subspace_bases, make_subspaces
from .estimator import SSCN
from .metrics import accuracy, leakage_matrix, subspace_preserving_error
from .theory import IndependenceReport, TheoryError, independence_report, relative_error, theorem1_solution

RECORD_EVERY = 10            # steps between two measurements of ‖Q − Q*‖ / ‖Q*‖


@dataclass(frozen=True)
class Playground:
    """The settings of one experiment: the subspaces, the data drawn from them and linear SSCN's training."""

    relation: str = "independent"
    n_clusters: int = 4
    subspace_dim: int = 2
    ambient_dim: int = 20
    n_per_cluster: int = 40
    noise: float = 0.0
    angle_deg: float | None = None
    lam: float = 1.0
    steps: int = 600
    lr: float = 0.1
    rho: float = 0.5
    seed: int = 0

    @property
    def d_h(self) -> int:
        """d_H = K·q, the width of SSCN's embedding."""
        return self.n_clusters * self.subspace_dim

    @property
    def n_points(self) -> int:
        """N = K·n, every point in one full batch."""
        return self.n_clusters * self.n_per_cluster


EXAMPLES: dict[str, tuple[str, Playground]] = {
    "independent": ("Independent planes", Playground()),
    "lines": ("Lines in a plane", Playground(relation="dependent", n_clusters=4, subspace_dim=1)),
    "overlapping": ("Overlapping planes", Playground(relation="overlapping")),
    "close": ("Planes 10° apart", Playground(angle_deg=10.0)),
}


@dataclass(frozen=True)
class LearnResult:
    """What one playground run produced (arrays in the data's own order; ``labels`` are the true subspaces)."""

    params: Playground
    report: IndependenceReport
    labels: np.ndarray
    q_star: np.ndarray
    q: np.ndarray
    steps: tuple[int, ...]
    errors: tuple[float, ...]
    truncated: bool              # Theorem 1's d_H ≥ rank(X) failed (noise): Q* is the best rank-d_H solution
    acc: float                   # classifier's in-sample accuracy
    pseudo_acc: float            # spectral pseudo-labels' accuracy
    sp_error: float              # subspace-preserving error of the learned Q
    sp_error_star: float         # … and of Q*
    leakage: np.ndarray          # K×K, learned Q
    seconds: float
    stopped: bool = False
    agreement: float | None = None   # share of the pseudo-labels the classifier reproduces

    @property
    def final_error(self) -> float:
        """‖Q − Q*‖ / ‖Q*‖ at the end of training."""
        return float(self.errors[-1]) if self.errors else float("nan")


def subspaces_report(p: Playground) -> IndependenceReport:
    """The independence verdict of the *true* subspaces of ``p`` (raises DataError for impossible settings)."""
    return independence_report(make_subspace_bases(p.n_clusters, p.subspace_dim, p.ambient_dim, p.relation,
                                                   p.angle_deg, p.seed))


def draw(p: Playground) -> Dataset:
    """The labelled points of ``p``: ``n_per_cluster`` per subspace, with its noise (raises DataError)."""
    return make_subspaces(p.n_clusters, p.subspace_dim, p.ambient_dim, p.n_per_cluster, p.noise, p.relation,
                          p.angle_deg, p.seed)


def run_playground(p: Playground, progress: Callable[[float, str], None] | None = None) -> LearnResult:
    """Draw the data, compute Q* (Theorem 1) and train linear SSCN full batch, measuring ‖Q − Q*‖/‖Q*‖.

    ``progress(fraction, text)`` is called now and then from this thread. Raises DataError for
    impossible subspace settings.
    """
    report = subspaces_report(p)
    ds = draw(p)
    X, y = ds.X, ds.y
    truncated = False
    try:
        _, q_star = theorem1_solution(X, p.lam, p.d_h)
    except TheoryError:          # noise makes X full rank: d_H < rank(X), Theorem 1's condition fails
        _, q_star = theorem1_solution(X, p.lam, p.d_h, truncate=True)
        truncated = True
    steps: list[int] = []
    errors: list[float] = []
    notify = progress or (lambda fraction, text: None)

    def on_event(event) -> None:
        if event.phase != "self_expression":
            if event.kind == "phase":
                notify(1.0, f"{event.phase.replace('_', '-')}…")
            return
        if event.kind == "step" and (event.step % RECORD_EVERY == 0 or event.step == event.total_steps):
            steps.append(event.step)
            errors.append(relative_error(event.model.affinity(X), q_star))
            notify(event.step / max(1, event.total_steps),
                   f"step {event.step}/{event.total_steps}: ‖Q − Q*‖/‖Q*‖ = {errors[-1]:.1%}")

    # The library's defaults, except the choices that make the lesson: the λ the user picked (not
    # the spectrum's), h started at random and trained the chosen number of steps on X as given, to
    # watch Q reach Theorem 1's Q* (the defaults would start at Q* on unit rows and stop at once).
    model = SSCN(n_clusters=p.n_clusters, subspace_dim=p.subspace_dim, autoencoder=None, lambda1=p.lam, lambda2=0.0,
                 lambda_scale=1.0, h_init="random", schedule="epochs", normalize="none", epochs=p.steps, lr=p.lr,
                 rho=p.rho, device="cpu", seed=p.seed)
    start = time.perf_counter()
    model.fit(X, callback=on_event)
    seconds = time.perf_counter() - start
    q = model.affinity(X).astype(np.float64)
    labels = model.labels_ if model.labels_ is not None else model.predict(X)
    pseudo = model.pseudo_labels_
    return LearnResult(
        params=p, report=report, labels=y, q_star=q_star, q=q, steps=tuple(steps), errors=tuple(errors),
        truncated=truncated, acc=accuracy(y, labels),
        pseudo_acc=accuracy(y, pseudo) if pseudo is not None else float("nan"),
        sp_error=subspace_preserving_error(q, y), sp_error_star=subspace_preserving_error(q_star, y),
        leakage=leakage_matrix(q, y, p.n_clusters), seconds=seconds, stopped=bool(model.stopped_),
        agreement=getattr(model, "agreement_", None))
