"""Where auto-encoders pre-trained by earlier fits are kept, and the fingerprint that finds them again.

A fit that pre-trains its auto-encoder on the data it clusters writes the weights to
``<cache dir>/autoencoders/<fingerprint[:32]>.pt`` (an ordinary auto-encoder checkpoint, see
``persistence.save_autoencoder``); a later fit whose fingerprint matches loads them instead of
pre-training again. The fingerprint covers everything that decides the weights: the training
features (float32 bytes and shape), the auto-encoder's configuration and the pre-training
settings. It leaves out the versions of torch and sscn_core: a new version does not make
weights pre-trained on the same images wrong.

The cache dir is ``$SSCN_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/sscn-explorer``
(``~/.cache/sscn-explorer``).

**What the cache trusts.** The fingerprint only finds a file: anyone who holds the data can compute it,
and anyone who can write to the folder (another user, another session of a shared app) can put a
well-formed file there. So a cache file is untrusted input, and is used only when it carries a
signature that this installation made: an HMAC-SHA256, keyed by a secret of 32 random bytes, of the
fingerprint and of the file's content (its weights, configuration and metadata). The key is created at
first use in ``<cache dir>/secret.key``, readable by its owner only (mode 0600); a key file that is not
a private regular file of this user, or not 32 bytes, is replaced by a new key, which makes every
earlier cache file unsigned. A file that is unsigned, signed with another key, of other data or
settings, corrupt, or whose record is not of the types a fit writes is never used and never fatal: the
fit pre-trains again and writes the file anew (``pretrain_["cache"]`` says why the old one was
ignored). Nothing else in the cache folder is secret, and the key never leaves it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import content_hash

CACHE_ENV = "SSCN_CACHE_DIR"
APP_DIR = "sscn-explorer"
FILE_CHARS = 32   # hex characters of the fingerprint in a file name (128 bits)
KEY_FILE = "secret.key"
KEY_BYTES = 32
SIGNATURE = "signature"   # the metadata field holding a cache file's HMAC (see ``signature``)


def cache_dir() -> Path:
    """The folder of sscn_core's caches (it may not exist yet)."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / APP_DIR


def fingerprint(features: torch.Tensor, autoencoder: dict[str, Any], settings: dict[str, Any]) -> str:
    """SHA-256 (hex) of the training features' float32 bytes and shape, the auto-encoder's ``config()``
    and the pre-training ``settings`` (JSON values: budget, batch, learning rate, tol, schedule, seed)."""
    x = np.ascontiguousarray(features.detach().cpu().float().numpy())
    header = json.dumps({"shape": list(x.shape), "autoencoder": autoencoder, "pretrain": settings}, sort_keys=True)
    digest = hashlib.sha256(len(header).to_bytes(8, "little") + header.encode("utf-8"))
    digest.update(memoryview(x).cast("B"))
    return digest.hexdigest()


def autoencoder_file(fingerprint_hex: str) -> Path:
    """The cache file of the auto-encoder pre-trained with this fingerprint."""
    return cache_dir() / "autoencoders" / f"{fingerprint_hex[:FILE_CHARS]}.pt"


def cache_key() -> bytes:
    """This installation's secret key for signing cache files: ``<cache dir>/secret.key``, created on first
    use (32 random bytes, mode 0600) and replaced by a new one when the file there is not a private regular
    file of this user holding 32 bytes (a key that others can read or may have written is no secret).

    Returns
    -------
    bytes
        The key.

    Raises
    ------
    OSError
        When the cache folder cannot be made or the key cannot be written (the cache is then not used).
    """
    path = cache_dir() / KEY_FILE
    key = _read_private(path)
    if key is not None:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    tmp = path.with_name(f".{KEY_FILE}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        # Replaces a key file that is not private (or a link): no file signed with that key is used again.
        # Two processes creating the key at once: the last one's stays, the other's files are signed anew.
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _read_private(path: Path) -> bytes | None:
    """The key in ``path`` when it is a regular file of this user that nobody else may read or write and
    holds ``KEY_BYTES`` bytes; None otherwise (missing, a link, shared, of another owner or size)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        uid = getattr(os, "geteuid", None)      # POSIX; elsewhere the file's permissions are not modes
        private = uid is None or (info.st_uid == uid() and not info.st_mode & 0o077)
        if not stat.S_ISREG(info.st_mode) or not private:
            return None
        key = fh.read(KEY_BYTES + 1)
    return key if len(key) == KEY_BYTES else None


def signature(key: bytes, fingerprint_hex: str, config: dict[str, Any], record: dict[str, Any],
              state: dict[str, torch.Tensor]) -> str:
    """The signature (HMAC-SHA256, hex) of a cache file: of its fingerprint, the auto-encoder's configuration,
    the pre-training ``record`` that a fit reads back from it, and every weight (name, dtype, shape, bytes).

    Parameters
    ----------
    key : bytes
        :func:`cache_key`.
    fingerprint_hex : str
        The fingerprint the file is filed under.
    config, record : dict
        JSON values, as written or as read back (both give the same signature).
    state : dict of str to Tensor
        The weights.

    Returns
    -------
    str
        64 hex characters.
    """
    canonical = [json.dumps(value, sort_keys=True) for value in (config, record)]
    content = content_hash("sscn-cache-v1", *canonical, state)
    return hmac.new(key, f"{fingerprint_hex}:{content}".encode("utf-8"), hashlib.sha256).hexdigest()


def verify(key: bytes, fingerprint_hex: str, config: dict[str, Any], record: dict[str, Any],
           state: dict[str, torch.Tensor], claimed: Any) -> bool:
    """Whether ``claimed`` is :func:`signature`'s for these parts (compared in constant time)."""
    return isinstance(claimed, str) and hmac.compare_digest(signature(key, fingerprint_hex, config, record, state),
                                                            claimed)
