"""Issue 22: the last silently wrong answers, and arguments named as the caller passed them. Each row is a call
that used to return a wrong number, a NaN, a drawing of the wrong thing, or a message from deep inside torch or
numpy; it must now raise the error shown, with a sentence that says what was wrong and what is allowed. (The
data cache, the checkpoints and cifar10's download are tested in test_data.py and test_dynamics.py.)"""

import math

import numpy as np
import pytest
import torch

import resnet_edu as edu
from resnet_edu import _checks, data, diagrams, nets
from resnet_edu.lessons import lesson01_degradation as degradation
from resnet_edu.lessons import lesson02_identity_mapping as identity
from resnet_edu.lessons import lesson05_ode_view as ode
from resnet_edu.lessons import lesson08_train_cifar10 as dynamics
from resnet_edu.lessons import lesson09_ensembles_paths as ensembles
from resnet_edu.lessons import lesson10_shattered_landscape as shattered

nan = math.nan


class _History:  # what Comparison.ratio_during_training reads: a ratio per recorded step
    def ratio(self) -> np.ndarray:
        return np.arange(1.0, 11.0)


def _comparison() -> dynamics.Comparison:
    pair = dynamics.Comparison(depth=8, recipe=edu.recipes.DEGRADATION_CPU, dataset="digits")
    pair.history = lambda kind: _History()
    return pair


def _paths() -> ensembles.PathGradients:
    return ensembles.PathGradients(n=3, per_path=[1.0, 0.5, 0.25, 0.1], measured=[[1.0]] * 4)


def _digits() -> data.ImageData:
    return data.digits(8, 1, train=False)


_field = ode.vector_field()
_x = torch.zeros(1, 2, dtype=torch.float64)

CASES = [
    # 4. answers that were silently wrong
    ("PathGradients.share(-2)", lambda: _paths().share(-2), ValueError,
     r"up_to \(a path length\) must be an integer >= 0; got -2"),  # was 0.97: a negative slice from the end
    ("PathGradients.share(4), n=3", lambda: _paths().share(4), ValueError,
     r"must be between 0 and 3: paths through 3 blocks are at most 3 long \(share\(3\) is 1\); got 4"),
    ("ratio_during_training(skip=1.5)", lambda: _comparison().ratio_during_training("plain", 1.5), ValueError,
     "skip must be >= 0 and < 1; got 1.5"),  # was nan (the median of nothing)
    ("ratio_during_training(skip=-0.5)", lambda: _comparison().ratio_during_training("plain", -0.5), ValueError,
     "skip must be >= 0 and < 1; got -0.5"),  # was the median of the last half, as if skip were 0.5
    ("autocorrelation of 2 values", lambda: shattered.autocorrelation([1.0, 2.0]), ValueError,
     "values must hold at least 3 numbers for an autocorrelation; got 2"),  # was -0.5 for any two values
    ("autocorrelation of 1 value", lambda: shattered.autocorrelation([1.0]), ValueError,
     "at least 3 numbers .*; got 1"),
    ("autocorrelation lag=5 of 4 values", lambda: shattered.autocorrelation([1.0, 2.0, 3.0, 4.0], lag=5),
     ValueError, r"lag must be at most 2 for 4 values \(a lag needs at least 2 pairs"),
    ("autocorrelation values='abc'", lambda: shattered.autocorrelation("abc"), TypeError,
     "values must be a list or 1-D tensor of numbers"),
    ("confusion_matrix, 12 outputs for 10 classes",
     lambda: dynamics.confusion_matrix(nets.cifar_net(8, in_channels=1, num_classes=12, width=4), _digits()),
     ValueError, r"model gives scores of shape \(359, 12\), but data \(digits 8x8 \(test\)\) has 10 classes"),
    ("prediction_grid, 12 outputs for 10 classes",
     lambda: dynamics.prediction_grid(nets.cifar_net(8, in_channels=1, num_classes=12, width=4), _digits()),
     ValueError, "build it with num_classes=10"),
    ("Confusion 3x3 with 2 names", lambda: dynamics.Confusion(np.eye(3, dtype=int), ("a", "b")), ValueError,
     "classes must name each row of the matrix: 3 rows but 2 names"),  # was most_confused() -> ('a', 'b', 0)
    ("Confusion with an empty matrix", lambda: dynamics.Confusion(np.zeros((0, 0), dtype=int), ()), ValueError,
     r"matrix must be a square table of counts .*; got shape \(0, 0\)"),  # was accuracy nan
    ("Confusion of all zeros", lambda: dynamics.Confusion(np.zeros((2, 2), dtype=int), ("a", "b")), ValueError,
     "matrix counts no image at all"),
    ("Confusion of negative counts", lambda: dynamics.Confusion(-np.eye(2, dtype=int), ("a", "b")), ValueError,
     r"matrix must hold counts \(non-negative integers\)"),
    ("euler_step h=nan", lambda: ode.euler_step(_field, _x, nan), ValueError,
     r"h \(the step size\) must be a finite number; got nan"),  # was a tensor of NaN
    ("midpoint_step h=nan", lambda: ode.midpoint_step(_field, _x, nan), ValueError,
     r"h \(the step size\) must be a finite number"),
    ("rk4_step h=inf", lambda: ode.rk4_step(_field, _x, math.inf), ValueError,
     r"h \(the step size\) must be a finite number"),
    ("rk4_step h='0.1'", lambda: ode.rk4_step(_field, _x, "0.1"), TypeError, r"h \(the step size\) must be a number"),
    ("learn_correction x=[1e30, 1e30]", lambda: identity.learn_correction(x=[1e30, 1e30]), ValueError,
     "x must hold values between -1e\\+06 and 1e\\+06; .*would overflow .* Set "
     "resnet_edu.lessons.lesson02_identity_mapping.MAX_VALUE "
     "higher"),  # was a loss curve of NaN
    ("learn_correction y=[2, -1e9]", lambda: identity.learn_correction(y=[2.0, -1e9]), ValueError,
     "y must hold values between"),
    ("ImageData labels beyond the class names",
     lambda: data.ImageData(torch.zeros(2, 1, 8, 8), torch.tensor([0, 5]), "x", ("a", "b")), ValueError,
     r"labels must lie in 0..1, one per class name \(2 classes\); got labels from 0 to 5"),
    ("ImageData negative label",
     lambda: data.ImageData(torch.zeros(2, 1, 8, 8), torch.tensor([-1, 0]), "x", ("a", "b")), ValueError,
     "got labels from -1 to 0"),
    ("unrolled_paths([[True]])", lambda: diagrams.unrolled_paths([[True]]), TypeError,
     r"each block number in paths must be an integer; got True \(bool\)"),  # was drawn as block 1
    ("unrolled_paths duplicated path", lambda: diagrams.unrolled_paths([[], [1], [1]]), ValueError,
     r"paths must list each path once; \[\(1,\)\] appear\(s\) more than once"),  # was drawn twice
    ("unrolled_paths([[10**6]])", lambda: diagrams.unrolled_paths([[10**6]]), ValueError,
     "each block number in paths must be at most 8 .*; got 1000000. Set resnet_edu.diagrams.MAX_BLOCKS higher"),
    ("unrolled_paths([[2, 1]])", lambda: diagrams.unrolled_paths([[2, 1]]), ValueError,
     "each path must list increasing block numbers from 1"),
    ("unrolled_paths([5])", lambda: diagrams.unrolled_paths([5]), TypeError,
     "each path must be a list or tuple of values"),
    ("block_diagram titles=[None]", lambda: diagrams.block_diagram(nets.ResidualUnit(2, 2), titles=[None]),
     TypeError, r"titles must be strings, one per block, .*; got \[None\]"),  # was a block titled 'None'
    # 5. the sweep's stragglers: device and seed through _checks, arguments named as passed
    ("DeviceLoader device='gpu'", lambda: data.DeviceLoader(_digits(), 10, device="gpu"), ValueError,
     "device must be 'cpu', 'cuda', 'cuda:N' or 'mps'; got 'gpu'"),
    ("DeviceLoader device=3", lambda: data.DeviceLoader(_digits(), 10, device=3), TypeError,
     "device must be a string such as 'cpu' or 'cuda', or a torch.device; got 3"),
    ("DeviceLoader seed='1'", lambda: data.DeviceLoader(_digits(), 10, seed="1"), TypeError,
     "seed must be an integer, not the string '1'; write 1"),
    ("DeviceLoader seed=-1", lambda: data.DeviceLoader(_digits(), 10, seed=-1), ValueError,
     "seed must be an integer >= 0; got -1"),  # was accepted
    ("DeviceLoader seed=1.5", lambda: data.DeviceLoader(_digits(), 10, seed=1.5), TypeError,
     "seed must be an integer; got 1.5"),
    ("DeviceLoader data=list", lambda: data.DeviceLoader([1, 2, 3], 1), TypeError,
     "data must be a resnet_edu.data.ImageData"),
    ("DeviceLoader shuffle='yes'", lambda: data.DeviceLoader(_digits(), 10, shuffle="yes"), TypeError,
     "shuffle must be True or False"),
    ("augment_crop_flip generator=3", lambda: data.augment_crop_flip(torch.zeros(2, 3, 8, 8), generator=3),
     TypeError, r"generator must be a torch.Generator .* or None; got 3 \(int\)"),
    ("augment_crop_flip padding=-1", lambda: data.augment_crop_flip(torch.zeros(2, 3, 8, 8), padding=-1),
     ValueError, "padding must be an integer >= 0"),
    ("augment_crop_flip of one image (3-D)", lambda: data.augment_crop_flip(torch.zeros(3, 8, 8)), ValueError,
     r"x must have 4 dimensions \(a batch of images \(N, C, H, W\)\)"),
    ("_checks.seed(2**64)", lambda: _checks.seed(2**64), ValueError,
     "seed must be at most 2\\*\\*64 - 1 = 18446744073709551615, the largest seed torch.manual_seed accepts"),
    ("DeviceLoader seed=2**64", lambda: data.DeviceLoader(_digits(), 10, seed=2**64), ValueError,
     "the largest seed torch.manual_seed accepts"),
    ("path_gradients(net, 'data')",
     lambda: ensembles.path_gradients(nets.cifar_net(8, width=4), "data", progress=False), TypeError,
     r"data must be a resnet_edu.data.ImageData, .*; got 'data' \(str\)"),  # was about batch_size
    ("ratio_during_training(skip='0.1')", lambda: _comparison().ratio_during_training("plain", "0.1"), TypeError,
     r"skip must be a number; got '0.1' \(str\)"),  # was int('0.10.10.1...') from str * int
    ("DegradationResult.plot(smooth=-1)",
     lambda: degradation.DegradationResult((8,), (0,), edu.recipes.DEGRADATION_CPU, "digits").plot(smooth=-1),
     ValueError, "smooth must be an integer >= 1; got -1"),  # was about 'window'
    ("DegradationResult.plot(smooth=0)",
     lambda: degradation.DegradationResult((8,), (0,), edu.recipes.DEGRADATION_CPU, "digits").plot(smooth=0),
     ValueError, "smooth must be an integer >= 1; got 0"),  # was read as the default
    ("Comparison.plot_accuracy(smooth=-1)", lambda: _comparison().plot_accuracy(smooth=-1), ValueError,
     "smooth must be an integer >= 1; got -1"),
]


@pytest.mark.parametrize("name,call,error,message", CASES, ids=[c[0] for c in CASES])
def test_no_silent_answer(name, call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_table_is_large():
    assert len(CASES) >= 45


def test_right_answers_still_pass():
    """The checks refuse only the wrong calls: the lessons' own calls keep working."""
    assert _paths().share(3) == pytest.approx(1.0) and 0 < _paths().share(0) < 1
    assert _comparison().ratio_during_training("plain", 0.0) == 5.5
    assert shattered.autocorrelation([1.0, 2.0, 4.0]) == pytest.approx(-1 / 42)  # 3 values: the least it takes
    assert _checks.seed(2**64 - 1) == 2**64 - 1
    assert ode.euler_step(_field, _x, 0.1).shape == _x.shape
    conf = dynamics.Confusion(np.array([[3, 1], [0, 4]]), ("a", "b"))
    assert conf.accuracy == 7 / 8 and conf.most_confused() == ("a", "b", 1)
    assert "unrolled: 4 paths" in diagrams.unrolled_paths([[], [1], [2], [1, 2]]).source
    assert len(data.DeviceLoader(_digits(), 100, device="cpu", seed=2**64 - 1)) == 3
