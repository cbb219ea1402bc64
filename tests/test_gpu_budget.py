"""Issue 28, item 1: every lesson's gpu-scale experiment costs at most 1.0 M ResNet-56-equivalent training images
(resnet_edu.work), and the paper scale keeps the long recipes."""

import importlib
import sys
from pathlib import Path

import pytest

from resnet_edu import work

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
LESSONS = importlib.import_module("work").LESSONS


@pytest.mark.parametrize("name", LESSONS)
def test_gpu_scale_within_budget(name):
    lesson = importlib.import_module(f"resnet_edu.lessons.{name}")
    w = lesson.work("gpu")
    assert w.items and w.equivalents <= work.GPU_BUDGET, (
        f"{name} at the gpu scale costs {w.equivalents:,.0f} ResNet-56-equivalent images; the budget is "
        f"{work.GPU_BUDGET:,}: " + ", ".join(f"{i.label} {i.equivalents:,.0f}" for i in w.items))
    assert lesson.work("paper").equivalents >= w.equivalents


def test_resnet56_is_one_unit_and_the_rule():
    r56 = work.resnet56_flops()
    assert 2 * 120e6 < r56 < 2 * 130e6  # He et al. 2015's ResNet-56: ~125 M multiply-adds per image
    assert work.Item("r56", r56, 1000).equivalents == pytest.approx(1000)
    assert work.Item("r56", r56, 0, 3000).equivalents == pytest.approx(1000)  # an evaluation is a third
    assert work.evaluations(None, 100) == 10 and work.evaluations(0, 100) == 1 and work.evaluations(30, 100) == 4


def test_paper_scale_keeps_the_long_recipes():
    from resnet_edu.lessons import lesson01_degradation as L1
    from resnet_edu.lessons import lesson08_train_cifar10 as L8

    assert L8.work("paper").equivalents > 3.5e6 and L1.work("paper").equivalents > 3.5e6


def test_forecast_after_the_first_epoch_with_a_fake_clock():
    lines = []
    forecast = work.Forecast(total=4.0, first=1.0, first_steps=100, out=lines.append)
    forecast(10, 30.0)  # 10 of the first run's 100 steps in 30 s: 0.1 of 4 units done, 3.9 to go -> 1170 s
    assert forecast.rest_seconds(10, 30.0) == pytest.approx(1170)
    assert lines and "19.5 min more" in lines[0] and "first epoch: 10 steps in 30.0 s" in lines[0]
    with pytest.raises(ValueError, match="first must be > 0 and at most total"):
        work.Forecast(total=1.0, first=2.0, first_steps=1)


def test_train_family_prints_the_forecast_after_the_first_epoch(capsys):
    from resnet_edu import recipes

    recipe = recipes.with_recipe(recipes.DEGRADATION_CPU, steps=None, epochs=2, batch_size=256)
    family = recipes.train_family(recipe, [("plain", 8), ("residual", 20)], progress=False, forecast=True)
    out = capsys.readouterr().out
    assert out.count("first epoch:") == 1 and "should take about" in out and "min more" in out
    assert len(family.runs) == 2


def test_lesson07_studies_print_the_forecast_after_the_first_epoch(capsys):
    from resnet_edu.lessons import lesson07_variants as L7

    data = L7.task(8)
    L7.compare(("resnet", "convnext"), width=4, steps=3, data=data, progress=False, forecast=True)
    L7.shortcut_study(("identity", "scaled"), depth=8, width=4, steps=3, data=data, progress=False, forecast=True)
    L7.preact_study(depth=8, width=4, steps=3, data=data, progress=False, forecast=True)
    out = capsys.readouterr().out
    assert out.count("first epoch:") == 3 and out.count("the rest of this study should take about") == 3
    L7.compare(("resnet",), width=4, steps=3, data=data, progress=False)  # the cpu scale: no forecast by default
    assert "first epoch:" not in capsys.readouterr().out
    with pytest.raises(TypeError):
        L7.shortcut_study(("identity",), depth=8, width=4, steps=3, data=data, progress=False, forecast="yes")
