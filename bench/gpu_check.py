"""Device check (issue 15, GPU correctness): every preset fitted, used and reloaded on one device.

    python -m bench.gpu_check            # on a CUDA machine, under 8 minutes → bench/results/gpu-check.json
    python -m bench.gpu_check --quick    # a smoke run on few digits, on whatever device there is (CI: CPU)

For each preset: fit on the MNIST-10k digits (seed 0; the conv presets load the bundled MNIST
auto-encoder, as Table 1 does), check that every parameter and buffer sits on the device, predict
the 10k held-out ``mnist-oos`` digits (throughput), save, load on the same device and on the CPU,
and compare the predictions. The ``paper`` run is seed 0 of the paper's Table 1 row; its accuracy
is shown beside the CPU run of the same seed from ``bench/results/table1.json`` when that file has it.
Peak memory is ``torch.cuda.max_memory_allocated`` on a GPU, the process's RSS on a CPU.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS_DIR, log, memory_kind, read_json, result_header, write_json

QUICK_OVERRIDES = dict(epochs=1, classifier_epochs=1, self_training_epochs=1)


def _off_device(net: Any, device: Any) -> list[str]:
    """Names of the parameters and buffers not on ``device``."""
    return [name for name, t in [*net.named_parameters(), *net.named_buffers()] if t.device.type != device.type]


def _cpu_seed0(preset: str) -> float | None:
    """In-sample ACC of seed 0 of ``preset`` on MNIST in the CPU Table 1 results, if recorded."""
    path = RESULTS_DIR / "table1.json"
    if not path.exists():
        return None
    rows = read_json(path).get("datasets", {}).get("mnist", {}).get("rows", [])
    for row in rows:
        if row.get("id") == preset:
            for run in row.get("runs", []):
                if run.get("seed") == 0:
                    return run.get("in_sample", {}).get("acc")
    return None


def check_preset(preset: str, train: Any, held: Any, device: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Fit / predict / save / load one preset on ``device``; timings, memory and agreement."""
    import torch

    from sscn_core import SSCN
    from sscn_core.device import resolve_device
    from sscn_core.estimator import PRESETS
    from sscn_core.metrics import PeakMemory, evaluate

    dev = resolve_device(device)
    conv = PRESETS[preset].get("autoencoder") == "conv"
    model = SSCN.from_preset(preset, pretrained="mnist" if conv else None, seed=0, device=device, **overrides)
    with PeakMemory(dev) as fit_mem:
        start = time.perf_counter()
        model.fit(train.X)
        fit_seconds = time.perf_counter() - start
    model.predict(held.X[:64])  # warm-up
    with PeakMemory(dev) as predict_mem:
        start = time.perf_counter()
        pred = model.predict(held.X)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        predict_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / f"{preset}.pt")
        same = SSCN.load(path, device=device)
        on_cpu = SSCN.load(path, device="cpu")
        pred_same, pred_cpu = same.predict(held.X), on_cpu.predict(held.X)
    row = {
        "preset": preset, "device": model.device_, "n_train": len(train), "n_held_out": len(held),
        "overrides": overrides, "fit_seconds": fit_seconds, "phase_seconds": dict(model.phase_times_),
        "predict_seconds": predict_seconds, "predict_images_per_second": len(held) / predict_seconds,
        "peak_memory_bytes": {"fit": fit_mem.peak_bytes, "predict": predict_mem.peak_bytes},
        "off_device": _off_device(model.net_, dev) + _off_device(same.net_, dev),
        "loaded_agrees": float(np.mean(pred_same == pred)), "cpu_agrees": float(np.mean(pred_cpu == pred)),
        "in_sample": evaluate(train.y, model.labels_) if model.labels_ is not None else None,
        "out_of_sample": evaluate(held.y, pred),
    }
    if preset == "paper":
        row["cpu_table1_seed0_acc"] = _cpu_seed0("paper")
    acc = row["in_sample"]["acc"] if row["in_sample"] else float("nan")
    log(f"{preset} on {model.device_}: fit {fit_seconds:.1f} s, ACC {acc:.4f} in / {row['out_of_sample']['acc']:.4f} "
        f"out, predict {row['predict_images_per_second']:,.0f} images/s, loaded agrees {row['loaded_agrees']:.4f}, "
        f"CPU agrees {row['cpu_agrees']:.4f}, off device: {row['off_device'] or 'none'}")
    return row


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few digits and one epoch per phase (CI smoke run)")
    p.add_argument("--device", default="auto", help="'auto' (CUDA when present), 'cpu' or 'cuda[:i]'")
    p.add_argument("--n-samples", type=int, default=None, help="training digits (default 10000; quick 200)")
    p.add_argument("--presets", default=None, help="comma-separated presets (default all)")
    p.add_argument("--out", default=None, help="result file (default bench/results/gpu-check.json; quick: gpu-check-quick.json)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Check every preset on the device; exit status 1 when any check failed."""
    from sscn_core import load_dataset
    from sscn_core.estimator import PRESETS

    args = build_parser().parse_args(argv)
    presets = [p.strip() for p in args.presets.split(",")] if args.presets else list(PRESETS)
    unknown = sorted(set(presets) - set(PRESETS))
    if unknown:
        build_parser().error(f"unknown presets {unknown}; choose from {sorted(PRESETS)}")
    n = args.n_samples or (200 if args.quick else None)
    train = load_dataset("mnist", n_samples=n, seed=0)
    held = load_dataset("mnist-oos", n_samples=n, seed=0)
    overrides = QUICK_OVERRIDES if args.quick else {}
    out = Path(args.out) if args.out else RESULTS_DIR / ("gpu-check-quick.json" if args.quick else "gpu-check.json")
    doc: dict[str, Any] = {**result_header("gpu_check", "bench.gpu_check", argv, args.device), "quick": args.quick,
                           "memory_kind": memory_kind(args.device)}
    start = time.perf_counter()
    doc["presets"] = [check_preset(p, train, held, args.device, overrides) for p in presets]
    doc["seconds"] = time.perf_counter() - start
    doc["ok"] = all(not r["off_device"] and r["loaded_agrees"] == 1.0 and r["cpu_agrees"] >= 0.999
                    for r in doc["presets"])
    write_json(out, doc)
    log(f"{'all checks passed' if doc['ok'] else 'SOME CHECKS FAILED'} in {doc['seconds']:.0f} s; wrote {out}")
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
