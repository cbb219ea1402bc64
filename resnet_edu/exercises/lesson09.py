"""Exercise checkers for lesson 09 (why ResNets work: Veit et al. 2016, §3–4; Balduzzi et al. 2017, §2).

The truths are computed (a binomial coefficient, noise generated on the spot) or taken from the learner's own lesion
study, never typed in.
"""

from __future__ import annotations

import math

import torch

from ._core import missing, verdict

__all__ = [
    "PATHS_BLOCKS",
    "PATHS_LENGTH",
    "check_paths_of_length",
    "check_plain_deletion",
    "check_noise_autocorrelation",
    "solution_paths_of_length",
    "solution_plain_deletion",
    "solution_noise_autocorrelation",
]

PATHS_BLOCKS = 27  # exercise 1: the residual blocks of ResNet-56
PATHS_LENGTH = 10  # exercise 1: the path length asked for


# --- exercise 1: how many paths of length k through n blocks? ---

def solution_paths_of_length() -> int:
    """A path of length k picks the k blocks whose branch it goes through: C(n, k) ways (Veit et al. 2016, Eq. 4)."""
    return math.comb(PATHS_BLOCKS, PATHS_LENGTH)


def check_paths_of_length(answer: object) -> bool:
    """Exercise 1: the number of paths of length ``PATHS_LENGTH`` (through exactly that many residual branches)
    in a ResNet with ``PATHS_BLOCKS`` blocks."""
    n, k = PATHS_BLOCKS, PATHS_LENGTH
    if missing(answer, f"answer = the number of paths through exactly {k} of the {n} branches (an integer)."):
        return False
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return verdict(False, "", f"Expected a number, e.g. answer = 1234; got {type(answer).__name__} {answer!r}.")
    if isinstance(answer, float) and not math.isfinite(answer):
        return verdict(False, "", f"Expected a finite count of paths; got {answer!r}.")
    right = solution_paths_of_length()
    if answer == right:
        return verdict(True, f"Right: C({n}, {k}) = {right:,}. Each block is either passed through its branch F or "
                             f"skipped along its shortcut, so a path of length {k} is a choice of {k} of the {n} "
                             f"blocks. All lengths together give 2^{n} = {2 ** n:,} paths — the ensemble of Veit et "
                             "al. 2016 (§3).", "")
    hints = {
        2**n: f"2^{n} counts all paths, of every length; only those through exactly {k} branches are asked for.",
        math.perm(n, k): f"That counts ordered choices; the order of the {k} blocks is fixed by the network, so "
                         f"divide by {k}!.",
        n * k: "Paths are choices of a set of blocks, not a product of the two numbers: use math.comb.",
        n**k: "Blocks cannot be chosen twice and their order is fixed: use math.comb(n, k).",
    }
    for value, hint in hints.items():
        if answer == value:
            return verdict(False, "", hint)
    return verdict(False, "", f"{answer!r} is not it. Each of the {n} blocks is either in the path (its branch F) or "
                              f"not (its shortcut): count the ways to pick {k} of them.")


# --- exercise 2: what is left of a plain net after its least harmful deletion? ---

_LEVELS = ("intact", "halfway", "chance")


def solution_plain_deletion() -> str:
    """Near chance: a plain net's layers each feed the next, so removing any one breaks the chain (Veit et al.,
    Fig. 3, VGG)."""
    return "chance"


def check_plain_deletion(answer: object, lesion: object = None) -> bool:
    """Exercise 2: after deleting the *least* harmful single block of the trained plain net, is its accuracy closest
    to its "intact" accuracy, "halfway" to chance, or "chance" (10 %)? Pass the lesson's ``lesion`` result to have
    the answer judged against your own measurement."""
    if missing(answer, 'answer = "intact", "halfway" or "chance".'):
        return False
    if not isinstance(answer, str) or answer.strip().lower() not in _LEVELS:
        return verdict(False, "", f'Answer one of "intact", "halfway" or "chance"; got {answer!r}.')
    word = answer.strip().lower()
    measured, truth = "", solution_plain_deletion()
    try:
        net = next(name for name in lesion.single if str(name).startswith("plain"))  # type: ignore[union-attr]
        best, intact = max(lesion.single[net]), lesion.baseline[net]  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - no usable lesion result: judge by the principle alone
        pass
    else:
        targets = {"intact": intact, "halfway": (intact + 0.1) / 2, "chance": 0.1}
        truth = min(targets, key=lambda name: abs(best - targets[name]))
        measured = (f" Measured in your lesion study: {net} keeps {best:.1%} after its least harmful deletion "
                    f"(intact: {intact:.1%}, chance: 10%).")
    why = ("In a plain net every layer feeds only the next one, so each later layer was trained on the output of "
           "exactly the one before; take one away and the rest receive inputs they have never seen. In a ResNet "
           "the shortcut still carries x past a deleted block, and the other blocks only add to it (Veit et al. "
           "2016, §4).")
    return verdict(word == truth, f"Right.{measured} {why}", f"Not what the nets do.{measured} {why}")


# --- exercise 3: lag-1 autocorrelation of white and brown noise ---

def _noise(seed: int = 0, points: int = 10_000) -> tuple[float, float]:
    from ..shattered import autocorrelation

    generator = torch.Generator().manual_seed(seed)
    white = torch.randn(points, dtype=torch.float64, generator=generator)
    return autocorrelation(white), autocorrelation(white.cumsum(0))


def solution_noise_autocorrelation() -> tuple[float, float]:
    """White noise: neighbours are independent, 0. Brown noise (a running sum): neighbours differ by one small
    step, ≈ 1."""
    return 0.0, 1.0


def check_noise_autocorrelation(answer: object) -> bool:
    """Exercise 3: predict the lag-1 autocorrelation of (white noise, brown noise), the two ends of Balduzzi et al.'s
    scale for gradients (Fig. 1–2). The checker measures both on 10,000 samples."""
    if missing(answer, "answer = (white, brown): two numbers between -1 and 1."):
        return False
    try:
        white, brown = (float(v) for v in answer)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - whatever the type, a wrong answer gets an explanation, not a crash
        return verdict(False, "", f"Expected a pair of two numbers, e.g. answer = (0.5, 0.5); got "
                                  f"{type(answer).__name__} {answer!r}.")
    if not (math.isfinite(white) and math.isfinite(brown)):
        return verdict(False, "", f"Both numbers must be finite; got {answer!r}.")
    m_white, m_brown = _noise()
    seen = f"Measured just now on 10,000 samples: white {m_white:.3f}, brown {m_brown:.4f}."
    ok_white, ok_brown = abs(white - m_white) < 0.1, abs(brown - m_brown) < 0.1
    if ok_white and ok_brown:
        return verdict(True, f"Right. {seen} A shallow net's gradient along a line looks like brown noise; a deep "
                             "plain net's like white noise: neighbouring inputs get unrelated gradients, so a "
                             "gradient step learned at one input says nothing about the next (Balduzzi et al. 2017).",
                       "")
    hints = []
    if not ok_white:
        hints.append("white noise: each value is drawn independently, so a value says nothing about its neighbour")
    if not ok_brown:
        hints.append("brown noise: each value is the previous one plus a small step, so neighbours almost agree")
    return verdict(False, "", f"Not yet: {'; '.join(hints)}. {seen}")
