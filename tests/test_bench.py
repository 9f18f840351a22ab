"""Tests of the benchmarks: plumbing, aggregation, targets, Markdown, and the --quick runs end to end."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import common, report, scaling, standard, table1

HAVE_THEORY = importlib.util.find_spec("sscn_core.theory") is not None
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------- worker helpers
# Targets for run_isolated: the workers import this module by name (pytest puts tests/ on sys.path,
# and the workers inherit the parent's sys.path).
def sleep_for(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def fail_with(message: str) -> None:
    raise ValueError(message)


def allocate(total_mb: int, step_mb: int = 50) -> int:
    chunks = []
    for _ in range(total_mb // step_mb):
        chunks.append(np.ones(step_mb * 2**20 // 8))
        time.sleep(0.05)
    return len(chunks)


# ------------------------------------------------------------------------------------- common
def test_summarize_uses_sample_std_and_ignores_missing_values():
    s = common.summarize([1.0, 2.0, None, 3.0, float("nan")])
    assert s["mean"] == pytest.approx(2.0) and s["std"] == pytest.approx(1.0) and s["n"] == 3
    assert common.summarize([5.0])["std"] is None
    assert common.summarize([None]) is None


def test_target_comparisons():
    assert common.target("a", 68.0, "in", [64.58, 71.38], "%")["met"] is True
    assert common.target("a", 60.0, "in", [64.58, 71.38], "%")["met"] is False
    assert common.target("b", 0.3, "<=", 0.2, "ratio")["met"] is False
    assert common.target("c", 60_000.0, ">=", 50_000, "images/s")["met"] is True
    assert common.target("d", None, ">=", 1, "s")["met"] is None
    with pytest.raises(ValueError, match="comparison"):
        common.target("e", 1.0, "<", 2.0, "s")


def test_write_json_converts_numpy_and_non_finite_values(tmp_path):
    path = common.write_json(tmp_path / "sub" / "r.json",
                             {"a": np.float32(1.5), "b": np.arange(3), "c": float("inf"), "d": (np.int64(2), Path("x"))})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": None, "d": [2, "x"]}
    assert not list(path.parent.glob(".*.tmp"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        common.read_json(tmp_path / "bad.json")


def test_machine_info_describes_the_machine():
    info = common.machine_info("cpu")
    assert info["cpu"] and info["logical_cores"] >= 1 and info["ram_bytes"] > 0
    assert info["device"] == "cpu" and info["torch"] and "gpu" in info


def test_missing_pretrained_names_the_command(monkeypatch, tmp_path):
    import sscn_core.pretraining as pretraining

    monkeypatch.setattr(pretraining, "ASSETS_DIR", tmp_path)
    message = common.missing_pretrained("fashion-mnist")
    assert "fashion_mnist_conv_ae.pt" in message and "python -m sscn_core pretrain --dataset fashion-mnist" in message
    with pytest.raises(ValueError, match="no bundled auto-encoder"):
        common.pretrained_path("digits")


@pytest.mark.slow  # starts the fork server (imports torch): ~10 s on a busy 2-core machine
def test_run_isolated_returns_results_errors_and_kills_slow_workers():
    ok = common.run_isolated("bench.common:summarize", {"values": [1, 2, 3]}, timeout_s=120)
    assert ok["status"] == "ok" and ok["result"]["mean"] == 2.0 and ok["worker_peak_rss_bytes"] >= 0
    err = common.run_isolated("test_bench:fail_with", {"message": "boom"}, timeout_s=120)
    assert err["status"] == "error" and "ValueError: boom" in err["message"] and "Traceback" in err["traceback"]
    slow = common.run_isolated("test_bench:sleep_for", {"seconds": 60}, timeout_s=1.0)
    assert slow["status"] == "timeout" and slow["wall_seconds"] < 30


@pytest.mark.slow
def test_run_isolated_kills_a_worker_over_its_memory_limit():
    probe = common.run_isolated("bench.common:current_memory", {"device": "cpu"}, timeout_s=120)
    limit = probe["result"] + 200 * 2**20
    out = common.run_isolated("test_bench:allocate", {"total_mb": 1000}, timeout_s=120, memory_limit_bytes=limit)
    assert out["status"] == "killed" and "exceeded the budget" in out["message"]


def test_run_isolated_rejects_a_malformed_target():
    with pytest.raises(ValueError, match="package.module:function"):
        common.run_isolated("bench.common.summarize")


# ------------------------------------------------------------------------------------- table1 aggregation
def _sscn_run(seed: int, acc: float, oos_acc: float) -> dict[str, Any]:
    metrics = {"acc": acc, "ari": acc - 0.1, "nmi": acc + 0.01}
    return {"seed": seed, "status": "ok", "wall_seconds": 10.0, "result": {
        "seed": seed, "n": 10_000, "memory_kind": "cpu_rss", "n_parameters": 66_291, "fit_seconds": 100.0 + seed,
        "phase_seconds": {"self_expression": 60.0, "pseudo_labels": 25.0 + seed, "classifier": 15.0},
        "peak_memory_bytes": {"self_expression": 500 * 2**20, "pseudo_labels": 900 * 2**20, "classifier": 600 * 2**20},
        "baseline_memory_bytes": 300 * 2**20, "in_sample": metrics, "pseudo_labels": metrics,
        "out_of_sample": {
            "mnist-oos": {"status": "ok", "dataset": "mnist-oos", "n": 10_000, "seconds": 0.2,
                          "images_per_second": 50_000.0, "peak_memory_bytes": 2**30, "acc": oos_acc, "ari": 0.5,
                          "nmi": 0.6},
            "mnist-60k": {"status": "not available: no files"}}}}


def test_aggregate_runs_means_stds_and_held_out_sets():
    runs = [_sscn_run(0, 0.66, 0.65), _sscn_run(1, 0.70, 0.69),
            {"seed": 2, "status": "error", "message": "RuntimeError: x", "wall_seconds": 1.0}]
    s = table1.aggregate_runs(runs)
    assert s["n_runs"] == 2 and s["n_parameters"] == 66_291
    assert s["in_sample"]["acc"]["mean"] == pytest.approx(0.68)
    assert s["in_sample"]["acc"]["std"] == pytest.approx(np.std([0.66, 0.70], ddof=1))
    assert s["phase_seconds"]["pseudo_labels"]["mean"] == pytest.approx(25.5)
    assert s["peak_memory_max_bytes"]["mean"] == 900 * 2**20
    assert s["peak_memory_growth_bytes"]["mean"] == 600 * 2**20
    assert s["out_of_sample"]["mnist-60k"] == {"status": "not available: no files"}
    assert s["out_of_sample"]["mnist-oos"]["acc"]["mean"] == pytest.approx(0.67)
    assert s["whole_run_seconds"]["mean"] == pytest.approx(100.5 + 0.2)
    assert table1._row_status(runs).startswith("partial: 1 of 3 runs failed")


def _doc_with(sscn_runs: list[dict[str, Any]], dsc_peak: int) -> dict[str, Any]:
    dsc_run = {"seed": 0, "status": "ok", "wall_seconds": 1.0, "result": {
        "seed": 0, "n": 10_000, "n_parameters": 100_014_991, "fit_seconds": 300.0,
        "phase_seconds": {"self_expression": 200.0, "pseudo_labels": 100.0},
        "peak_memory_bytes": {"self_expression": dsc_peak, "pseudo_labels": dsc_peak // 2},
        "baseline_memory_bytes": 300 * 2**20, "in_sample": {"acc": 0.63, "ari": 0.57, "nmi": 0.72}}}
    rows = [{"id": "sscn:paper", "method": "SSCN (paper preset)", "kind": "sscn", "status": "ok",
             "summary": table1.aggregate_runs(sscn_runs), "runs": sscn_runs},
            {"id": "dsc", "method": "DSC-Net (same AE)", "kind": "dsc", "status": "ok",
             "summary": table1.aggregate_runs([dsc_run]), "runs": [dsc_run]}]
    return {"benchmark": "table1", "quick": False, "datasets": {"mnist": {"status": "ok", "rows": rows}}}


def test_compute_targets_measures_and_judges_each_target():
    doc = _doc_with([_sscn_run(0, 0.66, 0.655), _sscn_run(1, 0.70, 0.695)], dsc_peak=10 * 2**30)
    targets = table1.compute_targets(doc)

    def find(fragment: str) -> dict[str, Any]:
        (hit,) = [t for t in targets if fragment in t["name"]]
        return hit

    acc = find("in-sample ACC")
    assert acc["measured"] == pytest.approx(68.0) and acc["met"] is True and acc["threshold"] == [64.58, 71.38]
    assert find("in-sample ARI")["measured"] == pytest.approx(58.0) and find("in-sample ARI")["met"] is True
    gap = find("out-of-sample ACC")
    assert gap["measured"] == pytest.approx(0.5) and gap["met"] is True and "mnist-oos" in gap["name"]
    assert find("out-of-sample ARI")["met"] is False  # 0.50 out of sample against 0.58 in sample
    whole = find("whole SSCN run")
    assert whole["measured"] == pytest.approx(100.7) and whole["met"] is True
    assert find("pseudo-labelling")["measured"] == pytest.approx(25.5)
    assert find("images/s")["measured"] == pytest.approx(50_000.0) and find("images/s")["met"] is True
    ratio = find("peak memory (process RSS")
    assert ratio["measured"] == pytest.approx(900 / 10240) and ratio["met"] is True
    growth = find("peak memory above")
    assert growth["measured"] == pytest.approx(600 / (10240 - 300)) and growth["met"] is True
    training = find("training phase alone")
    assert training["measured"] == pytest.approx(500 / 10240) and training["met"] is True
    assert all(t["note"] == "" for t in targets)


def test_compute_targets_without_measurements_marks_them_not_measured():
    targets = table1.compute_targets({"benchmark": "table1", "datasets": {}})
    assert targets and all(t["met"] is None for t in targets)


def test_table1_parse_args_quick_defaults_and_validation():
    args = table1.parse_args(["--quick"])
    assert args.seeds == 2 and args.n_samples == 2000 and args.download is False and args.dsc_seeds == 1
    assert Path(args.out).name == "table1-quick.json"  # a smoke run never overwrites the real results
    full = table1.parse_args([])
    assert full.seeds == 10 and full.n_samples is None and full.dsc_epochs == 30 and full.download is True
    assert Path(full.out) == common.RESULTS_DIR / "table1.json"
    with pytest.raises(SystemExit):
        table1.parse_args(["--datasets", "cifar"])
    with pytest.raises(SystemExit):
        table1.parse_args(["--seeds", "0"])
    with pytest.raises(SystemExit):
        table1.parse_args(["--extra-presets", "no-such-preset"])
    assert table1.parse_args(["--extra-presets", "paper,scattering,scattering"]).extra_presets == ["scattering"]


# ------------------------------------------------------------------------------------- scaling planning
def test_extrapolate_follows_a_power_law():
    assert scaling.extrapolate([(1000, 1.0), (2000, 4.0)], 4000) == pytest.approx(16.0)
    assert scaling.extrapolate([(1000, 4.0), (2000, 1.0)], 4000) == pytest.approx(1.0)  # exponent clamped at 0
    assert scaling.extrapolate([(1000, 1.0)], 4000) is None


def test_plan_point_skips_what_would_not_fit():
    dsc = next(c for c in scaling.CASES if c.key == "dsc")
    train = next(c for c in scaling.CASES if c.key == "sscn_train")
    reason = scaling.plan_point(dsc, 70_000, [], budget_bytes=16 * 2**30, time_budget_s=300)
    assert reason.startswith("skipped: would need ~") and "GB" in reason
    assert scaling.plan_point(train, 70_000, [], budget_bytes=16 * 2**30, time_budget_s=300) is None
    slow = [{"n": 1000, "status": "ok", "memory_growth_bytes": 2**20, "wall_seconds": 10.0},
            {"n": 2000, "status": "ok", "memory_growth_bytes": 2**20, "wall_seconds": 40.0}]
    assert "would take" in scaling.plan_point(train, 20_000, slow, budget_bytes=16 * 2**30, time_budget_s=300)
    failed = [{"n": 1000, "status": "killed: too much"}]
    assert "smaller N" in scaling.plan_point(train, 2000, failed, budget_bytes=16 * 2**30, time_budget_s=300)


def test_scaling_parse_args_validates():
    quick = scaling.parse_args(["--quick"])
    assert quick.sizes == list(scaling.QUICK_SIZES) and Path(quick.out).name == "scaling-quick.json"
    assert Path(scaling.parse_args([]).out) == common.RESULTS_DIR / "scaling.json"
    assert scaling.parse_args(["--sizes", "2000,1000"]).sizes == [1000, 2000]
    assert scaling.parse_args(["--cases", "none"]).cases == []
    with pytest.raises(SystemExit):
        scaling.parse_args(["--cases", "sscn_train,bogus"])
    with pytest.raises(SystemExit):
        scaling.parse_args(["--sizes", "ten"])


# ------------------------------------------------------------------------------------- Markdown
FIXTURE_TABLE1 = {
    "benchmark": "table1", "command": "python -m bench.table1 --seeds 2", "date": "2026-01-01T00:00:00+00:00",
    "machine": {"cpu": "Test CPU", "logical_cores": 2, "ram_bytes": 8 * 2**30, "gpu": None, "torch": "2.13.0",
                "torch_threads": 2},
    "quick": False, "paper": table1.PAPER,
    "datasets": {
        "mnist": {"status": "ok", "train_set": "MNIST test set", "rows": [
            {"id": "sscn:paper", "method": "SSCN (paper preset)", "kind": "sscn", "status": "ok", "summary": {
                "n_runs": 2, "n": 10_000, "n_parameters": 66_291, "memory_kind": "cpu_rss",
                "fit_seconds": {"mean": 150.0, "std": 5.0, "n": 2},
                "in_sample": {"acc": {"mean": 0.45, "std": 0.01, "n": 2}, "ari": {"mean": 0.30, "std": 0.02, "n": 2},
                              "nmi": {"mean": 0.40, "std": 0.03, "n": 2}},
                "pseudo_labels": {"acc": {"mean": 0.5, "std": None, "n": 1}, "ari": None, "nmi": None},
                "phase_seconds": {"self_expression": {"mean": 90.0, "std": 1.0, "n": 2},
                                  "pseudo_labels": {"mean": 40.0, "std": 2.0, "n": 2}},
                "peak_memory_bytes": {"self_expression": {"mean": 512 * 2**20, "std": 0.0, "n": 2}},
                "peak_memory_max_bytes": {"mean": 3 * 2**30, "std": 0.0, "n": 2},
                "out_of_sample": {
                    "mnist-oos": {"status": "ok", "n": 10_000, "acc": {"mean": 0.44, "std": 0.01, "n": 2},
                                  "ari": {"mean": 0.29, "std": 0.01, "n": 2}, "nmi": {"mean": 0.39, "std": 0.01, "n": 2},
                                  "seconds": {"mean": 0.25, "std": 0.01, "n": 2},
                                  "images_per_second": {"mean": 40_000.0, "std": 100.0, "n": 2}},
                    "mnist-60k": {"status": "not available: missing train-images-idx3-ubyte.gz"}}}},
            {"id": "dsc", "method": "DSC-Net (same AE)", "kind": "dsc", "status": "failed: RuntimeError: out of luck"},
        ]},
        "fashion-mnist": {"status": "not available: fashion-mnist: missing files"},
    },
    "targets": [common.target("out-of-sample prediction at least 50,000 images/s", 40_000.0, ">=", 50_000,
                              "images/s"),
                common.target("SSCN pseudo-labelling under 30 s", 25.0, "<=", 30, "s"),
                common.target("ratio", None, "<=", 0.2, "ratio")],
}

FIXTURE_SCALING = {
    "benchmark": "scaling", "command": "python -m bench.scaling", "date": "2026-01-01T00:00:00+00:00",
    "machine": {"cpu": "Test CPU", "logical_cores": 2, "ram_bytes": 8 * 2**30, "gpu": None, "torch": "2.13.0"},
    "memory_kind": "cpu_rss", "data": {"1000": "MNIST test set", "70000": "Fashion-MNIST (70k, all)"},
    "cases": [
        {"key": "sscn_predict", "label": "SSCN out-of-sample inference", "time_metric": "s for N images", "points": [
            {"n": 1000, "status": "ok", "seconds": 0.01, "images_per_second": 100_000.0,
             "memory_growth_bytes": 3 * 2**20},
            {"n": 70_000, "status": "ok", "seconds": 0.7, "images_per_second": 100_000.0,
             "memory_growth_bytes": 9 * 2**20}]},
        {"key": "dsc", "label": "DSC-Net training", "time_metric": "s per epoch", "points": [
            {"n": 1000, "status": "ok", "seconds": 0.5, "memory_growth_bytes": 2**30},
            {"n": 70_000, "status": "skipped: would need ~98.0 GB (budget 16.0 GB)"}]}],
    "synthetic": {"label": "SSCN on synthetic subspaces", "points": [
        {"n": 1_000_000, "status": "ok", "fit_seconds": 30.0, "data_bytes": 200 * 2**20, "peak_memory_bytes": 2**30,
         "memory_growth_bytes": 400 * 2**20, "acc": 0.9, "ari": 0.8}]},
    "plot": "bench/results/scaling.png",
}


def test_render_table1_fixture():
    md = report.render_table1(FIXTURE_TABLE1)
    assert "`python -m bench.table1 --seeds 2`" in md and "Test CPU, 2 cores" in md
    assert "| *Paper: SSCN* | in-sample, 10k | 10,000 | 67.98 ± 3.40 | 58.53 ± 3.34 | 69.48 ± 2.38 | 66,291 |" in md
    assert "| SSCN (paper preset) | in-sample (classifier), 2 runs | 10,000 | 45.00 ± 1.00 | 30.00 ± 2.00 | " \
           "40.00 ± 3.00 | 66,291 | 3.00 GiB | 150 ± 5 s |" in md
    assert "| out-of-sample: mnist-oos | 10,000 | 44.00 ± 1.00 |" in md and "(40,000 images/s)" in md
    assert "not available: missing train-images-idx3-ubyte.gz" in md
    assert "| DSC-Net (same AE) | failed: RuntimeError: out of luck |" in md
    assert "Not run: not available: fashion-mnist: missing files" in md
    assert "| SSCN (paper preset) | self-expression | 90.0 ± 1.0 s | 512 MiB |" in md
    assert "| out-of-sample prediction at least 50,000 images/s | 40,000 images/s | >= 50,000 images/s | **no** |" in md
    assert "| SSCN pseudo-labelling under 30 s | 25.00 s | <= 30.00 s | yes |" in md
    assert "| ratio | not measured | <= 0.200 | not measured |" in md


def test_render_scaling_fixture():
    md = report.render_scaling(FIXTURE_SCALING)
    assert "| Case | Time is | N = 1,000 | N = 70,000 |" in md
    assert "| SSCN out-of-sample inference | s for N images | 0.01 s (100,000/s) · 3 MiB | 0.70 s (100,000/s) · 9 MiB |" in md
    assert "| DSC-Net training | s per epoch | 0.50 s · 1.00 GiB | skipped: would need ~98.0 GB (budget 16.0 GB) |" in md
    assert "| 1,000,000 | 30.0 s | 200 MiB | 1.00 GiB | 400 MiB | 90.00 | 80.00 |" in md
    assert "![time and memory against N](bench/results/scaling.png)" in md
    assert "N=70,000: Fashion-MNIST (70k, all)" in md


def test_report_main_renders_files_and_rejects_unknown_documents(tmp_path, capsys, monkeypatch):
    t1 = common.write_json(tmp_path / "table1.json", FIXTURE_TABLE1)
    sc = common.write_json(tmp_path / "scaling.json", FIXTURE_SCALING)
    assert report.main([str(t1), str(sc)]) == 0
    out = capsys.readouterr().out
    assert "### Table 1, side by side" in out and "### Cost against N" in out
    bad = common.write_json(tmp_path / "other.json", {"benchmark": "nope"})
    assert report.main([str(bad)]) == 2
    assert "unknown benchmark" in capsys.readouterr().err
    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path / "empty")
    assert report.main([]) == 1


FIXTURE_APP = {"benchmark": "app_latency", "command": "python -m bench.app_latency", "date": "2026-12-07",
               "machine": {"cpu": "cpu", "logical_cores": 2}, "n_samples": 2000, "holdout_size": 1000,
               "targets": {"finished_seconds": 20.0, "first_loss_seconds": 3.0, "ratio": 2.0, "acc_points": 1.0},
               "library": {"seconds": 10.0, "acc": 0.91}, "ratio": 1.6, "acc_difference_points": 0.0,
               "landing": {"threads": 2, "first_loss_seconds": 1.2, "first_metrics_seconds": 14.0,
                           "finished_seconds": 16.0, "acc_in": 0.91, "acc_out": 0.9,
                           "loss_points_by_phase": {"model_choice": 10, "paper_start": 300}},
               "met": {"finished_seconds": True, "first_loss_seconds": True, "ratio": True, "acc_points": False}}


def test_report_writes_the_benchmarks_page_from_the_current_results(tmp_path, monkeypatch):
    results = tmp_path / "results"
    common.write_json(results / "app-latency.json", FIXTURE_APP)
    common.write_json(results / "rules.json", {"benchmark": "rules", "command": "python -m bench.rules",
                                                "markdown": "| set | N |\n|---|---|\n| yaleb | 2,414 |"})
    common.write_json(results / "table1-old.json", FIXTURE_TABLE1)       # not on the page: superseded
    monkeypatch.setattr(report, "RESULTS_DIR", results)
    out = tmp_path / "docs" / "benchmarks.md"
    assert report.main(["--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Benchmarks") and "Table 1, side by side" not in text
    assert text.index("landing run (issue 31)") < text.index("rules, set by set")
    assert "| landing run: Start → Finished | 16.0 s | 91.00 % | ≤ 20 s: met; ACC within 1 point: **missed** |" in text
    assert "| app ÷ library | 1.60× | — | ≤ 2×: met |" in text and "| yaleb | 2,414 |" in text


# ------------------------------------------------------------------------------------- end to end
def _check_header(doc: dict[str, Any], module: str) -> None:
    assert doc["command"].startswith(f"python -m {module}") and doc["date"]
    assert {"cpu", "logical_cores", "ram_bytes", "gpu", "torch", "device"} <= set(doc["machine"])
    assert doc["quick"] is True


@pytest.mark.slow
def test_table1_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "table1.json"
    argv = ["--quick", "--seeds", "2", "--n-samples", "300", "--held-out-samples", "300", "--epochs", "1",
            "--classifier-epochs", "1", "--dsc-epochs", "1", "--threads", "1", "--out", str(out)]
    assert table1.main(argv) == 0
    doc = json.loads(out.read_text())
    _check_header(doc, "bench.table1")
    assert doc["benchmark"] == "table1" and set(doc["datasets"]) == {"mnist", "fashion-mnist"}
    rows = {r["id"]: r for r in doc["datasets"]["mnist"]["rows"]}
    assert set(rows) == {"sscn:paper", "dsc", "kmeans", "spectral", "edsc"}
    sscn = rows["sscn:paper"]
    assert sscn["status"] == "ok", sscn["status"]
    s = sscn["summary"]
    assert s["n_runs"] == 2 and s["n"] == 300 and s["n_parameters"] == 66_291
    for part in ("in_sample", "pseudo_labels"):
        for m in ("acc", "ari", "nmi"):
            assert -1 <= s[part][m]["mean"] <= 1 and s[part][m]["std"] is not None
    assert {"self_expression", "pseudo_labels", "classifier"} <= set(s["phase_seconds"])
    assert all(v["mean"] > 0 for v in s["peak_memory_bytes"].values())
    oos = s["out_of_sample"]
    assert oos["mnist-oos"]["status"] == "ok" and oos["mnist-oos"]["n"] == 300
    assert oos["mnist-60k"]["status"] == "ok" or oos["mnist-60k"]["status"].startswith("not available")
    if HAVE_THEORY:
        for key in ("dsc", "kmeans", "spectral", "edsc"):
            assert rows[key]["status"] == "ok", rows[key]["status"]
        assert rows["dsc"]["summary"]["n_parameters"] == 300 * 300 + 14_991
    fashion = doc["datasets"]["fashion-mnist"]
    if fashion["status"] == "ok" and common.missing_pretrained("fashion-mnist"):
        assert all(r["status"].startswith("skipped: pre-trained auto-encoder missing") for r in fashion["rows"])
    targets = doc["targets"]
    assert len(targets) == 12 and all(t["met"] in (True, False, None) for t in targets)
    assert all("quick run" in t["note"] for t in targets)
    assert "### Table 1, side by side" in capsys.readouterr().out


@pytest.mark.slow
def test_scaling_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "scaling.json"
    argv = ["--quick", "--sizes", "200,300", "--synthetic-1m", "--synthetic-sizes", "1000,2000", "--threads", "1",
            "--out", str(out)]
    assert scaling.main(argv) == 0
    doc = json.loads(out.read_text())
    _check_header(doc, "bench.scaling")
    assert doc["benchmark"] == "scaling" and doc["memory_kind"] in ("cpu_rss", "cuda_max_allocated")
    cases = {c["key"]: c for c in doc["cases"]}
    assert set(cases) == set(scaling.CASE_KEYS)
    needs_theory = {"edsc"}
    for key, case in cases.items():
        assert [p["n"] for p in case["points"]] == [200, 300]
        if key in needs_theory and not HAVE_THEORY:
            continue
        for p in case["points"]:
            assert p["status"] == "ok", (key, p["status"])
            assert p["seconds"] > 0 and math.isfinite(p["memory_growth_bytes"])
    assert all(p["images_per_second"] > 0 for p in cases["sscn_predict"]["points"])
    assert cases["sscn_pseudo_sampled"]["points"][1]["points_clustered"] == 100
    synthetic = doc["synthetic"]["points"]
    assert [p["n"] for p in synthetic] == [1000, 2000] and all(p["status"] == "ok" for p in synthetic)
    assert all(0 <= p["acc"] <= 1 and p["data_bytes"] > 0 for p in synthetic)
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == PNG_MAGIC and doc["plot"].endswith("scaling.png")
    assert "### Cost against N" in capsys.readouterr().out


def _scaling_point(n: int, growth_mib: float) -> dict[str, Any]:
    return {"n": n, "status": "ok", "memory_growth_bytes": int(growth_mib * 2**20)}


def test_scaling_targets_judge_flat_memory():
    doc = {"cases": [{"key": "sscn_train", "points": [_scaling_point(10_000, 200), _scaling_point(70_000, 210)]},
                     {"key": "sscn_pseudo_sampled", "points": [_scaling_point(10_000, 100), _scaling_point(70_000, 400)]}],
           "data": {"70000": "Fashion-MNIST (70k, all)"},
           "synthetic": {"points": [{**_scaling_point(10_000, 50), "data_bytes": 2 * 2**20},
                                    {**_scaling_point(1_000_000, 260), "data_bytes": 202 * 2**20}]}}
    train, pseudo, synthetic = scaling.compute_targets(doc)
    extra = 4 * 784 * 60_000 / 2**20                     # one float32 copy of 60k more images: ~179 MiB
    assert train["measured"] == pytest.approx(10.0) and train["threshold"] == pytest.approx(extra)
    assert train["met"] is True and "Fashion-MNIST" in train["name"]
    assert pseudo["measured"] == pytest.approx(300.0) and pseudo["met"] is False   # a buffer per point
    assert synthetic["measured"] == pytest.approx(210.0) and synthetic["met"] is False   # > 200 MiB of new data
    missing = scaling.compute_targets({"cases": [{"key": "sscn_train", "points": [_scaling_point(5_000, 1)]}]})
    assert missing[0]["met"] is None
    assert "**Targets**" in report.render_scaling({"targets": [train, pseudo, synthetic]})


def test_beyond_targets_follow_the_extra_rows():
    def row(preset: str, accs: list[float], oos: float) -> dict[str, Any]:
        runs = [_sscn_run(i, a, oos) for i, a in enumerate(accs)]
        return {"id": f"sscn:{preset}", "kind": "sscn", "summary": table1.aggregate_runs(runs)}

    doc = {"datasets": {"mnist": {"rows": [row("scattering", [0.95, 0.93], 0.935), row("conv-plus", [0.73, 0.74], 0.72)]},
                        "fashion-mnist": {"rows": [row("scattering", [0.60, 0.62], 0.61)]}}}
    names = {t["name"]: t for t in table1.beyond_targets(doc)}
    acc = next(t for n, t in names.items() if n.startswith("scattering: MNIST ACC"))
    assert acc["measured"] == pytest.approx(94.0) and acc["met"] is True
    std = next(t for n, t in names.items() if n.startswith("scattering: ACC std"))
    assert std["measured"] == pytest.approx(100 * np.std([0.95, 0.93], ddof=1)) and std["met"] is True
    gap = next(t for n, t in names.items() if n.startswith("scattering: out-of-sample"))
    assert gap["measured"] == pytest.approx(0.5) and gap["met"] is True
    conv = next(t for n, t in names.items() if n.startswith("conv-plus"))
    assert conv["measured"] == pytest.approx(73.5) and conv["met"] is False
    fashion = next(t for n, t in names.items() if "Fashion" in n)
    assert fashion["measured"] == pytest.approx(61.0) and fashion["met"] is False


def test_ablation_render():
    from bench import ablation

    doc = {"command": "python -m bench.ablation", "date": "2026-11-29",
           "scattering": [{"seed": s, "h_init": h, "temperature": t, "pseudo_acc": a, "classifier_acc": a - 0.01,
                           "agreement": 1.0 if t else 0.96}
                          for s in (0, 1) for h, a in (("random", 0.8 + s / 10), ("closed_form", 0.95))
                          for t in (None, 20.0)],
           "self_training": [{"seed": 0, "acc_before": 0.732, "acc_after": 0.714}]}
    text = ablation.render(doc)
    assert "| Xavier (paper) | paper's logits | 85.00 ± 7.07 (80.0–90.0)" in text
    assert "| Theorem 1 | unit rows, τ = 20 | 95.00 ± 0.00" in text
    assert "| 0 | 73.20 | 71.40 |" in text


# ------------------------------------------------------------------------------------- bench.standard
def _standard_run(seed: int, acc: float, seconds: float = 10.0, oos_acc: float | None = None,
                  pretrained: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"seed": seed, "n": 2414, "K": 38, "seconds": seconds, "acc": acc, "ari": acc - 5,
                              "nmi": acc + 1, "largest_cluster_share": 0.05, "empty_clusters": 0}
    if oos_acc is not None:
        result |= {"oos_acc": oos_acc, "oos_ari": oos_acc - 5, "oos_nmi": oos_acc + 1, "oos_seconds": 2 * seconds,
                   "oos_n": 483, "oos_protocol": "seeded split", "warnings": [], "pretrained": pretrained}
    return {"status": "ok", "result": result, "worker_peak_rss_bytes": 500 * 2**20}


def _standard_row(accs: list[float], seconds: float = 10.0, oos: list[float] | None = None,
                  pretrained: str | None = None) -> dict[str, Any]:
    return standard.aggregate([_standard_run(i, a, seconds + i, None if oos is None else oos[i], pretrained)
                               for i, a in enumerate(accs)])


def test_standard_holdout_split_is_a_seeded_disjoint_80_20_cover():
    fit, held = standard.holdout_split(2414, seed=3)
    assert len(fit) == 1931 and len(held) == 483
    assert np.array_equal(np.sort(np.concatenate([fit, held])), np.arange(2414))
    assert np.all(np.diff(fit) > 0) and np.all(np.diff(held) > 0)
    again, _ = standard.holdout_split(2414, seed=3)
    other, _ = standard.holdout_split(2414, seed=4)
    assert np.array_equal(fit, again) and not np.array_equal(fit, other)


def test_standard_applies_skips_family_members_by_their_measured_cost():
    assert all(standard.applies(d, m) is None for d in standard.DATASETS for m in ("sscn", "sscn-scattering", "edsc"))
    assert all(standard.applies(d, f"family-{m}") is None for d in ("yaleb", "digits") for m in standard.FAMILY)
    ssc = standard.applies("mnist", "family-ssc")
    assert ssc and "3,906 s" in ssc and "N = 2,414" in ssc and "1,800 s" in ssc      # 227.6 s × (10,000 / 2,414)²
    assert standard.applies("fashion-mnist", "family-ensc") and standard.applies("mnist", "family-ssc_omp")
    assert standard.applies("mnist", "family-lrr") is None                           # closed form: ~208 s
    assert standard.applies("mnist", "family-ssc", n=2000) is None                   # a smaller sample fits
    assert standard.applies("mnist", "family-ssc", time_limit_s=4000.0) is None
    memory = standard.applies("mnist", "family-lrr", memory_limit_bytes=2**30)
    assert memory and "6.8 GiB" in memory and "Method.memory_bytes" in memory
    assert "sscn-alpha8" in standard.METHODS and "sscn-alpha8" not in standard.DEFAULT_METHODS
    assert set(standard.DEFAULT_METHODS) == {"sscn", "sscn-scattering", "edsc", "family-ssc", "family-ssc_omp",
                                             "family-ensc", "family-lrr"}
    assert standard.build_parser().parse_args([]).seeds == 3


def test_standard_aggregate_summarizes_in_and_out_of_sample_scores():
    runs = [_standard_run(0, 90.0, 10.0, 88.0), _standard_run(1, 92.0, 14.0, 90.0),
            {"status": "timeout", "message": "timed out", "worker_peak_rss_bytes": 0}]
    row = standard.aggregate(runs)
    assert row["runs"] == 3 and row["finished"] == 2 and row["errors"] == ["timed out"]
    assert row["acc"]["mean"] == pytest.approx(91.0) and row["acc"]["min"] == pytest.approx(90.0)
    assert row["oos_acc"]["mean"] == pytest.approx(89.0) and row["oos_acc"]["std"] == pytest.approx(math.sqrt(2))
    assert row["oos_nmi"]["mean"] == pytest.approx(90.0) and row["oos_ari"]["mean"] == pytest.approx(84.0)
    assert row["oos_seconds"]["mean"] == pytest.approx(24.0) and row["seconds"]["max"] == pytest.approx(14.0)
    assert row["oos_protocol"] == "seeded split" and row["bundled_weights"] == []
    assert _standard_row([90.0], oos=[89.0], pretrained="mnist")["bundled_weights"] == ["mnist"]
    linear = standard.aggregate([_standard_run(0, 80.0)])
    assert linear["oos_acc"] is None and linear["oos_seconds"] is None and linear["oos_protocol"] is None


def test_standard_targets_follow_issue_21():
    rows = {"yaleb": {"sscn": _standard_row([97.0, 98.0, 99.0], seconds=298.0, oos=[96.0, 97.0, 98.0]),
                      "edsc": _standard_row([98.5, 98.5, 98.5])},
            "digits": {"sscn": _standard_row([80.0, 81.0], oos=[79.0, 80.0]), "edsc": _standard_row([80.5, 81.0])},
            "mnist": {"sscn": _standard_row([91.0, 92.0], oos=[90.0, 91.0]), "edsc": {"skipped": "why"},
                      "sscn-scattering": _standard_row([94.0, 95.0], oos=[94.0, 95.0])}}
    targets = {t["name"]: t for t in standard.compute_targets(rows)}
    assert len(targets) == 7
    assert targets["Yale B: SSCN mean ACC"]["measured"] == pytest.approx(98.0)
    assert targets["Yale B: SSCN mean ACC"]["met"] is True
    assert targets["Yale B: SSCN ACC std"]["measured"] == pytest.approx(1.0)
    fit = targets["Yale B: SSCN whole fit, slowest seed, pre-training included"]
    assert fit["measured"] == pytest.approx(300.0) and fit["threshold"] == 300.0 and fit["met"] is True
    linear = {name.split(":")[0]: t for name, t in targets.items() if "EDSC's mean" in name}
    assert set(linear) == {"yaleb", "digits"}                               # MNIST's EDSC row was skipped
    assert linear["yaleb"]["measured"] == pytest.approx(-1.5) and linear["yaleb"]["met"] is False
    assert linear["digits"]["measured"] == pytest.approx(-0.75) and linear["digits"]["met"] is True
    mnist = targets["MNIST-10k: SSCN (defaults, no bundled weights) mean ACC"]
    assert mnist["measured"] == pytest.approx(91.5) and mnist["met"] is True and mnist["threshold"] == 90.0
    assert targets["MNIST: scattering mean ACC"]["met"] is False
    rows["mnist"]["sscn"] = _standard_row([99.0, 99.0], oos=[99.0, 99.0], pretrained="mnist")
    bundled = next(t for t in standard.compute_targets(rows) if t["name"].startswith("MNIST-10k"))
    assert bundled["met"] is None and "mnist" in bundled["note"]
    slow = {"yaleb": {"sscn": _standard_row([98.0, 98.0], seconds=300.5)}}
    assert next(t for t in standard.compute_targets(slow) if "whole fit" in t["name"])["met"] is False
    assert standard.compute_targets({"yaleb": {"sscn": {"skipped": "why"}}}) == []


def test_standard_auto_row_shows_its_k_and_is_judged_against_the_run_given_k():
    auto = standard.aggregate([{**run, "result": {**run["result"], "n_clusters": k}}
                               for run, k in zip((_standard_run(0, 95.0), _standard_run(1, 94.0)), (36, 37))])
    assert auto["n_clusters"] == [36, 37]
    rows = {"yaleb": {"sscn": _standard_row([97.0, 98.0]), "sscn-auto": auto}}
    (found,) = [t for t in standard.compute_targets(rows) if "'auto'" in t["name"]]
    assert "K = 36, 37" in found["name"] and found["measured"] == pytest.approx(-3.0) and found["met"] is False
    assert any("| sscn-auto (K = 36, 37) | 94.50 ± 0.71 |" in line for line in standard.render({"rows": rows}).splitlines())


def test_standard_render_shows_out_of_sample_acc_anchors_and_the_unheld_note():
    doc = {"rows": {"yaleb": {"sscn": _standard_row([91.0, 93.0], oos=[90.0, 92.0]),
                              "edsc": _standard_row([91.3, 91.3]),
                              "family-ssc": {"skipped": "skipped: C alone would take about 3,906 s"}}}}
    lines = standard.render(doc).splitlines()
    assert "out of sample ACC" in lines[0] and lines[0].count("|") == lines[1].count("|") == 10
    sscn = next(line for line in lines if "| sscn |" in line)
    assert "| 92.00 ± 1.41 | " in sscn and "| 91.00 ± 1.41 (+21.0) |" in sscn
    edsc = next(line for line in lines if "| edsc |" in line)
    assert edsc.split("|")[6].strip() == "–"
    assert all(line.count("|") == 10 for line in lines if line.startswith("|"))
    assert any("family-ssc | skipped: C alone" in line for line in lines)
    assert any("DSC-Net-L2 (published, 48×42 crops) | 97.33" in line for line in lines)
    assert "COIL-20 94.86 %" in lines[-1] and "ORL 86.00 %" in lines[-1] and "does not hold" in lines[-1]
    assert not any("N2D" in line for line in lines)                          # Fashion's anchor only beside Fashion


def test_standard_out_of_sample_uses_the_disjoint_set_or_a_second_fit(monkeypatch):
    from sscn_core import load_dataset
    from sscn_core.cache import CACHE_ENV

    class Stub:
        """Predicts the true class of every point it is given (looked up by its pixels)."""

        def __init__(self, truth: dict[bytes, int]) -> None:
            self.truth, self.fitted_on, self.cache = truth, 0, None

        def fit(self, X: np.ndarray) -> Stub:
            self.fitted_on, self.cache = len(X), Path(os.environ[CACHE_ENV])
            assert self.cache.is_dir() and not any(self.cache.iterdir())
            return self

        def predict(self, X: np.ndarray) -> np.ndarray:
            return np.array([self.truth[row.tobytes()] for row in X])

    data = load_dataset("digits", n_samples=100, seed=0)
    truth = {row.tobytes(): int(label) for row, label in zip(data.X, data.y)}
    built: list[Stub] = []
    monkeypatch.setattr(standard, "_sscn", lambda *a: built.append(Stub(truth)) or built[-1])
    monkeypatch.delenv(CACHE_ENV, raising=False)
    with standard._empty_pretrain_cache():
        split = standard.out_of_sample("sscn", "digits", data, Stub(truth), 10, seed=1)
    assert CACHE_ENV not in os.environ and not built[0].cache.exists()
    assert len(built) == 1 and built[0].fitted_on == 80 and split["oos_n"] == 20
    assert split["oos_acc"] == pytest.approx(100.0) and split["oos_seconds"] >= 0
    assert "second fit on 80 of the 100 points" in split["oos_protocol"]

    held = load_dataset("mnist-oos", n_samples=30, seed=0)
    given = Stub({row.tobytes(): int(label) for row, label in zip(held.X, held.y)})
    disjoint = standard.out_of_sample("sscn", "mnist", data, given, 10, seed=1, n_samples=30)
    assert disjoint["oos_n"] == 30 and disjoint["oos_acc"] == pytest.approx(100.0) and len(built) == 1
    assert disjoint["oos_protocol"].startswith("mnist-oos")
    monkeypatch.setitem(standard.HELD_OUT, "mnist", ("file", {"path": "/nonexistent/held-out.npz"}))
    missing = standard.out_of_sample("sscn", "mnist", data, given, 10, seed=1, n_samples=30)
    assert missing["oos_protocol"].startswith("not available") and "oos_acc" not in missing


@pytest.mark.slow  # two SSCN fits on 150 digits: ~10 s on a busy 2-core machine
def test_standard_case_scores_sscn_in_and_out_of_sample():
    result = standard.case("digits", "sscn", seed=0, n_samples=150)
    assert result["n"] == 150 and result["K"] == 10 and result["oos_n"] == 30
    assert 0 <= result["oos_acc"] <= 100 and result["oos_seconds"] > 0 and result["seconds"] > 0
    assert result["acc"] > 30 and result["oos_acc"] > 30                     # chance is 10 %
    assert result["pretrained"] is None and "second fit on 120" in result["oos_protocol"]


# ------------------------------------------------------------------------------------- bench.rules
def test_rules_check_sets_are_built_here() -> None:
    from bench import rules

    y = np.repeat(np.arange(4), [5, 30, 30, 30])
    keep = rules.per_class(y, 10)
    assert np.bincount(y[keep]).tolist() == [5, 10, 10, 10] and np.all(np.diff(keep) > 0)
    images = np.zeros((6, 28, 28), dtype=np.float32)
    images[:, 10:18, 12:16] = 1.0                              # a bar: its rotations differ
    views, owner = rules.turning_objects(images, np.array([0, 0, 1, 1, 2, 2]), per_class_objects=2, step_deg=90)
    assert views.shape == (24, 32, 32) and np.bincount(owner).tolist() == [4] * 6
    assert not np.allclose(views[0], views[1]) and np.allclose(views[0], views[2], atol=1e-5)   # 0° and 180°
    x, labels = rules.check_set("yaleb-10")
    assert x.shape == (380, 32, 32) and np.bincount(labels).tolist() == [10] * 38 and 0 <= x.min() and x.max() <= 1
    with pytest.raises(ValueError, match="unknown check set"):
        rules.check_set("coil-20")


def test_turned_in_depth_moves_the_face_sideways_and_keeps_it_upright() -> None:
    from bench import rules

    image = np.zeros((1, 32, 32), dtype=np.float32)
    image[0, 8:24, 14:18] = 1.0                               # a vertical bar down the middle of the face
    assert np.allclose(rules.turned_in_depth(image, yaw_deg=0.0, pitch_deg=0.0), image, atol=1e-5)
    turned = rules.turned_in_depth(np.repeat(image, 20, axis=0), seed=1)
    centres = (turned.sum(axis=1) * np.arange(32)).sum(axis=1) / turned.sum(axis=(1, 2))
    assert centres.std() > 1.0 and np.all(np.abs(centres - 15.5) < 8)   # the bar moves with the yaw, stays inside
    assert np.allclose(turned.sum(axis=2)[:, :3], 0.0)          # the top rows stay empty: the pitch is small
    faces, y = rules.check_set("faces-turned")
    assert faces.shape == (380, 32, 32) and np.bincount(y).tolist() == [10] * 38 and 0 <= faces.min() <= faces.max() <= 1
    assert "faces-turned" in rules.CHECK_SETS and "faces-turned-b" in rules.HELD_OUT
    faces, y = rules.check_set("faces-20x13")
    assert faces.shape == (260, 32, 32) and np.bincount(y).tolist() == [13] * 20
    assert {"faces-38x12", "faces-20x13"} <= set(rules.HELD_OUT)


def test_rules_held_out_stand_ins_are_built_here_and_kept_apart() -> None:
    from bench import rules

    assert not set(rules.HELD_OUT) & set(rules.CHECK_SETS) and len(rules.ALL_SETS) >= 10
    faces, y = rules.check_set("faces-15x11")
    assert faces.shape == (165, 32, 32) and np.bincount(y).tolist() == [11] * 15
    turning, y = rules.check_set("turning-digits")
    assert turning.shape == (720, 32, 32) and np.bincount(y).tolist() == [36] * 20
    posed, y = rules.check_set("posed-digits")
    assert posed.shape == (400, 32, 32) and np.bincount(y).tolist() == [10] * 40 and 0 <= posed.min() <= posed.max() <= 1
    assert not np.allclose(posed[0], posed[1]) and float(np.corrcoef(posed[0].ravel(), posed[1].ravel())[0, 1]) > 0.1
    rows = [{"set": name, "n": 10, "K": 2, "frontend": "pixels", "chosen_alpha": 8.0, "held_out": name in rules.HELD_OUT,
             "acc_by_alpha": {"8.0": 90.0, "5.0": 80.0, "3.5": 70.0}, "acc": 90.0, "chosen_lambda_scale": 1.0,
             "acc_lambda_scale_1": 90.0, "frontend_lambda_scale_1": "pixels", "alpha_lambda_scale_1": 8.0,
             "acc_by_frontend": {"pixels": 90.0, "scattering": 92.5}, "choice_margin": 0.01, "choice_noise": 0.02,
             "choice_clear": False, "acc_by_graph": {"q": 85.0, "ssc": 93.0}, "pseudo_graph": "q",
             "pseudo_graph_ratio": 1.5} for name in ("yaleb", "posed-digits")]
    text = rules.tables(rows)
    held = text.index("Held-out stand-ins")
    assert text.index("| yaleb |") < held < text.index("| posed-digits |")
    assert "| pixels | 0.010 (0.020) | **near tie** | 90.00 | 90.00 | 92.50 | -2.50 |" in text
    # the graph table: the rule's choice, the sparse graph's ratio, each graph alone, and the best candidate of all
    assert "| q | 1.5 | 90.00 | 85.00 | 93.00 | +5.00 | -3.00 |" in text
    assert "| ssc | ∞ |" in rules.markdown_graph([{**rows[0], "pseudo_graph": "ssc", "pseudo_graph_ratio": None}])


def test_rules_table_marks_the_choice_and_its_gain() -> None:
    from bench import rules

    row = {"set": "s", "n": 100, "K": 2, "frontend": "pixels", "chosen_alpha": 3.5,
           "acc_by_alpha": {"8.0": 90.0, "5.0": 95.0, "3.5": 94.0, "2.5": 93.5, "1.5": 93.0}}
    table = rules.markdown([row]).splitlines()
    assert table[0].count("|") == table[1].count("|") == table[2].count("|") and "| α = 2.5 | α = 1.5 |" in table[0]
    assert "| 95.00 | **94.00** | 93.50 | 93.00 |" in table[2] and "| +4.00 | +1.00 |" in table[2]
    old = rules.markdown([{**row, "acc_by_alpha": {"8.0": 90.0, "5.0": 95.0, "3.5": 94.0}}]).splitlines()
    assert old[2].count("|") == table[0].count("|") and "| **94.00** | — | — |" in old[2]   # powers not scored
    weight = rules.markdown_lambda([{**row, "chosen_lambda_scale": 9.79, "acc": 60.0, "acc_lambda_scale_1": 48.9,
                                     "frontend_lambda_scale_1": "scattering", "alpha_lambda_scale_1": 8.0}])
    lines = weight.splitlines()
    assert lines[0].count("|") == lines[1].count("|") == lines[2].count("|")
    assert "| 9.79 | 60.00 (pixels, 3.5) | 48.90 (scattering, 8) | +11.10 |" in lines[2]


def test_the_alpha8_row_is_the_defaults_with_the_papers_power() -> None:
    from bench import standard

    data = type("D", (), {"image_shape": (32, 32)})()
    model = standard._sscn("sscn-alpha8", data, 5, 0)
    assert model.alpha == 8.0 and model.get_params() == {**standard._sscn("sscn", data, 5, 0).get_params(), "alpha": 8.0}


# ------------------------------------------------------------------------------------- bench.choice_rules
def test_choice_rules_score_every_rule_on_the_same_candidates(monkeypatch) -> None:
    from bench import choice_rules

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 12)
    clean = (y[:, None] == y[None, :]).astype(np.float32) * rng.uniform(0.5, 1.0, (36, 36)).astype(np.float32)
    clean = 0.5 * (clean + clean.T)
    noisy = clean + rng.uniform(0.0, 0.9, (36, 36)).astype(np.float32)
    noisy = 0.5 * (noisy + noisy.T)
    qs = {"pixels": noisy, "scattering": clean}
    monkeypatch.setattr(choice_rules, "learned_q", lambda name, f, seed: {
        "q": qs[f], "y": y, "qdim": 2, "rho": 1.0, "restarts": 1, "variant": "subspace"})
    row = choice_rules.case("posed-digits")
    assert row["held_out"] and row["K"] == 3 and set(row["picks"]) == set(choice_rules.RULES)
    assert row["picks"]["R0"].startswith("scattering") and row["loss"]["R0"] == 0.0
    # 12 points a cluster: R9 takes the few-points power, scored beside the six candidates
    assert row["single_best"] == 100.0 and len(row["acc"]) == 8 and row["picks"]["R9"] == "scattering α=1.5"
    assert "pixels α=2.5" in row["acc"]
    text = choice_rules.tables([row, {**row, "set": "digits", "held_out": False}])
    assert text.index("Check sets") < text.index("| digits |") < text.index("Held out") < text.index("| posed-digits |")
    assert "| **worst** |" in text
    assert "tried and dropped" in report.render({"benchmark": "choice_rules", "command": "python -m bench.choice_rules",
                                                 "markdown": text})


def test_report_renders_a_standard_result() -> None:
    doc = {"benchmark": "standard", "command": "python -m bench.standard --datasets yaleb", "date": "2026-12-07",
           "machine": {"cpu": "cpu", "logical_cores": 2},
           "rows": {"yaleb": {"sscn": {"skipped": "over the case's time budget"}}},
           "targets": [{"name": "Yale B: SSCN mean ACC", "measured": 97.7, "comparison": ">=", "threshold": 97.5,
                        "unit": "%", "met": True}]}
    text = report.render(doc)
    assert "The defaults over seeds: yaleb" in text and "| yaleb | sscn | over the case's time budget |" in text
    assert "| Yale B: SSCN mean ACC | 97.70 % | >= 97.50 % | yes |" in text
