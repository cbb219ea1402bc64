"""resnet_edu.lessons.lesson02_identity_mapping (lesson 02): exact identity at init, learning the identity, the learned
correction,
∂L/∂H for each reduction, diagrams traced from modules, and the lesson's exercise checkers."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn

from resnet_edu import exercises, nets
from resnet_edu.lessons import lesson02_identity_mapping as identity


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# --- zero-initialised blocks ---


def test_zero_init_residual_block_is_exactly_the_identity_for_nonnegative_input():
    gap = identity.zero_init_identity_gap(channels=8, size=4, batch=2, blocks=3)
    assert gap.residual_block == 0.0 and gap.residual_stage == 0.0
    # the final ReLU clips exactly the negative part of a signed input, nothing else
    assert gap.residual_signed == pytest.approx(gap.largest_negative, abs=1e-6) and gap.largest_negative > 0
    # the plain twin with the same zero BN outputs zeros, so it is max|x| away from the identity
    assert gap.plain_zero_init == pytest.approx(gap.input_max) and gap.plain_default > 0.1
    assert "max|out − x|" in str(gap)
    assert gap.plot().get_title()


@pytest.mark.parametrize("seed", range(6))
def test_plain_block_at_the_usual_init_is_far_from_the_identity(seed):
    """Lesson 02's check cell asks for max |plain(x) − x| > max |x| / 2 with γ = 1; at the lesson's size."""
    gap = identity.zero_init_identity_gap(channels=16, blocks=9, seed=seed)
    assert gap.plain_default / gap.input_max > 0.5


@pytest.mark.parametrize(
    "kwargs,error,message",
    [({"channels": 0}, ValueError, "channels must be an integer >= 1"),
     ({"blocks": -1}, ValueError, "blocks must be an integer >= 1"),
     ({"size": 2.5}, TypeError, "size must be an integer"), ({"batch": True}, TypeError, "batch must be an integer")],
)
def test_zero_init_identity_gap_rejects_bad_sizes(kwargs, error, message):
    with pytest.raises(error, match=message):
        identity.zero_init_identity_gap(**kwargs)


def test_units_and_stacks():
    x = torch.randn(5, 4)
    assert torch.equal(nets.ResidualUnit(4, 8, zero_init=True)(x), x)
    unit = nets.ResidualUnit(4, 8)
    assert torch.allclose(unit(x), unit.residual(x) + x)  # H(x) = F(x) + x
    plain = identity.stack("plain", 3, dim=4, width=8)
    residual = identity.stack("residual", 3, dim=4, width=8)
    assert len(plain) == 3 and all(type(m) is nets.PlainUnit for m in plain)
    assert all(type(m) is nets.ResidualUnit for m in residual)
    assert nets.count_parameters(plain) == nets.count_parameters(residual)  # same layers, only the shortcut differs
    with pytest.raises(ValueError, match="kind must be 'plain'.* or 'residual'.*got 'resnet'"):
        identity.stack("resnet", 3)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        identity.stack("plain", 0)


def test_units_are_the_shared_nets_units():
    # one two-layer unit in the package, with one import path: nets.PlainUnit / nets.ResidualUnit
    assert not hasattr(identity, "ResidualUnit") and not hasattr(identity, "PlainUnit")
    assert identity.KINDS == nets.KINDS == ("plain", "residual")
    unit = nets.ResidualUnit(3, 5, zero_init=True, activation="tanh")
    assert isinstance(unit.act, nn.Tanh) and torch.equal(unit(torch.ones(2, 3)), torch.ones(2, 3))
    assert nets.ResidualUnit(2, 4, True).fc2.weight.abs().max() == 0  # zero_init stays the third argument
    assert [n for n, _ in nets.PlainUnit(2, 4).named_children()] == ["fc1", "act", "fc2"]
    with pytest.raises(ValueError, match="activation must be one of 'relu'"):
        nets.ResidualUnit(2, 4, activation="swish")
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        nets.PlainUnit(2, 0)


def test_lesson_functions_leave_the_global_random_stream_alone():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    identity.zero_init_identity_gap(channels=4, size=4, batch=2, blocks=1)
    identity.learn_identity(ks=(1,), steps=2, dim=2, width=2, progress=False)
    identity.learn_correction(steps=2)
    exercises.check_block_output([0.0, 0.5, 2.0])
    assert torch.equal(torch.rand(3), expected), "seeding a lesson's net must not reset the learner's random stream"


# --- learning the identity ---


def _small_run(**kwargs):
    return identity.learn_identity(ks=(1, 4), steps=60, dim=8, width=16, progress=False, **kwargs)


def test_learn_identity_residual_beats_plain_and_is_deterministic():
    result = _small_run()
    for k in (1, 4):
        assert result.loss("residual", k) < result.loss("plain", k) / 3
        assert result.ratio(k) == pytest.approx(result.loss("plain", k) / result.loss("residual", k))
        assert len(result.curves[("plain", k)]) == 60
        assert result.initial_loss("plain", k) > 0
    again = _small_run()
    assert again.final == result.final and again.curves == result.curves
    assert torch.get_num_threads() >= 1  # restored after the run
    fig = result.plot()
    assert [ax.get_title() for ax in fig.axes] == ["Learning the identity mapping", "Training curves"]
    assert "k=  4" in str(result)


def test_learn_identity_restores_thread_count():
    before = torch.get_num_threads()
    identity.learn_identity(ks=(1,), steps=2, dim=2, width=2, progress=False)
    assert torch.get_num_threads() == before


def test_learn_identity_result_rejects_unknown_kind_and_k():
    result = identity.learn_identity(ks=(1, 2), steps=3, dim=2, width=4, progress=False)
    with pytest.raises(ValueError, match="kind must be 'plain'.* or 'residual'"):
        result.loss("resnet", 1)
    with pytest.raises(ValueError, match="k=5 was not trained; available: 1, 2"):
        result.loss("plain", 5)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"ks": ()}, "ks must hold at least 1 value"),
        ({"ks": (1, 1)}, "must not repeat"),
        ({"ks": (0, 2)}, "every k in ks must be an integer >= 1"),
        ({"steps": 0}, "steps must be an integer >= 1"),
    ],
)
def test_learn_identity_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        identity.learn_identity(**{"progress": False, **kwargs})


# --- the learned correction and ∂L/∂H ---


def test_learn_correction_converges_to_y_minus_x():
    result = identity.learn_correction(x=[2.0, 3.0], y=[2.1, 2.9], steps=100)
    assert result.history[0] == [0.0, 0.0]  # zero-init: H(x) = x at the start
    assert len(result.history) == len(result.losses) == 101
    assert result.error() < 1e-4
    assert result.final == pytest.approx([0.1, -0.1], abs=1e-4)
    assert result.output == pytest.approx([2.1, 2.9], abs=1e-4)
    assert result.losses[-1] < 1e-6 * result.losses[0]
    assert result.plot().axes[0].get_ylabel() == "F(x)"


@pytest.mark.parametrize("seed", range(6))
def test_learn_correction_loss_falls_ten_thousand_fold_at_the_lessons_size(seed):
    """Lesson 02 section 4 (300 steps): the loss falls by more than 10⁴ (a regression bound; the page claims less)."""
    result = identity.learn_correction(x=[2.0, 3.0], y=[2.1, 2.9], steps=300, seed=seed)
    assert result.losses[-1] / result.losses[0] < 1e-4


def test_learn_correction_other_sizes_and_errors():
    result = identity.learn_correction(x=[1.0, -1.0, 0.5], y=[0.5, -0.5, 0.5], steps=300)
    assert result.error() < 1e-3
    with pytest.raises(ValueError, match="x and y must have the same length"):
        identity.learn_correction(x=[1.0, 2.0], y=[1.0])
    with pytest.raises(ValueError, match="1-D vector"):
        identity.learn_correction(x=[[1.0]], y=[[1.0]])
    with pytest.raises(TypeError, match="list or 1-D tensor of numbers"):
        identity.learn_correction(x="ab", y=[1.0, 2.0])


def test_loss_gradient_for_each_reduction():
    H, y = [2.2, 2.5], [2.0, 2.9]
    assert identity.loss_gradient(H, y, "half_sum").tolist() == pytest.approx([0.2, -0.4])
    assert identity.loss_gradient(H, y, "mean").tolist() == pytest.approx([0.2, -0.4])  # 2/n = 1 for n = 2
    assert identity.loss_gradient(H, y, "sum").tolist() == pytest.approx([0.4, -0.8])
    four = identity.loss_gradient([1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], "mean")
    assert four.tolist() == pytest.approx([0.5] * 4)  # 2(H − y)/4
    with pytest.raises(ValueError, match="reduction must be one of 'half_sum', 'sum', 'mean'"):
        identity.loss_gradient(H, y, "max")
    with pytest.raises(ValueError, match="same length"):
        identity.loss_gradient([1.0], y)


# --- exercise checkers ---


def test_check_block_output(capsys):
    assert exercises.check_block_output(None) is False
    assert "No answer yet" in capsys.readouterr().out
    assert exercises.check_block_output([-1.5, 0.5, 2.0]) is False
    assert "final ReLU" in capsys.readouterr().out
    assert exercises.check_block_output([0, 0, 0]) is False
    assert "plain" in capsys.readouterr().out
    assert exercises.check_block_output([1, 2]) is False
    assert "exactly 3 numbers" in capsys.readouterr().out
    assert exercises.check_block_output([0.0, 0.5, 2.0]) is True
    assert exercises.lesson02.solution_block_output() == [0.0, 0.5, 2.0]


def test_check_mean_gradient(capsys):
    assert exercises.check_mean_gradient(None) is False
    assert exercises.check_mean_gradient([0.2, -0.4, 0.0, -0.5]) is False
    assert "2(H − y)/4" in capsys.readouterr().out
    assert exercises.check_mean_gradient([0.4, -0.8, 0.0, -1.0]) is False
    assert "*sum*" in capsys.readouterr().out
    assert exercises.check_mean_gradient([-0.1, 0.2, 0.0, 0.25]) is False
    assert "sign" in capsys.readouterr().out
    assert exercises.check_mean_gradient("abc") is False
    assert exercises.check_mean_gradient([0.1, -0.2, 0.0, -0.25]) is True
    assert exercises.solution_mean_gradient() == pytest.approx([0.1, -0.2, 0.0, -0.25])


def test_check_residual_unit(capsys):
    assert exercises.check_residual_unit(None) is False
    assert exercises.check_residual_unit(nets.ResidualUnit) is False
    assert "pass an instance" in capsys.readouterr().out
    assert exercises.check_residual_unit(nn.Identity()) is False
    assert "no trainable parameters" in capsys.readouterr().out
    assert exercises.check_residual_unit(nets.ResidualUnit(2, 8)) is False  # not zero-initialised
    assert "nn.init.zeros_" in capsys.readouterr().out

    class IgnoresF(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return x

    assert exercises.check_residual_unit(IgnoresF()) is False
    assert "does not depend on F" in capsys.readouterr().out
    assert exercises.check_residual_unit(nn.Linear(3, 3)) is False
    assert "failed" in capsys.readouterr().out
    assert exercises.check_residual_unit(exercises.lesson02.solution_residual_unit()) is True
    assert exercises.check_residual_unit(exercises.solution_residual_unit()) is True


class _Weird:
    def __float__(self):
        raise ZeroDivisionError("not a number")


@pytest.mark.parametrize("answer", [{"a": 1}, {1, 2}, object(), _Weird(), [[1, 2], [3]], "abc", True, 3.5, b"xy"])
def test_lesson02_checkers_never_raise_for_an_answer_of_the_wrong_type(answer, capsys):
    for check in (exercises.check_block_output, exercises.check_mean_gradient, exercises.check_residual_unit):
        assert check(answer) is False
        out = capsys.readouterr().out
        assert out.startswith("❌") and ("Expected" in out or "exactly" in out), out


def test_lesson02_exports_its_solutions():
    names = exercises.lesson02.__all__
    assert [n for n in names if n.startswith("solution_")] == [
        "solution_block_output", "solution_mean_gradient", "solution_residual_unit"]
    assert all(hasattr(exercises, n) for n in names)


def test_he_init_control_trains_only_the_plain_stacks():
    he = identity.learn_identity(ks=(2,), steps=5, init="he", kinds=("plain",), progress=False)
    assert he.kinds() == ("plain",) and he.init == "he" and "He init" in str(he)
    assert he.loss("plain", 2) > 0
    with pytest.raises(ValueError, match="not trained"):
        he.loss("residual", 2)
    with pytest.raises(ValueError, match="init"):
        identity.learn_identity(ks=(1,), steps=1, init="xavier")
    with pytest.raises(ValueError, match="kinds"):
        identity.learn_identity(ks=(1,), steps=1, kinds=())
    net = identity.stack("plain", 2, init="he")
    assert all(float(m.bias.abs().max()) == 0 for m in net.modules() if isinstance(m, nn.Linear))


def test_plain_correction_starts_far_away():
    res = identity.learn_correction(steps=20)
    plain = identity.learn_correction(steps=20, kind="plain")
    assert plain.kind == "plain" and plain.expected() == pytest.approx([2.1, 2.9])
    assert plain.distance_to_cover() > 20 * res.distance_to_cover()
    assert plain.output == plain.final
    assert plain.plot().axes[0].get_ylabel().startswith("H(x)")


def test_untouched_template_is_no_answer_yet(capsys):
    class MyResidualUnit(nn.Module):
        def forward(self, x):
            return x

    assert exercises.check_residual_unit(MyResidualUnit()) is False
    out = capsys.readouterr().out
    assert "No answer yet" in out and "❌" not in out


def test_init_prediction(capsys):
    ident = identity.learn_identity(ks=(1, 3), steps=2, progress=False)
    assert exercises.check_init_prediction(None, ident) is False
    assert "No prediction recorded" in capsys.readouterr().out
    truth = "plain" if ident.initial_loss("plain", 3) > ident.initial_loss("residual", 3) else "residual"
    assert exercises.check_init_prediction(truth, ident) is True
    assert exercises.check_init_prediction(["plain"], ident) is False
