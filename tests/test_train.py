"""resnet_edu.train: the config validates itself, training lowers the loss, divergence is reported, seeded runs
repeat, TensorBoard logs; the fast GPU loop's pieces (captured step run eagerly, device history, loss scaling,
fallback decisions) checked on the CPU."""

import math

import pytest
import torch

from resnet_edu import data, nets, train
from resnet_edu.train import TrainConfig

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")


def small_net(batch_norm=True):
    torch.manual_seed(0)
    return nets.cifar_net(8, width=8, in_channels=1, batch_norm=batch_norm)


def test_fit_lowers_training_loss_and_evaluates(digits8):
    tr, te = digits8
    result = train.fit(small_net(), tr, TrainConfig(steps=60, batch_size=64, optimizer="adam"), eval_data=te,
                       progress=False, device="cpu")
    assert result.steps == 60 and not result.diverged and not result.fast and result.precision == "fp32"
    assert sum(result.loss[-10:]) / 10 < 0.7 * sum(result.loss[:10]) / 10
    assert len(result.evals) == 10 and result.evals[-1]["step"] == 60 and 0 <= result.evals[-1]["acc"] <= 1
    assert result.wall_time > 0 and result.final_loss(10) < result.loss[0]
    assert [s for s, _ in result.clock] == list(range(1, 61))  # the CPU reads its loss every step


def test_huge_learning_rate_is_reported_as_divergence(digits8, capsys):
    tr, _ = digits8
    result = train.fit(small_net(batch_norm=False), tr, TrainConfig(steps=200, batch_size=64, lr=1e6),
                       progress=False, device="cpu")
    assert result.diverged and result.diverged_at is not None and result.steps == result.diverged_at - 1
    assert "diverged at step" in capsys.readouterr().out
    assert result.final_loss() == float("inf")


def test_two_seeded_cpu_runs_are_identical_and_fast_changes_nothing_on_cpu(digits8):
    tr, _ = digits8
    config = TrainConfig(steps=20, batch_size=32, seed=5, weight_decay=1e-4)
    a = train.fit(small_net(), tr, config, progress=False, device="cpu")
    b = train.fit(small_net(), tr, config, progress=False, device="cpu")
    c = train.fit(small_net(), tr, config.replace(fast=False), progress=False, device="cpu")
    assert a.loss == b.loss == c.loss and a.acc == b.acc == c.acc


def test_epochs_schedule_tensorboard_and_eval_cadence(digits8, tmp_path):
    tr, te = digits8
    config = TrainConfig(epochs=1, batch_size=256, schedule="step", augment=True, eval_every=0)
    result = train.fit(small_net(), tr, config, log_dir=tmp_path, eval_data=te, progress=False)
    assert result.steps == len(tr) // 256
    assert [e["step"] for e in result.evals] == [result.steps]  # eval_every=0: only at the end
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())


def test_flip_tta_and_evaluate_accepts_a_device_string(digits8):
    tr, te = digits8
    net = small_net()
    plain = train.evaluate(net, te, device="cpu")
    tta = train.evaluate(net, te, device=torch.device("cpu"), tta_flip=True)
    assert 0 <= plain["acc"] <= 1 and 0 <= tta["acc"] <= 1 and plain != tta


def test_after_backward_sees_gradients_every_step(digits8):
    tr, _ = digits8
    seen = []
    net = small_net()
    result = train.fit(net, tr, TrainConfig(steps=5, batch_size=32), progress=False,
                       after_backward=lambda step: seen.append((step, net.fc.weight.grad is not None)))
    # on a GPU the 5 steps are captured: the hook runs in the warm-up steps and once during capture (fit's docstring)
    calls = train.WARMUP_STEPS + 1 if result.fast else 5
    assert result.steps == 5 and seen == [(i, True) for i in range(calls)]


@pytest.mark.parametrize(
    "name,factors",
    [
        ("constant", [1.0] * 8),
        ("step", [1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01]),
        ("linear", [1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8]),
    ],
)
def test_schedules(name, factors):
    config = TrainConfig(steps=8, schedule=name)
    assert [config.lr_factor(s, 8) for s in range(8)] == pytest.approx(factors)


def test_cosine_onecycle_and_warmup_shapes():
    cos = TrainConfig(steps=100, schedule="cosine")
    assert cos.lr_factor(0, 100) == 1 and cos.lr_factor(50, 100) == pytest.approx(0.5) and cos.lr_factor(99, 100) < 1e-3
    one = TrainConfig(steps=100, schedule="onecycle", warmup=0.2)
    f = [one.lr_factor(s, 100) for s in range(100)]
    assert f[0] == pytest.approx(1 / 25) and max(f) == f[20] == 1 and f[-1] < 1e-3
    assert all(a < b for a, b in zip(f[:20], f[1:21])) and all(a > b for a, b in zip(f[20:-1], f[21:]))
    warm = TrainConfig(steps=100, schedule="linear", warmup=0.1)
    assert [warm.lr_factor(s, 100) for s in (0, 4, 9, 10)] == pytest.approx([0.1, 0.5, 1.0, 1.0])
    assert warm.lr_factor(99, 100) == pytest.approx(1 / 90)


def test_standard_loop_follows_the_schedule(digits8, monkeypatch):
    lrs = []
    real = torch.optim.SGD.step

    def spy(self, *args, **kwargs):
        lrs.append(self.param_groups[0]["lr"])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", spy)
    config = TrainConfig(steps=8, batch_size=32, lr=0.2, schedule="linear", warmup=0.25)
    train.fit(small_net(), digits8[0], config, progress=False, device="cpu")
    assert lrs == pytest.approx([0.2 * config.lr_factor(s, 8) for s in range(8)])


def test_config_describe_replace_and_defaults():
    config = TrainConfig(epochs=3, nesterov=True, weight_decay=5e-4, schedule="onecycle", warmup=0.25, augment=True,
                         label_smoothing=0.1, tta_flip=True)
    assert config.base_lr == 0.1 and TrainConfig(steps=1, optimizer="adam").base_lr == 1e-3
    assert config.describe() == ("batch 128, sgd lr 0.1 momentum 0.9 (nesterov) weight decay 0.0005, onecycle "
                                 "schedule with 25% warm-up, crop+flip augmentation, label smoothing 0.1, flip TTA, "
                                 "3 epochs")
    assert config.replace(batch_size=256).batch_size == 256 and config.batch_size == 128
    assert config.total_steps(390) == 1170 and TrainConfig(steps=7).total_steps(390) == 7
    with pytest.raises(ValueError, match="unknown TrainConfig fields \\['step'\\]"):
        config.replace(step=3)
    with pytest.raises(dataclasses_frozen_error()):
        config.lr = 1.0


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        (dict(), ValueError, "exactly one of steps=… or epochs=…"),
        (dict(steps=5, epochs=1), ValueError, "exactly one of steps"),
        (dict(steps=0), ValueError, "steps must be an integer >= 1; got 0"),
        (dict(steps=2.5), TypeError, "steps must be an integer"),
        (dict(epochs=True), TypeError, "epochs must be an integer"),
        (dict(steps=5, batch_size=0), ValueError, "batch_size must be an integer >= 1"),
        (dict(steps=5, optimizer="rmsprop"), ValueError, "optimizer must be one of 'sgd', 'adam'; got 'rmsprop'"),
        (dict(steps=5, schedule="exp"), ValueError, "schedule must be one of 'constant', 'step', 'cosine'"),
        (dict(steps=5, lr=-1.0), ValueError, "lr must be > 0; got -1.0"),
        (dict(steps=5, lr="0.1"), TypeError, "lr must be a number"),
        (dict(steps=5, momentum=math.nan), ValueError, "momentum must be a finite number; got nan"),
        (dict(steps=5, momentum=1.0), ValueError, "momentum must be >= 0 and < 1"),
        (dict(steps=5, weight_decay=math.inf), ValueError, "weight_decay must be a finite number"),
        (dict(steps=5, nesterov=True, optimizer="adam"), ValueError, "nesterov=True needs optimizer='sgd'"),
        (dict(steps=5, augment="yes"), TypeError, "augment must be True or False"),
        (dict(steps=5, fast=1), TypeError, "fast must be True or False"),
        (dict(steps=5, label_smoothing=1.0), ValueError, "label_smoothing must be >= 0 and < 1"),
        (dict(steps=5, warmup=-0.1), ValueError, "warmup must be >= 0 and < 1"),
        (dict(steps=5, seed="3"), TypeError, "seed must be an integer, not the string '3'"),
        (dict(steps=5, eval_every=-1), ValueError, "eval_every must be an integer >= 0"),
        (dict(steps=5, sync_every=0), ValueError, "sync_every must be an integer >= 1"),
    ],
)
def test_config_refuses_bad_values(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", "\\(").replace(")", "\\)").replace("+", "\\+")):
        TrainConfig(**kwargs)


def test_fit_refuses_bad_arguments(digits8):
    tr, _ = digits8
    with pytest.raises(TypeError, match="config must be a resnet_edu.train.TrainConfig"):
        train.fit(small_net(), tr, {"steps": 5})
    with pytest.raises(TypeError, match="train_data must be a resnet_edu.data.ImageData"):
        train.fit(small_net(), tr.x, TrainConfig(steps=5))
    with pytest.raises(TypeError, match="progress must be True or False"):
        train.fit(small_net(), tr, TrainConfig(steps=5), progress="no")
    with pytest.raises(TypeError, match="after_backward must be a function"):
        train.fit(small_net(), tr, TrainConfig(steps=5), after_backward=3)
    with pytest.raises(ValueError, match="first convolution takes 3-channel images, but train_data "
                                         "\\(digits 8x8 \\(train\\)\\) has 1 channel\\(s\\). Build the net with "
                                         "in_channels=1"):
        train.fit(nets.cifar_net(8, width=4), tr, TrainConfig(steps=5), progress=False)
    with pytest.raises(ValueError, match="first convolution takes 3-channel images, but data"):
        train.evaluate(nets.cifar_net(8, width=4), tr)
    with pytest.raises(ValueError, match="last must be an integer >= 1; got 0"):
        train.FitResult(loss=[1.0, 2.0]).final_loss(last=0)


@needs_no_cuda
def test_cuda_without_cuda_is_answered_plainly(digits8):
    with pytest.raises(ValueError, match="asks for a GPU, but this machine has no CUDA GPU"):
        train.fit(small_net(), digits8[0], TrainConfig(steps=5), device="cuda")
    with pytest.raises(ValueError, match="asks for a GPU"):
        train.evaluate(small_net(), digits8[1], device="cuda")


# ----------------------------------------------------------------------------------------------------------------
# The fast loop's pieces, on the CPU


def test_fast_path_decisions():
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    sgd = TrainConfig(steps=100)
    assert train.fast_path_problem(sgd, cuda, 100, distributed=False, has_graphs=True) is None
    assert "needs a CUDA GPU" in train.fast_path_problem(sgd, cpu, 100, False, True)
    assert "optimizer='adam'" in train.fast_path_problem(TrainConfig(steps=100, optimizer="adam"), cuda, 100, False,
                                                         True)
    assert "DistributedDataParallel" in train.fast_path_problem(sgd, cuda, 100, True, True)
    assert "4 steps are too few" in train.fast_path_problem(sgd, cuda, 4, False, True)
    assert "no torch.cuda.graph" in train.fast_path_problem(sgd, cuda, 100, False, False)
    old = train.fast_path_problem(sgd, cuda, 100, False, True, version="2.4.1")  # fused SGD without a tensor lr
    assert old == ("it needs torch 2.5 or newer (fused SGD with a tensor learning rate); this is torch 2.4.1")
    assert train.fast_path_problem(sgd, cuda, 100, False, True, version="2.11.0+cu126") is None  # Colab's
    assert train.precision_for(cpu) == "fp32"
    assert train.precision_for(cuda, (9, 0)) == train.precision_for(cuda, (8, 0)) == "bf16"  # H100, A100
    assert train.precision_for(cuda, (7, 5)) == "fp16"  # T4


def fast_eager(model, tr, config, after_backward=None):
    """The fast loop with every step run eagerly (no capture) on the CPU, as fit would drive it."""
    dev = torch.device("cpu")
    torch.manual_seed(config.seed)
    loader = data.DeviceLoader(tr, config.batch_size, augment=config.augment, device=dev, seed=config.seed)
    total = config.total_steps(len(loader))
    result = train.FitResult(label="fast")
    run = train.run._Run(config, total, dev, result, None, model, False, None, config.sync_every)
    train.graphed.fast_loop(model, loader, config, run, after_backward, capture=False)
    run.close()
    return result


def test_captured_step_trains_like_the_standard_loop(digits8):
    tr, _ = digits8
    config = TrainConfig(steps=30, batch_size=32, lr=0.05, weight_decay=1e-4, nesterov=True, schedule="cosine",
                         augment=True, label_smoothing=0.1, sync_every=7)
    standard = train.fit(small_net(), tr, config, progress=False, device="cpu")
    fast = fast_eager(small_net(), tr, config)
    assert fast.steps == 30 and [s for s, _ in fast.clock] == [7, 14, 21, 28, 30]  # read every 7 steps, and at the end
    assert fast.loss == pytest.approx(standard.loss, rel=1e-4)  # fused SGD vs for-each SGD: rounding only
    assert fast.acc == pytest.approx(standard.acc, abs=1 / 32 + 1e-9)


def test_captured_step_calls_after_backward_and_reports_divergence(digits8, capsys):
    tr, _ = digits8
    steps = []
    fast_eager(small_net(), tr, TrainConfig(steps=6, batch_size=32), after_backward=steps.append)
    assert steps == list(range(6))
    result = fast_eager(small_net(batch_norm=False), tr, TrainConfig(steps=200, batch_size=64, lr=1e6, sync_every=8))
    assert result.diverged and result.steps == result.diverged_at - 1 and all(map(math.isfinite, result.loss))
    assert "diverged at step" in capsys.readouterr().out


def test_device_history_reads_in_blocks():
    history = train.DeviceHistory(3, torch.device("cpu"))
    full = [history.add(torch.tensor(float(i)), torch.tensor(i / 10)) for i in range(3)]
    assert full == [False, False, True]
    assert history.read() == ([0.0, 1.0, 2.0], [0.0, pytest.approx(0.1), pytest.approx(0.2)])
    assert history.read() == ([], [])
    history.add(torch.tensor(7.0), torch.tensor(0.5))
    assert history.read() == ([7.0], [0.5])


def test_device_loss_scale_skips_overflow_and_grows_back():
    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([p], lr=torch.tensor(0.1), momentum=0.9, fused=True)
    scale = train.DeviceLossScale(torch.device("cpu"), init=8.0, interval=2)
    opt.found_inf = scale.found_inf
    p.grad = torch.full((3,), 8.0)  # a scaled gradient of 1
    scale.unscale_([p])
    opt.step()
    scale.update()
    assert torch.allclose(p.detach(), torch.full((3,), 0.9)) and scale.scale.item() == 8.0
    p.grad = torch.tensor([math.inf, 1.0, 1.0])
    before = p.detach().clone()
    scale.unscale_([p])
    opt.step()
    scale.update()
    assert scale.found_inf.item() == 1 and torch.equal(p.detach(), before) and scale.scale.item() == 4.0
    for _ in range(2):
        p.grad = torch.ones(3)
        scale.unscale_([p])
        opt.step()
        scale.update()
    assert scale.scale.item() == 8.0  # doubled after `interval` clean steps


def test_ms_per_step():
    result = train.FitResult(clock=[(10, 1.0), (20, 1.5), (30, 2.0)])
    assert result.ms_per_step() == pytest.approx(50.0) and result.ms_per_step(skip=20) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="needs two clock readings"):
        result.ms_per_step(skip=25)


def test_shard_splits_evenly(digits8):
    tr, _ = digits8
    parts = [train.shard(tr, r, 3) for r in range(3)]
    assert {len(p) for p in parts} == {len(tr) // 3}
    assert torch.equal(parts[1].y, tr.y[1:len(tr) // 3 * 3:3])


def test_lesson01_shows_the_real_training_lines():
    """Lesson 01 cell 7 prints the training lines of the loop fit runs, read from its source (issue 20, item 5)."""
    import json
    from pathlib import Path

    lines = train.training_lines()
    assert any(".backward()" in line for line in lines), lines
    assert [k for k in ("logits = ", "cross_entropy(", "zero_grad(", ".backward()", "opt.step()")
            if not any(k in line for line in lines)] == []
    assert all(line in __import__("inspect").getsource(train.standard_loop) for line in lines)
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "01_degradation.ipynb"
    cells = json.loads(notebook.read_text())["cells"]
    cell = next(c for c in cells if c.get("id") == "162ae34b")
    assert "edu.train.training_lines()" in "".join(cell["source"])
