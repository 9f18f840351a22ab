"""Render benchmark results as Markdown: ``python -m bench.report [FILE.json ...]``.

Without arguments, renders ``bench/results/table1.json`` and ``bench/results/scaling.json`` (those
present) — the text the README includes.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import RESULTS_DIR, read_json

PHASE_NAMES = {"pretrain": "pre-training", "features": "features", "self_expression": "self-expression",
               "pseudo_labels": "pseudo-labels", "classifier": "classifier", "cluster": "clustering"}
MEMORY_KINDS = {"cpu_rss": "process RSS", "cuda_max_allocated": "CUDA max allocated"}


# ---------------------------------------------------------------------------------------------- formatting
def fmt_bytes(n: float | None) -> str:
    """Bytes as MiB / GiB for tables; "—" for None."""
    if n is None:
        return "—"
    if abs(n) >= 1024 ** 3:
        return f"{n / 1024 ** 3:.2f} GiB"
    return f"{n / 1024 ** 2:.0f} MiB"


def fmt_stat(stat: dict[str, Any] | None, scale: float = 1.0, digits: int = 2) -> str:
    """"mean ± std" of a summary (just the mean for one run); "—" when missing."""
    if not stat:
        return "—"
    text = f"{stat['mean'] * scale:.{digits}f}"
    if stat.get("std") is not None:
        text += f" ± {stat['std'] * scale:.{digits}f}"
    return text


def fmt_seconds(stat: dict[str, Any] | float | None) -> str:
    """Seconds, mean (± std) with sensible digits."""
    if stat is None:
        return "—"
    if isinstance(stat, (int, float)):
        stat = {"mean": float(stat), "std": None}
    digits = 2 if stat["mean"] < 10 else 1 if stat["mean"] < 100 else 0
    return fmt_stat(stat, digits=digits) + " s"


def fmt_int(n: int | None) -> str:
    """Thousands separators; "—" for None."""
    return "—" if n is None else f"{n:,}"


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _short(text: str, limit: int = 140) -> str:
    text = _escape(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return lines


def machine_line(doc: dict[str, Any]) -> str:
    m = doc.get("machine", {})
    gpu = m.get("gpu")
    parts = [f"{m.get('cpu', '?')}, {m.get('logical_cores', '?')} cores",
             f"{m.get('ram_bytes', 0) / 1024 ** 3:.0f} GiB RAM",
             f"GPU: {gpu['name']}" if gpu else "no GPU",
             f"torch {m.get('torch', '?')} ({m.get('torch_threads', '?')} threads)"]
    if m.get("load_average_1_5_15"):
        parts.append(f"load average at start {m['load_average_1_5_15'][0]}")
    return "; ".join(parts)


def _header(doc: dict[str, Any], title: str) -> list[str]:
    lines = [f"### {title}", "", f"`{doc.get('command', '?')}` — {doc.get('date', '?')}", "",
             f"Machine: {machine_line(doc)}" + (f"; commit {doc['machine']['git_commit']}"
                                                 if doc.get("machine", {}).get("git_commit") else ""), ""]
    if doc.get("quick"):
        lines += ["**Quick smoke run** (small N, few epochs): numbers are not comparable with the paper.", ""]
    return lines


# ---------------------------------------------------------------------------------------------- Table 1
def _paper_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for p in doc.get("paper", {}).get("rows", []):
        def pm(v: list[float | None]) -> str:
            return f"{v[0]:.2f}" + (f" ± {v[1]:.2f}" if v[1] is not None else "")

        rows.append([f"*Paper: {p['method']}*", p["set"], "10,000" if "10k" in p["set"] else "60,000",
                     pm(p["acc"]), pm(p["ari"]), pm(p["nmi"]), fmt_int(p.get("n_parameters")),
                     f"{p['memory_gb']} GB (GPU)" if p.get("memory_gb") else "", f"{p['seconds']} s (GPU)"
                     if p.get("seconds") else ""])
    return rows


def _metric_cells(stats: dict[str, Any] | None) -> list[str]:
    stats = stats or {}
    return [fmt_stat(stats.get(m), 100) for m in ("acc", "ari", "nmi")]


def _method_rows(row: dict[str, Any], missing_ae: str | None = None) -> list[list[str]]:
    name = row.get("method", row.get("id", "?"))
    s = row.get("summary") or {}
    status = row.get("status", "?")
    if not s:
        if missing_ae and missing_ae in status:
            status = status.replace(missing_ae, "pre-trained auto-encoder missing (see the note above)")
        return [[name, _short(status), "", "—", "—", "—", "—", "—", "—"]]
    runs = f"{s.get('n_runs')} run" + ("s" if s.get("n_runs", 0) != 1 else "")
    if status != "ok":
        runs += f" ({_short(status, 80)})"
    peak = s.get("peak_memory_max_bytes")
    rows = [[name, f"in-sample ({'classifier' if row.get('kind') == 'sscn' else 'labels'}), {runs}", fmt_int(s.get("n")),
             *_metric_cells(s.get("in_sample")), fmt_int(s.get("n_parameters")),
             fmt_bytes(peak["mean"]) if peak else "—",
             fmt_seconds(s.get("fit_seconds") or s.get("phase_seconds", {}).get("cluster"))]]
    if s.get("pseudo_labels"):
        rows.append([name, "pseudo-labels (spectral)", fmt_int(s.get("n")), *_metric_cells(s["pseudo_labels"]), "",
                     fmt_bytes(s.get("peak_memory_bytes", {}).get("pseudo_labels", {}).get("mean")),
                     fmt_seconds(s.get("phase_seconds", {}).get("pseudo_labels"))])
    for key, held in (s.get("out_of_sample") or {}).items():
        if held.get("status") != "ok":
            rows.append([name, f"out-of-sample: {key}", "", _short(held.get("status", "?"), 90), "", "", "", "", ""])
            continue
        ips = held.get("images_per_second") or {}
        rows.append([name, f"out-of-sample: {key}", fmt_int(held.get("n")), *_metric_cells(held), "",
                     fmt_bytes((held.get("peak_memory_bytes") or {}).get("mean")),
                     fmt_seconds(held.get("seconds")) + (f" ({ips['mean']:,.0f} images/s)" if ips else "")])
    return rows


def _phase_rows(row: dict[str, Any]) -> list[list[str]]:
    s = row.get("summary") or {}
    out = []
    for phase, stat in (s.get("phase_seconds") or {}).items():
        mem = (s.get("peak_memory_bytes") or {}).get(phase)
        out.append([row.get("method", "?"), PHASE_NAMES.get(phase, phase), fmt_seconds(stat),
                    fmt_bytes(mem["mean"]) if mem else "—"])
    return out


def _fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit == "images/s":
        return f"{value:,.0f} images/s"
    if unit == "ratio":
        return f"{value:.3f}"
    if unit == "%":
        return f"{value:.2f} %"
    return f"{value:.2f} {unit}"


def render_targets(targets: Sequence[dict[str, Any]]) -> list[str]:
    """The targets as a Markdown table (measured value, threshold, met)."""
    if not targets:
        return []
    rows = []
    for t in targets:
        threshold = t["threshold"]
        limit = (f"{threshold[0]:.2f} … {threshold[1]:.2f} {t['unit']}" if t["comparison"] == "in"
                 else f"{t['comparison']} {_fmt_value(threshold, t['unit'])}")
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        rows.append([t["name"], _fmt_value(t["measured"], t["unit"]), limit, met])
    lines = ["**Targets**" + (f" ({targets[0]['note']})" if targets[0].get("note") else ""), ""]
    return lines + _table(["Target", "Measured", "Required", "Met"], rows) + [""]


def render_table1(doc: dict[str, Any]) -> str:
    """Markdown for a ``bench.table1`` result: one table per data set, phases, targets."""
    lines = _header(doc, "Table 1, side by side")
    kinds = {r.get("summary", {}).get("memory_kind") for ds in doc.get("datasets", {}).values()
             for r in ds.get("rows", []) if r.get("summary")}
    kinds.discard(None)
    if kinds:
        lines += [f"Metrics in %, mean ± std (ddof 1) over runs. Peak memory: "
                  f"{', '.join(MEMORY_KINDS.get(k, k) for k in sorted(kinds))}, the largest over a run's phases.", ""]
    header = ["Method", "Evaluated on", "N", "ACC", "ARI", "NMI", "Params", "Peak memory", "Time"]
    for name, ds in doc.get("datasets", {}).items():
        lines += [f"#### {name}: trained on the {ds.get('train_set', name)}", ""]
        if ds.get("status", "ok") != "ok":
            lines += [f"Not run: {_short(ds['status'], 300)}", ""]
            continue
        if ds.get("autoencoder"):
            lines += [f"Note: {ds['autoencoder']}", ""]
        rows = _paper_rows(doc) if name == "mnist" else []
        for row in ds.get("rows", []):
            rows += _method_rows(row, ds.get("autoencoder"))
        lines += _table(header, rows) + [""]
        phases = [p for row in ds.get("rows", []) for p in _phase_rows(row)]
        if phases:
            lines += ["Per phase (mean over runs):", ""]
            lines += _table(["Method", "Phase", "Wall time", "Peak memory"], phases) + [""]
    lines += render_targets(doc.get("targets", []))
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------- scaling
def _scaling_cell(point: dict[str, Any]) -> str:
    if point.get("status") != "ok":
        return _short(point.get("status", "?"), 60)
    text = fmt_seconds(point.get("seconds"))
    if point.get("images_per_second"):
        text += f" ({point['images_per_second']:,.0f}/s)"
    return f"{text} · {fmt_bytes(point.get('memory_growth_bytes'))}"


def render_scaling(doc: dict[str, Any]) -> str:
    """Markdown for a ``bench.scaling`` result: cases × N with time and peak memory growth."""
    lines = _header(doc, "Cost against N")
    cases = doc.get("cases", [])
    if cases:
        sizes = sorted({p["n"] for c in cases for p in c.get("points", [])})
        lines += ["Each cell: wall time · peak memory above the worker's memory before the case "
                  f"({MEMORY_KINDS.get(doc.get('memory_kind', ''), doc.get('memory_kind', '?'))}). "
                  "Every cell ran in a fresh process.", ""]
        rows = []
        for case in cases:
            by_n = {p["n"]: p for p in case.get("points", [])}
            rows.append([case["label"], case.get("time_metric", "")] +
                        [_scaling_cell(by_n[n]) if n in by_n else "" for n in sizes])
        lines += _table(["Case", "Time is", *[f"N = {n:,}" for n in sizes]], rows) + [""]
        data = doc.get("data", {})
        if data:
            lines += ["Data: " + "; ".join(f"N={int(k):,}: {v}" for k, v in sorted(data.items(), key=lambda kv: int(kv[0]))),
                      ""]
    synthetic = doc.get("synthetic")
    if synthetic:
        lines += [f"**{synthetic.get('label', 'Synthetic')}**", ""]
        rows = []
        for p in synthetic.get("points", []):
            if p.get("status") != "ok":
                rows.append([fmt_int(p.get("n")), _short(p.get("status", "?"), 80), "", "", "", "", ""])
                continue
            rows.append([fmt_int(p["n"]), fmt_seconds(p.get("fit_seconds")), fmt_bytes(p.get("data_bytes")),
                         fmt_bytes(p.get("peak_memory_bytes")), fmt_bytes(p.get("memory_growth_bytes")),
                         f"{p.get('acc', 0) * 100:.2f}", f"{p.get('ari', 0) * 100:.2f}"])
        lines += _table(["N", "Fit time", "Data (X)", "Peak memory", "Peak above start", "ACC (%)", "ARI (%)"], rows)
        lines += [""]
    if doc.get("plot"):
        lines += [f"![time and memory against N]({doc['plot']})", ""]
    lines += render_targets(doc.get("targets", []))
    return "\n".join(lines).rstrip() + "\n"


def render(doc: dict[str, Any]) -> str:
    """Markdown for any result document (dispatch on its ``benchmark`` field)."""
    kind = doc.get("benchmark")
    if kind == "table1":
        return render_table1(doc)
    if kind == "scaling":
        return render_scaling(doc)
    raise ValueError(f"unknown benchmark {kind!r}: expected a result of bench.table1 or bench.scaling")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the Markdown of the given result files (default: those in bench/results/)."""
    p = argparse.ArgumentParser(prog="python -m bench.report", description="Render benchmark results as Markdown")
    p.add_argument("files", nargs="*", help="result JSON files (default: bench/results/table1.json, scaling.json)")
    args = p.parse_args(argv)
    files = [Path(f) for f in args.files] or [f for f in (RESULTS_DIR / "table1.json", RESULTS_DIR / "scaling.json")
                                              if f.is_file()]
    if not files:
        print(f"no results in {RESULTS_DIR}; run python -m bench.table1 and python -m bench.scaling first",
              file=sys.stderr)
        return 1
    try:
        print("\n".join(render(read_json(f)) for f in files))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
