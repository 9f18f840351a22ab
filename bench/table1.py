"""The paper's Table 1, side by side: ``python -m bench.table1 [--quick] [--seeds N] ...``.

For each data set (MNIST; Fashion-MNIST), trained on its 10k test set:

* SSCN with the faithful preset (``SSCN.from_preset("paper", pretrained=<data set>)``), one run per
  seed: the classifier's in-sample ACC/ARI/NMI (``labels_``), the spectral pseudo-labels' metrics,
  the number of parameters, wall time and peak memory per phase, and out-of-sample predictions
  (MNIST: the bundled 10k training subset, and the 60k training set when its files are there;
  Fashion-MNIST: its 60k training set) with their throughput;
* rows for other presets (``--extra-presets``), same seeds;
* DSC-Net with the same pre-trained auto-encoder (``--skip-dsc`` to leave it out);
* reference rows on the pre-trained auto-encoder's features Z: k-means, spectral clustering on a
  k-NN graph, and EDSC's closed form (when its N×N matrices fit in memory).

Every fit runs in a fresh worker process so that peak memories are per case. Results go to
``--out`` (JSON, rewritten after every row) and the Markdown table to stdout.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import (GIB, RESULTS_DIR, current_memory, log, measure_dsc_fit, memory_budget, memory_kind,
                     missing_pretrained, result_header, run_isolated, summarize, target, write_json)

MODULE = "bench.table1"
DATASETS = ("mnist", "fashion-mnist")
DESCRIPTIONS = {"mnist": "MNIST test set (10,000 digits, bundled)",
                "fashion-mnist": "Fashion-MNIST test set (10,000 images)"}
METRICS = ("acc", "ari", "nmi")

# The paper's numbers (shared/notes/sscn-reference.md), in percent; memory is GPU memory.
PAPER = {
    "source": "Busch et al., Table 1 (GPU; per run about 184 s: 47 s self-expression, 55 s pseudo-labels, "
              "2.4 s per classifier epoch, 8 s for the 60k evaluation)",
    "rows": [
        {"method": "SSCN", "set": "in-sample, 10k", "acc": [67.98, 3.40], "ari": [58.53, 3.34],
         "nmi": [69.48, 2.38], "n_parameters": 66_291, "memory_gb": 0.19, "seconds": 184},
        {"method": "SSCN", "set": "out-of-sample, 60k", "acc": [67.39, 3.38], "ari": [57.10, 3.27],
         "nmi": [67.16, 2.34]},
        {"method": "DSC-Net", "set": "in-sample, 10k", "acc": [63.54, None], "ari": [57.42, None],
         "nmi": [72.34, None], "n_parameters": 100_014_991, "memory_gb": 2.71},
    ],
}
PAPER_SSCN = {"acc": (67.98, 3.40), "ari": (58.53, 3.34), "nmi": (69.48, 2.38)}


# ============================================================================ worker-side cases
def _load(name: str, n_samples: int | None, **kwargs: Any) -> Any:
    from sscn_core import load_dataset

    return load_dataset(name, n_samples=n_samples, seed=0, **kwargs)


def _train_set(dataset: str, n_samples: int | None) -> Any:
    data = _load(dataset, n_samples)
    if data.y is None:
        raise ValueError(f"{dataset} has no labels; Table 1 needs labelled data")
    return data


def _metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    from sscn_core.metrics import evaluate

    return evaluate(y_true, y_pred)


def _predict_held_out(model: Any, spec: dict[str, Any], device: str) -> dict[str, Any]:
    """Predict one held-out set with the classifier alone; time, throughput, metrics, peak memory."""
    from sscn_core import DataError
    from sscn_core.metrics import PeakMemory

    try:
        data = _load(spec["name"], spec.get("n_samples"), **spec.get("kwargs", {}))
    except DataError as exc:
        return {"status": f"not available: {exc}"}
    model.predict(data.X[:64])  # warm-up: first-call allocations are not throughput
    with PeakMemory(device) as mem:
        start = time.perf_counter()
        pred = model.predict(data.X)
        seconds = time.perf_counter() - start
    out: dict[str, Any] = {"status": "ok", "dataset": data.name, "n": len(data), "seconds": seconds,
                           "images_per_second": len(data) / max(seconds, 1e-9), "peak_memory_bytes": mem.peak_bytes}
    if data.y is not None:
        out.update(_metrics(data.y, pred))
    return out


def sscn_case(dataset: str, preset: str, seed: int, overrides: dict[str, Any], n_samples: int | None,
              held_out: list[dict[str, Any]], device: str = "auto") -> dict[str, Any]:
    """One SSCN run (worker side): fit on the training set, evaluate in and out of sample."""
    from sscn_core import SSCN
    from sscn_core.estimator import PRESETS
    from sscn_core.metrics import count_parameters

    train = _train_set(dataset, n_samples)
    config = {**PRESETS[preset], **overrides}
    pretrained = dataset if config.get("autoencoder") == "conv" else None
    model = SSCN.from_preset(preset, pretrained=pretrained, seed=seed, device=device, **overrides)
    baseline = current_memory(device)
    start = time.perf_counter()
    model.fit(train.X)
    fit_seconds = time.perf_counter() - start
    if model.labels_ is None:
        raise RuntimeError(f"the fit ended without labels (stopped={model.stopped_})")
    y_pl = train.y if model.pseudo_label_indices_ is None else train.y[model.pseudo_label_indices_]
    pseudo = {} if model.pseudo_labels_ is None else {   # the triplet classifier makes no pseudo-labels
        "pseudo_labels": {**_metrics(y_pl, model.pseudo_labels_), "n": len(y_pl)}}
    return {
        "seed": seed, "n": len(train), "device": model.device_, "memory_kind": memory_kind(device),
        "params": {k: v for k, v in model.get_params().items() if k != "device"},
        "n_parameters": count_parameters(model.net_),
        "fit_seconds": fit_seconds,
        "phase_seconds": dict(model.phase_times_),
        "peak_memory_bytes": dict(model.peak_memory_),
        "baseline_memory_bytes": baseline,
        "in_sample": _metrics(train.y, model.labels_),
        **pseudo,
        "out_of_sample": {spec["key"]: _predict_held_out(model, spec, device) for spec in held_out},
    }


def dsc_case(dataset: str, seed: int, epochs: int, n_samples: int | None, device: str = "auto") -> dict[str, Any]:
    """One DSC-Net run (worker side): full-batch training of C, then the same post-processing."""
    from sscn_core.baselines import DSCNet

    train = _train_set(dataset, n_samples)
    model = DSCNet(pretrained=dataset, epochs=epochs, seed=seed, device=device)
    measured = measure_dsc_fit(model, train.X, device)
    return {
        "seed": seed, "n": len(train), "memory_kind": memory_kind(device),
        "params": {"epochs": epochs, "lambda1": model.lambda1, "lambda2": model.lambda2, "lr": model.lr,
                   "init": model.init, "rho": model.rho, "alpha": model.alpha},
        "n_parameters": int(model.n_parameters_),
        **measured,
        "in_sample": _metrics(train.y, model.labels_),
    }


def reference_case(dataset: str, method: str, seeds: list[int], n_samples: int | None, n_clusters: int,
                   subspace_dim: int, edsc_lambda: float, rho: float, alpha: float, memory_budget_bytes: int,
                   device: str = "auto") -> dict[str, Any]:
    """k-means, spectral clustering or EDSC on the pre-trained auto-encoder's features (worker side)."""
    from .common import encode_pretrained

    train = _train_set(dataset, n_samples)
    n = len(train)
    if method == "edsc":
        need = 24 * n * n  # float64 C (8·N²) plus the post-processing's N×N working copies
        if need > memory_budget_bytes:
            return {"status": f"skipped: would need ~{need / GIB:.1f} GiB (budget {memory_budget_bytes / GIB:.1f} GiB)",
                    "n": n}
    start = time.perf_counter()
    z = encode_pretrained(dataset, train.X, device)
    encode_seconds = time.perf_counter() - start
    from sscn_core import baselines

    runs = []
    for seed in seeds:
        start = time.perf_counter()
        if method == "kmeans":
            labels = baselines.kmeans_labels(z, n_clusters, seed=seed)
        elif method == "spectral":
            labels = baselines.spectral_labels(z, n_clusters, seed=seed)
        elif method == "edsc":
            labels = baselines.edsc_labels(z, n_clusters, subspace_dim, edsc_lambda, rho=rho, alpha=alpha, seed=seed)
        else:
            raise ValueError(f"method must be 'kmeans', 'spectral' or 'edsc', got {method!r}")
        runs.append({"seed": seed, "seconds": time.perf_counter() - start, **_metrics(train.y, labels)})
    return {"status": "ok", "n": n, "feature_dim": int(z.shape[1]), "encode_seconds": encode_seconds, "runs": runs,
            **({"lambda": edsc_lambda} if method == "edsc" else {})}


# ============================================================================ parent side: aggregation
def _stats(runs: list[dict[str, Any]], *path: str) -> dict[str, Any] | None:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        values.append(value if isinstance(value, (int, float)) else None)
    return summarize(values)


def aggregate_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± std (ddof 1) over the successful runs of one row: metrics, phases, memory, held-out sets."""
    ok = [r["result"] for r in runs if r["status"] == "ok"]
    if not ok:
        return {}
    summary: dict[str, Any] = {"n_runs": len(ok), "n": ok[0]["n"], "n_parameters": ok[0].get("n_parameters"),
                               "memory_kind": ok[0].get("memory_kind"),
                               "fit_seconds": _stats(ok, "fit_seconds")}
    for part in ("in_sample", "pseudo_labels"):
        if part in ok[0]:
            summary[part] = {m: _stats(ok, part, m) for m in METRICS}
    phases = list(dict.fromkeys(p for r in ok for p in r.get("phase_seconds", {})))
    summary["phase_seconds"] = {p: _stats(ok, "phase_seconds", p) for p in phases}
    summary["peak_memory_bytes"] = {p: _stats(ok, "peak_memory_bytes", p)
                                    for p in dict.fromkeys(p for r in ok for p in r.get("peak_memory_bytes", {}))}
    peaks = [max(r["peak_memory_bytes"].values()) for r in ok if r.get("peak_memory_bytes")]
    summary["peak_memory_max_bytes"] = summarize(peaks)
    growth = [max(r["peak_memory_bytes"].values()) - r["baseline_memory_bytes"] for r in ok
              if r.get("peak_memory_bytes") and "baseline_memory_bytes" in r]
    summary["peak_memory_growth_bytes"] = summarize(growth)
    held = list(dict.fromkeys(k for r in ok for k in r.get("out_of_sample", {})))
    summary["out_of_sample"] = {}
    for key in held:
        good = [r["out_of_sample"][key] for r in ok if r["out_of_sample"].get(key, {}).get("status") == "ok"]
        if not good:
            summary["out_of_sample"][key] = {"status": ok[0]["out_of_sample"][key]["status"]}
            continue
        summary["out_of_sample"][key] = {
            "status": "ok", "dataset": good[0]["dataset"], "n": good[0]["n"],
            **{m: _stats(good, m) for m in METRICS},
            "seconds": _stats(good, "seconds"), "images_per_second": _stats(good, "images_per_second"),
            "peak_memory_bytes": _stats(good, "peak_memory_bytes")}
    whole = []
    for r in ok:
        best = _largest_held_out(r.get("out_of_sample", {}))
        if best is not None:
            whole.append(r["fit_seconds"] + r["out_of_sample"][best]["seconds"])
    summary["whole_run_seconds"] = summarize(whole)
    return summary


def _largest_held_out(held: dict[str, Any]) -> str | None:
    """Key of the largest held-out set that was predicted."""
    done = [(v["n"], k) for k, v in held.items() if isinstance(v, dict) and v.get("status") == "ok"]
    return max(done)[1] if done else None


def _row_status(runs: list[dict[str, Any]]) -> str:
    failed = [r for r in runs if r["status"] != "ok"]
    if not failed:
        return "ok"
    first = failed[0].get("message", failed[0]["status"])
    if len(failed) == len(runs):
        return f"failed: {first}"
    return f"partial: {len(failed)} of {len(runs)} runs failed (first: {first})"


def _reference_row(method: str, label: str, outcome: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": method, "method": label, "kind": "reference"}
    if outcome["status"] != "ok":
        row["status"] = f"failed: {outcome.get('message', outcome['status'])}"
        row["error"] = outcome.get("traceback")
        return row
    result = outcome["result"]
    row["status"] = result["status"]
    if result["status"] != "ok":
        return row
    runs = result["runs"]
    row["seeds"] = [r["seed"] for r in runs]
    row["summary"] = {"n": result["n"], "n_runs": len(runs), "in_sample": {m: _stats(runs, m) for m in METRICS},
                      "phase_seconds": {"cluster": _stats(runs, "seconds")},
                      "encode_seconds": result["encode_seconds"], "feature_dim": result["feature_dim"]}
    if "lambda" in result:
        row["lambda"] = result["lambda"]
    row["runs"] = runs
    return row


# ============================================================================ parent side: orchestration
def _held_out_specs(dataset: str, n_samples: int | None, download: bool) -> list[dict[str, Any]]:
    if dataset == "mnist":
        return [{"key": "mnist-oos", "name": "mnist-oos", "kwargs": {}, "n_samples": n_samples,
                 "label": "bundled 10k MNIST training subset"},
                {"key": "mnist-60k", "name": "mnist-full", "kwargs": {"split": "train", "download": download},
                 "n_samples": n_samples, "label": "MNIST training set (60k)"}]
    if dataset == "fashion-mnist":
        return [{"key": "fashion-mnist-60k", "name": "fashion-mnist", "kwargs": {"split": "train", "download": download},
                 "n_samples": n_samples, "label": "Fashion-MNIST training set (60k)"}]
    raise ValueError(f"unknown data set {dataset!r}; choose from {DATASETS}")


def _probe_held_out(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Load each held-out set once here (downloading it if allowed); workers then read the files."""
    from sscn_core import DataError, load_dataset

    probed = []
    for spec in specs:
        try:
            load_dataset(spec["name"], **spec["kwargs"])
        except DataError as exc:
            log(f"  held-out {spec['key']}: not available ({exc})")
            probed.append({**spec, "available": False, "reason": str(exc)})
            continue
        probed.append({**spec, "available": True, "kwargs": {**spec["kwargs"], **({"download": False}
                                                                                   if "download" in spec["kwargs"] else {})}})
    return probed


class Table1:
    """Runs the rows of one invocation and keeps the result document up to date on disk."""

    def __init__(self, args: argparse.Namespace, argv: Sequence[str] | None) -> None:
        self.args = args
        self.out = Path(args.out)
        self.budget = memory_budget(int(args.memory_cap_gb * GIB))
        self.doc: dict[str, Any] = {
            **result_header("table1", MODULE, argv, args.device),
            "quick": args.quick,
            "settings": {k: v for k, v in vars(args).items() if k not in ("out",)},
            "memory_budget_bytes": self.budget,
            "paper": PAPER,
            "datasets": {},
            "targets": [],
        }

    def save(self) -> None:
        """Write the document as it stands."""
        write_json(self.out, self.doc)

    def _isolated(self, target_name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        return run_isolated(target_name, kwargs, timeout_s=self.args.case_timeout, memory_limit_bytes=self.budget,
                            threads=self.args.threads)

    def run(self) -> dict[str, Any]:
        """All data sets, then the targets."""
        for dataset in self.args.datasets:
            self.run_dataset(dataset)
        self.doc["targets"] = compute_targets(self.doc)
        self.save()
        return self.doc

    def run_dataset(self, dataset: str) -> None:
        """All rows of one data set."""
        from sscn_core import DataError, load_dataset
        from sscn_core.estimator import PRESETS

        a = self.args
        section: dict[str, Any] = {"train_set": DESCRIPTIONS.get(dataset, dataset), "rows": []}
        self.doc["datasets"][dataset] = section
        log(f"{dataset}: checking data and the pre-trained auto-encoder")
        try:
            n = len(load_dataset(dataset, n_samples=a.n_samples, seed=0))
        except DataError as exc:
            section["status"] = f"not available: {exc}"
            log(f"{dataset}: {section['status']}")
            self.save()
            return
        section.update(status="ok", n_train=n)
        ae_missing = missing_pretrained(dataset)
        if ae_missing:
            section["autoencoder"] = ae_missing
            log(f"{dataset}: {ae_missing}")
        held = _probe_held_out(_held_out_specs(dataset, a.held_out_samples, a.download))
        section["held_out"] = [{"key": h["key"], "label": h["label"], "available": h["available"],
                                **({"reason": h["reason"]} if not h["available"] else {})} for h in held]
        usable = [h for h in held if h["available"]]
        missing_held = {h["key"]: {"status": f"not available: {h['reason']}"} for h in held if not h["available"]}

        for preset in ["paper", *a.extra_presets]:
            needs_ae = PRESETS[preset].get("autoencoder") == "conv"
            self._sscn_row(section, dataset, preset, ae_missing if needs_ae else None, usable, missing_held)
        if not a.skip_dsc:
            self._dsc_row(section, dataset, ae_missing)
        for method, label in (("kmeans", "k-means on AE features"), ("spectral", "spectral (k-NN graph) on AE features"),
                              ("edsc", "EDSC closed form on AE features")):
            if method in a.references:
                self._reference(section, dataset, method, label, ae_missing)

    def _sscn_row(self, section: dict[str, Any], dataset: str, preset: str, ae_missing: str | None,
                  held: list[dict[str, Any]], missing_held: dict[str, Any]) -> None:
        a = self.args
        row: dict[str, Any] = {"id": f"sscn:{preset}", "method": f"SSCN ({preset} preset)", "kind": "sscn",
                               "preset": preset, "seeds": list(range(a.seeds))}
        section["rows"].append(row)
        if ae_missing:
            row["status"] = f"skipped: {ae_missing}"
            self.save()
            return
        overrides = {k: v for k, v in (("epochs", a.epochs), ("classifier_epochs", a.classifier_epochs)) if v is not None}
        row["overrides"] = overrides
        runs = []
        for seed in row["seeds"]:
            log(f"{dataset}: SSCN ({preset}) seed {seed} ...")
            outcome = self._isolated(f"{MODULE}:sscn_case", dict(
                dataset=dataset, preset=preset, seed=seed, overrides=overrides, n_samples=a.n_samples,
                held_out=[{k: h[k] for k in ("key", "name", "kwargs", "n_samples")} for h in held], device=a.device))
            runs.append({"seed": seed, **outcome})
            _log_outcome(f"{dataset}: SSCN ({preset}) seed {seed}", outcome)
            if outcome["status"] == "ok":
                outcome["result"]["out_of_sample"].update(missing_held)
            row.update(status=_row_status(runs), summary=aggregate_runs(runs), runs=runs)
            self.save()

    def _dsc_row(self, section: dict[str, Any], dataset: str, ae_missing: str | None) -> None:
        a = self.args
        row: dict[str, Any] = {"id": "dsc", "method": "DSC-Net (same AE)", "kind": "dsc",
                               "seeds": list(range(a.dsc_seeds)), "epochs": a.dsc_epochs}
        section["rows"].append(row)
        if ae_missing:
            row["status"] = f"skipped: {ae_missing}"
            self.save()
            return
        runs = []
        for seed in row["seeds"]:
            log(f"{dataset}: DSC-Net seed {seed} ...")
            outcome = self._isolated(f"{MODULE}:dsc_case", dict(dataset=dataset, seed=seed, epochs=a.dsc_epochs,
                                                               n_samples=a.n_samples, device=a.device))
            runs.append({"seed": seed, **outcome})
            _log_outcome(f"{dataset}: DSC-Net seed {seed}", outcome)
            row.update(status=_row_status(runs), summary=aggregate_runs(runs), runs=runs)
            self.save()

    def _reference(self, section: dict[str, Any], dataset: str, method: str, label: str,
                   ae_missing: str | None) -> None:
        a = self.args
        if ae_missing:
            section["rows"].append({"id": method, "method": label, "kind": "reference",
                                    "status": f"skipped: {ae_missing}"})
            self.save()
            return
        from sscn_core.estimator import PRESETS

        paper = PRESETS["paper"]
        log(f"{dataset}: {label} ...")
        outcome = self._isolated(f"{MODULE}:reference_case", dict(
            dataset=dataset, method=method, seeds=list(range(a.reference_seeds)), n_samples=a.n_samples,
            n_clusters=10, subspace_dim=9, edsc_lambda=a.edsc_lambda, rho=paper["rho"], alpha=paper["alpha"],
            memory_budget_bytes=self.budget, device=a.device))
        _log_outcome(f"{dataset}: {label}", outcome)
        section["rows"].append(_reference_row(method, label, outcome))
        self.save()


def _log_outcome(what: str, outcome: dict[str, Any]) -> None:
    if outcome["status"] != "ok":
        log(f"{what}: {outcome['status']}: {outcome.get('message')}")
        return
    result = outcome["result"]
    metrics = result.get("in_sample")
    if metrics:
        log(f"{what}: ACC {metrics['acc']:.4f} ARI {metrics['ari']:.4f} NMI {metrics['nmi']:.4f} "
            f"({outcome['wall_seconds']:.0f} s)")
    else:
        log(f"{what}: {result.get('status', 'done')} ({outcome['wall_seconds']:.0f} s)")


# ============================================================================ targets
def _row(doc: dict[str, Any], dataset: str, row_id: str) -> dict[str, Any] | None:
    for row in doc.get("datasets", {}).get(dataset, {}).get("rows", []):
        if row.get("id") == row_id:
            return row
    return None


def _mean(stat: dict[str, Any] | None, scale: float = 1.0) -> float | None:
    return None if not stat else stat["mean"] * scale


def compute_targets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and ``met`` (None when not measured)."""
    note = "quick run: small N and few epochs, not comparable to the paper" if doc.get("quick") else ""
    sscn = _row(doc, "mnist", "sscn:paper")
    summary = (sscn or {}).get("summary") or {}
    n = summary.get("n")
    scope = f"MNIST, N={n:,}" if n else "MNIST"
    out = []
    for m, (mean, spread) in PAPER_SSCN.items():
        out.append(target(f"SSCN (paper preset) in-sample {m.upper()} within the paper's spread "
                          f"({mean:.2f} ± {spread:.2f}), {scope}",
                          _mean(summary.get("in_sample", {}).get(m), 100), "in",
                          [round(mean - spread, 2), round(mean + spread, 2)], "%",
                          note))
    held = summary.get("out_of_sample", {})
    best = _largest_held_out(held)
    for m in METRICS:
        gap = None
        if best and summary.get("in_sample", {}).get(m):
            gap = abs(held[best][m]["mean"] - summary["in_sample"][m]["mean"]) * 100
        out.append(target(f"SSCN out-of-sample {m.upper()} within 1 point of in-sample"
                          + (f" ({best}, n={held[best]['n']:,})" if best else ""), gap, "<=", 1.0, "points", note))
    out.append(target("whole SSCN run (fit from the pre-trained AE + out-of-sample prediction"
                       + (f" of {best}" if best else "") + ") under 3 minutes",
                       _mean(summary.get("whole_run_seconds")), "<=", 180.0, "s", note))
    out.append(target("SSCN pseudo-labelling under 30 s", _mean(summary.get("phase_seconds", {}).get("pseudo_labels")),
                      "<=", 30.0, "s", note))
    out.append(target("out-of-sample prediction at least 50,000 images/s" + (f" ({best})" if best else ""),
                      _mean(held.get(best, {}).get("images_per_second")) if best else None, ">=", 50_000.0,
                      "images/s", note))
    dsc = ((_row(doc, "mnist", "dsc") or {}).get("summary")) or {}
    training = "self_expression"
    for label, sscn_peak, dsc_peak in (
            ("peak memory (process RSS on CPU; CUDA allocations on GPU)",
             _mean(summary.get("peak_memory_max_bytes")), _mean(dsc.get("peak_memory_max_bytes"))),
            ("peak memory above the process's memory before the fit",
             _mean(summary.get("peak_memory_growth_bytes")), _mean(dsc.get("peak_memory_growth_bytes"))),
            ("peak memory of the training phase alone (the paper's GPU figure)",
             _mean(summary.get("peak_memory_bytes", {}).get(training)),
             _mean(dsc.get("peak_memory_bytes", {}).get(training)))):
        ratio = sscn_peak / dsc_peak if sscn_peak and dsc_peak else None
        out.append(target(f"SSCN {label} at most 1/5 of DSC-Net's, same run, {scope}", ratio, "<=", 0.2, "ratio",
                          note))
    return out + beyond_targets(doc, note)


def _std(stat: dict[str, Any] | None, scale: float = 1.0) -> float | None:
    return None if not stat or stat.get("std") is None else stat["std"] * scale


def beyond_targets(doc: dict[str, Any], note: str = "") -> list[dict[str, Any]]:
    """Issue 6's targets for the presets beyond the paper, on the rows this run has."""
    out = []
    for row in doc.get("datasets", {}).get("mnist", {}).get("rows", []):
        preset = row.get("id", "").removeprefix("sscn:")
        if row.get("kind") != "sscn" or preset == "paper" or not row.get("summary"):
            continue
        summary = row["summary"]
        acc = summary.get("in_sample", {}).get("acc")
        runs = f"{summary.get('n_runs')} runs"
        if preset == "conv-plus":
            out.append(target(f"{preset}: raw-pixel conv AE beats the paper's 67.98 ACC by 10 points ({runs})",
                              _mean(acc, 100), ">=", 77.98, "%", note))
            continue
        out.append(target(f"{preset}: MNIST ACC at least 90% over {runs}", _mean(acc, 100), ">=", 90.0, "%", note))
        out.append(target(f"{preset}: ACC std at most 2 points", _std(acc, 100), "<=", 2.0, "points", note))
        held = summary.get("out_of_sample", {})
        best = _largest_held_out(held)
        gap = abs(held[best]["acc"]["mean"] - acc["mean"]) * 100 if best and acc else None
        out.append(target(f"{preset}: out-of-sample ACC within 1 point of in-sample"
                          + (f" ({best})" if best else ""), gap, "<=", 1.0, "points", note))
        out.append(target(f"{preset}: whole run (fit incl. front-end + out-of-sample prediction) under 3 minutes",
                          _mean(summary.get("whole_run_seconds")), "<=", 180.0, "s", note))
    for row in doc.get("datasets", {}).get("fashion-mnist", {}).get("rows", []):
        preset = row.get("id", "").removeprefix("sscn:")
        if row.get("kind") != "sscn" or preset == "paper" or not row.get("summary"):
            continue
        held = row["summary"].get("out_of_sample", {})
        best = _largest_held_out(held)
        acc = held[best]["acc"] if best else row["summary"].get("in_sample", {}).get("acc")
        out.append(target(f"{preset}: Fashion-MNIST ACC at least 65%" + (f" ({best})" if best else " (in-sample)"),
                          _mean(acc, 100), ">=", 65.0, "%", note))
    return out


# ============================================================================ command line
def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    """Options of ``python -m bench.table1``."""
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 2 seeds, 2,000 points, 3 epochs, no downloads (a few minutes on 2 cores)")
    p.add_argument("--seeds", type=int, default=None, help="SSCN runs per preset (default 10; quick 2)")
    p.add_argument("--datasets", type=_csv, default=list(DATASETS), help="comma-separated: mnist,fashion-mnist")
    p.add_argument("--skip-dsc", action="store_true", help="leave out DSC-Net")
    p.add_argument("--extra-presets", type=_csv, default=[], help="comma-separated SSCN presets for extra rows")
    p.add_argument("--references", type=_csv, default=["kmeans", "spectral", "edsc"],
                   help="reference rows on AE features: kmeans,spectral,edsc (empty to skip)")
    p.add_argument("--out", default=None,
                   help="result JSON (default bench/results/table1.json; with --quick table1-quick.json)")
    p.add_argument("--n-samples", type=int, default=None, help="train on a fixed random subset (default all 10k)")
    p.add_argument("--held-out-samples", type=int, default=None, help="predict a subset of each held-out set")
    p.add_argument("--epochs", type=int, default=None, help="override the presets' self-expression epochs")
    p.add_argument("--classifier-epochs", type=int, default=None, help="override the presets' classifier epochs")
    p.add_argument("--dsc-seeds", type=int, default=None, help="DSC-Net runs (default 3; quick 1)")
    p.add_argument("--dsc-epochs", type=int, default=None, help="DSC-Net full-batch steps (default 30 as in the paper)")
    p.add_argument("--reference-seeds", type=int, default=None, help="seeds of the reference rows (default 3; quick 1)")
    p.add_argument("--edsc-lambda", type=float, default=0.5,
                   help="λ of EDSC's closed form (default 0.5, the paper preset's λ1 in Definition 3's form)")
    p.add_argument("--no-download", dest="download", action="store_false", default=None,
                   help="do not try to download the 60k held-out sets")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch threads per worker (default: torch's choice)")
    p.add_argument("--memory-cap-gb", type=float, default=16.0, help="kill a worker above this RSS (default 16)")
    p.add_argument("--case-timeout", type=float, default=3600.0, help="kill a worker after this many seconds")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and fill the defaults that depend on --quick."""
    args = build_parser().parse_args(argv)
    quick = args.quick

    def default(name: str, full: Any, fast: Any) -> None:
        if getattr(args, name) is None:
            setattr(args, name, fast if quick else full)

    default("seeds", 10, 2)
    default("n_samples", None, 2000)
    default("held_out_samples", None, 2000)
    default("epochs", None, 3)
    default("classifier_epochs", None, 3)
    default("dsc_seeds", 3, 1)
    default("dsc_epochs", 30, 5)
    default("reference_seeds", 3, 1)
    default("download", True, False)
    default("out", str(RESULTS_DIR / "table1.json"), str(RESULTS_DIR / "table1-quick.json"))
    for name in ("seeds", "dsc_seeds", "reference_seeds"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    unknown = [d for d in args.datasets if d not in DATASETS]
    if unknown or not args.datasets:
        raise SystemExit(f"--datasets takes a comma-separated subset of {','.join(DATASETS)}, got {args.datasets}")
    from sscn_core.estimator import PRESETS

    unknown = [p for p in args.extra_presets if p not in PRESETS]
    if unknown:
        raise SystemExit(f"--extra-presets: unknown preset(s) {unknown}; known: {','.join(sorted(PRESETS))}")
    args.extra_presets = [p for p in dict.fromkeys(args.extra_presets) if p != "paper"]
    bad = [r for r in args.references if r not in ("kmeans", "spectral", "edsc")]
    if bad:
        raise SystemExit(f"--references takes a comma-separated subset of kmeans,spectral,edsc, got {bad}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write the JSON, print the Markdown."""
    from .report import render_table1

    args = parse_args(argv)
    bench = Table1(args, argv)
    log(f"results go to {bench.out}")
    doc = bench.run()
    print(render_table1(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
