"""Checkpoint files: one file holding weights, configuration and metadata.

A checkpoint is a ``torch.save`` of a plain dict (tensors, strings, numbers) and is read back with
``torch.load(..., weights_only=True)``, so opening a file never executes pickled code. Writes are
atomic: the file is written beside its destination, flushed to disk and renamed over it.
"""
from __future__ import annotations

import json
import os
import pickle
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

FORMAT = "sscn-checkpoint"
FORMAT_VERSION = 1
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, of another kind or from an incompatible version."""


@dataclass
class Checkpoint:
    """The parts of a checkpoint file."""

    kind: str
    state: dict[str, torch.Tensor]
    config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to ``path`` atomically; returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": checkpoint.kind,
        "config_json": json.dumps(checkpoint.config),
        "meta_json": json.dumps(checkpoint.meta),
        "state": {k: v.detach().cpu().contiguous() for k, v in checkpoint.state.items()},
    }
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp makes the file private; give it normal permissions
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, expected_kind: str | None = None) -> Checkpoint:
    """Read a checkpoint safely; raise CheckpointError with a plain message when it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"checkpoint {path.name!r} is empty")
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint {path.name!r} is {size / 2**20:.0f} MiB; the limit is "
                              f"{MAX_CHECKPOINT_BYTES / 2**20:.0f} MiB")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path.name!r} was refused by the safe loader (it holds objects other "
                              f"than weights and plain values): {exc}") from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError, TypeError,
            struct.error) as exc:
        raise CheckpointError(f"{path.name!r} is not a readable SSCN checkpoint (corrupt, truncated, "
                              f"or not written by sscn_core): {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name!r} is a torch file but not an SSCN checkpoint")
    version = payload.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path.name!r} has checkpoint format version {version!r}; this sscn_core "
                              f"reads versions up to {FORMAT_VERSION}: upgrade sscn_core")
    kind = payload.get("kind")
    if expected_kind is not None and kind != expected_kind:
        raise CheckpointError(f"{path.name!r} holds a {kind!r} checkpoint, expected {expected_kind!r}")
    state = payload.get("state")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path.name!r} has no valid weights")
    try:
        config = json.loads(payload["config_json"])
        meta = json.loads(payload["meta_json"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path.name!r} has a damaged configuration block: {exc}") from exc
    return Checkpoint(kind=str(kind), state=state, config=config, meta=meta)
