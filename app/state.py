"""One typed object per browser session: the training job, a loaded model, uploads, UMAP runner.

The object lives in a session-scoped ``st.cache_resource`` (see :func:`app.main`'s use of
:func:`session_state`), so when the session ends (its tab is closed) Streamlit calls
:meth:`AppState.close`, which stops the training job without waiting for it (the server's event
loop calls it) and removes the session's temporary files.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sscn_core import SSCN, Dataset
from sscn_core.analysis import Analysis

from .config import AppConfig
from .embedding import UmapRunner, UmapService
from .job import Job, Snapshot
from .scheduler import Scheduler


@dataclass
class LoadedModel:
    """A model read from a checkpoint the user uploaded."""

    model: SSCN
    name: str
    analysis: Analysis | None = None
    analysis_key: str | None = None
    train: Dataset | None = None


@dataclass
class Notice:
    """A message for the next page run (set in a button callback, shown once)."""

    kind: str   # "error" | "warning" | "success" | "info"
    text: str
    detail: str | None = None


@dataclass
class AppState:
    """Everything one session keeps between reruns."""

    umap: UmapRunner
    scheduler: Scheduler
    job: Job | None = None
    run_config: AppConfig | None = None
    loaded: LoadedModel | None = None
    notice: Notice | None = None
    seen_job_state: str | None = None
    tempdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sscn-explorer-")))

    # ------------------------------------------------------------------ job
    def snapshot(self) -> Snapshot | None:
        """The current job's snapshot, or None without a job."""
        return self.job.snapshot() if self.job is not None else None

    def training_active(self) -> bool:
        """Whether a training job is queued or working (running, pausing, paused or stopping)."""
        snap = self.snapshot()
        return snap is not None and snap.active

    def start(self, job: Job, config: AppConfig) -> None:
        """Replace any previous run by ``job`` (already built) and hand it to the server's scheduler."""
        self.discard_job()
        self.loaded = None
        self.job, self.run_config = job, config
        self.scheduler.submit(job)

    def discard_job(self, timeout: float = 10.0) -> bool:
        """Stop and forget the current job; True when it has ended (its worker is killed after ``timeout`` s)."""
        job, self.job, self.run_config, self.seen_job_state = self.job, None, None, None
        return job.close(timeout) if job is not None else True

    def reset(self) -> bool:
        """Back to a fresh page: no job, no loaded model, no notice."""
        ended = self.discard_job()
        self.loaded, self.notice = None, None
        return ended

    # ------------------------------------------------------------------ files
    def save_upload(self, name: str, data: bytes) -> Path:
        """Write an uploaded file into the session's temp folder, in a sub-folder named by its content
        hash, under the user's own file name (what the loaders' messages then name); return its path."""
        digest = hashlib.sha256(data).hexdigest()[:16]
        safe = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", Path(name).name)[-80:]
        path = self.tempdir / digest / (safe if safe.strip(". ") else "upload")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{digest}.part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return path

    def close(self) -> None:
        """End of session: stop training (without waiting) and UMAP, delete temp files."""
        job, self.job = self.job, None
        if job is not None:
            job.close_soon()
        self.umap.close()
        shutil.rmtree(self.tempdir, ignore_errors=True)


def new_state(service: UmapService, scheduler: Scheduler) -> AppState:
    """A fresh session state sharing the server's UMAP worker and job scheduler."""
    return AppState(umap=UmapRunner(service), scheduler=scheduler)
