"""Metrics: Hungarian accuracy, ARI/NMI, confusion, self-expression leakage, parameter counts, peak memory."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from scipy import sparse

from sscn_core.metrics import (PeakMemory, accuracy, confusion, count_parameters, evaluate, format_bytes,
                               leakage_matrix, match_labels, relabel, subspace_preserving_error)


def test_accuracy_is_invariant_to_a_permutation_of_cluster_ids() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, size=500)
    perm = rng.permutation(7)
    pred = perm[y] + 100  # renamed clusters, not even 0-based
    assert accuracy(y, pred) == 1.0
    scores = evaluate(y, pred)
    assert scores == {"acc": 1.0, "ari": 1.0, "nmi": pytest.approx(1.0)}
    mapping = match_labels(y, pred)
    assert mapping == {int(perm[c]) + 100: c for c in range(7)}
    assert np.array_equal(relabel(pred, mapping), y)


def test_known_small_cases() -> None:
    y = [0, 0, 0, 1, 1, 1]
    pred = [0, 0, 1, 1, 1, 1]
    assert accuracy(y, pred) == pytest.approx(5 / 6)
    # A single cluster: the best match covers the larger class.
    assert accuracy([0, 0, 0, 1], [5, 5, 5, 5]) == 0.75
    # ARI by hand (Hubert & Arabie) from the contingency table [[2, 1], [0, 3]].
    s = evaluate(y, pred)
    n = 6
    comb2 = lambda k: k * (k - 1) / 2  # noqa: E731
    index = comb2(2) + comb2(1) + comb2(3)
    a = comb2(3) + comb2(3)
    b = comb2(2) + comb2(4)
    expected = (index - a * b / comb2(n)) / (0.5 * (a + b) - a * b / comb2(n))
    assert s["ari"] == pytest.approx(expected)
    # NMI (arithmetic) by hand from the contingency table.
    p = np.array([[2, 1], [0, 3]]) / n
    pt, pp = p.sum(1), p.sum(0)
    mi = sum(p[i, j] * np.log(p[i, j] / (pt[i] * pp[j])) for i in range(2) for j in range(2) if p[i, j] > 0)
    ent = lambda v: -np.sum(v * np.log(v))  # noqa: E731
    assert s["nmi"] == pytest.approx(mi / (0.5 * (ent(pt) + ent(pp))))
    # Independent labelling: ARI 0 and NMI 0.
    s = evaluate([0, 0, 1, 1], [0, 1, 0, 1])
    assert s["ari"] == pytest.approx(-0.5) and s["nmi"] == pytest.approx(0.0, abs=1e-12) and s["acc"] == 0.5


def test_more_clusters_than_classes_and_the_reverse() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    pred = np.array([0, 0, 2, 2, 1, 1, 1, 3])  # class 0 split in two clusters, an extra cluster 3
    assert accuracy(y, pred) == pytest.approx(5 / 8)
    mapping = match_labels(y, pred)
    assert mapping[1] == 1 and mapping.get(3) is None and len(mapping) == 2
    assert (relabel(pred, mapping) == y).mean() == pytest.approx(accuracy(y, pred))
    assert accuracy(pred, y) == pytest.approx(5 / 8)  # symmetric for the Hungarian matching
    matrix, classes, clusters = confusion(y, pred)
    assert matrix.shape == (2, 4) and list(classes) == [0, 1]
    assert matrix[0, 0] + matrix[1, 1] == 5  # matched counts on the diagonal
    assert matrix.sum() == 8 and sorted(clusters.tolist()) == [0, 1, 2, 3]
    raw, _, raw_clusters = confusion(y, pred, reorder=False)
    assert list(raw_clusters) == [0, 1, 2, 3] and raw[1].tolist() == [0, 3, 0, 1]


def test_confusion_reorders_columns_to_the_matched_classes() -> None:
    y = np.repeat([0, 1, 2], 4)
    pred = np.repeat([2, 0, 1], 4)
    matrix, classes, clusters = confusion(y, pred)
    assert np.array_equal(matrix, 4 * np.eye(3, dtype=int))
    assert list(clusters) == [2, 0, 1]


def test_label_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="same length"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        evaluate([], [])
    with pytest.raises(ValueError, match="1-D"):
        accuracy(np.zeros((2, 2)), np.zeros((2, 2)))
    assert accuracy(torch.tensor([0, 1, 1]), torch.tensor([1, 0, 0])) == 1.0


def _block_q(sizes: list[int], leak: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(sizes)), sizes)
    same = y[:, None] == y[None, :]
    q = rng.normal(size=(y.size, y.size)) * np.where(same, 1.0, leak)
    perm = rng.permutation(y.size)
    return q[np.ix_(perm, perm)], y[perm]


def test_subspace_preserving_error_zero_on_block_diagonal_and_positive_with_leakage() -> None:
    q, y = _block_q([5, 7, 4], leak=0.0)
    assert subspace_preserving_error(q, y) == 0.0
    q_leak, y_leak = _block_q([5, 7, 4], leak=0.3)
    err = subspace_preserving_error(q_leak, y_leak)
    assert 0.0 < err < 1.0
    # By hand: off-diagonal, different-label mass over all off-diagonal mass.
    a = np.abs(q_leak)
    np.fill_diagonal(a, 0.0)
    assert err == pytest.approx(a[y_leak[:, None] != y_leak[None, :]].sum() / a.sum())
    # The diagonal is ignored: a huge diagonal does not change the error.
    assert subspace_preserving_error(q_leak + 1e6 * np.eye(len(y_leak)), y_leak) == pytest.approx(err)
    # Sparse and torch inputs give the same value.
    assert subspace_preserving_error(sparse.csr_matrix(q_leak), y_leak) == pytest.approx(err)
    assert subspace_preserving_error(torch.from_numpy(q_leak).float(), torch.from_numpy(y_leak)) == \
        pytest.approx(err, rel=1e-5)
    assert subspace_preserving_error(np.eye(4), [0, 0, 1, 1]) == 0.0  # no off-diagonal mass at all


def test_subspace_preserving_error_across_row_chunks() -> None:
    q, y = _block_q([700, 600, 900], leak=0.1, seed=3)  # 2200 rows: more than one chunk
    a = np.abs(q)
    np.fill_diagonal(a, 0.0)
    assert subspace_preserving_error(q, y) == pytest.approx(a[y[:, None] != y[None, :]].sum() / a.sum())


def test_leakage_matrix_rows_sum_to_one() -> None:
    q, y = _block_q([6, 3, 8, 5], leak=0.2, seed=1)
    leak = leakage_matrix(q, y)
    assert leak.shape == (4, 4)
    assert np.allclose(leak.sum(axis=1), 1.0)
    assert np.all(np.diag(leak) > leak.max(axis=1) * 0.5)  # most mass stays inside each cluster
    block = leakage_matrix(*_block_q([6, 3, 8, 5], leak=0.0, seed=1))
    assert np.allclose(block, np.eye(4))
    # n_clusters larger than the labels present: empty clusters get zero rows.
    wide = leakage_matrix(q, y, n_clusters=6)
    assert wide.shape == (6, 6) and np.allclose(wide[:4, :4], leak) and not wide[4:].any()
    with pytest.raises(ValueError, match="integers in"):
        leakage_matrix(q, y, n_clusters=2)


def test_q_validation() -> None:
    with pytest.raises(ValueError, match="square"):
        subspace_preserving_error(np.zeros((3, 4)), [0, 1, 2])
    with pytest.raises(ValueError, match="labels"):
        subspace_preserving_error(np.zeros((3, 3)), [0, 1])
    bad = np.ones((2, 2))
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        leakage_matrix(bad, [0, 1])


def test_count_parameters() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2, bias=False))
    assert count_parameters(net) == 4 * 3 + 3 + 3 * 2
    net[0].weight.requires_grad_(False)
    assert count_parameters(net, trainable_only=True) == 3 + 3 * 2
    assert count_parameters(net) == 21
    shared = torch.nn.Linear(2, 2)
    assert count_parameters(torch.nn.Sequential(shared, shared)) == 6
    with pytest.raises(TypeError):
        count_parameters("not a module")  # type: ignore[arg-type]


def test_format_bytes() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.50 KiB"
    assert format_bytes(200 * 2**20) == "200 MiB"
    assert format_bytes(-(2**30)) == "-1.00 GiB"
    assert format_bytes(np.int64(5 * 2**40)) == "5.00 TiB"
    with pytest.raises(ValueError):
        format_bytes(float("nan"))


def test_peak_memory_sees_a_200_mb_allocation() -> None:
    with PeakMemory("cpu") as mem:
        block = np.ones(200 * 2**20, dtype=np.uint8)  # ones: the pages are really touched
        block[::4096] += 1
        deadline = time.monotonic() + 5      # keep the block alive until the polling thread has run (a busy
        while mem.growth_bytes < 180 * 2**20 and time.monotonic() < deadline:   # machine may delay it)
            time.sleep(0.01)
        del block
    assert mem.growth_bytes >= 180 * 2**20
    assert mem.peak_bytes - mem.baseline_bytes == mem.growth_bytes
    with PeakMemory(torch.device("cpu")) as idle:
        pass
    assert idle.peak_bytes >= idle.baseline_bytes > 0
    with pytest.raises(ValueError):
        PeakMemory("cpu", interval=0)
    with pytest.raises(ValueError):
        PeakMemory("not-a-device")
    assert PeakMemory("auto").device.type in ("cpu", "cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_peak_memory_on_cuda() -> None:
    device = torch.device("cuda")
    with PeakMemory(device) as mem:
        x = torch.ones(50 * 2**20, dtype=torch.float32, device=device)  # 200 MiB
        del x
    assert mem.growth_bytes >= 200 * 2**20
