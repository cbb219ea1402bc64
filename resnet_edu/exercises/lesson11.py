"""Exercise checkers for lesson 11 (a deep ResNet without BatchNorm: SkipInit, Fixup, ReZero; De & Smith 2020).

The block checker judges a learner's class by what it computes, not by its names: it sets the learnable scalar α to
0, 1, 2 and −1 and compares the outputs with x, which tells α on the branch's output from α on the shortcut, on the
whole sum or inside the branch.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _core
from ._core import predicted, verdict
from ._structure import UNFINISHED, build, not_a_class

__all__ = [
    "check_growth_factor", "check_growth_prediction", "check_train_prediction", "check_skipinit_block",
    "solution_growth_factor", "solution_skipinit_block", "SolutionSkipInitBottleneck",
]

GROWTH_BLOCKS = 10
CHANNELS = 8
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)


# --- exercise 1: how much does the variance grow over 10 BN-free blocks? ---


def solution_growth_factor() -> int:
    """Each block adds a branch as large as its input (independent of it): Var doubles, ten times: 2¹⁰ = 1024."""
    return 2 ** GROWTH_BLOCKS


def check_growth_factor(answer: object) -> bool:
    """Exercise 1: Var(x_10) / Var(x_0) when every block adds a branch F(x_k), independent of x_k, with
    Var F = Var x_k."""
    k = GROWTH_BLOCKS
    return _core.check_number(
        answer, solution_growth_factor(),
        [(k, "{answer} is linear growth, one unit per block: that is the BN net, whose branch adds a *fixed* variance "
             "(≈ 1) however large the stream is. Here the branch grows with the stream."),
         (k + 1, "{answer} = k + 1 is the BN net's stream (each branch adds one unit). Here each branch adds as much "
                 "as the stream already holds."),
         (2 * k, "{answer} = 2·k adds the doublings; they multiply: Var(x_{{k+1}}) = 2·Var(x_k)."),
         (2, "2 is one block. Ten blocks double it ten times."),
         (k ** 2, "{answer} = k² is a power of k; the factor per block is fixed, so it is a power of 2.")],
        hint=f"predict Var(x_{k}) / Var(x_0) as one number (work it out from Var(x + F) = Var x + Var F).",
        right_text="Right: {right} = 2^10. Independent variances add, Var(x + F(x)) = 2·Var(x), so the stream doubles "
                   "every block: exponential growth, what section 1 measured without BN.",
        wrong_text="Not {answer}. Var(x + F) = Var x + Var F when F is independent of x; with Var F = Var x that is "
                   "2·Var x. Now apply it ten times.",
        what="a positive number", example="100", low=0)


# --- predictions, checked against the learner's own run ---


def check_growth_prediction(prediction: object, variance: object) -> bool:
    """Before section 1: without BN, does the stream's variance grow like k + 1 (``"linear"``) or like c^k
    (``"exponential"``)? Checked against ``variance`` (:class:`~resnet_edu.lessons.lesson11_without_batchnorm.
    StreamVariance`)."""
    try:
        growth = variance.growth("no BN")  # type: ignore[attr-defined]
        bn = variance.growth("BN")  # type: ignore[attr-defined]
        depth = variance.depth  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        print("❌ Pass the result of lesson.stream_variance(...) (with its 'BN' and 'no BN' arms) as the second "
              "argument.")
        return False
    side = "exponential" if growth > 3 * (depth + 1) else "linear"
    return predicted(
        prediction, side, ("linear", "exponential"),
        f"after {depth} blocks the variance grew ×{growth:,.0f} without BN (×{bn:.1f} with BN; k + 1 = {depth + 1})",
        "Without BN each branch is about as large as the stream it reads, so every block multiplies the variance; "
        "with BN the branch sees a normalised input and adds about one unit, so the variance only counts the blocks.",
    )


def check_train_prediction(prediction: object, training: object) -> bool:
    """Before section 2: does the BN-free ResNet (He init, no α) train about as well as the BN net with the BN net's
    recipe, ``"yes"`` or ``"no"``? Checked against ``training`` (:class:`~resnet_edu.lessons.
    lesson11_without_batchnorm.ArmTraining`)."""
    try:
        bn, no_bn = training.accuracy["BN"], training.accuracy["no BN"]  # type: ignore[attr-defined]
    except (AttributeError, TypeError, KeyError):
        print("❌ Pass the result of lesson.train_arms(...) (with its 'BN' and 'no BN' arms) as the second argument.")
        return False
    side = "yes" if no_bn >= bn - 0.05 else "no"
    return predicted(
        prediction, side, ("yes", "no"),
        f"test accuracy {no_bn:.1%} without BN against {bn:.1%} with BN",
        "The exploding stream gives huge logits and huge first gradients: at the BN net's learning rate the BN-free "
        "net is thrown off at the start (on most seeds to chance, or NaN).",
    )


# --- exercise 2: write a SkipInit block ---


def _alpha(module: nn.Module) -> tuple[nn.Parameter | None, str]:
    """The block's learnable scalar α, or (None, why not)."""
    scalars = [(n, p) for n, p in module.named_parameters() if p.numel() == 1 and p.requires_grad]
    named = [p for n, p in scalars if n.split(".")[-1] == "alpha"]
    if named:
        return named[0], ""
    if len(scalars) == 1:
        return scalars[0][1], ""
    if scalars:
        return None, (f"your block has {len(scalars)} learnable scalars ({', '.join(n for n, _ in scalars)}); SkipInit "
                      "has one, α: name it alpha (self.alpha = nn.Parameter(torch.zeros(())))")
    return None, ""


def _outputs(module: nn.Module, alpha: nn.Parameter, x: torch.Tensor) -> dict[float, torch.Tensor] | str:
    """The block's output with α set to 0, 1, 2 and −1 (α restored afterwards), or why it could not run."""
    start = alpha.detach().clone()
    outs: dict[float, torch.Tensor] = {}
    try:
        with torch.no_grad():
            for a in (0.0, 1.0, 2.0, -1.0):
                alpha.fill_(a)
                out = module(x.clone())
                if not isinstance(out, torch.Tensor) or out.shape != x.shape:
                    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    return f"your block must return a tensor shaped like its input {tuple(x.shape)}; got {shape}"
                outs[a] = out
    except Exception as err:  # noqa: BLE001 - a learner's bug becomes a sentence
        return f"running your block on a {tuple(x.shape)} input raised {type(err).__name__}: {err}"
    finally:
        with torch.no_grad():
            alpha.copy_(start)
    return outs


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5 * (1 + float(b.abs().max()))))


def check_skipinit_block(answer: object) -> bool:
    """Exercise 2: a BN-free block class ``(channels)`` computing x + α·F(x), α a learnable scalar that starts at 0."""
    if answer is None or answer is Ellipsis:
        print("✏️  No answer yet: write your class, then answer = MySkipInitBlock and run this cell again.")
        return False
    why = not_a_class(answer, "MySkipInitBlock")
    if why:
        return verdict(False, "", why)
    module, why = build(answer, CHANNELS)
    if module is None:
        if why.startswith(UNFINISHED):
            print(f"✏️  No answer yet: your class is {why}")
            return False
        return verdict(False, "", f"Your class could not be built: {why}.")
    norms = [type(m).__name__ for m in module.modules() if isinstance(m, _NORMS)]
    if norms:
        return verdict(False, "", f"Your block has a normalisation layer ({norms[0]}). This lesson's blocks are "
                       "BN-free: α takes over the one thing BN did at initialisation, keeping the branch small.")
    module.eval()
    x = torch.randn(4, CHANNELS, 6, 6, generator=torch.Generator().manual_seed(0))
    alpha, why = _alpha(module)
    if alpha is None:
        if why:
            return verdict(False, "", f"{why[0].upper()}{why[1:]}.")
        try:
            with torch.no_grad():
                out = module(x.clone())
        except Exception as err:  # noqa: BLE001
            return verdict(False, "", f"Running your block raised {type(err).__name__}: {err}")
        if isinstance(out, torch.Tensor) and out.shape == x.shape and _close(out, x):
            return verdict(False, "", "Your block returns x at initialisation but has no learnable scalar: α is a "
                           "plain number (or a buffer), so the optimiser never moves it and the branch stays off "
                           "for ever. Make it a parameter: self.alpha = nn.Parameter(torch.zeros(())).")
        return verdict(False, "", "There is no α: this is the plain BN-free block x + F(x), whose stream variance "
                       "multiplies block after block (section 1). Add a learnable scalar α = 0 and return "
                       "x + α·F(x).")
    start = float(alpha.detach())
    outs = _outputs(module, alpha, x)
    if isinstance(outs, str):
        return verdict(False, "", f"{outs[0].upper()}{outs[1:]}.")
    o0, o1, o2, om = outs[0.0], outs[1.0], outs[2.0], outs[-1.0]
    if _close(o0, torch.zeros_like(x)) and not _close(o1, torch.zeros_like(x)):
        return verdict(False, "", "With α = 0 your block outputs zeros: α multiplies the whole sum, α·(x + F(x)), "
                       "so it switches off the shortcut too and no signal gets through. α belongs on the branch "
                       "only: x + α·F(x).")
    if _close(o1 - o0, x):
        return verdict(False, "", "α is on the shortcut: your block computes α·x + F(x). At α = 0 it outputs F(x), "
                       "the opposite of the identity. Scale the branch, not the skip: x + α·F(x).")
    if _close(o0, torch.relu(x)) and not _close(o0, x):
        return verdict(False, "", "At α = 0 your block returns relu(x), not x: there is a ReLU after the addition, "
                       "which clips the stream. Keep the stream linear: return x + α·F(x) with nothing after it.")
    if not _close(o0, x):
        gap = float((o0 - x).abs().max())
        return verdict(False, "", f"With α = 0 your block should return x exactly; max |out − x| = {gap:.3g}. Return "
                       "x + α·F(x), with α multiplying everything the branch adds (its biases included).")
    if _close(o1, x):
        return verdict(False, "", "Even with α = 1 your block returns x: F(x) is zero. SkipInit keeps F's He init "
                       "and zeroes only α; with F and α both zero neither of them gets a gradient.")
    if not (_close(o2 - x, 2 * (o1 - x)) and _close(om - x, -(o1 - x))):
        return verdict(False, "", "α sits inside the branch, not after its last layer: your output does not scale "
                       "with α (α = −1 does not give x − F(x)). With α before a ReLU, at α = 0 the ReLU sees zeros, "
                       "so neither α nor the layers before it get a gradient and the block never leaves the "
                       "identity. Multiply the branch's output: x + α·F(x).")
    if start != 0.0:
        what = "the plain BN-free block x + F(x) at initialisation" if start == 1.0 else "not the identity"
        return verdict(False, "", f"α starts at {start:g}, so the block is {what}: the stream's variance still grows "
                       "block by block. SkipInit starts α at 0: nn.Parameter(torch.zeros(())).")
    module.train()
    try:
        out = module(x.clone())
        (out * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
    except Exception as err:  # noqa: BLE001
        return verdict(False, "", f"The backward pass through your block failed: {type(err).__name__}: {err}")
    grad = alpha.grad
    module.zero_grad(set_to_none=True)
    if grad is None or float(grad.abs()) == 0:
        return verdict(False, "", "α gets no gradient, so training can never switch the branch on. Is it used in "
                       "forward as x + self.alpha * F(x)?")
    return verdict(True, "Your block is the identity at initialisation (α = 0), adds α·F(x) on the branch only, and "
                   "α gets a gradient from the first step: the BN-free stream starts flat, and each block decides "
                   "how much of its branch to let in.", "")


class SolutionSkipInitBottleneck(nn.Module):
    """Exercise 2's solution: x + α·F(x) with the bottleneck F = ReLU → 1×1 → ReLU → 3×3 → ReLU → 1×1 (no BN)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        mid = max(1, channels // 4)
        self.conv1 = nn.Conv2d(channels, mid, 1, bias=False)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(mid, channels, 1, bias=False)
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")  # F keeps its He init ...
        self.alpha = nn.Parameter(torch.zeros(()))  # ... and α = 0 switches it off at the start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(torch.relu(x))))))  # F(x)
        return x + self.alpha * f  # x + α·F(x)


def solution_skipinit_block() -> type[nn.Module]:
    """The class :class:`SolutionSkipInitBottleneck` (print it with ``inspect.getsource``)."""
    return SolutionSkipInitBottleneck
