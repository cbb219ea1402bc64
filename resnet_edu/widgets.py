"""ipywidgets machinery for the interactive lessons: :class:`SliderApp`, the one app class every slider uses.

:class:`SliderApp` is the shared plumbing: controls that only fire when released (``continuous_update=False``,
so dragging does not queue a redraw per intermediate value), one output area that is redrawn per change, the
time each update took, and a one-line marker such as ``rendered depth=56 residual=True bn=True`` printed after
each redraw, which learners read and the browser test waits for. The apps themselves live with their lessons
(lesson 03's ``depth_explorer``, lesson 05's ``step_explorer``); the web book renders any of them statically
(:mod:`resnet_edu.static`).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

from . import _checks


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
