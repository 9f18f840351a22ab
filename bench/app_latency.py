"""How long the explorer's landing run makes a user wait, beside the library's own fit of the same points.

    python -m bench.app_latency            # → bench/results/app-latency.json
    python -m bench.app_latency --quick    # 200 digits (a smoke run, not a result)

The landing run is what a new user gets by pressing Start on the opened app: the app's default
configuration (``app.config.AppConfig()``: 2,000 bundled MNIST digits, 1,000 held-out ``mnist-oos``
digits, every model setting at the app's default), started through the server's scheduler as the
Start button does (a warmed-up spare worker, the scheduler's thread budget), with the page's
analyses after each phase. It reports Start → first loss point, → first metrics and → "Finished",
and the accuracy the page shows. In the same process, before it, the library fits the same points
with its defaults (``SSCN(n_clusters=10, seed=0).fit(X)``, all cores): the ratio of the two is what
the app adds, its comparison run from the paper's start included. The scattering coefficients are computed cold in both (the cache is cleared).
Targets (issue 31): Finished ≤ 20 s, first loss point ≤ 3 s, ratio ≤ 2, accuracy within 1 point.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, log, result_header, write_json

SERVER_UP = 10.0   # seconds between the server's start and the user's Start
TARGETS = {"finished_seconds": 20.0, "first_loss_seconds": 3.0, "ratio": 2.0, "acc_points": 1.0}


def landing_config(n_samples: int | None = None, holdout_size: int | None = None) -> Any:
    """The app's default configuration (its landing run), optionally on fewer points."""
    from app.config import AppConfig

    config = AppConfig()
    changes = {k: v for k, v in (("n_samples", n_samples), ("holdout_size", holdout_size)) if v is not None}
    return replace(config, data=replace(config.data, **changes)) if changes else config


def library_fit(config: Any) -> dict[str, Any]:
    """The library's default fit of the landing run's training points (``SSCN(n_clusters=K, seed=…)``, no
    comparison run): seconds and ACC."""
    from app.config import load_data
    from sscn_core import SSCN
    from sscn_core.metrics import evaluate

    train, _ = load_data(config.data)
    model = SSCN(n_clusters=config.model.n_clusters, seed=config.model.seed, image_shape=train.image_shape)
    start = time.perf_counter()
    model.fit(train.X)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "acc": evaluate(train.y, model.labels_)["acc"], "phase_times": model.phase_times_,
            "frontend": model.settings_["frontend"]["value"]}


def time_start(config: Any, timeout: float = 1800.0) -> dict[str, Any]:
    """Press Start once (through a scheduler with a warm spare worker); seconds to each milestone."""
    from app.config import build_model, load_data
    from app.job import Job
    from app.scheduler import Scheduler
    from sscn_core.analysis import make_probe

    train, holdout = load_data(config.data)
    scheduler = Scheduler()
    try:
        time.sleep(SERVER_UP)     # the server's spare worker has imported torch and warmed up before a first click
        job = Job(build_model(config.model, train.image_shape), make_probe(train, holdout))
        start = time.perf_counter()
        scheduler.submit(job)
        first_loss = first_metrics = None          # on the page's clock, as it polls the job
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
        total = time.perf_counter() - start
        snap = job.snapshot()
        job.close()
    finally:
        scheduler.close()
    if snap.error is not None:
        raise RuntimeError(f"the job failed: {snap.error.type}: {snap.error.message}")
    final = snap.analysis
    phases = [row["phase"] for row in snap.history]
    return {"state": snap.state, "threads": snap.threads, "first_loss_seconds": first_loss,
            "first_metrics_seconds": first_metrics, "finished_seconds": total,
            "loss_points": len(snap.history), "loss_points_by_phase": {p: phases.count(p) for p in dict.fromkeys(phases)},
            "acc_in": final.metrics_in["acc"] if final and final.metrics_in else None,
            "acc_out": final.metrics_out["acc"] if final and final.metrics_out else None}


def main(argv: Sequence[str] | None = None) -> int:
    """The library's fit, then the landing run, of the same points; write the JSON."""
    from sscn_core.features import clear_cache

    p = argparse.ArgumentParser(prog="python -m bench.app_latency", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="200 digits (a smoke run, not a result)")
    p.add_argument("--out", default=None, help="result file (default bench/results/app-latency.json)")
    args = p.parse_args(argv)
    config = landing_config(200, 100) if args.quick else landing_config()
    out = Path(args.out) if args.out else RESULTS_DIR / ("app-latency-quick.json" if args.quick else "app-latency.json")
    doc: dict[str, Any] = {**result_header("app_latency", "bench.app_latency", argv), "quick": args.quick,
                           "n_samples": config.data.n_samples, "holdout_size": config.data.holdout_size,
                           "targets": TARGETS}
    clear_cache()
    doc["library"] = library_fit(config)
    clear_cache()
    doc["landing"] = app = time_start(config)
    clear_cache()
    lib = doc["library"]
    doc["ratio"] = app["finished_seconds"] / lib["seconds"]
    doc["acc_difference_points"] = 100 * (app["acc_in"] - lib["acc"])
    doc["met"] = {"finished_seconds": app["finished_seconds"] <= TARGETS["finished_seconds"],
                  "first_loss_seconds": app["first_loss_seconds"] is not None and
                  app["first_loss_seconds"] <= TARGETS["first_loss_seconds"],
                  "ratio": doc["ratio"] <= TARGETS["ratio"],
                  "acc_points": abs(doc["acc_difference_points"]) <= TARGETS["acc_points"]}
    log(f"library fit: {lib['seconds']:.1f} s, ACC {lib['acc']:.4f} ({lib['frontend']})")
    log(f"landing run ({app['threads']} threads): first loss point {app['first_loss_seconds']:.1f} s, first metrics "
        f"{app['first_metrics_seconds']:.1f} s, Finished {app['finished_seconds']:.1f} s, ACC {app['acc_in']:.4f}, "
        f"{app['loss_points']} loss points {app['loss_points_by_phase']}")
    log(f"ratio app / library: {doc['ratio']:.2f}; targets met: {doc['met']}")
    write_json(out, doc)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
