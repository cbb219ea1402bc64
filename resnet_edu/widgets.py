"""ipywidgets apps for the interactive lessons (lesson 03 depth slider, lesson 05 step slider).

:class:`SliderApp` is the shared plumbing: controls that only fire when released (``continuous_update=False``,
so dragging does not queue a redraw per intermediate value), one output area that is redrawn per change, the
time each update took, and a one-line marker such as ``rendered depth=56 residual=True bn=True`` printed after
each redraw, which learners read and the browser test waits for.

:func:`depth_explorer` is lesson 03's app: the gradient-norm profile of a CIFAR net at init (He et al. 2015,
§4.2) for a depth slider, a plain/residual toggle and a BatchNorm switch. :func:`step_explorer` is lesson 05's:
a trained weight-tied ODE net run with N Euler blocks (its figure is :class:`resnet_edu.viz.StepFigure`).
"""

from __future__ import annotations

import contextlib
import io
import math
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

from . import _checks, viz
from .gradients import GradientProfile, cifar_profile, probe_batch
from .nets import check_depth


class SliderApp:
    """Controls + an output area redrawn by ``render(**values)``, which returns a matplotlib Figure.

    ``app.update(**values)`` runs one redraw without a browser (tests and benchmarks call it) and returns the
    seconds it took, including turning the figure into the PNG that is shown; ``app.widget`` is what a notebook
    displays. ``savefig_kwargs`` go to ``Figure.savefig`` (default: a tight bounding box, like Jupyter's inline
    backend).
    """

    def __init__(
        self,
        controls: dict[str, Any],
        render: Callable[..., Any],
        title: str = "",
        savefig_kwargs: dict[str, Any] | None = None,
    ) -> None:
        import ipywidgets as W

        if not isinstance(controls, dict) or not controls:
            raise TypeError(f"controls must be a non-empty dict {{name: widget}}; got {type(controls).__name__}")
        _checks.function("render", render, "render(**values) -> Figure")
        if savefig_kwargs is not None and not isinstance(savefig_kwargs, dict):
            raise TypeError(f"savefig_kwargs must be a dict or None; got {type(savefig_kwargs).__name__}")
        self.controls = controls
        self.title = title
        self.render = render
        self.savefig_kwargs = {"bbox_inches": "tight"} if savefig_kwargs is None else dict(savefig_kwargs)
        self.output = W.Output()
        self.last_seconds: float | None = None
        self.last_marker = ""
        for control in controls.values():
            if hasattr(control, "continuous_update"):
                control.continuous_update = False
            control.observe(self._on_change, names="value")
        header = [W.HTML(f"<b>{title}</b>")] if title else []
        self.widget = W.VBox([*header, W.HBox(list(controls.values())), self.output])

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def marker(self, values: dict[str, Any]) -> str:
        return "rendered " + " ".join(f"{k}={v}" for k, v in values.items())

    def _image(self, fig: Any) -> Any:
        """The figure as a PNG image (rasterised here, so that the time of the update includes it)."""
        from IPython.display import Image

        if not hasattr(fig, "savefig"):
            return fig
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", **self.savefig_kwargs)
        return Image(buffer.getvalue())

    def update(self, **overrides: Any) -> float:
        """Redraw for the current control values (with ``overrides`` applied) and return the seconds taken."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        values = {**self.values(), **overrides}
        start = time.perf_counter()
        fig = self.render(**values)
        image = self._image(fig)
        with self.output:
            self.output.clear_output(wait=True)
            display(image)
            self.last_seconds = time.perf_counter() - start
            self.last_marker = self.marker(values)
            print(f"{self.last_marker} ({self.last_seconds * 1000:.0f} ms)")
        plt.close(fig)
        return self.last_seconds

    def _on_change(self, _change: dict[str, Any]) -> None:
        self.update()

    def time_updates(self, name: str, values: Iterable[Any], repeats: int = 1) -> dict[Any, float]:
        """Seconds per update when control ``name`` takes each of ``values`` (median of ``repeats``), measured
        without a browser and with the printed markers swallowed (benchmarks and lessons' timing cells)."""
        if name not in self.controls:
            raise ValueError(f"name must be one of this app's controls {sorted(self.controls)}; got {name!r}")
        values = _checks.sequence("values", values)
        repeats = _checks.integer("repeats", repeats, low=1, high=100)
        times: dict[Any, float] = {}
        for value in values:
            with contextlib.redirect_stdout(io.StringIO()):
                runs = [self.update(**{name: value}) for _ in range(repeats)]
            times[value] = statistics.median(runs)
        return times

    def show(self) -> SliderApp:
        """Display the app and draw its first state; for the web book (``RESNET_EDU_STATIC=1``) a static page
        with every state pre-rendered instead (:mod:`resnet_edu.static`)."""
        from IPython.display import display

        from . import static

        if static.enabled():
            return static.show(self)
        display(self.widget)
        self.update()
        return self

    def _ipython_display_(self) -> None:
        self.show()


class DepthExplorer(SliderApp):
    """Lesson 03's depth slider: the per-layer gradient norms at init of a plain or residual CIFAR net (He et al.
    2015, §4.2), with or without BatchNorm — with BN the plain net's gradients explode toward the input (as Yang
    et al. 2019 predict), the ResNet's stay within a factor of 100 from first to last conv.

    Controls: ``depth`` (6n+2 from 8 to ``max_depth``; the arrow keys step between valid depths), ``residual``
    (plain / residual) and ``bn`` (BatchNorm on/off). Each state is measured once on :func:`probe_batch` and then
    cached (the profile at init is deterministic for a seed); measuring runs on one CPU thread. The figure is
    built once and only its data change, so that a redraw stays fast.
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
            "depth": W.IntSlider(value=depth, min=8, max=max_depth, step=6, description="depth",
                                 continuous_update=False),
            "residual": W.ToggleButtons(options=[("plain", False), ("residual", True)], value=residual,
                                        style={"button_width": "80px"}, layout=W.Layout(width="auto")),
            "bn": W.Checkbox(value=bn, description="BatchNorm", indent=False, layout=W.Layout(width="auto")),
        }
        super().__init__(controls, self.render_profile,
                         title="Gradient norm per layer at init (He et al. 2015, §4.2 CIFAR nets)",
                         savefig_kwargs={"dpi": 80})

    @property
    def valid_depths(self) -> list[int]:
        slider = self.controls["depth"]
        return list(range(slider.min, slider.max + 1, slider.step))

    def profile(self, depth: int, residual: bool, bn: bool) -> GradientProfile:
        """The (cached) gradient profile of one state of the app."""
        key = (check_depth(depth), _checks.flag("residual", residual), _checks.flag("bn", bn))
        if key not in self.cache:  # cifar_profile runs on one CPU thread
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
    """Lesson 03's depth slider (see :class:`DepthExplorer`); display it with ``.show()``."""
    return DepthExplorer(depth, residual, bn, max_depth, batch_size, size, seed)


def step_explorer(result: Any, steps: int | None = None, max_steps: int = 48) -> SliderApp:
    """Lesson 05's slider app: N (``steps``, 1…``max_steps``) → decision boundary, trajectories and accuracy of
    the trained net (a :class:`resnet_edu.lessons.lesson05_ode_view.FlowResult`) run with N Euler blocks. Returns a
    :class:`SliderApp`;
    each redraw prints ``rendered steps=N (… ms)``.

    ``result`` is read only through what :class:`resnet_edu.viz.StepFigure` draws (``model.steps``, ``view(N)``,
    …), so this core module never imports the lesson module ``ode``."""
    import ipywidgets as W

    if not (callable(getattr(result, "view", None)) and hasattr(getattr(result, "model", None), "steps")):
        raise TypeError("result must be what edu.lessons.lesson05_ode_view.train_ode_net() returns (a FlowResult); "
                        f"got "
                        f"{type(result).__name__}")
    max_steps = _checks.integer("max_steps", max_steps, low=1, high=viz.MAX_SLIDER_STEPS,
                                lift="Set resnet_edu.viz.MAX_SLIDER_STEPS higher if you really want more.")
    if steps is None:
        value = min(result.model.steps, max_steps)
    else:
        value = _checks.integer("steps", steps, low=1)
        if value > max_steps:
            raise ValueError(f"steps={value} is above max_steps={max_steps}; pick steps <= max_steps")
    picture = viz.StepFigure(result, max_steps)  # built once; each update swaps the data of N's view
    slider = W.IntSlider(value=value, min=1, max=max_steps, step=1, description="steps N",
                         style={"description_width": "initial"}, layout=W.Layout(width="480px"))
    png = {"pil_kwargs": {"compress_level": 1}}  # fixed layout: no tight bbox; fast PNG compression
    return SliderApp({"steps": slider}, picture.draw, savefig_kwargs=png,
                     title="ODE view: run the trained weight-tied net with N Euler steps (h = T/N)")
