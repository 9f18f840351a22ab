"""What the label-free choices by the spectrum do, set by set: ``python -m bench.rules``.

For each check set, SSCN is fitted with its defaults (seed 0; the plan's rules, α chosen by the
spectral ratio μ_{K+1}/μ_K, :func:`sscn_core.postprocess.well_clustered_ratio`); then the same
learned Q = H Hᵀ is post-processed once with each candidate power (``sscn_core.plan.ALPHA_CANDIDATES``),
with the fit's own q, ρ, variant, restarts and seed, and each partition is scored. Labels score only:
the table shows which power the rule took, what each power would have given, and the best in
hindsight — so a reader sees where the rule helps and where it costs, on more kinds of data than
the four of ``bench.standard``. The same for the self-expression weight: the defaults (λ1 + λ2 set
from the features' spectrum, ``sscn_core.theory.half_weight_lambda``) beside a fit with
``lambda_scale=1`` (the paper's weights), everything else equal.

Check sets (all built here, no download): Extended Yale B (2,414 faces of 38 people), the same with
10 and with 20 faces per person (seeded subsets: few faces per person, as in ORL), scikit-learn's
digits, 3,000 MNIST test digits and 3,000 Fashion-MNIST test images (seeded samples), and *turning
objects*: 20 Fashion-MNIST test images (the first two of each class) each rotated in 72 steps of 5°
on a 32×32 canvas, a COIL-like set of 1,440 views (objects on a turntable). The rule was fixed
before this table was made; none of these numbers chose it.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .common import RESULTS_DIR, log, result_header, run_isolated, write_json

MODULE = "bench.rules"
SAMPLE = 3000
CHECK_SETS = ("yaleb", "yaleb-10", "yaleb-20", "digits", "mnist-3k", "fashion-3k", "turning-objects")


def per_class(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` points of every class (all of a smaller class), drawn with ``seed``, sorted."""
    rng = np.random.default_rng(seed)
    keep = [rng.choice(np.flatnonzero(y == c), min(n, int((y == c).sum())), replace=False) for c in np.unique(y)]
    return np.sort(np.concatenate(keep))


def turning_objects(images: np.ndarray, labels: np.ndarray, per_class_objects: int = 2, step_deg: int = 5,
                    side: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Views of objects on a turntable: the first ``per_class_objects`` images of each class, each
    rotated in steps of ``step_deg`` degrees on a ``side``×``side`` canvas; one cluster per object."""
    from scipy.ndimage import rotate

    views, owner = [], []
    objects = [images[np.flatnonzero(labels == c)[j]] for c in np.unique(labels) for j in range(per_class_objects)]
    for i, image in enumerate(objects):
        pad = (side - image.shape[0]) // 2
        canvas = np.pad(image.astype(np.float32), ((pad, side - image.shape[0] - pad),
                                                   (pad, side - image.shape[1] - pad)))
        for angle in range(0, 360, step_deg):
            views.append(np.clip(rotate(canvas, angle, reshape=False, order=1), 0.0, None))
            owner.append(i)
    return np.stack(views), np.asarray(owner)


def check_set(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) in [0, 1] and labels of one check set."""
    from sscn_core import load_dataset

    def images(ds: Any) -> np.ndarray:
        x = np.asarray(ds.X, dtype=np.float32)
        x = x / 255.0 if x.max() > 1.5 else x
        shape = ds.image_shape or (int(round(x.shape[1] ** 0.5)),) * 2
        return x.reshape(len(x), *shape)

    if name.startswith("yaleb"):
        ds = load_dataset("yaleb")
        x, y = images(ds), np.asarray(ds.y)
        if name != "yaleb":
            keep = per_class(y, int(name.split("-")[1]))
            x, y = x[keep], y[keep]
        return x, y
    if name == "digits":
        ds = load_dataset("digits")
        return images(ds), np.asarray(ds.y)
    if name in ("mnist-3k", "fashion-3k"):
        ds = load_dataset("mnist" if name == "mnist-3k" else "fashion-mnist", n_samples=SAMPLE, seed=0,
                          **({} if name == "mnist-3k" else {"split": "test"}))
        return images(ds), np.asarray(ds.y)
    if name == "turning-objects":
        ds = load_dataset("fashion-mnist", split="test")
        return turning_objects(images(ds), np.asarray(ds.y))
    raise ValueError(f"unknown check set {name!r}; choose from {', '.join(CHECK_SETS)}")


def case(name: str, seed: int = 0) -> dict[str, Any]:
    """Fit the defaults on one check set; score the chosen power and every candidate on the same Q."""
    import warnings

    from sscn_core import SSCN
    from sscn_core.metrics import accuracy
    from sscn_core.plan import ALPHA_CANDIDATES
    from sscn_core.postprocess import spectral_pseudo_labels

    x, y = check_set(name)
    k = len(np.unique(y))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SSCN(n_clusters=k, seed=seed).fit(x)
    seconds = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = SSCN(n_clusters=k, seed=seed, lambda_scale=1.0).fit(x)
    q = model.affinity(x)
    p = model.params_
    scores = {}
    for alpha in ALPHA_CANDIDATES:
        labels = spectral_pseudo_labels(q, k, p["subspace_dim"], rho=model.rho, alpha=alpha, seed=seed,
                                        restarts=model.n_restarts, variant=model.postprocess)
        scores[alpha] = 100.0 * accuracy(y, labels)
    return {"set": name, "n": int(len(y)), "K": k, "q": int(p["subspace_dim"]), "frontend": p["frontend"],
            "chosen_alpha": float(p["alpha"]), "alpha_reason": model.settings_["alpha"]["reason"],
            "acc_by_alpha": {str(a): s for a, s in scores.items()},
            "pseudo_acc": 100.0 * accuracy(y, model.pseudo_labels_), "acc": 100.0 * accuracy(y, model.labels_),
            "chosen_lambda_scale": float(p["lambda_scale"]), "lambda_reason": model.settings_["lambda_scale"]["reason"],
            "acc_lambda_scale_1": 100.0 * accuracy(y, fixed.labels_), "frontend_lambda_scale_1": fixed.params_["frontend"],
            "alpha_lambda_scale_1": float(fixed.params_["alpha"]), "seconds": seconds}


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The table of the README: ACC of the pseudo-labels at each power, the rule's choice in bold."""
    from sscn_core.plan import ALPHA_CANDIDATES

    head = "| set | N | K | front-end | " + " | ".join(f"α = {a:g}" for a in ALPHA_CANDIDATES) + \
        " | chosen | chosen − α 8 | best − chosen |"
    lines = [head, "|" + "---|" * (7 + len(ALPHA_CANDIDATES))]
    for r in rows:
        acc = {float(a): s for a, s in r["acc_by_alpha"].items()}
        cells = [f"**{s:.2f}**" if a == r["chosen_alpha"] else f"{s:.2f}" for a, s in acc.items()]
        chosen = acc[r["chosen_alpha"]]
        lines.append(f"| {r['set']} | {r['n']:,} | {r['K']} | {r['frontend']} | " + " | ".join(cells) +
                     f" | {r['chosen_alpha']:g} | {chosen - acc[8.0]:+.2f} | {max(acc.values()) - chosen:+.2f} |")
    return "\n".join(lines)


def markdown_lambda(rows: Sequence[dict[str, Any]]) -> str:
    """The README's table of the weight rule: ACC with the rule's scale and with the paper's weights (1)."""
    lines = ["| set | N | K | scale (rule) | ACC, rule (front-end, α) | ACC, scale 1 (front-end, α) | rule − 1 |",
             "|" + "---|" * 7]
    for r in rows:
        lines.append(f"| {r['set']} | {r['n']:,} | {r['K']} | {r['chosen_lambda_scale']:.3g} | {r['acc']:.2f} "
                     f"({r['frontend']}, {r['chosen_alpha']:g}) | {r['acc_lambda_scale_1']:.2f} "
                     f"({r['frontend_lambda_scale_1']}, {r['alpha_lambda_scale_1']:g}) | "
                     f"{r['acc'] - r['acc_lambda_scale_1']:+.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(CHECK_SETS), help="comma-separated check sets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    parser.add_argument("--out", default=str(RESULTS_DIR / "rules.json"))
    args = parser.parse_args(argv)
    names = [s for s in args.sets.split(",") if s]
    unknown = sorted(set(names) - set(CHECK_SETS))
    if unknown:
        parser.error(f"unknown check set(s) {', '.join(unknown)}; choose from {', '.join(CHECK_SETS)}")
    rows = []
    for name in names:
        log(f"{name} / seed {args.seed}")
        outcome = run_isolated(f"{MODULE}:case", {"name": name, "seed": args.seed}, threads=args.threads)
        if outcome["status"] != "ok":
            log(f"  {outcome['status']}: {outcome.get('message', '')}")
            continue
        row = outcome["result"]
        rows.append(row)
        log(f"  α = {row['chosen_alpha']:g}; ACC by α {row['acc_by_alpha']} in {row['seconds']:.1f} s; "
            f"λ scale {row['chosen_lambda_scale']:.3g}: {row['acc']:.2f} (scale 1: {row['acc_lambda_scale_1']:.2f})")
    table = markdown(rows) + "\n\n" + markdown_lambda(rows)
    print(table)
    write_json(args.out, {**result_header("rules", MODULE, argv), "rows": rows, "markdown": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())
