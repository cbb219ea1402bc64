"""Plots and diagrams shared by the lessons: training curves, gradient profiles, autograd graphs (lessons 00–03)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

GRAPHVIZ_FIX = (
    "Graphviz's `dot` program is not installed, so diagrams cannot be drawn. Install it with one of: "
    "`sudo apt-get install graphviz` (Debian/Ubuntu/Colab), `conda install graphviz`, `brew install graphviz` "
    "(macOS); then restart the kernel."
)


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` binary is not on PATH."""


def require_dot() -> str:
    """Return the path of Graphviz's ``dot``; raise :class:`GraphvizMissing` naming the fix when it is absent."""
    path = shutil.which("dot")
    if path is None:
        raise GraphvizMissing(GRAPHVIZ_FIX)
    return path


def show(graph: Any) -> bool:
    """Display a ``graphviz`` diagram when ``dot`` is installed; otherwise print how to install it. Returns whether
    it was drawn. Building a diagram needs no ``dot`` (lessons assert on its structure either way)."""
    if shutil.which("dot") is None:
        print(GRAPHVIZ_FIX)
        return False
    from IPython.display import display

    display(graph)
    return True


def autograd_graph(output: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None, **kwargs: Any):  # noqa: ANN201
    """The autograd graph behind ``output`` as a ``graphviz.Digraph`` (torchviz's ``make_dot``).

    ``params`` (e.g. ``dict(model.named_parameters())``) labels the weight leaves. Rendering needs ``dot``.
    """
    require_dot()
    from torchviz import make_dot

    return make_dot(output, params=dict(params) if params is not None else None, **kwargs)


def axes(ax=None, figsize: tuple[float, float] = (7, 3.5)):  # noqa: ANN001, ANN201 (matplotlib Axes)
    """``ax`` itself, or a new figure's Axes of ``figsize`` when ``ax`` is None (every ``.plot(ax=None)`` here)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_profiles(profiles: Iterable[Any], ax=None, title: str = "Per-layer gradient norms at initialisation"):  # noqa: ANN001, ANN201
    """Overlay several :class:`~resnet_edu.gradients.GradientProfile` (e.g. plain vs residual) on a log scale."""
    ax = axes(ax)
    for profile in profiles:
        profile.plot(ax=ax)
    ax.set_title(title)
    return ax


def plot_curves(
    results: Mapping[str, Any],
    ax=None,  # noqa: ANN001
    metric: str = "loss",
    smooth: int = 10,
    title: str = "Training loss",
):  # noqa: ANN201
    """Overlay training curves of several :class:`~resnet_edu.train.FitResult` keyed by label.

    ``smooth`` is a moving-average window in steps (1 = raw)."""
    ax = axes(ax)
    for label, result in results.items():
        values: Sequence[float] = getattr(result, metric)
        ax.plot(range(1, len(values) + 1), moving_average(values, smooth), label=label)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"training {metric}" + (f" (moving average of {smooth})" if smooth > 1 else ""))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average (the first points average what exists so far)."""
    if window < 1:
        raise ValueError(f"window must be >= 1; got {window}")
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
