"""preprocess: safe opening of untrusted images and MNIST-like preparation."""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sscn_core.data import load_dataset
from sscn_core.preprocess import ImageError, open_image_safely, prepare_image, probe_size


def png_bytes(img: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_with_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height pixels (1-bit grayscale)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def draw_one(mode: str = "RGB", size: tuple[int, int] = (120, 200), ink: object = "black",
             background: object = "white") -> Image.Image:
    """A thick slanted '1' with a flag, on a plain background."""
    img = Image.new(mode, size, background)
    d = ImageDraw.Draw(img)
    w, h = size
    d.line([(w * 0.55, h * 0.12), (w * 0.45, h * 0.88)], fill=ink, width=max(3, w // 10))
    d.line([(w * 0.55, h * 0.12), (w * 0.35, h * 0.3)], fill=ink, width=max(3, w // 14))
    return img


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    total = a.sum()
    return float((a.sum(axis=1) * np.arange(a.shape[0])).sum() / total), \
        float((a.sum(axis=0) * np.arange(a.shape[1])).sum() / total)


def check_mnist_like(a: np.ndarray) -> None:
    assert a.shape == (28, 28) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() == pytest.approx(1.0)
    cy, cx = centre_of_mass(a)
    assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0
    assert (a[:2] == 0).all() and (a[-2:] == 0).all() and (a[:, :2] == 0).all() and (a[:, -2:] == 0).all()
    rows = np.flatnonzero(a.any(axis=1))
    cols = np.flatnonzero(a.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # fits the 20×20 box (+1 for rounding)


# ---- open_image_safely ---------------------------------------------------------------------------------
def test_open_from_bytes_path_and_file_object(tmp_path: Path) -> None:
    data = png_bytes(draw_one())
    path = tmp_path / "one.png"
    path.write_bytes(data)
    for source in (data, path, str(path), io.BytesIO(data)):
        img = open_image_safely(source)
        assert img.size == (120, 200)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (np.random.default_rng(0).bytes(5000), "not an image PIL can read"),
    (b"%PDF-1.4 not an image at all", "not an image PIL can read"),
])
def test_refuses_non_images(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        open_image_safely(data)


@pytest.mark.parametrize("raw", [b"", b"\x89", b"BM", b"GIF", b"II*", b"\xff\xd8\xff"])
def test_probe_size_of_a_few_bytes_is_none(raw: bytes) -> None:
    # PIL's format checks unpack 4 bytes without a length check (struct.error on shorter input).
    assert probe_size(raw) is None


def test_refuses_truncated_png() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    data = png_bytes(Image.fromarray(noise))
    with pytest.raises(ImageError, match="truncated or corrupt"):
        open_image_safely(data[: len(data) // 2])


def test_refuses_oversized_file(tmp_path: Path) -> None:
    data = png_bytes(draw_one())
    with pytest.raises(ImageError, match="limit"):
        open_image_safely(data, max_bytes=100)
    path = tmp_path / "x.png"
    path.write_bytes(data)
    with pytest.raises(ImageError, match="limit"):
        open_image_safely(path, max_bytes=100)
    with pytest.raises(ImageError, match="limit"):
        open_image_safely(io.BytesIO(data), max_bytes=100)


@pytest.mark.parametrize("width, height", [(7000, 7000), (12000, 12000), (50000, 50000)])
def test_refuses_decompression_bombs_before_decoding(width: int, height: int) -> None:
    # 7000² passes PIL's own limit but not ours; 12000² trips PIL's warning; 50000² PIL's error.
    data = png_with_header(width, height) if width == 50000 else png_bytes(Image.new("1", (width, height)))
    assert len(data) < 100_000
    with pytest.raises(ImageError, match=f"image is {width}×{height} pixels; the limit is 40,000,000"):
        open_image_safely(data)


def test_pixel_limit_is_adjustable() -> None:
    data = png_bytes(Image.new("L", (100, 100)))
    assert open_image_safely(data, max_pixels=10_000).size == (100, 100)
    with pytest.raises(ImageError, match="100×100 pixels"):
        open_image_safely(data, max_pixels=9_999)


def test_missing_path_and_wrong_type(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        open_image_safely(tmp_path / "nope.png")
    with pytest.raises(ImageError, match=r"^a folder, not a regular file$"):
        open_image_safely(tmp_path)
    os.mkfifo(tmp_path / "pipe.png")        # opening a named pipe would wait for a writer forever
    with pytest.raises(ImageError, match=r"^a named pipe \(FIFO\), not a regular file$"):
        open_image_safely(tmp_path / "pipe.png")
    with pytest.raises(ImageError, match="expected image bytes"):
        open_image_safely(12345)  # type: ignore[arg-type]


def test_animated_gif_gives_first_frame() -> None:
    frames = [draw_one("L", ink=0, background=255), Image.new("L", (120, 200), 255)]
    data = png_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    img = open_image_safely(data)
    assert getattr(img, "n_frames", 1) == 2
    check_mnist_like(prepare_image(img))  # frame 0 has ink; frame 1 would be blank


# ---- prepare_image -------------------------------------------------------------------------------------
def test_black_on_white_rgb_is_inverted_and_centred() -> None:
    a = prepare_image(draw_one())
    check_mnist_like(a)


def test_white_on_black_is_kept() -> None:
    dark = prepare_image(draw_one("L", ink=255, background=0))
    light = prepare_image(draw_one("L", ink=0, background=255))
    check_mnist_like(dark)
    np.testing.assert_allclose(dark, light, atol=1e-5)  # same drawing, either polarity


def test_grey_paper_background_is_removed() -> None:
    a = prepare_image(draw_one("L", ink=40, background=200))
    check_mnist_like(a)
    assert (a[:3] == 0).all()


def test_rgba_with_transparent_background() -> None:
    img = draw_one("RGBA", ink=(0, 0, 0, 255), background=(0, 0, 0, 0))  # black ink on transparent black
    a = prepare_image(img)
    check_mnist_like(a)
    np.testing.assert_allclose(a, prepare_image(draw_one()), atol=0.05)


def test_palette_la_cmyk_and_bilevel_images() -> None:
    reference = prepare_image(draw_one())
    for img in (draw_one().convert("P"), draw_one().convert("LA"), draw_one().convert("CMYK"),
                draw_one().convert("1")):
        a = prepare_image(img)
        check_mnist_like(a)
        assert np.corrcoef(a.ravel(), reference.ravel())[0, 1] > 0.9, img.mode


def test_sixteen_bit_png_round_trip() -> None:
    arr = (np.asarray(draw_one("L"), dtype=np.uint16) * 257).astype(np.uint16)  # 0..65535
    data = png_bytes(Image.fromarray(arr))
    img = open_image_safely(data)
    assert img.mode.startswith("I")
    a = prepare_image(img)
    check_mnist_like(a)
    assert np.corrcoef(a.ravel(), prepare_image(draw_one()).ravel())[0, 1] > 0.95


def test_float_mode_and_numpy_arrays() -> None:
    lum = np.asarray(draw_one("L"), dtype=np.float32) / 255.0
    check_mnist_like(prepare_image(Image.fromarray(lum, mode="F")))
    check_mnist_like(prepare_image(lum))
    check_mnist_like(prepare_image(np.asarray(draw_one("RGBA"))))
    with pytest.raises(ImageError, match="shape"):
        prepare_image(np.zeros((4, 4, 2)))


def test_exif_orientation_is_applied() -> None:
    img = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(img).line([(20, 50), (180, 50)], fill=0, width=15)  # a horizontal bar
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = png_bytes(img, "JPEG", exif=exif.tobytes())
    a = prepare_image(data)
    rows = np.flatnonzero(a.any(axis=1))
    cols = np.flatnonzero(a.any(axis=0))
    assert rows[-1] - rows[0] > cols[-1] - cols[0]  # shown upright: a vertical bar


def test_wide_drawing_keeps_its_aspect_ratio() -> None:
    img = Image.new("L", (400, 100), 0)
    ImageDraw.Draw(img).rectangle([(20, 30), (380, 70)], fill=255)  # 361 × 41
    ink = prepare_image(img) > 0.5
    width = np.ptp(np.flatnonzero(ink.any(axis=0))) + 1
    height = np.ptp(np.flatnonzero(ink.any(axis=1))) + 1
    assert width == 20 and 1 <= height <= 4  # 361:41 scaled to 20 wide is about 2.3 high


@pytest.mark.parametrize("img", [Image.new("RGB", (50, 50), "white"), Image.new("L", (1, 1), 0),
                                 Image.new("RGBA", (40, 40), (0, 0, 0, 0))])
def test_blank_images_have_no_ink(img: Image.Image) -> None:
    with pytest.raises(ImageError, match="no ink found"):
        prepare_image(img)


def test_bytes_go_through_the_safe_opener() -> None:
    with pytest.raises(ImageError, match="not an image"):
        prepare_image(b"hello")
    check_mnist_like(prepare_image(png_bytes(draw_one())))


def test_mnist_digits_round_trip() -> None:
    """Real MNIST digits, inverted to black-on-white and upscaled to 100×100, come back close to the original."""
    data = load_dataset("mnist")
    digits = np.rint(data.X[:20].reshape(-1, 28, 28) * 255).astype(np.uint8)
    corr = []
    for digit in digits:
        big = Image.fromarray(255 - digit).convert("RGB").resize((100, 100), Image.Resampling.BICUBIC)
        out = prepare_image(png_bytes(big))
        corr.append(np.corrcoef(out.ravel(), digit.ravel())[0, 1])
    corr = np.array(corr)
    # MNIST placed each digit by a whole-pixel shift, so a thin stroke can land one pixel off.
    assert np.median(corr) > 0.9 and (corr > 0.8).mean() >= 0.85, corr.round(2)


# ------------------------------------------------------------------ which style a set of pictures gets
def _photo_crops() -> list[np.ndarray]:
    """64×64 grey crops of the two photographs scikit-learn ships (a temple, a flower)."""
    from sklearn.datasets import load_sample_images

    out = []
    for rgb in load_sample_images().images:
        grey = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float32) / 255.0
        out += [grey[i:i + 64, j:j + 64] for i in range(0, grey.shape[0] - 64, 80) for j in range(0, grey.shape[1] - 64, 90)]
    return out


def _objects() -> list[np.ndarray]:
    """Objects on a turntable in front of a black cloth, as COIL-20 photographs them: each fills a good
    part of the frame, lit from one side (Lambertian shading) with a printed texture."""
    yy, xx = np.mgrid[-1:1:32j, -1:1:32j]
    rng = np.random.default_rng(0)
    out = []
    for angle in np.linspace(0, np.pi, 12):
        c, s = np.cos(angle), np.sin(angle)
        u, v = c * xx + s * yy, -s * xx + c * yy
        texture = 0.8 + 0.2 * np.sin(9 * u) * np.cos(7 * v) + 0.03 * rng.standard_normal(u.shape)
        body = np.clip(1 - (u / 0.9) ** 2 - (v / 0.7) ** 2, 0, None)
        out.append(np.sqrt(body) * (0.55 + 0.45 * xx) * texture)                       # a lit bottle
        box = ((np.abs(u) < 0.75) & (np.abs(v) < 0.6)) * (0.25 + 0.45 * (v + 0.6)) * texture
        out.append(np.clip(box, 0, 1))                                                   # a shaded box
        r = np.hypot(u, v * 1.2)
        cup = np.clip(1 - np.abs(r - 0.5) / 0.35, 0, 1) ** 0.5 * (0.4 + 0.4 * np.cos(np.arctan2(v, u)))
        out.append(np.clip(cup * texture, 0, 1))                                         # a cup from above
    return out


def test_the_style_detector_on_faces_objects_digits_and_photos() -> None:
    from sscn_core import load_dataset
    from sscn_core.preprocess import is_digit_like

    faces = load_dataset("yaleb").X.reshape(-1, 32, 32)
    dark = faces[faces.reshape(len(faces), -1).mean(axis=1) < 0.1]          # faces in the dark, still faces
    digits = load_dataset("mnist").X[:1000].reshape(-1, 28, 28)
    share = {name: float(np.mean([is_digit_like(a) for a in arrays]))
             for name, arrays in (("faces", faces), ("dark faces", dark), ("objects", _objects()),
                                  ("photos", _photo_crops()), ("digits", digits))}
    assert len(dark) > 50
    assert share["faces"] < 0.02 and share["dark faces"] < 0.02 and share["photos"] < 0.05, share
    assert share["objects"] < 0.2, share
    assert share["digits"] > 0.98, share


def test_a_folder_of_dark_faces_is_read_as_photos(tmp_path: Path) -> None:
    """Extended Yale B's darkest faces were refused as blank drawings ("no ink found")."""
    from sscn_core import load_dataset

    faces = load_dataset("yaleb")
    dark = np.argsort(faces.X.mean(axis=1))[:20]
    for i in dark:
        Image.fromarray(np.round(faces.X[i].reshape(32, 32) * 255).astype(np.uint8)).save(tmp_path / f"{i}.png")
    data = load_dataset("file", path=tmp_path)
    assert data.preprocessing.startswith("photo-style") and data.image_shape == (32, 32) and len(data) == 20


# ------------------------------------------------------------------ digit-style at any size (issue 33)
@pytest.mark.parametrize("shape", [(8, 8), (12, 12), (16, 16), (19, 19), (12, 9), (6, 30), (3, 3)])
def test_digit_style_fits_mnist_proportion_in_any_small_field(shape: tuple[int, int]) -> None:
    """Fields smaller than MNIST's 20-pixel box were refused ("expected integers 1 <= box <= size"):
    the default box now keeps MNIST's 20 of 28 of the shorter side, in prepare_image and prepare_for alike."""
    height, width = shape
    out = prepare_image(draw_one(), size=shape)
    from sscn_core.preprocess import digit_box, prepare_for

    assert out.shape == shape and out.dtype == np.float32 and out.max() == pytest.approx(1.0)
    box = digit_box(shape)
    assert box == max(1, round(min(shape) * 20 / 28)) and 1 <= box <= min(shape)
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= box + 2       # LANCZOS may spill a pixel a side
    cy, cx = centre_of_mass(out)
    assert abs(cy - height / 2) <= 1.0 and abs(cx - width / 2) <= 1.0
    np.testing.assert_array_equal(prepare_for(draw_one(), "digit", shape), out)


def test_prepare_image_refuses_a_bad_field_or_box_in_one_line() -> None:
    for size, box in (((0, 28), None), ((28, 28.0), None), (16, 17), (16, 0)):
        with pytest.raises(ImageError) as info:
            prepare_image(draw_one(), size=size, box=box)   # type: ignore[arg-type]
        assert "\n" not in str(info.value)


# ------------------------------------------------------------------ photo-style: degenerate pictures (issue 33)
@pytest.mark.parametrize("picture, shape, said", [
    ((1, 1000), (32, 32), "1000 pixels wide and 1 high: cropping it to the proportions of photo-style inputs of "
                          "32×32 (height×width) would keep 1 of its 1000 columns"),
    ((1000, 1), (32, 32), "1 pixel wide and 1000 high: cropping it to the proportions of photo-style inputs of "
                          "32×32 (height×width) would keep 1 of its 1000 rows"),
    ((30, 200), (32, 32), "200 pixels wide and 30 high"),
    ((48, 42), (10, 60), "would keep 7 of its 48 rows"),
    ((3, 3), (32, 32), "too small for photo-style inputs of 32×32 (height×width), which need at least 4×4"),
    ((2, 7), (16, 48), "too small"),
])
def test_a_photo_that_would_lose_most_of_itself_is_refused(picture: tuple[int, int], shape: tuple[int, int],
                                                           said: str) -> None:
    """A 1×1000 strip was centre-cropped to one pixel: a constant input, trained on without a word."""
    from sscn_core.preprocess import MAX_PHOTO_STRETCH, prepare_photo

    grey = np.random.default_rng(0).random(picture)
    with pytest.raises(ImageError) as info:
        prepare_photo(grey, shape)
    message = str(info.value)
    assert said in message and "\n" not in message
    if "would keep" in message:
        assert f"more than {MAX_PHOTO_STRETCH} times wider or taller than the inputs is refused" in message


@pytest.mark.parametrize("picture, shape", [((30, 120), (32, 32)), ((120, 30), (32, 32)), ((4, 4), (32, 32)),
                                            ((1, 50), (1, 50)), ((2, 3), (2, 3)), ((48, 42), (32, 32))])
def test_photos_within_the_limits_keep_their_content(picture: tuple[int, int], shape: tuple[int, int]) -> None:
    from sscn_core.preprocess import prepare_photo

    out = prepare_photo(np.random.default_rng(1).random(picture), shape)
    assert out.shape == shape and out.std() > 0.05


def test_a_photo_whose_kept_centre_is_plain_is_refused() -> None:
    from sscn_core.preprocess import prepare_photo

    grey = np.full((40, 120), 0.5)
    grey[:, :30] = np.random.default_rng(2).random((40, 30))     # all its detail lies outside the centre square
    with pytest.raises(ImageError, match=r"^the image is 120 pixels wide and 40 high: nothing is left once it is "
                                         r"cropped .* \(its centre is a single grey level\)$"):
        prepare_photo(grey, (32, 32))
