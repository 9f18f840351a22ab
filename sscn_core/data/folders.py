"""The user's own data (``load_dataset("file", path=...)``): a folder or .zip of images (sub-folder names
are the labels), one image, or an .npy / .npz array file (:mod:`sscn_core.data.files`), with the limits that
keep an upload within memory: images per set, bytes of a .zip and its members, decoded pixels per upload.

Images are read as grey levels and prepared the way the data asks (``preprocess.STYLES``): digit-style when
most pictures are drawings on a plain background, else photo-style at one common shape; ``raw=True`` keeps
them as they are.

What is read stays within what the user named. A folder load reads only regular files whose real path
(symbolic links resolved) lies inside the real path of the folder: a link to a file inside is read, a link
leading outside it (or to nothing) is skipped without being opened, and links to folders are not entered;
the data set's ``preprocessing`` sentence says how many links were skipped and why. A .zip's members are
read into memory from the archive, never extracted to disk, and a link stored in it is skipped the same way.
"""
from __future__ import annotations

import os
import stat
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from ..atomic import file_kind
from .dataset import DataError, Dataset, format_size
from .files import load_array_file

MAX_UPLOAD_PIXELS = 200_000_000         # pixels decoded from one folder or .zip of images, all images together
MAX_ZIP_BYTES = 200 * 1024**2           # a .zip of images on disk
MAX_ZIP_UNCOMPRESSED_BYTES = 1024**3    # its members added up
MAX_IMAGES = 100_000                    # images in a folder or a .zip
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm",
                  ".pbm", ".pnm")


def _is_image_name(name: str) -> bool:
    parts = PurePosixPath(name).parts
    if not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def _links(n: int) -> str:
    return f"{n} symbolic link{'s' * (n != 1)}"


def _skipped_links(outside: int, broken: int) -> str | None:
    """One sentence for the report: how many links in a folder were skipped and why, or None."""
    if outside + broken == 0:
        return None
    why = [f"{outside} lead{'s' * (outside == 1)} outside the folder"] if outside else []
    why += [f"{broken} lead{'s' * (broken == 1)} to no regular file"] if broken else []
    return f"{_links(outside + broken)} skipped ({', '.join(why)}): only files inside the folder are read"


def _folder_images(root: Path) -> tuple[list[tuple[str, ...]], list[Path], str | None]:
    """The image files a load of the folder ``root`` may read, sorted: their paths relative to the folder
    (as parts), their real paths, and a sentence on the symbolic links skipped (None when none was).

    A file is read only when its real path lies inside the folder's real path and is a regular file;
    links to folders are not entered. Nothing is opened here."""
    base = root.resolve()
    found: list[tuple[tuple[str, ...], Path]] = []
    outside = broken = 0
    for folder, subfolders, names in os.walk(base):          # does not enter links to folders
        here = Path(folder)
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d != "__MACOSX"]
        for name in names:
            rel = (here / name).relative_to(base)
            if not _is_image_name(rel.as_posix()):
                continue
            try:
                real = (here / name).resolve(strict=True)
            except (OSError, RuntimeError):                   # a broken link, or a loop of links
                broken += 1
                continue
            if not real.is_relative_to(base):
                outside += 1
            elif real.is_file():
                found.append((rel.parts, real))
            elif (here / name).is_symlink():                  # a link to a folder, a device, a pipe...
                broken += 1
    found.sort()
    return [rel for rel, _ in found], [real for _, real in found], _skipped_links(outside, broken)


def _group_by_class(relpaths: Sequence[tuple[str, ...]], source: str) -> tuple[list[str | None], tuple[str, ...] | None]:
    """Class of each image from its path parts: the first folder, or None when images sit at the top."""
    if not relpaths:
        raise DataError(f"{source}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
    if len(relpaths) > MAX_IMAGES:
        raise DataError(f"{source}: {len(relpaths):,} images; the limit is {MAX_IMAGES:,}")
    flat = [len(p) == 1 for p in relpaths]
    if all(flat):
        return [None] * len(relpaths), None
    if any(flat):
        raise DataError(f"{source}: mixes images at the top level with class sub-folders; put every image in a "
                        f"sub-folder named after its class, or all of them at the top level (no labels)")
    classes = [p[0] for p in relpaths]
    return classes, tuple(sorted(set(classes)))  # type: ignore[return-value]


def _decode(blob: bytes, label: str) -> np.ndarray:
    """One image file as grey levels in [0, 1] at its own size."""
    from ..preprocess import ImageError, grey_levels, open_image_safely

    try:
        return grey_levels(open_image_safely(blob))
    except ImageError as exc:
        raise DataError(f"{label}: {exc}") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{label}: the image could not be converted ({exc})") from None


def _prepare_set(arrays: list[np.ndarray], names: list[str], source: str) -> tuple[list[np.ndarray], str]:
    """Preprocessing that follows the data: digit-style when most pictures are drawings on a plain
    background, else photo-style at one common shape (``preprocess.STYLES``). Returns the inputs
    and a sentence saying what was applied."""
    from ..preprocess import DIGIT_SHAPE, STYLES, ImageError, photo_shape, prepare_for, style_of

    style = style_of(arrays)
    shape = DIGIT_SHAPE if style == "digit" else photo_shape([a.shape for a in arrays])
    out = []
    for name, a in zip(names, arrays):
        try:
            out.append(prepare_for(a, style, shape))
        except ImageError as exc:
            raise DataError(f"{source}: {name}: {exc}") from None
    return out, f"{STYLES[style]}; {shape[0]}×{shape[1]} inputs"


def _count_pixels(total: int, blob: bytes, label: str, source: str) -> int:
    """``total`` plus this image's pixels (read from its header, before decoding); refuses an
    upload whose images add up to more than MAX_UPLOAD_PIXELS."""
    from ..preprocess import probe_size

    size = probe_size(blob)
    total += size[0] * size[1] if size is not None else 0   # unreadable: _decode says why
    if total > MAX_UPLOAD_PIXELS:
        raise DataError(f"{source}: the images add up to more than {MAX_UPLOAD_PIXELS:,} pixels (reached at "
                        f"{label}); the limit is per upload: use smaller images (28×28 is what the model reads) "
                        f"or fewer of them")
    return total


def _stack_images(arrays: list[np.ndarray], labels: list[str | None], classes: tuple[str, ...] | None,
                  names: list[str], source: str, dataset_name: str, raw: bool, skipped: str | None = None) -> Dataset:
    note = None
    if not raw and arrays:
        arrays, note = _prepare_set(arrays, names, source)
    if skipped:
        note = f"{note}; {skipped}" if note else skipped
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        odd = next(n for n, a in zip(names, arrays) if a.shape != first)
        raise DataError(f"{source}: with raw=True all images must share one size; {names[0]} is "
                        f"{first[1]}×{first[0]} but {odd} is not (use raw=False to resize them)")
    stack = np.stack(arrays)
    y = None if classes is None else np.array([classes.index(c) for c in labels], dtype=np.int64)  # type: ignore[arg-type]
    h, w = stack.shape[1:]
    return Dataset(stack.reshape(len(arrays), -1), y, dataset_name, (int(h), int(w)), classes, note)


def _load_image_folder(path: Path, raw: bool) -> Dataset:
    rel, real, skipped = _folder_images(path)
    if not rel and skipped:
        raise DataError(f"{path}: no images found: {skipped}")
    labels, classes = _group_by_class(rel, str(path))
    names = ["/".join(parts) for parts in rel]
    arrays, pixels = [], 0
    for name, target in zip(names, real):
        try:
            blob = _read_regular_file(target, name)
        except OSError as exc:
            raise DataError(f"{path / name}: cannot read ({exc.strerror or exc})") from None
        pixels = _count_pixels(pixels, blob, name, str(path))
        arrays.append(_decode(blob, name))
    return _stack_images(arrays, labels, classes, names, str(path), path.name, raw, skipped)


def _read_regular_file(path: Path, label: str) -> bytes:
    """The bytes of the regular file at ``path`` (its real path, checked to lie inside the folder): opened
    without following a link that might have replaced it since, refused when it is no longer a regular
    file or is larger than one image may be (checked before reading)."""
    from ..preprocess import MAX_BYTES

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    with os.fdopen(os.open(path, flags), "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise DataError(f"{label}: not a regular file")
        if info.st_size > MAX_BYTES:
            raise DataError(f"{label}: the file is {format_size(info.st_size)}; the limit for one image is "
                            f"{format_size(MAX_BYTES)}")
        return fh.read(MAX_BYTES + 1)


def _is_link(info: zipfile.ZipInfo) -> bool:
    """A member stored as a symbolic link (by zip tools on Unix): its content is the path it points to."""
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def _load_image_zip(path: Path, raw: bool) -> Dataset:
    from ..preprocess import MAX_BYTES

    size = path.stat().st_size
    if size > MAX_ZIP_BYTES:
        raise DataError(f"{path.name}: the file is {format_size(size)}; the limit is {format_size(MAX_ZIP_BYTES)}")
    try:
        with zipfile.ZipFile(path) as zf:
            named = [i for i in zf.infolist() if not i.is_dir() and _is_image_name(i.filename)]
            infos = [i for i in named if not _is_link(i)]
            if len(infos) > MAX_IMAGES:
                raise DataError(f"{path.name}: {len(infos):,} images; the limit is {MAX_IMAGES:,}")
            total = sum(i.file_size for i in infos)
            if total > MAX_ZIP_UNCOMPRESSED_BYTES:
                raise DataError(f"{path.name}: the images add up to {format_size(total)} uncompressed; the limit "
                                f"is {format_size(MAX_ZIP_UNCOMPRESSED_BYTES)}")
            big = next((i for i in infos if i.file_size > MAX_BYTES), None)
            if big is not None:
                raise DataError(f"{path.name}: {big.filename} is {format_size(big.file_size)} uncompressed; the "
                                f"limit for one image is {format_size(MAX_BYTES)}")
            infos.sort(key=lambda i: i.filename)
            rel = [PurePosixPath(i.filename).parts for i in infos]
            # Zipping a folder puts everything under one root folder: strip that wrapper (once).
            if rel and all(len(p) > 1 for p in rel) and len({p[0] for p in rel}) == 1:
                rel = [p[1:] for p in rel]
            labels, classes = _group_by_class(rel, path.name)
            arrays, pixels = [], 0
            for info in infos:
                with zf.open(info) as fh:
                    blob = fh.read(MAX_BYTES + 1)
                pixels = _count_pixels(pixels, blob, info.filename, path.name)
                arrays.append(_decode(blob, f"{path.name}:{info.filename}"))
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DataError(f"{path.name}: not a valid zip file or it is truncated ({exc})") from None
    except OSError as exc:   # a damaged directory entry: a member's offset points before the file's start
        raise DataError(f"{path.name}: not a valid zip file: a member cannot be read ({exc.strerror or exc})") from None
    except RuntimeError as exc:  # zipfile raises it for encrypted members
        raise DataError(f"{path.name}: cannot read the zip ({exc})") from None
    except NotImplementedError as exc:
        raise DataError(f"{path.name}: unsupported zip compression ({exc})") from None
    return _stack_images(arrays, labels, classes, [i.filename for i in infos], path.name, path.name, raw,
                         f"{_links(len(named) - len(infos))} stored in the .zip skipped (links are not followed)"
                         if len(named) > len(infos) else None)


def load_file(path: str | os.PathLike, raw: bool = False, image_shape: tuple[int, int] | None = None) -> Dataset:
    """The user's data at ``path``: a folder or .zip of images, one image, or an .npy / .npz array file.

    Parameters
    ----------
    path : str or os.PathLike
        The file or folder the user named (it may itself be a symbolic link).
    raw : bool
        Keep images as they are (they must then share one size) instead of preparing them.
    image_shape : (int, int), optional
        (height, width) of the rows of an .npy / .npz of vectors.

    Returns
    -------
    Dataset
        The rows, labels from the class sub-folders, and a ``preprocessing`` sentence for images.

    Raises
    ------
    DataError
        Missing, unsupported, corrupt or oversized input, with one line naming the file.

    Notes
    -----
    Nothing outside what the user named is read: in a folder, only regular files whose real path
    lies inside the folder's real path; a symbolic link leading outside it (or to nothing) is
    skipped unopened and counted in ``preprocessing``, and links to folders are not entered. A
    .zip's members are read into memory, never extracted to disk; links stored in it are skipped.
    """
    target = Path(os.path.expanduser(path))     # Path.expanduser raises RuntimeError on an unknown ~user
    if not target.exists():
        raise DataError(f"{target}: no such file or folder")
    if target.is_dir():
        return _load_image_folder(target, raw)
    if not target.is_file():
        raise DataError(f"{target}: {file_kind(target.stat().st_mode)}, not a regular file; name a file or folder "
                        f"of data")
    suffix = target.suffix.lower()
    if suffix in (".npz", ".npy"):
        return load_array_file(target, image_shape)
    if suffix == ".zip":
        return _load_image_zip(target, raw)
    if suffix in IMAGE_SUFFIXES:
        from ..preprocess import MAX_BYTES

        if target.stat().st_size > MAX_BYTES:
            raise DataError(f"{target.name}: the file is larger than {format_size(MAX_BYTES)}, the limit")
        return _stack_images([_decode(target.read_bytes(), target.name)], [None], None, [target.name], target.name,
                             target.name, raw)
    raise DataError(f"{target.name}: unsupported file type {suffix or '(none)'}; expected .npz, .npy, .zip, an image "
                    f"({', '.join(IMAGE_SUFFIXES)}) or a folder of images")
