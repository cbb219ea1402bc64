"""Exercise checkers for lesson 03 (the +I gradient path: He et al. 2016, Eq. 5; the 2ⁿ paths of Veit et al.
2016)."""

from __future__ import annotations

import math

from ._core import check_number as _check_number  # the shared number checker (not a learner-facing check_)
from ._core import missing, numbers, verdict

__all__ = [
    "CHAIN_DEPTH",
    "CHAIN_SLOPE",
    "PATH_BLOCKS",
    "PATH_LENGTH",
    "check_chain_factor",
    "check_path_count",
    "solution_chain_factor",
    "solution_path_count",
]

CHAIN_DEPTH = 30  # exercise 1: blocks in the chain
CHAIN_SLOPE = 0.1  # exercise 1: each branch's derivative ∂F/∂x (a scalar)
PATH_BLOCKS = 10  # exercise 2: residual blocks in the stack
PATH_LENGTH = 3  # exercise 2: the path length asked for (branches a path goes through)


def solution_chain_factor() -> tuple[float, float]:
    """Plain: the gradient is multiplied by ∂F/∂x = 0.1 thirty times; residual: by 1 + 0.1 thirty times."""
    return CHAIN_SLOPE**CHAIN_DEPTH, (1 + CHAIN_SLOPE) ** CHAIN_DEPTH


def check_chain_factor(answer: object) -> bool:
    """Exercise 1: (plain factor, residual factor) by which ∂L/∂x₀ differs from ∂L/∂x_L in a scalar chain of
    ``CHAIN_DEPTH`` blocks whose branches all have derivative ``CHAIN_SLOPE``."""
    if missing(answer, f"answer = (plain_factor, residual_factor) for {CHAIN_DEPTH} blocks with ∂F/∂x = "
                       f"{CHAIN_SLOPE}; use ∂L/∂x = ∂L/∂y·(∂F/∂x + 1) for the residual block."):
        return False
    pair = numbers(answer, 2, "numbers, (plain factor, residual factor)", "(1e-5, 3.0)")
    if pair is None:
        return False
    plain, residual = pair
    right_plain, right_res = solution_chain_factor()

    def close(value: float, right: float) -> bool:
        return value > 0 and abs(math.log10(value) - math.log10(right)) < 0.01

    if close(plain, right_plain) and close(residual, right_res):
        return verdict(True, f"Right: plain {right_plain:.3g} (the gradient vanishes), residual {right_res:.3g}. "
                             "Note the residual factor is not 1: the +1 keeps the gradient from vanishing, but a "
                             "product of (1 + something positive) can still grow — this is why deep residual nets "
                             "need BN or small branches (branch scale 1/√L).", "")
    if close(plain, right_res) and close(residual, right_plain):
        return verdict(False, "", "You swapped them: the plain chain multiplies by ∂F/∂x alone, the residual chain "
                                  "by ∂F/∂x + 1.")
    hints = []
    if not close(plain, right_plain):
        hints.append(f"plain: each layer multiplies the gradient by {CHAIN_SLOPE}; {CHAIN_DEPTH} layers multiply "
                     f"by {CHAIN_SLOPE}**{CHAIN_DEPTH}")
    if not close(residual, right_res):
        hints.append(f"residual: each block multiplies by (1 + {CHAIN_SLOPE}) — the 1 is the identity path — so "
                     f"{CHAIN_DEPTH} blocks give (1 + {CHAIN_SLOPE})**{CHAIN_DEPTH}")
    return verdict(False, "", "Not yet: " + "; ".join(hints) + ".")


def solution_path_count() -> int:
    """A path of length k picks which k of the n blocks it takes the branch of (the order is the network's): C(n, k)
    of them, C(10, 3) = 120 of the 2¹⁰ = 1,024 paths."""
    return math.comb(PATH_BLOCKS, PATH_LENGTH)


def check_path_count(answer: object) -> bool:
    """Exercise 2: how many of the 2ⁿ paths through ``PATH_BLOCKS`` residual blocks go through exactly
    ``PATH_LENGTH`` branches (the path length of Veit et al. 2016)."""
    n, k = PATH_BLOCKS, PATH_LENGTH
    right = solution_path_count()
    return _check_number(
        answer, right,
        mistakes=[
            (2**n, f"{{answer}} is every path through {n} blocks; only those that take exactly {k} branches count."),
            (math.perm(n, k), f"{{answer}} = {n}·{n - 1}·{n - 2} counts each path {math.factorial(k)} times: a "
                              f"path takes its branches in the network's order, so picking blocks 2, 5, 7 and "
                              f"7, 5, 2 is one path. Divide by {k}! = {math.factorial(k)}."),
            (n**k, f"{{answer}} = {n}**{k} lets a path pick the same block more than once, and in any order; a "
                   f"path passes each block once, taking its branch or its shortcut."),
            (n * k, f"{{answer}} = {n}·{k} is not a count of paths: a path of length {k} is a choice of {k} of the "
                    f"{n} blocks."),
        ],
        hint=f"answer = a whole number: how many of the 2**{n} paths through {n} residual blocks go through exactly "
             f"{k} branches F_i (and take the shortcut at the other {n - k} blocks).",
        right_text=f"Right: {{right}} of the {2**n:,} paths have length {k}: C({n}, {k}) = {n}·{n - 1}·{n - 2}/3! — "
                   "choose which blocks' branches the path goes through. Lengths near n/2 are the most numerous "
                   f"(C({n}, {n // 2}) = {math.comb(n, n // 2)}), which is why Veit et al. 2016 find most paths of "
                   "a deep ResNet of middling length.",
        wrong_text=f"Not yet ({{answer}}): a path takes, at each block, the shortcut (I) or the branch (F_i); one "
                   f"of length {k} takes the branch at exactly {k} of the {n} blocks. How many ways are there to "
                   f"choose those {k} blocks?",
        what="a whole number of paths", example="45", whole=True, low=0,
    )
