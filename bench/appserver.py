"""The explorer under test: a `streamlit run app/main.py` server on loopback and Chromium pages on it.

Shared by ``bench.load`` and the browser tests (``tests/browser_support.py``).
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(port: int, proc: subprocess.Popen, log_path: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the server did not answer on port {port} within {timeout} s")


@contextlib.contextmanager
def streamlit_server(log_path: Path, *, env: dict[str, str] | None = None,
                     extra_args: Sequence[str] = ()) -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run app/main.py` on a free loopback port; yields (URL, process) and always stops it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false", "--server.port", str(port), *extra_args],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        try:
            _wait_healthy(port, proc, log_path)
            yield f"http://127.0.0.1:{port}", proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def launch_chromium(playwright):  # noqa: ANN001, ANN201 - playwright objects
    """Debian's headless Chromium (``/usr/bin/chromium``)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def open_app(browser, url: str, timeout_ms: int = 60_000):  # noqa: ANN001, ANN201 - playwright objects
    """A new page (its own browser context, hence its own Streamlit session) once the app is drawn and connected."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url)
    expect(page.get_by_role("heading", name="SSCN Explorer")).to_be_visible(timeout=timeout_ms)
    expect(page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']")).to_have_count(1)
    return page
