"""ipywidgets machinery for the interactive lessons: :class:`SliderApp`, the one app class every slider uses.

:class:`SliderApp` is the shared plumbing: controls, one output area that shows the figure of the current state,
the time each update took, and a one-line marker such as ``rendered depth=56 residual=True bn=True`` shown under
the plot after each redraw, which learners read and the browser test waits for. The apps themselves live with
their lessons (lesson 03b's ``depth_explorer``, lesson 05's ``step_explorer``, lesson 09's ``lesion_explorer``); the
web book renders any of them statically (:mod:`resnet_edu.static`).

How it keeps up with the hand (issue 33):

* **The last value wins.** In a kernel with a front end (JupyterLab, the classic Notebook, Colab), a control's change
  between cells only notes that a redraw is wanted (whichever thread the kernel handled the message on); one
  background thread redraws for the controls' values *at the time it starts*, and again if they moved meanwhile.
  Changes that arrive during a redraw are skipped, never queued, so sliders can update while being dragged
  (``continuous_update=True``). The thread never runs while a cell runs (IPython's ``pre_run_cell``/``post_run_cell``
  events hold it back), so it never competes with the learner's code for torch's random stream or threads; a change
  made by code in a cell redraws at once, as before.
* **A state already seen costs nothing.** Each state's PNG is kept (``cache_size`` of them), so going
  back to it only puts the stored image on screen. The figure of a state is a pure function of the state, which is
  what every app here guarantees (fixed seeds, evaluation mode).
* **The neighbours are drawn while the learner looks.** After a redraw the thread renders the states nearest to
  it (the slider's next and previous value, each toggle flipped, then two steps away, ...;
  ``precompute`` of them) into the cache, stopping as soon as the learner moves. torch releases
  the GIL, so the kernel stays responsive meanwhile.
* **The rest is drawn while the learner reads.** An app can ask for more (``lookahead``): once it is on screen
  and no cell has run for ``idle_seconds``, the thread goes on to the states further away, nearest first, until
  all of them are ready (lesson 03b's 72 states, lesson 05's 48). A notebook run straight through (nbval, Run All)
  never waits for it: cells follow each other faster than that. A cell that starts meanwhile waits for at most
  the one state being drawn.
* The image reaches the page by setting the Output widget's ``outputs`` (ipywidgets 7 and 8 alike), which works from
  a background thread, unlike ``with output:``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import statistics
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import _checks


def _kernel_shell() -> Any:
    """The IPython shell when this runs in a Jupyter kernel (a front end may be connected), else None."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


class _CellGate:
    """Keeps background redraws and the learner's cells apart: a redraw waits while a cell runs, a cell waits for
    the redraw under way (at most one figure) to finish."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.cell_running = False
        self.last_cell_end = -math.inf  # time.monotonic() when the last cell ended
        self._redraws = 0
        self._shells: list[Any] = []

    def install(self, shell: Any) -> None:
        """Follow ``shell``'s cells. Installed from a running cell, so a cell counts as running until it ends."""
        if any(s is shell for s in self._shells):
            return
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)
        self._shells.append(shell)
        with self._cond:
            self.cell_running = True

    def _pre_run_cell(self, info: Any = None) -> None:
        with self._cond:
            while self._redraws:
                self._cond.wait()
            self.cell_running = True

    def _post_run_cell(self, result: Any = None) -> None:
        with self._cond:
            self.cell_running = False
            self.last_cell_end = time.monotonic()
            self._cond.notify_all()

    @contextlib.contextmanager
    def redraw(self, idle: float = 0.0, cancelled: Callable[[], bool] | None = None) -> Iterator[bool]:
        """Wait until no cell runs and none has ended for ``idle`` seconds, then hold cells back while the ``with``
        block runs. Yields False (run nothing) when ``cancelled()`` became true while waiting."""
        with self._cond:
            while True:
                if cancelled is not None and cancelled():
                    go = False
                    break
                wait = idle - (time.monotonic() - self.last_cell_end)
                if not self.cell_running and wait <= 0:
                    go = True
                    break
                self._cond.wait(0.1 if self.cell_running else min(max(wait, 0.01), 0.1))
            if go:
                self._redraws += 1
        try:
            yield go
        finally:
            if go:
                with self._cond:
                    self._redraws -= 1
                    self._cond.notify_all()


_GATE = _CellGate()


def _neighbours(control: Any, value: Any) -> list[Any]:
    """The values one step from ``value`` on ``control``: slider ± step, a toggle flipped, the adjacent options."""
    if isinstance(value, bool):
        return [not value]
    if all(hasattr(control, a) for a in ("min", "max", "step")) and isinstance(value, int):
        return [v for v in (value + control.step, value - control.step) if control.min <= v <= control.max]
    options = list(getattr(control, "_options_values", ()) or ())
    if value in options:
        i = options.index(value)
        return [options[j] for j in (i + 1, i - 1) if 0 <= j < len(options)]
    return []


class SliderApp:
    """Controls + an output area showing ``render(**values)``, which returns a matplotlib Figure.

    ``app.update(**values)`` runs one redraw now (tests, benchmarks and cells call it) and returns the seconds it
    took, including turning the figure into the PNG that is shown; ``app.widget`` is what a notebook displays.
    ``savefig_kwargs`` go to ``Figure.savefig`` (default: a tight bounding box, like Jupyter's inline backend).
    ``cache_size`` PNGs of states already seen are kept (0: none); ``precompute`` neighbouring states are drawn in
    the background after each redraw when a front end drives the app (0: none), and ``lookahead`` states in all
    (the nearest first; at least ``precompute``) once the app is on screen and the kernel has been idle, no cell
    run, for ``idle_seconds``: an app whose every state fits the cache can draw them all while the learner reads.
    See the module docstring.
    """

    idle_seconds = 1.0  # how long no cell must have run before states are drawn ahead

    def __init__(
        self,
        controls: dict[str, Any],
        render: Callable[..., Any],
        title: str = "",
        savefig_kwargs: dict[str, Any] | None = None,
        cache_size: int = 128,
        precompute: int = 4,
        lookahead: int = 0,
    ) -> None:
        import ipywidgets as W

        if not isinstance(controls, dict) or not controls:
            raise TypeError(f"controls must be a non-empty dict {{name: widget}}; got {type(controls).__name__}")
        _checks.function("render", render, "render(**values) -> Figure")
        if savefig_kwargs is not None and not isinstance(savefig_kwargs, dict):
            raise TypeError(f"savefig_kwargs must be a dict or None; got {type(savefig_kwargs).__name__}")
        self.cache_size = _checks.integer("cache_size", cache_size, low=0, high=100_000)
        self.precompute = _checks.integer("precompute", precompute, low=0, high=1024)
        lookahead = max(self.precompute, _checks.integer("lookahead", lookahead, low=0, high=1024))
        self.lookahead = min(lookahead, max(self.cache_size - 1, 0))  # more would push the nearest out of the cache
        self.controls = controls
        self.title = title
        self.render = render
        self.savefig_kwargs = {"bbox_inches": "tight"} if savefig_kwargs is None else dict(savefig_kwargs)
        self.output = W.Output()
        self.last_seconds: float | None = None
        self.last_cpu_seconds: float | None = None  # CPU time of the thread that drew it (the drawing is 1-threaded)
        self.last_marker = ""
        self.redraws = 0  # redraws shown (the skipped intermediate values do not count)
        self._images: OrderedDict[tuple, bytes] = OrderedDict()
        self._drawing = threading.RLock()  # one render at a time into the app's figure
        self._state = threading.Lock()
        self._wanted = False  # a front end changed a control since the last background redraw began
        self._thread: threading.Thread | None = None
        shell = _kernel_shell()
        if shell is not None:
            _GATE.install(shell)
        for control in controls.values():
            if hasattr(control, "continuous_update"):
                control.continuous_update = True  # stale values are skipped (see the module docstring)
            control.observe(self._on_change, names="value")
        header = [W.HTML(f"<b>{title}</b>")] if title else []
        self.widget = W.VBox([*header, W.HBox(list(controls.values())), self.output])

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def marker(self, values: dict[str, Any]) -> str:
        return "rendered " + " ".join(f"{k}={v}" for k, v in values.items())

    # -- drawing -----------------------------------------------------------------------------------------------
    def _image(self, fig: Any) -> Any:
        """The figure as a PNG image (rasterised here, so that the time of the update includes it)."""
        from IPython.display import Image

        if not hasattr(fig, "savefig"):
            return fig
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", **self.savefig_kwargs)
        return Image(buffer.getvalue())

    @staticmethod
    def _key(values: dict[str, Any]) -> tuple | None:
        key = tuple(values.items())
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def _picture(self, values: dict[str, Any]) -> Any:
        """PNG bytes of the state ``values`` (from the cache when it was drawn before), or what ``render``
        returned when that is not a figure."""
        import matplotlib.pyplot as plt

        key = self._key(values)
        with self._drawing:
            if key is not None and key in self._images:
                self._images.move_to_end(key)
                return self._images[key]
            fig = self.render(**values)
            image = self._image(fig)
            if hasattr(fig, "savefig"):
                plt.close(fig)
        if not isinstance(getattr(image, "data", None), bytes) or getattr(image, "format", "png") != "png":
            return image
        png = image.data
        if key is not None and self.cache_size:
            self._images[key] = png
            while len(self._images) > self.cache_size:
                self._images.popitem(last=False)
        return png

    def forget(self, **values: Any) -> None:
        """Drop the stored image of one state (the current one with ``values`` applied); with no arguments and no
        controls changed, of the current state. Benchmarks call it to time a first visit."""
        key = self._key({**self.values(), **values})
        if key is not None:
            self._images.pop(key, None)

    def clear_cache(self) -> None:
        """Forget every stored image."""
        self._images.clear()

    def _show(self, picture: Any, values: dict[str, Any], start: float, cpu_start: float) -> None:
        self.last_seconds = time.perf_counter() - start
        self.last_cpu_seconds = time.thread_time() - cpu_start
        self.last_marker = self.marker(values)
        line = f"{self.last_marker} ({self.last_seconds * 1000:.0f} ms, {self.last_cpu_seconds * 1000:.0f} ms CPU)"
        self.redraws += 1
        if isinstance(picture, bytes):
            data = {"image/png": base64.b64encode(picture).decode("ascii"), "text/plain": "<Figure>"}
            self.output.outputs = (
                {"output_type": "display_data", "data": data, "metadata": {}},
                {"output_type": "stream", "name": "stdout", "text": line + "\n"},
            )
        else:  # not a figure: let IPython's display show it
            from IPython.display import display

            with self.output:
                self.output.clear_output(wait=True)
                display(picture)
                print(line)
            return
        if _kernel_shell() is None:
            print(line)  # scripts and tests read the marker on stdout

    def update(self, **overrides: Any) -> float:
        """Redraw for the current control values (with ``overrides`` applied) and return the seconds taken."""
        values = {**self.values(), **overrides}
        start, cpu_start = time.perf_counter(), time.thread_time()
        self._show(self._picture(values), values, start, cpu_start)
        return self.last_seconds

    # -- following a front end -----------------------------------------------------------------------------------
    def _on_change(self, _change: dict[str, Any]) -> None:
        # A change between cells comes from a front end, on whichever thread the kernel handles its messages:
        # the main thread in ipykernel 6, a subshell's thread in ipykernel 7 with JupyterLab 4.4+ and ipywidgets
        # 8.1 (drawing there at once queued every value of a drag behind the look-ahead's state under way).
        if _kernel_shell() is None or _GATE.cell_running or threading.current_thread() is self._thread:
            self.update()  # code changed the control (a cell, a script, this app's own thread): draw now
            return
        self.request_redraw()

    def request_redraw(self) -> None:
        """Ask the background thread for a redraw of the controls' values when it next starts one (what a change
        from the front end does); returns at once."""
        with self._state:
            self._wanted = True
            self._start_thread([])

    def look_ahead(self) -> None:
        """Start drawing the states nearest to the current one into the cache in the background, once the kernel
        is idle (what :meth:`show` does in a kernel); returns at once."""
        with self._state:
            self._start_thread(None)

    def _start_thread(self, queue: list[dict[str, Any]] | None) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._follow, args=(queue,), name="SliderApp redraw", daemon=True)
            self._thread.start()

    def wait(self, timeout: float = 60.0) -> bool:
        """Wait until the background thread is done (redraws and precomputed neighbours); False on timeout."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def _follow(self, queue: list[dict[str, Any]] | None) -> None:
        """The background thread: redraw while changes keep coming, then draw the states nearby into the cache
        (``None``: start with those), the ``precompute`` nearest at once, the rest of ``lookahead`` once idle."""
        done = 0  # states drawn ahead since the last redraw; past `precompute` they wait for an idle kernel
        if queue is None:  # from show(): every state waits (a notebook run straight through never pays for them)
            queue, done = self._nearby(self.lookahead), self.precompute
        while True:
            with self._state:
                if self._wanted:
                    self._wanted, job = False, None
                elif queue:
                    job = queue.pop(0)
                else:
                    self._thread = None
                    return
            if job is None:
                with _GATE.redraw():
                    self._redraw_or_say_why()
                queue, done = self._nearby(self.lookahead), 0
                continue
            idle = 0.0 if done < self.precompute else self.idle_seconds
            with _GATE.redraw(idle=idle, cancelled=lambda: self._wanted) as go:
                if go and self._key(job) not in self._images:
                    with contextlib.suppress(Exception):  # a failing state shows its error when visited
                        self._picture(job)
            done += 1

    def _redraw_or_say_why(self) -> None:
        try:
            self.update()
        except Exception:  # in a thread nobody would see it: show it where the plot goes
            self.output.outputs = ({"output_type": "stream", "name": "stderr", "text": traceback.format_exc()},)

    def _nearby(self, count: int | None = None) -> list[dict[str, Any]]:
        """Up to ``count`` (default ``precompute``) states not yet in the cache, nearest to the current one first
        (one control one step away, then two steps, ...)."""
        count = self.precompute if count is None else count
        start = self.values()
        seen, frontier, fresh = {self._key(start)}, [start], []
        while frontier and len(fresh) < count:
            ring = []
            for state in frontier:
                for name, control in self.controls.items():
                    for value in _neighbours(control, state[name]):
                        near = {**state, name: value}
                        key = self._key(near)
                        if key is None or key in seen:
                            continue
                        seen.add(key)
                        ring.append(near)
                        if key not in self._images:
                            fresh.append(near)
            frontier = ring
        return fresh[:count]

    def prefetch(self, count: int | None = None) -> int:
        """Draw the ``count`` (default ``precompute``) states nearest to the current one into the cache now (what
        the background thread does while the learner looks; benchmarks call it); returns how many were drawn."""
        states = self._nearby(count)
        for state in states:
            self._picture(state)
        return len(states)

    # -- measuring and showing ---------------------------------------------------------------------------------
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
        if _kernel_shell() is not None and self.lookahead:
            self.look_ahead()  # draws once the cell has ended and the kernel is idle
        return self

    def _ipython_display_(self) -> None:
        self.show()
