"""Label-free rules for the front-end and the power α, each against every stand-in: ``python -m bench.choice_rules``.

For each set of ``bench.rules`` (check sets and, in a table of their own, the held-out ones), SSCN is
fitted once per front-end (``frontend="pixels"`` and ``"scattering"``, every other setting the default),
and its learned Q is post-processed with each candidate power of ``sscn_core.plan.ALPHA_CANDIDATES``:
six candidate partitions. Each rule below picks one of them without labels; labels only score the pick.
"Loss" is the pick's ACC minus the better front-end alone (each with the plan's own α rule), the
issue's "never more than 1 point below the best single candidate".

The rules were written down before their scores were looked at (R9 is the plan's on images):

- R0 (the plan's where no front-end is chosen): α per front-end by the largest spectral ratio μ_{K+1}/μ_K; the front-end whose
  affinity |Q| keeps more mass inside its own clusters (``plan.cross_cluster_share``).
- R1 acceptance: the partition that every front-end's graph |Q_f| accepts best: the mean over f of
  log(share_f(P) / the best share on |Q_f|), all six candidates together.
- R2: α per front-end by the smallest share on its own |Q|; the front-end as R0.
- R3: α as R2; the front-end by R1's acceptance between the two.
- R4 / R5: α per front-end by the smallest normalised cut of the post-processing's thresholded graph
  (step 2, the graph every α starts from); the front-end as R0 (R4) or by the same cut (R5).
- R6: α per front-end by stability: the mean ARI between its partition and the partitions of
  ``SUBSETS`` seeded 80 % subsets (Q restricted); ties within 0.01 keep the earlier candidate.
- R7: front-end and α together by the largest spectral ratio over all six graphs.
- R8: the front-end as R0; α follows its verdict: 3.5 when pixels won (the classes are linear subspaces of
  the pixels: keep whole subspaces together), 8 when scattering won (the classes needed local invariance:
  neighbours only). Written after the α columns of every stand-in had been seen, the first three held-out
  ones included; judged on two held-out sets built afterwards (``fashion-posed``, ``faces-38x8``).
- R9 (the plan's now): each front-end's partition at the power it would take (``sscn_core.plan.verdict_alpha``:
  R8's, except that below 15 points a cluster α is the plan's few-points power: 3.5 whatever the verdict when
  R9 was written, now ``sscn_core.plan.FEW_ALPHA``'s by the verdict; a power outside the six candidates is
  scored beside them); the front-end whose |Q| keeps
  more mass inside its own partition. Written after the check set ``faces-posed`` and the α columns of the
  held-out sets up to ``faces-38x8`` had been seen; judged on three held-out sets built afterwards
  (``faces-posed-b``, ``turning-few``, ``digits-posed-b``).

The learned Q of each set and front-end is kept in ``<cache dir>/bench-choice-rules`` (``SSCN_CACHE_DIR``),
so the rules can be re-scored without fitting again (the file name holds the plan's q, so a new q rule fits again).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common import log, result_header, write_json
from .rules import FRONTENDS, HELD_OUT, check_set, chosen_sets, set_arguments

MODULE = "bench.choice_rules"
SUBSETS, SUBSET_FRACTION, STABLE_TIE = 4, 0.8, 0.01
TINY = 1e-12   # keeps R1's log ratio finite on a graph with no mass across clusters
RULES = ("R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9")
VERDICT_ALPHA = {"pixels": 3.5, "scattering": 8.0}   # R8


def q_cache() -> Path:
    """Where the learned Q of each set and front-end is kept."""
    from sscn_core.cache import cache_dir

    return cache_dir() / "bench-choice-rules"


def learned_q(name: str, frontend: str, seed: int) -> dict[str, Any]:
    """The learned Q of a default fit with ``frontend`` on set ``name``, with the labels and the fit's
    post-processing settings (read from the cache when there)."""
    from sscn_core.plan import subspace_dim_rule

    x, y = check_set(name)
    q = subspace_dim_rule(len(y), len(np.unique(y)))[0]      # in the name: a new q rule fits again
    path = q_cache() / f"{name}_{frontend}_q{q}_{seed}.npz"
    if not path.is_file():
        from sscn_core import SSCN

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SSCN(n_clusters=len(np.unique(y)), seed=seed, frontend=frontend, alpha=8.0).fit(x)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, q=model.affinity(x).astype(np.float32), y=y, qdim=model.params_["subspace_dim"],
                 rho=model.rho, restarts=model.n_restarts, variant=model.postprocess)
    with np.load(path, allow_pickle=False) as z:
        return {key: z[key] for key in z.files}


def _thresholded(d: dict[str, Any]) -> np.ndarray:
    """Step 2 of the post-processing as a dense graph without its diagonal."""
    from sscn_core.postprocess import threshold_columns

    sub = str(d["variant"]) == "subspace"
    t = abs(threshold_columns(d["q"], float(d["rho"]), drop_diagonal=sub, min_keep=2 * int(d["qdim"]) if sub else 1))
    t = (0.5 * (t + t.T)).toarray()
    np.fill_diagonal(t, 0.0)
    return t


def case(name: str, seed: int = 0) -> dict[str, Any]:
    """Every candidate partition of one set, the evidence each rule reads, each rule's pick and its ACC."""
    import torch
    from sklearn.metrics import adjusted_rand_score

    from sscn_core.metrics import accuracy
    from sscn_core.plan import ALPHA_CANDIDATES, cross_cluster_share, verdict_alpha
    from sscn_core.postprocess import spectral_pseudo_labels

    start = time.perf_counter()
    data = {f: learned_q(name, f, seed) for f in FRONTENDS}
    y = data[FRONTENDS[0]]["y"]
    k = len(np.unique(y))

    def labels(f: str, alpha: Any, idx: np.ndarray | None = None, choice: dict | None = None) -> np.ndarray:
        d = data[f]
        q = d["q"] if idx is None else d["q"][np.ix_(idx, idx)]
        return spectral_pseudo_labels(q, k, int(d["qdim"]), rho=float(d["rho"]), alpha=alpha, seed=seed,
                                      restarts=int(d["restarts"]), variant=str(d["variant"]), choice=choice)

    cands = [(f, a) for f in FRONTENDS for a in ALPHA_CANDIDATES]
    own_power = [(f, verdict_alpha(f, len(y), k)[0]) for f in FRONTENDS]     # R9's, possibly outside the six
    every = cands + [c for c in own_power if c not in cands]
    key = {c: f"{c[0]} α={c[1]:g}" for c in every}
    part = {c: labels(*c) for c in every}
    ratio: dict[tuple[str, float], float] = {}
    ratio_alpha: dict[str, float] = {}
    for f in FRONTENDS:
        choice: dict[str, Any] = {}
        labels(f, ALPHA_CANDIDATES, choice=choice)
        ratio_alpha[f] = float(choice["alpha"])
        ratio.update({(f, float(a)): float(v) for a, v in choice["ratios"].items()})
    share = {f: {c: cross_cluster_share(data[f]["q"], part[c], k) for c in every} for f in FRONTENDS}
    graphs = {f: _thresholded(data[f]) for f in FRONTENDS}
    tshare = {f: {c: cross_cluster_share(graphs[f], part[c], k) for c in every} for f in FRONTENDS}
    stream = torch.Generator().manual_seed(seed)
    subsets = [torch.randperm(len(y), generator=stream)[:max(2 * k, round(SUBSET_FRACTION * len(y)))].sort().values.numpy()
               for _ in range(SUBSETS)]
    stability = {c: float(np.mean([adjusted_rand_score(part[c][idx], labels(*c, idx=idx)) for idx in subsets]))
                 for c in cands}

    def accept(pool: Sequence[tuple[str, float]]) -> tuple[str, float]:
        return min(pool, key=lambda c: np.mean([math.log((share[f][c] + TINY) / (min(share[f][o] for o in pool) + TINY))
                                                for f in FRONTENDS]))

    def own(alphas: dict[str, float], table: dict[str, dict]) -> tuple[str, float]:
        f = min(FRONTENDS, key=lambda g: table[g][(g, alphas[g])])
        return f, alphas[f]

    def argmin_alpha(table: dict[str, dict]) -> dict[str, float]:
        return {f: min(ALPHA_CANDIDATES, key=lambda a: table[f][(f, a)]) for f in FRONTENDS}

    def stable_alpha() -> dict[str, float]:
        out = {}
        for f in FRONTENDS:
            best = max(stability[(f, a)] for a in ALPHA_CANDIDATES)
            out[f] = next(a for a in ALPHA_CANDIDATES if stability[(f, a)] >= best - STABLE_TIE)
        return out

    a2, a4 = argmin_alpha(share), argmin_alpha(tshare)
    rules: dict[str, Callable[[], tuple[str, float]]] = {
        "R0": lambda: own(ratio_alpha, share), "R1": lambda: accept(cands), "R2": lambda: own(a2, share),
        "R3": lambda: accept([(f, a2[f]) for f in FRONTENDS]), "R4": lambda: own(a4, share),
        "R5": lambda: own(a4, tshare), "R6": lambda: own(stable_alpha(), share),
        "R7": lambda: max(cands, key=lambda c: ratio.get(c, 0.0)),
        "R8": lambda: (own(ratio_alpha, share)[0], VERDICT_ALPHA[own(ratio_alpha, share)[0]]),
        "R9": lambda: own({f: verdict_alpha(f, len(y), k)[0] for f in FRONTENDS}, share),
    }
    acc = {c: 100.0 * accuracy(y, part[c]) for c in every}
    single = max(acc[(f, ratio_alpha[f])] for f in FRONTENDS)
    picks = {rule: rules[rule]() for rule in RULES}
    return {"set": name, "n": int(len(y)), "K": k, "held_out": name in HELD_OUT,
            "acc": {key[c]: acc[c] for c in every}, "single_best": single, "oracle": max(acc[c] for c in cands),
            "picks": {rule: key[c] for rule, c in picks.items()},
            "loss": {rule: acc[c] - single for rule, c in picks.items()},
            "evidence": {"ratio": {key[c]: ratio.get(c) for c in cands}, "stability": {key[c]: stability[c] for c in cands},
                         **{f"share_{f}": {key[c]: share[f][c] for c in every} for f in FRONTENDS},
                         **{f"thresholded_share_{f}": {key[c]: tshare[f][c] for c in every} for f in FRONTENDS}},
            "seconds": time.perf_counter() - start}


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Each rule's loss against the better front-end alone, set by set, with its worst and mean."""
    if not rows:
        return ""
    head = "| set | K | N | better alone | best of six | " + " | ".join(RULES) + " |"
    lines = [head, "|" + "---|" * (5 + len(RULES))]
    for r in rows:
        lines.append(f"| {r['set']} | {r['K']} | {r['n']:,} | {r['single_best']:.1f} | {r['oracle']:.1f} | "
                     + " | ".join(f"{r['loss'][rule]:+.1f}" for rule in RULES) + " |")
    worst = " | ".join(f"{min(r['loss'][rule] for r in rows):+.1f}" for rule in RULES)
    mean = " | ".join(f"{np.mean([r['loss'][rule] for r in rows]):+.1f}" for rule in RULES)
    lines += [f"| **worst** | | | | | {worst} |", f"| **mean** | | | | | {mean} |"]
    return "\n".join(lines)


def tables(rows: Sequence[dict[str, Any]]) -> str:
    """The check sets' table, then the held-out sets' (scored only after the rules were fixed)."""
    check = [r for r in rows if not r["held_out"]]
    held = [r for r in rows if r["held_out"]]
    out = ["Points of ACC against the better front-end alone (each with the plan's α rule); R9 is the plan's rule on images.",
           "", "Check sets:", "", markdown(check)]
    if held:
        out += ["", "Held out (kept out of all rule-making):", "", markdown(held)]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n\n")[0])
    set_arguments(parser, "choice-rules.json")
    args = parser.parse_args(argv)
    names = chosen_sets(parser, args.sets)
    rows = []
    for name in names:
        log(f"{name} / seed {args.seed}")
        row = case(name, args.seed)
        rows.append(row)
        log("  " + ", ".join(f"{rule} {row['picks'][rule]} {row['loss'][rule]:+.1f}" for rule in RULES))
    table = tables(rows)
    print(table)
    write_json(args.out, {**result_header("choice_rules", MODULE, argv), "rows": rows, "markdown": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())
