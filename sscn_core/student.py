"""A distilled student (beyond the paper): a small conv net on pixels that reproduces a fitted SSCN.

The accurate model reads images through the wavelet scattering front-end (about 8 MFLOP per
28×28 image), which caps its predict rate on a CPU far below the conv auto-encoder's. After the
fit, :func:`distill` trains a :class:`ConvStudent` on the training images to output the fitted
model's H (the teacher's), with no labels; the teacher's own classifier R then turns the
student's H into clusters, so the student's clusters are the teacher's blocks.

Design, measured on MNIST with 1 CPU thread on a busy 2-core machine (a teacher fitted on 2,000 or
3,000 digits of ``mnist``, as many held-out ``mnist-oos`` digits; ACC on the held-out digits):

- Net: Conv(1→8, k5, s2) → Conv(8→32, k3, s2) → Conv(32→32, k3, s2), ReLU after each, then one
  linear layer to d_H: 0.35 M multiply-adds per 28×28 image; its forward pass ran as fast as the
  conv auto-encoder's encoder with h (0.27 M). A first layer of 16 channels (1.4× the multiply-adds)
  ran about 2× slower and distilled no better; (8, 16, 32) ran faster but fell 0.3 points short of
  the teacher.
- Loss: squared error to the teacher's H (both divided by the RMS norm of the teacher's rows, so the
  term reads the same for every model) plus the KL divergence from the teacher's soft assignment
  (``predict_proba``) to the student's, through the teacher's frozen R. H alone reached 91.1 %
  against the teacher's 92.0 % (2,000 digits); with the KL term the student matched the teacher.
- Augmentation: each training image is moved by its own random shift of at most ``SHIFT`` = 1 pixel
  and keeps the teacher's output on the unshifted image as its target. The teacher is nearly
  invariant to such moves (it keeps 93–98 % of its clusters) but not to 2-pixel diagonal ones
  (19–49 %), so larger shifts would teach the student something else. Targets computed by the
  teacher on 8 shifted copies cost 8 scattering passes over the training set and gave no better
  student (92.2 % vs 92.5 % without, 2,000 digits); the 1-pixel jitter with the unshifted targets
  costs nothing and lifted the student by 1.4–1.5 points (2,000 and 3,000 digits), above the
  teacher: 95.6 % against 94.3 % on 3,000 digits, 95.5 % against 94.9 % on 10,000 (30 epochs; the
  same cluster as the teacher for 96 % of the held-out digits). 10 and 20 epochs on 10,000 digits
  came within 0.2 points of the teacher too, in a third and two thirds of the time.
- Training: Adam (lr 3e-3) on mini-batches of 128, at most ``epochs`` epochs; with a tolerance the
  phase ends once the mean loss of an epoch no longer improves on the best earlier epoch's by
  ``tol`` (:class:`~sscn_core.trainer.Convergence`). The teacher's H of the training images comes
  from features the fit has already computed, so the phase costs no scattering pass.

The fit's "student" phase (``student="conv"``) is :func:`fit_student`.
"""
from __future__ import annotations

import copy
import math
import threading
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .models import SSCNNetwork, SubspaceClassifier, _conv_sizes, reset_parameters
from .trainer import Convergence, Phase, Reporter, cycle_batches, embed_all, steps_per_epoch

KINDS = ("conv",)
CHANNELS = (8, 32, 32)
SHIFT = 1            # pixels of random translation of each training image
BATCH_SIZE = 128
LR = 3e-3
KERNELS = (5, 3, 3)


class ConvStudent(nn.Module):
    """Images (N, H·W) of any shape → an estimate of the teacher's H (N, d_H).

    Three stride-2 convolutions (``channels``, kernels 5, 3, 3, each halving a side rounding up, as
    in :class:`~sscn_core.models.ConvAutoEncoder`) with ReLUs, then a linear head to d_H. The head's
    output is multiplied by the buffer ``scale`` (the RMS norm of the teacher's rows of H on the
    training images), so the net itself learns numbers of order one whatever the teacher's scale.
    """

    kind = "conv"

    def __init__(self, image_shape: tuple[int, int], embed_dim: int,
                 channels: tuple[int, int, int] = CHANNELS) -> None:
        super().__init__()
        height, width = (int(s) for s in image_shape)
        channels = tuple(int(c) for c in channels)
        if height < 1 or width < 1 or int(embed_dim) < 1 or len(channels) != 3 or min(channels) < 1:
            raise ValueError(f"ConvStudent needs a positive image shape, embed_dim and three channel counts, got "
                             f"image_shape={image_shape}, embed_dim={embed_dim}, channels={channels}")
        self.image_shape = (height, width)
        self.embed_dim = int(embed_dim)
        self.channels = channels
        rows, cols = _conv_sizes(height), _conv_sizes(width)
        c1, c2, c3 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(c1, c2, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c2, c3, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
        )
        self.head = nn.Linear(c3 * rows[3] * cols[3], self.embed_dim)
        self.register_buffer("scale", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, H·W), (N, H, W) or (N, 1, H, W) → H (N, d_H); ValueError when the rows of ``x`` are
        not images of the student's shape (a reshape would silently regroup their values)."""
        height, width = self.image_shape
        if x.dim() == 0 or x.numel() != x.shape[0] * height * width:
            raise ValueError(f"the student reads {height}×{width} images ({height * width:,} values each), got "
                             f"input of shape {tuple(x.shape)}")
        return self.head(self.features(x.reshape(-1, 1, height, width))) * self.scale

    def config(self) -> dict[str, Any]:
        """The constructor arguments, for checkpoints."""
        return {"kind": self.kind, "image_shape": list(self.image_shape), "embed_dim": self.embed_dim,
                "channels": list(self.channels)}


def shape_problem(student_shape: Any, image_shape: Any, n_features: int) -> str | None:
    """Why a student reading images of ``student_shape`` cannot serve a model whose rows hold ``n_features``
    values, images of ``image_shape`` (the model's resolved ``image_shape``; None when it records none).

    Parameters
    ----------
    student_shape : sequence of two ints
        The student's (height, width), from its ``config()`` or its ``image_shape``.
    image_shape : sequence of two ints or None
        The model's image shape.
    n_features : int
        Values per row of the model's input (``n_features_in_``).

    Returns
    -------
    str or None
        The problem in words ("the student reads 3×3 images, but …"), or None when the student fits.
    """
    def words(shape: Any) -> str:
        return "×".join(str(side) for side in shape)

    if image_shape is None:
        return (f"the student reads {words(student_shape)} images, but the model records no image shape (its inputs "
                f"are {n_features:,} values per row)")
    if list(student_shape) != list(image_shape) or int(image_shape[0]) * int(image_shape[1]) != n_features:
        return (f"the student reads {words(student_shape)} images, but the model's inputs are {words(image_shape)} "
                f"images ({n_features:,} values per row)")
    return None


def check_fits(student: ConvStudent, image_shape: Any, n_features: int) -> None:
    """Raise ValueError, before anything is predicted, when ``student`` does not read the images of the model
    it serves (:func:`shape_problem`: a student of another shape fails, or regroups the pixels silently)."""
    problem = shape_problem(student.image_shape, image_shape, n_features)
    if problem is not None:
        raise ValueError(f"{problem}: this student does not belong to the model; predict with the teacher "
                         f"(predict_with='teacher') or load the model again")


def build_student(config: dict[str, Any]) -> ConvStudent:
    """Rebuild a student from its ``config()`` dict (as stored in checkpoints)."""
    if config.get("kind") != "conv":
        raise ValueError(f"unknown student kind {config.get('kind')!r}; expected 'conv'")
    return ConvStudent(tuple(config["image_shape"]), int(config["embed_dim"]), tuple(config["channels"]))


def student_parameters(config: dict[str, Any]) -> int:
    """Weights (and the scale buffer) of the student a ``config()`` dict describes, by arithmetic
    alone: what building it would allocate, known before anything is built."""
    if config.get("kind") != "conv":
        raise ValueError(f"unknown student kind {config.get('kind')!r}; expected 'conv'")
    height, width = (int(s) for s in config["image_shape"])
    c1, c2, c3 = (int(c) for c in config["channels"])
    d_h = int(config["embed_dim"])
    convs = (1 * 25 + 1) * c1 + (c1 * 9 + 1) * c2 + (c2 * 9 + 1) * c3
    return convs + (c3 * _conv_sizes(height)[3] * _conv_sizes(width)[3] + 1) * d_h + 1


def multiply_adds(student: ConvStudent) -> int:
    """Multiply-adds of one image's forward pass (convolutions and head)."""
    (height, width), (c1, c2, c3) = student.image_shape, student.channels
    rows, cols = _conv_sizes(height), _conv_sizes(width)
    ins, outs = (1, c1, c2), (c1, c2, c3)
    convs = sum(outs[i] * ins[i] * KERNELS[i] ** 2 * rows[i + 1] * cols[i + 1] for i in range(3))
    return convs + student.head.in_features * student.embed_dim


def jitter(images: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image (N, 1, H, W) moved by its own random offset of at most ``shift`` pixels per axis
    (uniform over the (2·shift + 1)² offsets), with zeros moved in at the border."""
    if shift == 0:
        return images
    n, _, height, width = images.shape
    padded = F.pad(images, (shift, shift, shift, shift))
    offsets = torch.randint(0, 2 * shift + 1, (n, 2), generator=generator).to(images.device)
    out = torch.empty_like(images)
    for dy in range(2 * shift + 1):
        for dx in range(2 * shift + 1):
            rows = ((offsets[:, 0] == dy) & (offsets[:, 1] == dx)).nonzero().flatten()
            if rows.numel():
                out[rows] = padded[rows, :, dy:dy + height, dx:dx + width]
    return out


@torch.no_grad()
def embed_student(student: ConvStudent, classifier: SubspaceClassifier, x: torch.Tensor, device: torch.device,
                  space: str = "h", batch_size: int = 2048) -> torch.Tensor:
    """Forward images ``x`` (N, H·W) through the student in batches; H, H R or the logits on the CPU.

    ``space`` is "h", "rotated" or "logits" (the teacher's classifier R on the student's H).
    """
    if space not in ("h", "rotated", "logits"):
        raise ValueError(f"the student gives 'h', 'rotated' or 'logits', got {space!r}")
    was_training = student.training
    student.eval()
    out = []
    for start in range(0, x.shape[0], batch_size):
        h = student(x[start:start + batch_size].to(device, non_blocking=True))
        part = h if space == "h" else classifier.rotate(h) if space == "rotated" else classifier(h)
        out.append(part.float().cpu())
    student.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def distill(student: ConvStudent, images: torch.Tensor, h_teacher: torch.Tensor, classifier: SubspaceClassifier,
            proba_scale: float, *, epochs: int, tol: float | None, device: torch.device,
            generator: torch.Generator, report: Reporter, stop_flag: threading.Event,
            history: list[dict[str, Any]]) -> tuple[float, Convergence, int]:
    """Train ``student`` to reproduce the teacher on its training ``images`` (N, H·W).

    ``h_teacher`` (N, d_H) is the teacher's H of the images; its soft assignment is
    softmax(``proba_scale`` · R's logits), as ``SSCN.predict_proba``. The loss of a batch is the mean
    squared distance between the student's and the teacher's rows of H, both divided by their RMS
    norm, plus the KL divergence from the teacher's assignment to the student's through the same
    (frozen) R; it is recorded as "total", "distillation" (the H term) and "classifier" (the KL term).
    Returns (seconds, the convergence record, the step budget).
    """
    n = images.shape[0]
    batch = min(BATCH_SIZE, n)
    per_epoch = steps_per_epoch(n, batch)
    budget = epochs * per_epoch
    convergence = Convergence(tol, per_epoch)
    frozen = copy.deepcopy(classifier).requires_grad_(False).to(device)
    h_teacher = h_teacher.float()
    rms = float(h_teacher.pow(2).sum(dim=1).mean().sqrt())
    with torch.no_grad():
        student.scale.fill_(rms if math.isfinite(rms) and rms > 0 else 1.0)
        targets = torch.softmax(frozen(h_teacher.to(device)).double() * proba_scale, dim=1).float().cpu()
    scale = float(student.scale)
    phase = Phase("student", budget, report, stop_flag, history)
    phase.begin()
    opt = torch.optim.Adam(student.parameters(), lr=LR)
    student.train()
    for idx in cycle_batches(n, batch, generator, budget):
        xb = jitter(images[idx].reshape(-1, 1, *student.image_shape), SHIFT, generator).to(device, non_blocking=True)
        h = student(xb)
        regression = ((h - h_teacher[idx].to(device)) / scale).pow(2).sum(dim=1).mean()
        log_p = torch.log_softmax(frozen(h) * proba_scale, dim=1)
        kl = F.kl_div(log_p, targets[idx].to(device), reduction="batchmean")
        loss = regression + kl
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"the student's distillation loss became {loss.item()} at step {phase.step + 1}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        phase.record({"total": loss.item(), "distillation": regression.item(), "classifier": kl.item()})
        if convergence.update(loss.item()):
            break
    student.eval()
    return phase.end(), convergence, budget


def fit_student(net: SSCNNetwork, features: torch.Tensor, pixels: torch.Tensor, image_shape: tuple[int, int],
                proba_scale: float, *, epochs: int, tol: float | None, device: torch.device,
                generator: torch.Generator, report: Reporter, stop_flag: threading.Event,
                history: list[dict[str, Any]]) -> tuple[ConvStudent, float, dict[str, Any], dict[str, Any]]:
    """The fit's "student" phase: distil the fitted network ``net`` (the teacher) into a new
    :class:`ConvStudent` on the training images ``pixels`` (N, H·W) of ``image_shape``, with no labels.

    The teacher's H of the training images comes from their ``features`` (the front-end's, already
    computed by the fit), so the phase costs no further front-end pass; ``proba_scale`` is the teacher's
    (``SSCN.proba_scale_``). Returns (the student, seconds, the convergence summary, the report: its
    agreement, the share of training images that the student puts into the teacher's cluster, with steps,
    size and cost).
    """
    with torch.no_grad():
        h = embed_all(net, features, device, raw=False)
        teacher = net.classifier(h.to(device)).argmax(dim=1).cpu()
    student = ConvStudent(image_shape, h.shape[1])
    reset_parameters(student, generator)
    student.to(device)
    seconds, converge, budget = distill(student, pixels, h, net.classifier, proba_scale, epochs=epochs, tol=tol,
                                        device=device, generator=generator, report=report, stop_flag=stop_flag,
                                        history=history)
    agree = embed_student(student, net.classifier, pixels, device, space="logits").argmax(dim=1)
    record = {
        "agreement": float((agree == teacher).double().mean()), "seconds": seconds, "steps": len(converge.losses),
        "multiply_adds_per_image": multiply_adds(student),
        "n_parameters": sum(p.numel() for p in student.parameters()),
        "note": "agreement: the share of the training images that the student puts into the teacher's cluster"}
    return student, seconds, converge.summary(budget), record
