"""Figures shared by the lessons: training curves, gradient profiles, moving averages (lessons 00–03).

Graphviz diagrams live in :mod:`resnet_edu.diagrams`. ``KIND_COLORS`` gives plain and residual nets the same colours
in every lesson.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

KIND_COLORS = {"plain": "tab:red", "residual": "tab:blue"}


def axes(ax=None, figsize: tuple[float, float] = (7, 3.5)):  # noqa: ANN001, ANN201 (matplotlib Axes)
    """``ax`` itself, or a new figure's Axes of ``figsize`` when ``ax`` is None (every ``.plot(ax=None)`` here)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def kind_of(label: str) -> str | None:
    """"plain" or "residual" from a label such as "plain-20" or "ResNet-56" (None when it names neither)."""
    low = label.lower()
    if low.startswith("plain"):
        return "plain"
    if low.startswith(("resnet", "residual")):
        return "residual"
    return None


def plot_profiles(profiles: Iterable[Any], ax=None, title: str = "Per-layer gradient norms at initialisation"):  # noqa: ANN001, ANN201
    """Overlay several :class:`~resnet_edu.gradients.GradientProfile` (e.g. plain vs residual) on a log scale;
    a profile labelled plain-… / ResNet-… gets its ``KIND_COLORS`` colour."""
    ax = axes(ax)
    for profile in profiles:
        kind = kind_of(profile.label)
        profile.plot(ax=ax, **({"color": KIND_COLORS[kind]} if kind else {}))
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


def plot_stream(study: Any, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
    """Lesson 03: mean square of every block's output at init (a :class:`~resnet_edu.gradients.StreamStudy`),
    plain vs residual, with the stage boundaries (where option-A shortcuts subsample and zero-pad) marked."""
    ax = axes(ax, figsize=(7.5, 3.6))
    n = study.blocks_per_stage
    for kind, values in study.mean_square.items():
        ax.plot(range(1, len(values) + 1), values, marker=".", color=KIND_COLORS[kind],
                label=f"{'ResNet' if kind == 'residual' else 'plain'}-{study.depth}")
    for boundary in (n + 0.5, 2 * n + 0.5):
        ax.axvline(boundary, color="grey", ls=":", lw=1)
    ax.text(n + 0.7, ax.get_ylim()[1] * 0.92, "new stage: subsample,\nzero-pad channels", fontsize=8, va="top")
    ax.set_xlabel("block (1 = next to the input)")
    ax.set_ylabel("mean square of the block's output")
    ax.set_title("The residual stream grows linearly with depth at init (BN); plain blocks stay put")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def plot_euler_polygons(polygons: Any, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
    """Lesson 05: the vector field f as arrows, the exact trajectory of dx/dt = f(x) and the Euler polygons of an
    :class:`~resnet_edu.ode.EulerPolygons` — each corner is one residual block's output."""
    import matplotlib.pyplot as plt

    ax = axes(ax, figsize=(6.5, 5.5))
    gx, gy, u, v = polygons.grid
    ax.quiver(gx, gy, u, v, color="0.6", angles="xy", width=0.003)
    ax.plot(*polygons.exact.T, color="k", lw=2.2, label=f"exact x(t), 0 ≤ t ≤ {polygons.T:g}")
    colours = plt.cm.plasma(np.linspace(0.1, 0.8, len(polygons.polygons)))
    for (n, path), colour in zip(polygons.polygons.items(), colours):
        ax.plot(*path.T, "o-", color=colour, ms=4, lw=1.3,
                label=f"N = {n} Euler blocks (h = {polygons.T / n:.3g}): end error {polygons.errors[n]:.2f}")
    ax.plot(*polygons.x0, "ks", ms=7, label="x₀")
    ax.set_aspect("equal")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title("The field f (arrows) and N residual blocks x ← x + h·f(x)")
    ax.legend(fontsize=7, loc="best")
    return ax
