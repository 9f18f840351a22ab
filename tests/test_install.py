"""A normal install (``pip install .``, not editable) ships every module and every bundled file the code loads."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sscn_core", "app")

# Run from another folder with only the installed copy on the path: no module or file of the checkout is seen.
CHECK = textwrap.dedent("""
    import json, sys, warnings
    from pathlib import Path

    import torch

    torch.set_num_threads(1)
    import sscn_core
    from sscn_core import SSCN, load_dataset
    from sscn_core.params import PRETRAINED
    from sscn_core.pretraining import ASSETS_DIR

    faces = load_dataset("yaleb")
    digits = load_dataset("mnist", n_samples=40, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a one-epoch fit is warned about
        model = SSCN.from_preset("paper", n_clusters=2, epochs=1, classifier_epochs=1, device="cpu").fit(digits.X)
    print(json.dumps({"package": sscn_core.__file__, "assets": str(ASSETS_DIR), "faces": len(faces),
                      "face_shape": faces.image_shape, "weights": model.settings_["pretrained"]["value"],
                      "weights_file": (ASSETS_DIR / PRETRAINED["mnist"]).is_file(), "labels": len(model.labels_)}))
""")


def _sources(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for package in PACKAGES for p in (root / package).rglob("*.py")
            if "__pycache__" not in p.parts}


@pytest.mark.slow   # a build and an install (~10 s), then a fit in a fresh interpreter (~10 s on a busy 2-core machine)
@pytest.mark.timeout(300)
def test_a_normal_install_ships_the_code_and_the_bundled_files(tmp_path: Path) -> None:
    source = tmp_path / "source"   # a copy: the build writes build/ and *.egg-info next to pyproject.toml
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy2(ROOT / name, source / name)
    for name in (*PACKAGES, "assets"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    target, elsewhere = tmp_path / "installed", tmp_path / "elsewhere"
    elsewhere.mkdir()
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") is not None else []
    build = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", *isolation, "--quiet",
                            "--target", str(target), str(source)], capture_output=True, text=True, timeout=240)
    assert build.returncode == 0, build.stderr[-3000:]

    missing = _sources(ROOT) - _sources(target)
    assert not missing, f"modules left out of the install: {sorted(missing)}"
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "SSCN_ASSETS_DIR")}
    env["PYTHONPATH"] = str(target)
    run = subprocess.run([sys.executable, "-c", CHECK], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(out["package"]).is_relative_to(target) and Path(out["assets"]).is_relative_to(target)
    assert out["faces"] == 2414 and out["face_shape"] == [32, 32]
    assert out["weights"] == "mnist" and out["weights_file"] and out["labels"] == 40
