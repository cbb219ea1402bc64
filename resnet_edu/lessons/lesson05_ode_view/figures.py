"""Lesson 05's figures and its step slider: the Euler polygons, the convergence plot, and a trained weight-tied
ODE net run with N Euler blocks (decision boundary, trajectories, accuracy against N), drawn once and redrawn fast.

They read the results of :mod:`resnet_edu.lessons.lesson05_ode_view` as they are (``result.view(N)``, ``.model``,
…); each result's ``.plot()`` calls the function here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import _checks
from ...viz import axes
from ...widgets import SliderApp

CLASS_COLORS = ("tab:blue", "tab:orange")  # the two spiral classes
PATH_LIMIT = 2.5  # the trajectory panel shows the square [-2.5, 2.5]²
MAX_SLIDER_STEPS = 256  # the most blocks the step figure draws (each N is a forward pass over a grid)
_LIFT_STEPS = "Set resnet_edu.lessons.lesson05_ode_view.figures.MAX_SLIDER_STEPS higher if you really want more."


def plot_convergence(result: Any, ax=None):  # noqa: ANN001, ANN201
    """Error against N on log-log axes, one line per method, with the measured slope in the legend
    (:class:`~resnet_edu.lessons.lesson05_ode_view.Convergence`)."""
    ax = axes(ax, figsize=(6.5, 4))
    for name, errs in result.errors.items():
        ax.loglog(result.steps, errs, marker="o", label=f"{name}: measured order {result.orders[name]:.2f}")
    ax.set_xticks(result.steps, [str(n) for n in result.steps])
    ax.minorticks_off()
    ax.set_xlabel("N (number of residual blocks, h = T/N)")
    ax.set_ylabel("error ‖x_N − x(T)‖ (max over points)")
    ax.set_title(f"The N-step residual stack converges to the ODE solution (T = {result.T:g})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax


def plot_euler_polygons(polygons: Any, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
    """Lesson 05: the vector field f as arrows, the exact trajectory of dx/dt = f(x) and the Euler polygons of an
    :class:`~resnet_edu.lessons.lesson05_ode_view.EulerPolygons` — each corner is one residual block's output."""
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


def plot_flow_steps(result: Any, steps: Sequence[int] = (1, 2, 4, 16, 48)):  # noqa: ANN201
    """Small multiples: the trajectories and the boundary for several N side by side
    (:meth:`resnet_edu.lessons.lesson05_ode_view.FlowResult.plot_steps`). Returns the Figure."""
    import matplotlib.pyplot as plt

    steps = [_checks.integer("every N in steps", n, low=1, high=MAX_SLIDER_STEPS, lift=_LIFT_STEPS)
             for n in _checks.sequence("steps", steps)]
    fig, grid = plt.subplots(2, len(steps), figsize=(2.6 * len(steps), 5.2), squeeze=False)
    for col, n in enumerate(steps):
        v = result.view(n)
        _Boundary(grid[0, col], v, result.test).update(v, f"N = {n}: accuracy {v.accuracy:.1%}")
        _Paths(grid[1, col], v, result.model, legend=False).update(v, f"N = {n}: paths (h = {result.model.T / n:.3g})")
    fig.suptitle("The same trained f run with N Euler steps: the picture settles as N grows")
    fig.tight_layout()
    fig.colorbar(grid[0, 0].images[0], ax=list(grid[0]), shrink=0.85, pad=0.01, label="P(orange) = P(class 1)")
    return fig


def plot_losses(losses: Sequence[float], ax=None, title: str = "Training the weight-tied ODE net"):  # noqa: ANN001, ANN201
    """The training loss per step."""
    losses = _checks.sequence("losses", losses)
    ax = axes(ax, figsize=(6, 3))
    ax.plot(losses)
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return ax


class _Boundary:
    """Input-plane panel: P(class 1) as an image, the 0.5 contour (the decision boundary), the test points."""

    def __init__(self, ax, v: Any, data: Any) -> None:  # noqa: ANN001 (v: ode.StepView, data: ode.Points)
        self.ax = ax
        self.image = ax.imshow(v.grid_prob, extent=v.extent, origin="lower", cmap="coolwarm", vmin=0, vmax=1,
                               alpha=0.55, interpolation="bilinear")
        self.contour = None
        x, y = data.x[:300].numpy(), data.y[:300].numpy()
        ax.scatter(x[:, 0], x[:, 1], s=5, c=[CLASS_COLORS[c] for c in y], linewidths=0)
        ax.set_xlim(v.extent[:2])
        ax.set_ylim(v.extent[2:])
        ax.set_aspect("equal")
        ax.set_xlabel("x₁ (input)")
        ax.set_ylabel("x₂ (input)")
        self.title = ax.set_title("", fontsize=9)
        self.update(v, "")

    def update(self, v: Any, title: str) -> None:
        self.image.set_data(v.grid_prob)
        if self.contour is not None:
            self.contour.remove()
        self.contour = self.ax.contour(v.grid_prob, levels=[0.5], extent=v.extent, origin="lower", colors="k",
                                       linewidths=1)
        self.title.set_text(title)


class _Paths:
    """State panel: each sample point's path x₀ → x₁ → … → x_N, its end point, and the read-out's line."""

    def __init__(self, ax, v: Any, model: Any, legend: bool = True) -> None:  # noqa: ANN001 (ode.StepView, ode.ODENet)
        from matplotlib.collections import LineCollection

        self.lines, self.starts, self.ends = [], [], []
        for c in (0, 1):
            color = CLASS_COLORS[c]
            self.lines.append(ax.add_collection(LineCollection([], colors=color, linewidths=0.7, alpha=0.6)))
            self.starts.append(ax.scatter([], [], s=6, color=color, alpha=0.5, linewidths=0))
            self.ends.append(ax.scatter([], [], s=16, color=color, edgecolors="k", linewidths=0.4))
        w, b = model.readout.weight.detach(), model.readout.bias.detach()
        dw, db = (w[1] - w[0]).numpy(), float(b[1] - b[0])  # read-out boundary: dw·x + db = 0
        t = np.linspace(-PATH_LIMIT, PATH_LIMIT, 2)
        if abs(dw[1]) > abs(dw[0]):
            ax.plot(t, -(dw[0] * t + db) / dw[1], "k--", lw=1, label="read-out boundary")
        else:
            ax.plot(-(dw[1] * t + db) / dw[0], t, "k--", lw=1, label="read-out boundary")
        ax.set_xlim(-PATH_LIMIT, PATH_LIMIT)
        ax.set_ylim(-PATH_LIMIT, PATH_LIMIT)
        ax.set_aspect("equal")
        ax.set_xlabel("state x₁")
        ax.set_ylabel("state x₂")
        if legend:
            ax.legend(loc="lower right", fontsize=7)
        self.title = ax.set_title("", fontsize=9)
        self.update(v, "")

    def update(self, v: Any, title: str) -> None:
        for c in (0, 1):
            p = v.paths[:, v.path_labels == c]  # (N + 1, P_c, 2)
            self.lines[c].set_segments(list(np.swapaxes(p, 0, 1)))
            self.starts[c].set_offsets(p[0])
            self.ends[c].set_offsets(p[-1])
        self.title.set_text(title)


class StepFigure:
    """Lesson 05's three panels (:meth:`resnet_edu.lessons.lesson05_ode_view.FlowResult.plot`)
    for N steps — decision boundary in the input plane, points flowing through the
    N blocks, test accuracy against N — built once; :meth:`draw` only swaps the data, so a redraw is fast."""

    def __init__(self, result: Any, max_steps: int = 48) -> None:
        from matplotlib.figure import Figure
        from matplotlib.ticker import NullFormatter

        self.result = result
        self.max_steps = _checks.integer("max_steps", max_steps, low=1, high=MAX_SLIDER_STEPS, lift=_LIFT_STEPS)
        start = min(result.model.steps, self.max_steps)
        first = result.view(start)
        self.figure = fig = Figure(figsize=(12, 3.9), dpi=72)
        axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.15]})
        self.boundary = _Boundary(axes[0], first, result.test)
        fig.colorbar(self.boundary.image, ax=axes[0], shrink=0.8, label="P(orange)")
        self.paths = _Paths(axes[1], first, result.model)
        ax = axes[2]
        ns = list(range(1, self.max_steps + 1))
        ax.plot(ns, result.accuracy_curve(ns), color="0.3", lw=1.2)
        (self.now,) = ax.plot([], [], "o", color="tab:red")
        lo, hi = result.train_steps
        ax.axvspan(lo, hi, color="tab:green", alpha=0.12, label=f"N used in training ({lo}–{hi})")
        ax.axhline(0.95, color="tab:red", ls=":", lw=1, label="95 %")
        ax.set_xscale("log")
        ticks = [n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256) if n <= self.max_steps]
        ax.set_xticks(ticks, [str(n) for n in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(0.4, 1.02)
        ax.set_xlabel("N (number of blocks)")
        ax.set_ylabel("test accuracy")
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(True, which="major", alpha=0.3)
        self.accuracy_title = ax.set_title("", fontsize=9)
        self.draw(start)
        fig.tight_layout()  # once: the layout stays fixed for every N
        fig.set_layout_engine(None)  # ... so that savefig does not lay it out again (a second draw, same pixels)

    def draw(self, steps: int):  # noqa: ANN201
        """Show N = ``steps``; returns the Figure."""
        n = _checks.integer("steps", steps, low=1, high=MAX_SLIDER_STEPS, lift=_LIFT_STEPS)
        v = self.result.view(n)
        h = self.result.model.T / n
        self.boundary.update(v, f"Decision boundary in the input plane, N = {n}")
        self.paths.update(v, f"Points flowing through N = {n} blocks (h = {h:.3g})")
        self.now.set_data([n], [v.accuracy])
        self.accuracy_title.set_text(f"Test accuracy against N: {v.accuracy:.1%} at N = {n}")
        return self.figure


def step_explorer(result: Any, steps: int | None = None, max_steps: int = 48) -> SliderApp:
    """Lesson 05's slider app: N (``steps``, 1…``max_steps``) → decision boundary, trajectories and accuracy of
    the trained net (a :class:`resnet_edu.lessons.lesson05_ode_view.FlowResult`) run with N Euler blocks, drawn by
    :class:`StepFigure`. Returns a :class:`resnet_edu.widgets.SliderApp`; each redraw prints
    ``rendered steps=N (… ms)``."""
    import ipywidgets as W

    if not (callable(getattr(result, "view", None)) and hasattr(getattr(result, "model", None), "steps")):
        raise TypeError("result must be what edu.lessons.lesson05_ode_view.train_ode_net() returns (a FlowResult); "
                        f"got {type(result).__name__}")
    max_steps = _checks.integer("max_steps", max_steps, low=1, high=MAX_SLIDER_STEPS, lift=_LIFT_STEPS)
    if steps is None:
        value = min(result.model.steps, max_steps)
    else:
        value = _checks.integer("steps", steps, low=1)
        if value > max_steps:
            raise ValueError(f"steps={value} is above max_steps={max_steps}; pick steps <= max_steps")
    picture = StepFigure(result, max_steps)  # built once; each update swaps the data of N's view
    slider = W.IntSlider(value=value, min=1, max=max_steps, step=1, description="steps N",
                         style={"description_width": "initial"}, layout=W.Layout(width="480px"))
    png = {"pil_kwargs": {"compress_level": 1}}  # fixed layout: no tight bbox; fast PNG compression
    return SliderApp({"steps": slider}, picture.draw, savefig_kwargs=png, precompute=8,  # N ± 4 drawn ahead
                     lookahead=max_steps,  # then every N, while the learner reads
                     title="ODE view: run the trained weight-tied net with N Euler steps (h = T/N)")
