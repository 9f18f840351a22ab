"""Choosing the torch device: CUDA when present, else CPU."""
from __future__ import annotations

import torch


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"`` (or None), ``"cpu"``, ``"cuda"``, ``"cuda:1"``... into a usable device.

    ``"auto"`` picks the first CUDA device when one is available, else the CPU. Asking for a
    CUDA device on a machine without one raises ValueError with a plain message.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "auto"):
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {spec!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {spec!r} was requested but no CUDA GPU is available; use 'cpu' or 'auto'")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {spec!r}")
    return device
