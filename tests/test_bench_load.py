"""bench.load's bookkeeping: targets against the measured cases and the README table (no server)."""
from __future__ import annotations

from bench.load import markdown, targets


def case(n: int, finish: list[float | None], clicks: list[float], **extra) -> dict:
    return {"sessions": n, "finish_seconds": finish, "click_seconds": clicks, "peak_rss_bytes": 2 ** 30,
            "click_p50_seconds": sorted(clicks)[len(clicks) // 2] if clicks else None,
            "click_p95_seconds": max(clicks) if clicks else None, **extra}


def test_targets_compare_the_slowest_session_with_one_session() -> None:
    cases = [case(1, [30.0], [0.2]), case(2, [40.0, 80.0], [0.3]),
             case(4, [50.0, 90.0, 140.0, 160.0], [0.2] * 19 + [3.0], closed_tab={"seconds": 2.5, "note": ""})]
    got = {t["name"]: t for t in targets(cases)}
    two = got["2 sessions: slowest run / one session's run"]
    assert two["measured"] == 80.0 / 30.0 and two["met"] is False
    assert got["4 sessions: slowest run / one session's run"]["met"] is False      # 160 / 30 > 5
    assert got["click response p95 while 4 runs train"]["measured"] < 3.0           # one slow click of 20
    assert got["closed tab to its run's end"]["met"] is True


def test_an_unfinished_run_is_not_a_number() -> None:
    cases = [case(1, [30.0], []), case(2, [40.0, None], [])]
    two = targets(cases)[0]
    assert two["measured"] is None and two["met"] is None
    table = markdown({"cases": cases, "targets": targets(cases)})
    assert "| 2 | 40, — | — |" in table and "not measured" in table
