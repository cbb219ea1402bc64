"""Exercise checkers for lesson 06 (three rules → BasicBlock, Bottleneck, ResNet-20; He et al. 2015, §3.3, §4.2).

Every truth a checker compares with is computed by running code (the package's own blocks and nets), never typed in.
A learner's class is exercised inside ``try``: whatever it raises becomes a verdict, never an exception.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import _structure as S
from ._core import brief, missing, predicted, verdict
from ._core import check_number as _check_number  # the shared number checker (not a learner-facing check_)

__all__ = [
    "check_cost_ratio_prediction", "check_stage_shape", "check_bottleneck_params", "check_basic_block",
    "check_resnet20",
    "solution_stage_shape", "solution_bottleneck_params", "solution_basic_block", "solution_resnet20",
]

RESNET20_PARAMS = 269_722  # He et al. 2015, Table 6 ("0.27M"); exact for option-A shortcuts, see tests/test_nets.py


# --- exercise 1: the output shape after a stage ---


def solution_stage_shape() -> tuple[int, int, int]:
    """ResNet-18's layer3 on a 224×224 image, measured with a forward hook: (channels, height, width)."""
    from ..lessons.lesson06_blocks import stage_table

    return stage_table("resnet18", 224).row("layer3").out_shape  # type: ignore[return-value]


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


def check_stage_shape(answer: object, table: object = None) -> bool:
    """Exercise 1 (predict before the stage table): the output shape (C, H, W) of ResNet-18's ``layer3`` for one
    224×224 image. With ``table`` (the result of ``edu.lessons.lesson06_blocks.stage_table("resnet18")``) the verdict
    quotes its row."""
    if missing(answer, "answer = (C, H, W), e.g. (64, 56, 56) — the shape after layer3."):
        return False
    values = _ints(answer)
    if values is None or len(values) not in (3, 4):
        return verdict(False, "", f"Give three whole numbers (C, H, W), e.g. (64, 56, 56); got {brief(answer)}.")
    values = values[-3:]
    try:
        right = list(table.row("layer3").out_shape)  # type: ignore[attr-defined]
        seen = f"Your table's layer3 row says {tuple(right)}. "
    except (AttributeError, TypeError, ValueError):
        right, seen = list(solution_stage_shape()), ""
    if values == right:
        return verdict(True, f"Right: {tuple(right)}. {seen}224 → 112 (conv1, stride 2) → 56 (max pool) → 56 "
                             "(layer1) → 28 (layer2) → 14 (layer3); the width doubles at each halving: 64, 128, 256.",
                       "")
    hints = []
    if values[0] != right[0]:
        hints.append(f"channels: each stride-2 stage doubles the width (rule 2): 64 → 128 → {right[0]}")
    if values[1:] != right[1:]:
        hints.append(f"size: conv1 and the max pool halve 224 twice (56), then layer2 and layer3 halve it again "
                     f"({right[1]})")
    return verdict(False, "", seen + "Not quite — " + "; ".join(hints) + ".")


_RATIOS = ("under 4", "4 to 10", "over 10")


def check_cost_ratio_prediction(prediction: object, comparison: object) -> bool:
    """Before the block comparison: at 256 channels in and out, how many times fewer multiply-adds does a
    Bottleneck (1×1 to 64, 3×3 at 64, 1×1 back to 256) need than a BasicBlock (two 3×3 at 256)?
    One of "under 4", "4 to 10", "over 10"; checked against ``edu.lessons.lesson06_blocks.compare_blocks(...)``."""
    try:
        basic, bottle = comparison.cost("BasicBlock"), comparison.cost("Bottleneck")  # type: ignore[attr-defined]
        ratio = basic.flops / bottle.flops
    except (AttributeError, TypeError, ValueError, ZeroDivisionError):
        print("❌ Pass the result of edu.lessons.lesson06_blocks.compare_blocks(...) as the second argument.")
        return False
    side = _RATIOS[0] if ratio < 4 else _RATIOS[1] if ratio <= 10 else _RATIOS[2]
    return predicted(
        prediction, side, _RATIOS,
        f"BasicBlock {basic.flops / 1e9:.2f} GFLOPs, Bottleneck {bottle.flops / 1e9:.2f}: {ratio:.1f}× fewer",
        "A 3×3 conv costs 9·C² per pixel: at 256 channels 9·256² twice; the bottleneck runs its 3×3 at 64 channels "
        "(16× cheaper) and adds two 1×1 convs of 256·64 each. Note the comparison: the same 256-channel input and "
        "output. He et al. 2015, Fig. 5 compares differently (see below).",
    )


# --- exercise 2: the parameters of a bottleneck ---


def solution_bottleneck_params() -> int:
    """Bottleneck(256 → 64 → 256), identity shortcut: 1×1·256·64 + 3×3·64·64 + 1×1·64·256 + BN (2 per channel)."""
    from ..nets import Bottleneck, count_parameters

    return count_parameters(Bottleneck(256, 64))  # downsample=None: the identity shortcut


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
                   "BasicBlock of two 3×3 convs at 256 channels (1,180,672). He et al. 2015, Fig. 5 pairs it instead "
                   "with a 64-channel BasicBlock of similar cost: 73,728 vs 69,632 conv weights.",
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


_SAME_PARAMS = 2 * 9 * 16 * 16 + 2 * 2 * 16  # two 3×3 convs 16→16 without bias, two BN (γ, β)
_DOWN_PARAMS = {"A": 9 * 16 * 32 + 9 * 32 * 32 + 2 * 2 * 32}  # 16→32 at stride 2, option A: a free shortcut
_DOWN_PARAMS["B"] = _DOWN_PARAMS["A"] + 16 * 32 + 2 * 32  # option B: a 1×1 projection + BN
REF_2016 = ("He et al. 2016, Identity Mappings, Table 2: on CIFAR-10, ResNet-110 with the ReLU before the addition "
            "had 7.84 % test error, the original 6.61 %")


def _relu_placement(out: torch.Tensor, x: torch.Tensor) -> str:
    """What a stride-1 block returned with F(x) = −1 everywhere (its last BN: γ = 0, β = −1), as a sentence."""
    if S.same(out, torch.relu(x - 1)):
        return ""
    if S.same(out, torch.relu(x)):
        return ("a ReLU on F before the addition (relu(relu(F(x)) + x)): with F(x) = −1 the block returned relu(x) "
                f"instead of relu(x − 1). F must end with its BN, the ReLU comes only after ⊕ ({REF_2016})")
    if S.same(out, x):
        return ("the ReLU sits before the addition (relu(F(x)) + x) and none after it: with F(x) = −1 the block "
                f"returned x instead of relu(x − 1) ({REF_2016})")
    if S.same(out, x - 1):
        return ("no ReLU after the addition: with F(x) = −1 the block returned x − 1, with negative values; "
                "a BasicBlock returns relu(F(x) + x) (He et al. 2015, Fig. 2)")
    if not out.any():
        return ("nothing of x comes through: with F(x) = −1 the block returned zeros everywhere. Is there a shortcut "
                "(a plain block has none), and does the addition come after F's last BN?")
    return ("with F(x) = −1 (last BN: γ = 0, β = −1) the stride-1 block should return relu(x − 1) exactly; max "
            f"difference {float((out - torch.relu(x - 1)).abs().max()):.3g}. Is the shortcut exactly x?")


def _option_a(out: torch.Tensor, x: torch.Tensor) -> bool:
    """Whether ``out`` is relu(x[:, :, ::2, ::2]) in some 16 consecutive channels and zero in the others."""
    sub = torch.relu(x[:, :, ::2, ::2])
    c = sub.shape[1]
    for k in range(out.shape[1] - c + 1):
        rest = torch.cat([out[:, :k], out[:, k + c:]], 1)
        if S.same(out[:, k:k + c], sub) and not rest.any():
            return True
    return False


def _block_problems(answer: object) -> tuple[list[str], bool]:
    """(what is wrong, whether it is only unfinished) for a BasicBlock class ``answer(in, out, stride)``."""
    from ..nets import count_parameters
    from ..runtime import seeded

    with seeded(0):
        same, why = S.build(answer, 16, 16, 1)
        down, why2 = S.build(answer, 16, 32, 2) if same is not None else (None, "")
        x = torch.randn(2, 16, 8, 8)  # negative values too: a ReLU in the wrong place shows
    if same is None or down is None:
        why = why or why2
        return [why], why.startswith(S.UNFINISHED)
    traced = {}
    for module, want, label in ((same, (2, 16, 8, 8), "stride 1, 16→16"), (down, (2, 32, 4, 4), "stride 2, 16→32")):
        out, calls, why = S.trace(module, x)
        if out is None:
            return [why], why.startswith(S.UNFINISHED)
        if tuple(out.shape) != want:
            return [f"{label}: output shape {tuple(out.shape)}, expected {want} (rule 2: stride 2 halves the size "
                    "and doubles the width)"], False
        traced[label] = [c for c in calls if c.is_conv3x3], calls
    (convs, calls), (dconvs, dcalls) = traced["stride 1, 16→16"], traced["stride 2, 16→32"]
    if len(convs) != 2 or len(dconvs) != 2:
        return [f"F should be two 3×3 convolutions (conv-BN-ReLU-conv-BN); the block ran {len(convs)}"], False
    if any(c.module.bias is not None for c in convs):
        return ["a conv with a bias right before a BN: BN subtracts the mean, so the bias has no effect (BN's β "
                "plays its role); use bias=False, as the paper's 0.27M parameters assume"], False
    n_same, n_down = count_parameters(same), count_parameters(down)
    if n_same != _SAME_PARAMS:
        extra = (" — parameters on a shortcut whose shape does not change: rule 3 says the identity"
                 if n_same > _SAME_PARAMS else "")
        return [f"stride 1, 16→16: {n_same:,} parameters, expected {_SAME_PARAMS:,} (two 3×3 convs without bias, "
                f"two BN){extra}"], False
    if dconvs[0].stride != 2:
        where = "the second 3×3 conv" if dconvs[1].stride == 2 else "no 3×3 conv"
        return [f"at stride 2 the stride sits on {where}: the first conv must halve the size (conv3×3, stride 2), "
                "else it runs at full resolution with the doubled width — twice the multiply-adds for the same "
                "output (He et al. 2015, §3.3; torchvision's BasicBlock)"], False
    if n_down not in _DOWN_PARAMS.values():
        return [f"stride 2, 16→32: {n_down:,} parameters, expected {_DOWN_PARAMS['A']:,} with option A (subsample, "
                f"zero channels) or {_DOWN_PARAMS['B']:,} with option B (1×1 conv, stride 2, no bias, + BN)"], False
    last, dlast = S.bn_after(calls, convs[1]), S.bn_after(dcalls, dconvs[1])
    if last is None or dlast is None:
        return ["F must end with a BN right after its second conv (conv-BN-ReLU-conv-BN), before the addition"], False
    S.set_bn(last, 0.0, -1.0)  # F(x) = −1 everywhere: shows where the ReLUs and the shortcut are
    out, why = S.run(same, x)
    if out is None:
        return [why], False
    placement = _relu_placement(out, x)
    if placement:
        return [placement], False
    S.set_bn(dlast, 0.0, 0.0)  # F(x) = 0: the stride-2 block returns relu(shortcut(x))
    out, why = S.run(down, x)
    if out is None:
        return [why], False
    if n_down == _DOWN_PARAMS["A"] and not _option_a(out, x):
        return ["stride 2 with option A: with F(x) = 0 the block should return the subsampled input "
                "x[:, :, ::2, ::2] in 16 of its 32 channels and zeros in the other 16"], False
    if not out.any():
        return ["stride 2: with F(x) = 0 the block returns zeros — its shortcut carries nothing"], False
    return [], False


def check_basic_block(answer: object) -> bool:
    """Exercise 3: a BasicBlock class ``MyBlock(in_channels, out_channels, stride)`` built from the three rules.

    Judged by its structure: shapes at stride 1 and 2, parameters (no bias before BN, no projection where the shape
    stays, option A or B where it changes), the stride on the first conv, and — with F set to −1 through its last
    BN — the identity shortcut and the one ReLU after ⊕ (the place He et al. 2016 found best)."""
    if missing(answer, "write MyBasicBlock in the cell above, then answer = MyBasicBlock (the class)."):
        return False
    if wrong := S.not_a_class(answer, "MyBasicBlock"):
        return verdict(False, "", wrong)
    problems, unfinished = _block_problems(answer)
    if unfinished:
        print("✏️  " + problems[0])
        return False
    return verdict(not problems, "Right: shapes at stride 1 and 2, no parameters on the identity shortcut, the "
                                 "stride on the first conv, and with F(x) = −1 the block returns relu(x − 1): the "
                                 "shortcut is exactly x and the only ReLU comes after ⊕.", "; ".join(problems))


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


RESNET20_OPTION_B = 272_474  # the same net with 1×1 projections (+ BN) where the shape changes: accepted too
# The 19 3×3 convs of ResNet-20 on a 32×32 image, in call order: (in channels, out channels, output size).
_RESNET20_CONVS = [(3, 16, 32)] + [(16, 16, 32)] * 6 + [(16, 32, 16)] + [(32, 32, 16)] * 5 + [(32, 64, 8)] + \
    [(64, 64, 8)] * 5


def _where(i: int) -> str:
    """Conv number ``i`` (0 = the stem) as 'stage s, block j, conv k'."""
    b = (i - 1) // 2
    return f"stage {b // 3 + 1}, block {b % 3 + 1}, conv {(i - 1) % 2 + 1}"


def _layout_problem(calls: list[S.Call]) -> str:
    """What is wrong with the layout of a ResNet-20 (stem, stages, strides, pooling), from its traced calls."""
    convs = [c for c in calls if c.is_conv3x3]
    if any(isinstance(c.module, nn.MaxPool2d) for c in calls) or (len(convs) > 1 and convs[1].input.shape[-1] != 32):
        return ("stage 1 should see the whole 32×32 map: the CIFAR ResNet's stem is one 3×3 conv at stride 1 with "
                "no max pool (He et al. 2015, §4.2; the max pool belongs to the ImageNet ResNets)")
    if len(convs) != len(_RESNET20_CONVS):
        return (f"ResNet-20 has 19 3×3 convs (1 stem + 3 stages × 3 blocks × 2); yours ran {len(convs)}: is every "
                "stage 3 blocks of 2 convs?")
    got = [(c.module.in_channels, c.module.out_channels, c.out_shape[-1]) for c in convs]
    if [g[:2] for g in got] != [w[:2] for w in _RESNET20_CONVS]:
        i = next(i for i, (g, w) in enumerate(zip(got, _RESNET20_CONVS)) if g[:2] != w[:2])
        return (f"{_where(i) if i else 'the stem'} maps {got[i][0]}→{got[i][1]} channels, expected "
                f"{_RESNET20_CONVS[i][0]}→{_RESNET20_CONVS[i][1]}: the widths are 16, 32, 64, doubling in the first "
                "block of stages 2 and 3")
    if all(g[2] == 32 for g in got):
        return ("the size never halves: every conv runs at 32×32. The first block of stages 2 and 3 has stride 2 "
                "(32 → 16 → 8, He et al. 2015, §4.2)")
    if got != _RESNET20_CONVS:
        i = next(i for i, (g, w) in enumerate(zip(got, _RESNET20_CONVS)) if g[2] != w[2])
        halves = [_where(j) for j in range(1, len(got)) if got[j][2] < got[j - 1][2] or (j == 1 and got[j][2] < 32)]
        return (f"the sizes go wrong at {_where(i)}: {got[i][2]}×{got[i][2]}, expected {_RESNET20_CONVS[i][2]}×"
                f"{_RESNET20_CONVS[i][2]}. Yours halves at {'; '.join(halves) or 'no conv'}; the stride-2 convs are "
                "conv 1 of block 1 in stages 2 and 3 (32 → 16 → 8)")
    linear = [c for c in calls if isinstance(c.module, nn.Linear)]
    if not linear or linear[-1].input.shape[-1] != 64:
        n = linear[-1].input.shape[-1] if linear else 0
        flat = " — the 64×8×8 map flattened instead of pooled" if n == 64 * 8 * 8 else ""
        return (f"the classifier sees {n:,} features{flat}; ResNet-20 averages each of the 64 final maps "
                "(global average pooling) and ends with one Linear(64, 10) (He et al. 2015, §4.2)")
    if float(convs[1].input.min()) < 0:
        return ("stage 1's input has negative values: the stem should be conv-BN-ReLU (no ReLU after the stem's BN?)")
    return ""


def _shortcut_problem(net: nn.Module, calls: list[S.Call], x: torch.Tensor) -> str:
    """Set every block's F to +1 (its last BN: γ = 0, β = 1): a block with a shortcut returns 1 + x, a plain block
    returns the constant 1. Name the blocks that return the constant."""
    convs = [c for c in calls if c.is_conv3x3]
    for b in range(9):
        bn = S.bn_after(calls, convs[2 + 2 * b])
        if bn is None:
            return f"stage {b // 3 + 1}, block {b % 3 + 1}: F should end with a BN after its second conv"
        S.set_bn(bn, 0.0, 1.0)
    out, calls, why = S.trace(net, x)
    if out is None:
        return why
    convs = [c for c in calls if c.is_conv3x3]
    linear = [c for c in calls if isinstance(c.module, nn.Linear)]
    outputs = [convs[1 + 2 * b].input for b in range(1, 9)] + [linear[-1].input]  # block b's output, pooled at the end
    plain = [b for b in range(9) if bool((outputs[b] == 1).all())]
    if len(plain) == 9:
        return ("no block carries a shortcut: with F(x) = 1 in every block each returns the constant 1, whatever "
                "its input — this is a plain-20. Each block returns relu(F(x) + x)")
    if plain:
        names = ", ".join(f"stage {b // 3 + 1} block {b % 3 + 1}" for b in plain)
        return (f"no shortcut in {names}: with F(x) = 1 it returns the constant 1 and its input is lost. Every "
                "block returns relu(F(x) + shortcut(x))")
    S.set_bn(S.bn_after(calls, convs[2]), 0.0, -1.0)  # the first block with F(x) = −1: where is its ReLU?
    out, calls, why = S.trace(net, x)
    if out is None:
        return why
    convs = [c for c in calls if c.is_conv3x3]
    placement = _relu_placement(convs[3].input, convs[1].input)
    return f"stage 1, block 1: {placement}" if placement else ""


def check_resnet20(answer: object) -> bool:
    """Exercise 4: a ResNet-20 class ``MyResNet20()`` for 3×32×32 images and 10 classes, from your BasicBlock.

    Judged by its structure on a 32×32 batch: the 19 3×3 convs with their widths and sizes (no max pool, stride 2
    in the first block of stages 2 and 3), global average pooling into Linear(64, 10), the stem's ReLU, the
    parameters (269,722 with option A, 272,474 with option B), a shortcut in every block (F set to +1) and
    the first block's ReLU after ⊕ (F set to −1)."""
    from ..nets import count_parameters
    from ..runtime import one_thread, seeded

    if missing(answer, "write MyResNet20 in the cell above, then answer = MyResNet20 (the class)."):
        return False
    if wrong := S.not_a_class(answer, "MyResNet20"):
        return verdict(False, "", wrong)
    with seeded(0):
        net, why = S.build(answer)
        x = torch.randn(4, 3, 32, 32)
    if net is None:
        print(("✏️  " if why.startswith(S.UNFINISHED) else "❌ ") + why)
        return False
    with one_thread():
        out, calls, why = S.trace(net, x)
        if out is None:
            print(("✏️  " if why.startswith(S.UNFINISHED) else "❌ ") + why)
            return False
        if tuple(out.shape) != (4, 10):
            return verdict(False, "", f"a batch of 4 images should give (4, 10) logits; got {tuple(out.shape)}.")
        problem = _layout_problem(calls)
        n = count_parameters(net)
        if not problem and n not in (RESNET20_PARAMS, RESNET20_OPTION_B):
            hint = (" More: a projection (1×1 conv) where the shape stays, or biases before BN?"
                    if n > RESNET20_PARAMS else " Fewer: a BN missing?")
            problem = (f"{n:,} parameters, expected {RESNET20_PARAMS:,} (He et al. 2015, Table 6, option A) or "
                       f"{RESNET20_OPTION_B:,} (option B).{hint}")
        problem = problem or _shortcut_problem(net, calls, x)
    if problem:
        return verdict(False, "", problem)
    with seeded(0):
        net, _ = S.build(answer)  # a fresh one: the shortcut test changed some BNs
        x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % 10
    losses = _train_steps(net, x, y) if net is not None else None
    if losses is None or not losses[-1] < losses[0]:
        return verdict(False, "", f"20 SGD steps on one batch should lower the loss; got {losses}.")
    option = "A" if n == RESNET20_PARAMS else "B"
    return verdict(True, f"Right: 32 → 16 → 8 with widths 16/32/64, pooled into Linear(64, 10), a shortcut in every "
                         f"block and its ReLU after ⊕, {n:,} parameters (option {option}), and 20 SGD steps take the "
                         f"loss on one batch from {losses[0]:.2f} to {losses[-1]:.2f}.", "")


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
