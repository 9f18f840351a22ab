"""Render benchmark results as Markdown: ``python -m bench.report [FILE.json ...]``.

Without arguments, writes ``docs/benchmarks.md`` from the result files in ``bench/results`` that the
page shows (:data:`PAGE`, those present): current numbers only, each with its command, date and
machine. With files, prints their Markdown instead.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import RESULTS_DIR, read_json, write_text_atomic

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


# ---------------------------------------------------------------------------------------------- the app
def render_app_latency(doc: dict[str, Any]) -> str:
    """The explorer's landing run beside the library's fit of the same points, with the targets."""
    lib, app = doc["library"], doc["landing"]
    met = doc.get("met", {})
    target = doc.get("targets", {})

    def mark(key: str) -> str:
        return "met" if met.get(key) else "**missed**"

    lines = _header(doc, "The explorer's landing run (issue 31)")
    lines += [f"Press Start on the opened app: {doc['n_samples']:,} bundled MNIST digits, {doc['holdout_size']:,} "
              f"held out, every setting at the app's default ({app['threads']} torch threads in the worker). The "
              f"library's default fit of the same points ran in the same process just before.", ""]
    rows = [["library fit (`SSCN(n_clusters=10, seed=0).fit`)", f"{lib['seconds']:.1f} s", f"{100 * lib['acc']:.2f} %",
             "—"],
            ["landing run: Start → first loss point", f"{app['first_loss_seconds']:.1f} s", "—",
             f"≤ {target.get('first_loss_seconds', 3):g} s: {mark('first_loss_seconds')}"],
            ["landing run: Start → first metrics", f"{app['first_metrics_seconds']:.1f} s", "—", "—"],
            ["landing run: Start → Finished", f"{app['finished_seconds']:.1f} s", f"{100 * app['acc_in']:.2f} %",
             f"≤ {target.get('finished_seconds', 20):g} s: {mark('finished_seconds')}; ACC within "
             f"{target.get('acc_points', 1):g} point: {mark('acc_points')}"],
            ["app ÷ library", f"{doc['ratio']:.2f}×", "—", f"≤ {target.get('ratio', 2):g}×: {mark('ratio')}"]]
    lines += _table(["", "time", "ACC (in sample)", "target"], rows)
    points = ", ".join(f"{n} {phase.replace('_', '-')}" for phase, n in app["loss_points_by_phase"].items())
    lines += ["", f"Loss points on the chart: {points} (the comparison from the paper's start is drawn beside "
                  f"Theorem 1's optimum). Held-out ACC {100 * app['acc_out']:.2f} %.", ""]
    return "\n".join(lines)


def render_rules(doc: dict[str, Any]) -> str:
    """The label-free rules on the check sets and the held-out stand-ins (``bench.rules``' own tables)."""
    lines = _header(doc, "The label-free rules, set by set (issue 30)")
    lines += ["Labels only score. Front-end: the default beside each front-end alone, with the model choice's "
              "margin and its noise; graph: the pseudo-labels' graph the rule took (Q, or the sparse SSC graph of Z "
              "when its μ_(K+1)/μ_K reaches 10) beside each graph alone, and the default against the best of all four "
              "candidates (each front-end alone, each graph alone); α: the pseudo-labels' ACC at each power of Q's "
              "graph, the rule's choice in bold; λ: the "
              "weight rule beside the paper's weights. No rule was fitted to the held-out stand-ins; "
              "the first three had been seen when α was tied to the front-end's verdict, fashion-posed and "
              "faces-38x8 were built afterwards to judge that rule, and faces-posed-b, turning-few and "
              "digits-posed-b to judge α = 3.5 below 15 points a cluster (then 1.5, judged by every held-out set "
              "with fewer than 15 points a cluster; now 2.5 after pixels, judged by faces-38x12 and faces-20x13) "
              "and the classifier's temperature 20; "
              "the graph rule was written after the check sets' sparse graphs had been looked at, and the "
              "held-out sets judge it; faces-turned (a check set) and faces-turned-b (held out), faces turned in "
              "depth, were built after every rule.", "", doc["markdown"], ""]
    return "\n".join(lines)


def render_choice_rules(doc: dict[str, Any]) -> str:
    """Other label-free rules for the front-end and α against the plan's (``bench.choice_rules``' tables)."""
    lines = _header(doc, "Other rules for the front-end and α, tried and dropped (issue 30)")
    lines += ["Each rule was written down before its scores were looked at (the rules: `bench/choice_rules.py`). "
              "Labels only score. Every rule that compares graphs by a cut or by stability prefers the smallest "
              "power; R9 (the verdict's power, 2.5 or 1.5 below 15 points a cluster) is the plan's on images.", "", doc["markdown"], ""]
    return "\n".join(lines)


def render_standard(doc: dict[str, Any]) -> str:
    """The defaults on one of the field's standard sets over seeds (``bench.standard``' table and targets)."""
    from .standard import render as standard_table

    sets = ", ".join(doc["rows"])
    lines = _header(doc, f"The defaults over seeds: {sets}")
    lines += [standard_table(doc), ""]
    if doc.get("targets"):
        lines += render_targets(doc["targets"]) + [""]
    return "\n".join(lines)


def render_cluster_count(doc: dict[str, Any]) -> str:
    """n_clusters="auto"'s estimate against the true K (``bench.cluster_count``' table)."""
    lines = _header(doc, "How many subspaces: n_clusters='auto' against the true K (issue 34)")
    partial = "" if doc.get("complete", True) else " This run was stopped before every set was measured."
    lines += ["The estimate exactly as the fit's first phase makes it (the rule: `sscn_core/plan.py`, "
              "`sscn_core/cluster_count.py`); labels only score. Times are the estimate's alone, not the fit's."
              + partial, "", doc["markdown"], ""]
    return "\n".join(lines)


RENDERERS = {"cluster_count": render_cluster_count, "table1": render_table1, "scaling": render_scaling, "app_latency": render_app_latency,
             "rules": render_rules, "choice_rules": render_choice_rules, "standard": render_standard}
# The result files docs/benchmarks.md shows, in order (each present one).
PAGE = ("app-latency.json", "rules.json", "choice-rules.json", "cluster-count.json", "standard-yaleb.json",
        "standard-mnist.json", "table1.json")
DOCS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def render(doc: dict[str, Any]) -> str:
    """Markdown for any result document (dispatch on its ``benchmark`` field)."""
    kind = doc.get("benchmark")
    if kind not in RENDERERS:
        raise ValueError(f"unknown benchmark {kind!r}: expected a result of {', '.join(sorted(RENDERERS))}")
    return RENDERERS[kind](doc)


def page(files: Sequence[Path]) -> str:
    """docs/benchmarks.md: a short preface, then each result file's section."""
    head = ["# Benchmarks", "",
            "Generated by `python -m bench.report` from `bench/results/`; current numbers only (older results live in "
            "git's history). Each section names the command that measured it, the date and the machine. Re-run a "
            "benchmark when code moves its numbers, then regenerate this page.", ""]
    return "\n".join(head) + "\n" + "\n".join(render(read_json(f)) for f in files)


def main(argv: Sequence[str] | None = None) -> int:
    """Write docs/benchmarks.md (no arguments), or print the Markdown of the given result files."""
    p = argparse.ArgumentParser(prog="python -m bench.report", description="Render benchmark results as Markdown")
    p.add_argument("files", nargs="*", help="result JSON files to print (default: write docs/benchmarks.md)")
    p.add_argument("--out", default=None, help=f"the page to write (default {DOCS_PAGE})")
    args = p.parse_args(argv)
    try:
        if args.files:
            print("\n".join(render(read_json(Path(f))) for f in args.files))
            return 0
        files = [RESULTS_DIR / name for name in PAGE if (RESULTS_DIR / name).is_file()]
        if not files:
            print(f"no results in {RESULTS_DIR}; run the benchmarks first (python -m bench.app_latency, "
                  f"python -m bench.rules)", file=sys.stderr)
            return 1
        out = Path(args.out) if args.out else DOCS_PAGE
        write_text_atomic(out, page(files))
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
