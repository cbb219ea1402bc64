"""Exercise checkers for lesson 07 (the family of residual blocks; He et al. 2016, Hu et al. 2018, Wang et al. 2020).

Every truth a checker compares with is computed by running the package's own modules, never typed in.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _structure as S
from ._core import brief, missing, predicted, verdict
from ._core import check_number as _check_number  # the shared number checker (not a learner-facing check_)

__all__ = [
    "check_cost_prediction", "check_preact_prediction",
    "check_se_params", "check_eca_kernel", "check_best_shortcut", "check_preact_block",
    "solution_se_params", "solution_eca_kernel", "solution_best_shortcut", "solution_preact_block",
]


# --- predictions recorded before the experiments, checked against the learner's own run ---


def check_cost_prediction(prediction: object, comparison: object) -> bool:
    """Before the comparison: in the same small net, which block costs more FLOPs per image, MobileNetV2's
    ``"inverted"`` residual (thin → 6× wide → thin, depthwise 3×3) or the ``"bottleneck"`` (wide → thin → wide)?"""
    try:
        inverted, bottleneck = comparison.row("inverted"), comparison.row("bottleneck")  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        print("❌ Pass the result of edu.lessons.lesson07_variants.compare(...) (with 'inverted' and 'bottleneck') "
              "as the second "
              "argument.")
        return False
    side = "inverted" if inverted.flops > bottleneck.flops else "bottleneck"
    return predicted(
        prediction, side, ("inverted", "bottleneck"),
        f"inverted {inverted.flops / 1e6:.2f} MFLOPs per image, bottleneck {bottleneck.flops / 1e6:.2f}",
        "The inverted block does its 1×1 convs at 6× the block's width, where the bottleneck works at ¼ of it; "
        "the depthwise 3×3 is cheap, but the two 1×1 convs at the wide end are not (Sandler et al. 2018, Table 1 "
        "counts them the same way).",
    )


def check_preact_prediction(prediction: object, study: object) -> bool:
    """Before the depth study: after the same few steps at lr 0.1, which ResNet-110 reaches the lower training
    loss, the ``"post-activation"`` original or the ``"pre-activation"`` one?"""
    try:
        post, pre = study.final_loss("post-activation"), study.final_loss("pre-activation")  # type: ignore[attr-defined]
        steps = study.results["pre-activation"].steps  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError, KeyError):
        print("❌ Pass the result of edu.lessons.lesson07_variants.preact_study(...) as the second argument.")
        return False
    side = "pre-activation" if pre < post else "post-activation"
    return predicted(
        prediction, side, ("post-activation", "pre-activation"),
        f"after {steps} steps the training loss is {pre:.3f} (pre-activation) vs {post:.3f} (post-activation)",
        "With nothing after ⊕, the stream of a pre-activation net is x_L = x_l + Σ F(x_i) exactly (He et al. 2016, "
        "Eq. 4); the original's ReLU after each ⊕ and its growing stream (lesson 03b) make the first steps rough.",
    )


def solution_se_params() -> int:
    """The parameters one SE module adds at C = 256, r = 16: FC 256→16 and FC 16→256, both with biases."""
    from ..lessons.lesson07_variants import SqueezeExcitation
    from ..nets import count_parameters

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
    from ..lessons.lesson07_variants import eca_kernel_size

    return eca_kernel_size(512)


def check_eca_kernel(answer: object) -> bool:
    """Exercise 2: ECA's 1-D kernel size k for C = 512 channels (γ = 2, b = 1; Wang et al. 2020, Eq. 12)."""
    return _check_number(
        answer, solution_eca_kernel(),
        [(lambda k: k % 2 == 0, "{answer} is even; the kernel must be odd so that it is centred on a channel.")],
        hint="k = |log₂(C)/γ + b/γ| rounded to the nearest odd number, with γ = 2, b = 1.",
        what="a whole number (the kernel size)", example="3",
        right_text="Right: k = {right}: log₂ 512 = 9, (9 + 1)/2 = 5, odd, as in the second stage of the authors' "
                   "released ECA-Net50 (k = 3, 5, 5, 7 per stage): ECA-ResNet-50 adds only 80 parameters in total.",
        wrong_text="{answer} is not it: compute (log₂ 512 + 1) / 2 and round to an odd number.",
    )


_SHORTCUTS = ("identity", "scaled", "gated", "conv1x1")


def solution_best_shortcut() -> str:
    """Among h(x) = x, 0.5x, (1 − g(x))x and Wx, the identity trains best (He et al. 2016, Table 1)."""
    return "identity"


def check_best_shortcut(answer: object, study: object = None) -> bool:
    """Exercise 3 (predict, then run): which shortcut gives the lowest training loss? With ``study`` (the result of
    ``edu.lessons.lesson07_variants.shortcut_study``) the verdict quotes your own run."""
    if missing(answer, f'answer = one of {", ".join(map(repr, _SHORTCUTS))}.'):
        return False
    given = answer.strip().lower() if isinstance(answer, str) else brief(answer)
    if given not in _SHORTCUTS:
        return verdict(False, "", f'Answer one of {", ".join(map(repr, _SHORTCUTS))}; got {brief(answer)}.')
    run = ""
    try:
        losses = {k: study.final_loss(k) for k in study.results}  # type: ignore[attr-defined]
        run = "Your run: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(losses.items(), key=lambda kv: kv[1])) + ". "
        best = min(losses, key=losses.get)  # type: ignore[arg-type]
    except (AttributeError, TypeError, ValueError):
        best = solution_best_shortcut()
    if given == best != "identity":
        return verdict(True, f"Right for this run: {run}(Too few steps or blocks to separate them? He et al. 2016, "
                             "Table 1 found the identity best at 110 layers.)", "")
    return verdict(
        given == best,
        f"Right: the pure identity. {run}Every other shortcut multiplies the signal (and the gradient) on the "
        "shortcut path by something at each of the blocks, so across many blocks it shrinks or distorts "
        "exponentially; only h(x) = x lets x_L = x_l + ΣF hold exactly (He et al. 2016, Eq. 4 and Table 1).",
        f"{run}{given!r} looks flexible, but the gate, the scale or the 1×1 conv sits on the shortcut of every block: "
        "over L blocks their product multiplies the signal from early layers, e.g. 0.5^L for the scaled shortcut (He "
        "et al. 2016, Eq. 7).",
    )


# --- exercise 4: your own pre-activation block ---


class _SolutionPreActBlock(nn.Module):
    """H(x) = F(x) + shortcut(x) with F = BN-ReLU-conv3×3(stride)-BN-ReLU-conv3×3 and nothing after ⊕ (He et al.
    2016, Fig. 4(e)); option A (subsample, zero channels) where the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.stride, self.extra = stride, out_channels - in_channels

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1 and self.extra == 0:
            return x  # the identity: x itself, not its BN-ReLU
        x = x[:, :, :: self.stride, :: self.stride]  # option A
        return nn.functional.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(torch.relu(self.bn1(x)))
        out = self.conv2(torch.relu(self.bn2(out)))
        return out + self.shortcut(x)  # x_{l+1} = x_l + F(x_l): nothing after the addition


def solution_preact_block() -> type[nn.Module]:
    """The reference pre-activation block (option-A shortcut where the shape changes)."""
    return _SolutionPreActBlock


_PRE_SAME = 2 * 9 * 16 * 16 + 2 * 2 * 16  # two 3×3 convs 16→16, BN on 16 and on 16 channels
_PRE_DOWN = 9 * 16 * 32 + 9 * 32 * 32 + 2 * 16 + 2 * 32  # 16→32 at stride 2: BN on 16 (input) and 32
_PRE_DOWN_OK = {_PRE_DOWN: "option A", _PRE_DOWN + 16 * 32: "a 1×1 projection",
                _PRE_DOWN + 16 * 32 + 2 * 32: "a 1×1 projection with BN"}
_FIG4 = "He et al. 2016, Identity Mappings, Fig. 4(e)"


def _preact_problems(answer: object) -> tuple[str, bool]:
    """(what is wrong, whether it is only unfinished) for a pre-activation block class ``answer(in, out, stride)``."""
    from ..nets import count_parameters
    from ..runtime import seeded

    with seeded(0):
        same, why = S.build(answer, 16, 16, 1)
        down, why2 = S.build(answer, 16, 32, 2) if same is not None else (None, "")
        x = torch.randn(2, 16, 8, 8)  # negative values too
    if same is None or down is None:
        why = why or why2
        return why, why.startswith(S.UNFINISHED)
    traced = {}
    for module, want, label in ((same, (2, 16, 8, 8), "stride 1, 16→16"), (down, (2, 32, 4, 4), "stride 2, 16→32")):
        out, calls, why = S.trace(module, x)
        if out is None:
            return why, why.startswith(S.UNFINISHED)
        if tuple(out.shape) != want:
            return f"{label}: output shape {tuple(out.shape)}, expected {want}", False
        traced[label] = calls
    calls = traced["stride 1, 16→16"]
    convs = [c for c in calls if c.is_conv3x3]
    if len(convs) != 2:
        return f"F should be two 3×3 convolutions (BN-ReLU-conv-BN-ReLU-conv); the block ran {len(convs)}", False
    order = [("BN" if isinstance(c.module, nn.BatchNorm2d) else "conv") for c in calls
             if isinstance(c.module, (nn.BatchNorm2d, nn.Conv2d))]
    if order != ["BN", "conv", "BN", "conv"]:
        original = " — the original (post-activation) order" if order[:2] == ["conv", "BN"] else ""
        return (f"the layers run in the order {'-'.join(order)}{original}; pre-activation puts BN (and ReLU) in "
                f"front of each conv: BN-ReLU-conv-BN-ReLU-conv ({_FIG4})"), False
    pools = [type(c.module).__name__ for c in calls if isinstance(c.module, S.POOLS)]
    if pools:
        return (f"the stride-1 block runs a pooling layer ({', '.join(pools)}): a pre-activation block has none. F is "
                f"BN-ReLU-conv-BN-ReLU-conv and, where the shape stays, the shortcut is x itself ({_FIG4})"), False
    bns = [c for c in calls if isinstance(c.module, nn.BatchNorm2d)]  # the order check found two
    if not S.same(bns[0].input, x):
        return (f"the first BN does not see the block's input x: something changes x before it (a pooling, a "
                f"stride, a scale?). A pre-activation block starts with BN-ReLU on x itself ({_FIG4})"), False
    for i, conv in enumerate(convs, 1):
        if float(conv.input.min()) < 0:
            return (f"conv {i} receives negative values: a ReLU belongs between each BN and the conv after it "
                    f"(BN-ReLU-conv, {_FIG4})"), False
    n_same, n_down = count_parameters(same), count_parameters(down)
    if n_same != _PRE_SAME:
        return (f"stride 1, 16→16: {n_same:,} parameters, expected {_PRE_SAME:,} (two 3×3 convs without bias, two "
                "BN; the identity shortcut has none)"), False
    if n_down not in _PRE_DOWN_OK:
        return (f"stride 2, 16→32: {n_down:,} parameters, expected {_PRE_DOWN:,} with option A or "
                f"{_PRE_DOWN + 16 * 32:,} with a 1×1 projection (the first BN sees the 16 input channels)"), False
    first_bn = bns[0].module
    S.set_bn(first_bn, 2.0, 0.0)  # BN-ReLU(x) becomes relu(2x): tells x from its pre-activation
    with torch.no_grad():
        convs[1].module.weight.zero_()  # F(x) = 0: the block must return its shortcut alone
    out, why = S.run(same, x)
    if out is None:
        return why, False
    if S.same(out, x):
        return "", False
    if S.same(out, torch.relu(x)):
        return (f"a ReLU after the addition: with F(x) = 0 the block returned relu(x), not x. Pre-activation "
                f"leaves nothing after ⊕, so x_(l+1) = x_l + F(x_l) exactly ({_FIG4}, Eq. 3)"), False
    if S.same(out, torch.relu(2 * x)):
        return ("the shortcut carries BN-ReLU(x) instead of x: with F(x) = 0 the block returned its pre-activated "
                "input. Where the shape stays, the shortcut is x itself; only a projection (shape change) may take "
                "the pre-activated input"), False
    if not out.any():
        return "nothing of x comes through: with F(x) = 0 the block returned zeros. Where is the shortcut?", False
    return (f"with F(x) = 0 (its last conv zeroed) the stride-1 block should return x exactly; max difference "
            f"{float((out - x).abs().max()):.3g}. Is the shortcut x itself, and is nothing applied after ⊕?"), False


def check_preact_block(answer: object) -> bool:
    """Exercise 4: a pre-activation block class ``MyPreActBlock(in_channels, out_channels, stride)``.

    Judged by its structure: shapes at stride 1 and 2; the layer order BN-ReLU-conv-BN-ReLU-conv (hooks on every
    layer); a ReLU in front of each conv; the parameters; and, with its last conv zeroed (F(x) = 0), the block must
    return x itself — no ReLU after ⊕, no BN-ReLU on the identity shortcut."""
    if missing(answer, "write MyPreActBlock in the cell above, then answer = MyPreActBlock (the class)."):
        return False
    if wrong := S.not_a_class(answer, "MyPreActBlock"):
        return verdict(False, "", wrong)
    problem, unfinished = _preact_problems(answer)
    if unfinished:
        print("✏️  " + problem)
        return False
    return verdict(not problem, "Right: BN-ReLU-conv twice, nothing after ⊕, and with F(x) = 0 the block returns x "
                                "itself (negative values included): the path from block to block is the identity.",
                   problem)
