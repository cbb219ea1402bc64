"""Exercise checkers for lesson 07 (the family of residual blocks; He et al. 2016, Hu et al. 2018, Wang et al. 2020).

Every truth a checker compares with is computed by running the package's own modules, never typed in.
"""

from __future__ import annotations

from ._core import brief, missing, verdict
from ._core import check_number as _check_number  # the shared number checker (not a learner-facing check_)

__all__ = [
    "check_se_params", "check_eca_kernel", "check_best_shortcut",
    "solution_se_params", "solution_eca_kernel", "solution_best_shortcut",
]


def solution_se_params() -> int:
    """The parameters one SE module adds at C = 256, r = 16: FC 256→16 and FC 16→256, both with biases."""
    from ..nets import count_parameters
    from ..variants import SqueezeExcitation

    return count_parameters(SqueezeExcitation(256, 16))


def check_se_params(answer: object) -> bool:
    """Exercise 1: how many parameters does a squeeze-and-excitation module add to a block with 256 channels?"""
    return _check_number(
        answer, solution_se_params(), [(2 * 256 * 16, "{answer} counts the weights; the two FC layers also have "
                                                       "biases (16 and 256).")],
        hint="count FC 256→256/16 and FC 256/16→256, each with a bias (Hu et al. 2018, Fig. 3).",
        what="a whole number of parameters", example="8464",
        right_text="Right: {right} = 256·16 + 16 + 16·256 + 256. Over the 16 blocks of ResNet-50 this adds about "
                   "2.5M parameters (25.6M → 28.1M) for 0.01 GFLOPs.",
        wrong_text="{answer} is not it: squeeze to 256/16 = 16 numbers, excite back to 256; an FC layer a→b has a·b "
                   "weights and b biases.",
    )


def solution_eca_kernel() -> int:
    """ECA's kernel size for C = 512 channels: |log₂(512)/2 + 1/2| = 5, already odd."""
    from ..variants import eca_kernel_size

    return eca_kernel_size(512)


def check_eca_kernel(answer: object) -> bool:
    """Exercise 2: ECA's 1-D kernel size k for C = 512 channels (γ = 2, b = 1; Wang et al. 2020, Eq. 12)."""
    return _check_number(
        answer, solution_eca_kernel(),
        [(lambda k: k % 2 == 0, "{answer} is even; the kernel must be odd so that it is centred on a channel.")],
        hint="k = |log₂(C)/γ + b/γ| rounded to the nearest odd number, with γ = 2, b = 1.",
        what="a whole number (the kernel size)", example="3",
        right_text="Right: k = {right}: log₂ 512 = 9, (9 + 1)/2 = 5, odd. ECA-ResNet-50 adds only 86 parameters in "
                   "total (one 1-D kernel per block).",
        wrong_text="{answer} is not it: compute (log₂ 512 + 1) / 2 and round to an odd number.",
    )


_SHORTCUTS = ("identity", "scaled", "gated", "conv1x1")


def solution_best_shortcut() -> str:
    """Among h(x) = x, 0.5x, (1 − g(x))x and Wx, the identity trains best (He et al. 2016, Table 1)."""
    return "identity"


def check_best_shortcut(answer: object) -> bool:
    """Exercise 3 (predict, then run the cells): which shortcut gives the lowest training loss?"""
    if missing(answer, f'answer = one of {", ".join(map(repr, _SHORTCUTS))}.'):
        return False
    given = answer.strip().lower() if isinstance(answer, str) else brief(answer)
    if given not in _SHORTCUTS:
        return verdict(False, "", f'Answer one of {", ".join(map(repr, _SHORTCUTS))}; got {brief(answer)}.')
    return verdict(
        given == solution_best_shortcut(),
        "Right: the pure identity. Every other shortcut multiplies the signal (and the gradient) on the shortcut path "
        "by something at each of the blocks, so across many blocks it shrinks or distorts exponentially; only "
        "h(x) = x lets x_L = x_l + ΣF hold exactly (He et al. 2016, Eq. 4 and Table 1).",
        f"{given!r} looks flexible, but the gate, the scale or the 1×1 conv sits on the shortcut of every block: over "
        "L blocks their product multiplies the signal from early layers, e.g. 0.5^L for the scaled shortcut (He et "
        "al. 2016, Eq. 7). Run the study above and compare the losses.",
    )
