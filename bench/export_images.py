"""Write a bundled image set as a folder of PNG files, one sub-folder per class: what a user brings.

``python -m bench.export_images --dataset yaleb --out /tmp/yaleb-png`` writes Extended Yale B as
38 folders of 8-bit grey PNGs, so that ``sscn train --data /tmp/yaleb-png --n-clusters 38`` (and
the app's upload of its zip) can be checked as a new user would run them.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def export(dataset: str, out: Path, *, zip_too: bool = False) -> Path:
    """Write ``dataset`` (a name ``load_dataset`` knows, with labels and an image shape) under ``out``."""
    from sscn_core import load_dataset

    data = load_dataset(dataset)
    if data.image_shape is None or data.y is None:
        raise ValueError(f"{dataset} has no image shape or no labels; only labelled image sets can be exported")
    names = data.class_names or tuple(str(c) for c in range(int(data.y.max()) + 1))
    out.mkdir(parents=True, exist_ok=True)
    for i, (row, label) in enumerate(zip(data.X, data.y)):
        folder = out / f"{int(label):02d}-{names[int(label)]}"
        folder.mkdir(exist_ok=True)
        pixels = np.round(np.clip(row.reshape(data.image_shape), 0.0, 1.0) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.png")
    if zip_too:
        import shutil

        return Path(shutil.make_archive(str(out), "zip", root_dir=out))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bench.export_images --dataset NAME --out FOLDER [--zip]``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="yaleb")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--zip", action="store_true", help="also write FOLDER.zip (for the app's upload)")
    args = p.parse_args(argv)
    print(export(args.dataset, args.out, zip_too=args.zip))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
