"""The training phases of SSCN, free of any UI: they report through a callback and honour a stop flag.

Phases, in order: ``n_clusters`` (K estimated from the data without labels, ``n_clusters="auto"``),
``model_choice`` (a front-end chosen among candidates without labels),
``features`` (a front-end such as scattering, when used), ``pretrain`` (auto-encoder
reconstruction), ``paper_start`` (beyond the paper, for teaching: a discarded copy of h trained from
the paper's random start, to compare with Theorem 1's optimum), ``self_expression`` (Definition 3 on mini-batches),
``pseudo_labels`` (spectral post-processing of Q), ``classifier`` (R on the Stiefel manifold with
Cayley-Adam, H frozen: cross-entropy on the pseudo-labels, or the Q-driven triplet loss with no
pseudo-labels), ``self_training`` (beyond the paper: the classifier's assignments feed back into
encoder and h) and ``student`` (beyond the paper: a small conv net distilled from the fitted model,
:mod:`sscn_core.student`).
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from .health import AGREEMENT_MIN
from .models import AutoEncoder, SSCNNetwork
from .theory import half_weight_lambda
from .stiefel import CayleyAdam

# The phases in the order they run (the one declaration of that order), with their labels.
PHASE_LABELS = {"n_clusters": "number of clusters (K)", "model_choice": "model choice", "features": "features (front-end)", "pretrain": "pre-training",
                "paper_start": "the paper's start (comparison)", "self_expression": "self-expression",
                "pseudo_labels": "pseudo-labels", "classifier": "classifier", "self_training": "self-training",
                "student": "student (distillation)"}
PHASES = tuple(PHASE_LABELS)
LOSS_TERMS = ("total", "q_norm", "self_expression", "reconstruction", "classifier", "balance", "distillation")
CACHED = "cached"   # the key of a "done" event's losses that says the phase was read from a cache


@dataclass
class TrainingEvent:
    """One progress report from a running fit.

    kind: "phase" (a phase starts; step 0), "step" (after an optimisation step) or "done" (a phase
    ended). ``losses`` holds the terms of this step (keys from LOSS_TERMS); the "done" event of a
    phase whose result was read from a cache instead of trained holds ``{CACHED: 1.0}`` (and the
    phase has no steps). ``model`` is the estimator being fitted (None when the trainer runs without one).
    """

    kind: str
    phase: str
    step: int
    total_steps: int
    losses: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    model: Any = None


class TrainingStopped(Exception):
    """Raised inside a phase when the stop flag is set; the estimator catches it."""


Reporter = Callable[[TrainingEvent], None]


@dataclass
class FitRun:
    """What the phases of one ``SSCN.fit`` share (each phase reads it and fills in what later ones need)."""

    features: torch.Tensor
    device: torch.device
    generator: torch.Generator
    report: Reporter
    common: dict[str, Any]    # the keyword arguments every phase function takes: device, generator, report, ...
    settings: dict[str, Any]  # the plan's value of each setting
    h_train: torch.Tensor | None = None
    labels: np.ndarray | None = None
    pixels: torch.Tensor | None = None     # the training rows as given (the student reads them)
    eigenpairs: tuple[torch.Tensor, torch.Tensor] | None = None   # of the features' second moment, once computed


class BatchTerms(Protocol):
    """Definition 3's terms of a batch computed elsewhere (e.g. row-sharded across processes)."""

    def terms(self, x: torch.Tensor, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms (or this process's share of them) of batch ``x[idx]``."""

    def batch_values(self, loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        """The whole batch's loss ("total") and terms as floats."""


@dataclass
class Phase:
    """Bookkeeping of one running phase: step counter, timing, history and the stop flag."""

    name: str
    total_steps: int
    report: Reporter
    stop_flag: threading.Event
    history: list[dict[str, Any]]
    started: float = field(default_factory=time.perf_counter)
    step: int = 0

    def begin(self) -> None:
        """Announce the phase."""
        self.report(TrainingEvent("phase", self.name, 0, self.total_steps))

    def check_stop(self) -> None:
        """Raise TrainingStopped when a stop was requested."""
        if self.stop_flag.is_set():
            raise TrainingStopped(self.name)

    def record(self, losses: dict[str, float]) -> None:
        """Count a step, store its losses and report it."""
        self.step += 1
        elapsed = time.perf_counter() - self.started
        self.history.append({"phase": self.name, "step": self.step, **losses})
        self.report(TrainingEvent("step", self.name, self.step, self.total_steps, losses, elapsed))
        self.check_stop()

    def end(self) -> float:
        """Announce the end of the phase; returns its wall time in seconds."""
        elapsed = time.perf_counter() - self.started
        self.report(TrainingEvent("done", self.name, self.step, self.total_steps, {}, elapsed))
        return elapsed


def batches(n: int, batch_size: int, generator: torch.Generator, *, drop_last: bool = True) -> Iterator[torch.Tensor]:
    """Shuffled index batches over range(n), one epoch. With drop_last, a batch larger than n is cut to n."""
    batch_size = min(batch_size, n)
    order = torch.randperm(n, generator=generator)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Number of drop_last batches per epoch."""
    return max(1, n // min(batch_size, n))


@dataclass
class Convergence:
    """Stop rule of a phase: the relative improvement between the mean losses of two consecutive windows.

    ``tol`` None means a fixed schedule (the paper's epochs): the phase runs its budget and the
    measure is only reported. Otherwise the phase ends as soon as the last window's mean loss
    improves on the best earlier window's by less than ``tol`` (relative) — the loss has stopped
    going down (a start at Theorem 1's optimum ends after two windows) — or when its step budget
    runs out first (``converged`` stays False and the report says so).
    """

    tol: float | None
    window: int
    losses: list[float] = field(default_factory=list)
    converged: bool = False
    change: float = float("nan")
    best: float = float("inf")
    stationary_start: bool = False
    predictions_settled: bool = False
    _predictions: Any = None
    _unchanged: int = 0

    def settled(self, predictions: torch.Tensor, targets: torch.Tensor) -> bool:
        """Record a classifier's predictions on its training points at the end of a window; True (the phase
        may stop) once they reproduce at least AGREEMENT_MIN of the ``targets`` (its pseudo-labels; the level
        below which :mod:`sscn_core.health` warns) and have not changed over PREDICTION_PATIENCE windows in a
        row. Its partition is then final: further steps only sharpen the confidences, which with a
        temperature can go on lowering the loss by a percent a window long after every prediction has
        settled. Never with a fixed schedule (``tol`` None)."""
        if self.tol is None:
            return False
        same = self._predictions is not None and bool(torch.equal(predictions, self._predictions))
        self._unchanged = self._unchanged + 1 if same else 0
        self._predictions = predictions
        agreement = float((predictions == targets).double().mean())
        if self._unchanged >= PREDICTION_PATIENCE and agreement >= AGREEMENT_MIN:
            self.converged = self.predictions_settled = True
        return self.predictions_settled

    def update(self, loss: float) -> bool:
        """Record one step's loss; True when the phase may stop."""
        self.losses.append(loss)
        w = self.window
        if len(self.losses) % w == 0:
            last = sum(self.losses[-w:]) / w
            if len(self.losses) >= 2 * w:
                self.change = (self.best - last) / max(abs(self.best), 1e-30)   # negative: no better than before
                if self.tol is not None and self.change < self.tol:
                    self.converged = True
            self.best = min(self.best, last)
        return self.converged

    def summary(self, budget: int) -> dict[str, Any]:
        """What the report shows: steps taken, budget, last relative change and whether it converged."""
        stopped_by = "tolerance" if self.converged else ("schedule" if self.tol is None else "budget")
        if self.predictions_settled:
            stopped_by = "predictions settled"
        return {"steps": len(self.losses), "budget": budget, "tol": self.tol, "relative_change": self.change,
                "converged": self.converged, "stopped_by": "stationary start" if self.stationary_start else stopped_by}


PREDICTION_PATIENCE = 3   # windows without a changed prediction after which the classifier phase ends


STATIONARY = 1e-2   # the terms' gradients cancel to within 1 % of their sizes: a stationary point


def stationarity(parts: list[torch.Tensor], params: list[torch.Tensor]) -> float:
    """A scale-free first-order optimality measure: ‖∇Σ parts‖ / Σ‖∇ part‖ (0 at a stationary point).

    ``parts`` are the loss's weighted terms. At a stationary point their gradients cancel; from a
    random start they do not (the measure is then near 1). Unlike ‖∇L‖·‖θ‖/|L| it does not grow
    with the weights λ: at Theorem 1's closed form on Extended Yale B it is 1e-5 (λ = 0.5) to 3e-3
    (λ = 15) in float32, from Xavier's start 1.0. 0 when no term has a gradient.
    """
    grads = [torch.autograd.grad(part, params, retain_graph=True, allow_unused=True) for part in parts]

    def norm(tensors: Any) -> float:
        return math.sqrt(sum(float((t.double() ** 2).sum()) for t in tensors if t is not None))

    total = [sum(g[i].double() for g in grads if g[i] is not None) for i in range(len(params))]
    scale = sum(norm(g) for g in grads)
    return norm([t for t in total if isinstance(t, torch.Tensor)]) / scale if scale > 0 else 0.0


def cycle_batches(n: int, batch_size: int, generator: torch.Generator, steps: int) -> Iterator[torch.Tensor]:
    """``steps`` shuffled drop_last batches, epoch after epoch."""
    done = 0
    while done < steps:
        for idx in batches(n, batch_size, generator):
            if done == steps:
                return
            done += 1
            yield idx


def _sq(t: torch.Tensor, reduction: str) -> torch.Tensor:
    return (t * t).sum() if reduction == "sum" else (t * t).mean()


def definition3_terms(q: torch.Tensor, z: torch.Tensor, x: torch.Tensor, decode: Callable[[torch.Tensor], torch.Tensor],
                      reduction: str = "sum") -> dict[str, torch.Tensor]:
    """The three terms of Definition 3 for a self-expression matrix ``q`` (each already halved).

    q_norm = ½‖Q‖², self_expression = ½‖Z − QZ‖², reconstruction = ½‖X − dec(QZ)‖².
    ``reduction="mean"`` averages squared entries instead of summing them.
    """
    qz = q @ z
    return {
        "q_norm": 0.5 * _sq(q, reduction),
        "self_expression": 0.5 * _sq(z - qz, reduction),
        "reconstruction": 0.5 * _sq(x.reshape(x.shape[0], -1) - decode(qz), reduction),
    }


def metric_terms(h: torch.Tensor, z: torch.Tensor, x: torch.Tensor, decode: Callable[[torch.Tensor], torch.Tensor],
                 reduction: str = "sum") -> dict[str, torch.Tensor]:
    """Definition 3's terms for Q = H Hᵀ (``h`` holds a batch's rows of H), computed through H.

    The same numbers as ``definition3_terms(h @ h.T, …)`` without forming the B × B matrix Q:
    ‖Q‖² = ‖HᵀH‖² (a d_H × d_H matrix) and QZ = H (Hᵀ Z). A step then costs O(B·d_H·D) instead of
    O(B²·D): on 2,000 images with D = 500 and d_H = 90, about ten times less.
    """
    gram = h.T @ h
    qz = h @ (h.T @ z)
    q_norm = (gram * gram).sum() if reduction == "sum" else (gram * gram).sum() / h.shape[0] ** 2
    return {
        "q_norm": 0.5 * q_norm,
        "self_expression": 0.5 * _sq(z - qz, reduction),
        "reconstruction": 0.5 * _sq(x.reshape(x.shape[0], -1) - decode(qz), reduction),
    }


def self_expression_terms(net: SSCNNetwork, x: torch.Tensor, reduction: str = "sum") -> dict[str, torch.Tensor]:
    """Definition 3's terms on one batch with the learned metric Q = H Hᵀ."""
    z, h = net.embed(x)
    return metric_terms(h, z, x, net.autoencoder.decode, reduction)


def pretrain_autoencoder(autoencoder: AutoEncoder, x: torch.Tensor, *, epochs: int, batch_size: int | None,
                         lr: float, device: torch.device, generator: torch.Generator, report: Reporter,
                         stop_flag: threading.Event, history: list[dict[str, Any]],
                         convergence: Convergence | None = None) -> float:
    """Train the auto-encoder on reconstruction alone (Adam on the batch's sum of squared errors) for at
    most ``epochs`` epochs; with a ``convergence`` rule of a set tolerance the phase ends once the loss
    has settled. Returns seconds.

    The loss recorded (and fed to ``convergence``) is the batch's sum of squares per point. Every
    drop_last batch holds the same number of points, so the steps of an epoch are comparable and a
    window's mean is a mean over (almost) all points; per point, the number also reads the same
    whatever the batch size (the full batch's sum grows with N). Adam's steps do not depend on that
    scale, so the objective stays the paper's sum.
    """
    n = x.shape[0]
    bs = n if batch_size is None else min(batch_size, n)
    phase = Phase("pretrain", epochs * steps_per_epoch(n, bs), report, stop_flag, history)
    phase.begin()
    params = list(autoencoder.parameters())
    if params:
        opt = torch.optim.Adam(params, lr=lr)
        autoencoder.train()
        for idx in cycle_batches(n, bs, generator, phase.total_steps):
            xb = x[idx].to(device, non_blocking=True)
            loss = _sq(xb.reshape(xb.shape[0], -1) - autoencoder.decode(autoencoder.encode(xb)), "sum")
            per_point = loss.item() / xb.shape[0]
            if not math.isfinite(per_point):
                raise FloatingPointError(_pretrain_diverged(f"the reconstruction loss became {loss.item()} at "
                                                            f"step {phase.step + 1}", lr))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            phase.record({"total": per_point, "reconstruction": per_point})
            if convergence is not None and convergence.update(per_point):
                break
        if not all(bool(torch.isfinite(p).all()) for p in params):
            raise FloatingPointError(_pretrain_diverged("the weights became NaN or infinite", lr))
    return phase.end()


def _pretrain_diverged(what: str, lr: float) -> str:
    return f"pre-training diverged: {what}; lower the learning rate (pretrain_lr={lr:g}) or scale the data to about [0, 1]"


def train_self_expression(net: SSCNNetwork, x: torch.Tensor, *, steps: int, batch_size: int, lr: float,
                          lambda1: float, lambda2: float, reduction: str, device: torch.device,
                          generator: torch.Generator, report: Reporter, stop_flag: threading.Event,
                          history: list[dict[str, Any]], sharded: BatchTerms | None = None,
                          convergence: Convergence | None = None, phase_name: str = "self_expression") -> float:
    """Adam on encoder, decoder and h jointly with the loss of Definition 3, at most ``steps`` batches.

    ``sharded``: computes each batch's terms instead of this process alone (under torch.distributed,
    ``distributed.ShardedSelfExpression``: each process a row block of every batch). With a
    ``convergence`` rule of a set tolerance the phase ends once the loss has settled. ``phase_name``:
    what the steps are reported and recorded as ("paper_start" for the comparison run). Returns seconds.
    """
    n = x.shape[0]
    phase = Phase(phase_name, steps, report, stop_flag, history)
    phase.begin()
    params = list(net.autoencoder.parameters()) + list(net.h.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    net.train()
    if convergence is not None and convergence.tol is not None and sharded is None and batch_size >= n:
        # Full batch: when the start is already a stationary point (Theorem 1's optimum for the linear
        # model), Adam's normalised steps would only move away from it.
        terms = self_expression_terms(net, x.to(device), reduction)
        parts = [terms["q_norm"], lambda1 * terms["self_expression"], lambda2 * terms["reconstruction"]]
        loss = sum(parts)
        if stationarity(parts, params) < STATIONARY:
            convergence.converged = convergence.stationary_start = True
            # One point of history: the loss of the start, which is the optimum (nothing is stepped).
            phase.record({"total": loss.item(), **{k: v.item() for k, v in terms.items()}})
            return phase.end()
    for idx in cycle_batches(n, batch_size, generator, steps):
        if sharded is None:
            terms = self_expression_terms(net, x[idx].to(device, non_blocking=True), reduction)
        else:
            terms = sharded.terms(x, idx)
        loss = terms["q_norm"] + lambda1 * terms["self_expression"] + lambda2 * terms["reconstruction"]
        values = {"total": loss.item(), **{k: v.item() for k, v in terms.items()}} if sharded is None \
            else sharded.batch_values(loss, terms)
        if not math.isfinite(values["total"]):
            raise FloatingPointError(
                f"the self-expression loss became {values['total']} at step {phase.step + 1}; "
                f"lower the learning rate (lr={lr}) or the λ's, or check the input for NaN/inf")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        phase.record(values)
        if convergence is not None and convergence.update(values["total"]):
            break
    return phase.end()


def train_classifier(net: SSCNNetwork, h: torch.Tensor, labels: torch.Tensor, *, steps: int, batch_size: int,
                     iters_per_batch: int, lr: float, device: torch.device, generator: torch.Generator,
                     report: Reporter, stop_flag: threading.Event, history: list[dict[str, Any]],
                     convergence: Convergence | None = None) -> float:
    """Train R alone (H frozen) on cross-entropy against pseudo-labels, with Cayley-Adam.

    ``steps`` counts optimiser steps (``iters_per_batch`` per batch, as the reference does). With a
    ``convergence`` rule of a set tolerance the phase ends once the loss has settled, or once the predictions
    on the training points reproduce its pseudo-labels and have stopped changing (:meth:`Convergence.settled`,
    checked at the end of each window). Returns seconds.
    """
    n = h.shape[0]
    phase = Phase("classifier", steps, report, stop_flag, history)
    phase.begin()
    opt = CayleyAdam([net.classifier.R], lr=lr)
    for idx in cycle_batches(n, batch_size, generator, math.ceil(steps / iters_per_batch)):
        hb = h[idx].to(device, non_blocking=True)
        yb = labels[idx].to(device, non_blocking=True)
        for _ in range(min(iters_per_batch, steps - phase.step)):
            loss = F.cross_entropy(net.classifier(hb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            phase.record({"total": loss.item(), "classifier": loss.item()})
            if convergence is not None and convergence.update(loss.item()):
                return phase.end()
            if convergence is not None and len(convergence.losses) % convergence.window == 0 \
                    and convergence.settled(_predictions(net, h, device), labels):
                return phase.end()
    return phase.end()


@torch.no_grad()
def _predictions(net: SSCNNetwork, h: torch.Tensor, device: torch.device, chunk: int = 8192) -> torch.Tensor:
    """The classifier's clusters for rows of H (on the CPU), computed in chunks on ``device``."""
    return torch.cat([net.classifier(h[i:i + chunk].to(device)).argmax(dim=1).cpu()
                      for i in range(0, h.shape[0], chunk)])


@torch.no_grad()
def subspace_rotation(h: torch.Tensor, labels: torch.Tensor, n_clusters: int, subspace_dim: int) -> torch.Tensor:
    """A starting R that puts each pseudo-cluster's span into its own block (beyond the paper).

    For cluster k, the top ``subspace_dim`` right singular vectors of its rows of H form the
    columns of block k of B (fewer when the cluster spans fewer directions: zero columns); R is the
    orthogonal polar factor of B (the rotation nearest to B). At Theorem 1's optimum on
    independent subspaces the clusters' spans are mutually orthogonal, so B is already a rotation
    and every point's energy lies inside its own block: the classifier starts exact.
    """
    h = h.double()
    d = h.shape[1]
    basis = torch.zeros(d, d, dtype=torch.float64, device=h.device)
    for k in range(n_clusters):
        rows = h[labels.to(h.device) == k]
        if rows.shape[0] == 0:
            continue
        _, s, vt = torch.linalg.svd(rows, full_matrices=False)
        keep = min(subspace_dim, int((s > s[0].clamp_min(1e-300) * 1e-6).sum()))
        basis[:, k * subspace_dim:k * subspace_dim + keep] = vt[:keep].T
    u, _, vt = torch.linalg.svd(basis)
    return (u @ vt).float()


@torch.no_grad()
def embed_all(net: SSCNNetwork, x: torch.Tensor, device: torch.device, batch_size: int = 2048,
              space: str = "h", *, raw: bool = True) -> torch.Tensor:
    """Forward ``x`` in batches; return Z, H, the rotated H R or the classifier's logits on the CPU.

    ``space`` is "z", "h", "rotated" or "logits"; memory stays flat in N. ``raw=False`` means
    ``x`` already holds front-end features.
    """
    was_training = net.training
    net.eval()
    out = []
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        if raw:
            xb = net.frontend(xb)
        z, h = net.embed(xb.to(device, non_blocking=True))
        if space == "z":
            part = z
        elif space == "h":
            part = h
        elif space == "rotated":
            part = net.classifier.rotate(h)
        elif space == "logits":
            part = net.classifier(h)
        else:
            raise ValueError(f"space must be 'z', 'h', 'rotated' or 'logits', got {space!r}")
        out.append(part.float().cpu())
    net.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


@torch.no_grad()
def calibration_scale(logits: torch.Tensor, targets: torch.Tensor, smoothing: float = 0.01) -> float:
    """Temperature scaling: the s > 0 for which softmax(s · logits) best fits the targets smoothed by ``smoothing``.

    Minimises the cross-entropy against (1 − ε)·one-hot + ε/K over a log grid of s spanning nine
    decades around 1 / (median gap between the two largest logits). The smoothing keeps s finite
    when every point is classified as its target. Returns 1.0 when the logits carry no spread.
    """
    z = logits.double()
    k = z.shape[1]
    if z.shape[0] == 0 or k < 2:
        return 1.0
    top2 = z.topk(2, dim=1).values
    gap = float((top2[:, 0] - top2[:, 1]).median())
    if not math.isfinite(gap) or gap <= 0:
        return 1.0
    target = torch.full_like(z, smoothing / k)
    target[torch.arange(z.shape[0]), targets.long()] += 1.0 - smoothing
    scales = torch.logspace(-3, 6, 361, dtype=torch.float64) / gap
    losses = torch.stack([-(target * torch.log_softmax(z * s, dim=1)).sum(dim=1).mean() for s in scales])
    return float(scales[int(torch.argmin(losses))])


# ---------------------------------------------------------------------------- beyond the paper
@torch.no_grad()
def second_moment_eigenpairs(net: SSCNNetwork, features: torch.Tensor, *, batch_size: int, device: torch.device,
                             chunk: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and eigenvectors of the mini-batch second moment (B/N)·ZᵀZ of
    Z = enc(features), float64, accumulated in chunks (memory d_Z², flat in N)."""
    n = features.shape[0]
    d_z = net.h.latent_dim
    second = torch.zeros(d_z, d_z, dtype=torch.float64, device=device)
    was_training = net.training
    net.eval()
    for start in range(0, n, chunk):
        z = net.autoencoder.encode(features[start:start + chunk].to(device)).double()
        second += z.T @ z
    net.train(was_training)
    second *= min(batch_size, n) / n
    values, vectors = torch.linalg.eigh(second)
    return values.flip(0), vectors.flip(1)


@torch.no_grad()
def closed_form_h_init(net: SSCNNetwork, features: torch.Tensor, *, lam: float | None, batch_size: int,
                       device: torch.device, chunk: int = 2048, default_lam: float = 1.5,
                       eigenpairs: tuple[torch.Tensor, torch.Tensor] | None = None) -> float:
    """Start h at Theorem 1's optimum for the current encoder: W = diag(√(λ/(1+λs²))) Vᵀ; returns λ.

    s² and V are the eigenpairs of the mini-batch second moment (B/N)·ZᵀZ of Z = enc(features)
    (:func:`second_moment_eigenpairs`); the d_H largest directions are kept (the best rank-d_H
    solution, see ``theory.theorem1_solution``) and rows beyond rank(Z) (eigenvalues under 1e-8 of
    the largest) stay zero. ``lam=None``: λ = ``theory.half_weight_lambda`` of these eigenvalues (the
    d_H-th direction at half weight), or ``default_lam`` where h has room for every direction.
    ``eigenpairs``: those of :func:`second_moment_eigenpairs` for these features, when already computed. With Z = X (no auto-encoder) this is the exact minimiser of the
    expected mini-batch loss up to batch-to-batch fluctuation, so training only refines it; from
    Xavier's random start 30 epochs land far from it (the paper's seed-to-seed spread).
    """
    values, vectors = eigenpairs if eigenpairs is not None else \
        second_moment_eigenpairs(net, features, batch_size=batch_size, device=device, chunk=chunk)
    if lam is None:
        lam = half_weight_lambda(values.cpu().numpy(), net.h.embed_dim) or default_lam
    # Directions of (numerically) zero variance are not part of Theorem 1's solution: their weight
    # would be √λ and would only amplify whatever a new point has outside the data's span.
    rank = int((values > values[0].clamp_min(1e-300) * 1e-8).sum())
    keep = min(net.h.embed_dim, rank)
    values, vectors = values[:keep], vectors[:, :keep]
    weight = torch.zeros(net.h.embed_dim, net.h.latent_dim, dtype=torch.float64, device=device)
    weight[:keep] = torch.sqrt(lam / (1.0 + lam * values))[:, None] * vectors.T
    net.h.linear.weight.copy_(weight.to(net.h.linear.weight.dtype))
    return float(lam)


def triplet_terms(probs: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor, margin: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Q-driven triplet loss on cluster probabilities, and the balance term.

    ``probs`` (B, K); ``positives``/``negatives`` (B, k) indices into the batch. The triplet term is
    mean max(0, margin + ‖p_i − p_pos‖² − ‖p_i − p_neg‖²); the balance term is −entropy of the
    batch's mean probability (minimal when clusters are used equally), which keeps the trivial
    all-in-one-cluster solution away.
    """
    d_pos = ((probs[:, None, :] - probs[positives]) ** 2).sum(dim=-1)
    d_neg = ((probs[:, None, :] - probs[negatives]) ** 2).sum(dim=-1)
    triplet = F.relu(margin + d_pos - d_neg).mean()
    mean = probs.mean(dim=0)
    balance = (mean * mean.clamp_min(1e-12).log()).sum()
    return triplet, balance


def q_neighbours(h: torch.Tensor, k: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of a batch: the k largest |Q_ij| (j ≠ i) of Q = H Hᵀ as positives, k uniform negatives."""
    q = (h @ h.T).abs()
    q.fill_diagonal_(-1.0)
    k = min(k, h.shape[0] - 1)
    positives = q.topk(k, dim=1).indices
    negatives = torch.randint(0, h.shape[0], (h.shape[0], k), generator=generator).to(h.device)
    return positives, negatives


def train_classifier_triplet(net: SSCNNetwork, h: torch.Tensor, *, epochs: int, batch_size: int,
                             iters_per_batch: int, lr: float, neighbors: int, margin: float, balance: float,
                             device: torch.device, generator: torch.Generator, report: Reporter,
                             stop_flag: threading.Event, history: list[dict[str, Any]]) -> float:
    """Train R alone (H frozen) with the Q-driven triplet loss: no pseudo-labels, no spectral step.

    In each batch, a point's ``neighbors`` largest |Q_ij| are its positives (they should share its
    block), uniform batch members its negatives; loss = triplet + ``balance`` · (−entropy of the
    mean assignment). This is the paper's proposed future work. Returns seconds.
    """
    n = h.shape[0]
    total = epochs * steps_per_epoch(n, batch_size) * iters_per_batch
    phase = Phase("classifier", total, report, stop_flag, history)
    phase.begin()
    # Start from a random rotation: at the identity, H's leading directions (most of every point's
    # energy) all sit in block 0 and the triplet loss has to pull them apart first.
    with torch.no_grad():
        d = net.classifier.R.shape[0]
        rotation, _ = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
        net.classifier.R.copy_(rotation.to(net.classifier.R))
    opt = CayleyAdam([net.classifier.R], lr=lr)
    for _ in range(epochs):
        for idx in batches(n, batch_size, generator):
            hb = h[idx].to(device, non_blocking=True)
            positives, negatives = q_neighbours(hb, neighbors, generator)
            for _ in range(iters_per_batch):
                probs = torch.softmax(net.classifier(hb), dim=1)
                triplet, spread = triplet_terms(probs, positives, negatives, margin)
                loss = triplet + balance * spread
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                phase.record({"total": loss.item(), "classifier": triplet.item(), "balance": spread.item()})
    return phase.end()


def self_train(net: SSCNNetwork, x: torch.Tensor, *, rounds: int, epochs: int, batch_size: int, lr: float,
               classifier_lr: float, lambda1: float, lambda2: float, lambda3: float, confidence: float,
               reduction: str, device: torch.device, generator: torch.Generator, report: Reporter,
               stop_flag: threading.Event, history: list[dict[str, Any]]) -> float:
    """End-to-end self-training: the classifier's confident assignments feed back into encoder and h.

    Each round labels all points with the current classifier (kept when its probability is at least
    ``confidence``), then trains auto-encoder and h (Adam, ``lr``) and R (Cayley-Adam,
    ``classifier_lr``) jointly on Definition 3 plus ``lambda3`` · cross-entropy of the labelled
    points of the batch (summed or averaged like the other terms, by ``reduction``) — the λ3·L_clf
    term of the full SSCN objective. Returns seconds.
    """
    n = x.shape[0]
    phase = Phase("self_training", rounds * epochs * steps_per_epoch(n, batch_size), report, stop_flag, history)
    phase.begin()
    opt = torch.optim.Adam(list(net.autoencoder.parameters()) + list(net.h.parameters()), lr=lr)
    opt_r = CayleyAdam([net.classifier.R], lr=classifier_lr)
    for _ in range(rounds):
        probs = torch.softmax(embed_all(net, x, device, space="logits", raw=False).double(), dim=1)
        top, targets = probs.max(dim=1)
        keep = top >= confidence
        net.train()
        for _ in range(epochs):
            for idx in batches(n, batch_size, generator):
                xb = x[idx].to(device, non_blocking=True)
                z, h = net.embed(xb)
                terms = metric_terms(h, z, xb, net.autoencoder.decode, reduction)
                mask = keep[idx].to(device)
                ce = F.cross_entropy(net.classifier(h)[mask], targets[idx].to(device)[mask], reduction=reduction) \
                    if bool(mask.any()) else h.sum() * 0.0
                loss = terms["q_norm"] + lambda1 * terms["self_expression"] + lambda2 * terms["reconstruction"] \
                    + lambda3 * ce
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"the self-training loss became {loss.item()} at step {phase.step + 1}; "
                                             f"lower lr (={lr}) or lambda3 (={lambda3})")
                opt.zero_grad(set_to_none=True)
                opt_r.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                opt_r.step()
                phase.record({"total": loss.item(), **{k: v.item() for k, v in terms.items()}, "classifier": ce.item()})
    return phase.end()
