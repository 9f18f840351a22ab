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
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

CACHE_ENV = "SSCN_CACHE_DIR"
APP_DIR = "sscn-explorer"
FILE_CHARS = 32   # hex characters of the fingerprint in a file name (128 bits)


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
