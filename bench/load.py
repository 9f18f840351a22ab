"""A classroom on one server: N browser sessions press Start together (issue 16).

For each N (default 1, 2, 4, 8) a fresh ``streamlit run app/main.py`` server is started on loopback
and N headless-Chromium sessions (one browser context each) open it, keep the sidebar's default
settings (MNIST, 2,000 points) and press Start within a second of each other. While the runs train,
the driver clicks between two tabs of one session after another and times each click until the
tab's content is drawn. It records each run's time from its Start click to "Finished" on its page
(queue wait included), the click response times, and the peak resident memory of the server's
process tree (page server, training workers, UMAP worker). Finally one more session starts a run
and closes its tab; the delay until that run's training process has ended is measured.

    python -m bench.load                      # N = 1, 2, 4, 8; writes bench/results/load.json
    python -m bench.load --sessions 1 2 --timeout 300 --out bench/results/load-quick.json

Needs playwright and Debian's chromium (``apt-get install chromium``). Loopback only.
"""
from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from app.train_worker import BUSY_NAME

from .appserver import CHROMIUM, launch_chromium, open_app, streamlit_server
from .common import RESULTS_DIR, log, result_header, summarize, target, write_json

PROBE_TABS = (("Affinity", "Entry (i, j) of"), ("Train", "SSCN learns an embedding"))
FINISHED = re.compile(r"^Finished · ")
FAILED = re.compile(r"^Failed")


class TreeMemory:
    """Samples the resident memory of a process and all its descendants; keeps the peak."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        self.peak = 0
        self._root = psutil.Process(pid)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-memory", daemon=True)
        self._thread.start()

    def now(self) -> int:
        """Sum of the RSS of the tree now."""
        total = 0
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, self.now())

    def stop(self) -> int:
        """End sampling; the peak in bytes."""
        self._stop.set()
        self._thread.join(5)
        return self.peak


def training_workers(server_pid: int) -> set[int]:
    """Pids of the server's worker processes that train a job now (not the idle spare)."""
    pids = set()
    try:
        children = psutil.Process(server_pid).children(recursive=True)
    except psutil.Error:
        return pids
    for proc in children:
        try:
            if proc.name() == BUSY_NAME and proc.status() != psutil.STATUS_ZOMBIE:
                pids.add(proc.pid)
        except psutil.Error:
            pass
    return pids


def _status(page) -> str | None:  # noqa: ANN001 - playwright Page
    """"finished" / "failed" when the page says so, else None."""
    if page.get_by_text(FINISHED).count():
        return "finished"
    if page.get_by_text(FAILED).count():
        return "failed"
    return None


def _click_tab(page, name: str, marker: str, timeout_ms: int) -> float | None:  # noqa: ANN001
    """Click tab ``name`` and return the seconds until ``marker`` (text at the top of that tab) is visible."""
    start = time.perf_counter()
    try:
        page.get_by_role("tab", name=name).click(timeout=timeout_ms)
        page.get_by_text(marker).first.wait_for(state="visible", timeout=timeout_ms)
    except Exception:  # a click never answered within the timeout counts as missing, recorded below
        return None
    return time.perf_counter() - start


def set_epochs(page, epochs: int | None) -> None:  # noqa: ANN001 - playwright Page
    """Type the number of self-expression epochs into the sidebar (None: keep the default)."""
    if epochs is not None:
        box = page.get_by_label("Epochs", exact=True)
        box.fill(str(epochs))
        box.press("Enter")
        page.wait_for_timeout(500)


def run_sessions(browser, url: str, n: int, timeout: float, server_pid: int,  # noqa: ANN001
                 epochs: int | None = None) -> dict[str, Any]:
    """N sessions press Start together; returns finish times, click response times and what the pages said."""
    pages = [open_app(browser, url) for _ in range(n)]
    for page in pages:
        set_epochs(page, epochs)
    for page in pages:   # the data set is loaded and cached before the clock starts, as on a warm server
        page.get_by_role("button", name="Start").wait_for(state="visible", timeout=60_000)
    starts: list[float] = []
    for page in pages:
        page.get_by_role("button", name="Start").click()
        starts.append(time.perf_counter())
    finish: list[float | None] = [None] * n
    outcome: list[str | None] = [None] * n
    clicks: list[float] = []
    missed_clicks = 0
    workers_seen = 0
    queue_texts: set[str] = set()
    probe = 0
    deadline = starts[0] + timeout
    while time.perf_counter() < deadline and any(o is None for o in outcome):
        for i, page in enumerate(pages):
            if outcome[i] is None:
                status = _status(page)
                if status is not None:
                    outcome[i], finish[i] = status, time.perf_counter() - starts[i]
                else:
                    waiting = page.get_by_text(re.compile(r"ahead of you|You are next"))
                    if waiting.count():
                        queue_texts.add(waiting.first.inner_text())
        workers_seen = max(workers_seen, len(training_workers(server_pid)))
        if all(o is not None for o in outcome):
            break
        i = probe % n
        if outcome[i] is None:   # click while that session's run trains or waits
            name, marker = PROBE_TABS[(probe // n) % 2]
            dt = _click_tab(pages[i], name, marker, 30_000)
            if dt is None:
                missed_clicks += 1
            else:
                clicks.append(dt)
        probe += 1
        time.sleep(0.5)
    for page in pages:
        page.context.close()
    return {"sessions": n, "finish_seconds": finish, "outcome": outcome, "click_seconds": clicks,
            "clicks_unanswered_30s": missed_clicks, "max_training_processes": workers_seen,
            "queue_messages_seen": sorted(queue_texts)[:6]}


def closed_tab_delay(browser, url: str, server_pid: int, timeout: float = 60.0) -> dict[str, Any]:  # noqa: ANN001
    """Start a run, close its tab while it trains, and time until its training process has ended."""
    page = open_app(browser, url)
    before = training_workers(server_pid)
    page.get_by_role("button", name="Start").click()
    page.get_by_text(re.compile(r"^Training · .*step [1-9]")).first.wait_for(state="visible", timeout=120_000)
    mine = training_workers(server_pid) - before
    if not mine:
        return {"seconds": None, "note": f"no training process ({BUSY_NAME}) found for the run"}
    page.context.close()
    closed = time.perf_counter()
    while time.perf_counter() - closed < timeout:
        if not (mine & training_workers(server_pid)):
            return {"seconds": time.perf_counter() - closed, "note": ""}
        time.sleep(0.05)
    return {"seconds": None, "note": f"still running {timeout:.0f} s after the tab was closed"}


def measure(sessions: Sequence[int], timeout: float, workdir: Path, epochs: int | None = None) -> list[dict[str, Any]]:
    """One fresh server per N; the closed-tab case runs on the last server after its sessions."""
    from playwright.sync_api import sync_playwright

    cases = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for k, n in enumerate(sessions):
                log(f"{n} session(s): starting a server")
                with streamlit_server(workdir / f"load-server-{n}.log") as (url, proc):
                    open_app(browser, url).context.close()   # first visit: imports, data and warm-ups happen
                    time.sleep(5)
                    memory = TreeMemory(proc.pid)
                    idle = memory.now()
                    case = run_sessions(browser, url, n, timeout, proc.pid, epochs)
                    case["peak_rss_bytes"] = memory.stop()
                    case["idle_rss_bytes"] = idle
                    if k == len(sessions) - 1:
                        log("closed-tab case")
                        case["closed_tab"] = closed_tab_delay(browser, url, proc.pid)
                    log_text = (workdir / f"load-server-{n}.log").read_text(errors="replace")
                    case["server_tracebacks"] = log_text.count("Traceback")
                cases.append(case)
                log(f"{n} session(s): finish {case['finish_seconds']}, clicks p95 "
                    f"{np.percentile(case['click_seconds'], 95) if case['click_seconds'] else None}")
        finally:
            browser.close()
    return cases


def targets(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets against the measured cases (slowest session of each N against one session)."""
    by_n = {c["sessions"]: c for c in cases}
    single = by_n.get(1, {}).get("finish_seconds", [None])[0]

    def ratio(n: int) -> float | None:
        times = by_n.get(n, {}).get("finish_seconds")
        if not single or not times or any(t is None for t in times):
            return None
        return max(times) / single

    out = [target("2 sessions: slowest run / one session's run", ratio(2), "<=", 2.5, "×"),
           target("4 sessions: slowest run / one session's run", ratio(4), "<=", 5.0, "×")]
    four = by_n.get(4, {}).get("click_seconds")
    out.append(target("click response p95 while 4 runs train", float(np.percentile(four, 95)) if four else None,
                      "<=", 1.0, "s"))
    closing = next((c["closed_tab"] for c in cases if "closed_tab" in c), {})
    out.append(target("closed tab to its run's end", closing.get("seconds"), "<=", 10.0, "s", closing.get("note", "")))
    return out


def markdown(result: dict[str, Any]) -> str:
    """The README's table: one row per N, then the targets."""
    mib = 2 ** 20
    rows = ["| sessions | each run's time to finish (s) | slowest / one session | click p50 / p95 (s) | "
            "clicks | peak memory (MiB) |", "|---|---|---|---|---|---|"]
    single = next((c["finish_seconds"][0] for c in result["cases"] if c["sessions"] == 1), None)
    for c in result["cases"]:
        times = c["finish_seconds"]
        shown = ", ".join("—" if t is None else f"{t:.0f}" for t in times)
        ratio = (f"{max(times) / single:.2f}×" if single and all(t is not None for t in times) else "—")
        p50, p95 = c.get("click_p50_seconds"), c.get("click_p95_seconds")
        clicks = f"{p50:.2f} / {p95:.2f}" if p50 is not None else "—"
        answered = f"{len(c['click_seconds'])}" + (f" (+{c['clicks_unanswered_30s']} unanswered in 30 s)"
                                                   if c.get("clicks_unanswered_30s") else "")
        rows.append(f"| {c['sessions']} | {shown} | {ratio} | {clicks} | {answered} | "
                    f"{c['peak_rss_bytes'] / mib:,.0f} |")
    rows += ["", "| target | measured | met |", "|---|---|---|"]
    for t in result["targets"]:
        value = "—" if t["measured"] is None else f"{t['measured']:.2f} {t['unit']}"
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        rows.append(f"| {t['name']} {t['comparison']} {t['threshold']} {t['unit']} | {value} | {met} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8], help="numbers of sessions")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per N (default 600)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="self-expression epochs of every run (default: the sidebar's default)")
    parser.add_argument("--out", default=str(RESULTS_DIR / "load.json"))
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM} is missing (apt-get install chromium)")
        return 2
    if any(n < 1 for n in args.sessions):
        print("error: --sessions must be positive")
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))    # a killed benchmark still stops its servers
    header = result_header("load", "bench.load", argv)
    workdir = Path(args.out).resolve().parent / "load-logs"
    cases = measure(args.sessions, args.timeout, workdir, args.epochs)
    for case in cases:
        case["finish_summary"] = summarize(case["finish_seconds"])
        clicks = case["click_seconds"]
        case["click_p50_seconds"] = float(np.percentile(clicks, 50)) if clicks else None
        case["click_p95_seconds"] = float(np.percentile(clicks, 95)) if clicks else None
    result = {**header, "cases": cases, "targets": targets(cases)}
    path = write_json(args.out, result)
    log(f"wrote {path}")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
