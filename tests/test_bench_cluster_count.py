"""bench.cluster_count: the estimate as the fit makes it, its verdicts, and its section of the benchmarks page."""
from __future__ import annotations

from bench import cluster_count, report


def test_a_synthetic_case_is_estimated_as_the_fit_does_it() -> None:
    row = cluster_count.case("syn-3-0")
    assert (row["true_k"], row["k"], row["ok"], row["structure"], row["frontend"]) == (3, 3, True, True, "pixels")
    assert row["n"] == 120 and not row["held_out"] and row["seconds"] > 0


def _row(name: str, true_k: int | None, k: int, ok: bool, structure: bool = True, held_out: bool = False) -> dict:
    return {"set": name, "n": 1000, "true_k": true_k, "k": k, "ok": ok, "held_out": held_out, "structure": structure,
            "factor": 1.5, "frontend": "pixels", "by_frontend": {"pixels": {"value": k, "factor": 1.5}}, "seconds": 3.0}


def test_the_table_says_which_target_each_set_meets_and_keeps_held_out_sets_apart() -> None:
    rows = [_row("syn-5-0", 5, 5, True), _row("yaleb", 38, 2, False), _row("null-blob", None, 3, True, False),
            _row("faces-15x11", 15, 14, True, held_out=True)]
    table = cluster_count.markdown(rows)
    assert "| syn-5-0 | 1,000 | 5 | **5** | yes | pixels 5 (×1.50) | 3 s | exact: met |" in table
    assert "| yaleb | 1,000 | 38 | **2** | yes |" in table and "±10 %: MISSED |" in table
    assert "| null-blob | 1,000 | none | **3** | no |" in table and "warning: met |" in table
    main, held = table.split("Held out")
    assert "faces-15x11" in held and "faces-15x11" not in main
    assert table.endswith("3 of 4 sets with a target meet it (dependent subspaces: no target, 0 of 0 exact).")


def test_the_report_renders_a_partial_run_as_partial() -> None:
    doc = {"benchmark": "cluster_count", "command": "python -m bench.cluster_count", "date": "2026-12-07",
           "machine": {}, "rows": [], "markdown": "TABLE", "complete": False}
    text = report.render(doc)
    assert "TABLE" in text and "stopped before every set was measured" in text
    assert "cluster-count.json" in report.PAGE
