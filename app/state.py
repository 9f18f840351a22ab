"""One typed object per browser session: the training job, a loaded model, uploads, UMAP runner.

The object lives in a session-scoped ``st.cache_resource`` (see :func:`app.main`'s use of
:func:`session_state`), so when the session ends Streamlit calls :meth:`AppState.close`, which
stops the training thread and removes the session's temporary files.
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
        """Whether a training thread is working (running, pausing, paused or stopping)."""
        snap = self.snapshot()
        return snap is not None and snap.active

    def start(self, job: Job, config: AppConfig) -> None:
        """Replace any previous run by ``job`` (already built) and start it."""
        self.discard_job()
        self.loaded = None
        self.job, self.run_config = job, config
        job.start()

    def discard_job(self, timeout: float = 10.0) -> bool:
        """Stop and forget the current job; True when its thread has ended."""
        job, self.job, self.run_config, self.seen_job_state = self.job, None, None, None
        return job.close(timeout) if job is not None else True

    def reset(self) -> bool:
        """Back to a fresh page: no job, no loaded model, no notice."""
        ended = self.discard_job()
        self.loaded, self.notice = None, None
        return ended

    # ------------------------------------------------------------------ files
    def save_upload(self, name: str, data: bytes) -> Path:
        """Write an uploaded file into the session's temp folder (named by content hash); return its path."""
        digest = hashlib.sha256(data).hexdigest()[:16]
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[-80:] or "upload"
        path = self.tempdir / f"{digest}_{safe}"
        if not path.exists():
            self.tempdir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return path

    def close(self) -> None:
        """End of session: stop training and UMAP, delete temp files."""
        self.discard_job(timeout=5.0)
        self.umap.close()
        shutil.rmtree(self.tempdir, ignore_errors=True)


def new_state(service: UmapService) -> AppState:
    """A fresh session state sharing the server's UMAP worker."""
    return AppState(umap=UmapRunner(service))
