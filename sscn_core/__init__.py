"""sscn_core: Siamese Subspace Clustering Networks (Busch et al.) as a library.

    from sscn_core import SSCN, load_dataset
    data = load_dataset("mnist")
    model = SSCN(pretrained="mnist").fit(data.X)
"""
__version__ = "0.1.0"

from .data import DataError, Dataset, load_dataset  # noqa: E402
from .estimator import SSCN  # noqa: E402

__all__ = ["SSCN", "Dataset", "DataError", "load_dataset", "__version__"]
