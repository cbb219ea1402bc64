"""Figures shared by the lessons: training curves, gradient profiles, moving averages (lessons 00–03).

Graphviz diagrams live in :mod:`resnet_edu.diagrams`. ``KIND_COLORS`` gives plain and residual nets the same colours
in every lesson.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

KIND_COLORS = {"plain": "tab:red", "residual": "tab:blue"}


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
