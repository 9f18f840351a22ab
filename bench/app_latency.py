"""How long the app makes a user wait with the accurate (scattering) settings: Start → first loss point,
Start → first metrics.

    python -m bench.app_latency            # → bench/results/app-latency.json
    python -m bench.app_latency --quick    # few digits (a smoke run)

It drives the app's own training job (``app.job.Job``, what the Start button starts) with the app's
data defaults (2,000 MNIST digits, 1,000 held-out ``mnist-oos`` digits) and the ``scattering``
preset's model settings, twice in one process: the first Start computes the training set's
scattering coefficients, the second (same data, as after changing a setting) finds them cached.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, log, result_header, write_json


def accurate_config(n_samples: int, holdout_size: int) -> Any:
    """The app's configuration with the scattering preset's model settings."""
    from app.config import AppConfig, DataConfig, ModelConfig
    from sscn_core.estimator import PRESETS

    p = PRESETS["scattering"]
    model = ModelConfig(autoencoder="none", frontend="scattering", h_init=p["h_init"],
                        classifier_temperature=p["classifier_temperature"], pseudo_sample_size=p["pseudo_sample_size"],
                        batch_size=min(p["batch_size"], n_samples), epochs=p["epochs"],
                        classifier_epochs=p["classifier_epochs"], lambda1=p["lambda1"], lambda2=p["lambda2"],
                        lambda_scale=p["lambda_scale"])
    return AppConfig(data=replace(DataConfig(), n_samples=n_samples, holdout_size=holdout_size), model=model)


def time_start(config: Any, timeout: float = 1800.0) -> dict[str, Any]:
    """Start one job; seconds to the first loss point, the first metrics and the end."""
    from sscn_core.analysis import make_probe
    from app.config import build_model, load_data
    from app.job import Job

    train, holdout = load_data(config.data)
    job = Job(build_model(config.model), make_probe(train, holdout))
    start = time.perf_counter()
    job.start()
    first_loss = first_metrics = None          # both on the page's clock, as it polls the job
    deadline = start + timeout
    while time.perf_counter() < deadline:
        snap = job.snapshot()
        if first_loss is None and snap.first_loss_after is not None:
            first_loss = time.perf_counter() - start
        if first_metrics is None and snap.analysis is not None and snap.analysis.metrics_in is not None:
            first_metrics = time.perf_counter() - start
        if not snap.active:
            break
        time.sleep(0.05)
    total = time.perf_counter() - start          # the page's clock, like first_metrics (training runs in a worker)
    job.close()
    snap = job.snapshot()
    if snap.error is not None:
        raise RuntimeError(f"the job failed: {snap.error.type}: {snap.error.message}")
    final = snap.analysis
    return {"state": snap.state, "first_loss_seconds": first_loss, "first_metrics_seconds": first_metrics,
            "total_seconds": total, "acc_in": final.metrics_in["acc"] if final and final.metrics_in else None,
            "acc_out": final.metrics_out["acc"] if final and final.metrics_out else None}


def main(argv: Sequence[str] | None = None) -> int:
    """Two Starts (cold, cached) with the accurate settings; write the JSON."""
    from app.job import warm_up_torch
    from sscn_core.features import clear_cache

    p = argparse.ArgumentParser(prog="python -m bench.app_latency", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="100 digits (a smoke run, not a result)")
    p.add_argument("--out", default=None, help="result file (default bench/results/app-latency.json)")
    args = p.parse_args(argv)
    n, n_out = (100, 50) if args.quick else (2000, 1000)
    config = accurate_config(n, n_out)
    out = Path(args.out) if args.out else RESULTS_DIR / ("app-latency-quick.json" if args.quick else "app-latency.json")
    doc: dict[str, Any] = {**result_header("app_latency", "bench.app_latency", argv), "quick": args.quick,
                           "n_samples": n, "holdout_size": n_out}
    warm_up_torch()  # the app does this once at start-up
    clear_cache()
    doc["cold"] = time_start(config)
    doc["cached"] = time_start(config)
    clear_cache()
    for name in ("cold", "cached"):
        r = doc[name]
        log(f"{name} Start: first loss point {r['first_loss_seconds']:.1f} s, first metrics "
            f"{r['first_metrics_seconds']:.1f} s, finished {r['total_seconds']:.1f} s (ACC {r['acc_in']:.4f})")
    write_json(out, doc)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
