"""Generic figure machinery every lesson uses: :func:`axes`, :func:`moving_average`, gradient profiles
(:func:`plot_profile`, :func:`plot_profiles`) and training curves (:func:`plot_curves`).

A lesson's own figures live in its module (``result.plot()``), built from these. Graphviz diagrams live in
:mod:`resnet_edu.diagrams`, slider apps in :mod:`resnet_edu.widgets`. ``KIND_COLORS`` gives plain and residual nets
the same colours in every lesson.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import _checks

KIND_COLORS = {"plain": "tab:red", "residual": "tab:blue"}


def axes(ax=None, figsize: tuple[float, float] = (7, 3.5)):  # noqa: ANN001, ANN201 (matplotlib Axes)
    """``ax`` itself, or a new figure's Axes of ``figsize`` when ``ax`` is None (every ``.plot(ax=None)`` here)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    elif not hasattr(ax, "plot"):
        raise TypeError(f"ax must be a matplotlib Axes (or None for a new figure); got {type(ax).__name__}")
    return ax


# --- shared: curves and gradient profiles (lessons 00, 01, 03) ---


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average (the first points average what exists so far).

    ``values`` are data, not settings: a NaN or inf (a diverged run) is kept and shows in every window that holds
    it, so the curve shows the divergence instead of hiding it."""
    values = [_real("every value", v) for v in _checks.sequence("values", values, min_len=0)]
    window = _checks.integer("window", window, low=1)
    if not values:
        return []
    data = np.asarray(values, dtype=float)
    bad = ~np.isfinite(data)
    sums = np.concatenate([[0.0], np.cumsum(np.where(bad, 0.0, data))])
    bads = np.concatenate([[0], np.cumsum(bad)])
    end = np.arange(1, len(data) + 1)
    start = np.maximum(end - window, 0)
    means = (sums[end] - sums[start]) / (end - start)
    return np.where(bads[end] > bads[start], np.nan, means).tolist()


def _real(name: str, value: object) -> float:
    """A real number (NaN and inf allowed: measured data), not a string or bool."""
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number; got {value!r:.60} ({type(value).__name__})")
    try:
        return float(value)
    except OverflowError:  # an int past every float, e.g. 10**400: as measured data, ±inf
        return math.inf if value > 0 else -math.inf


def plot_profile(profile: Any, ax=None, label: str | None = None, **style: Any):  # noqa: ANN001, ANN201
    """One :class:`~resnet_edu.gradients.GradientProfile` on a log scale (layer index → gradient norm)."""
    from matplotlib.ticker import MaxNLocator

    ax = axes(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    (line,) = ax.plot(range(1, len(profile.norms) + 1), profile.norms, marker=".",
                      label=label or profile.label or None, **style)
    if profile.kinds and profile.kinds[-1] == "linear" and "conv" in profile.kinds:  # a conv net's classifier
        n = len(profile.norms)
        ax.plot([n], [profile.norms[-1]], marker="*", ms=11, color=line.get_color(), ls="none")
        ax.annotate("classifier", (n, profile.norms[-1]), textcoords="offset points", xytext=(-8, 8), ha="right",
                    fontsize=8, color=line.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("weight layer (1 = next to the input)")
    ax.set_ylabel("gradient norm ‖∂L/∂W‖")
    ax.set_title("Per-layer gradient norms")
    if label or profile.label:
        ax.legend()
    ax.grid(True, which="both", alpha=0.3)
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
    profiles = _checks.sequence("profiles", profiles)
    ax = axes(ax)
    for profile in profiles:
        if not hasattr(profile, "norms"):
            raise TypeError(f"profiles must hold GradientProfile objects; got {type(profile).__name__}")
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
    if not isinstance(results, Mapping) or not results:
        raise TypeError(f"results must be a non-empty dict {{label: FitResult}}; got {type(results).__name__}")
    smooth = _checks.integer("smooth", smooth, low=1)
    ax = axes(ax)
    for label, result in results.items():
        if not hasattr(result, metric):
            raise ValueError(f"metric {metric!r} is not recorded by {type(result).__name__} {label!r}")
        values: Sequence[float] = getattr(result, metric)
        ax.plot(range(1, len(values) + 1), moving_average(values, smooth), label=label)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"training {metric}" + (f" (moving average of {smooth})" if smooth > 1 else ""))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


