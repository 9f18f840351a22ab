"""Checkpoint files: one file holding weights, configuration and metadata.

A checkpoint is a ``torch.save`` of a plain dict (tensors, strings, numbers) and is read back with
``torch.load(..., weights_only=True)``, so opening a file never executes pickled code. Writes are
atomic: the file is written beside its destination, flushed to disk and renamed over it.

Since format version 2 every file carries a SHA-256 of its content (kind, configuration, metadata
and every tensor's name, dtype, shape and bytes), checked on load: a flipped bit in the weights is
refused instead of silently changing predictions. Version-1 files (written before the hash
existed) still load, unverified; saving them again adds the hash.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

FORMAT = "sscn-checkpoint"
FORMAT_VERSION = 2
HASHED_SINCE_VERSION = 2
ZIP_MAGIC = b"PK\x03\x04"   # torch.save writes a zip archive
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

    def tensor_bytes(self) -> int:
        """Bytes of all the tensors in ``state``."""
        return sum(t.numel() * t.element_size() for t in self.state.values())


def content_hash(kind: str, config_json: str, meta_json: str, state: dict[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of a checkpoint's content: kind, configuration, metadata and every tensor."""
    digest = hashlib.sha256()
    for text in (kind, config_json, meta_json):
        digest.update(len(text).to_bytes(8, "little") + text.encode("utf-8"))
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        header = json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode("utf-8")
        digest.update(len(header).to_bytes(8, "little") + header)
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to ``path`` atomically; returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in checkpoint.state.items()}
    config_json, meta_json = json.dumps(checkpoint.config), json.dumps(checkpoint.meta)
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": checkpoint.kind,
        "config_json": config_json,
        "meta_json": meta_json,
        "state": state,
        "sha256": content_hash(checkpoint.kind, config_json, meta_json, state),
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
    unreadable = (f"{path.name!r} is not a readable SSCN checkpoint (corrupt, truncated, or not written by "
                  f"sscn_core)")
    with path.open("rb") as fh:
        if fh.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
            raise CheckpointError(f"{unreadable}: it does not start like a torch file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        what = f" (it refers to {found.group(1)})" if found else ""
        raise CheckpointError(f"{path.name!r} holds pickled Python objects other than tensors and plain values{what}; "
                              f"it is refused for safety: only checkpoints written by sscn_core are loaded") from exc
    except Exception as exc:   # a damaged archive can make the unpickler fail in any way (even IndexError)
        raise CheckpointError(f"{unreadable}: {_one_line(exc)}") from exc
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
    config_json, meta_json = payload.get("config_json"), payload.get("meta_json")
    if not isinstance(config_json, str) or not isinstance(meta_json, str):
        raise CheckpointError(f"{path.name!r} has a damaged configuration block")
    if version >= HASHED_SINCE_VERSION and payload.get("sha256") != content_hash(str(kind), config_json, meta_json, state):
        raise CheckpointError(f"{path.name!r} is corrupt: its content does not match the SHA-256 stored when it "
                              f"was saved (a changed byte in the weights or settings)")
    bad = next((name for name, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())), None)
    if bad is not None:
        raise CheckpointError(f"{path.name!r} is unusable: the weights contain NaN or infinite values (in {bad}), "
                              f"so the training that wrote it diverged; train it again with a smaller learning rate")
    try:
        config = json.loads(config_json)
        meta = json.loads(meta_json)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path.name!r} has a damaged configuration block: {exc}") from exc
    return Checkpoint(kind=str(kind), state=state, config=config, meta=meta)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")   # terminal colour and bold codes
MAX_MESSAGE = 300


def _one_line(exc: BaseException) -> str:
    """An exception's message for people: one line, terminal codes removed, at most about
    MAX_MESSAGE characters, cut after a whole sentence (or a whole word when the first is longer)."""
    text = " ".join(_ANSI.sub("", str(exc)).split()) or type(exc).__name__
    if len(text) <= MAX_MESSAGE:
        return text
    end = text.rfind(". ", 0, MAX_MESSAGE)
    if end > 0:
        return text[:end + 1]
    cut = text.rfind(" ", 0, MAX_MESSAGE - 1)
    return text[:cut if cut > 0 else MAX_MESSAGE - 1].rstrip(" ,;:") + "…"
