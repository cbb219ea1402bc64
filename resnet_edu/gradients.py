"""Per-layer gradient norms: how the gradient travels from the loss back to the input (lessons 00, 03b, 07, 08).

For a residual block y = x + F(x) the chain rule gives ∂L/∂x = ∂L/∂y · (I + ∂F/∂x) (He et al. 2016,
"Identity Mappings in Deep Residual Networks", Eq. 5): the identity term carries the gradient past every block.
:func:`gradient_profile` measures what actually happens in a given network, one number per weight layer, on a fixed
batch such as :func:`probe_batch`; :func:`stream_rms` measures the size of every block's output. Lesson 03b's
studies built on them live in :mod:`resnet_edu.lessons.lesson03b_gradient_norms`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks, viz
from .runtime import one_thread


@dataclass
class GradientProfile:
    """The gradient norm ‖∂L/∂W‖ of every conv/linear weight, input side first."""

    names: list[str]
    norms: list[float]
    label: str = ""
    kinds: list[str] = field(default_factory=list)  # "conv" or "linear", one per entry

    def __len__(self) -> int:
        return len(self.norms)

    def ratio(self, kind: str | None = None) -> float:
        """First-layer norm divided by last-layer norm (among layers of ``kind``, e.g. ``"conv"``; default all).

        ≫ 1 means the gradient grows toward the input (explodes), ≪ 1 that it vanishes."""
        if kind is not None:
            _checks.choice("kind", kind, ("conv", "linear"))
        norms = self.norms if kind is None else [n for n, k in zip(self.norms, self.kinds) if k == kind]
        if len(norms) < 2:
            raise ValueError(f"need at least two {kind or 'weight'} layers to form a ratio; got {len(norms)}")
        return norms[0] / norms[-1] if norms[-1] > 0 else float("inf")

    def plot(self, ax=None, label: str | None = None, **style):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Draw the profile on a log scale (:func:`resnet_edu.viz.plot_profile`); returns the Axes."""
        return viz.plot_profile(self, ax, label, **style)


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The conv and linear layers of ``model`` in registration order (input side first in every net here)."""
    _checks.module("model", model)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def gradient_profile(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    label: str = "",
) -> GradientProfile:
    """One forward/backward pass; return the gradient norm of each conv/linear weight (input side first).

    ``loss_fn`` defaults to cross-entropy for integer targets and mean squared error otherwise. The model is used
    in its current train/eval mode; its ``.grad`` fields are left as computed.
    """
    layers = weight_layers(model)
    if not layers:
        raise ValueError("model has no Conv2d or Linear layers to profile")
    _checks.tensor("inputs", inputs, expected="a batch the model takes")
    _checks.tensor("targets", targets, expected="class indices (int64) or regression targets (float)")
    if len(inputs) != len(targets):
        raise ValueError(f"inputs and targets must hold the same number of examples; got {len(inputs)} and "
                         f"{len(targets)}")
    first = layers[0][1]
    if isinstance(first, nn.Conv2d) and (inputs.dim() != 4 or inputs.shape[1] != first.in_channels):
        _checks.tensor("inputs", inputs, ndim=4, channels=first.in_channels,
                       expected=f"images (N, {first.in_channels}, H, W) for the model's first conv")
    if loss_fn is not None:
        _checks.function("loss_fn", loss_fn, "loss_fn(outputs, targets) -> scalar")
    if loss_fn is None:
        loss_fn = F.cross_entropy if not torch.is_floating_point(targets) else F.mse_loss
    weights = [m.weight for _, m in layers]
    loss = loss_fn(model(inputs), targets)
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    norms = [float(g.norm()) if g is not None else 0.0 for g in grads]
    kinds = ["conv" if isinstance(m, nn.Conv2d) else "linear" for _, m in layers]
    return GradientProfile([n for n, _ in layers], norms, label, kinds)


@lru_cache(maxsize=8)
def _digits_batch(batch_size: int, size: int, index: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    from .data import digits

    data = digits(size=size, channels=3)
    part = slice(index * batch_size, (index + 1) * batch_size)
    return data.x[part].clone(), data.y[part].clone()


def probe_batch(batch_size: int = 32, size: int = 16, index: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed batch the gradient profiles of lessons 00, 03 and 08 are measured on: the first ``batch_size``
    digit images at ``size``×``size``, 3 channels (scikit-learn's bundled digits, no download), with their labels.
    ``index`` k > 0 gives the k-th next ``batch_size`` images instead (lesson 03's ``depth_study`` with ``draws`` >
    1)."""
    _checks.integer("batch_size", batch_size, low=2, high=1000)
    if isinstance(size, int) and not isinstance(size, bool) and size < 8:
        raise ValueError(f"size must be an integer >= 8 (the digits are 8x8); got {size!r}")
    _checks.integer("size", size, low=8, high=256, lift="Larger images only slow the profile down.")
    _checks.integer("index", index, low=0)
    if index >= 1438 // batch_size:
        raise ValueError(f"index must be at most {1438 // batch_size - 1}: the 1,438 training digits hold "
                         f"{1438 // batch_size} batches of {batch_size}; got {index}")
    return _digits_batch(batch_size, size, index)


def stream_rms(model: nn.Module, x: torch.Tensor) -> list[float]:
    """The RMS of every building block's output in one forward pass, input side first (lessons 00 and 03).

    In a residual net that output is the *stream* the shortcuts carry; in a plain net it is just the block's
    output. The model is run as it is (train or eval mode) without gradients, on one thread.
    """
    from .nets import BuildingBlock

    blocks = [m for m in model.modules() if isinstance(m, BuildingBlock)]
    if not blocks:
        raise ValueError("model has no building blocks (BasicBlock/Bottleneck) whose output could be measured")
    sizes: list[float] = []
    hooks = [b.register_forward_hook(lambda _m, _i, out: sizes.append(float(out.pow(2).mean().sqrt())))
             for b in blocks]
    try:
        with torch.no_grad(), one_thread():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return sizes

