"""Scale-out with torch.distributed: data-parallel self-expression and sharded prediction.

Launch every process with torchrun (``torchrun --nproc_per_node P -m sscn_core train ...``) and call
:func:`init_process_group` first (the CLI does so when ``WORLD_SIZE`` > 1); the backend is NCCL
on GPUs (one GPU per process, chosen by ``LOCAL_RANK``) and gloo on CPUs.

What is sharded
    * The self-expression phase (Definition 3), the one whose cost grows with the batch size B:
      every process draws the same shuffled batches (same seed), takes its contiguous block of
      B/P rows, embeds only those (Z_i, H_i), gathers H and Z of the whole batch with a
      differentiable all-gather and computes its row block of the three terms,
      ½‖H_i Hᵀ‖², ½‖Z_i − H_i Hᵀ Z‖² and ½‖X_i − dec(H_i Hᵀ Z)‖². The blocks sum to the
      single-process batch loss, so the gradients summed over processes (DDP with a summing
      communication hook) are the single-process gradient, and every process takes the same
      Adam step. Reported losses are the whole batch's (all-reduced).
    * Out-of-sample prediction (:func:`predict_sharded`): each process labels a contiguous
      block of the data set and the labels are all-gathered in the original order.

What is not
    Loading the data, the front-end features, pre-training the auto-encoder, the closed-form
    start of h, the pseudo-labels (spectral clustering), the classifier and self-training run
    identically on every process: they are deterministic given the seed and the (identical)
    weights, so every process ends with the same model, equal up to floating-point rounding
    to a single-process fit with the same seed. Every process holds the whole data set.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

if TYPE_CHECKING:
    from .models import SSCNNetwork

BACKENDS = ("auto", "gloo", "nccl")
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class Predictor(Protocol):
    """Anything with ``predict(X) -> labels``, such as a fitted SSCN."""

    def predict(self, X: Any) -> np.ndarray:
        """Labels of the rows of X."""


class DistributedSetupError(ValueError):
    """torch.distributed cannot be started: missing torchrun environment, bad backend or device."""


def init_process_group(backend: str = "auto") -> tuple[int, int]:
    """Join the process group described by torchrun's environment; returns (rank, world_size).

    ``backend``: "auto" (NCCL when CUDA is available, else gloo), "gloo" or "nccl". With NCCL the
    current CUDA device becomes ``LOCAL_RANK``. Calling it again once initialised just returns
    (rank, world_size).
    """
    if not dist.is_available():
        raise DistributedSetupError("this PyTorch build has no torch.distributed support")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if backend not in BACKENDS:
        raise DistributedSetupError(f"backend must be one of {BACKENDS}, got {backend!r}")
    missing = [name for name in TORCHRUN_ENV if not os.environ.get(name)]
    if missing:
        raise DistributedSetupError(
            f"torch.distributed needs the environment torchrun sets; missing {', '.join(missing)}. "
            f"Launch with e.g. `torchrun --nproc_per_node 2 -m sscn_core train ...`")
    try:
        rank_, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank_))
    except ValueError as exc:
        raise DistributedSetupError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers: {exc}") from None
    if size < 1 or not 0 <= rank_ < size:
        raise DistributedSetupError(f"need 0 <= RANK < WORLD_SIZE, got RANK={rank_}, WORLD_SIZE={size}")
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise DistributedSetupError("backend 'nccl' needs CUDA GPUs; use 'gloo' on CPUs")
        if local_rank >= torch.cuda.device_count():
            raise DistributedSetupError(f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} CUDA "
                                        f"device(s); start at most one process per GPU")
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend, init_method="env://", rank=rank_, world_size=size)
    return rank_, size


def destroy_process_group() -> None:
    """Leave the process group (no-op when none was started)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def shard_bounds(n: int, parts: int) -> list[int]:
    """Boundaries of ``parts`` contiguous blocks of range(n), sizes differing by at most one.

    Block r is ``[bounds[r], bounds[r + 1])``; blocks are empty when n < parts.
    """
    return [r * n // parts for r in range(parts + 1)]


def _comm_device() -> torch.device:
    """Where tensors for collectives must live: the current GPU for NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class _GatherRows(torch.autograd.Function):
    """All-gather of row blocks (possibly of different sizes) with a gradient.

    Forward pads every block to the largest size, all-gathers and concatenates the true rows.
    Backward sums the gradient of the whole gathered matrix over all processes and returns this
    process's rows: d(Σ_r loss_r)/d(block). All-reduce rather than reduce-scatter because gloo has
    no reduce-scatter; the matrices are only B × d.
    """

    @staticmethod
    def forward(ctx: Any, block: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
        padded = block.new_zeros((max(sizes), *block.shape[1:]))
        padded[:block.shape[0]] = block
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded)
        ctx.sizes = sizes
        return torch.cat([part[:size] for part, size in zip(parts, sizes)])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        total = grad.contiguous().clone()
        dist.all_reduce(total)
        start = sum(ctx.sizes[:dist.get_rank()])
        return total[start:start + ctx.sizes[dist.get_rank()]], None


def gather_rows(block: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """Concatenate every process's ``block`` (process r holds ``sizes[r]`` rows), differentiably."""
    return _GatherRows.apply(block, tuple(int(s) for s in sizes))


def _sq(t: torch.Tensor, count: int | None) -> torch.Tensor:
    """Sum of squares, divided by ``count`` (the whole batch's number of entries) for "mean"."""
    total = (t * t).sum()
    return total if count is None else total / count


class _RowBlockTerms(nn.Module):
    """This process's row block of Definition 3 (auto-encoder and h; what DDP wraps)."""

    def __init__(self, autoencoder: nn.Module, h: nn.Module, reduction: str) -> None:
        super().__init__()
        self.autoencoder = autoencoder
        self.h = h
        self.reduction = reduction

    def forward(self, x_block: torch.Tensor, sizes: tuple[int, ...]) -> dict[str, torch.Tensor]:
        b = sum(sizes)
        z = self.autoencoder.encode(x_block)
        h = self.h(z)
        z_all, h_all = gather_rows(z, sizes), gather_rows(h, sizes)
        q_rows = h @ h_all.T                      # rows of Q = H Hᵀ held by this process
        qz = q_rows @ z_all
        x_flat = x_block.reshape(x_block.shape[0], -1)
        mean = self.reduction == "mean"
        return {
            "q_norm": 0.5 * _sq(q_rows, b * b if mean else None),
            "self_expression": 0.5 * _sq(z - qz, b * z.shape[1] if mean else None),
            "reconstruction": 0.5 * _sq(x_flat - self.autoencoder.decode(qz), b * x_flat.shape[1] if mean else None),
        }


# Unannotated: DDP compares a hook's annotations with the real types, and this module's are strings.
def _allreduce_sum_hook(state, bucket):  # type: ignore[no-untyped-def]
    """DDP communication hook (``dist.GradBucket`` → future of its tensor): sum the gradients.

    DDP's default hook averages them, but each process's loss is its row block and the blocks
    add up to the batch loss: the batch gradient is the sum over processes, not the mean.
    """
    work = dist.all_reduce(bucket.buffer(), async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


class ShardedSelfExpression:
    """Definition 3's terms of one mini-batch, computed on row shards across all processes.

    Wraps the auto-encoder and h in DistributedDataParallel (summing gradients): after
    ``loss.backward()`` on the terms of :meth:`terms`, every process holds the gradient of the
    whole batch's loss.
    """

    def __init__(self, net: SSCNNetwork, reduction: str = "sum") -> None:
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        self.device = next(net.h.parameters()).device
        module = _RowBlockTerms(net.autoencoder, net.h, reduction)
        device_ids = [self.device.index if self.device.index is not None else torch.cuda.current_device()] \
            if self.device.type == "cuda" else None
        self.ddp = nn.parallel.DistributedDataParallel(module, device_ids=device_ids)
        self.ddp.register_comm_hook(None, _allreduce_sum_hook)

    def terms(self, x: torch.Tensor, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """This process's row block of the terms of batch ``x[idx]`` (the same ``idx`` on every process).

        Summed over processes they are the terms of the whole batch.
        """
        bounds = shard_bounds(int(idx.shape[0]), world_size())
        sizes = tuple(b - a for a, b in zip(bounds[:-1], bounds[1:]))
        r = rank()
        return self.ddp(x[idx[bounds[r]:bounds[r + 1]]].to(self.device, non_blocking=True), sizes)

    @staticmethod
    def batch_values(loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        """The whole batch's loss ("total") and terms as floats: the row blocks all-reduced."""
        values = torch.stack([loss.detach(), *(t.detach() for t in terms.values())])
        dist.all_reduce(values)
        return dict(zip(("total", *terms), values.tolist()))


def sharded_self_expression(net: SSCNNetwork, reduction: str) -> ShardedSelfExpression | None:
    """Row-sharded self-expression terms inside a process group of several processes, else None."""
    return ShardedSelfExpression(net, reduction) if is_distributed() else None


def predict_sharded(model: Predictor, X: Any) -> np.ndarray:
    """``model.predict(X)`` with each process labelling a contiguous block of X.

    Every process gets the full (N,) labels in the original order. Without a process group this
    is ``model.predict(X)``. An error on any process is raised on all of them.
    """
    if not is_distributed():
        return model.predict(X)
    if not hasattr(X, "shape"):
        X = np.asarray(X)
    n, size, r = len(X), world_size(), rank()
    bounds = shard_bounds(n, size)
    error: Exception | None = None
    try:
        if n == 0:
            raise ValueError("X is empty")
        # A process with no rows predicts one and drops it, so that it checks X like the others.
        part = model.predict(X[bounds[r]:bounds[r + 1]]) if bounds[r + 1] > bounds[r] else model.predict(X[:1])[:0]
    except Exception as exc:  # noqa: BLE001 - re-raised below, after telling the other processes
        error, part = exc, np.zeros(0, dtype=np.int64)
    device = _comm_device()
    failed = torch.tensor([0 if error is None else 1], device=device)
    dist.all_reduce(failed)
    if error is not None:
        raise error
    if int(failed.item()):
        raise RuntimeError("predict_sharded failed on another process; see its error")
    width = max(b - a for a, b in zip(bounds[:-1], bounds[1:]))
    padded = torch.full((width,), -1, dtype=torch.int64, device=device)
    padded[:len(part)] = torch.from_numpy(np.asarray(part, dtype=np.int64)).to(device)
    parts = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:b - a] for p, a, b in zip(parts, bounds[:-1], bounds[1:])]).cpu().numpy()
