"""Per-layer gradient norms: how the gradient travels from the loss back to the input (lessons 00 and 03).

For a residual block y = x + F(x) the chain rule gives ∂L/∂x = ∂L/∂y · (I + ∂F/∂x) (He et al. 2016,
"Identity Mappings in Deep Residual Networks", Eq. 5): the identity term carries the gradient past every block.
:func:`gradient_profile` measures what actually happens in a given network, one number per weight layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


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
        norms = [n for n, k in zip(self.norms, self.kinds) if kind is None or k == kind]
        if len(norms) < 2:
            raise ValueError(f"need at least two {kind or 'weight'} layers to form a ratio; got {len(norms)}")
        return norms[0] / norms[-1] if norms[-1] > 0 else float("inf")

    def plot(self, ax=None, label: str | None = None, **style):  # noqa: ANN001 (matplotlib Axes)
        """Draw the profile on a log scale (layer index → gradient norm); returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(range(1, len(self.norms) + 1), self.norms, marker=".", label=label or self.label or None, **style)
        ax.set_yscale("log")
        ax.set_xlabel("weight layer (1 = next to the input)")
        ax.set_ylabel("gradient norm ‖∂L/∂W‖")
        ax.set_title("Per-layer gradient norms")
        if label or self.label:
            ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        return ax


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The conv and linear layers of ``model`` in registration order (input side first in every net here)."""
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
    if loss_fn is None:
        loss_fn = F.cross_entropy if not torch.is_floating_point(targets) else F.mse_loss
    weights = [m.weight for _, m in layers]
    loss = loss_fn(model(inputs), targets)
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    norms = [float(g.norm()) if g is not None else 0.0 for g in grads]
    kinds = ["conv" if isinstance(m, nn.Conv2d) else "linear" for _, m in layers]
    return GradientProfile([n for n, _ in layers], norms, label, kinds)
