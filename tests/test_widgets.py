"""resnet_edu.widgets: SliderApp without a browser, and lesson 03's depth explorer (issue 3, issue 5's marker)."""

import matplotlib
import pytest

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from resnet_edu import widgets  # noqa: E402
from resnet_edu.lessons import lesson03_gradient_path as L3  # noqa: E402


def _render(k):
    fig, ax = plt.subplots()
    ax.plot([0, k], [0, k])
    return fig


def test_slider_app_update_returns_seconds_and_sets_the_marker():
    slider = W.IntSlider(value=3, min=0, max=9, continuous_update=True)
    app = widgets.SliderApp({"k": slider}, _render, title="test")
    assert slider.continuous_update is False, "a drag must not redraw for every intermediate value"
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
    app = L3.depth_explorer()
    depth = app.controls["depth"]
    assert list(app.controls) == ["depth", "residual", "bn"]
    assert (depth.min, depth.max, depth.step, depth.value) == (8, 110, 6, 56)
    assert depth.continuous_update is False and depth.description == "depth"
    assert app.valid_depths == list(range(8, 111, 6)) and len(app.valid_depths) == 18
    assert app.controls["residual"].value is True and app.controls["bn"].value is True


def test_depth_explorer_callback_without_a_browser():
    app = L3.depth_explorer(max_depth=56)
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
    app = L3.depth_explorer(depth=20, max_depth=20)
    seconds = app.timings(depths=(8, 20))
    assert set(seconds) == {8, 20} and all(s > 0 for s in seconds.values())
    assert app.last_marker == "rendered depth=20 residual=True bn=True"


def test_depth_explorer_timings_use_time_updates_and_keep_the_cache_semantics(monkeypatch):
    app = L3.depth_explorer(depth=20, max_depth=20)
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
        L3.depth_explorer(depth=21)
    with pytest.raises(ValueError, match=r"6n\+2"):
        L3.depth_explorer(max_depth=100)
    with pytest.raises(ValueError, match="above max_depth"):
        L3.depth_explorer(depth=110, max_depth=56)
    with pytest.raises(TypeError, match="residual must be True or False"):
        L3.depth_explorer(residual="yes")
    app = L3.depth_explorer(depth=20, max_depth=20)
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
