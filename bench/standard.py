"""The field's standard image sets under one protocol: ``python -m bench.standard``.

Protocol, fixed before any result was seen and the same for every data set:

* data: Extended Yale B (2,414 faces, 38 people, 32×32, bundled), the MNIST test set (10k, bundled),
  the Fashion-MNIST test set (10k, from ``../shared`` or a download) and scikit-learn's 8×8 digits
  (1,797); pixels in [0, 1]; K = the number of classes; every other setting from the library's plan
  (``sscn_core.plan``: q = min(9, ⌊N / 3K⌋), the front-end chosen without labels, ...); labels are
  used only to score.
* methods (each seeded, each in its own process, so its peak memory is its own):
  ``sscn`` — ``SSCN(n_clusters=K, image_shape=…, seed=s)``: the defaults, the plan of
  ``sscn_core.plan`` (what ``sscn train --data`` and the app use); ``sscn-scattering`` — the
  ``scattering`` preset; ``edsc`` — EDSC's closed form on the same unit-row pixels with the same
  post-processing and q as ``sscn`` (λ = λ1 + λ2, the λ whose optimum SSCN's h starts from);
  ``edsc-paper`` — EDSC on [0, 1] pixels with the paper's post-processing (λ = 1);
  ``spectral`` — spectral clustering of a 10-NN graph; ``kmeans`` — k-means (10 starts).
* scores: ACC (Hungarian), ARI, NMI of the in-sample labels (SSCN: its classifier's); wall time
  of the fit; the worker's peak resident memory. Mean ± std over the seeds.

Published anchors are listed beside the table (DSC-Net-L2 97.33 % on Extended Yale B, Ji et al.
2017, on 48×42 crops with per-data-set settings).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .common import (RESULTS_DIR, log, memory_budget, result_header, run_isolated, summarize, target, write_json)

MODULE = "bench.standard"
DATASETS = {"yaleb": {}, "mnist": {}, "fashion-mnist": {"split": "test"}, "digits": {}}
METHODS = ("sscn", "sscn-scattering", "edsc", "edsc-paper", "spectral", "kmeans")
SUBSPACE_DIM = 9      # the paper's q, for the paper's EDSC row
ANCHORS = {"yaleb": {"DSC-Net-L2 (published, 48×42 crops)": 97.33},
           "fashion-mnist": {"N2D (published, AE + UMAP + GMM, all 70k)": 67.2}}


def _load(dataset: str) -> Any:
    from sscn_core import load_dataset

    return load_dataset(dataset, **DATASETS[dataset])


def _scores(y: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from sscn_core.metrics import evaluate

    return {k: 100.0 * v for k, v in evaluate(y, labels).items()}


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def sscn_model(data: Any, n_clusters: int, seed: int) -> Any:
    """The ``sscn`` row's model: the library's defaults (its plan) for these data, as every front door builds it."""
    from sscn_core import SSCN

    return SSCN(n_clusters=n_clusters, image_shape=data.image_shape, seed=seed)


def case(dataset: str, method: str, seed: int) -> dict[str, Any]:
    """One seeded run of one method on one data set (worker side)."""
    from sscn_core import SSCN, baselines
    from sscn_core.health import SSCNWarning
    from sscn_core.plan import subspace_dim_rule

    data = _load(dataset)
    K = int(data.y.max()) + 1
    start = time.perf_counter()
    extra: dict[str, Any] = {}
    if method in ("sscn", "sscn-scattering"):
        model = sscn_model(data, K, seed) if method == "sscn" else \
            SSCN.from_preset("scattering", n_clusters=K, image_shape=data.image_shape, seed=seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SSCNWarning)
            model.fit(data.X)
        labels = model.labels_
        report = model.fit_report()
        extra = {"agreement": report["agreement"], "warnings": [str(w.message) for w in caught],
                 "frontend": model.params_["frontend"], "model_choice": report["model_choice"],
                 "convergence": report["convergence"],
                 "pseudo_labels": _scores(data.y, model.pseudo_labels_) if model.pseudo_labels_ is not None else None}
    elif method == "edsc":
        model = SSCN(n_clusters=K)
        q = subspace_dim_rule(len(data), K)[0]
        labels = baselines.edsc_labels(_unit_rows(data.X), K, q, model.lambda1 + model.lambda2, seed=seed,
                                       variant=model.postprocess, restarts=model.n_restarts)
    elif method == "edsc-paper":
        labels = baselines.edsc_labels(data.X, K, SUBSPACE_DIM, 1.0, seed=seed)
    elif method == "spectral":
        labels = baselines.spectral_labels(data.X, K, seed=seed)
    elif method == "kmeans":
        labels = baselines.kmeans_labels(data.X, K, seed=seed)
    else:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    seconds = time.perf_counter() - start
    counts = np.bincount(labels, minlength=K)
    return {"seed": seed, "n": len(data), "K": K, "seconds": seconds, **_scores(data.y, labels),
            "largest_cluster_share": float(counts.max() / counts.sum()), "empty_clusters": int((counts == 0).sum()),
            **extra}


def applies(dataset: str, method: str) -> str | None:
    """Why a method does not run on a data set (None when it does)."""
    return None


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean/std of the scores, time and memory over the runs that finished."""
    ok = [r["result"] | {"peak_rss_bytes": r["worker_peak_rss_bytes"]} for r in runs if r["status"] == "ok"]
    out: dict[str, Any] = {"runs": len(runs), "finished": len(ok),
                           "errors": [r.get("message") for r in runs if r["status"] != "ok"]}
    for key in ("acc", "ari", "nmi", "seconds", "peak_rss_bytes", "largest_cluster_share", "agreement"):
        out[key] = summarize(r.get(key) for r in ok)
    out["warned_runs"] = sum(1 for r in ok if r.get("warnings"))
    out["degenerate_runs"] = sum(1 for r in ok if r["empty_clusters"] or r["largest_cluster_share"] > 0.5)
    out["silent_degenerate_runs"] = sum(1 for r in ok if (r["empty_clusters"] or r["largest_cluster_share"] > 0.5)
                                        and not r.get("warnings") and "warnings" in r)
    return out


def compute_targets(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue targets: Yale B ≥ 97.5 % mean ACC, std ≤ 1.5, no seed below EDSC, run ≤ 60 s."""
    out = []
    sscn = rows.get("yaleb", {}).get("sscn")
    edsc = rows.get("yaleb", {}).get("edsc")
    if sscn and sscn["acc"]:
        out.append(target("Yale B: SSCN mean ACC", sscn["acc"]["mean"], ">=", 97.5, "%"))
        out.append(target("Yale B: SSCN ACC std", sscn["acc"]["std"], "<=", 1.5, "points"))
        out.append(target("Yale B: SSCN whole run", sscn["seconds"]["max"], "<=", 60.0, "s"))
        if edsc and edsc["acc"]:
            out.append(target("Yale B: SSCN's worst seed minus EDSC's mean", sscn["acc"]["min"] - edsc["acc"]["mean"],
                              ">=", 0.0, "points"))
    scat = rows.get("mnist", {}).get("sscn-scattering")
    if scat and scat["acc"]:
        out.append(target("MNIST: scattering mean ACC", scat["acc"]["mean"], ">=", 95.0, "%"))
    return out


def render(doc: dict[str, Any]) -> str:
    """The README's Markdown table."""
    lines = ["| data | method | ACC | ARI | NMI | time (s) | peak RSS (MiB) | runs (warned) |", "|---|---|---|---|---|---|---|---|"]

    def fmt(stat: dict[str, Any] | None, scale: float = 1.0, digits: int = 2) -> str:
        if not stat:
            return "–"
        std = f" ± {stat['std'] * scale:.{digits}f}" if stat.get("std") is not None else ""
        return f"{stat['mean'] * scale:.{digits}f}{std}"

    for dataset, methods in doc["rows"].items():
        for method, row in methods.items():
            if "skipped" in row:
                lines.append(f"| {dataset} | {method} | {row['skipped']} | | | | | |")
                continue
            lines.append(f"| {dataset} | {method} | {fmt(row['acc'])} | {fmt(row['ari'])} | {fmt(row['nmi'])} | "
                         f"{fmt(row['seconds'], digits=1)} | {fmt(row['peak_rss_bytes'], 1 / 2**20, 0)} | "
                         f"{row['finished']}/{row['runs']} ({row['warned_runs']}) |")
        for name, acc in ANCHORS.get(dataset, {}).items():
            lines.append(f"| {dataset} | {name} | {acc:.2f} | | | | | |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Options of ``python -m bench.standard``."""
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated subset of {','.join(DATASETS)}")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    p.add_argument("--case-timeout", type=float, default=1800.0)
    p.add_argument("--out", default=str(RESULTS_DIR / "standard.json"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run every (data set, method, seed), write the JSON, print the Markdown table."""
    args = build_parser().parse_args(argv)
    datasets = [d for d in args.datasets.split(",") if d]
    methods = [m for m in args.methods.split(",") if m]
    bad = [d for d in datasets if d not in DATASETS] + [m for m in methods if m not in METHODS]
    if bad or args.seeds < 1:
        raise SystemExit(f"unknown data set(s) or method(s) {bad}, or --seeds < 1")
    doc: dict[str, Any] = {**result_header("standard", MODULE, argv), "protocol": __doc__, "rows": {}, "raw": {}}
    for dataset in datasets:
        doc["rows"][dataset] = {}
        for method in methods:
            why = applies(dataset, method)
            if why:
                doc["rows"][dataset][method] = {"skipped": why}
                continue
            runs = []
            for seed in range(args.seeds):
                log(f"{dataset} / {method} / seed {seed}")
                runs.append(run_isolated(f"{MODULE}:case", {"dataset": dataset, "method": method, "seed": seed},
                                         timeout_s=args.case_timeout, memory_limit_bytes=memory_budget(),
                                         threads=args.threads))
                if runs[-1]["status"] != "ok":
                    log(f"  {runs[-1]['status']}: {runs[-1].get('message')}")
                else:
                    log(f"  ACC {runs[-1]['result']['acc']:.2f} in {runs[-1]['result']['seconds']:.1f} s")
            doc["raw"].setdefault(dataset, {})[method] = runs
            doc["rows"][dataset][method] = aggregate(runs)
            doc["targets"] = compute_targets(doc["rows"])
            write_json(args.out, doc)
    print(render(doc))
    for t in doc.get("targets", []):
        print(f"target {t['name']}: measured {t['measured']}, {t['comparison']} {t['threshold']} {t['unit']} -> "
              f"{'met' if t['met'] else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
