"""Kernel-free slider and checkbox apps for the web book (issue 24).

In JupyterLab and on Colab a :class:`resnet_edu.widgets.SliderApp` is live: moving a control asks the kernel to
redraw. A static web page has no kernel, so when ``RESNET_EDU_STATIC=1`` (``make book`` sets it) the app's
``show()`` calls :func:`show` here instead: it renders the figure of every state the controls can reach, at most
:data:`MAX_STATES` of them, and displays one HTML block with plain form controls, the pre-rendered PNGs and a few
lines of JavaScript that show the image of the current state. No server, kernel or external script is involved.

The controls are read generically, so any app built on ``SliderApp`` gets this: an integer slider (``IntSlider``)
contributes each of its positions, a ``Checkbox`` or ``ToggleButton`` off and on, a selection (``ToggleButtons``,
``Dropdown``, ``RadioButtons``) each option. When the product of these is above ``MAX_STATES``, the states
closest to the initial one are kept: every state that changes at most *k* controls, for the largest *k* that fits
(for checkboxes: every set of at most *k* ticked boxes). A state the page does not hold shows a sentence saying
so and how to see it (run the notebook).
"""

from __future__ import annotations

import base64
import html
import itertools
import math
from dataclasses import dataclass
from typing import Any

from . import _checks

ENV = "RESNET_EDU_STATIC"
MAX_STATES = 128  # figures one app may put on a page
COLORS = 64  # each figure is stored as a 64-colour palette PNG: 3–4× smaller than matplotlib's, same look


def small_png(png: bytes, colors: int = COLORS) -> bytes:
    """``png`` re-encoded with a palette of at most ``colors`` colours (line plots and heat maps keep their look)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=colors)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    smaller = buffer.getvalue()
    return smaller if len(smaller) < len(png) else png


def enabled() -> bool:
    """True when ``RESNET_EDU_STATIC`` is ``1`` (the book build): apps render every state into the page."""
    return _checks.env_flag(ENV, "static pages for the web book", "live widgets")


@dataclass(frozen=True)
class Control:
    """One control of an app as the static page shows it: its kind, label, values and their labels."""

    name: str
    kind: str  # "range", "checkbox" or "select"
    label: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]
    initial: int  # index of the control's value when the app was shown


def control_of(name: str, widget: Any) -> Control:
    """The positions of one ipywidgets control (see the module docstring for the kinds understood)."""
    kind = type(widget).__name__
    label = str(getattr(widget, "description", "") or name)
    if kind in ("IntSlider", "BoundedIntText"):
        values = tuple(range(widget.min, widget.max + 1, widget.step))
        return Control(name, "range", label, values, tuple(map(str, values)), values.index(widget.value))
    if kind in ("Checkbox", "ToggleButton"):
        return Control(name, "checkbox", label, (False, True), ("off", "on"), int(bool(widget.value)))
    if hasattr(widget, "_options_values") and hasattr(widget, "_options_labels"):
        values = tuple(widget._options_values)
        return Control(name, "select", label if label != name else "", values,
                       tuple(map(str, widget._options_labels)), values.index(widget.value))
    raise TypeError(f"control {name!r} is a {kind}; a static page can show IntSlider, Checkbox, ToggleButton and "
                    "selection widgets (ToggleButtons, Dropdown, RadioButtons)")


def reachable(controls: list[Control], limit: int = MAX_STATES) -> tuple[list[tuple[int, ...]], int]:
    """The states (one index per control) the page holds, and how many states there are in all.

    All of them when they are at most ``limit``; otherwise every state that changes at most k controls from the
    initial one, for the largest k that fits (at least the initial state)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a positive int; got {limit!r}")
    sizes = [len(c.values) for c in controls]
    total = math.prod(sizes)
    if total <= limit:
        return list(itertools.product(*(range(n) for n in sizes))), total
    initial = tuple(c.initial for c in controls)
    kept = [initial]
    for k in range(1, len(controls) + 1):  # add the states that change exactly k controls, while they fit
        ring = [state for which in itertools.combinations(range(len(controls)), k)
                for state in _changing(initial, sizes, which)]
        if len(kept) + len(ring) > limit:
            break
        kept += ring
    return sorted(kept), total


def _changing(initial: tuple[int, ...], sizes: list[int], which: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every state that differs from ``initial`` in exactly the controls ``which``."""
    choices = [[v for v in range(sizes[i]) if v != initial[i]] for i in which]
    states = []
    for values in itertools.product(*choices):
        state = list(initial)
        for i, v in zip(which, values):
            state[i] = v
        states.append(tuple(state))
    return states


def key(state: tuple[int, ...]) -> str:
    return "-".join(map(str, state))


_counter = itertools.count()

# The whole of the page's logic: read the controls, show the image whose data-key matches, else the note.
_SCRIPT = """(function () {
  var root = document.getElementById("%s");
  var inputs = root.querySelectorAll("[data-control]");
  function update() {
    var parts = [];
    inputs.forEach(function (el) {
      var i = el.type === "checkbox" ? (el.checked ? 1 : 0) : el.type === "range"
        ? Math.round((el.value - el.min) / el.step) : el.selectedIndex;
      parts.push(i);
      var out = root.querySelector("[data-readout='" + el.dataset.control + "']");
      if (out) { out.textContent = el.value; }
    });
    var k = parts.join("-"), found = false;
    root.querySelectorAll("img[data-key]").forEach(function (img) {
      var on = img.dataset.key === k; img.hidden = !on; found = found || on;
    });
    root.querySelector(".resnet-edu-missing").hidden = found;
  }
  inputs.forEach(function (el) { el.addEventListener("input", update); el.addEventListener("change", update); });
  update();
})();"""


def _control_html(c: Control) -> str:
    name = html.escape(c.name)
    label = html.escape(c.label)
    if c.kind == "range":
        step = c.values[1] - c.values[0] if len(c.values) > 1 else 1
        return (f'<label>{label} <input type="range" data-control="{name}" min="{c.values[0]}" '
                f'max="{c.values[-1]}" step="{step}" value="{c.values[c.initial]}"> '
                f'<output data-readout="{name}">{c.values[c.initial]}</output></label>')
    if c.kind == "checkbox":
        checked = " checked" if c.initial else ""
        return f'<label><input type="checkbox" data-control="{name}"{checked}> {label}</label>'
    options = "".join(f'<option{" selected" if i == c.initial else ""}>{html.escape(text)}</option>'
                      for i, text in enumerate(c.labels))
    return f'<label>{label} <select data-control="{name}">{options}</select></label>'


def render_page(app: Any, limit: int = MAX_STATES) -> tuple[str, int, int]:
    """Render every reachable state of ``app`` (a SliderApp) and return (HTML, states rendered, states in all).

    The app is left on its initial state (``app.last_marker`` names it), as after a live ``show()``."""
    import matplotlib.pyplot as plt

    controls = [control_of(name, widget) for name, widget in app.controls.items()]
    states, total = reachable(controls, limit)
    initial = tuple(c.initial for c in controls)
    ordered = [s for s in states if s != initial] + [initial]  # the initial state last: the app ends there
    images = {}
    for state in ordered:
        values = {c.name: c.values[i] for c, i in zip(controls, state)}
        fig = app.render(**values)
        png = small_png(app._image(fig).data)
        plt.close(fig)
        images[state] = (png, app.marker(values))
    app.last_marker = images[initial][1]
    ident = f"resnet-edu-static-{next(_counter)}"
    title = getattr(app, "title", "")
    parts = [f'<div class="resnet-edu-static" id="{ident}">']
    if title:
        parts.append(f"<p><b>{html.escape(title)}</b></p>")
    parts.append('<div class="resnet-edu-controls" style="display:flex;flex-wrap:wrap;gap:0.4em 1.2em">'
                 + "".join(_control_html(c) for c in controls) + "</div>")
    for state in states:
        png, marker = images[state]
        data = base64.b64encode(png).decode("ascii")
        hidden = "" if state == initial else " hidden"
        parts.append(f'<img data-key="{key(state)}" alt="{html.escape(marker)}" style="max-width:100%"{hidden} '
                     f'src="data:image/png;base64,{data}">')
    note = (f"This combination is not pre-rendered: the page holds {len(states)} of the {total} states (those "
            "closest to the first one). Run the notebook (Colab badge above) to see every state.")
    parts.append(f'<p class="resnet-edu-missing" hidden>{html.escape(note)}</p>')
    parts.append(f'<p style="font-size:smaller">Static page: {len(states)} pre-rendered figures'
                 f'{"" if len(states) == total else f" of {total} states"}; run the notebook for the live app.</p>')
    parts.append(f"<script>{_SCRIPT % ident}</script></div>")
    return "\n".join(parts), len(states), total


def show(app: Any, limit: int = MAX_STATES) -> Any:
    """Display ``app`` as a static page (what ``SliderApp.show()`` does when :func:`enabled`); returns ``app``."""
    from IPython.display import HTML, display

    page, _, _ = render_page(app, limit)
    display(HTML(page))
    return app


__all__ = ["COLORS", "ENV", "MAX_STATES", "Control", "control_of", "enabled", "key", "reachable", "render_page", "show",
           "small_png"]
