"""ipywidgets apps for the interactive lessons (lesson 03 depth slider, lesson 05 step slider).

:class:`SliderApp` is the shared plumbing: controls that only fire when released (``continuous_update=False``,
so dragging does not queue a redraw per intermediate value), one output area that is redrawn per change, the
time each update took, and a one-line marker such as ``rendered depth=56 residual=True bn=True`` printed after
each redraw, which learners read and the browser test waits for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class SliderApp:
    """Controls + an output area redrawn by ``render(**values)``, which returns a matplotlib Figure.

    ``app.update(**values)`` runs one redraw without a browser (tests and benchmarks call it) and returns the
    seconds it took; ``app.widget`` is what a notebook displays.
    """

    def __init__(self, controls: dict[str, Any], render: Callable[..., Any], title: str = "") -> None:
        import ipywidgets as W

        self.controls = controls
        self.render = render
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

    def update(self, **overrides: Any) -> float:
        """Redraw for the current control values (with ``overrides`` applied) and return the seconds taken."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        values = {**self.values(), **overrides}
        start = time.perf_counter()
        fig = self.render(**values)
        with self.output:
            self.output.clear_output(wait=True)
            display(fig)
            self.last_seconds = time.perf_counter() - start
            self.last_marker = self.marker(values)
            print(f"{self.last_marker} ({self.last_seconds * 1000:.0f} ms)")
        plt.close(fig)
        return self.last_seconds

    def _on_change(self, _change: dict[str, Any]) -> None:
        self.update()

    def show(self) -> SliderApp:
        """Display the app and draw its first state."""
        from IPython.display import display

        display(self.widget)
        self.update()
        return self

    def _ipython_display_(self) -> None:
        self.show()
