"""Exercise checkers for lesson 02 (identity mapping, H(x) = F(x) + x; He et al. 2015, §3.1–3.2).

Every truth a checker compares with is computed by running the code (a BasicBlock, autograd), never typed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._core import missing, not_yet, numbers, predicted, verdict

__all__ = [
    "check_init_prediction",
    "check_block_output", "check_mean_gradient", "check_residual_unit",
    "solution_block_output", "solution_mean_gradient", "solution_residual_unit",
    "SolutionResidualUnit",
]

BLOCK_INPUT = (-1.5, 0.5, 2.0)
GRAD_H = (2.2, 2.5, 1.0, 0.0)
GRAD_Y = (2.0, 2.9, 1.0, 0.5)


def _as_list(answer: object, n: int) -> list[float] | None:
    """The answer as n floats, or None (after printing what is expected) when it has another type or length."""
    return numbers(answer, n, "numbers (one per entry)", "[0.0, 1.0, ...]")


def _close(a: Sequence[float], b: Sequence[float], tol: float = 1e-4) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


# --- exercise 1: what does a zero-initialised BasicBlock output? ---


def _zero_init_block_output(values: Sequence[float]) -> list[float]:
    """Run a one-channel zero-init BasicBlock (γ = 0 in its last BN) on a 1×3 image holding ``values``."""
    from ..nets import BasicBlock
    from ..runtime import seeded

    with seeded(0):  # the learner's random stream is left alone
        block = BasicBlock(1, 1)  # downsample=None: the identity shortcut
    nn.init.zeros_(block.bn2.weight)
    x = torch.tensor(values, dtype=torch.float32).view(1, 1, 1, -1)
    with torch.no_grad():
        return block(x.clone()).flatten().tolist()


def check_block_output(answer: object) -> bool:
    """Exercise 1: the output of a zero-initialised BasicBlock for x = [-1.5, 0.5, 2.0]."""
    if missing(answer, "predict the block's output for x = [-1.5, 0.5, 2.0] as a list of 3 numbers."):
        return False
    values = _as_list(answer, 3)
    if values is None:
        return False
    truth = _zero_init_block_output(BLOCK_INPUT)
    if _close(values, BLOCK_INPUT):
        return verdict(False, "", "That is x itself, but BasicBlock computes relu(F(x) + x): with F(x) = 0 the "
                       "final ReLU still clips the negative entry to 0. Inside a network the block's input comes "
                       "out of a ReLU, so there it *is* the identity.")
    if _close(values, [0.0, 0.0, 0.0]):
        return verdict(False, "", "All zeros is what the *plain* block outputs when its last BN has γ = 0. The "
                       "residual block adds the shortcut: relu(F(x) + x) = relu(0 + x).")
    return verdict(
        _close(values, truth),
        f"Right: {truth}. F(x) = 0 because γ = 0, so the block outputs relu(x): x where x ≥ 0, 0 elsewhere.",
        "Not quite. With γ = 0 in the last BN, F(x) = 0 exactly; the block outputs relu(F(x) + x). "
        "Apply that to each entry.",
    )


def solution_block_output() -> list[float]:
    """Run the block: relu(0 + x) = [0, 0.5, 2]."""
    return _zero_init_block_output(BLOCK_INPUT)


# --- exercise 2: ∂L/∂H for PyTorch's default MSELoss with n = 4 ---


def solution_mean_gradient() -> list[float]:
    """Ask autograd: ∂L/∂H = 2(H − y)/n for ``nn.MSELoss()`` with n = 4, i.e. [0.1, −0.2, 0, −0.25]."""
    from ..lessons.lesson02_identity_mapping import loss_gradient

    return loss_gradient(GRAD_H, GRAD_Y, reduction="mean").tolist()


def check_mean_gradient(answer: object) -> bool:
    """Exercise 2: ∂L/∂H for ``nn.MSELoss()`` (mean) with H = [2.2, 2.5, 1.0, 0.0], y = [2.0, 2.9, 1.0, 0.5]."""
    if missing(answer, "write ∂L/∂H as a list of 4 numbers (work it out by hand first, then check)."):
        return False
    values = _as_list(answer, 4)
    if values is None:
        return False
    diff = [h - y for h, y in zip(GRAD_H, GRAD_Y, strict=True)]
    n = len(diff)
    if _close(values, diff):
        return verdict(False, "", "H − y is the gradient of ½·Σ(H − y)², and of the mean only when n = 2. The "
                       f"mean divides by n = {n} and the square brings a factor 2: ∂L/∂H = 2(H − y)/{n}.")
    if _close(values, [2 * d for d in diff]):
        return verdict(False, "", f"2(H − y) is the gradient of the *sum* Σ(H − y)². nn.MSELoss() averages over "
                       f"the n = {n} entries, so divide by {n}.")
    if _close(values, [-2 * d / n for d in diff]) or _close(values, [-d for d in diff]):
        return verdict(False, "", "The sign is flipped: the gradient points to where the loss *grows*, i.e. "
                       "from y towards H. Gradient descent moves H the other way, towards y.")
    truth = solution_mean_gradient()
    return verdict(
        _close(values, truth),
        f"Right: {[round(v, 4) for v in truth]} = 2(H − y)/{n}. In the lesson n = 2 made 2/n = 1, "
        "which is why the mean and ½·Σ gave the same [0.2, −0.4].",
        f"Not quite. L = (1/n)·Σ(H − y)² with n = {n}; differentiate one term.",
    )


# --- exercise 3: write a residual unit that starts as the identity ---


def _returns_input(unit: nn.Module) -> bool:
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    try:
        out = unit(x)
    except Exception:  # noqa: BLE001 - any failure means it is not the untouched template
        return False
    return isinstance(out, torch.Tensor) and out.shape == x.shape and bool(torch.equal(out, x))


def check_residual_unit(unit: object) -> bool:
    """Exercise 3: an ``nn.Module`` on vectors of size 2 that is exactly the identity at init and can learn."""
    if missing(unit, "pass an instance of your residual unit, e.g. check_residual_unit(MyResidualUnit())."):
        return False
    if isinstance(unit, type) and issubclass(unit, nn.Module):
        return verdict(False, "", "You passed the class; pass an instance: check_residual_unit(MyResidualUnit()).")
    if not isinstance(unit, nn.Module):
        return verdict(False, "", f"Expected an instance of an nn.Module subclass; got {type(unit).__name__}.")
    params = [p for p in unit.parameters() if p.requires_grad]
    if not params and type(unit).__name__ == "MyResidualUnit" and _returns_input(unit):
        return not_yet("the template still returns x with no layers: give F its layers in __init__ and return "
                       "F(x) + x in forward, then run this cell again.")
    if not params:
        return verdict(False, "", "Your unit has no trainable parameters, so F can never learn anything. "
                       "Give F layers, e.g. nn.Linear(2, 8) → nn.ReLU() → nn.Linear(8, 2).")
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    try:
        out = unit(x)
    except Exception as err:  # noqa: BLE001 - a learner's bug must become an explanation, not a crash
        return verdict(False, "", f"Calling unit(x) on a (16, 2) batch failed: {type(err).__name__}: {err}")
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return verdict(False, "", f"unit(x) must return a tensor shaped like x {tuple(x.shape)}; got {shape}.")
    gap = (out - x).abs().max().item()
    if gap != 0:
        return verdict(False, "", f"At initialisation max |unit(x) − x| = {gap:.3g}, not 0. Return F(x) + x and "
                       "make F(x) = 0 at the start: set the last Linear's weight and bias to zero "
                       "(nn.init.zeros_).")
    if out.requires_grad:
        try:
            out.sum().backward()
        except Exception as err:  # noqa: BLE001 - a learner's bug must become an explanation, not a crash
            unit.zero_grad(set_to_none=True)
            return verdict(False, "", f"The backward pass through unit(x) failed: {type(err).__name__}: {err}")
    reached = any(p.grad is not None and p.grad.abs().max().item() > 0 for p in params)
    unit.zero_grad(set_to_none=True)  # leave the learner's module as it was
    if not reached:
        return verdict(False, "", "No gradient reaches your parameters: the output does not depend on F. "
                       "forward must return F(x) + x, not x alone.")
    return verdict(True, "The unit is exactly the identity at init (F(x) = 0) and its parameters get gradients, "
                   "so F can grow into whatever correction the loss asks for.", "")


class SolutionResidualUnit(nn.Module):
    """Exercise 3's solution: F = Linear(2, 8) → ReLU → Linear(8, 2) with the last layer zeroed, plus x."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.relu, self.fc2 = nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2)
        nn.init.zeros_(self.fc2.weight)  # F(x) = 0 at init: the unit starts as the identity ...
        nn.init.zeros_(self.fc2.bias)  # ... and fc1 keeps its random weights, so gradients still flow

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x))) + x  # H(x) = F(x) + x


def solution_residual_unit() -> nn.Module:
    """An instance of :class:`SolutionResidualUnit` (print its code with ``inspect.getsource``)."""
    return SolutionResidualUnit()


def check_init_prediction(prediction: object, ident: object) -> bool:
    """Before section 3: at initialisation, which stack of 20 units is *further* from the identity,
    ``"plain"`` or ``"residual"``? Checked against ``ident``
    (:class:`~resnet_edu.lessons.lesson02_identity_mapping.IdentityLearning`)."""
    try:
        k = max(ident.ks)  # type: ignore[attr-defined]
        plain, residual = ident.initial_loss("plain", k), ident.initial_loss("residual", k)  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        print("❌ Pass the result of edu.lessons.lesson02_identity_mapping.learn_identity(...) as the second argument.")
        return False
    side = "plain" if plain > residual else "residual"
    return predicted(
        prediction, side, ("plain", "residual"),
        f"at init MSE(net(x), x) is {plain:.3g} for {k} plain units and {residual:.3g} for {k} residual units",
        "Default-init branches are not zero: each adds its F(x) to the stream, and twenty of them add up. The plain "
        "stack outputs almost nothing (MSE ≈ Var x = 1). Where each stack *ends* after training is another matter.",
    )
