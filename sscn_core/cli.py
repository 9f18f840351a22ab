"""Command line: ``sscn {train,predict,pretrain} ...`` (or ``python -m sscn_core ...``).

Every SSCN parameter has a flag of its own (``--lambda1 0.5``, ``--h-init closed_form``...), made
from the table in :mod:`sscn_core.params`; ``--set name=value`` does the same by name.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import torch

from . import distributed
from .checkpoint import CheckpointError, check_output_path
from .data import DataError, Dataset, load_dataset
from .device import resolve_device
from .estimator import SSCN
from .health import SSCNWarning
from .metrics import PeakMemory, evaluate, format_bytes
from .models import ConvAutoEncoder, reset_parameters
from .params import MAX_POINTS, PARAMETERS, PARAMS, PRESETS, PRETRAINED, Param, problems
from .persistence import save_autoencoder
from .plan import describe_clarity
from .preprocess import ImageError, input_style, prepare_for_model
from .pretraining import ASSETS_DIR
from .trainer import CACHED, PHASE_LABELS, TrainingEvent, pretrain_autoencoder

# The held-out set that goes with each training set: the paper predicts the MNIST training digits.
HELD_OUT = {"mnist": "mnist-oos", "fashion-mnist": ("fashion-mnist", {"split": "train"})}
DATA_HELP = ("your own data: an .npz/.npy file, a folder or .zip of images (any size, grey or RGB; labels optional, "
             "used only to score)")
# The command line's own numbers, checked by the same rule as the model's parameters (Param.read).
N_SAMPLES = Param("n_samples", "int", None, "Subset size", "Train on a random subset of this size (drawn with --seed).",
                  low=1, high=MAX_POINTS, none="every point")
# sscn pretrain's flags are the model's pre-training parameters (one row each, one rule with train and the API);
# its --epochs must be at least 1, as the command's only product is the pre-trained auto-encoder.
PRETRAIN_FLAGS: dict[str, Param] = {
    "--epochs": replace(PARAMS["pretrain_epochs"], low=1), "--batch-size": PARAMS["pretrain_batch_size"],
    "--lr": PARAMS["pretrain_lr"], "--seed": PARAMS["seed"], "--device": PARAMS["device"],
}


class ProgressBar:
    """A tqdm bar per phase on stderr, fed by training events; ``phases``: the plan, to number them."""

    def __init__(self, enabled: bool, phases: Sequence[str] = ()) -> None:
        self.enabled = enabled
        self.phases = tuple(phases)
        self.bar: Any = None

    def __call__(self, event: TrainingEvent) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if event.kind == "phase":
            self.close()
            desc = PHASE_LABELS.get(event.phase, event.phase)
            if event.phase in self.phases:
                desc = f"[{self.phases.index(event.phase) + 1}/{len(self.phases)}] {desc}"
            self.bar = tqdm(total=event.total_steps, desc=desc, file=sys.stderr, leave=True, dynamic_ncols=True)
        elif event.kind == "step" and self.bar is not None:
            self.bar.update(1)
            if "total" in event.losses and (event.step % 10 == 0 or event.step == event.total_steps):
                self.bar.set_postfix(loss=f"{event.losses['total']:.4g}", refresh=False)
        elif event.kind == "done":
            if self.bar is not None:
                self.bar.n = event.total_steps
                if event.losses.get(CACHED):      # read from the cache: no steps to count
                    self.bar.bar_format = "{desc}: cached"
                self.bar.refresh()
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _held_out(name: str) -> Dataset | None:
    spec = HELD_OUT.get(name)
    if spec is None:
        return None
    ds_name, kwargs = (spec, {}) if isinstance(spec, str) else spec
    try:
        return load_dataset(ds_name, **kwargs)
    except DataError as exc:
        if distributed.rank() == 0:
            print(f"note: no held-out set ({exc})", file=sys.stderr)
        return None


def _timed_eval(model: SSCN, data: Dataset) -> dict[str, Any]:
    start = time.perf_counter()
    pred = distributed.predict_sharded(model, data.X)  # model.predict(data.X) in a single process
    seconds = time.perf_counter() - start
    out: dict[str, Any] = {"dataset": data.name, "n": len(data), "seconds": round(seconds, 3),
                           "images_per_second": round(len(data) / max(seconds, 1e-9))}
    if data.y is not None:
        out.update({k: round(v, 4) for k, v in evaluate(data.y, pred).items()})
    return out


def _read_data(args: argparse.Namespace, seed: int, n_samples: int | None = None) -> Dataset:
    """The data a command reads: ``--data PATH`` (the user's file, folder or .zip, prepared as the
    library prepares it) or ``--dataset NAME``; ``n_samples`` draws a subset with ``seed``."""
    if args.data is not None:
        return load_dataset("file", path=args.data, n_samples=n_samples, seed=seed)
    return load_dataset(args.dataset, n_samples=n_samples, seed=seed)


def cmd_train(args: argparse.Namespace) -> int:
    """Train and report; under torchrun (WORLD_SIZE > 1) as one of several processes, see distributed.py."""
    started = False
    if int(os.environ.get("WORLD_SIZE") or 1) > 1 and not distributed.is_distributed():
        device = dict(args.set).get("device", getattr(args, "device", PRESETS[args.preset]["device"]))
        distributed.init_process_group("gloo" if resolve_device(device).type == "cpu" else "auto")
        started = True
    try:
        return _train(args)
    finally:
        if started:
            distributed.destroy_process_group()


def _train(args: argparse.Namespace) -> int:
    # Every process trains the same model; only rank 0 shows progress, prints and writes files.
    main_process = distributed.rank() == 0
    preset = PRESETS[args.preset]
    # The SSCN parameters given by flag or --set; seed and device always (the seed also draws the subset).
    overrides: dict[str, Any] = {name: getattr(args, name) for name in PARAMS if hasattr(args, name)}
    overrides.update(args.set)
    overrides.setdefault("seed", preset["seed"])
    overrides.setdefault("device", preset["device"])
    # Before any work: the parameters together (each flag was checked by its row when read), and --out.
    found = problems({**preset, **overrides})
    if found:
        raise ValueError(next(iter(found.values())))
    if args.out is not None:
        pretrained = overrides.get("pretrained")
        check_output_path(args.out, inputs={"--data": args.data, "--pretrained": _pretrained_file(pretrained)},
                          force=args.force, protected=ASSETS_DIR, name="--out")
    data = _read_data(args, overrides["seed"], args.n_samples)
    # Every setting the user did not give follows the data through the library's plan (sscn_core.plan);
    # the shape of the images is a fact of the data set, not a setting.
    if data.image_shape is not None:
        overrides.setdefault("image_shape", data.image_shape)
    model = SSCN.from_preset(args.preset, **overrides)
    bar = ProgressBar(enabled=not args.quiet and main_process, phases=model.planned_phases(data.n_features))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SSCNWarning)     # they are in the report, printed once below
        model.fit(data.X, callback=bar)
    bar.close()
    fit_seconds = time.perf_counter() - start
    report: dict[str, Any] = {
        "dataset": data.name, "n": len(data), "preset": args.preset, "seed": model.seed, "device": model.device_,
        "params": {k: v for k, v in model.get_params().items() if k in overrides},
        "n_parameters": sum(p.numel() for p in model.net_.parameters()),
        "phase_seconds": {k: round(v, 2) for k, v in model.phase_times_.items()},
        "fit_seconds": round(fit_seconds, 2),
        "peak_memory_bytes": model.peak_memory_,
        **(model.fit_report() if model.labels_ is not None else {}),
    }
    if data.preprocessing:
        report["preprocessing"] = data.preprocessing
    if distributed.is_distributed():
        report["processes"] = distributed.world_size()
    if data.y is not None and model.labels_ is not None:
        report["in_sample"] = {k: round(v, 4) for k, v in evaluate(data.y, model.labels_).items()}
        if model.pseudo_labels_ is not None:
            y_pl = data.y if model.pseudo_label_indices_ is None else data.y[model.pseudo_label_indices_]
            report["pseudo_labels"] = {k: round(v, 4) for k, v in evaluate(y_pl, model.pseudo_labels_).items()}
    if model.pseudo_label_solver_:
        report["pseudo_label_solver"] = model.pseudo_label_solver_
    held = _held_out(args.dataset) if model.labels_ is not None and args.data is None else None
    if held is not None:
        report["out_of_sample"] = _timed_eval(model, held)
    report["total_seconds"] = round(time.perf_counter() - start, 2)
    if not main_process:
        return 0
    if args.out is not None:
        report["saved"] = str(model.save(args.out))
    if args.json:
        print(to_json(report))
    else:
        _print_report(report)
    return 0


def _pretrained_file(pretrained: str | os.PathLike | None) -> Path | None:
    """The file that the ``pretrained`` parameter reads: bundled weights by name, or the user's file."""
    if pretrained is None:
        return None
    return ASSETS_DIR / PRETRAINED[pretrained] if pretrained in PRETRAINED else Path(pretrained)


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±inf) replaced by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Strict JSON (RFC 8259): NaN and infinities, which JSON has no words for, become null."""
    return json.dumps(_finite(value), indent=2, allow_nan=False)


def _print_report(r: dict[str, Any]) -> None:
    clusters = f"K = {r['n_clusters']} clusters{' (estimated)' if r.get('cluster_count') else ''}, " \
        if "n_clusters" in r else ""
    print(f"SSCN ({r['preset']} preset) on {r['dataset']} (n={r['n']}, seed {r['seed']}, {r['device']}), "
          f"{clusters}{r['n_parameters']:,} parameters")
    if r.get("preprocessing"):
        print(f"  images prepared {r['preprocessing']}")
    for name, key in (("in-sample (classifier)", "in_sample"), ("pseudo-labels (spectral)", "pseudo_labels"),
                      ("out-of-sample", "out_of_sample")):
        m = r.get(key)
        if m and "acc" in m:
            extra = f"  on {m['dataset']} (n={m['n']}, {m['images_per_second']:,} images/s)" if key == "out_of_sample" else ""
            print(f"  {name:26s} ACC {m['acc']:.4f}  ARI {m['ari']:.4f}  NMI {m['nmi']:.4f}{extra}")
    solver = r.get("pseudo_label_solver", {})
    if solver.get("status", "converged") != "converged":
        print(f"  note: the spectral eigen-solver {solver['status']} at residual {solver['residual']:.2e} "
              f"(tolerance {solver['tolerance']:.0e}, {solver['rounds']} rounds); the pseudo-labels use those vectors")
    for phase, seconds in r["phase_seconds"].items():
        mem = r["peak_memory_bytes"].get(phase)
        print(f"  {PHASE_LABELS.get(phase, phase):21s} {seconds:8.2f} s   peak memory {format_bytes(mem) if mem else '-'}")
    if r.get("agreement") is not None:
        print(f"  classifier agreement with its pseudo-labels: {r['agreement']:.2%}")
    if r.get("student"):
        student = r["student"]
        used = "teacher" if r["params"].get("predict_with") == "teacher" else "student"
        print(f"  student agreement with the model on the training images: {student['agreement']:.2%} "
              f"({student['steps']:,} steps, {student['seconds']:.1f} s); new points are predicted by the {used}")
    if r.get("probabilities"):
        print(f"  probabilities: {r['probabilities']['note']}")
    for phase, c in r.get("convergence", {}).items():
        print(f"  {PHASE_LABELS.get(phase, phase):21s} {c['steps']:,} of {c['budget']:,} steps, stopped by "
              f"{c['stopped_by']} (last relative improvement {c['relative_change']:.2g})")
    pretrain = r.get("pretrain")
    if pretrain:
        by = " by an earlier fit" if pretrain["cached"] else ""
        loss = "" if pretrain["final_loss"] is None else f", final loss {pretrain['final_loss']:.4g} per point"
        print(f"  pre-training{by}: {pretrain['steps']:,} steps ({pretrain['epochs']:g} epochs){loss}; "
              f"{pretrain['cache']}")
    if r.get("independence"):
        print(f"  independence of the pseudo-clusters: {r['independence']['verdict']}: {r['independence']['note']}")
    for name, entry in r.get("settings", {}).items():
        value = f"{entry['value']:.4g}" if isinstance(entry["value"], float) else entry["value"]
        print(f"  setting {name} = {value}: {entry['reason']}")
    for c in r.get("choices", []):
        print(f"  choice {c['setting']} = {c['value']}: {describe_clarity(c)}")
    for message in r.get("warnings", []):
        print(f"  WARNING: {message}")
    print(f"  total {r['total_seconds']:.1f} s" + (f"; saved {r['saved']}" if "saved" in r else ""))


def cmd_predict(args: argparse.Namespace) -> int:
    model = SSCN.load(args.model, device=args.device)
    if args.predict_with is not None:
        model.set_params(predict_with=args.predict_with)
    input_style(model)          # a model of vectors, not images: one error line, not one per file
    rows, failures = [], 0
    for name in args.images:
        try:
            pixels = prepare_for_model(name, model)
        except (ImageError, OSError) as exc:
            failures += 1
            rows.append({"file": name, "error": str(exc)})
            continue
        proba = model.predict_proba(pixels.reshape(1, -1))[0]
        rows.append({"file": name, "cluster": int(proba.argmax()), "probability": round(float(proba.max()), 4),
                     "probabilities": [round(float(p), 4) for p in proba]})
    if args.json:
        print(to_json(rows))
    for row in rows:
        if "error" in row:
            print(f"error: {row['file']}: {row['error']}", file=sys.stderr)
        elif not args.json:
            print(f"{row['file']}: cluster {row['cluster']} (p = {row['probability']:.3f})")
    return 2 if failures else 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    """Pre-train the conv auto-encoder for the data's own image shape and write it, for ``--pretrained``."""
    if args.data is not None and args.out is None:
        raise ValueError("with --data give --out FILE, the auto-encoder to write (then: sscn train --data ... "
                         "--autoencoder conv --pretrained FILE)")
    default = ASSETS_DIR / PRETRAINED.get(args.dataset, f"{args.dataset}_conv_ae.pt")
    out = check_output_path(default if args.out is None else args.out, inputs={"--data": args.data},
                            force=args.force, protected=ASSETS_DIR, name="--out")
    data = _read_data(args, args.seed)
    if data.image_shape is None:
        raise ValueError(f"the conv auto-encoder reads images; {data.name} holds rows of {data.n_features} values "
                         f"without an image shape (give a folder or .zip of images, or an (N, H, W) stack)")
    device = resolve_device(args.device)
    generator = torch.Generator().manual_seed(args.seed)
    ae = ConvAutoEncoder(data.image_shape)
    reset_parameters(ae, generator)
    ae.to(device)
    bar = ProgressBar(enabled=not args.quiet)
    history: list[dict[str, Any]] = []
    with PeakMemory(device) as mem:
        seconds = pretrain_autoencoder(ae, torch.from_numpy(data.X), epochs=args.epochs, batch_size=args.batch_size,
                                       lr=args.lr, device=device, generator=generator, report=bar,
                                       stop_flag=threading.Event(), history=history)
    bar.close()
    meta = {"dataset": data.name, "n": len(data), "image_shape": list(data.image_shape), "epochs": args.epochs,
            "batch_size": args.batch_size or len(data), "lr": args.lr, "seed": args.seed,
            "final_loss": history[-1]["total"] if history else None, "seconds": round(seconds, 1),
            "command": "sscn pretrain " + " ".join(sys.argv[2:])}
    save_autoencoder(ae.cpu(), out, meta)
    print(to_json({"saved": str(out), **meta, "peak_memory": format_bytes(mem.peak_bytes)}))
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump: the flags are many) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _flag_type(param: Param) -> Any:
    """argparse's ``type`` for a parameter: its row reads and checks the value (kind and range, the
    API's rule), with argparse's kind of error (one line, status 2)."""
    def parse(text: str) -> Any:
        try:
            return param.read(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = param.name
    return parse


def _path(text: str) -> str:
    """argparse's ``type`` for a file or folder: an empty path is refused (it would mean the current
    folder, or no file at all), as is a NUL character."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path was given; name a file or folder")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL character")
    return text


def _parameter(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` → (name, value) for --set, the value read as the parameter's flag reads it."""
    name, sep, raw = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if name not in PARAMS:
        raise argparse.ArgumentTypeError(f"unknown SSCN parameter {name!r}; known: {', '.join(sorted(PARAMS))}")
    return name, _flag_type(PARAMS[name])(raw)


def _metavar(param: Param) -> str:
    if param.kind == "choice":
        return "{" + ",".join(str(c).lower() for c in param.choices) + "}"
    return {"int": "INT", "float": "FLOAT", "ints": "INT,...", "text": "TEXT"}[param.kind] + \
        ("|none" if param.none is not None else "") + ("|auto" if param.auto is not None else "")


def _add_parameter_flags(parser: argparse.ArgumentParser) -> None:
    """A flag per SSCN parameter (the table in sscn_core.params); absent flags keep the preset's value."""
    group = parser.add_argument_group("SSCN parameters (default: the preset's value; the table's default is shown)")
    for param in PARAMETERS:
        group.add_argument(f"--{param.name.replace('_', '-')}", dest=param.name, type=_flag_type(param),
                           default=argparse.SUPPRESS, metavar=_metavar(param), help=param.describe().replace("%", "%%"))


def build_parser(prog: str = "sscn") -> argparse.ArgumentParser:
    """The argument parser of ``sscn`` / ``python -m sscn_core``."""
    p = _Parser(prog=prog, description="Siamese Subspace Clustering Networks")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="fit SSCN on a data set and report ACC/ARI/NMI, time and memory")
    source = t.add_mutually_exclusive_group()
    source.add_argument("--dataset", default="mnist",
                        help="mnist, mnist-oos, mnist-full, fashion-mnist, digits, yaleb, synthetic")
    source.add_argument("--data", default=None, metavar="PATH", type=_path, help=DATA_HELP + "; give --n-clusters (or --n-clusters auto)")
    t.add_argument("--preset", default="auto", choices=sorted(PRESETS),
                   help="'auto' (default): every setting you do not give follows the data (rules in sscn_core.plan); "
                        "'paper': the paper's method")
    t.add_argument("--n-samples", type=_flag_type(N_SAMPLES), default=None, metavar="INT",
                   help=N_SAMPLES.describe())
    t.add_argument("--set", dest="set", metavar="NAME=VALUE", action="append", type=_parameter, default=[],
                   help="any SSCN parameter by name, as its flag reads it, e.g. --set classifier_loss=triplet "
                        "(the same as --classifier-loss triplet); repeatable")
    t.add_argument("--out", default=None, metavar="FILE", type=_path,
                   help="write the trained model to this checkpoint file (a new file or a regular file, not one of "
                        "the inputs; checked before training)")
    t.add_argument("--force", action="store_true", help="allow --out to replace a file bundled in assets/")
    t.add_argument("--json", action="store_true", help="print the report as JSON")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_parameter_flags(t)
    t.set_defaults(func=cmd_train)

    pr = sub.add_parser("predict", help="classify image files with a trained model")
    pr.add_argument("--model", required=True, metavar="FILE", type=_path)
    pr.add_argument("images", nargs="+", metavar="IMAGE", type=_path)
    pr.add_argument("--device", default=PARAMS["device"].default, type=_flag_type(PARAMS["device"]),
                    help=PARAMS["device"].describe())
    pr.add_argument("--predict-with", default=None, type=_flag_type(PARAMS["predict_with"]),
                    metavar=_metavar(PARAMS["predict_with"]),
                    help=f"{PARAMS['predict_with'].help} Default: the saved model's setting.")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_predict)

    pt = sub.add_parser("pretrain", help="pre-train the conv auto-encoder on a data set or your images, for "
                                         "train's --pretrained (the weights bundled in assets/ are made so)")
    source = pt.add_mutually_exclusive_group()
    source.add_argument("--dataset", default="mnist", help="a bundled data set of images (mnist, fashion-mnist, yaleb)")
    source.add_argument("--data", default=None, metavar="PATH", type=_path, help=DATA_HELP + "; give --out")
    for flag, param in PRETRAIN_FLAGS.items():
        pt.add_argument(flag, dest=flag[2:].replace("-", "_"), default=param.default, type=_flag_type(param),
                        metavar=_metavar(param), help=param.describe().replace("%", "%%"))
    pt.add_argument("--out", default=None, metavar="FILE", type=_path,
                    help="checkpoint file to write (default with --dataset: the bundled file in assets/, which needs "
                         "--force)")
    pt.add_argument("--force", action="store_true", help="allow replacing a file bundled in assets/ (the default "
                                                         "--out included)")
    pt.add_argument("--quiet", action="store_true")
    pt.set_defaults(func=cmd_pretrain)
    return p


def main(argv: Sequence[str] | None = None, prog: str = "sscn") -> int:
    """Entry point (the ``sscn`` command); returns the exit status. Bad input ends with a one-line
    message and status 2."""
    args = build_parser(prog).parse_args(argv)
    try:
        return args.func(args)
    except (DataError, CheckpointError, ImageError, ValueError, FloatingPointError, OSError, MemoryError,
            torch.OutOfMemoryError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
            message = f"out of memory: {message}; choose smaller sizes or fewer points"
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
