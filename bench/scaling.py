"""Cost against N: ``python -m bench.scaling [--quick] [--sizes 1000,2000,...] [--synthetic-1m]``.

Cases, each measured at each N in a fresh worker process (time, and peak memory above what the
worker held before the case began):

* ``sscn_train``          SSCN self-expression training, seconds per epoch (N/1000 steps of 1000)
* ``sscn_pseudo_dense``   SSCN pseudo-labelling with Q over all N points (N×N: quadratic memory)
* ``sscn_pseudo_sampled`` SSCN pseudo-labelling of a uniform sample of m points (flat in N)
* ``sscn_predict``        SSCN out-of-sample inference of N images (images/s)
* ``edsc``                EDSC's closed form C = λ(I + λZZᵀ)⁻¹ZZᵀ plus the same post-processing
* ``dsc``                 DSC-Net full-batch training, seconds per epoch (N×N C and Adam's moments)

All use the bundled pre-trained MNIST auto-encoder. Data: the MNIST test set up to 10k, plus the
bundled 10k training subset up to 20k, then the full MNIST (when cached) or Fashion-MNIST (70k,
split "all"); beyond what exists, rows are tiled (repeated) and labelled so. A size is skipped,
with the reason recorded, when the trend of the smaller sizes (or the N² matrices a case must hold)
says it would need more than the memory budget (~16 GB) or the time budget (~5 min).

``--synthetic-1m`` adds SSCN with ``pseudo_sample_size`` on synthetic subspace data up to 1,000,000
points (no auto-encoder, one epoch): peak memory stays flat apart from the data itself.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import (GIB, RESULTS_DIR, ROOT, current_memory, log, measure_dsc_fit, memory_budget, memory_kind,
                     result_header, run_isolated, target, write_json)

MODULE = "bench.scaling"
DEFAULT_SIZES = (1_000, 2_000, 5_000, 10_000, 20_000, 70_000)
QUICK_SIZES = (200, 400)
SYNTHETIC_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SYNTHETIC_SIZES = (2_000, 5_000)
PREDICT_TRAIN_N = 1_000  # the model whose inference is timed is fitted on this many points


# ============================================================================ data (worker side)
def scaling_data(n: int) -> tuple[np.ndarray, str]:
    """N MNIST-like 28×28 images (N, 784) in [0, 1] and a label saying where they come from."""
    from sscn_core import DataError, load_dataset

    if n <= 10_000:
        return load_dataset("mnist", n_samples=n if n < 10_000 else None, seed=0).X, "MNIST test set"
    base = np.concatenate([load_dataset("mnist").X, load_dataset("mnist-oos").X])
    if n <= base.shape[0]:
        idx = np.sort(np.random.default_rng(0).choice(base.shape[0], size=n, replace=False))
        return base[idx], "MNIST test set + bundled 10k training subset"
    for name, kwargs, label in (("mnist-full", {"split": "all", "download": False}, "MNIST (70k)"),
                                ("fashion-mnist", {"split": "all", "download": False}, "Fashion-MNIST (70k, all)")):
        try:
            data = load_dataset(name, **kwargs)
        except DataError:
            continue
        if n <= len(data):
            return load_dataset(name, n_samples=n if n < len(data) else None, seed=0, **kwargs).X, label
        base = data.X
        break
    reps = math.ceil(n / base.shape[0])
    return np.tile(base, (reps, 1))[:n], f"{base.shape[0]:,} images tiled ×{reps} (repeated rows)"


# ============================================================================ cases (worker side)
def _phase_marker(device: str, phase: str, marks: dict[str, int]) -> Callable[[Any], None]:
    """A fit callback that records the memory in use when ``phase`` starts."""
    def callback(event: Any) -> None:
        if event.kind == "phase" and event.phase == phase and phase not in marks:
            marks[phase] = current_memory(device)
    return callback


def _sscn(device: str, **overrides: Any) -> Any:
    from sscn_core import SSCN

    return SSCN.from_preset("paper", pretrained="mnist", device=device, **overrides)


def case_sscn_train(n: int, epochs: int, device: str = "auto") -> dict[str, Any]:
    """Self-expression training: seconds per epoch and peak memory of the phase."""
    X, label = scaling_data(n)
    model = _sscn(device, epochs=epochs, classifier_epochs=0, pseudo_sample_size=500)
    marks: dict[str, int] = {}
    model.fit(X, callback=_phase_marker(device, "self_expression", marks))
    peak = model.peak_memory_["self_expression"]
    return {"data": label, "seconds": model.phase_times_["self_expression"] / epochs, "epochs": epochs,
            "steps_per_epoch": max(1, n // min(model.batch_size, n)), "memory_peak_bytes": peak,
            "memory_growth_bytes": peak - marks["self_expression"]}


def case_sscn_pseudo(n: int, sample_size: int | None, device: str = "auto") -> dict[str, Any]:
    """Pseudo-labelling after one epoch of training: dense Q over all N, or a sample of ``sample_size``."""
    X, label = scaling_data(n)
    model = _sscn(device, epochs=1, classifier_epochs=0, pseudo_sample_size=sample_size)
    marks: dict[str, int] = {}
    model.fit(X, callback=_phase_marker(device, "pseudo_labels", marks))
    peak = model.peak_memory_["pseudo_labels"]
    return {"data": label, "seconds": model.phase_times_["pseudo_labels"],
            "points_clustered": len(model.pseudo_labels_), "memory_peak_bytes": peak,
            "memory_growth_bytes": peak - marks["pseudo_labels"]}


def case_sscn_predict(n: int, device: str = "auto") -> dict[str, Any]:
    """Out-of-sample inference of N images by a model fitted on PREDICT_TRAIN_N other points."""
    from sscn_core import load_dataset
    from sscn_core.metrics import PeakMemory

    X, label = scaling_data(n)
    train = load_dataset("mnist-oos", n_samples=PREDICT_TRAIN_N, seed=1)
    model = _sscn(device, epochs=1, classifier_epochs=1).fit(train.X)
    model.predict(X[:64])  # warm-up
    before = current_memory(device)
    with PeakMemory(device) as mem:
        start = time.perf_counter()
        model.predict(X)
        seconds = time.perf_counter() - start
    return {"data": label, "seconds": seconds, "images_per_second": n / max(seconds, 1e-9),
            "memory_peak_bytes": mem.peak_bytes, "memory_growth_bytes": mem.peak_bytes - before}


def case_edsc(n: int, lam: float, device: str = "auto") -> dict[str, Any]:
    """EDSC's closed form on the pre-trained AE's features, then the paper's post-processing."""
    from sscn_core.estimator import PRESETS
    from sscn_core.metrics import PeakMemory
    from sscn_core.postprocess import spectral_pseudo_labels
    from sscn_core.theory import edsc_closed_form

    from .common import encode_pretrained

    X, label = scaling_data(n)
    z = encode_pretrained("mnist", X, device).astype(np.float64)
    del X
    paper = PRESETS["paper"]
    before = current_memory("cpu")
    with PeakMemory("cpu") as mem:
        start = time.perf_counter()
        c = edsc_closed_form(z, lam)
        closed = time.perf_counter() - start
        spectral_pseudo_labels(c, 10, 9, rho=paper["rho"], alpha=paper["alpha"], seed=0)
        seconds = time.perf_counter() - start
    return {"data": label, "seconds": seconds, "closed_form_seconds": closed, "postprocess_seconds": seconds - closed,
            "memory_peak_bytes": mem.peak_bytes, "memory_growth_bytes": mem.peak_bytes - before,
            "memory_kind": "cpu_rss", "lambda": lam}


def case_dsc(n: int, epochs: int, device: str = "auto") -> dict[str, Any]:
    """DSC-Net: seconds per full-batch epoch, post-processing time, peak memory."""
    from sscn_core.baselines import DSCNet

    X, label = scaling_data(n)
    model = DSCNet(pretrained="mnist", epochs=epochs, device=device)
    m = measure_dsc_fit(model, X, device)
    peak = max(m["peak_memory_bytes"].values())
    return {"data": label, "seconds": m["phase_seconds"]["self_expression"] / epochs, "epochs": epochs,
            "postprocess_seconds": m["phase_seconds"]["pseudo_labels"], "memory_peak_bytes": peak,
            "memory_growth_bytes": peak - m["baseline_memory_bytes"], "n_parameters": int(model.n_parameters_)}


def case_synthetic(n: int, sample_size: int, ambient_dim: int, subspace_dim: int, classifier_epochs: int,
                   device: str = "auto") -> dict[str, Any]:
    """SSCN (linear, no auto-encoder) with pseudo_sample_size on N synthetic points, one epoch."""
    from sscn_core import SSCN, load_dataset
    from sscn_core.metrics import evaluate

    k = 10
    data = load_dataset("synthetic", n_clusters=k, subspace_dim=subspace_dim, ambient_dim=ambient_dim,
                        n_per_cluster=math.ceil(n / k), noise=0.01, seed=0)
    if len(data) > n:
        data = data.subset(np.arange(n))
    model = SSCN.from_preset("paper", autoencoder=None, pretrained=None, n_clusters=k, subspace_dim=subspace_dim,
                             epochs=1, pseudo_sample_size=sample_size, classifier_epochs=classifier_epochs,
                             device=device)
    before = current_memory(device)
    start = time.perf_counter()
    model.fit(data.X)
    fit_seconds = time.perf_counter() - start
    if model.labels_ is None:
        raise RuntimeError("the fit ended without labels")
    peak = max(model.peak_memory_.values())
    return {"n": len(data), "fit_seconds": fit_seconds, "phase_seconds": dict(model.phase_times_),
            "peak_memory_bytes": peak, "phase_peak_memory_bytes": dict(model.peak_memory_),
            "memory_before_bytes": before, "memory_growth_bytes": peak - before, "data_bytes": int(data.X.nbytes),
            **evaluate(data.y, model.labels_)}


# ============================================================================ parent side
@dataclass(frozen=True)
class Case:
    """One curve: what runs in the worker, what its time means, and a lower bound on its memory."""

    key: str
    label: str
    time_metric: str
    target: str
    kwargs: Callable[[argparse.Namespace], dict[str, Any]]
    quadratic_bytes: float = 0.0  # bytes per N² the case must hold at least (its dense N×N matrices)


CASES = (
    Case("sscn_train", "SSCN training (self-expression)", "s per epoch", "case_sscn_train",
         lambda a: {"epochs": a.epochs}),
    Case("sscn_pseudo_dense", "SSCN pseudo-labels, dense Q (N×N)", "s", "case_sscn_pseudo",
         lambda a: {"sample_size": None}, quadratic_bytes=12.0),
    Case("sscn_pseudo_sampled", "SSCN pseudo-labels, sample of m", "s", "case_sscn_pseudo",
         lambda a: {"sample_size": a.sample_size}),
    Case("sscn_predict", "SSCN out-of-sample inference", "s for N images", "case_sscn_predict", lambda a: {}),
    Case("edsc", "EDSC closed form + post-processing", "s", "case_edsc", lambda a: {"lam": a.edsc_lambda},
         quadratic_bytes=24.0),
    Case("dsc", "DSC-Net training", "s per epoch", "case_dsc", lambda a: {"epochs": a.dsc_epochs},
         quadratic_bytes=20.0),
)
CASE_KEYS = tuple(c.key for c in CASES)


def extrapolate(points: Sequence[tuple[int, float]], n: int) -> float | None:
    """Power-law extrapolation to ``n`` from the last two positive measurements (exponent clamped to [0, 3])."""
    usable = [(m, v) for m, v in points if v is not None and v > 0 and m < n][-2:]
    if len(usable) < 2 or usable[0][0] == usable[1][0]:
        return None
    (n1, v1), (n2, v2) = usable
    slope = min(max(math.log(v2 / v1) / math.log(n2 / n1), 0.0), 3.0)
    return v2 * (n / n2) ** slope


def plan_point(case: Case, n: int, done: Sequence[dict[str, Any]], budget_bytes: int,
               time_budget_s: float) -> str | None:
    """Why case ``case`` should not run at ``n`` (a "skipped: ..." text), or None to run it."""
    ok = [p for p in done if p.get("status") == "ok"]
    if any(p.get("status") != "ok" for p in done):
        return "skipped: a smaller N already failed or was skipped"
    need = case.quadratic_bytes * n * n
    growth = extrapolate([(p["n"], p["memory_growth_bytes"]) for p in ok], n)
    base = max((p.get("worker_baseline_bytes", 0) for p in ok), default=0)
    predicted = max(need, growth or 0.0) + base
    if predicted > budget_bytes:
        how = "its N×N matrices" if need >= (growth or 0.0) else f"the trend of N={ok[-2]['n']:,}…{ok[-1]['n']:,}"
        return (f"skipped: would need ~{predicted / GIB:.1f} GB (from {how}; budget {budget_bytes / GIB:.1f} GB)")
    wall = extrapolate([(p["n"], p["wall_seconds"]) for p in ok], n)
    if wall is not None and wall > time_budget_s:
        return f"skipped: would take ~{wall / 60:.0f} min (trend of smaller N; budget {time_budget_s / 60:.0f} min)"
    return None


class Scaling:
    """Runs the cases over the sizes and keeps the result document up to date on disk."""

    def __init__(self, args: argparse.Namespace, argv: Sequence[str] | None) -> None:
        self.args = args
        self.out = Path(args.out)
        self.budget = memory_budget(int(args.memory_cap_gb * GIB))
        self.doc: dict[str, Any] = {
            **result_header("scaling", MODULE, argv, args.device),
            "quick": args.quick,
            "settings": {k: v for k, v in vars(args).items() if k != "out"},
            "memory_kind": memory_kind(args.device),
            "memory_budget_bytes": self.budget,
            "time_budget_seconds": args.time_budget,
            "data": {},
            "cases": [],
        }

    def save(self) -> None:
        """Write the document as it stands."""
        write_json(self.out, self.doc)

    def _isolated(self, target_name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        return run_isolated(f"{MODULE}:{target_name}", kwargs, timeout_s=2 * self.args.time_budget,
                            memory_limit_bytes=self.budget, threads=self.args.threads)

    def run(self) -> dict[str, Any]:
        """All cases at all sizes, then the synthetic series, then the plot."""
        for case in CASES:
            if case.key in self.args.cases:
                self.run_case(case)
        if self.args.synthetic_1m:
            self.run_synthetic()
        self.doc["targets"] = compute_targets(self.doc)
        plot = self.out.with_suffix(".png")
        plot_scaling(self.doc, plot)
        plot = plot.resolve()
        self.doc["plot"] = str(plot.relative_to(ROOT)) if plot.is_relative_to(ROOT) else str(plot)
        self.save()
        return self.doc

    def run_case(self, case: Case) -> None:
        """One curve."""
        entry: dict[str, Any] = {"key": case.key, "label": case.label, "time_metric": case.time_metric, "points": []}
        if case.key == "sscn_pseudo_sampled":
            entry["label"] = f"{case.label} = {self.args.sample_size:,}"
        self.doc["cases"].append(entry)
        for n in self.args.sizes:
            reason = plan_point(case, n, entry["points"], self.budget, self.args.time_budget)
            if reason:
                log(f"{case.key} N={n:,}: {reason}")
                entry["points"].append({"n": n, "status": reason})
                self.save()
                continue
            log(f"{case.key} N={n:,} ...")
            outcome = self._isolated(case.target, {"n": n, "device": self.args.device, **case.kwargs(self.args)})
            point: dict[str, Any] = {"n": n, "wall_seconds": outcome["wall_seconds"],
                                     "worker_peak_rss_bytes": outcome["worker_peak_rss_bytes"]}
            if outcome["status"] == "ok":
                result = outcome["result"]
                point.update(status="ok", **result)
                point["worker_baseline_bytes"] = result["memory_peak_bytes"] - result["memory_growth_bytes"]
                self.doc["data"][str(n)] = result["data"]
                extra = f" ({result['images_per_second']:,.0f} images/s)" if "images_per_second" in result else ""
                log(f"{case.key} N={n:,}: {result['seconds']:.3g} {case.time_metric}{extra}, "
                    f"+{result['memory_growth_bytes'] / 2**20:.0f} MiB")
            else:
                point.update(status=f"{outcome['status']}: {outcome.get('message')}",
                             **({"traceback": outcome["traceback"]} if "traceback" in outcome else {}))
                log(f"{case.key} N={n:,}: {point['status']}")
            entry["points"].append(point)
            self.save()

    def run_synthetic(self) -> None:
        """SSCN with pseudo_sample_size on synthetic data up to 1M points."""
        a = self.args
        section: dict[str, Any] = {
            "label": f"SSCN on synthetic subspaces (K=10, d={a.synthetic_subspace_dim}, D={a.synthetic_dim}, "
                     f"noise 0.01), linear model (no auto-encoder), one epoch, pseudo_sample_size={a.sample_size:,}",
            "points": []}
        self.doc["synthetic"] = section
        for n in a.synthetic_sizes:
            log(f"synthetic N={n:,} ...")
            outcome = run_isolated(f"{MODULE}:case_synthetic", dict(
                n=n, sample_size=a.sample_size, ambient_dim=a.synthetic_dim, subspace_dim=a.synthetic_subspace_dim,
                classifier_epochs=a.synthetic_classifier_epochs, device=a.device),
                timeout_s=max(2 * a.time_budget, 1800.0), memory_limit_bytes=self.budget, threads=a.threads)
            point: dict[str, Any] = {"n": n, "wall_seconds": outcome["wall_seconds"]}
            if outcome["status"] == "ok":
                point.update(status="ok", **outcome["result"])
                log(f"synthetic N={n:,}: fit {point['fit_seconds']:.1f} s, peak +"
                    f"{point['memory_growth_bytes'] / 2**20:.0f} MiB (data {point['data_bytes'] / 2**20:.0f} MiB), "
                    f"ACC {point['acc']:.3f}")
            else:
                point["status"] = f"{outcome['status']}: {outcome.get('message')}"
                log(f"synthetic N={n:,}: {point['status']}")
            section["points"].append(point)
            self.save()


def compute_targets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Memory flat in N: from N = 10,000 to the largest N, SSCN's peak memory (above the worker's
    start, data already loaded) may not grow by as much as one float32 copy of the extra data —
    any buffer with a row per point would. Cases: training, sampled pseudo-labels, synthetic fit."""
    def judged(name: str, small: dict[str, Any], big: dict[str, Any], extra_data_bytes: float) -> dict[str, Any]:
        growth = (big["memory_growth_bytes"] - small["memory_growth_bytes"]) / 2**20
        return target(f"{name}: peak memory growth from N = {small['n']:,} to {big['n']:,} (MiB) under one float32 "
                      f"copy of the extra data ({extra_data_bytes / 2**20:.0f} MiB)", growth, "<=",
                      extra_data_bytes / 2**20, "MiB")

    out = []
    for key in ("sscn_train", "sscn_pseudo_sampled"):
        case = next((c for c in doc.get("cases", []) if c["key"] == key), None)
        points = {p["n"]: p for p in (case or {}).get("points", []) if p.get("status") == "ok"}
        largest = max(points, default=None)
        if 10_000 not in points or largest is None or largest <= 10_000:
            out.append(target(f"{key}: peak memory growth from N = 10,000 to the largest N", None, "<=", 0.0, "MiB"))
            continue
        label = doc.get("data", {}).get(str(largest), "")
        out.append(judged(f"{key} ({label})" if label else key, points[10_000], points[largest],
                          4.0 * 784 * (largest - 10_000)))
    synthetic = [p for p in (doc.get("synthetic") or {}).get("points", []) if p.get("status") == "ok"]
    if len(synthetic) >= 2:
        small, big = min(synthetic, key=lambda p: p["n"]), max(synthetic, key=lambda p: p["n"])
        out.append(judged("synthetic whole fit", small, big, big["data_bytes"] - small["data_bytes"]))
    return out


def _size_label(n: float) -> str:
    """1000 → "1k", 1000000 → "1M"."""
    if n >= 1e6:
        return f"{n / 1e6:g}M"
    if n >= 1e3:
        return f"{n / 1e3:g}k"
    return f"{n:g}"


def plot_scaling(doc: dict[str, Any], path: str | Path) -> Path:
    """Log-log plot of time and peak memory growth against N (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 4.8))
    series = [(c["label"] + f" [{c['time_metric']}]", c["points"], "seconds") for c in doc.get("cases", [])]
    if doc.get("synthetic"):
        series.append(("SSCN synthetic, whole fit [s]", doc["synthetic"]["points"], "fit_seconds"))
    for label, points, time_key in series:
        ok = [p for p in points if p.get("status") == "ok"]
        if not ok:
            continue
        n = [p["n"] for p in ok]
        (line,) = ax_t.plot(n, [max(p[time_key], 1e-4) for p in ok], marker="o", label=label)
        ax_m.plot(n, [max(p["memory_growth_bytes"], 2**20) / 2**20 for p in ok], marker="o", color=line.get_color(),
                  label=label)
    from matplotlib.ticker import FuncFormatter, NullFormatter

    sizes: list[int] = []
    for n in sorted({p["n"] for _, points, _ in series for p in points if p.get("status") == "ok"}):
        if not sizes or n >= 1.6 * sizes[-1]:   # closer ticks would print over each other on a log axis
            sizes.append(n)
    for ax, title, ylabel in ((ax_t, "Time", "seconds"),
                              (ax_m, "Peak memory above the worker's start (floor 1 MiB)", "MiB")):
        ax.set_xscale("log")
        if sizes:
            ax.set_xticks(sizes)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _size_label(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yscale("log")
        ax.set_xlabel("N (points)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = ax_t.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    m = doc.get("machine", {})
    fig.suptitle(f"SSCN vs N — {m.get('cpu', '?')}, {m.get('logical_cores', '?')} cores, "
                 f"{'GPU ' + m['gpu']['name'] if m.get('gpu') else 'no GPU'}"
                 + (" (quick smoke run)" if doc.get("quick") else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0.16 if handles else 0, 1, 0.95))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ============================================================================ command line
def _ints(text: str) -> list[int]:
    try:
        values = sorted({int(t.replace("_", "")) for t in text.split(",") if t.strip()})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from exc
    if not values or values[0] < 20:
        raise argparse.ArgumentTypeError(f"sizes must be integers >= 20, got {text!r}")
    return values


def _cases(text: str) -> list[str]:
    keys = [t.strip() for t in text.split(",") if t.strip()]
    if text.strip().lower() == "none":
        return []
    bad = [k for k in keys if k not in CASE_KEYS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown case(s) {bad}; choose from {','.join(CASE_KEYS)} or 'none'")
    return keys


def build_parser() -> argparse.ArgumentParser:
    """Options of ``python -m bench.scaling``."""
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=f"smoke test: N in {QUICK_SIZES}, one epoch")
    p.add_argument("--sizes", type=_ints, default=None, help=f"comma-separated N (default {DEFAULT_SIZES})")
    p.add_argument("--cases", type=_cases, default=list(CASE_KEYS),
                   help=f"comma-separated subset of {','.join(CASE_KEYS)}, or 'none'")
    p.add_argument("--synthetic-1m", action="store_true",
                   help=f"also SSCN with pseudo_sample_size on synthetic data, N in {SYNTHETIC_SIZES}")
    p.add_argument("--synthetic-sizes", type=_ints, default=None)
    p.add_argument("--synthetic-dim", type=int, default=50, help="ambient dimension of the synthetic data")
    p.add_argument("--synthetic-subspace-dim", type=int, default=3)
    p.add_argument("--synthetic-classifier-epochs", type=int, default=None, help="default 5 (quick 1)")
    p.add_argument("--epochs", type=int, default=None, help="SSCN training epochs timed (default 1)")
    p.add_argument("--dsc-epochs", type=int, default=None, help="DSC-Net epochs timed (default 5; quick 1)")
    p.add_argument("--sample-size", type=int, default=None, help="pseudo_sample_size m (default 2000; quick 100)")
    p.add_argument("--edsc-lambda", type=float, default=0.5)
    p.add_argument("--time-budget", type=float, default=None,
                   help="skip sizes predicted to take longer than this many seconds (default 300; quick 120)")
    p.add_argument("--memory-cap-gb", type=float, default=16.0, help="skip / kill above this memory (default 16)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch threads per worker (default: torch's choice)")
    p.add_argument("--out", default=None, help="result JSON, the PNG goes beside it (default "
                   "bench/results/scaling.json; with --quick scaling-quick.json)")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and fill the defaults that depend on --quick."""
    args = build_parser().parse_args(argv)
    quick = args.quick
    for name, full, fast in (("sizes", list(DEFAULT_SIZES), list(QUICK_SIZES)),
                             ("synthetic_sizes", list(SYNTHETIC_SIZES), list(QUICK_SYNTHETIC_SIZES)),
                             ("synthetic_classifier_epochs", 5, 1), ("epochs", 1, 1), ("dsc_epochs", 5, 1),
                             ("sample_size", 2000, 100), ("time_budget", 300.0, 120.0),
                             ("out", str(RESULTS_DIR / "scaling.json"), str(RESULTS_DIR / "scaling-quick.json"))):
        if getattr(args, name) is None:
            setattr(args, name, fast if quick else full)
    for name in ("epochs", "dsc_epochs", "synthetic_classifier_epochs"):
        if getattr(args, name) < 1 - (name == "synthetic_classifier_epochs"):
            raise SystemExit(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.sample_size < 20:
        raise SystemExit(f"--sample-size must be at least 20 (2 × 10 clusters), got {args.sample_size}")
    if args.synthetic_subspace_dim * 10 > args.synthetic_dim:
        raise SystemExit(f"--synthetic-dim must be at least 10 × --synthetic-subspace-dim "
                         f"({10 * args.synthetic_subspace_dim}) for independent subspaces, got {args.synthetic_dim}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write JSON + PNG, print the Markdown."""
    from .report import render_scaling

    args = parse_args(argv)
    bench = Scaling(args, argv)
    log(f"results go to {bench.out} (+ .png)")
    doc = bench.run()
    print(render_scaling(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
