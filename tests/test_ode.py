"""Lesson 05 (resnet_edu.lessons.lesson05_ode_view): residual blocks as ODE steps, measured orders of accuracy, the
spiral ODE net and
its step slider (without a browser), and the lesson's exercise checkers."""

import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

import resnet_edu as edu
from resnet_edu.exercises import lesson05
from resnet_edu.lessons import lesson05_ode_view as ode

matplotlib.use("Agg")


class Linear(nn.Module):
    """f(x) = a·x: every step rule has a closed form (a truncated Taylor series of e^{ah})."""

    def __init__(self, a: float) -> None:
        super().__init__()
        self.a = a

    def forward(self, x):
        return self.a * x


# --- step rules, blocks, stacks ---


@pytest.mark.parametrize(("method", "terms"), [("euler", 2), ("midpoint", 3), ("rk4", 5)])
def test_step_rules_are_truncated_taylor_series_on_a_linear_field(method, terms):
    a, h = -0.7, 0.3
    x = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    expected = sum((a * h) ** k / math.factorial(k) for k in range(terms))
    out = ode.step_rule(method)(Linear(a), x, h)
    assert torch.allclose(out, expected * x, rtol=0, atol=1e-15)


def test_step_rule_accepts_callables_and_names_the_methods_on_error():
    assert ode.step_rule("rk4") is ode.rk4_step
    assert ode.step_rule(ode.midpoint_step) is ode.midpoint_step
    with pytest.raises(ValueError, match="euler, midpoint, rk4"):
        ode.step_rule("heun")


def test_step_block_is_one_euler_step():
    f = ode.vector_field(seed=3)
    x = torch.randn(4, 2, dtype=torch.float64)
    block = ode.StepBlock(f, 0.25)
    assert torch.equal(block(x), x + 0.25 * f(x))
    assert "method=euler" in repr(block) and "h=0.25" in repr(block)
    assert ode.StepBlock(f, 0.1, ode.midpoint_step).method == "midpoint_step"
    assert not hasattr(ode, "ResidualBlock")  # the name belongs to lesson 04's shortcuts.ResidualBlock


def test_weight_tied_stack_is_the_residual_loop_and_does_not_grow_with_n():
    f = ode.vector_field(seed=0)
    x0 = torch.randn(6, 2, dtype=torch.float64)
    stack = ode.ResidualStack(f, steps=10, T=2.0)
    x = x0
    for _ in range(10):
        x = x + 0.2 * f(x)
    assert stack.h == pytest.approx(0.2)
    assert torch.equal(stack(x0), x)
    path = stack.trajectory(x0)
    assert path.shape == (11, 6, 2)
    assert torch.equal(path[0], x0) and torch.equal(path[-1], x)
    sizes = {edu.nets.count_parameters(ode.ResidualStack(f, n)) for n in (1, 5, 50)}
    assert sizes == {edu.nets.count_parameters(f)}
    assert all(isinstance(block, ode.StepBlock) and block.f is f for block in stack.blocks)


@pytest.mark.parametrize(("steps", "error"), [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_stack_rejects_bad_step_counts(steps, error):
    with pytest.raises(error, match="steps must be (a positive integer|an integer)"):
        ode.ResidualStack(ode.vector_field(), steps)


@pytest.mark.parametrize(("T", "error"), [(0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                          ("1", TypeError)])
def test_stack_rejects_bad_integration_times(T, error):
    with pytest.raises(error, match="integration time"):
        ode.ResidualStack(ode.vector_field(), 4, T=T)


# --- convergence ---


def test_vector_field_is_seeded_float64_and_smooth():
    f, g = ode.vector_field(seed=1), ode.vector_field(seed=1)
    x = torch.randn(3, 2, dtype=torch.float64)
    assert f(x).dtype == torch.float64 and f(x).shape == (3, 2)
    assert torch.equal(f(x), g(x))
    assert not torch.equal(f(x), ode.vector_field(seed=2)(x))
    assert ode.vector_field(dim=3, hidden=8)(torch.zeros(1, 3, dtype=torch.float64)).shape == (1, 3)


def test_solve_matches_the_stack_and_the_reference_matches_the_exact_solution():
    f = ode.vector_field()
    x0 = torch.randn(5, 2, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(ode.solve(f, x0, 1.5, 12, "midpoint"), ode.ResidualStack(f, 12, 1.5, "midpoint")(x0),
                              rtol=0, atol=1e-14)
    exact = math.exp(-0.8 * 2.0) * x0  # dx/dt = -0.8 x
    assert torch.allclose(ode.reference_solution(Linear(-0.8), x0, T=2.0, steps=512), exact, rtol=1e-10, atol=0)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        ode.solve(f, x0, 1.0, 0)


def test_measured_order_is_minus_the_log_log_slope():
    steps = [8, 16, 32, 64]
    assert ode.measured_order(steps, [3.0 / n**2 for n in steps]) == pytest.approx(2.0)
    assert ode.measured_order(steps, [0.5 / n for n in steps]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="steps must hold at least 2 value"):
        ode.measured_order([8], [0.1])
    with pytest.raises(ValueError, match="every error must be > 0"):
        ode.measured_order([8, 16], [0.1, 0.0])


def test_measured_orders_of_euler_midpoint_and_rk4():
    conv = ode.convergence()
    assert conv.orders["euler"] == pytest.approx(1.0, abs=0.1)
    assert conv.orders["midpoint"] == pytest.approx(2.0, abs=0.15)
    assert conv.orders["rk4"] == pytest.approx(4.0, abs=0.25)
    for errors in conv.errors.values():
        assert all(a > b > 0 for a, b in zip(errors, errors[1:]))
    assert conv.steps == [16, 32, 64, 128, 256] and conv.reference_steps == 2048
    assert "order" in str(conv) and "rk4" in str(conv)
    ax = conv.plot()
    assert ax.get_xscale() == "log" and ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.get_lines()) == 3


def test_convergence_takes_custom_step_functions_and_validates_steps():
    conv = ode.convergence(steps=(8, 16, 32), methods={"mine": ode.euler_step})
    assert list(conv.errors) == ["mine"] and conv.orders["mine"] == pytest.approx(1.0, abs=0.15)
    with pytest.raises(ValueError, match="steps must hold at least 2 value"):
        ode.convergence(steps=(8,))


# --- the spiral task ---


def test_two_spirals_are_seeded_and_labelled():
    a, b = ode.two_spirals(200, seed=5), ode.two_spirals(200, seed=5)
    assert a.x.shape == (200, 2) and a.x.dtype == torch.float32 and len(a) == 200
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert set(a.y.tolist()) == {0, 1}
    assert a.x.norm(dim=1).max() < 1.2
    assert "200 points" in repr(a)
    with pytest.raises(ValueError, match="turns"):
        ode.two_spirals(10, turns=0)
    with pytest.raises(ValueError, match="noise"):
        ode.two_spirals(10, noise=-1)


def test_ode_net_runs_with_any_number_of_steps_on_the_same_weights():
    torch.manual_seed(0)
    net = ode.ODENet(hidden=8, steps=6)
    x = torch.randn(7, 2)
    assert net(x).shape == (7, 2)
    assert net.trajectory(x, steps=3).shape == (4, 7, 2)
    assert torch.allclose(net(x), net.readout(net.stack(6)(x)))
    assert not torch.allclose(net(x, steps=1), net(x, steps=6))
    assert net.stack(20).f is net.f


def test_training_is_deterministic_and_validates_its_arguments():
    small = ode.two_spirals(100, seed=1), ode.two_spirals(100, seed=2)
    a = ode.train_ode_net(*small, steps=(2, 4), iterations=15, hidden=8, progress=False)
    b = ode.train_ode_net(*small, steps=(2, 4), iterations=15, hidden=8, progress=False)
    assert a.losses == b.losses and len(a.losses) == 15
    assert a.train_steps == (2, 4) and a.model.steps == 4
    torch.manual_seed(7)
    expected = torch.rand(1)
    torch.manual_seed(7)
    fixed = ode.train_ode_net(*small, steps=3, iterations=2, hidden=8, progress=False)
    assert torch.rand(1).item() == expected.item()  # the caller's random stream is left alone
    assert fixed.train_steps == (3, 3)
    with pytest.raises(ValueError, match="lo <= hi"):
        ode.train_ode_net(*small, steps=(8, 4), iterations=2, progress=False)
    with pytest.raises(ValueError, match="kinetic"):
        ode.train_ode_net(*small, iterations=2, kinetic=-1, progress=False)


@pytest.fixture(scope="module")
def trained():
    """The lesson's training run (seed 1, N drawn from 8–32, 300 steps)."""
    return ode.train_ode_net(ode.two_spirals(500, seed=1), ode.two_spirals(1000, seed=2), seed=1, progress=False)


def test_trained_ode_net_reaches_95_percent_and_stays_accurate_as_n_grows(trained):
    assert trained.test_accuracy >= 0.95
    assert trained.accuracy(32) == trained.test_accuracy
    assert min(trained.accuracy_curve([16, 48, 128])) >= 0.95
    assert trained.accuracy(32, split="train") >= 0.95
    assert 1 - trained.accuracy(1) > 0.2  # one big step is not the flow it learned: towards chance (the lesson says so)
    with pytest.raises(ValueError, match="split"):
        trained.accuracy(8, split="valid")
    assert "test accuracy" in str(trained) and "8–32" in str(trained)


def test_the_picture_converges_like_an_euler_method(trained):
    gaps = [trained.step_gap(n) for n in (8, 16, 32, 64, 128, 256)]
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    assert abs(gaps[-2] / gaps[-1] - 2) < 0.5  # the lesson's check: the gap halves once the steps are small


def test_straightness_measures_how_much_the_paths_bend(trained):
    assert trained.straightness(1) == pytest.approx(1.0)  # one step: every path is a straight segment
    assert 0 < trained.straightness(32) < 0.9  # seed 1 learns a curved flow (benchmarks/ode_seeds.py)
    assert trained.straightness() == trained.straightness(32)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        trained.straightness(0)


def test_one_step_miss_measures_how_far_one_big_step_lands_from_the_flow(trained):
    assert trained.one_step_miss(1) == 0  # one step against itself
    assert trained.one_step_miss(32) > 0.9  # seed 1 learns a curved flow: one step misses by about the whole move
    assert trained.one_step_miss() == trained.one_step_miss(32)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        trained.one_step_miss(0)


def test_views_are_cached_and_shaped(trained):
    v = trained.view(5)
    assert trained.view(5) is v
    assert v.paths.shape == (6, 60, 2) and v.path_labels.shape == (60,)
    assert v.grid_prob.shape == (72, 72) and 0 <= v.grid_prob.min() <= v.grid_prob.max() <= 1
    assert v.accuracy == trained.accuracy(5)


def test_plots_have_titles_and_labels(trained):
    fig = trained.plot(8, max_steps=16)
    assert len(fig.axes) == 4  # three panels and the colour bar on P(orange)
    assert all(ax.get_title() and ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes[:3])
    assert "P(orange)" in fig.axes[3].get_ylabel()
    assert "N = 8" in fig.axes[0].get_title()
    fig = trained.plot_steps((1, 4))
    assert len(fig.axes) == 5 and fig._suptitle.get_text() and "P(orange)" in fig.axes[4].get_ylabel()
    ax = trained.plot_loss()
    assert ax.get_title() and len(ax.get_lines()[0].get_ydata()) == len(trained.losses)


def test_step_figure_redraws_in_place(trained):
    picture = ode.figures.StepFigure(trained, max_steps=12)
    fig = picture.draw(3)
    assert picture.draw(9) is fig
    assert "N = 9" in fig.axes[0].get_title() and "N = 9" in fig.axes[2].get_title()
    assert list(picture.now.get_xdata()) == [9]


def test_step_figure_pixels_are_those_of_a_full_layout(trained):
    """Issue 33: the slider's fast redraw (no second layout pass in savefig, PNGs cached) shows the same pixels as
    a figure laid out on every save, and the same view data, for a few N."""
    import io

    from matplotlib.layout_engine import PlaceHolderLayoutEngine
    from PIL import Image

    def pixels(fig):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return Image.open(io.BytesIO(buffer.getvalue())).tobytes()

    fast = ode.figures.StepFigure(trained, max_steps=12)
    assert fast.figure.get_layout_engine() is None
    app = ode.step_explorer(trained, max_steps=12)
    for n in (1, 5, 12):
        reference = ode.figures.StepFigure(trained, max_steps=12)
        # the old path: what fig.tight_layout() leaves behind, a placeholder engine that makes every savefig draw twice
        reference.figure.set_layout_engine(PlaceHolderLayoutEngine(adjust_compatible=True, colorbar_gridspec=True))
        view = trained.view(n)
        trained._views.pop(n)
        assert pixels(fast.draw(n)) == pixels(reference.draw(n)), f"N = {n}: the redraw changed pixels"
        again = trained.view(n)
        assert (again.paths == view.paths).all() and (again.grid_prob == view.grid_prob).all()
        app.update(steps=n)
        shown = Image.open(io.BytesIO(app._images[(("steps", n),)])).tobytes()
        assert shown == pixels(reference.draw(n)), f"N = {n}: the app's PNG differs from the figure"


def test_step_slider_updates_without_a_browser(trained, capsys):
    app = ode.step_explorer(trained, max_steps=20)
    assert isinstance(app, edu.widgets.SliderApp)
    slider = app.controls["steps"]
    assert (slider.min, slider.max, slider.value) == (1, 20, 20) and "steps" in slider.description
    assert slider.continuous_update is True  # the app skips stale values while dragging (issue 33)
    seconds = app.update(steps=7)
    assert app.last_marker == "rendered steps=7" and seconds == app.last_seconds > 0
    slider.value = 3  # what the browser does: the observer redraws
    assert app.last_marker == "rendered steps=3"
    capsys.readouterr()
    times = app.time_updates("steps", [2, 5], repeats=2)
    assert set(times) == {2, 5} and all(t > 0 for t in times.values())
    assert capsys.readouterr().out == ""  # the markers are swallowed
    assert not hasattr(ode, "time_updates")  # SliderApp.time_updates is the one way to time a slider
    with pytest.raises(ValueError, match="max_steps"):
        ode.step_explorer(trained, steps=30, max_steps=20)


# --- exercise checkers ---


def test_check_error_factors(capsys):
    assert lesson05.check_error_factors(None) is False
    assert lesson05.check_error_factors(lesson05.solution_error_factors()) is True
    assert lesson05.check_error_factors({"euler": 2, "rk4": 16}) is False
    assert "first-order" in capsys.readouterr().out
    assert lesson05.check_error_factors([4, 256]) is False
    assert lesson05.check_error_factors({"euler": "x", "rk4": 1}) is False


def test_check_midpoint_step_measures_the_order(capsys):
    assert lesson05.check_midpoint_step(None) is False
    assert lesson05.check_midpoint_step(lesson05.solution_midpoint_step()) is True
    assert "exactly the midpoint rule" in capsys.readouterr().out
    assert lesson05.check_midpoint_step(ode.euler_step) is False
    assert "Euler" in capsys.readouterr().out
    assert lesson05.check_midpoint_step(ode.rk4_step) is False
    heun = lambda f, x, h: x + h / 2 * (f(x) + f(x + h * f(x)))  # noqa: E731
    assert lesson05.check_midpoint_step(heun) is True
    assert "not the midpoint rule" in capsys.readouterr().out
    assert lesson05.check_midpoint_step(lambda f, x, h: 1 / 0) is False
    assert lesson05.check_midpoint_step(lambda f, x, h: x[0]) is False
    assert lesson05.check_midpoint_step(3) is False  # a wrong type is a wrong answer, never an exception
    assert "Pass your function itself" in capsys.readouterr().out


def test_check_equal_budget():
    assert lesson05.check_equal_budget(None) is False
    assert lesson05.solution_equal_budget() == "rk4"
    assert lesson05.check_equal_budget("RK4") is True
    assert lesson05.check_equal_budget("euler") is False
    assert lesson05.check_equal_budget(3) is False


def test_checkers_and_solutions_are_exported():
    names = set(lesson05.__all__)
    assert {n for n in dir(lesson05) if n.startswith(("check_", "solution_"))} == names
    for name in names:
        assert getattr(edu.exercises, name) is getattr(lesson05, name)


def test_euler_polygons_converge_to_the_exact_trajectory():
    polygons = ode.euler_polygons(steps=(2, 8, 32))
    assert [len(p) for p in polygons.polygons.values()] == [3, 9, 33]
    assert polygons.errors[2] > polygons.errors[8] > polygons.errors[32]
    assert 3 < polygons.errors[8] / polygons.errors[32] < 5.5  # order 1: 4x the blocks, about 4x smaller error
    assert np.allclose(polygons.exact[0], polygons.x0) and polygons.grid[0].shape == (17, 17)
    ax = polygons.plot()
    assert ax.get_title() and ax.get_xlabel() and ax.get_legend() is not None
    with pytest.raises(ValueError, match="steps"):
        ode.euler_polygons(steps=(0,))


def test_one_step_prediction(trained, capsys):
    assert lesson05.check_one_step_prediction(None, trained) is False
    assert "No prediction recorded" in capsys.readouterr().out
    truth = "yes" if trained.accuracy(1) >= 0.9 else "no"
    assert lesson05.check_one_step_prediction(truth, trained) is True
    assert lesson05.check_one_step_prediction(True, trained) is False
