"""Exercise checkers for lesson 09 (ResNets behave like ensembles of paths: Veit, Wilber & Belongie 2016, §3–5).

The truths are computed (a binomial coefficient, the lesion of a net built on the spot) or taken from the learner's
own lesion study and path measurement, never typed in.
"""

from __future__ import annotations

import copy
import math
import numbers

import torch
from torch import nn

from ._core import brief, missing, predicted, verdict

__all__ = [
    "PATHS_BLOCKS",
    "PATHS_LENGTH",
    "check_paths_of_length",
    "check_plain_deletion",
    "check_path_peak_prediction",
    "check_lesion",
    "solution_paths_of_length",
    "solution_plain_deletion",
    "solution_lesion",
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
    if not isinstance(answer, numbers.Real) and hasattr(answer, "item"):
        try:
            answer = answer.item()  # a NumPy integer, a one-element tensor or array: the count it holds
        except Exception:  # noqa: BLE001 - several elements: refused below as not one number
            pass
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return verdict(False, "", f"Expected a number, e.g. answer = 1234; got {type(answer).__name__} "
                                  f"{brief(answer)}.")
    answer = int(answer) if isinstance(answer, numbers.Integral) else answer  # np.int64 and friends as a Python int
    if not isinstance(answer, int) and not math.isfinite(answer):
        return verdict(False, "", f"Expected a finite count of paths; got {brief(answer)}.")
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
    return verdict(False, "", f"{brief(answer)} is not it. Each of the {n} blocks is either in the path (its branch "
                              f"F) or not (its shortcut): count the ways to pick {k} of them.")


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
        return verdict(False, "", f'Answer one of "intact", "halfway" or "chance"; got {brief(answer)}.')
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


# --- prediction before the path experiment: where does the total gradient peak? ---

_PEAKS = ("below", "at", "above")


def check_path_peak_prediction(prediction: object, paths: object) -> bool:
    """Recorded before the path experiment: does the gradient carried by *all* paths of one length peak "below",
    "at" or "above" the mean path length n/2? Judged against ``paths`` (the learner's
    :class:`resnet_edu.lessons.lesson09_ensembles_paths.PathGradients`)."""
    try:
        peak, mean, n = paths.peak_length, paths.mean_length, paths.n  # type: ignore[union-attr]
    except AttributeError:
        return verdict(False, "", "Pass the path measurement as the second argument: check_path_peak_prediction("
                                  "prediction, paths), paths = "
                                  "edu.lessons.lesson09_ensembles_paths.path_gradients(...).")
    measured = "below" if peak < mean - 0.5 else "above" if peak > mean + 0.5 else "at"
    return predicted(
        prediction, measured, _PEAKS,
        f"in your run the paths of length {peak} carry the most gradient in total, the mean length is {mean:g} "
        f"({n} blocks)",
        "There are most paths of length ≈ n/2, but every branch on a path shrinks the gradient it carries, so the "
        "product of the two peaks at shorter paths (Veit et al. 2016, §5, Fig. 6).")


# --- exercise: write the lesion yourself ---

def solution_lesion(model: nn.Module, stage: str, index: int) -> nn.Module:
    """A copy of ``model`` whose block ``model.<stage>[index]`` is replaced by the identity (Veit et al. 2016, §4):
    a ResNet keeps the shortcut (y = x), a plain net loses the block's layers. The trained net is not changed."""
    lesioned = copy.deepcopy(model)
    getattr(lesioned, stage)[index] = nn.Identity()  # H(x) = x: the block is gone
    return lesioned


_LESIONS = (("layer1", 1), ("layer2", 2), ("layer3", 1))  # blocks whose input and output shapes agree


def _probe_net() -> tuple[nn.Module, torch.Tensor]:
    """A ResNet-20 (width 8, 1 channel) whose BatchNorms have random statistics and affine parameters, so that no
    block is close to the identity by accident, and a probe batch."""
    from ..nets import cifar_net
    from ..runtime import seeded

    with seeded(0):
        net = cifar_net(20, residual=True, width=8, in_channels=1)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
        x = torch.randn(4, 1, 8, 8)
    return net.eval(), x


def _forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x)


def _lesion_mistake(net: nn.Module, x: torch.Tensor, out: torch.Tensor, stage: str, index: int) -> str:
    """Name the mistake whose output ``out`` matches, or say what differs."""
    from ..lessons.lesson09_ensembles_paths import blocks

    block = getattr(net, stage)[index]
    where = {id(b): f"{name}[{i}]" for name in ("layer1", "layer2", "layer3") for i, b in enumerate(getattr(net, name))}
    for other in blocks(net):
        try:
            with _swapped(net, other):
                same = torch.allclose(_forward(net, x), out, atol=1e-5)
        except RuntimeError:
            continue  # a downsampling block: the identity does not fit there
        if same and other is not block:
            return (f"your function deleted {where[id(other)]} instead of {stage}[{index}]: index the stage's "
                    "blocks from 0, as nn.Sequential does.")
    twice = copy.deepcopy(net)
    target = getattr(twice, stage)[index]
    target.conv1, target.bn1, target.conv2, target.bn2 = nn.Identity(), nn.Identity(), nn.Identity(), nn.Identity()
    if torch.allclose(_forward(twice, x), out, atol=1e-5):
        return ("you replaced the layers of the branch F by the identity, so the block still adds: y = relu(x + x) "
                "= 2x. Deleting a block removes F entirely — replace the whole block by nn.Identity().")
    zeroed = copy.deepcopy(net)
    with torch.no_grad():
        for m in getattr(zeroed, stage)[index].modules():
            if isinstance(m, nn.Conv2d):
                m.weight.zero_()
    if torch.allclose(_forward(zeroed, x), out, atol=1e-5):
        return ("zeroing the conv weights does not delete F: its BatchNorm still adds its shift β (F(x) = relu(β) "
                "…), so y ≠ x. Replace the whole block by nn.Identity().")
    if torch.allclose(_forward(net, x), out, atol=1e-5):
        return "the returned net computes exactly what the intact net computes: no block was deleted."
    return (f"the returned net's output differs from the net with {stage}[{index}] replaced by the identity (max "
            f"difference {float((out - _forward_lesioned(net, x, stage, index)).abs().max()):.3g}).")


class _swapped:
    """Context manager: one block of ``net`` temporarily replaced by the identity."""

    def __init__(self, net: nn.Module, block: nn.Module) -> None:
        self.net, self.block, self.where = net, block, None

    def __enter__(self) -> None:
        for parent in self.net.modules():
            for name, child in parent.named_children():
                if child is self.block:
                    self.where = (parent, name)
        setattr(*self.where, nn.Identity())

    def __exit__(self, *exc: object) -> None:
        setattr(*self.where, self.block)


def _forward_lesioned(net: nn.Module, x: torch.Tensor, stage: str, index: int) -> torch.Tensor:
    with _swapped(net, getattr(net, stage)[index]):
        return _forward(net, x)


def check_lesion(answer: object) -> bool:
    """Exercise: ``answer`` is your function ``delete_block(model, stage, index)`` that returns a copy of ``model`` with
    block ``index`` of ``model.<stage>`` (e.g. ``"layer1"``, 1) deleted — replaced by ``nn.Identity()`` — and
    leaves ``model`` itself unchanged. The checker runs it on a ResNet-20 with random weights and compares the
    output with the reference lesion, for three blocks."""
    if missing(answer, "write delete_block(model, stage, index) in the cell above and pass it: "
                       "check_lesion(delete_block)."):
        return False
    if not callable(answer) or isinstance(answer, type):
        return verdict(False, "", f"Pass your function itself, e.g. check_lesion(delete_block); got "
                                  f"{type(answer).__name__} {brief(answer)}.")
    net, x = _probe_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    intact = _forward(net, x)
    for stage, index in _LESIONS:
        try:
            result = answer(net, stage, index)
        except NotImplementedError:
            print("✏️  not finished yet: your function raises NotImplementedError.")
            return False
        except Exception as err:  # noqa: BLE001 - the learner's code: explain, never crash
            return verdict(False, "", f"delete_block(model, {stage!r}, {index}) raised {type(err).__name__}: {err}")
        if result is None:
            return verdict(False, "", "your function returned None: end it with `return` and the lesioned copy.")
        if not isinstance(result, nn.Module):
            return verdict(False, "", f"your function should return the lesioned net (an nn.Module); got "
                                      f"{type(result).__name__}.")
        changed = (len(getattr(net, stage)) != 3 or not all(isinstance(b, nn.Module) and not isinstance(b, nn.Identity)
                                                                for name in ("layer1", "layer2", "layer3")
                                                                for b in getattr(net, name))
                   or set(net.state_dict()) != set(before)
                   or any(not torch.equal(v, before[k]) for k, v in net.state_dict().items()))
        if changed:
            return verdict(False, "", "your function changed the trained net itself: after one call the original "
                                      "is lesioned for good. Work on copy.deepcopy(model) and return the copy.")
        if result is net:
            return verdict(False, "", f"your function returned the trained net itself, unchanged: no block was "
                                      f"deleted. Copy it (copy.deepcopy(model)), replace {stage}[{index}] of the "
                                      "copy by nn.Identity() and return the copy.")
        switched = [name or "model" for name, m in net.named_modules() if m.training]
        net.eval()  # the reference below needs the trained net as it was
        mode = (f"your function switched the trained net to train mode ({switched[0]}.training is True; "
                "model.train() does that): its BatchNorms then normalise with each batch's own statistics and "
                "overwrite their running averages, so the original no longer computes what it did. Leave model as "
                "it is; call .train()/.eval() on the copy only." if switched else "")
        try:
            out = _forward(result.eval(), x)
        except Exception as err:  # noqa: BLE001
            return verdict(False, "", f"the returned net raised {type(err).__name__} on a batch: {err}")
        if not isinstance(out, torch.Tensor):
            what = (f"a {type(out).__name__} of {len(out)} items" if isinstance(out, (tuple, list, dict))
                    else f"a {type(out).__name__} ({brief(out)})")
            got = ("None: is the `return` missing in its forward?" if out is None else
                   f"{what}: return the class scores alone, one tensor (N, 10)")
            return verdict(False, "", f"delete_block(model, {stage!r}, {index}): the returned net's forward gave "
                                      f"{got}")
        if out.shape != intact.shape or not torch.allclose(out, _forward_lesioned(net, x, stage, index), atol=1e-5):
            return verdict(False, "", f"delete_block(model, {stage!r}, {index}): "
                                      + (f"output shape {tuple(out.shape)}, expected {tuple(intact.shape)}."
                                         if out.shape != intact.shape else _lesion_mistake(net, x, out, stage, index))
                                      + (f" Also, {mode}" if mode else ""))
        if mode:
            return verdict(False, "", f"Your copy is right, but {mode}")
    return verdict(True, "Right: for three blocks your copy computes exactly the net with that block replaced by "
                         "the identity, and the trained net is left as it was. In a ResNet the shortcut carries x past "
                         "the gap (y = x); in a plain net nothing does.", "")
