"""resnet_edu.runtime: device, seeds, scale switch, describe."""

import random

import numpy as np
import pytest
import torch

from resnet_edu import runtime
from resnet_edu.lessons import lesson03b_gradient_norms as L3b
from resnet_edu.lessons import lesson04_identity_vs_lambda as shortcuts


def test_device_is_a_torch_device():
    dev = runtime.device()
    assert isinstance(dev, torch.device)
    if not torch.cuda.is_available():
        assert dev.type in ("cpu", "mps")


def test_seed_everything_repeats_python_numpy_torch():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    runtime.seed_everything(3)
    a = draw()
    runtime.seed_everything(3)
    assert draw() == a
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        runtime.seed_everything(-1)


def test_scale_default_and_override(monkeypatch):
    monkeypatch.delenv("RESNET_EDU_SCALE", raising=False)
    assert runtime.scale() == ("gpu" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("RESNET_EDU_SCALE", "GPU")
    assert runtime.scale() == "gpu"
    assert runtime.by_scale(cpu=1, gpu=2) == 2
    monkeypatch.setenv("RESNET_EDU_SCALE", "cpu")
    assert runtime.by_scale(cpu=1, gpu=2) == 1
    assert runtime.by_scale(cpu=1, gpu=2, paper=3) == 1
    monkeypatch.setenv("RESNET_EDU_SCALE", "paper")
    assert runtime.scale() == "paper" and runtime.by_scale(cpu=1, gpu=2, paper=3) == 3
    assert runtime.by_scale(cpu=1, gpu=2) == 2  # no paper value: the gpu one
    monkeypatch.setenv("RESNET_EDU_SCALE", "tpu")
    with pytest.raises(ValueError, match="RESNET_EDU_SCALE must be 'cpu', 'gpu' or 'paper'; got 'tpu'"):
        runtime.scale()


def test_describe_prints_versions(capsys, monkeypatch):
    monkeypatch.setenv("RESNET_EDU_SCALE", "cpu")
    runtime.describe()
    out = capsys.readouterr().out
    assert torch.__version__ in out and "scale cpu" in out and "threads" in out
    assert runtime.in_colab() is False


def test_one_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with runtime.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_seeded_is_repeatable_and_leaves_the_callers_stream_alone():
    torch.manual_seed(1)
    expected_next = torch.rand(3)
    torch.manual_seed(1)
    with runtime.seeded(7):
        a = torch.rand(2)
    with runtime.seeded(7):
        b = torch.rand(2)
    assert torch.equal(a, b)
    assert torch.equal(torch.rand(3), expected_next)


def test_lesson_seed_reads_the_one_switch(monkeypatch):
    monkeypatch.delenv("RESNET_EDU_SEED", raising=False)
    assert runtime.lesson_seed() == 0 and runtime.lesson_seed(5) == 5
    assert runtime.seed_everything() == 0
    monkeypatch.setenv("RESNET_EDU_SEED", " 3 ")
    assert runtime.lesson_seed(5) == 3 and runtime.seed_everything() == 3
    assert runtime.seed_everything(7) == 7  # an explicit seed wins over the switch
    for bad in ("abc", "1.5", "-1"):
        monkeypatch.setenv("RESNET_EDU_SEED", bad)
        with pytest.raises(ValueError, match="RESNET_EDU_SEED must be a whole number >= 0"):
            runtime.lesson_seed()


@pytest.mark.parametrize("name,build", [
    ("lesson03.cifar_profile", lambda: L3b.cifar_profile(20, "plain")),
    ("shortcuts.make_block", lambda: shortcuts.make_block(seed=5)),
])
def test_seeded_builders_leave_the_global_rng_alone(name, build):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    build()
    assert torch.equal(torch.rand(1), expected), f"{name} consumed the global random stream (it must draw in seeded())"
