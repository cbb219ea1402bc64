"""Exercise checkers for lesson 06 (three rules → BasicBlock, Bottleneck, ResNet-20; He et al. 2015, §3.3, §4.2).

Every truth a checker compares with is computed by running code (the package's own blocks and nets), never typed in.
A learner's class is exercised inside ``try``: whatever it raises becomes a verdict, never an exception.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._core import brief, missing, verdict
from ._core import check_number as _check_number  # the shared number checker (not a learner-facing check_)

__all__ = [
    "check_stage_shape", "check_bottleneck_params", "check_basic_block", "check_resnet20",
    "solution_stage_shape", "solution_bottleneck_params", "solution_basic_block", "solution_resnet20",
]

RESNET20_PARAMS = 269_722  # He et al. 2015, Table 6 ("0.27M"); exact for option-A shortcuts, see tests/test_nets.py


# --- exercise 1: the output shape after a stage ---


def solution_stage_shape() -> tuple[int, int, int]:
    """ResNet-18's layer3 on a 224×224 image, measured with a forward hook: (channels, height, width)."""
    from ..blocks import stage_table

    return stage_table("resnet18", 224).row("layer3").out_shape  # type: ignore[return-value]


def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for any float
        return False


def _ints(answer: object) -> list[int] | None:
    if isinstance(answer, (str, bytes, dict, set, frozenset)):
        return None  # "224" is not the three numbers (2, 2, 4)
    try:
        items = list(answer)  # type: ignore[call-overload]
        if any(isinstance(v, (bool, str, bytes)) for v in items):
            return None
        values = [float(v) for v in items]
    except (TypeError, ValueError, OverflowError):
        return None
    if not all(math.isfinite(v) and v == int(v) for v in values):
        return None
    return [int(v) for v in values]


def check_stage_shape(answer: object) -> bool:
    """Exercise 1: the output shape (C, H, W) of ResNet-18's ``layer3`` for one 224×224 image."""
    if missing(answer, "answer = (C, H, W), e.g. (64, 56, 56) — the shape after layer3."):
        return False
    values = _ints(answer)
    if values is None or len(values) not in (3, 4):
        return verdict(False, "", f"Give three whole numbers (C, H, W), e.g. (64, 56, 56); got {brief(answer)}.")
    values = values[-3:]
    right = list(solution_stage_shape())
    if values == right:
        return verdict(True, f"Right: {tuple(right)}. 224 → 112 (conv1, stride 2) → 56 (max pool) → 56 (layer1) → "
                             "28 (layer2) → 14 (layer3); the width doubles at each halving: 64, 128, 256.", "")
    hints = []
    if values[0] != right[0]:
        hints.append(f"channels: each stride-2 stage doubles the width (rule 2): 64 → 128 → {right[0]}")
    if values[1:] != right[1:]:
        hints.append(f"size: conv1 and the max pool halve 224 twice (56), then layer2 and layer3 halve it again "
                     f"({right[1]})")
    return verdict(False, "", "Not quite — " + "; ".join(hints) + ".")


# --- exercise 2: the parameters of a bottleneck ---


def solution_bottleneck_params() -> int:
    """Bottleneck(256 → 64 → 256), identity shortcut: 1×1·256·64 + 3×3·64·64 + 1×1·64·256 + BN (2 per channel)."""
    from ..nets import Bottleneck, count_parameters

    return count_parameters(Bottleneck(256, 64, shortcut=nn.Identity()))


def check_bottleneck_params(answer: object) -> bool:
    """Exercise 2: the number of parameters of a Bottleneck with 256 channels in and out (64 inside)."""
    right = solution_bottleneck_params()
    convs = 256 * 64 + 9 * 64 * 64 + 64 * 256
    return _check_number(
        answer, right, [(convs, "{answer} counts the convolutions; add BN's γ and β for each of 64 + 64 + 256 "
                                "channels.")],
        hint="count the weights of 1×1 256→64, 3×3 64→64, 1×1 64→256 (no biases) plus BN's γ and β.",
        what="a whole number of parameters", example="70000",
        right_text=f"Right: {{right}} = {convs:,} conv weights + {right - convs} BN parameters — 17× fewer than a "
                   "BasicBlock of two 3×3 convs at 256 channels (1,180,672).",
        wrong_text="{answer} is not it. A k×k conv from a to b channels has k·k·a·b weights (no bias before BN); each "
                   "BN has 2 parameters per channel.",
    )


# --- exercise 3: your own BasicBlock ---


class _SolutionBasicBlock(nn.Module):
    """BasicBlock from the three rules: shapes must match (rule 1), stride 2 doubles the width (rule 2), identity
    shortcut unless the shape changes, then option A: subsample and pad channels with zeros (rule 3)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.stride, self.extra = stride, out_channels - in_channels

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1 and self.extra == 0:
            return x  # rule 3: the identity
        x = x[:, :, :: self.stride, :: self.stride]  # option A: subsample ...
        return nn.functional.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))  # ... zero channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))  # H(x) = relu(F(x) + x)


def solution_basic_block() -> type[nn.Module]:
    """The reference BasicBlock (option-A shortcut, so ResNet-20 has exactly 269,722 parameters)."""
    return _SolutionBasicBlock


def _build(answer: object, *args: int) -> tuple[nn.Module | None, str]:
    try:
        module = answer(*args)  # type: ignore[operator]
    except NotImplementedError:
        return None, "not finished yet: it still raises NotImplementedError — fill in the TODOs."
    except Exception as err:  # noqa: BLE001 - any error in the learner's code becomes a verdict
        return None, f"building it with {args} raised {type(err).__name__}: {err}"
    if not isinstance(module, nn.Module):
        return None, f"calling it with {args} should give an nn.Module; got {type(module).__name__}"
    return module, ""


def _run(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, str]:
    try:
        with torch.no_grad():
            out = module(x)
    except NotImplementedError:
        return None, "not finished yet: forward still raises NotImplementedError — fill in the TODOs."
    except Exception as err:  # noqa: BLE001
        return None, f"running it on a {tuple(x.shape)} input raised {type(err).__name__}: {err}"
    if not isinstance(out, torch.Tensor):
        return None, f"forward should return a tensor; got {type(out).__name__}"
    return out, ""


def _zero_last_bn(module: nn.Module) -> bool:
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return False
    nn.init.zeros_(bns[-1].weight)
    return True


def _block_problems(answer: object) -> tuple[list[str], bool]:
    """(what is wrong, whether it is only unfinished) for a BasicBlock class ``answer(in, out, stride)``."""
    from ..nets import count_parameters
    from ..runtime import seeded

    with seeded(0):
        same, why = _build(answer, 16, 16, 1)
        if same is None:
            return [why], why.startswith("not finished")
        down, why = _build(answer, 16, 32, 2)
        if down is None:
            return [why], why.startswith("not finished")
        x = torch.relu(torch.randn(2, 16, 8, 8))
    problems = []
    for module, want, label in ((same, (2, 16, 8, 8), "stride 1, 16→16"), (down, (2, 32, 4, 4), "stride 2, 16→32")):
        out, why = _run(module.eval(), x)
        if out is None:
            return [why], why.startswith("not finished")
        if tuple(out.shape) != want:
            problems.append(f"{label}: output shape {tuple(out.shape)}, expected {want} (rule 2: stride 2 halves "
                            "the size and doubles the width)")
    expected_same = 2 * 9 * 16 * 16 + 2 * 2 * 16
    n_same = count_parameters(same)
    if n_same != expected_same:
        extra = " — a projection where the shape does not change breaks rule 3" if n_same > expected_same else ""
        problems.append(f"stride 1, 16→16: {n_same:,} parameters, expected {expected_same:,} (two 3×3 convs without "
                        f"bias, two BN){extra}")
    if not problems:
        _zero_last_bn(same)
        out, why = _run(same.eval(), x)
        if out is None:
            return [why], False
        if not torch.equal(out, x):
            problems.append("with its last BN's γ set to 0 (zero-init) the stride-1 block should return its "
                            f"(non-negative) input exactly; max difference {float((out - x).abs().max()):.3g}. "
                            "Is the shortcut the identity, and does F end with that BN before the addition?")
    return problems, False


def check_basic_block(answer: object) -> bool:
    """Exercise 3: a BasicBlock class ``MyBlock(in_channels, out_channels, stride)`` built from the three rules."""
    if missing(answer, "write MyBasicBlock in the cell above, then answer = MyBasicBlock (the class)."):
        return False
    if not isinstance(answer, type) or not issubclass(answer, nn.Module):
        return verdict(False, "", f"Pass the class itself (a subclass of nn.Module), e.g. answer = MyBasicBlock; "
                                  f"got {type(answer).__name__}.")
    problems, unfinished = _block_problems(answer)
    if unfinished:
        print("✏️  " + problems[0])
        return False
    return verdict(not problems, "Right: shapes at stride 1 and 2, no parameters in the identity shortcut, and with "
                                 "γ = 0 in its last BN the block is exactly the identity.", "; ".join(problems))


# --- exercise 4: your own ResNet-20 ---


class _SolutionResNet20(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        block = solution_basic_block()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        layers, c_in = [], 16
        for c_out in (16, 32, 64):  # rule 2: the width doubles whenever the size halves
            for j in range(3):  # n = 3 blocks per stage: 6n + 2 = 20 layers
                layers.append(block(c_in, c_out, 2 if (j == 0 and c_out != 16) else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


def solution_resnet20() -> type[nn.Module]:
    """The reference ResNet-20 (He et al. 2015, §4.2): 3×3 conv, 3 stages × 3 BasicBlocks (16/32/64), pool, linear."""
    return _SolutionResNet20


def check_resnet20(answer: object) -> bool:
    """Exercise 4: a ResNet-20 class ``MyResNet20()`` for 3×32×32 images and 10 classes, from your BasicBlock."""
    from ..nets import count_parameters
    from ..runtime import one_thread, seeded

    if missing(answer, "write MyResNet20 in the cell above, then answer = MyResNet20 (the class)."):
        return False
    if not isinstance(answer, type) or not issubclass(answer, nn.Module):
        return verdict(False, "", f"Pass the class itself (a subclass of nn.Module), e.g. answer = MyResNet20; got "
                                  f"{type(answer).__name__}.")
    with seeded(0):
        net, why = _build(answer)
        x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % 10  # any size works; 16×16 keeps it fast
    if net is None:
        print(("✏️  " if why.startswith("not finished") else "❌ ") + why)
        return False
    with one_thread():
        out, why = _run(net.eval(), x)
    if out is None:
        print(("✏️  " if why.startswith("not finished") else "❌ ") + why)
        return False
    if tuple(out.shape) != (8, 10):
        return verdict(False, "", f"a batch of 8 images should give (8, 10) logits; got {tuple(out.shape)}.")
    n = count_parameters(net)
    if n != RESNET20_PARAMS:
        hint = (" More: a projection (1×1 conv) somewhere? ResNet-20 uses option A (zero-padding) shortcuts."
                if n > RESNET20_PARAMS else " Fewer: is every stage 3 blocks, widths 16/32/64?")
        return verdict(False, "", f"{n:,} parameters, expected {RESNET20_PARAMS:,} (He et al. 2015, Table 6).{hint}")
    losses = _train_steps(net, x, y)
    if losses is None or not losses[-1] < losses[0]:
        return verdict(False, "", f"20 SGD steps on one batch should lower the loss; got {losses}.")
    return verdict(True, f"Right: (8, 10) logits, {n:,} parameters, and 20 SGD steps take the loss on one batch "
                         f"from {losses[0]:.2f} to {losses[-1]:.2f}.", "")


def _train_steps(net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 20) -> list[float] | None:
    from ..runtime import one_thread, seeded

    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = []
    net.train()
    try:
        with one_thread(), seeded(0):
            for _ in range(steps):
                loss = nn.functional.cross_entropy(net(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(round(float(loss.detach()), 3))
    except Exception as err:  # noqa: BLE001
        print(f"❌ training raised {type(err).__name__}: {err}")
        return None
    return losses if all(math.isfinite(v) for v in losses) else None
