"""Issue 28, item 2 on the CPU: fp16 that survives step 0. On a T4 plain-56's first-layer gradients overflow fp16
at a loss scale of 2**16; the step is skipped, and the gradient recorder's row 0 held ``inf``, which made
``ratio_at_start`` infinite and lesson 08's check cell raise. The captured step runs eagerly here in its fp16
set-up (autocast is off on the CPU; the loss scale, ``found_inf`` and fused SGD's skip are the real ones)."""

import math

import numpy as np
import pytest
import torch
from test_train import small_net

from resnet_edu import exercises, recipes, train
from resnet_edu.lessons import lesson08_train_cifar10 as lesson


@pytest.fixture
def fp16_fast_path(monkeypatch):
    """fit takes the captured step on the CPU, every step eager, in fp16's set-up."""
    real = train.graphed.fast_loop
    monkeypatch.setattr(train.loop, "fast_path_problem", lambda *a, **k: None)
    monkeypatch.setattr(train.loop, "precision_for", lambda device, capability=None: "fp16")
    monkeypatch.setattr(train.loop, "fast_loop", lambda *a, **k: real(*a, **k, capture=False))


def test_overflow_on_step_0_leaves_lesson08_checks_finite(fp16_fast_path, monkeypatch):
    now = {"step": None}
    real_run, real_unscale = train.graphed.CapturedStep.run, train.graphed.DeviceLossScale.unscale_

    def run(self, step):
        now["step"] = step
        try:
            real_run(self, step)
        finally:
            now["step"] = None

    def unscale_(self, params):
        if now["step"] == 0:  # what fp16 does on a T4 at step 0: the first layer's scaled gradient overflows
            params[0].grad.fill_(math.inf)
        real_unscale(self, params)

    monkeypatch.setattr(train.graphed.CapturedStep, "run", run)
    monkeypatch.setattr(train.graphed.DeviceLossScale, "unscale_", unscale_)
    recipe = recipes.with_recipe(lesson.DYNAMICS_CPU, steps=24, last=5)
    result = lesson.train_pair(depth=8, seed=0, recipe=recipe, every=1, progress=False)
    for kind in lesson.KINDS:
        history = result.history(kind)
        assert np.isnan(history.norms[0]).all() and np.isfinite(history.norms[1:]).all()  # NaN, not inf
        assert history.first_row == 1 and result.runs[kind].fit.steps == 24 and not result.runs[kind].fit.diverged
        assert result.ratio_at_start(kind) == pytest.approx(float(history.ratio()[1]))
        for value in (result.ratio_during_training(kind), result.weight_growth(kind),
                      result.relative_update(kind, "first"), result.relative_update(kind, "last")):
            assert math.isfinite(value) and value > 0
    assert "inf" not in result.table() and "nan" not in result.table()
    # the lesson's checkers read the first finite row too
    assert exercises.check_gradient_ratio(exercises.solution_gradient_ratio(result), result)
    assert exercises.check_largest_gradient(exercises.solution_largest_gradient(result), result)
    assert exercises.check_explosion_prediction("collapse", result) in (True, False)
    import matplotlib.pyplot as plt

    for fig in (result.plot_heatmaps(), result.plot_layers().figure, result.plot_updates().figure):
        plt.close(fig)


def test_the_loss_scale_is_halved_until_the_first_step_is_finite(digits8):
    """Gradients of ~1e34 overflow float32 at a scale of 2**16 as plain-56's overflow fp16 on a T4: the scale is
    halved before any step (BatchNorm statistics left as they were) and the first step is taken, not skipped."""

    class Loud(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = small_net()

        def forward(self, x):
            return self.body(x) * 1e36

    tr, _ = digits8
    x, y = tr.x[:32], tr.y[:32]
    model = Loud()
    stepper = train.graphed.CapturedStep(model, train.TrainConfig(steps=5, lr=1e-40), torch.device("cpu"), "fp16",
                                         x, y)
    stepper.load(x, y, 1e-40)
    buffers = [b.clone() for b in model.buffers()]
    halvings = stepper.calibrate_loss_scale()
    assert 0 < halvings <= train.graphed.MAX_SCALE_HALVINGS
    assert float(stepper.loss_scale.scale) == 2.0 ** (16 - halvings)
    assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers()))
    stepper.opt.zero_grad(set_to_none=True)
    stepper.run(0)
    assert float(stepper.loss_scale.found_inf) == 0  # the first step was taken
