"""What each option beyond the paper changes: ``python -m bench.ablation [--quick] [--seeds N]``.

Two studies on MNIST (trained on the 10k test set), each run in this process (accuracy, not memory):

* ``scattering``: the scattering features (J = 3, PCA-500, unit rows) are computed once, then the
  linear SSCN of the ``scattering`` preset is fitted on them as plain vectors with h started from
  Xavier ("random", the paper) or from Theorem 1 ("closed_form"), and with the paper's classifier
  or the temperature classifier. Reported per seed: pseudo-label ACC (spectral, on the preset's
  sample), the classifier's in-sample ACC, and the share of the sampled points on which the
  classifier reproduces its own pseudo-labels.
* ``self_training``: the ``conv-plus`` preset (pre-trained conv AE) with 0 and with 3 rounds of
  end-to-end self-training (5 epochs each); in-sample ACC before and after.

Results go to ``--out`` (JSON with command, date and machine) and a Markdown table to stdout.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .common import RESULTS_DIR, log, result_header, summarize, write_json

MODULE = "bench.ablation"


def scattering_study(seeds: Sequence[int], n_samples: int | None, epochs: int | None) -> list[dict[str, Any]]:
    """Xavier vs Theorem-1 start, paper vs temperature classifier, on scattering features."""
    import torch

    from sscn_core import SSCN, load_dataset
    from sscn_core.estimator import PRESETS
    from sscn_core.features import ScatteringFrontEnd
    from sscn_core.metrics import evaluate

    train = load_dataset("mnist", n_samples=n_samples, seed=0)
    start = time.perf_counter()
    frontend = ScatteringFrontEnd(dim=PRESETS["scattering"]["frontend_dim"])
    features = frontend.fit_transform(torch.from_numpy(train.X.reshape(len(train), -1).astype(np.float32) / 255.0))
    log(f"scattering features of {len(train):,} images: {time.perf_counter() - start:.1f} s")
    base = {k: v for k, v in PRESETS["scattering"].items() if k not in ("frontend", "frontend_dim")}
    base["pseudo_sample_size"] = min(base["pseudo_sample_size"], len(train) // 2)
    if epochs is not None:
        base["epochs"] = base["classifier_epochs"] = epochs
    rows = []
    for seed in seeds:
        for h_init in ("random", "closed_form"):
            for temperature in (None, 20.0):
                model = SSCN(**{**base, "h_init": h_init, "classifier_temperature": temperature, "seed": seed,
                                "device": "cpu"}).fit(features.numpy())
                idx = model.pseudo_label_indices_
                y_sample = train.y if idx is None else train.y[idx]
                sample_pred = model.labels_ if idx is None else model.labels_[idx]
                row = {"seed": seed, "h_init": h_init, "temperature": temperature,
                       "pseudo_acc": evaluate(y_sample, model.pseudo_labels_)["acc"],
                       "classifier_acc": evaluate(train.y, model.labels_)["acc"],
                       "agreement": float(np.mean(sample_pred == model.pseudo_labels_)),
                       "fit_seconds": sum(model.phase_times_.values())}
                log(f"scattering seed {seed} h_init={h_init} τ={temperature}: pseudo {row['pseudo_acc']:.4f} "
                    f"classifier {row['classifier_acc']:.4f} agreement {row['agreement']:.4f}")
                rows.append(row)
    return rows


def self_training_study(seeds: Sequence[int], n_samples: int | None, epochs: int | None) -> list[dict[str, Any]]:
    """conv-plus with and without 3 rounds of self-training."""
    from sscn_core import SSCN, load_dataset
    from sscn_core.metrics import evaluate

    train = load_dataset("mnist", n_samples=n_samples, seed=0)
    rows = []
    for seed in seeds:
        before: dict[str, float] = {}

        def watch(event: Any) -> None:
            if event.kind == "phase" and event.phase == "self_training":
                before["acc"] = evaluate(train.y, event.model.predict(train.X))["acc"]

        extra = {} if epochs is None else {"epochs": epochs, "classifier_epochs": epochs}
        sample = min(4000, len(train) // 2)
        model = SSCN.from_preset("conv-plus", pretrained="mnist", seed=seed, device="cpu", self_training_rounds=3,
                                 self_training_epochs=5 if epochs is None else 1, pseudo_sample_size=sample,
                                 **extra).fit(train.X, callback=watch)
        row = {"seed": seed, "acc_before": before.get("acc"), "acc_after": evaluate(train.y, model.labels_)["acc"],
               "self_training_seconds": model.phase_times_.get("self_training")}
        log(f"self-training seed {seed}: {row['acc_before']:.4f} → {row['acc_after']:.4f}")
        rows.append(row)
    return rows


def render(doc: dict[str, Any]) -> str:
    """Markdown tables of an ablation result."""
    from .report import machine_line

    out = [f"`{doc['command']}` — {doc['date']}", ""]
    if doc.get("machine"):
        out += [f"Machine: {machine_line(doc)}", ""]
    rows = doc.get("scattering", [])
    if rows:
        out += ["| h start | classifier | pseudo-label ACC | classifier ACC (in-sample) | classifier = its pseudo-labels | runs |",
                "|---|---|---|---|---|---|"]
        for h_init in ("random", "closed_form"):
            for temperature in (None, 20.0):
                sel = [r for r in rows if r["h_init"] == h_init and r["temperature"] == temperature]
                if not sel:
                    continue
                cells = []
                for key in ("pseudo_acc", "classifier_acc", "agreement"):
                    s = summarize(r[key] for r in sel)
                    lo, hi = min(r[key] for r in sel), max(r[key] for r in sel)
                    cells.append(f"{100 * s['mean']:.2f} ± {100 * (s['std'] or 0):.2f} ({100 * lo:.1f}–{100 * hi:.1f})")
                label = "Xavier (paper)" if h_init == "random" else "Theorem 1"
                clf = "paper's logits" if temperature is None else f"unit rows, τ = {temperature:g}"
                out.append(f"| {label} | {clf} | " + " | ".join(cells) + f" | {len(sel)} |")
        out.append("")
    rows = doc.get("self_training", [])
    if rows:
        out += ["| conv-plus seed | ACC before self-training | ACC after 3 rounds |", "|---|---|---|"]
        out += [f"| {r['seed']} | {100 * r['acc_before']:.2f} | {100 * r['acc_after']:.2f} |" for r in rows]
        out.append("")
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke test: 1,000 points, 2 epochs, 1 seed")
    p.add_argument("--seeds", type=int, default=None, help="seeds of the scattering study (default 5; quick 1)")
    p.add_argument("--self-training-seeds", type=int, default=None, help="default 2 (quick 1); 0 skips the study")
    p.add_argument("--out", default=None, help="result JSON (default bench/results/ablation.json)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run both studies, write the JSON, print the Markdown."""
    args = build_parser().parse_args(argv)
    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 5)
    st_seeds = args.self_training_seeds if args.self_training_seeds is not None else (1 if args.quick else 2)
    n_samples, epochs = (1000, 2) if args.quick else (None, None)
    out = args.out or str(RESULTS_DIR / ("ablation-quick.json" if args.quick else "ablation.json"))
    doc = {**result_header("ablation", MODULE, argv, "cpu"), "quick": args.quick}
    doc["scattering"] = scattering_study(range(seeds), n_samples, epochs)
    write_json(out, doc)
    doc["self_training"] = self_training_study(range(st_seeds), n_samples, epochs) if st_seeds else []
    write_json(out, doc)
    print(render(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
