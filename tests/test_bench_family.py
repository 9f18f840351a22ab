"""bench.family: the family's rows on the lines lesson, in-process and through the isolated runner."""
from __future__ import annotations

from bench import family as bench_family


def test_method_case_gives_a_scored_row() -> None:
    row = bench_family.method_case("lines", 0, "ssc_omp", 2**30)
    assert row["status"] == "ok" and row["n"] == 60 and row["params"]["n_nonzero"] == 1   # = the lines' dimension
    assert row["sp_error"] < 0.01 and row["seconds"] > 0


def test_main_writes_every_requested_method(tmp_path) -> None:  # noqa: ANN001 - pytest fixture
    doc = bench_family.main(["--data", "lines", "--methods", "edsc,ssc", "--out", str(tmp_path / "f.json")])
    assert [r["method"] for r in doc["rows"]] == ["edsc", "ssc"]
    edsc, ssc = doc["rows"]
    assert ssc["sp_error"] <= edsc["sp_error"] / 10 and "worker_peak_rss_bytes" in edsc and "peak_growth_bytes" in ssc
    assert (tmp_path / "f.json").exists() and doc["command"].startswith("python -m bench.family")
