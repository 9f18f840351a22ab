"""Shared benchmark plumbing: machine description, result files, statistics, isolated worker processes.

Each measured case runs in a fresh process (``run_isolated``): resident memory only grows within a
process (allocators keep freed pages), so a case measured after another would inherit its peak.
On Linux the workers are forked from a *fork server* that has imported torch and sscn_core once
(a clean process per case without paying the import each time); elsewhere they are spawned.
"""
from __future__ import annotations

import datetime as _dt
import importlib
import json
import math
import multiprocessing as mp
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
GIB = 1024 ** 3
DEFAULT_MEMORY_CAP = 16 * GIB
# Modules the fork server imports once, so that each worker starts warm.
PRELOAD = ["numpy", "scipy.sparse", "sklearn.cluster", "torch", "sscn_core", "sscn_core.estimator",
           "sscn_core.metrics", "sscn_core.postprocess", "bench.common"]


# ---------------------------------------------------------------------------------------------- logging
def log(message: str) -> None:
    """A progress line on stderr, with the time of day."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.lower().startswith(("model name", "hardware", "cpu model")) and ":" in line:
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# The machine's load when the benchmark's process started (bench.common is imported first thing): the
# figure that says whether the run was quiet. Read at write time it would be the benchmark's own load.
START_LOAD = _load_average()


def machine_info(device: str = "auto") -> dict[str, Any]:
    """What the numbers were measured on: CPU model, cores, RAM, GPU, load when the run started
    (:data:`START_LOAD`), library versions."""
    import torch

    import sscn_core
    from sscn_core.device import resolve_device

    resolved = resolve_device(device)
    gpu = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(resolved if resolved.type == "cuda" else 0)
        gpu = {"name": props.name, "memory_bytes": int(props.total_memory), "cuda": torch.version.cuda}
    return {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_bytes": int(psutil.virtual_memory().total),
        "ram_available_bytes": int(psutil.virtual_memory().available),
        "load_average_1_5_15": START_LOAD,
        "gpu": gpu,
        "device": str(resolved),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sscn_core": sscn_core.__version__,
        "git_commit": _git_commit(),
    }


def command_line(module: str, argv: Sequence[str] | None) -> str:
    """The command that reproduces a run, e.g. ``python -m bench.table1 --quick``."""
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", "-m", module, *map(shlex.quote, args)])


def result_header(benchmark: str, module: str, argv: Sequence[str] | None, device: str = "auto") -> dict[str, Any]:
    """The fields every result file starts with: benchmark, command, date, machine."""
    return {
        "benchmark": benchmark,
        "command": command_line(module, argv),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(device),
    }


# ---------------------------------------------------------------------------------------------- files
def to_jsonable(obj: Any) -> Any:
    """Numbers, arrays, paths and tuples made JSON-friendly (non-finite floats become None)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON, atomically (a reader never sees half a file)."""
    return write_text_atomic(path, json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """Read a result file; raises ValueError naming the file when it is not a JSON object."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


# ---------------------------------------------------------------------------------------------- statistics
def summarize(values: Iterable[float | None]) -> dict[str, Any] | None:
    """{"mean", "std" (ddof 1; None for one value), "n", "min", "max"} of the finite values, or None."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return None
    arr = np.asarray(vals)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else None, "n": int(arr.size),
            "min": float(arr.min()), "max": float(arr.max())}


def target(name: str, measured: float | None, comparison: str, threshold: float | Sequence[float], unit: str,
           note: str = "") -> dict[str, Any]:
    """A target with its measured value; ``met`` is None when nothing was measured.

    ``comparison``: "<=" or ">=" against a number, or "in" with ``threshold`` = [low, high] (inclusive).
    """
    if comparison not in ("<=", ">=", "in"):
        raise ValueError(f"comparison must be '<=', '>=' or 'in', got {comparison!r}")
    if comparison == "in":
        low, high = (float(v) for v in threshold)  # type: ignore[union-attr]
        limit: Any = [low, high]
    else:
        limit = float(threshold)  # type: ignore[arg-type]
    if measured is None or not math.isfinite(measured):
        met = None
    elif comparison == "<=":
        met = measured <= limit
    elif comparison == ">=":
        met = measured >= limit
    else:
        met = limit[0] <= measured <= limit[1]
    return {"name": name, "measured": measured, "comparison": comparison, "threshold": limit, "unit": unit,
            "met": met, "note": note}


# ---------------------------------------------------------------------------------------------- memory
def memory_kind(device: str = "auto") -> str:
    """What memory numbers mean on ``device``: process RSS (CPU) or torch's CUDA allocations."""
    from sscn_core.device import resolve_device

    return "cuda_max_allocated" if resolve_device(device).type == "cuda" else "cpu_rss"


def current_memory(device: str = "auto") -> int:
    """Memory in use now: this process's RSS on the CPU, ``torch.cuda.memory_allocated`` on a GPU."""
    import torch

    from sscn_core.device import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda":
        return int(torch.cuda.memory_allocated(dev))
    return int(psutil.Process().memory_info().rss)


def memory_budget(cap_bytes: int = DEFAULT_MEMORY_CAP) -> int:
    """Bytes a case may use: ``cap_bytes``, or 80 % of the RAM available now when that is less."""
    return int(min(cap_bytes, 0.8 * psutil.virtual_memory().available))


# ---------------------------------------------------------------------------------------------- isolation
def default_start_method() -> str:
    """"forkserver" where available (Linux), else "spawn"."""
    return "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


def _context(start_method: str | None) -> mp.context.BaseContext:
    method = start_method or default_start_method()
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _worker(conn: Any, target_name: str, kwargs: dict[str, Any], threads: int | None) -> None:
    """Entry point of a worker: run ``module:function(**kwargs)`` and send back the outcome."""
    try:
        if threads is not None:
            import torch

            torch.set_num_threads(int(threads))
        module_name, func_name = target_name.split(":")
        func = getattr(importlib.import_module(module_name), func_name)
        conn.send(("ok", to_jsonable(func(**kwargs))))
    except Exception as exc:  # reported to the parent, which records it in the results
        conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=8)))
    finally:
        conn.close()


def run_isolated(target_name: str, kwargs: dict[str, Any] | None = None, *, timeout_s: float | None = None,
                 memory_limit_bytes: int | None = None, threads: int | None = None,
                 start_method: str | None = None, poll_s: float = 0.2) -> dict[str, Any]:
    """Run ``"package.module:function"`` with ``kwargs`` in a fresh process and return its outcome.

    Returns ``{"status": "ok", "result": ..., "wall_seconds": ..., "worker_peak_rss_bytes": ...}``
    or, with ``status`` "error" / "timeout" / "killed", a ``message`` (and the worker's traceback
    for errors). The parent watches the worker: past ``timeout_s`` seconds, or when its resident
    memory exceeds ``memory_limit_bytes``, the worker is killed (by its pid) and the case recorded
    as such. ``threads`` sets torch's intra-op threads in the worker.
    """
    if ":" not in target_name:
        raise ValueError(f"target must look like 'package.module:function', got {target_name!r}")
    ctx = _context(start_method)
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(sender, target_name, dict(kwargs or {}), threads),
                       name=f"bench:{target_name}")
    start = time.perf_counter()
    proc.start()
    sender.close()
    watched = psutil.Process(proc.pid)
    peak_rss = 0
    outcome: dict[str, Any] | None = None
    try:
        while outcome is None:
            if receiver.poll(poll_s):
                try:
                    message = receiver.recv()
                except EOFError:
                    proc.join(timeout=10)
                    outcome = {"status": "error",
                               "message": f"the worker process ended without a result (exit code {proc.exitcode}; "
                                          f"-9 usually means it was killed for memory)"}
                    break
                if message[0] == "ok":
                    outcome = {"status": "ok", "result": message[1]}
                else:
                    outcome = {"status": "error", "message": message[1], "traceback": message[2]}
                break
            try:
                rss = watched.memory_info().rss
            except psutil.NoSuchProcess:
                rss = 0
            peak_rss = max(peak_rss, rss)
            elapsed = time.perf_counter() - start
            if memory_limit_bytes is not None and rss > memory_limit_bytes:
                proc.kill()
                outcome = {"status": "killed", "message": f"killed: resident memory {rss / GIB:.1f} GiB exceeded the "
                                                          f"budget of {memory_limit_bytes / GIB:.1f} GiB"}
            elif timeout_s is not None and elapsed > timeout_s:
                proc.kill()
                outcome = {"status": "timeout", "message": f"timed out: still running after {timeout_s:.0f} s"}
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
        receiver.close()
    outcome["wall_seconds"] = time.perf_counter() - start
    outcome["worker_peak_rss_bytes"] = peak_rss
    return outcome


# ---------------------------------------------------------------------------------------------- auto-encoders
def pretrained_path(name: str) -> Path:
    """Where the bundled pre-trained auto-encoder for data set ``name`` lives (whether or not it exists)."""
    from sscn_core.params import PRETRAINED
    from sscn_core.pretraining import ASSETS_DIR

    if name not in PRETRAINED:
        raise ValueError(f"no bundled auto-encoder is defined for {name!r}; known: {sorted(PRETRAINED)}")
    return Path(ASSETS_DIR) / PRETRAINED[name]


def missing_pretrained(name: str) -> str | None:
    """None when the pre-trained auto-encoder of ``name`` is there, else a message saying how to make it."""
    path = pretrained_path(name)
    if path.is_file():
        return None
    return (f"pre-trained auto-encoder missing: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
            f"(make it with: python -m sscn_core pretrain --dataset {name})")


def encode_pretrained(name: str, X: np.ndarray, device: str = "auto", batch_size: int = 2000) -> np.ndarray:
    """Z = enc(X) (N, 480) with the bundled pre-trained conv auto-encoder of data set ``name``."""
    import torch

    from sscn_core.checkpoint import load_checkpoint
    from sscn_core.device import resolve_device
    from sscn_core.models import build_autoencoder
    from sscn_core.persistence import AUTOENCODER_KIND

    ckpt = load_checkpoint(pretrained_path(name), expected_kind=AUTOENCODER_KIND)
    ae = build_autoencoder(ckpt.config)
    ae.load_state_dict(ckpt.state)
    dev = resolve_device(device)
    ae.to(dev).eval()
    x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    parts = []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            parts.append(ae.encode(x[start:start + batch_size].to(dev)).float().cpu())
    return torch.cat(parts).numpy()


def measure_dsc_fit(model: Any, X: np.ndarray, device: str = "auto") -> dict[str, Any]:
    """Fit a ``DSCNet`` on X, timing and measuring its two phases apart.

    Returns fit_seconds, phase_seconds and peak_memory_bytes for "self_expression" (the full-batch
    training of C) and "pseudo_labels" (the post-processing of C), and baseline_memory_bytes (the
    memory in use before the fit). The phases are told apart by the model's end-of-phase event.
    """
    from sscn_core.metrics import PeakMemory

    marks: dict[str, Any] = {}
    post = PeakMemory(device)

    def on_event(event: Any) -> None:
        if event.kind == "done" and event.phase == "self_expression":
            marks["train_peak"] = whole.peak_bytes
            marks["train_end"] = time.perf_counter()
            post.__enter__()
            marks["post_started"] = True

    baseline = current_memory(device)
    with PeakMemory(device) as whole:
        start = time.perf_counter()
        try:
            model.fit(X, callback=on_event)
        finally:
            if marks.get("post_started"):
                post.__exit__(None, None, None)
        end = time.perf_counter()
    if "train_end" not in marks:
        raise RuntimeError("DSC-Net reported no end of its self-expression phase; cannot time its phases apart")
    return {
        "fit_seconds": end - start,
        "phase_seconds": {"self_expression": float(model.train_seconds_), "pseudo_labels": end - marks["train_end"]},
        "peak_memory_bytes": {"self_expression": int(marks["train_peak"]), "pseudo_labels": int(post.peak_bytes)},
        "baseline_memory_bytes": baseline,
    }
