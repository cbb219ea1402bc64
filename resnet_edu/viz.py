"""Figures of the lessons: training curves, gradient profiles, identity and ODE results (lessons 00–05).

Every result object of a lesson module keeps a thin ``.plot()`` that calls the function here, so a notebook writes
``result.plot()`` and all matplotlib code lives in one room. Graphviz diagrams live in :mod:`resnet_edu.diagrams`,
sliders in :mod:`resnet_edu.widgets`. ``KIND_COLORS`` gives plain and residual nets the same colours in every
lesson. The functions take the result objects as they are (duck-typed), so this module imports no lesson module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import _checks

KIND_COLORS = {"plain": "tab:red", "residual": "tab:blue"}
CLASS_COLORS = ("tab:blue", "tab:orange")  # the two spiral classes of lesson 05
PATH_LIMIT = 2.5  # lesson 05's trajectory panel shows the square [-2.5, 2.5]²
MAX_SLIDER_STEPS = 256  # the most blocks lesson 05's step figure draws (each N is a forward pass over a grid)
_LIFT_STEPS = "Set resnet_edu.viz.MAX_SLIDER_STEPS higher if you really want more."


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


# --- lesson 02: identity mapping ---


def plot_identity_gap(gap: Any, ax=None):  # noqa: ANN001, ANN201
    """Bar chart of max |out − x| for each block of
    :class:`~resnet_edu.lessons.lesson02_identity_mapping.IdentityGap`."""
    ax = axes(ax, figsize=(7, 3))
    labels, values = zip(*gap.rows(), strict=True)
    colors = [KIND_COLORS["plain" if label.startswith("plain") else "residual"] for label in labels]
    bars = ax.barh(labels, values, color=colors)
    ax.bar_label(bars, fmt="%.3g", padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("max |block(x) − x| at initialisation")
    ax.set_title("Which block starts as the identity mapping?")
    ax.set_xlim(0, max(values) * 1.25 + 1e-9)
    return ax


def plot_identity_learning(study: Any, smooth: int = 20):  # noqa: ANN201
    """Left: final loss against k (log scale). Right: the training curves
    (:class:`~resnet_edu.lessons.lesson02_identity_mapping.IdentityLearning`)."""
    import matplotlib.pyplot as plt

    smooth = _checks.integer("smooth", smooth, low=1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for kind in study.kinds():
        left.plot(study.ks, [study.loss(kind, k) for k in study.ks], "o-", color=KIND_COLORS[kind], label=kind)
    left.axhline(1.0, ls=":", color="gray", label="output 0 (MSE = Var x = 1)")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xticks(study.ks, [str(k) for k in study.ks])
    left.set_xlabel("number of stacked units k")
    left.set_ylabel("test MSE(net(x), x) after training")
    left.set_title("Learning the identity mapping")
    left.grid(True, which="both", alpha=0.3)
    left.legend()
    styles = ["-", "--", ":", "-."]
    for i, k in enumerate(study.ks):
        for kind in study.kinds():
            curve = moving_average(study.curves[(kind, k)], smooth)
            right.plot(curve, styles[i % len(styles)], color=KIND_COLORS[kind], label=f"{kind} k={k}")
    right.set_yscale("log")
    right.set_xlabel("Adam step")
    right.set_ylabel(f"training MSE (moving average of {smooth})")
    right.set_title("Training curves")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def _fmt(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def plot_correction(result: Any):  # noqa: ANN201
    """F(x) per component over the steps, with y − x dashed; the loss on a log scale
    (:class:`~resnet_edu.lessons.lesson02_identity_mapping.Correction`)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    plain = result.kind == "plain"
    for i, target in enumerate(result.expected()):
        line = left.plot([h[i] for h in result.history], label=f"{'H' if plain else 'F'}(x)[{i}]")[0]
        label = f"y[{i}] = {target:+.2f}" if plain else f"y[{i}] − x[{i}] = {target:+.2f}"
        left.axhline(target, ls="--", color=line.get_color(), alpha=0.7, label=label)
    left.set_xlabel("training step")
    left.set_ylabel("H(x) (plain unit)" if plain else "F(x)")
    left.set_title(f"x = {_fmt(result.x)}, y = {_fmt(result.y)}: " +
                   ("the plain unit must build y from scratch" if plain else "F(x) learns the correction y − x"))
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    right.semilogy([max(v, 1e-16) for v in result.losses])
    right.set_xlabel("training step")
    right.set_ylabel("loss = MSE(H(x), y)")
    right.set_title("The only signal: loss(H(x), y)")
    right.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


# --- lesson 03: the gradient path ---


def plot_depth_study(study: Any):  # noqa: ANN201 (matplotlib Figure)
    """One panel per depth: plain and residual profiles on a shared log scale
    (:class:`~resnet_edu.gradients.DepthStudy`)."""
    import matplotlib.pyplot as plt

    fig, panels = plt.subplots(1, len(study.depths), figsize=(4 * len(study.depths), 3.4), sharey=True)
    panels = np.atleast_1d(panels)
    for ax, depth in zip(panels, study.depths):
        for kind, color in KIND_COLORS.items():
            p = study.profiles[kind, depth]
            plot_profile(p, ax=ax, label=f"{p.label} ({p.ratio('conv'):.2g}×)", color=color, markersize=3)
        ax.set_title(f"depth {depth}")
        if ax is not panels[0]:
            ax.set_ylabel("")
    fig.suptitle("Gradient norm per layer at init " + ("with" if study.batch_norm else "without") +
                 " BatchNorm (legend: first/last conv ratio; ★ = the linear classifier)")
    fig.tight_layout()
    return fig


def plot_mlp_study(study: Any):  # noqa: ANN201 (matplotlib Figure)
    """Left: gradient norm per layer (backward pass). Right: activation RMS per layer (forward pass)
    (:class:`~resnet_edu.gradients.MLPStudy`)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4))
    for kind, color in KIND_COLORS.items():
        plot_profile(study.profiles[kind], ax=left, color=color, markersize=2)
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


def plot_jacobian(check: Any):  # noqa: ANN201 (matplotlib Figure)
    """Three heat maps: ∂y/∂x, ∂F/∂x, and their difference (≈ I, the identity path)
    (:class:`~resnet_edu.gradients.JacobianCheck`)."""
    import matplotlib.pyplot as plt

    fig, panels = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
    maps = (("∂y/∂x (autograd)", check.jacobian), ("∂F/∂x", check.jacobian_f),
            ("∂y/∂x − D·∂F/∂x  (= D·I)", check.identity_part))
    for ax, (title, m) in zip(panels, maps):
        im = ax.imshow(m.numpy(), cmap="RdBu_r", vmin=-1.5, vmax=1.5)
        ax.set_title(title)
        ax.set_xlabel("input coordinate j")
    panels[0].set_ylabel("output coordinate i")
    fig.colorbar(im, ax=panels, shrink=0.8)
    fig.suptitle(f"Jacobian of one residual block ({check.block})")
    return fig


# --- lesson 05: the ODE view ---


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
