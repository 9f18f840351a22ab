"""sscn_core: Siamese Subspace Clustering Networks (Busch et al.) as a library.

    from sscn_core import SSCN, load_dataset
    data = load_dataset("mnist")
    model = SSCN(n_clusters=10).fit(data.X)     # every other setting follows the data
    model.settings_                              # the plan: each setting with its reason (sscn_core.plan)

``SSCN`` (and with it torch) is imported on first use, so that torch-free parts such as
:mod:`sscn_core.umap_layout` load without it.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from .data import DataError, Dataset, load_dataset  # noqa: E402

__all__ = ["SSCN", "Dataset", "DataError", "load_dataset", "__version__"]


def __getattr__(name: str) -> Any:
    """``sscn_core.SSCN``, imported on first access (PEP 562)."""
    if name == "SSCN":
        from .estimator import SSCN
        globals()["SSCN"] = SSCN
        return SSCN
    raise AttributeError(f"module 'sscn_core' has no attribute {name!r}")
