"""resnet_edu.train: training lowers the loss, divergence is reported, seeded runs repeat, TensorBoard logs."""

import pytest
import torch

from resnet_edu import data, nets, train


@pytest.fixture(scope="module")
def digits8():
    return data.digits(8, 1), data.digits(8, 1, train=False)


def small_net():
    torch.manual_seed(0)
    return nets.cifar_net(8, width=8, in_channels=1)


def test_fit_lowers_training_loss_and_evaluates(digits8):
    tr, te = digits8
    result = train.fit(small_net(), tr, steps=60, batch_size=64, optimizer="adam", eval_data=te, progress=False)
    assert result.steps == 60 and not result.diverged
    assert sum(result.loss[-10:]) / 10 < 0.7 * sum(result.loss[:10]) / 10
    assert result.evals and result.evals[-1]["step"] == 60 and 0 <= result.evals[-1]["acc"] <= 1
    assert result.wall_time > 0 and result.final_loss(10) < result.loss[0]


def test_huge_learning_rate_is_reported_as_divergence(digits8, capsys):
    tr, _ = digits8
    net = nets.cifar_net(8, width=8, in_channels=1, batch_norm=False)
    result = train.fit(net, tr, steps=200, batch_size=64, optimizer="sgd", lr=1e6, progress=False)
    assert result.diverged and result.diverged_at is not None and result.steps == result.diverged_at - 1
    assert "diverged at step" in capsys.readouterr().out
    assert result.final_loss() == float("inf")


def test_two_seeded_cpu_runs_are_identical(digits8):
    tr, _ = digits8
    a = train.fit(small_net(), tr, steps=20, batch_size=32, progress=False, seed=5)
    b = train.fit(small_net(), tr, steps=20, batch_size=32, progress=False, seed=5)
    assert a.loss == b.loss and a.acc == b.acc


def test_epochs_schedule_and_tensorboard(digits8, tmp_path):
    tr, _ = digits8
    result = train.fit(small_net(), tr, epochs=1, batch_size=256, schedule="step", log_dir=str(tmp_path),
                       progress=False, augment=True)
    assert result.steps == len(tr) // 256
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(), "give exactly one of steps"),
        (dict(steps=5, epochs=1), "give exactly one of steps"),
        (dict(steps=0), "steps/epochs must be a positive integer"),
        (dict(steps=5, optimizer="rmsprop"), "optimizer must be one of 'sgd', 'adam'; got 'rmsprop'"),
        (dict(steps=5, schedule="linear"), "schedule must be one of"),
        (dict(steps=5, lr=-1.0), "lr must be positive"),
    ],
)
def test_fit_errors(digits8, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train.fit(small_net(), digits8[0], progress=False, **kwargs)
