"""Lesson 03b's figures and its depth slider: the depth study's profiles, the residual stream, the deep MLP's two
passes, and :class:`DepthExplorer` (a :class:`resnet_edu.widgets.SliderApp`).

They read the results of :mod:`resnet_edu.lessons.lesson03b_gradient_norms` as they are (``study.profiles``, …); each
result's ``.plot()`` calls the function here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import _checks, viz
from ...gradients import GradientProfile, probe_batch
from ...nets import check_depth
from ...widgets import SliderApp


def plot_depth_study(study: Any):  # noqa: ANN201 (matplotlib Figure)
    """One panel per depth: plain and residual profiles on a shared log scale (the first draw's nets)."""
    import matplotlib.pyplot as plt

    fig, panels = plt.subplots(1, len(study.depths), figsize=(4 * len(study.depths), 3.4), sharey=True)
    panels = np.atleast_1d(panels)
    for ax, depth in zip(panels, study.depths):
        for kind, color in viz.KIND_COLORS.items():
            p = study.profiles[kind, depth]
            viz.plot_profile(p, ax=ax, label=f"{p.label} ({p.ratio('conv'):.2g}×)", color=color, markersize=3)
        ax.set_title(f"depth {depth}")
        if ax is not panels[0]:
            ax.set_ylabel("")
    fig.suptitle("Gradient norm per layer at init " + ("with" if study.batch_norm else "without") +
                 " BatchNorm (legend: first/last conv ratio; ★ = the linear classifier)")
    fig.tight_layout()
    return fig


def plot_stream(study: Any, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
    """Mean square per block for both kinds, with the stage boundaries (where option-A shortcuts subsample and
    zero-pad) marked."""
    ax = viz.axes(ax, figsize=(7.5, 3.6))
    n = study.blocks_per_stage
    for kind, values in study.mean_square.items():
        ax.plot(range(1, len(values) + 1), values, marker=".", color=viz.KIND_COLORS[kind],
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


def plot_mlp(study: Any):  # noqa: ANN201 (matplotlib Figure)
    """Left: gradient norm per layer (backward pass). Right: activation RMS per layer (forward pass)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4))
    for kind, color in viz.KIND_COLORS.items():
        viz.plot_profile(study.profiles[kind], ax=left, color=color, markersize=2)
        rms = study.activation_rms[kind]
        right.plot(range(1, len(rms) + 1), rms, color=color, marker=".", markersize=2, label=kind)
    left.set_title("backward: gradient norm per layer")
    right.set_yscale("log")
    right.set_xlabel("layer (1 = next to the input)")
    right.set_ylabel("activation RMS")
    right.set_title("forward: size of each layer's output")
    right.grid(True, alpha=0.3)
    right.legend()
    fig.suptitle(f"{study.depth}-layer MLP without BN, init={study.init!r}, branch scale {study.branch_scale:.3g}")
    fig.tight_layout()
    return fig


class DepthExplorer(SliderApp):
    """Lesson 03b's depth slider: the per-layer gradient norms at init of a plain or residual CIFAR net (He et al.
    2015, §4.2), with or without BatchNorm — with BN the plain net's gradients explode toward the input (as Yang
    et al. 2019 predict), the ResNet's stay within a factor of 100 from first to last conv.

    Controls: ``depth`` (6n+2 from 8 to ``max_depth``; the arrow keys step between valid depths), ``residual``
    (plain / residual) and ``bn`` (BatchNorm on/off). Each state is measured once on :func:`probe_batch` and then
    cached (the profile at init is deterministic for a seed), and so is its PNG; measuring runs on one CPU thread.
    The figure is built once and only its data change, so that a redraw stays fast; in a live notebook the states
    next to the one shown are measured in the background (:class:`resnet_edu.widgets.SliderApp`).
    """

    def __init__(
        self,
        depth: int = 56,
        residual: bool = True,
        bn: bool = True,
        max_depth: int = 110,
        batch_size: int = 32,
        size: int = 16,
        seed: int = 0,
    ) -> None:
        import ipywidgets as W

        check_depth(depth)
        check_depth(max_depth)
        if depth > max_depth:
            raise ValueError(f"depth {depth} is above max_depth {max_depth}; pick depth <= max_depth")
        _checks.flag("residual", residual)
        _checks.flag("bn", bn)
        self.batch = probe_batch(batch_size, size)
        self.seed = _checks.seed(seed)
        self.cache: dict[tuple[int, bool, bool], GradientProfile] = {}
        self._figure: Any = None
        controls = {
            "depth": W.IntSlider(value=depth, min=8, max=max_depth, step=6, description="depth"),
            "residual": W.ToggleButtons(options=[("plain", False), ("residual", True)], value=residual,
                                        style={"button_width": "80px"}, layout=W.Layout(width="auto")),
            "bn": W.Checkbox(value=bn, description="BatchNorm", indent=False, layout=W.Layout(width="auto")),
        }
        super().__init__(controls, self.render_profile,
                         title="Gradient norm per layer at init (He et al. 2015, §4.2 CIFAR nets)",
                         savefig_kwargs={"dpi": 80}, precompute=6,  # depth ± 6 and ± 12, each toggle flipped
                         lookahead=4 * len(range(8, max_depth + 1, 6)))  # then every state, while the learner reads

    @property
    def valid_depths(self) -> list[int]:
        slider = self.controls["depth"]
        return list(range(slider.min, slider.max + 1, slider.step))

    def profile(self, depth: int, residual: bool, bn: bool) -> GradientProfile:
        """The (cached) gradient profile of one state of the app."""
        key = (check_depth(depth), _checks.flag("residual", residual), _checks.flag("bn", bn))
        if key not in self.cache:  # cifar_profile runs on one CPU thread
            from . import cifar_profile  # the lesson's measurement (its __init__ imports this module)

            self.cache[key] = cifar_profile(depth, "residual" if residual else "plain", bn, self.batch, self.seed)
        return self.cache[key]

    def _new_figure(self) -> tuple[Any, Any, Any]:
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

        fig = Figure(figsize=(7.5, 3.2))  # not registered with pyplot: never shown twice, reused for every redraw
        fig.subplots_adjust(left=0.11, right=0.98, bottom=0.16, top=0.88)
        ax = fig.add_subplot()
        (line,) = ax.plot([1, 2], [1, 1], marker=".", markersize=4)
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())  # minor ticks over 10 decades cost more than the whole plot
        ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))  # plain text: no mathtext parse per redraw
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("weight layer (1 = next to the input; the last one is the linear classifier)")
        ax.set_ylabel("gradient norm ‖∂L/∂W‖")
        ax.grid(True, alpha=0.3)
        return fig, ax, line

    def render_profile(self, depth: int, residual: bool, bn: bool) -> Any:
        """Draw the profile of one state into the app's figure and return the figure."""
        profile = self.profile(depth, residual, bn)
        if self._figure is None:
            self._figure = self._new_figure()
        fig, ax, line = self._figure
        line.set_data(range(1, len(profile) + 1), profile.norms)
        line.set_color(viz.KIND_COLORS["residual" if residual else "plain"])
        ax.set_xlim(0, len(profile) + 1)
        shown = [n for n in profile.norms if 0 < n < math.inf] or [1.0]  # a log axis cannot show 0 or inf
        low, high = min(shown), max(shown)
        middle = math.sqrt(low * high)
        span = max(math.sqrt(high / low) * 1.5, 10.0)  # at least two decades, so tick labels always show
        ax.set_ylim(middle / span, middle * span)
        ax.set_title(f"{profile.label}: first/last conv gradient = {profile.ratio('conv'):.3g}"
                     f"{'  (explodes toward the input)' if profile.ratio('conv') > 100 else ''}")
        return fig

    def timings(self, depths: tuple[int, ...] = (20, 56, 110), residual: bool = True, bn: bool = True,
                cached: bool = False) -> dict[int, float]:
        """Seconds of one update at each depth (``cached=False`` first forgets that state's profile: a first
        visit), measured with :meth:`SliderApp.time_updates`.

        The ``residual`` and ``bn`` controls are set first, and the figure drawn once if it has not been yet, as
        :meth:`show` does before any slider move, so the numbers are what a learner waits for after moving the
        depth slider."""
        depths = tuple(check_depth(d) for d in _checks.sequence("depths", depths))
        _checks.flag("residual", residual)
        _checks.flag("bn", bn)
        _checks.flag("cached", cached)
        self.controls["residual"].value = residual  # a change redraws once, as a click would
        self.controls["bn"].value = bn
        if self._figure is None:
            self.update(depth=self.controls["depth"].min)  # the cheapest state: only the figure is new here
        seconds = {}
        for depth in depths:
            if not cached:
                self.cache.pop((depth, residual, bn), None)
                self.forget(depth=depth)  # and its PNG
            seconds.update(self.time_updates("depth", [depth]))
        return seconds


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _position: int) -> str:
    """Tick label 10ⁿ in Unicode superscripts (what matplotlib's log axis shows, without mathtext)."""
    if value <= 0:
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) > 1e-6:
        return f"{value:.2g}"
    return "10" + str(round(exponent)).translate(_SUPERSCRIPT)


def depth_explorer(depth: int = 56, residual: bool = True, bn: bool = True, max_depth: int = 110,
                   batch_size: int = 32, size: int = 16, seed: int = 0) -> DepthExplorer:
    """Lesson 03b's depth slider (see :class:`DepthExplorer`); display it with ``.show()``."""
    return DepthExplorer(depth, residual, bn, max_depth, batch_size, size, seed)
