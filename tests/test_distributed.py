"""torch.distributed: 2 CPU processes (gloo) give the single-process fit, and sharded prediction."""
from __future__ import annotations

import copy
import pickle
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from sscn_core import SSCN, distributed
from sscn_core.data import make_subspaces
from sscn_core.trainer import self_expression_terms

WORLD = 2
# 45 rows: shards of 22 and 23. Every fit pre-trains (no cache), so that the histories compare step by step.
PARAMS = dict(n_clusters=3, subspace_dim=2, autoencoder="mlp", latent_dim=8, hidden_dims=(16,), pretrain_epochs=2,
              epochs=3, batch_size=45, classifier_epochs=2, schedule="epochs", device="cpu", seed=0, pretrain_cache=False)


def _data() -> np.ndarray:
    return make_subspaces(n_clusters=3, subspace_dim=2, ambient_dim=12, n_per_cluster=50, seed=0).X


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state(model: SSCN) -> dict[str, Any]:
    return {"weights": {k: v.detach().clone() for k, v in model.net_.state_dict().items()},
            "history": model.history_, "labels": model.labels_}


def _one_batch_check(reduction: str) -> dict[str, Any]:
    """Terms and gradients of one odd-sized batch: sharded (this process) and whole (computed locally)."""
    x = torch.from_numpy(_data())
    model = SSCN(**{**PARAMS, "epochs": 0, "pretrain_epochs": 0, "classifier_epochs": 0}).fit(x.numpy())
    net, whole = model.net_, copy.deepcopy(model.net_)
    idx = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(1))[:37]
    sharded = distributed.ShardedSelfExpression(net, reduction)
    terms = sharded.terms(x, idx)
    loss = terms["q_norm"] + 0.5 * terms["self_expression"] + 2.0 * terms["reconstruction"]
    values = sharded.batch_values(loss, terms)
    loss.backward()
    ref = self_expression_terms(whole, x[idx], reduction)
    (ref["q_norm"] + 0.5 * ref["self_expression"] + 2.0 * ref["reconstruction"]).backward()
    return {"values": values, "ref": {k: v.item() for k, v in ref.items()},
            "grads": {k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None},
            "ref_grads": {k: p.grad.clone() for k, p in whole.named_parameters() if p.grad is not None}}


def _worker(rank: int, port: int, out: str) -> None:
    import os

    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    assert distributed.init_process_group("auto") == (rank, WORLD)
    try:
        X = _data()
        model = SSCN(**PARAMS).fit(X)
        result = _state(model)
        result["predict_odd"] = distributed.predict_sharded(model, X[:101])
        result["predict_one"] = distributed.predict_sharded(model, X[:1])       # N < P: one shard is empty
        try:
            distributed.predict_sharded(model, X[:5, :3])                       # wrong width: fails everywhere
            result["bad_error"] = None
        except ValueError as exc:
            result["bad_error"] = str(exc)
        result["batch"] = {r: _one_batch_check(r) for r in ("sum", "mean")}
        Path(out, f"rank{rank}.pkl").write_bytes(pickle.dumps(result))
    finally:
        distributed.destroy_process_group()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], SSCN]:
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    results = [pickle.loads((out / f"rank{r}.pkl").read_bytes()) for r in range(WORLD)]
    return results, SSCN(**PARAMS).fit(_data())


def _close(a: Any, b: Any) -> bool:
    return np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=1e-5, atol=1e-6)


def _cluster_permutation(labels: np.ndarray, ref_labels: np.ndarray, k: int) -> np.ndarray:
    """perm[c] = the reference's name of this run's cluster c (the partition itself must be the same)."""
    perm = np.array([np.bincount(ref_labels[labels == c], minlength=k).argmax() for c in range(k)])
    assert sorted(perm) == list(range(k))
    np.testing.assert_array_equal(perm[labels], ref_labels)
    return perm


def _in_reference_names(R: torch.Tensor, perm: np.ndarray, q: int) -> torch.Tensor:
    """R with its column blocks (one per cluster) moved to the reference's cluster names."""
    out = torch.empty_like(R)
    for c, target in enumerate(perm):
        out[:, target * q:(target + 1) * q] = R[:, c * q:(c + 1) * q]
    return out


def test_two_processes_fit_the_single_process_model(runs: tuple[list[dict[str, Any]], SSCN]) -> None:
    results, single = runs
    ref = _state(single)
    assert any(row["phase"] == "self_expression" for row in ref["history"])
    k, q = PARAMS["n_clusters"], PARAMS["subspace_dim"]
    for result in results:
        assert result["weights"].keys() == ref["weights"].keys()
        # Well-separated clusters make the affinity's top eigenvalue multiple, so float-level differences
        # of the sharded sums may rotate the eigenbasis and rename the pseudo-clusters: same partition,
        # other names, and R's column blocks follow the names. Compare in the reference's names.
        perm = _cluster_permutation(result["labels"], ref["labels"], k)
        weights = dict(result["weights"], **{"classifier.R": _in_reference_names(result["weights"]["classifier.R"],
                                                                                   perm, q)})
        for name, value in ref["weights"].items():
            assert _close(weights[name], value), name
        assert len(result["history"]) == len(ref["history"])
        for got, want in zip(result["history"], ref["history"]):
            assert got.keys() == want.keys() and got["phase"] == want["phase"]
            assert all(_close(got[k], want[k]) for k in want if k not in ("phase", "step")), (got, want)
        np.testing.assert_array_equal(perm[result["labels"]], ref["labels"])
    # The two processes hold the very same model.
    for name, value in results[0]["weights"].items():
        assert torch.equal(value, results[1]["weights"][name]), name


def test_sharded_batch_terms_and_gradients_are_the_whole_batch_ones(runs: tuple[list[dict[str, Any]], SSCN]) -> None:
    results, _ = runs
    for result in results:
        for reduction, check in result["batch"].items():
            for key, want in check["ref"].items():
                assert _close(check["values"][key], want), (reduction, key)
            assert check["grads"].keys() == check["ref_grads"].keys() and check["grads"]
            for name, want in check["ref_grads"].items():
                # float32 sums in another order: entries agree to 1e-5 of the gradient's largest entry
                scale = float(want.abs().max())
                assert np.allclose(check["grads"][name].numpy(), want.numpy(), rtol=1e-5, atol=1e-5 * scale), \
                    (reduction, name)


def test_predict_sharded_equals_predict(runs: tuple[list[dict[str, Any]], SSCN]) -> None:
    results, single = runs
    X = _data()
    for result in results:
        perm = _cluster_permutation(result["labels"], single.labels_, PARAMS["n_clusters"])   # see above
        np.testing.assert_array_equal(perm[result["predict_odd"]], single.predict(X[:101]))
        np.testing.assert_array_equal(perm[result["predict_one"]], single.predict(X[:1]))
        assert result["bad_error"] is not None and "features" in result["bad_error"]
    # Without a process group it is model.predict.
    np.testing.assert_array_equal(distributed.predict_sharded(single, X[:7]), single.predict(X[:7]))


def test_init_without_torchrun_env_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in distributed.TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(distributed.DistributedSetupError, match="torchrun.*missing RANK, WORLD_SIZE"):
        distributed.init_process_group()
    with pytest.raises(distributed.DistributedSetupError, match="backend"):
        distributed.init_process_group("mpi")
    assert not distributed.is_distributed() and distributed.rank() == 0 and distributed.world_size() == 1


def test_torchrun_cli_matches_single_process(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import json
    import os
    import subprocess
    import sys

    from sscn_core.cli import main

    args = ["train", "--dataset", "digits", "--n-samples", "300", "--n-clusters", "10", "--subspace-dim", "3",
            "--epochs", "2", "--batch-size", "151", "--classifier-epochs", "1", "--device", "cpu", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           f"--master_port={_free_port()}", "-m", "sscn_core", *args, "--out", str(tmp_path / "m.pt")],
                          capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # one JSON document: only rank 0 prints
    assert report["processes"] == 2 and Path(report["saved"]).is_file()
    assert done.stderr.count("self-expression:   0%") == 1  # only rank 0 shows progress
    assert main([*args, "--quiet"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert report["in_sample"] == single["in_sample"] and report["pseudo_labels"] == single["pseudo_labels"]
