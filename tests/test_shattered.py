"""Lesson 10, resnet_edu.lessons.lesson10_shattered_landscape (Balduzzi et al. 2017): the line of inputs, input
gradients, autocorrelation,
the depth study, and exercise 3's checker."""

import matplotlib
import pytest
import torch
from torch import nn

import resnet_edu as edu
from resnet_edu.lessons import lesson10_shattered_landscape as S

matplotlib.use("Agg")


def test_line_is_evenly_spaced():
    x = S.line(5, -2, 2)
    assert x.shape == (5, 1) and x.squeeze(1).tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="low must be smaller than high; got low=2, high=-2"):
        S.line(5, 2, -2)
    with pytest.raises(ValueError, match="points must be an integer >= 3"):
        S.line(2)
    with pytest.raises(ValueError, match="low must be a finite number"):
        S.line(5, float("nan"), 1)


def test_autocorrelation_values():
    assert S.autocorrelation(torch.arange(1000.0)) > 0.99  # a smooth ramp
    assert S.autocorrelation([1.0, -1.0] * 50) == pytest.approx(-0.99)  # alternating signs
    torch.manual_seed(0)
    assert abs(S.autocorrelation(torch.randn(20_000))) < 0.03  # white noise
    assert S.autocorrelation(torch.randn(20_000).cumsum(0)) > 0.99  # brown noise
    assert S.autocorrelation([1.0, 2.0, 1.0, 2.0, 1.0], lag=2) == pytest.approx(0.68 / 1.2)  # by hand


@pytest.mark.parametrize(("values", "lag", "error", "message"), [
    ([1.0, 1.0, 1.0], 1, ValueError, "constant"),
    ([1.0, float("nan"), 2.0], 1, ValueError, "NaN or inf"),
    ([1.0, 2.0, 3.0, 4.0], 0, ValueError, "lag must be an integer >= 1"),
    ([1.0, 2.0, 3.0, 4.0], 1.5, TypeError, "lag must be an integer"),
])
def test_autocorrelation_refuses_bad_input(values, lag, error, message):
    with pytest.raises(error, match=message):
        S.autocorrelation(values, lag=lag)


def test_input_gradients_of_a_linear_net_are_its_slope():
    net = nn.Linear(1, 1)
    with torch.no_grad():
        net.weight.fill_(3.0)
    assert torch.equal(S.input_gradients(net, S.line(7)), torch.full((7,), 3.0))


def test_input_gradients_use_the_lines_statistics_and_leave_the_net_alone():
    net = nn.Sequential(nn.Linear(1, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    x = S.line(64)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    g = S.input_gradients(net, x)
    assert g.shape == (64,) and net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()), "running stats untouched"
    frozen = nn.Sequential(*[m for m in net])  # the same per-point derivative by hand: BN with the line's stats
    bn = frozen[1]
    with torch.no_grad():
        h = frozen[0](x)
        mean, var = h.mean(0), h.var(0, unbiased=False)
    xs = x.clone().requires_grad_(True)
    out = frozen[3](torch.relu((frozen[0](xs) - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias))
    (manual,) = torch.autograd.grad(out.sum(), xs)
    assert torch.allclose(g, manual.squeeze(1), atol=1e-6)


def test_input_gradients_refuse_bad_shapes():
    with pytest.raises(ValueError, match=r"x must have 2 dimensions \(a line of inputs \(points, 1\)\)"):
        S.input_gradients(nn.Linear(1, 1), torch.zeros(5))
    with pytest.raises(ValueError, match="one input to one output; got output shape"):
        S.input_gradients(nn.Linear(1, 2), S.line(5))


def test_line_net_is_seeded_and_shaped():
    a, b = S.line_net("residual", 3, width=8, seed=1), S.line_net("residual", 3, width=8, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert len(a) == 5 and a[1].has_shortcut and isinstance(a[2].bn, nn.BatchNorm1d)
    assert isinstance(a[1].bn, nn.Identity), "no BN in the first hidden layer: it would put every kink at the mean"
    assert not S.line_net("plain", 3, width=8)[1].has_shortcut
    with pytest.raises(ValueError, match="kind must be 'plain'"):
        S.line_net("dense", 3)


def test_shattered_study_plain_shatters_residual_does_not():
    result = S.shattered_study(depths=(20, 1), seeds=2, width=64, progress=False)
    assert result.depths == (1, 20) and result.seeds == (0, 1) and result.x.shape == (256, 1)
    assert result.gradients["plain", 20].shape == (256,)
    assert result.autocorr["plain", 1] > 0.9 and abs(result.autocorr["plain", 20]) < 0.3
    assert result.autocorr["residual", 20] > 0.7
    assert result.curve("plain") == [result.autocorr["plain", 1], result.autocorr["plain", 20]]
    assert abs(result.white) < 0.2 and result.brown > 0.9
    again = S.shattered_study(depths=(1, 20), seeds=2, width=64, progress=False)
    assert again.autocorr == result.autocorr
    assert "white noise" in str(result) and len(result.plot().axes) == 3
    with pytest.raises(ValueError, match=r"depths must be among the measured \(1, 20\)"):
        result.plot(depths=(5,))


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(depths=5), TypeError, "depths must be a list or tuple"),
    (dict(depths=(0,)), ValueError, "depth must be an integer >= 1"),
    (dict(depths=(2, 2)), ValueError, "must not repeat"),
    (dict(seeds=0), ValueError, "seeds must be an integer >= 1"),
    (dict(width=1), ValueError, "width must be an integer >= 2"),
])
def test_shattered_study_refuses_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        S.shattered_study(**kwargs, progress=False)


def test_exercise_noise_autocorrelation(capsys):
    X = edu.exercises
    assert X.check_noise_autocorrelation(None) is False and "No answer yet" in capsys.readouterr().out
    assert X.check_noise_autocorrelation(X.solution_noise_autocorrelation()) is True
    assert X.check_noise_autocorrelation((1.0, 0.0)) is False and "independently" in capsys.readouterr().out
    for bad in ("white", 0.5, (float("nan"), 1.0), (1e308, 1e308), [0, 1, 2], True):
        assert X.check_noise_autocorrelation(bad) is False


def test_one_layer_net_kinks_spread_over_the_line():
    """Issue 20: with BN in the first layer every ReLU kink sat at the line's mean (x = 0), so a one-layer net's
    gradient was a single step (2 values). Now each unit bends at its own point of [-2, 2]."""
    net = S.line_net("plain", 1, width=200, seed=3)
    first = net[1].linear
    slope = (first.weight @ net[0].weight).squeeze(1)
    kinks = -first.bias.detach() / slope.detach()
    assert kinks.min() > -2 - 1e-4 and kinks.max() < 2 + 1e-4 and kinks.std() > 0.8
    g = S.input_gradients(net, S.line())
    assert len(torch.unique(g)) > 50, "a random walk of steps, not one step"
    assert S.autocorrelation(g) > 0.9


def test_shattered_study_draws_from_its_seed():
    a = S.shattered_study(depths=(1, 5), seeds=2, width=32, seed=4, progress=False)
    assert a.seeds == (4, 5)
    b = S.shattered_study(depths=(1, 5), seeds=2, width=32, seed=4, progress=False)
    c = S.shattered_study(depths=(1, 5), seeds=2, width=32, seed=0, progress=False)
    assert a.autocorr == b.autocorr and a.white == b.white and a.autocorr != c.autocorr


def _lag0(g):
    g = g - g.mean()
    return float((g * g).sum() / (g * g).sum())


def _no_mean(g):
    return float((g[1:] * g[:-1]).sum() / (g * g).sum())


def _covariance(g):
    g = g - g.mean()
    return float((g[1:] * g[:-1]).mean())


def _abs(g):
    g = g - g.mean()
    return abs(float((g[1:] * g[:-1]).sum() / (g * g).sum()))


def _means(g):
    g = g - g.mean()
    return float((g[1:] * g[:-1]).mean() / (g * g).mean())


def _pearson(g):
    return float(torch.corrcoef(torch.stack([g[1:], g[:-1]]))[0, 1])


def _tensor(g):
    g = g - g.mean()
    return (g[1:] * g[:-1]).sum() / (g * g).sum()


def _unfinished(g):
    raise NotImplementedError


def _crash(g):
    return g.no_such_method()


@pytest.mark.parametrize(("fn", "says"), [
    (_lag0, "lag-0"), (_no_mean, "subtract the mean"), (_covariance, "covariance"), (_abs, "sign is lost"),
    (_means, "n/(n − 1)"), (_crash, "raised AttributeError"), (lambda g: g, "one finite number"),
    (lambda g: float("nan"), "one finite number"), (lambda g: True, "one finite number"),
    (lambda g: 0.0, "the values differ"), ("lag1", "Pass your function itself"), (torch.Tensor, "Pass your function"),
])
def test_exercise_autocorrelation_rejects_each_mistake_with_its_sentence(fn, says, capsys):
    """Issue 20 item 4: the learner writes the lag-1 autocorrelation; every wrong version gets a sentence."""
    assert edu.exercises.check_autocorrelation(fn) is False
    assert says in capsys.readouterr().out


@pytest.mark.parametrize("fn", [S.autocorrelation, edu.exercises.solution_autocorrelation, _tensor, _pearson])
def test_exercise_autocorrelation_accepts_right_versions(fn, capsys):
    assert edu.exercises.check_autocorrelation(fn) is True
    assert "✅" in capsys.readouterr().out


def test_exercise_autocorrelation_unanswered(capsys):
    assert edu.exercises.check_autocorrelation(None) is False and "No answer yet" in capsys.readouterr().out
    assert edu.exercises.check_autocorrelation(_unfinished) is False and "not finished" in capsys.readouterr().out


def test_shattered_prediction_quotes_the_study(capsys):
    result = S.shattered_study(depths=(1, 20), seeds=1, width=64, progress=False)
    truth = "brown" if result.autocorr["residual", 20] > 0.5 else "white"
    assert edu.exercises.check_shattered_prediction(truth, result) is True
    assert "20-block ResNet" in capsys.readouterr().out
    assert edu.exercises.check_shattered_prediction({"brown": "white"}[truth] if truth == "brown" else "brown",
                                                    result) is False
    assert edu.exercises.check_shattered_prediction("grey", result) is False
    assert edu.exercises.check_shattered_prediction(None, result) is False
    assert edu.exercises.check_shattered_prediction("brown", "not a study") is False
    assert "second argument" in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(6))
def test_noise_references_at_the_lessons_size(seed):
    """Lesson 10's references (256 points): white noise ≈ 0, brown noise ≈ 1 (moved out of its check cell)."""
    result = S.shattered_study(depths=(1,), seeds=1, width=8, progress=False, seed=seed)
    assert abs(result.white) < 0.2 and result.brown > 0.9
