"""Exercise checkers for lesson 04 (``nn.Identity`` vs a lambda shortcut). Every checker computes the truth by
running :mod:`resnet_edu.lessons.lesson04_identity_vs_lambda` — nothing is typed in — and explains a wrong answer."""

from __future__ import annotations

import io
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._core import brief, missing, predicted, verdict
from ._core import check_number as _check_number  # the shared number checker (not a learner-facing check_)

__all__ = [
    "check_identity_state_keys", "check_save_survivors", "check_closure_batchnorm", "check_projection_block",
    "solution_identity_state_keys", "solution_save_survivors", "solution_closure_batchnorm",
    "solution_projection_block",
]


def _shortcuts():  # noqa: ANN202 (imported lazily: resnet_edu.exercises is imported by every lesson)
    from ..lessons import lesson04_identity_vs_lambda as shortcuts

    return shortcuts


def solution_identity_state_keys() -> int:
    """How many ``state_dict`` keys a ``nn.Identity()`` shortcut adds, counted on a real block."""
    block = _shortcuts().make_block("module")
    return sum(key.startswith("shortcut.") for key in block.state_dict())


def check_identity_state_keys(answer: object) -> bool:
    """Exercise 1: how many keys does ``self.shortcut = nn.Identity()`` add to the block's ``state_dict()``?"""
    return _check_number(
        answer, solution_identity_state_keys(),
        hint="record a number of keys before §1, e.g. predicted_keys = 2; §1's output shows the answer.",
        what="a small whole number of keys", example="0, 1 or 2", whole=True, low=0, high=1000,
        right_text="{right}. A state_dict stores parameters and buffers; nn.Identity has neither, so it adds no key. "
                   "It *is* a registered sub-module (print and named_modules list it) — that is a different thing.",
        wrong_text="Not {answer}: run [k for k in edu.lessons.lesson04_identity_vs_lambda.make_block('module')"
                   ".state_dict() if "
                   "k.startswith('shortcut')]. A state_dict holds tensors (parameters and buffers), not modules, and "
                   "nn.Identity owns no tensor.",
    )


def solution_save_survivors() -> set[str]:
    """The versions whose whole model survives ``torch.save(model)`` (pickle), measured by the probe."""
    shortcuts = _shortcuts()
    return {v for v in shortcuts.VERSIONS if shortcuts.probe_save_whole(v).ok}


def check_save_survivors(answer: object) -> bool:
    """Exercise 2: which of ``"module"``, ``"lambda"``, ``"lambda_layer"`` survive ``torch.save(model)``?"""
    versions = _shortcuts().VERSIONS
    if missing(answer, f"record a set of version names from {versions} before §2, e.g. predicted_survivors = "
                       "{'name1', 'name2'}; §2's output shows the answer."):
        return False
    if isinstance(answer, str):
        answer = {answer}
    try:
        if isinstance(answer, dict):
            raise TypeError("a dict is not a set of names")
        chosen = set(answer)  # type: ignore[call-overload]
    except TypeError:
        return verdict(False, "", f"Give a set (or list) of version names from {versions}, e.g. {{'lambda'}}; got "
                       f"{brief(answer)} ({type(answer).__name__}).")
    unknown = chosen - set(versions)
    if unknown:
        return verdict(False, "", f"unknown version(s) {sorted(map(brief, unknown))}; use names from {versions}")
    truth = solution_save_survivors()
    return verdict(
        chosen == truth,
        f"{sorted(truth)}. pickle stores a function by its importable name; a lambda defined inside __init__ has "
        "none ('Can't pickle local object …<lambda>'), and wrapping it in a LambdaLayer does not change that.",
        f"Not {sorted(chosen)}. Hint: the LambdaLayer is a module, but what does it hold? Run "
        "edu.lessons.lesson04_identity_vs_lambda.probe_save_whole(v) for each v.",
    )


def solution_closure_batchnorm(seed: int = 0) -> str:
    """Prediction 3, measured: after ``block.eval()``, does image 0's output still depend on the rest of its batch
    when the shortcut's 1×1 conv + BN sits in a lambda? ``"yes"`` or ``"no"``."""
    gap = _shortcuts().closure_batchnorm("lambda", seed=seed).batch_dependence
    return "yes" if gap > 1e-3 else "no"


def check_closure_batchnorm(prediction: object, seed: int = 0) -> bool:
    """Prediction 3: ``"yes"`` or ``"no"`` — does a BatchNorm captured by a lambda still use batch statistics after
    ``block.eval()``? Measured by :func:`~resnet_edu.lessons.lesson04_identity_vs_lambda.closure_batchnorm`.
    """
    if missing(prediction, 'record prediction 3 before §5, e.g. predicted_bn_eval = "yes" (or "no").'):
        return False
    if not isinstance(prediction, str):
        return verdict(False, "", f"A prediction is one of 'yes', 'no' (a string); got {brief(prediction)} "
                       f"({type(prediction).__name__}).")
    r = _shortcuts().closure_batchnorm("lambda", seed=seed)
    return predicted(
        prediction, solution_closure_batchnorm(seed), ("yes", "no"),
        f"in eval mode image 0's output moves by up to {r.batch_dependence:.2f} with the rest of its batch, and the "
        f"hidden BN updated its running statistics {r.stats_updates}× in two eval-mode calls",
        "block.eval() is block.train(False), which walks block.modules() — the registered sub-modules — and sets "
        "each one's .training flag. The BN inside the lambda's closure is not among them, so it stays in training "
        "mode: it normalises with the batch's own statistics and keeps updating its running ones.")


class _ProjectionBlock(nn.Module):
    """One solution: a residual block whose 1×1 projection W_s (He et al. 2015, Eq. 2) is a registered module."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, bias=False)  # registered: trained, saved, moved, copied

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))  # H(x) = F(x) + W_s x


def solution_projection_block() -> type[nn.Module]:
    """The fixed block of exercise 3 (a class taking ``(c_in, c_out)``)."""
    return _ProjectionBlock


def _projection_problems(make: Callable[[int, int], nn.Module]) -> list[str]:
    """What is still wrong with a block built by ``make(4, 8)`` (empty when nothing is)."""
    shortcuts = _shortcuts()
    try:
        block = make(4, 8)
    except Exception as error:  # a learner's class may fail in any way
        return [f"calling answer(4, 8) raised {type(error).__name__}: {error}"]
    if not isinstance(block, nn.Module):
        return [f"answer(4, 8) must build an nn.Module; got {type(block).__name__}"]
    x = shortcuts.example_input(channels=4)
    try:
        shape = tuple(block(x).shape)
    except Exception as error:
        return [f"the forward pass on a (4, 4, 8, 8) input raised {type(error).__name__}: {error}"]
    if shape != (4, 8, 8, 8):
        return [f"the block should map (4, 4, 8, 8) to (4, 8, 8, 8); got {shape}"]
    problems = [f"{path} is hidden in a closure: parameters(), state_dict() and .to() cannot see it"
                for path, _ in shortcuts.hidden_modules(block)]
    projections = [m for _, m in block.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
                   and (m.in_channels, m.out_channels) == (4, 8)]
    if not projections:
        problems.append("no registered 1×1 Conv2d from 4 to 8 channels: the projection W_s must be a sub-module")
        return problems
    before = projections[0].weight.detach().clone()
    optimizer = torch.optim.SGD(block.parameters(), lr=0.1)
    for _ in range(2):
        optimizer.zero_grad()
        block(x).square().mean().backward()
        optimizer.step()
    if torch.equal(before, projections[0].weight.detach()):
        problems.append("two SGD steps on block.parameters() left the projection unchanged")
    try:
        torch.save(block, io.BytesIO())
    except Exception as error:
        problems.append(f"torch.save(block) fails: {type(error).__name__}: {error}")
    return problems


def check_projection_block(answer: object) -> bool:
    """Exercise 3: a class (or function) ``answer(c_in, c_out)`` building a residual block whose 1×1 projection
    shortcut is registered: trained by the optimizer, saved, moved and pickled with the model."""
    if missing(answer, "fix the class above and set answer = YourBlockClass"):
        return False
    if isinstance(answer, nn.Module):
        return verdict(False, "", f"answer is a block instance ({type(answer).__name__}(...)); pass the class "
                       "itself, without parentheses, so the checker can build fresh blocks: answer = FixedBlock.")
    if not callable(answer):
        return verdict(False, "", "Pass the class itself (answer = FixedBlock, no parentheses): something that "
                       f"answer(c_in, c_out) builds a block with; got {brief(answer)} ({type(answer).__name__}).")
    try:
        problems = _projection_problems(answer)  # type: ignore[arg-type]
    except Exception as error:  # noqa: BLE001 - a learner's block may fail in ways no check foresaw
        problems = [f"using your block raised {type(error).__name__}: {error}"]
    return verdict(
        not problems,
        "Your projection is a registered sub-module: the optimizer trains it, state_dict saves it, .to() moves it "
        "and torch.save pickles the whole block.",
        "Still wrong:\n   - " + "\n   - ".join(problems),
    )
