"""Issue 32, round 3 of the bad-input audit: the answers that were silent, wrong or a traceback, each now a sentence
(or, for a learner's exercise, a ❌ with a sentence). One table per kind; every row failed on main before the fix.
Checkpoints are in test_checkpoint.py, tools/seeds.py in test_seeds.py."""

import copy
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_edu import _checks, data, nets, runtime, train, viz, zoo
from resnet_edu.exercises import lesson07 as ex07
from resnet_edu.exercises import lesson09 as ex09
from resnet_edu.exercises import lesson10 as ex10
from resnet_edu.lessons import lesson02_identity_mapping as identity
from resnet_edu.lessons import lesson03_gradient_path as L3
from resnet_edu.lessons import lesson03b_gradient_norms as L3b
from resnet_edu.lessons import lesson04_identity_vs_lambda as shortcuts
from resnet_edu.lessons import lesson05_ode_view as ode
from resnet_edu.lessons import lesson07_variants as variants
from resnet_edu.lessons import lesson08_train_cifar10 as dynamics
from resnet_edu.lessons import lesson10_shattered_landscape as shattered

HUGE = 10**400  # an int past every float: float(HUGE) raises OverflowError
TOO_LARGE = "too large for any float"

# --- 10**400 wherever a number is read: a sentence, never OverflowError or torch's "Overflow when unpacking" ------

HUGE_CASES = [
    ("mlp branch_scale", lambda: nets.mlp(3, branch_scale=HUGE), "branch_scale must be a finite number >= 0; got an "
                                                                   "integer of 401 digits, " + TOO_LARGE),
    ("mlp_study branch_scale", lambda: L3b.mlp_study(branch_scale=HUGE), TOO_LARGE),
    ("path_expansion branch_scale", lambda: L3.path_expansion(branch_scale=HUGE), TOO_LARGE),
    ("TrainConfig lr", lambda: train.TrainConfig(steps=1, lr=HUGE), "lr must be a finite number > 0; got an integer"),
    ("TrainConfig momentum", lambda: train.TrainConfig(steps=1, momentum=HUGE), TOO_LARGE),
    ("TrainConfig weight_decay", lambda: train.TrainConfig(steps=1, weight_decay=HUGE), TOO_LARGE),
    ("TrainConfig label_smoothing", lambda: train.TrainConfig(steps=1, label_smoothing=HUGE), TOO_LARGE),
    ("learn_correction lr", lambda: identity.learn_correction(lr=HUGE), TOO_LARGE),
    ("loss_gradient with 10**400 in a list", lambda: identity.loss_gradient([1.0, HUGE], [1.0, 2.0]),
     "holds an integer " + TOO_LARGE),
    ("two_spirals noise", lambda: ode.two_spirals(noise=HUGE), TOO_LARGE),
    ("ODENet T", lambda: ode.ODENet(T=HUGE), TOO_LARGE),
    ("convergence T", lambda: ode.convergence(T=HUGE), TOO_LARGE),
    ("shattered.line low", lambda: shattered.line(low=HUGE), TOO_LARGE),
    ("digits test_fraction", lambda: data.digits(test_fraction=HUGE), TOO_LARGE),
    ("ScaledShortcut scale", lambda: variants.ScaledShortcut(scale=HUGE), TOO_LARGE),
    ("GatedShortcut bias", lambda: variants.GatedShortcut(4, bias=HUGE), TOO_LARGE),
    ("ConvNeXtBlock layer_scale", lambda: zoo.ConvNeXtBlock(8, layer_scale=HUGE), TOO_LARGE),
    ("eca_kernel_size gamma", lambda: zoo.eca_kernel_size(64, gamma=HUGE), TOO_LARGE),
    ("eca_kernel_size b", lambda: zoo.eca_kernel_size(64, b=HUGE), TOO_LARGE),
    ("eca_kernel_size gamma=0", lambda: zoo.eca_kernel_size(64, gamma=0), "gamma must be > 0; got 0"),  # was 1/0
    ("mobilenet_v2 num_classes", lambda: zoo.mobilenet_v2(num_classes=HUGE), "num_classes must be at most 100000"),
    ("InvertedResidual expand_ratio", lambda: zoo.InvertedResidual(8, 8, expand_ratio=HUGE),
     "expand_ratio must be at most 64"),
    ("lesson 04 example_input seed", lambda: shortcuts.example_input(seed=HUGE), "seed must be at most 2\\*\\*64 - 1"),
    ("expect value", lambda: runtime.expect("ratio", HUGE, low=1), "ratio must be a finite number; got an integer"),
    ("expect bound", lambda: runtime.expect("ratio", 2.0, high=HUGE), "high must be a finite number"),
    ("an integer past str()'s 4,300 digits", lambda: _checks.integer("n", 10**5000, high=10),
     "n must be at most 10 .*; got an integer of 5001 digits"),
]


@pytest.mark.parametrize("label,call,match", HUGE_CASES, ids=[c[0] for c in HUGE_CASES])
def test_a_number_past_every_float_gets_a_sentence(label, call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_measured_data_past_every_float_is_inf_not_a_traceback():
    assert viz._real("value", HUGE) == float("inf") and viz._real("value", -HUGE) == float("-inf")


# --- switches and bounds that meant the opposite ------------------------------------------------------------------

@pytest.mark.parametrize("value,shown", [("1", True), ("true", True), ("Yes", True), (" on ", True),
                                         ("0", False), ("false", False), ("no", False), ("OFF", False), ("", False)])
def test_the_margins_switch_reads_false_and_no_as_off(monkeypatch, capsys, value, shown):
    """Issue 32: RESNET_EDU_MARGINS=false (or no) turned the margin lines on."""
    monkeypatch.setenv(runtime.MARGIN_ENV, value)
    runtime.expect("ratio", 3.0, low=2)
    assert capsys.readouterr().out.startswith("margin ratio: +0.5") is shown


@pytest.mark.parametrize("env", [runtime.MARGIN_ENV, "RESNET_EDU_SKIP_COMPILE"])
def test_a_switch_that_is_neither_on_nor_off_is_refused_by_name(monkeypatch, env):
    monkeypatch.setenv(env, "maybe")
    with pytest.raises(ValueError, match=f"{env} must be 1 .* or 0/unset .*; also accepted: true/yes/on, "
                                         "false/no/off; got 'maybe'"):
        _checks.env_flag(env, "on", "off")
    if env == runtime.MARGIN_ENV:
        with pytest.raises(ValueError, match=env):
            runtime.expect("ratio", 3.0, low=2)


def test_skip_compile_false_does_not_skip(monkeypatch):
    monkeypatch.setenv("RESNET_EDU_SKIP_COMPILE", "false")
    assert _checks.env_flag("RESNET_EDU_SKIP_COMPILE", "skip", "run") is False  # was: any non-"0" value skipped


EXPECT_CASES = [
    # log=True with a negative value gave margin +inf: a ratio is never negative
    (dict(name="ratio", value=-3.0, high=10.0, log=True), ValueError,
     "ratio = -3 is negative, but log=True measures a ratio in decades"),
    (dict(name="ratio", value=-3.0, low=1.0, high=10.0, log=True), ValueError, "is negative"),
    # low > high was blamed on the value ("ratio = 3; it should be > 5 and < 1")
    (dict(name="ratio", value=3.0, low=5.0, high=1.0), ValueError,
     "expect\\('ratio'\\): low must be below high, or no value can pass; got low=5, high=1 \\(swapped\\?\\)"),
    (dict(name="ratio", value=3.0, low=2.0, high=2.0), ValueError, "low must be below high"),
    (dict(name="ratio", value=300.0, low=1e3, high=1e2, log=True), ValueError, "low must be below high"),
]


@pytest.mark.parametrize("kwargs,error,match", EXPECT_CASES)
def test_expect_blames_impossible_bounds_and_a_negative_ratio_on_what_they_are(monkeypatch, kwargs, error, match):
    monkeypatch.delenv(runtime.MARGIN_ENV, raising=False)
    with pytest.raises(error, match=match):
        runtime.expect(**kwargs)


def test_expect_keeps_its_answers_for_zero_under_log(monkeypatch):
    monkeypatch.delenv(runtime.MARGIN_ENV, raising=False)
    assert runtime.expect("loss", 0.0, high=1e-4, log=True) == float("inf")  # an exact 0 is below any ceiling
    with pytest.raises(AssertionError):
        runtime.expect("ratio", 0.0, low=1e2, log=True)


# --- predict(batch_size=…) ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size,error,match", [
    (-1, ValueError, "batch_size must be an integer >= 1; got -1"),  # returned an empty tensor
    (0, ValueError, "batch_size must be an integer >= 1; got 0"),  # range() arg 3 must not be zero
    (2.5, TypeError, "batch_size must be an integer; got 2.5"),  # 'float' object cannot be interpreted as an integer
    (True, TypeError, "batch_size must be an integer"),
])
def test_predict_checks_its_batch_size(batch_size, error, match):
    test = data.digits(8, 1, train=False)
    with pytest.raises(error, match=match):
        dynamics.predict(nets.cifar_net(8, width=4, in_channels=1), test, batch_size=batch_size)


def test_predict_in_batches_gives_the_same_answer():
    test = data.digits(8, 1, train=False)
    net = nets.cifar_net(8, width=4, in_channels=1)
    assert torch.equal(dynamics.predict(net, test, batch_size=7), dynamics.predict(net, test))
    assert len(dynamics.predict(net, test, batch_size=HUGE)) == len(test)  # one batch: every image


# --- TrainConfig(steps=10**9): a bound, named in train/config.py ----------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    (dict(steps=10**9), "steps must be at most 1000000 .*got 1000000000. He et al. 2015 train ImageNet for 600,000 "
                        "steps; for a longer run raise resnet_edu.train.config.MAX_STEPS first."),
    (dict(steps=HUGE), "steps must be at most 1000000"),
    (dict(epochs=10**6), "epochs must be at most 10000 .*raise resnet_edu.train.config.MAX_EPOCHS first"),
])
def test_a_run_of_a_billion_steps_is_refused_before_it_starts(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.TrainConfig(**kwargs)


def test_epochs_times_batches_is_bounded_too_and_the_bound_can_be_raised(monkeypatch):
    config = train.TrainConfig(epochs=9000)
    with pytest.raises(ValueError, match="epochs=9000 of 390 batches is 3,510,000 steps; a run may take at most "
                                         "1,000,000"):
        config.total_steps(390)
    assert train.TrainConfig(steps=train.MAX_STEPS).total_steps(1) == train.MAX_STEPS  # the bound itself is allowed
    monkeypatch.setattr(train.config, "MAX_STEPS", 10**7)
    assert config.total_steps(390) == 3_510_000 and train.TrainConfig(steps=2 * 10**6).steps == 2 * 10**6


# --- checkers: a learner's wrong answer gets a ❌ and a sentence, never a traceback or a wrong verdict ---------------

class _PoolFirst(nn.Module):
    """The reference block behind a pooling layer: pool, then BN-ReLU-conv twice and the shortcut."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.pool = nn.MaxPool2d(3, 1, 1)
        self.inner = ex07.solution_preact_block()(c_in, c_out, stride)

    def forward(self, x):
        return self.inner(self.pool(x))


class _PoolBeforeF(_PoolFirst):
    """F(pool(x)) + x: the shortcut is right, so with F = 0 the block returns x and only the pool is wrong."""

    def forward(self, x):
        block = self.inner
        out = block.conv1(torch.relu(block.bn1(self.pool(x))))
        return block.conv2(torch.relu(block.bn2(out))) + block.shortcut(x)


class _FunctionalPoolBeforeF(_PoolFirst):
    def forward(self, x):
        block = self.inner
        out = block.conv1(torch.relu(block.bn1(F.avg_pool2d(x, 3, 1, 1))))
        return block.conv2(torch.relu(block.bn2(out))) + block.shortcut(x)


def _lesion_gives(value):
    def delete_block(model, stage, index):
        lesioned = ex09.solution_lesion(model, stage, index)
        lesioned.forward = lambda x: value(lesioned, x)
        return lesioned
    return delete_block


def _lesion_in_train_mode(model, stage, index):
    lesioned = ex09.solution_lesion(model, stage, index)
    model.train()  # the original, not the copy
    return lesioned


def _paths(value):
    return lambda: ex09.check_paths_of_length(value)


RIGHT = ex09.solution_paths_of_length()
CHECKER_CASES = [
    # raised AttributeError ('MaxPool2d' object has no attribute 'weight')
    ("pre-act block behind a max-pool", lambda: ex07.check_preact_block(_PoolFirst), False,
     "the stride-1 block runs a pooling layer \\(MaxPool2d\\): a pre-activation block has none"),
    ("pre-act F behind a max-pool, its shortcut right", lambda: ex07.check_preact_block(_PoolBeforeF), False,
     "pooling layer \\(MaxPool2d\\)"),
    ("pre-act F behind F.avg_pool2d", lambda: ex07.check_preact_block(_FunctionalPoolBeforeF), False,
     "the first BN does not see the block's input x"),
    ("pre-act reference", lambda: ex07.check_preact_block(ex07.solution_preact_block()), True, "Right"),
    # raised AttributeError ('tuple' / 'NoneType' object has no attribute 'shape')
    ("lesion forward gives a tuple", lambda: ex09.check_lesion(_lesion_gives(lambda net, x: (x, 0))), False,
     "the returned net's forward gave a tuple of 2 items: return the class scores alone, one tensor \\(N, 10\\)"),
    ("lesion forward gives None", lambda: ex09.check_lesion(_lesion_gives(lambda net, x: None)), False,
     "the returned net's forward gave None: is the `return` missing in its forward\\?"),
    # was "your function changed the trained net itself"
    ("lesion returns the net unchanged", lambda: ex09.check_lesion(lambda model, stage, index: model), False,
     "your function returned the trained net itself, unchanged: no block was deleted"),
    ("lesion in place, returning the net", lambda: ex09.check_lesion(
        lambda model, stage, index: (getattr(model, stage).__setitem__(index, nn.Identity()), model)[1]), False,
     "your function changed the trained net itself"),
    ("lesion of a copy that deletes nothing", lambda: ex09.check_lesion(lambda m, s, i: copy.deepcopy(m)), False,
     "computes exactly what the intact net computes"),
    # was "output differs (max difference 1.13)", the mode unnamed
    ("right lesion, original switched to train mode", lambda: ex09.check_lesion(_lesion_in_train_mode), False,
     "Your copy is right, but your function switched the trained net to train mode \\(model.training is True"),
    ("lesion reference", lambda: ex09.check_lesion(ex09.solution_lesion), True, "Right"),
    # raised OverflowError
    ("lag1 returns 10**400", lambda: ex10.check_autocorrelation(lambda g: HUGE), False,
     "lag1 should return one finite number; on white noise: .*401 digits: " + TOO_LARGE),
    ("lag1 returns a one-element tensor", lambda: ex10.check_autocorrelation(
        lambda g: torch.tensor([ex10.solution_autocorrelation(g)])), True, "Right"),
    ("lag1 returns the curve", lambda: ex10.check_autocorrelation(lambda g: g), False, "one finite number"),
    # the right count as a NumPy integer or a tensor was "Expected a number"
    ("paths as np.int64", _paths(np.int64(RIGHT)), True, "Right: C\\(27, 10\\) = 8,436,285"),
    ("paths as a tensor", _paths(torch.tensor(RIGHT)), True, "Right"),
    ("paths as a 1-element array", _paths(np.array([RIGHT])), True, "Right"),
    ("paths 2**27 as np.int64", _paths(np.int64(2**27)), False, "2\\^27 counts all paths"),
    ("paths as a 2-element tensor", _paths(torch.tensor([RIGHT, 1])), False, "Expected a number"),
    ("paths as a float tensor of the count", _paths(torch.tensor(float(RIGHT), dtype=torch.float64)), True, "Right"),
]


@pytest.mark.parametrize("label,call,ok,match", CHECKER_CASES, ids=[c[0] for c in CHECKER_CASES])
def test_checkers_answer_with_a_verdict_that_names_the_mistake(capsys, label, call, ok, match):
    assert call() is ok
    out = capsys.readouterr().out
    assert out.startswith("✅" if ok else "❌"), out
    assert re.search(match, out), out
