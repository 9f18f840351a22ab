"""The label-free choices of a fit's first phases: K (n_clusters="auto", the "n_clusters" phase), and the
front-end (frontend="auto", the "model_choice" phase).

K is estimated before any other setting by the rule of :mod:`sscn_core.plan` (the self-consistent eigengap
against a structureless reference, :func:`~sscn_core.cluster_count.count_for_frontends`) through each
candidate front-end; the fit is then planned with it. Of the candidate front-ends, the fit keeps the one
whose Theorem-1 affinity is the more subspace-preserving on its own spectral clusters.

No labels are read: each candidate's features of a seeded sample of the training points get the linear
model's closed-form h (Theorem 1, at the λ the fit would set), whose affinity Q is post-processed into
clusters; the share of Q's mass across those clusters (:func:`~sscn_core.plan.cross_cluster_share`) is
measured on the whole sample and on seeded subsets of it, so that the margin between the candidates
comes with its noise (:func:`~sscn_core.plan.decide_frontend`).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .cluster_count import count_for_frontends, rivals
from .features import FrontEnd
from .models import SSCNNetwork
from .params import problems
from .plan import (CHOICE_FRACTION, CHOICE_RESAMPLES, COUNT_NULL_FACTOR, NORMALIZE_REASONS, VERDICT_ALPHA,
                   cross_cluster_share, decide_frontend, normalize_for, verdict_alpha)
from .postprocess import spectral_pseudo_labels
from .trainer import TrainingEvent, TrainingStopped, closed_form_h_init, embed_all

CHOICE_SAMPLE = 4000         # points (a seeded uniform sample) on which frontend="auto" compares its candidates


def choose_n_clusters(model: Any, x: torch.Tensor, report: Callable[[TrainingEvent], None],
                      device: torch.device | None = None) -> None:
    """n_clusters="auto" (the fit's "n_clusters" phase): K from the training rows ``x`` by the rule of
    :mod:`sscn_core.plan`, through each of the plan's candidate front-ends (a tuple in ``model.params_["frontend"]``
    when the fit chooses among them, else the planned one), at the user's α if given (else each front-end's
    verdict power), the model's ρ, post-processing and seed (:func:`~sscn_core.cluster_count.count_for_frontends`;
    no labels). Where several front-ends are candidates, a front-end's K counts first only when the front-end choice
    made with that K (:func:`choose_frontend`, on ``device``, cpu when None) keeps that front-end
    (:func:`~sscn_core.plan.count_frontend`). Then the fit is planned with K (``model._plan_count``: q, the rank, λ and the front-end choice
    follow it), which sets ``n_clusters_``, ``cluster_count_``, ``settings_["n_clusters"]`` and ``params_``;
    ``phase_times_["n_clusters"]`` is recorded before the phase's "done" event. A stop requested before or
    during the estimate raises TrainingStopped after the graph being built; a "step" event follows each graph."""
    start = time.perf_counter()
    planned = model.params_["frontend"]
    names = planned if isinstance(planned, tuple) else (planned,)
    report(TrainingEvent("phase", "n_clusters", 0, 1))
    if model._stop_event.is_set():
        raise TrainingStopped("n_clusters")
    frontends = {name: model._build_frontend(x.shape[1], name, normalize_for(name, None, model.normalize))
                 for name in names}
    def progress(done: int, total: int) -> None:
        report(TrainingEvent("step", "n_clusters", done, total, {}, time.perf_counter() - start))
        if model._stop_event.is_set():
            raise TrainingStopped("n_clusters")

    kept_at: dict[int, str | None] = {}      # front-ends with the same K share one choice

    def confirm(name: str, k: int) -> bool:
        if k not in kept_at:
            kept_at[k] = frontend_at(model, x, k, torch.device("cpu") if device is None else device)
        return kept_at[k] == name

    count = count_for_frontends(x, frontends, alpha=model.alpha, rho=model.rho, variant=model.postprocess,
                                seed=int(model.seed), default_lam=model.lambda1 + model.lambda2, progress=progress,
                                confirm=confirm if len(names) > 1 else None)
    if model._stop_event.is_set():
        raise TrainingStopped("n_clusters")
    model._plan_count(x, count)
    model.phase_times_["n_clusters"] = time.perf_counter() - start
    report(TrainingEvent("done", "n_clusters", 1, 1, {}, model.phase_times_["n_clusters"]))


def frontend_at(model: Any, x: torch.Tensor, n_clusters: int, device: torch.device) -> str | None:
    """The front-end :func:`choose_frontend` keeps on the rows ``x`` when the fit of ``model`` (whose K is
    still to be estimated) is planned with ``n_clusters``; None when that K does not go with its parameters.
    ``model`` itself is left as it was; a stop requested meanwhile raises TrainingStopped."""
    params = {**model.get_params(), "n_clusters": int(n_clusters), "image_shape": model.params_["image_shape"]}
    if problems(params):
        return None
    trial = type(model)(**{**model.get_params(), "n_clusters": int(n_clusters)})
    trial._stop_event = model._stop_event
    trial._plan(x, params)
    trial.n_clusters_, trial.phase_times_ = int(n_clusters), {}
    try:
        choose_frontend(trial, x, device, lambda event: None)
    except TrainingStopped:
        raise TrainingStopped("n_clusters") from None
    return trial.model_choice_["value"]


def count_reason(count: dict[str, Any]) -> str:
    """The one-line reason of an estimated K (``settings_["n_clusters"]``) from
    :func:`~sscn_core.cluster_count.count_for_frontends`'s result: K, its factor over the structureless
    reference, the runner-up, what was searched and through which front-end."""
    k, candidates = count["value"], count["candidates"]
    found = rivals(count)
    runner = f"runner-up K = {found['runner_up'][0]}, {found['runner_up'][1]:.3g}×" if found["runner_up"] else ""
    if found["unconfirmed"]:
        over = found["unconfirmed"]
        runner += (", " if runner else "") + (f"K = {over[0]} scored {over[1]:.3g}× but the graph built for it puts its "
                                              f"largest gap elsewhere")
    others = [f"{name}'s best K = {found['value']}, {found['factor']:.3g}×"
              + (f", not kept: the front-end choice made with K = {found['value']} keeps another front-end"
                 if found.get("confirmed") is False else "")
              for name, found in count["by_frontend"].items() if name != count["frontend"]]
    searched = (f"searched {candidates[0]}…{candidates[-1]} on {count['sample']:,} points through {count['frontend']}"
                + (f" ({'; '.join(others)})" if others else "") + "; no labels")
    if count["structure"]:
        return (f"estimated from the data: K = {k}, whose graph beats a structureless reference by "
                f"{count['factor']:.3g}×{f' ({runner})' if runner else ''}; {searched}")
    return (f"estimated from the data, but no K beat a structureless reference by {COUNT_NULL_FACTOR:g}× (best K = {k}, "
            f"{count['factor']:.3g}×{f'; {runner}' if runner else ''}): the data show no cluster structure, and K = {k} "
            f"is only the least bad; {searched}")


def choose_frontend(model: Any, x: torch.Tensor, device: torch.device, report: Callable[[TrainingEvent], None]
                    ) -> tuple[FrontEnd, torch.Tensor] | None:
    """frontend="auto": of the candidate front-ends of ``model`` (the SSCN being fitted; its ``params_["frontend"]``
    is a tuple), keep the one whose Theorem-1 affinity (at its own λ, as the fit would set it) is the more
    subspace-preserving on its own spectral clusters (:func:`~sscn_core.plan.cross_cluster_share`, no labels),
    with the margin's noise (:func:`~sscn_core.plan.decide_frontend`). Measured on a seeded sample of at most
    CHOICE_SAMPLE points and on CHOICE_RESAMPLES seeded subsets of it (the same Q restricted to the subset's
    points), each candidate's clusters made at the power α the fit would take with it (``plan.verdict_alpha``;
    α itself when given). Sets the model's
    ``params_``, ``settings_``, ``model_choice_`` and ``phase_times_["model_choice"]`` before the phase's "done"
    event; with alpha=None the power α too, which follows the verdict (``plan.verdict_alpha``). Returns the
    chosen front-end, fitted, with its features when the sample was every training point
    (else None)."""
    candidates, p = tuple(model.params_["frontend"]), model.params_
    start = time.perf_counter()
    stream = torch.Generator().manual_seed(int(model.seed))
    n = x.shape[0]
    sample = x
    if n > CHOICE_SAMPLE:
        sample = x[torch.randperm(n, generator=stream)[:CHOICE_SAMPLE].sort().values]
    m = sample.shape[0]
    subsets = [torch.randperm(m, generator=stream)[:max(2 * model.n_clusters_, round(CHOICE_FRACTION * m))].sort().values
               for _ in range(CHOICE_RESAMPLES)]
    total = len(candidates) * (1 + len(subsets))
    report(TrainingEvent("phase", "model_choice", 0, total))
    shares: dict[str, float] = {}
    resampled: dict[str, list[float]] = {}
    fitted: dict[str, tuple[FrontEnd, torch.Tensor]] = {}
    share_of = dict(n_clusters=model.n_clusters_, subspace_dim=p["subspace_dim"], rho=model.rho, seed=int(model.seed),
                    restarts=model.n_restarts, variant=model.postprocess)
    done = 0
    for name in candidates:
        front = model._build_frontend(x.shape[1], name, normalize_for(name, None, model.normalize)).to(device)
        features = front.fit_transform(sample)
        fitted[name] = (front, features)
        net = model._build_network(front, torch.Generator().manual_seed(int(model.seed)), None).to(device)
        q = choice_affinity(net, features, device, lam=model._self_expression_lam(),
                            default_lam=model.lambda1 + model.lambda2, batch_size=p["batch_size"])
        alpha = verdict_alpha(name, n, model.n_clusters_)[0] if isinstance(p["alpha"], tuple) else p["alpha"]
        scores = []
        for idx in (None, *subsets):
            share = choice_share(q if idx is None else q[np.ix_(idx.numpy(), idx.numpy())], alpha, **share_of)
            scores.append(share)
            done += 1
            report(TrainingEvent("step", "model_choice", done, total, {"total": scores[-1]},
                                 time.perf_counter() - start))
            if model._stop_event.is_set():
                raise TrainingStopped("model_choice")
        shares[name], resampled[name] = scores[0], scores[1:]
    decision = decide_frontend(shares, resampled)
    model.model_choice_ = {"shares": shares, "resampled": resampled,
                           **{key: decision[key] for key in ("value", "runner_up", "margin", "noise", "clear")}}
    p["frontend"], p["normalize"] = decision["value"], normalize_for(decision["value"], None, model.normalize)
    model.settings_["frontend"] = {"value": decision["value"], "reason": (
        f"{decision['reason']}; Theorem-1 start on {m:,} points, no labels")}
    if model.normalize == "auto":
        model.settings_["normalize"] = {"value": p["normalize"], "reason": NORMALIZE_REASONS[(p["normalize"], True)]}
    if isinstance(p["alpha"], tuple) and decision["value"] in VERDICT_ALPHA:     # alpha=None: it follows the verdict
        p["alpha"], reason = verdict_alpha(decision["value"], n, model.n_clusters_)
        model.settings_["alpha"] = {"value": p["alpha"], "reason": reason}
    model.phase_times_["model_choice"] = time.perf_counter() - start
    report(TrainingEvent("done", "model_choice", total, total, {}, model.phase_times_["model_choice"]))
    return fitted[decision["value"]] if m == n else None


def choice_affinity(net: SSCNNetwork, features: torch.Tensor, device: torch.device, *, lam: float | None,
                    default_lam: float, batch_size: int) -> np.ndarray:
    """A candidate's Theorem-1 affinity Q of these features: ``net`` (the linear model on the candidate's
    front-end) with h at the closed form for ``lam`` (None: the rule, ``theory.half_weight_lambda``, with
    ``default_lam`` where it sets none), as the fit would start it."""
    closed_form_h_init(net, features, lam=lam, default_lam=default_lam,
                       batch_size=min(batch_size, features.shape[0]), device=device)
    h = embed_all(net, features, device, raw=False).double()
    return (h @ h.T).numpy()


def choice_share(q: np.ndarray, alpha: float, *, n_clusters: int, subspace_dim: int, rho: float,
                 seed: int, restarts: int, variant: str) -> float:
    """The cross-cluster share of an affinity's own spectral clusters, post-processed with power ``alpha``."""
    labels = spectral_pseudo_labels(q, n_clusters, subspace_dim, rho=rho, alpha=alpha, seed=seed, restarts=restarts,
                                    variant=variant)
    return cross_cluster_share(q, labels, n_clusters)
