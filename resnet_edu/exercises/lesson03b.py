"""Exercise checkers for lesson 03b (gradient norms at init: He et al. 2015, §4.1; Yang et al. 2019; branch scaling
of a residual MLP without BN)."""

from __future__ import annotations

import math

from ._core import brief, missing, number, predicted, verdict

__all__ = [
    "check_mlp_prediction",
    "check_bn_plain_direction",
    "check_branch_scale",
    "solution_bn_plain_direction",
    "solution_branch_scale",
]

_LARGER = ("larger", "bigger", "greater", "higher", "explode", "explodes", "exploding", "grows", ">")
_SMALLER = ("smaller", "lower", "less", "vanish", "vanishes", "vanishing", "shrinks", "<")


def solution_bn_plain_direction() -> str:
    """With BN, a plain net's gradient grows toward the input at init (Yang et al. 2019): the first conv's is larger."""
    return "larger"


def check_bn_plain_direction(answer: object) -> bool:
    """Prediction 1: with BatchNorm, at init, is plain-56's first-conv gradient "larger" or "smaller" than its last?"""
    if missing(answer, 'prediction = "larger" or "smaller" (first conv compared with last conv, plain-56 with BN), '
                       "recorded before the depth study; the study's table shows the answer."):
        return False
    if not isinstance(answer, str):
        return verdict(False, "", f'Expected a string, "larger" or "smaller"; got {type(answer).__name__} '
                                  f'{brief(answer)}.')
    word = answer.strip().lower()
    if word not in _LARGER + _SMALLER:
        return verdict(False, "", f'Answer "larger" or "smaller"; got {brief(answer)}.')
    from ..lessons.lesson03b_gradient_norms import cifar_profile

    ratio = cifar_profile(56, "plain", batch_norm=True).ratio("conv")  # measured now, not remembered
    return verdict(
        word in _LARGER,
        f"Right: measured just now, plain-56's first conv gets {ratio:.3g}× the gradient of its last conv. With BN "
        "the gradient does not vanish at init; it explodes toward the input, as Yang et al. 2019 predict for BN "
        "nets. He et al. 2015 (§4.1) argued from their own checks on trained nets that vanishing gradients are "
        "unlikely to cause degradation.",
        f"Measured just now: the first conv gets {ratio:.3g}× the gradient of the last — larger, not smaller. The "
        "'vanishing gradient' story is true for deep nets *without* BN and with small init (the MLP of this "
        "lesson); with BN, at init, the gradient grows toward the input, as Yang et al. 2019 predict.",
    )


def solution_branch_scale() -> float:
    """1/√L for L = 100 blocks (≈ 300 at the output); 1/L = 0.01 keeps it near 1. Any s up to about 0.12 passes."""
    return 1 / math.sqrt(100)


def check_branch_scale(answer: object) -> bool:
    """Exercise 1: a branch scale s in [0.02, 1] that keeps the He-initialised 100-block residual MLP's output RMS
    below 1,000 (measured by :func:`resnet_edu.lessons.lesson03b_gradient_norms.mlp_study` when checked)."""
    if missing(answer, "answer = a number s: each residual branch is multiplied by s (y = x + s·F(x))."):
        return False
    s = number(answer, "a number s", "0.5")
    if s is None:
        return False
    if not 0.02 <= s <= 1:
        return verdict(False, "", f"Pick s between 0.02 and 1: with s = {s:g} the branches barely contribute (or "
                                  "are amplified) — the network would not be using its residual blocks.")
    from ..lessons.lesson03b_gradient_norms import mlp_study

    rms = mlp_study(depth=100, init="he", branch_scale=s).output_rms("residual")  # measured now
    why = ("Each block adds s·relu(Wx + b) to x. The branch's fresh variance adds s² per block, and because a ReLU "
           "branch only adds values >= 0, the branches also pile up a common offset, so the size grows roughly like "
           "(1 + 0.56·s) per block: (1 + 0.56·s)^100 in all.")
    return verdict(
        rms < 1e3,
        f"Right: with s = {s:g} the output RMS is {rms:.3g} (the lesson measured about 1e23 at s = 1). {why} "
        "s = 1/√100 = 0.1 gives a few hundred, s = 1/100 about 1.",
        f"With s = {s:g} the output RMS is {rms:.3g}: still exploding. {why} Choose s so that 0.56·s·100 is a "
        "few units at most (for example 1/√100).",
    )


def check_mlp_prediction(prediction: object, study: object) -> bool:
    """Before the MLP study: the plain MLP's forward signal settles at a constant size after a few layers. Does its
    first-layer gradient ``"vanish"`` (≪ the last layer's) or ``"stay"`` comparable? Checked against ``study``."""
    try:
        ratio = study.ratio("plain")  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        print("❌ Pass the result of lesson.mlp_study(...) as the second argument.")
        return False
    side = "vanish" if ratio < 1e-3 else "stay"
    return predicted(
        prediction, side, ("vanish", "stay"),
        f"first-layer / last-layer gradient = {ratio:.2g}",
        "The forward signal is held up by the biases (a fixed point), but the backward pass has no bias term: "
        "every layer multiplies the gradient by about √(1/6) ≈ 0.41 (uniform weights of variance 1/(3·fan_in), half "
        "the ReLUs open), and 0.41¹⁰⁰ ≈ 10⁻³⁹.",
    )
