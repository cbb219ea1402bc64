"""resnet_edu.widgets: SliderApp without a browser, and lesson 03b's depth explorer (issue 3, issue 5's marker)."""

import re

import matplotlib
import pytest

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from resnet_edu import widgets  # noqa: E402
from resnet_edu.lessons import lesson03b_gradient_norms as L3b  # noqa: E402


def _render(k):
    fig, ax = plt.subplots()
    ax.plot([0, k], [0, k])
    return fig


def test_slider_app_update_returns_seconds_and_sets_the_marker():
    slider = W.IntSlider(value=3, min=0, max=9, continuous_update=True)
    app = widgets.SliderApp({"k": slider}, _render, title="test")
    assert slider.continuous_update is True, "a drag redraws as it goes: stale values are skipped (issue 33)"
    seconds = app.update()
    assert isinstance(seconds, float) and seconds > 0 and app.last_seconds == seconds
    assert app.last_marker == "rendered k=3"
    assert app.update(k=7) > 0 and app.last_marker == "rendered k=7"
    slider.value = 5  # what a learner's release of the slider does
    assert app.last_marker == "rendered k=5"
    assert app.values() == {"k": 5} and isinstance(app.widget, W.VBox)
    assert app.savefig_kwargs == {"bbox_inches": "tight"}


def test_slider_app_shows_a_png():
    app = widgets.SliderApp({"k": W.IntSlider(value=1)}, _render)
    image = app._image(_render(2))
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_depth_explorer_controls():
    app = L3b.depth_explorer()
    depth = app.controls["depth"]
    assert list(app.controls) == ["depth", "residual", "bn"]
    assert (depth.min, depth.max, depth.step, depth.value) == (8, 110, 6, 56)
    assert depth.continuous_update is True and depth.description == "depth"
    assert app.valid_depths == list(range(8, 111, 6)) and len(app.valid_depths) == 18
    assert app.controls["residual"].value is True and app.controls["bn"].value is True


def test_depth_explorer_callback_without_a_browser():
    app = L3b.depth_explorer(max_depth=56)
    seconds = app.update(depth=56)
    assert isinstance(seconds, float) and 0 < seconds < 60
    assert app.last_marker == "rendered depth=56 residual=True bn=True"
    app.controls["depth"].value = 20  # moving the slider redraws for the new value
    assert app.last_marker == "rendered depth=20 residual=True bn=True"
    app.controls["residual"].value = False
    assert app.last_marker == "rendered depth=20 residual=False bn=True"
    app.controls["bn"].value = False
    assert app.last_marker == "rendered depth=20 residual=False bn=False"
    assert set(app.cache) == {(56, True, True), (20, True, True), (20, False, True), (20, False, False)}
    profile = app.cache[20, False, True]
    app.update(depth=20, residual=False, bn=True)
    assert app.cache[20, False, True] is profile, "a state already visited is not measured again"
    ax = app._figure[1]
    assert ax.get_yscale() == "log" and "plain-20" in ax.get_title()
    low, high = ax.get_ylim()
    assert high / low >= 99, "the y axis spans at least two decades, so it always has tick labels"


def test_depth_explorer_timings():
    app = L3b.depth_explorer(depth=20, max_depth=20)
    seconds = app.timings(depths=(8, 20))
    assert set(seconds) == {8, 20} and all(s > 0 for s in seconds.values())
    assert app.last_marker == "rendered depth=20 residual=True bn=True"


def test_depth_explorer_timings_use_time_updates_and_keep_the_cache_semantics(monkeypatch):
    app = L3b.depth_explorer(depth=20, max_depth=20)
    calls = []
    time_updates = app.time_updates
    monkeypatch.setattr(app, "time_updates", lambda *a, **k: calls.append(a) or time_updates(*a, **k))
    app.timings(depths=(8,), residual=False, bn=True)
    assert calls == [("depth", [8])], "one depth-slider update per depth, timed by SliderApp.time_updates"
    assert app.controls["residual"].value is False, "the toggles show the timed state"
    first = app.cache[8, False, True]
    app.timings(depths=(8,), residual=False, bn=True, cached=True)
    assert app.cache[8, False, True] is first, "cached=True reuses the measured profile"
    app.timings(depths=(8,), residual=False, bn=True)
    assert app.cache[8, False, True] is not first, "cached=False measures again, as on a first visit"
    assert app.cache[8, False, True].norms == first.norms, "... and gets the same numbers (fixed seed)"
    with pytest.raises(ValueError, match=r"6n\+2"):
        app.timings(depths=(9,))


def test_depth_explorer_bad_arguments():
    with pytest.raises(ValueError, match=r"6n\+2"):
        L3b.depth_explorer(depth=21)
    with pytest.raises(ValueError, match=r"6n\+2"):
        L3b.depth_explorer(max_depth=100)
    with pytest.raises(ValueError, match="above max_depth"):
        L3b.depth_explorer(depth=110, max_depth=56)
    with pytest.raises(TypeError, match="residual must be True or False"):
        L3b.depth_explorer(residual="yes")
    app = L3b.depth_explorer(depth=20, max_depth=20)
    with pytest.raises(ValueError, match=r"6n\+2"):
        app.update(depth=15)


def test_slider_app_time_updates_is_generic_and_checks_the_name():
    import ipywidgets as W
    import matplotlib.pyplot as plt

    from resnet_edu.widgets import SliderApp

    def render(k):
        fig, ax = plt.subplots()
        ax.plot([0, k])
        return fig

    app = SliderApp({"k": W.IntSlider(value=1, min=0, max=5)}, render)
    times = app.time_updates("k", [2, 3], repeats=2)
    assert set(times) == {2, 3} and all(t > 0 for t in times.values()) and app.last_marker == "rendered k=3"
    with pytest.raises(ValueError, match="name must be one of this app's controls"):
        app.time_updates("depth", [1])


# -- following a front end (issue 33): the last value wins, states already seen are instant ------------------
class _FakeEvents:
    def __init__(self):
        self.callbacks = {}

    def register(self, name, callback):
        self.callbacks.setdefault(name, []).append(callback)

    def trigger(self, name):
        for callback in self.callbacks.get(name, []):
            callback(None)


class _FakeShell:
    """What SliderApp needs from a kernel's IPython shell: ``.kernel`` and ``.events``."""

    kernel = object()

    def __init__(self):
        self.events = _FakeEvents()


@pytest.fixture()
def live(monkeypatch):
    """A kernel with a front end, between two cells: changes of the controls come from the browser."""
    shell = _FakeShell()
    monkeypatch.setattr(widgets, "_kernel_shell", lambda: shell)
    monkeypatch.setattr(widgets, "_GATE", widgets._CellGate())
    yield shell
    widgets._GATE._post_run_cell()


def _slow_app(seconds=0.05, **kwargs):
    import threading
    import time

    drawn = []
    busy = threading.Lock()

    def render(k):
        assert busy.acquire(blocking=False), "two renders at once"
        try:
            drawn.append(k)
            time.sleep(seconds)
            return _render(k)
        finally:
            busy.release()

    return widgets.SliderApp({"k": W.IntSlider(value=0, min=0, max=50)}, render, **kwargs), drawn


def test_a_drag_skips_stale_values_and_the_last_one_wins(live):
    app, drawn = _slow_app(precompute=0)
    live.events.trigger("post_run_cell")  # the cell that built the app has ended
    for k in range(1, 31):  # thirty values arrive while the first redraw is still under way
        app.controls["k"].value = k
    assert app.wait(30)
    assert app.last_marker == "rendered k=30", "the plot ends on the slider's last value"
    assert drawn[-1] == 30 and len(drawn) <= 4, f"stale values must be skipped, not queued; drew {drawn}"
    assert app.output.outputs[0]["data"]["image/png"] and "rendered k=30" in app.output.outputs[1]["text"]


def test_a_drag_handled_on_a_subshell_thread_also_skips_stale_values(live):
    """ipykernel 7 with JupyterLab 4.4+ handles ipywidgets 8.1's comm messages on a subshell's thread, not the main
    thread: those changes come from the front end too, so they must not draw at once (each value of a drag would
    wait behind the state being drawn, and then be drawn in turn)."""
    import threading

    app, drawn = _slow_app(precompute=0)
    live.events.trigger("post_run_cell")

    def front_end():
        for k in range(1, 31):
            app.controls["k"].value = k

    subshell = threading.Thread(target=front_end, name="subshell-test")
    subshell.start()
    subshell.join(30)
    assert app.wait(30)
    assert app.last_marker == "rendered k=30", "the plot ends on the slider's last value"
    assert drawn[-1] == 30 and len(drawn) <= 4, f"stale values must be skipped, not queued; drew {drawn}"


def test_a_state_already_seen_is_shown_from_the_cache(live):
    app, drawn = _slow_app(precompute=0)
    live.events.trigger("post_run_cell")
    for k in (5, 6, 5):
        app.controls["k"].value = k
        assert app.wait(30)
    assert drawn == [5, 6], f"k=5 was drawn once and then shown from the cache; drew {drawn}"
    assert app.last_marker == "rendered k=5" and app.last_seconds < 0.05
    app.forget(k=5)
    app.update(k=5)
    assert drawn == [5, 6, 5], "forget() drops one state's image: the next visit draws it again"


def test_neighbours_are_drawn_in_the_background_and_then_instant(live):
    app, drawn = _slow_app(precompute=4)
    live.events.trigger("post_run_cell")
    app.controls["k"].value = 10
    assert app.wait(30)
    assert drawn == [10, 11, 9, 12, 8], f"the state and its four nearest states; drew {drawn}"
    app.controls["k"].value = 11
    assert app.wait(30)
    assert drawn[5:] == [13, 14, 15, 7], "11 came from the cache; the four nearest states not drawn yet came after"
    assert app.last_marker == "rendered k=11"


def test_no_background_redraw_while_a_cell_runs(live):
    import time

    app, drawn = _slow_app(precompute=0)
    live.events.trigger("post_run_cell")
    live.events.trigger("pre_run_cell")  # a learner's cell starts: a change made by its code redraws at once
    app.controls["k"].value = 3
    assert drawn == [3] and app.last_marker == "rendered k=3"
    widgets._GATE._post_run_cell()
    app.controls["k"].value = 4  # from the front end, between cells
    widgets._GATE._pre_run_cell()  # the next cell waits for that redraw, then holds the thread back
    before = list(drawn)
    app.request_redraw()
    time.sleep(0.2)
    assert drawn == before, "no redraw runs while a cell runs"
    widgets._GATE._post_run_cell()
    assert app.wait(30) and app.last_marker == "rendered k=4"


def test_a_failing_redraw_in_the_background_shows_its_error(live):
    def render(k):
        raise ValueError(f"k={k} cannot be drawn")

    app = widgets.SliderApp({"k": W.IntSlider(value=0)}, render, precompute=2)
    live.events.trigger("post_run_cell")
    app.controls["k"].value = 2
    assert app.wait(30)
    assert app.output.outputs[0]["name"] == "stderr" and "k=2 cannot be drawn" in app.output.outputs[0]["text"]


def test_slider_app_checks_its_cache_arguments():
    with pytest.raises(ValueError, match="cache_size"):
        widgets.SliderApp({"k": W.IntSlider()}, _render, cache_size=-1)
    with pytest.raises(TypeError, match="precompute"):
        widgets.SliderApp({"k": W.IntSlider()}, _render, precompute="all")


def test_depth_explorer_numbers_and_pixels_do_not_depend_on_how_a_state_was_reached():
    """Issue 33: a state drawn ahead, shown from the cache or measured cold shows the same profile and pixels."""
    import io

    from PIL import Image

    from resnet_edu.lessons.lesson03b_gradient_norms import cifar_profile

    def pixels(png):
        return Image.open(io.BytesIO(png)).tobytes()

    app = L3b.depth_explorer(depth=14, max_depth=26)
    app.update()
    assert app.prefetch() == 6  # depth 20 and 8, the toggles flipped, then depth 26 ...
    ahead = {key: app._images[key] for key in app._images}
    for depth, residual, bn in ((20, True, True), (8, True, True), (14, False, True), (14, True, False)):
        key = (("depth", depth), ("residual", residual), ("bn", bn))
        assert key in ahead, f"{key} was drawn ahead"
        direct = cifar_profile(depth, "residual" if residual else "plain", bn, app.batch, app.seed)
        assert app.cache[depth, residual, bn].norms == direct.norms
        app.cache.pop((depth, residual, bn))
        app.forget(depth=depth, residual=residual, bn=bn)
        app.update(depth=depth, residual=residual, bn=bn)  # cold again
        assert pixels(app._images[key]) == pixels(ahead[key]), f"{key}: drawn ahead ≠ drawn cold"
        assert app.cache[depth, residual, bn].norms == direct.norms


def test_show_draws_every_state_ahead_once_the_kernel_is_idle(live, monkeypatch):
    """Issue 33: an app whose states fit the cache draws them all while the learner reads, never between two cells
    of a notebook run straight through."""
    import time

    monkeypatch.setattr(widgets.SliderApp, "idle_seconds", 0.3)
    drawn = []

    def render(k):
        drawn.append(k)
        return _render(k)

    app = widgets.SliderApp({"k": W.IntSlider(value=3, min=0, max=6)}, render, precompute=2, lookahead=10)
    app.show()  # in the cell that builds it: draws k=3 now, the rest waits for the cell to end and an idle kernel
    assert drawn == [3]
    for _ in range(5):  # cells that follow each other faster than idle_seconds: nothing is drawn in between
        widgets._GATE._post_run_cell()
        time.sleep(0.05)
        widgets._GATE._pre_run_cell()
    assert drawn == [3], f"nothing is drawn ahead between cells run straight through; drew {drawn}"
    widgets._GATE._post_run_cell()
    assert app.wait(30)
    assert drawn == [3, 4, 2, 5, 1, 6, 0], f"then every state, the nearest first; drew {drawn}"
    assert app.update(k=0) < 0.05 and len(drawn) == 7, "a first visit is now instant: drawn ahead, not again"


def test_lookahead_never_pushes_the_nearest_states_out_of_the_cache():
    app = widgets.SliderApp({"k": W.IntSlider(value=0, max=100)}, _render, cache_size=10, lookahead=500)
    assert app.lookahead == 9
    with pytest.raises(ValueError, match="lookahead"):
        widgets.SliderApp({"k": W.IntSlider()}, _render, lookahead=-1)


def test_the_marker_says_the_wall_and_cpu_time_of_the_redraw(capsys):
    app = widgets.SliderApp({"k": W.IntSlider(value=1)}, _render)
    app.update()
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"rendered k=1 \(\d+ ms, \d+ ms CPU\)", line), line
    assert app.last_cpu_seconds is not None and 0 <= app.last_cpu_seconds
