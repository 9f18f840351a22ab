"""The self-expression family on one feature matrix: ACC / NMI / ARI, subspace-preserving error, time, memory.

    python -m bench.family [--data lines|yaleb] [--classes K] [--out bench/results/family.json]

``lines``: the Learn tab's lesson (4 lines in a plane of R^20, 15 points each). ``yaleb``: raw
32 × 32 pixels of the first K subjects of Extended Yale B (../shared/data; every image of those
subjects, ~64 each), rows scaled to unit length, d = 9 (the illumination subspace of a face).
Each method runs in its own fresh process (``bench.common.run_isolated``) through
:func:`sscn_core.family.benchmark_rows`, which other benchmarks call the same way.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common import RESULTS_DIR, ROOT, log, memory_budget, result_header, run_isolated, write_json

YALEB = ROOT.parent / "shared" / "data" / "yaleb" / "extended-yaleb-32x32.npz"


def load(data: str, classes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(features, labels, subspace dimension) of a named feature matrix."""
    if data == "lines":
        from sscn_core.data import make_subspaces

        ds = make_subspaces(4, 1, 20, 15, 0.0, "dependent", None, 0)
        return ds.X, ds.y, 1
    if data == "yaleb":
        if not YALEB.exists():
            raise FileNotFoundError(f"Extended Yale B is not at {YALEB.relative_to(ROOT.parent)}")
        with np.load(YALEB) as f:
            x, y = f["x"], f["y"]
        keep = np.isin(y, np.unique(y)[:classes])
        return x[keep].reshape(int(keep.sum()), -1).astype(np.float32) / 255.0, y[keep], 9
    raise ValueError(f"data must be 'lines' or 'yaleb', got {data!r}")


def method_case(data: str, classes: int, method: str, budget: int) -> dict[str, Any]:
    """One method's row (worker side)."""
    from sscn_core.family import benchmark_rows

    x, y, d = load(data, classes)
    return benchmark_rows(x, y, int(np.unique(y).size), d, methods=[method], memory_budget=budget)[0]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run every family member on the chosen data and write the result file."""
    from sscn_core.family import METHODS

    p = argparse.ArgumentParser(prog="python -m bench.family", description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["lines", "yaleb"], default="lines")
    p.add_argument("--classes", type=int, default=10, help="Yale B subjects (default 10)")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated family members")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per method")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    budget = memory_budget()
    doc = {**result_header("family", "bench.family", argv, device="cpu"), "data": a.data, "classes": a.classes,
           "memory_budget_bytes": budget, "rows": []}
    for method in a.methods.split(","):
        log(f"{a.data}: {method}")
        outcome = run_isolated("bench.family:method_case", {"data": a.data, "classes": a.classes, "method": method,
                                                            "budget": budget},
                               timeout_s=a.timeout, memory_limit_bytes=budget, threads=1)
        row = outcome.get("result") or {"method": method, "status": outcome["status"], "message": outcome.get("message")}
        doc["rows"].append({**row, "worker_peak_rss_bytes": outcome["worker_peak_rss_bytes"]})
        log(f"  {row.get('status')}: acc {row.get('acc')}, sp_error {row.get('sp_error')}, {row.get('seconds')} s")
    write_json(a.out or RESULTS_DIR / f"family-{a.data}.json", doc)
    return doc


if __name__ == "__main__":
    main()
