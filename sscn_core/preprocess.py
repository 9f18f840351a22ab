"""One user image -> one model input: MNIST-like for digits, resized and scaled for photos.

MNIST digits are white ink on a black background, size-normalised to fit a 20×20 box (keeping the
aspect ratio, anti-aliased) and placed in a 28×28 field so that the centre of mass of the ink sits
in the middle. :func:`prepare_image` applies the same recipe to any picture a user brings (a phone
photo of a digit on paper, a drawing with a transparent background, a 16-bit scan...), in a field
of any size: the box keeps MNIST's proportion, 20 of 28 of the field's shorter side (:func:`digit_box`).
:func:`open_image_safely` is the one door through which untrusted bytes become a PIL image: it
refuses empty, oversized, decompression-bomb, corrupt and non-image files with plain messages.
"""
from __future__ import annotations

import io
import re
import struct
import threading
import warnings
import zlib
from os import PathLike
from pathlib import Path
from typing import IO, Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic import file_kind

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Below this much contrast between the darkest/lightest pixel and the background there is no ink.
MIN_INK = 0.04
# Pixels at least this fraction of the strongest ink define the bounding box of the drawing.
BBOX_THRESHOLD = 0.1
# Fainter residue than this fraction of the strongest ink is set to zero (MNIST's background is 0).
NOISE_FLOOR = 0.05
# MNIST's field and the box its ink is fitted into: digit-style inputs of other shapes keep the proportion.
DIGIT_SHAPE = (28, 28)
DIGIT_BOX = 20
# A digit-style field smaller than MNIST's is drawn finer, then averaged down; the finer field has at most this
# many pixels (a 1×1000 field is drawn 28×28000).
FINE_PIXELS = 1_000_000
# Photo-style pictures are centre-cropped to the inputs' proportions: one more than MAX_PHOTO_STRETCH times
# wider or taller than them would lose most of itself (a 1×1000 strip kept one pixel), and one whose cropped
# part is narrower than MIN_PHOTO_SIDE pixels (or than the inputs, when they are smaller) would be stretched
# from a handful of values. Both are refused rather than trained on.
MAX_PHOTO_STRETCH = 4
MIN_PHOTO_SIDE = 4

ImageSource = Union[bytes, bytearray, memoryview, str, PathLike, IO[bytes]]

# Errors PIL raises for damaged files besides OSError (which covers UnidentifiedImageError); TIFF tags
# that are missing or of the wrong type raise KeyError and TypeError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error,
                  zlib.error)
# ``warnings.catch_warnings`` edits process-wide state; serialise our use of it.
_WARNINGS_LOCK = threading.Lock()


class ImageError(ValueError):
    """An image could not be used: not an image, too big, corrupt, or blank."""


def _format_bytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


def _read_bytes(data: ImageSource, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` from bytes, a path or a binary file object."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    elif isinstance(data, (str, PathLike)):
        path = Path(data)
        if not path.is_file():
            raise ImageError("no such file" if not path.exists() else f"{file_kind(path.stat().st_mode)}, not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageError(f"the file is {_format_bytes(size)}; the limit is {_format_bytes(max_bytes)}")
        raw = path.read_bytes()
    elif hasattr(data, "read"):
        raw = data.read(max_bytes + 1)
        if not isinstance(raw, (bytes, bytearray)):
            raise ImageError(f"expected a binary file object, got one that returns {type(raw).__name__}")
        raw = bytes(raw)
    else:
        raise ImageError(f"expected image bytes, a path or a binary file object, got {type(data).__name__}")
    if not raw:
        raise ImageError("the file is empty")
    if len(raw) > max_bytes:
        raise ImageError(f"the file is larger than {_format_bytes(max_bytes)}, the limit")
    return raw


def probe_size(raw: bytes) -> tuple[int, int] | None:
    """Width and height from the header alone (nothing decoded, PIL's bomb check bypassed); None
    when no format PIL knows reads the header."""
    Image.init()
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        try:
            # Some format checks unpack bytes without a length check (struct.error below 4 bytes).
            if accept is not None and not accept(raw[:16]):
                continue
            return factory(io.BytesIO(raw), "").size
        except (*_DECODE_ERRORS, Image.DecompressionBombError):   # a plugin may check the size itself
            continue
    return None


def _too_many_pixels(width: int, height: int, max_pixels: int) -> ImageError:
    return ImageError(f"image is {width}×{height} pixels; the limit is {max_pixels:,} pixels "
                      f"({max_pixels / 1e6:g} megapixels)")


def open_image_safely(data: ImageSource, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open untrusted image data and decode it fully, or raise :class:`ImageError`.

    ``data`` is bytes, a path or a binary file object (such as a Streamlit upload). Refuses files
    that are empty or larger than ``max_bytes``, images whose header claims more than ``max_pixels``
    pixels (decompression bombs are refused before any pixel is decoded), truncated or corrupt
    files, and anything PIL cannot read. An animated image yields its first frame.
    """
    raw = _read_bytes(data, max_bytes)
    try:
        with _WARNINGS_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(raw))
    except UnidentifiedImageError:
        raise ImageError("this file is not an image PIL can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        size = probe_size(raw)
        if size is not None:
            raise _too_many_pixels(size[0], size[1], max_pixels) from None
        found = re.search(r"\((\d+) pixels\)", str(exc))
        what = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageError(f"image has {what}; the limit is {max_pixels:,} pixels") from None
    except _DECODE_ERRORS as exc:
        raise ImageError(f"the image could not be read ({exc})") from None
    width, height = img.size
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels)
    if width == 0 or height == 0:
        raise ImageError(f"image is {width}×{height} pixels; it has no pixels")
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(width, height, max_pixels) from None
    except _DECODE_ERRORS as exc:
        raise ImageError(f"the image is truncated or corrupt ({exc})") from None
    return img


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _to_luminance(img: Image.Image) -> np.ndarray:
    """Grayscale float array in [0, 1] (1 = white), transparent parts composited onto white."""
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ImageError("the image contains non-finite values")
        if mode.startswith("I;16") or (mode == "I" and arr.max() > 255):
            return np.clip(arr / 65535.0, 0.0, 1.0)
        top = arr.max()
        if arr.min() >= 0 and top <= 1.0:
            return arr
        if arr.min() >= 0 and top <= 255:
            return arr / 255.0
        low = arr.min()
        return (arr - low) / (top - low) if top > low else np.zeros_like(arr)
    if _has_alpha(img):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0
        alpha = rgba[..., 3:4]
        rgb = rgba[..., :3] * alpha + (1.0 - alpha)
        return rgb @ np.array([0.299, 0.587, 0.114])
    if mode not in ("1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr"):
        img = img.convert("RGB")
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def _border(arr: np.ndarray) -> np.ndarray:
    """The pixels of the outer ring (about 5% of the shorter side, at least one pixel)."""
    h, w = arr.shape
    t = max(1, min(h, w) // 20)
    if 2 * t >= h or 2 * t >= w:
        return arr.ravel()
    return np.concatenate([arr[:t].ravel(), arr[-t:].ravel(), arr[t:-t, :t].ravel(), arr[t:-t, -t:].ravel()])


def _as_pil(img: Image.Image | np.ndarray | ImageSource) -> Image.Image:
    if isinstance(img, Image.Image):
        return img
    if isinstance(img, np.ndarray):
        arr = img
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
            raise ImageError(f"expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {arr.shape}")
        if arr.size == 0:
            raise ImageError(f"the array is empty (shape {arr.shape})")
        if arr.dtype != np.uint8:
            arr = np.asarray(arr, dtype=np.float64)
            if not np.isfinite(arr).all():
                raise ImageError("the array contains NaN or infinite values")
            scale = 1.0 if arr.max() > 1.0 else 255.0
            arr = np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        return Image.fromarray(np.ascontiguousarray(arr))
    return open_image_safely(img)


def digit_box(shape: tuple[int, int]) -> int:
    """The side of the square digit-style ink is fitted into, in a field of ``shape``.

    Parameters
    ----------
    shape : (int, int)
        (height, width) of the field.

    Returns
    -------
    int
        MNIST's proportion, 20 of 28 of the shorter side, rounded, and at least 1 pixel: 20 in
        MNIST's 28×28, 11 in 16×16, 6 in 8×8.
    """
    return max(1, round(min(int(v) for v in shape) * DIGIT_BOX / DIGIT_SHAPE[0]))


def prepare_image(img: Image.Image | np.ndarray | ImageSource, *, size: int | tuple[int, int] = DIGIT_SHAPE,
                  box: int | None = None) -> np.ndarray:
    """Turn a picture of a digit (or any drawing) into an MNIST-like float32 array.

    Steps: apply the EXIF orientation; composite transparency onto white; convert to grayscale;
    make the ink bright on black (inverting when the border is light, and subtracting the
    background level); crop to the ink's bounding box; scale (LANCZOS) to fit ``box``×``box``
    keeping the aspect ratio; paste into the field so that the ink's centre of mass is at the
    centre. Values are in [0, 1] with the strongest ink at 1. A field smaller than MNIST's 28
    pixels a side is drawn at the smallest whole multiple of it that is at least 28 pixels a side,
    then averaged down (as a small digit set is made by shrinking a larger one), so that the ink is
    fitted and centred to a fraction of a pixel.

    Parameters
    ----------
    img : PIL image, array or image source
        A PIL image, a 2-D/3-D uint8 or float array, bytes, a path or a binary file (anything but
        a PIL image or array goes through :func:`open_image_safely`).
    size : int or (int, int)
        The field: ``size``×``size``, or (height, width); any size of at least one pixel.
    box : int, optional
        The side of the square the ink is fitted into, at most the field's shorter side; by
        default MNIST's proportion of the field (:func:`digit_box`: 20 in 28×28, 11 in 16×16).

    Returns
    -------
    numpy.ndarray
        The field, float32 of shape (height, width).

    Raises
    ------
    ImageError
        For unreadable images and for blank ones ("no ink found").
    """
    field = (size, size) if isinstance(size, int) else tuple(size)
    if not (len(field) == 2 and all(isinstance(v, int) and v >= 1 for v in field)):
        raise ImageError(f"expected the field as a positive integer or (height, width) of them, got size={size!r}")
    height, width = field
    if box is None:
        box = digit_box(field)
    if not (isinstance(box, int) and 1 <= box <= min(field)):
        raise ImageError(f"expected an integer box of 1 to {min(field)} pixels (the field's shorter side), got "
                         f"box={box!r} for a {height}×{width} field")
    pil = _as_pil(img)
    try:
        pil = ImageOps.exif_transpose(pil)
        lum = _to_luminance(pil)
    except _DECODE_ERRORS as exc:
        raise ImageError(f"the image could not be converted ({exc})") from None
    background = float(np.median(_border(lum)))
    ink = (1.0 - lum) if background > 0.5 else lum
    ink = ink - float(np.median(_border(ink)))
    peak = float(ink.max())
    if peak < MIN_INK:
        raise ImageError("no ink found: the image is blank (a single colour)")
    ink = np.clip(ink / peak, 0.0, 1.0)
    ink[ink < NOISE_FLOOR] = 0.0
    rows = np.flatnonzero((ink >= BBOX_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink >= BBOX_THRESHOLD).any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    # In a field smaller than MNIST's, the recipe runs at a whole multiple of the field that is at least
    # MNIST's size (within FINE_PIXELS), and the result is averaged down: fitted and centred pixel by pixel
    # in an 8×8 field, a drawing would move and thicken by whole pixels (a quarter of its width).
    fine = max(1, min(-(-DIGIT_SHAPE[0] // min(height, width)), int((FINE_PIXELS / (height * width)) ** 0.5)))
    out = _fit_and_centre(crop, (height * fine, width * fine), box * fine)
    if fine > 1:
        out = out.reshape(height, fine, width, fine).mean(axis=(1, 3))
        out /= out.max()
    return out.astype(np.float32)


def _fit_and_centre(crop: np.ndarray, field: tuple[int, int], box: int) -> np.ndarray:
    """The ink ``crop`` scaled (LANCZOS) to fit ``box``×``box`` keeping its aspect ratio, and placed in
    ``field`` with its centre of mass at the centre (as near as whole pixels and the field's edges
    allow); strongest ink 1."""
    height, width = field
    h, w = crop.shape
    scale = box / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = Image.fromarray(crop.astype(np.float32), mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS)
    patch = np.clip(np.asarray(resized, dtype=np.float64), 0.0, None)
    if patch.max() <= 0:
        raise ImageError("no ink found: the drawing vanished when scaled down")
    patch /= patch.max()
    total = patch.sum()
    cy = float((patch.sum(axis=1) * np.arange(new_h)).sum() / total)
    cx = float((patch.sum(axis=0) * np.arange(new_w)).sum() / total)
    # MNIST puts the centre of mass at pixel (14, 14) of 0..27, not 13.5: half the side.
    top = int(np.clip(round(height / 2.0 - cy), 0, height - new_h))
    left = int(np.clip(round(width / 2.0 - cx), 0, width - new_w))
    out = np.zeros((height, width), dtype=np.float64)
    out[top:top + new_h, left:left + new_w] = patch
    return out


# A picture is digit-like (strokes drawn on a plain background) when, measured against its
# strongest contrast with the background (the "ink"): the border is plain (its spread below
# DIGIT_BORDER_SPREAD of the ink), at most DIGIT_INK_SHARE of the pixels carry ink (above
# DIGIT_CONTRAST of the strongest), and most of the drawing is solid strokes (at least
# DIGIT_SOLID_SHARE of the pixels above a tenth of the ink reach half of it). Faces and photos
# have textured borders and soft shading; objects fill the frame or are shaded. All three are
# relative to the ink, so a dark face is not mistaken for a faint drawing.
DIGIT_BORDER_SPREAD = 0.1
DIGIT_INK_SHARE = 0.35
DIGIT_CONTRAST = 0.25
DIGIT_SOLID_SHARE = 0.5
PHOTO_SIDE = 32          # photos larger than MAX_PHOTO_SIDE are cropped to a square and resized to this side
MAX_PHOTO_SIDE = 64
STYLES = {"digit": "digit-style: ink made bright on black, cropped, fitted into a square of 20/28 of the shorter side "
                   "and centred by mass (as MNIST: 20×20 in 28×28)",
          "photo": "photo-style: grey levels in [0, 1], resized (centre crop to the target's aspect) — no inversion, "
                   "no centring"}


def grey_levels(img: Image.Image | np.ndarray | ImageSource) -> np.ndarray:
    """The picture as grey levels in [0, 1] (EXIF orientation applied, transparency onto white)."""
    pil = _as_pil(img)
    try:
        return _to_luminance(ImageOps.exif_transpose(pil)).astype(np.float32)
    except _DECODE_ERRORS as exc:
        raise ImageError(f"the image could not be converted ({exc})") from None


def is_digit_like(grey: np.ndarray) -> bool:
    """Strokes on a plain background (a digit, a sketch) rather than a face, an object or a photo."""
    border = _border(grey)
    background = float(np.median(border))
    contrast = np.abs(grey - background)
    peak = float(contrast.max())
    if peak < MIN_INK:
        return False                      # a blank picture is no drawing
    relative = contrast / peak
    drawn = relative[relative > 0.1]
    return (float(np.std(border)) / peak <= DIGIT_BORDER_SPREAD
            and float((relative > DIGIT_CONTRAST).mean()) <= DIGIT_INK_SHARE
            and float((drawn > 0.5).mean()) >= DIGIT_SOLID_SHARE)


def style_of(pictures: Any, sample: int = 500) -> str:
    """"digit" when most of the pictures (grey arrays; at most ``sample`` of them, evenly spread) are
    digit-like (:func:`is_digit_like`), else "photo": the one rule for a set of images, used when a
    folder is read and when a model records how its new inputs are to be prepared."""
    step = max(1, len(pictures) // sample)
    votes = [is_digit_like(np.asarray(p, dtype=np.float64)) for p in pictures[::step]]
    return "digit" if sum(votes) * 2 > len(votes) else "photo"


def photo_shape(shapes: list[tuple[int, int]]) -> tuple[int, int]:
    """The common input shape for a set of photos: their own when they share one of at most
    MAX_PHOTO_SIDE pixels a side, else PHOTO_SIDE × PHOTO_SIDE."""
    if len(set(shapes)) == 1 and max(shapes[0]) <= MAX_PHOTO_SIDE:
        return shapes[0]
    return PHOTO_SIDE, PHOTO_SIDE


def prepare_photo(grey: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A face or object photo (grey levels in [0, 1]) as a ``shape`` float32 input.

    Centre-cropped to the target's aspect ratio and resized (LANCZOS); brightness kept as it is
    (light is the signal that puts faces on their subspaces; a very dark face, as Yale B has some
    three grey levels deep, is kept).

    Parameters
    ----------
    grey : numpy.ndarray
        The picture's grey levels, (height, width) in [0, 1].
    shape : (int, int)
        (height, width) of the inputs.

    Returns
    -------
    numpy.ndarray
        float32 of shape ``shape``.

    Raises
    ------
    ImageError
        A picture that carries nothing once prepared: one of a single grey level; one more than
        MAX_PHOTO_STRETCH times wider or taller than the inputs' proportions (the crop would throw
        most of it away); one whose cropped part has a side under MIN_PHOTO_SIDE pixels (or under
        the inputs' side, when that is smaller); one whose centre, once cropped, is a single grey level.
    """
    if float(grey.max()) == float(grey.min()):
        raise ImageError("no ink found: the image is blank (a single colour)")
    h, w = grey.shape
    th, tw = (int(v) for v in shape)
    size = f"the image is {w} pixel{'s' * (w != 1)} wide and {h} high"
    inputs = f"photo-style inputs of {th}×{tw} (height×width)"
    stretch = (w * th) / (h * tw)          # above 1: wider than the inputs' proportions
    if max(stretch, 1 / stretch) > MAX_PHOTO_STRETCH:
        kept = (f"{max(1, round(h * tw / th))} of its {w} columns" if stretch > 1
                else f"{max(1, round(w * th / tw))} of its {h} rows")
        raise ImageError(f"{size}: cropping it to the proportions of {inputs} would keep {kept}; an image more "
                         f"than {MAX_PHOTO_STRETCH} times wider or taller than the inputs is refused (crop it "
                         f"closer to {th}×{tw} first)")
    if stretch > 1:                        # too wide: crop columns
        keep = max(1, round(h * tw / th))
        left = (w - keep) // 2
        grey = grey[:, left:left + keep]
    elif stretch < 1:                      # too tall: crop rows
        keep = max(1, round(w * th / tw))
        top = (h - keep) // 2
        grey = grey[top:top + keep]
    need = (min(MIN_PHOTO_SIDE, th), min(MIN_PHOTO_SIDE, tw))
    if grey.shape[0] < need[0] or grey.shape[1] < need[1]:
        raise ImageError(f"{size}: too small for {inputs}, which need at least {need[0]}×{need[1]} of its pixels "
                         f"(height×width) once cropped to their proportions")
    if grey.shape != (th, tw):
        grey = np.asarray(Image.fromarray(grey.astype(np.float32), mode="F").resize((tw, th), Image.Resampling.LANCZOS))
    out = np.clip(grey, 0.0, 1.0).astype(np.float32)
    if float(out.max()) == float(out.min()):
        raise ImageError(f"{size}: nothing is left once it is cropped to the proportions of {inputs} (its centre "
                         f"is a single grey level)")
    return out


def prepare_for(img: Image.Image | np.ndarray | ImageSource, style: str, shape: tuple[int, int]) -> np.ndarray:
    """One picture as the input of a model trained on ``style`` data of ``shape`` (see STYLES).

    Parameters
    ----------
    img : PIL image, array or image source
        The picture (anything :func:`prepare_image` reads).
    style : {"digit", "photo"}
        Digit-style: MNIST's recipe, the ink fitted into a square of MNIST's 20/28 of the shorter
        side (:func:`digit_box`); photo-style: :func:`prepare_photo`.
    shape : (int, int)
        (height, width) of the model's inputs.

    Returns
    -------
    numpy.ndarray
        float32 of shape ``shape``.
    """
    height, width = (int(v) for v in shape)
    if style == "digit":
        return prepare_image(img, size=(height, width))
    if style == "photo":
        return prepare_photo(grey_levels(img), (height, width))
    raise ImageError(f"unknown preprocessing style {style!r}; expected one of {', '.join(STYLES)}")


def input_style(model: Any) -> tuple[str, tuple[int, int]]:
    """How a new picture becomes an input of a fitted ``SSCN``: (style, (height, width)).

    The style its training images had (the plan's "input_style", found by :func:`style_of`), at
    the plan's image shape; models saved before the plan: digit-style at 28×28, else photo-style.
    Raises ImageError for a model fitted on vectors that are not images.
    """
    n = int(model.n_features_in_)
    planned = model.params_.get("image_shape")
    shape = tuple(int(v) for v in planned) if planned else None
    if shape is None:
        side = int(round(n ** 0.5))
        if side * side != n:
            raise ImageError(f"this model was fitted on {n}-dimensional vectors, not images")
        shape = (side, side)
    style = getattr(model, "settings_", {}).get("input_style", {}).get("value")
    if style is None:
        style = "digit" if shape == DIGIT_SHAPE else "photo"
    return style, shape  # type: ignore[return-value]


def prepare_for_model(img: Image.Image | np.ndarray | ImageSource, model: Any) -> np.ndarray:
    """One picture as the input of a fitted ``SSCN``: prepared in the style and at the shape of its
    training images (:func:`input_style`, :func:`prepare_for`).

    The one door every front end classifies through (``sscn predict``, the app's Classify tab,
    ``viz.classify``), so that the three give one answer for one picture.

    Parameters
    ----------
    img : PIL image, array or image source
        The picture: a PIL image, an (H, W), (H, W, 3) or (H, W, 4) array, bytes, a path or a
        binary file (untrusted bytes go through :func:`open_image_safely`); grey or colour, any size.
    model : SSCN
        A fitted model.

    Returns
    -------
    numpy.ndarray
        The prepared image, float32 of the model's (height, width); ``.reshape(1, -1)`` is its row.

    Raises
    ------
    ImageError
        The picture cannot be read or is blank, or the model was fitted on vectors, not images.
    """
    style, shape = input_style(model)
    return prepare_for(img, style, shape)
