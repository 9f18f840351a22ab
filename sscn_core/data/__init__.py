"""Data sets as ``Dataset`` objects: rows are samples, images flattened row-major, pixels in [0, 1].

``load_dataset(name, ...)`` is the single entry point:

=================  =======================================================================
``mnist``          the bundled official MNIST test set (10,000 digits; the SSCN paper's set)
``mnist-oos``      10,000 bundled MNIST *training* digits, disjoint from ``mnist``
``mnist-full``     all 70,000 MNIST digits from a cache folder, downloaded when missing
``fashion-mnist``  Fashion-MNIST (10,000 test images by default) from a folder or downloaded
``digits``         scikit-learn's 8×8 digits (1,797 images)
``yaleb``          the bundled Extended Yale B faces (2,414 images of 38 people, 32×32)
``synthetic``      points on a union of linear subspaces (:func:`make_subspaces`)
``file``           the user's .npz / .npy arrays, a folder or .zip of images, or one image
=================  =======================================================================

Downloads are checked against SHA-256 checksums of the *uncompressed* idx files (gzip headers
differ between mirrors; the contents do not) and written atomically. Offline, the error names the
URLs and the folder to put the files in by hand.

The package, by source: :mod:`~sscn_core.data.dataset` (the ``Dataset`` type and ``DataError``),
:mod:`~sscn_core.data.files` (idx and .npy / .npz readers), :mod:`~sscn_core.data.bundled` (the named sets,
bundled or downloaded, and where they live), :mod:`~sscn_core.data.synthetic` (unions of subspaces),
:mod:`~sscn_core.data.folders` (the user's folders, .zip files and images, with their limits) and
:mod:`~sscn_core.data.registry` (``load_dataset``).
"""
from __future__ import annotations

from .bundled import assets_dir
from .dataset import DataError, Dataset
from .files import parse_idx, read_idx
from .registry import load_dataset
from .synthetic import RELATIONS, make_subspace_bases, make_subspaces

__all__ = ["DataError", "Dataset", "RELATIONS", "assets_dir", "load_dataset", "make_subspace_bases", "make_subspaces",
           "parse_idx", "read_idx"]
