"""The family of residual blocks (lesson 07): every variant is H(x) = F(x) + shortcut(x) with *one* change.

=================  =====================================================  =========================================
variant            the one change                                          paper
=================  =====================================================  =========================================
``preact``         BN-ReLU *before* each conv, nothing after the ⊕          He et al. 2016, "Identity Mappings", Fig. 4
``se``             F(x) re-weighted per channel by squeeze-excitation       Hu et al. 2018, Fig. 3
``eca``            the same with a 1-D conv across channels (no FC)         Wang et al. 2020, Fig. 2
``resnext``        the 3×3 conv of the bottleneck split into 32 groups      Xie et al. 2017, Fig. 3(c)
``wide``           the 3×3 conv of the bottleneck twice as wide             Zagoruyko & Komodakis 2016; torchvision
``resnet_d``       the projection shortcut averages, then convolves        He et al. 2019, "Bag of Tricks", Fig. 2(c)
``inverted``       expand 1×1 → depthwise 3×3 → *linear* 1×1 project        Sandler et al. 2018, Fig. 3(b), Table 1
``convnext``       depthwise 7×7 → LayerNorm → MLP ×4 → layer scale         Liu et al. 2022, Fig. 4
=================  =====================================================  =========================================

Where a 50-layer (or the paper's) ImageNet configuration exists, a builder gives it with the published parameter
count: :func:`se_resnet50`, :func:`eca_resnet50`, :func:`resnext50_32x4d`, :func:`wide_resnet50_2`,
:func:`resnet50d`, :func:`mobilenet_v2`, :func:`convnext_tiny`. :func:`small_net` puts any variant into the same
small three-stage net for the lesson's comparison, :func:`preact_cifar_net` is the pre-activation twin of
:func:`resnet_edu.nets.cifar_net`, and :func:`shortcut_study_net` replaces every identity shortcut of a CIFAR ResNet
by a scaled, gated or 1×1-conv one (He et al. 2016, Table 1, Fig. 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from . import _checks
from .data import ImageData
from .gradients import GradientProfile
from .nets import (
    BasicBlock,
    Bottleneck,
    BuildingBlock,
    ResNet,
    _conv1x1,
    _conv3x3,
    _init_weights,
    _shortcut,
    cifar_net,
    count_parameters,
)
from .runtime import by_scale, one_thread, scale, seeded
from .train import FitResult

VARIANTS = ("resnet", "bottleneck", "preact", "se", "eca", "resnext", "wide", "resnet_d", "inverted", "convnext")
SHORTCUT_KINDS = ("identity", "scaled", "gated", "conv1x1")


# --------------------------------------------------------------------------------------------------------------
# Pre-activation (He et al. 2016, "Identity Mappings in Deep Residual Networks", Fig. 1(b) and Fig. 4(e))
# --------------------------------------------------------------------------------------------------------------


class PreActBlock(nn.Module):
    """H(x) = F(x) + shortcut(x) with F = BN-ReLU-conv-BN-ReLU-conv and *nothing after the addition*.

    The change from :class:`resnet_edu.nets.BasicBlock`: the ReLU after ⊕ is gone (the activations moved in front of
    the convolutions), so the shortcut path from block to block is a pure identity (He et al. 2016, Eq. 4).
    ``zero_init=True`` zeroes the last conv, so F(x) = 0 and the block is exactly the identity, for *every* x.
    ``shortcut`` is "A" (parameter-free) or "B" (1×1 projection) when the shape changes (He et al. 2015, §3.3).
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, shortcut: str = "B",
                 zero_init: bool = False) -> None:
        super().__init__()
        _check_block_args(in_channels, channels, stride)
        _checks.choice("shortcut", shortcut, ("A", "B"))
        _checks.flag("zero_init", zero_init)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = _conv3x3(in_channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3x3(channels, channels)
        self.relu = nn.ReLU()
        self.shortcut = _shortcut(in_channels, channels, stride, shortcut, batch_norm=False)
        if zero_init:
            nn.init.zeros_(self.conv2.weight)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x) = conv(ReLU(BN(conv(ReLU(BN(x))))))."""
        out = self.conv1(self.relu(self.bn1(x)))
        return self.conv2(self.relu(self.bn2(out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)  # H(x) = F(x) + x — no ReLU after the addition


def _check_block_args(in_channels: object, channels: object, stride: object) -> None:
    _checks.integer("in_channels", in_channels, low=1)
    _checks.integer("channels", channels, low=1)
    _checks.choice("stride", stride, (1, 2))


# --------------------------------------------------------------------------------------------------------------
# Channel attention on F: squeeze-and-excitation (Hu et al. 2018) and ECA (Wang et al. 2020)
# --------------------------------------------------------------------------------------------------------------


class SqueezeExcitation(nn.Module):
    """s = σ(W₂ ReLU(W₁ GAP(u))), output u·s per channel (Hu et al. 2018, Eq. 2–4; reduction r = 16, §6.1)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        _checks.integer("channels", channels, low=1)
        _checks.integer("reduction", reduction, low=1)
        hidden = max(1, channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, 1)  # a 1×1 conv on a 1×1 map is the FC layer W₁ (with bias)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u * self.gate(self.fc2(self.relu(self.fc1(self.pool(u)))))


def eca_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """ECA's adaptive kernel size k = |log₂(C)/γ + b/γ|, rounded to the nearest odd number (Wang et al. 2020, Eq. 12).
    """
    _checks.integer("channels", channels, low=1)
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


class ECA(nn.Module):
    """Efficient channel attention: a 1-D conv of size k across the pooled channels, no dimensionality reduction
    (Wang et al. 2020, §3.2, Fig. 2); k from :func:`eca_kernel_size`. It has only k parameters."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.k = eca_kernel_size(channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, self.k, padding=self.k // 2, bias=False)
        self.gate = nn.Sigmoid()

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        y = self.pool(u).flatten(1).unsqueeze(1)  # (N, 1, C): the channels as a sequence
        s = self.gate(self.conv(y)).transpose(1, 2).unsqueeze(-1)  # (N, C, 1, 1)
        return u * s


class SEBottleneck(Bottleneck):
    """A :class:`resnet_edu.nets.Bottleneck` whose F(x) is re-weighted per channel: H(x) = relu(SE(F(x)) + x)
    (Hu et al. 2018, Fig. 3, "SE-ResNet module")."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, shortcut: nn.Module | None = None,
                 reduction: int = 16) -> None:
        super().__init__(in_channels, channels, stride, shortcut)
        self.se = SqueezeExcitation(channels * self.expansion, reduction)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(super().residual(x))  # the change: F(x) · s(F(x)), before the addition


class ECABottleneck(Bottleneck):
    """A :class:`resnet_edu.nets.Bottleneck` with ECA on F(x): H(x) = relu(ECA(F(x)) + x) (Wang et al. 2020, Fig. 2).
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1, shortcut: nn.Module | None = None) -> None:
        super().__init__(in_channels, channels, stride, shortcut)
        self.eca = ECA(channels * self.expansion)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.eca(super().residual(x))  # the change: F(x) · s(F(x)) with s from a 1-D conv


# --------------------------------------------------------------------------------------------------------------
# ResNeXt (Xie et al. 2017) and Wide ResNet (Zagoruyko & Komodakis 2016): the 3×3 conv of the bottleneck
# --------------------------------------------------------------------------------------------------------------


class ResNeXtBottleneck(Bottleneck):
    """A bottleneck whose 3×3 conv is split into ``groups`` groups of ``base_width``·channels/64 channels each
    (Xie et al. 2017, Fig. 3(c), "32×4d"); the layers keep torchvision's names, so its weights load."""

    groups = 32
    base_width = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, shortcut: nn.Module | None = None,
                 groups: int | None = None, base_width: int | None = None) -> None:
        super().__init__(in_channels, channels, stride, shortcut)
        g = _checks.integer("groups", self.groups if groups is None else groups, low=1)
        w = _checks.integer("base_width", self.base_width if base_width is None else base_width, low=1)
        width = channels * w // 64 * g
        if width < g:
            raise ValueError(f"channels={channels} gives {width} channels in the 3×3 conv, fewer than its {g} groups;"
                             " use more channels, fewer groups or a larger base_width")
        self.conv1 = _conv1x1(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, padding=1, groups=g, bias=False)  # the change: g groups
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, channels * self.expansion)


class WideBottleneck(ResNeXtBottleneck):
    """A bottleneck whose 3×3 conv is twice as wide (one group, base width 128): torchvision's ``wide_resnet50_2``,
    the ImageNet form of Zagoruyko & Komodakis 2016 (§2, widening factor k = 2)."""

    groups = 1
    base_width = 128


# --------------------------------------------------------------------------------------------------------------
# ResNet-D (He et al. 2019, "Bag of Tricks", §4.1, Fig. 2(c)): the projection shortcut averages before it projects
# --------------------------------------------------------------------------------------------------------------


def resnet_d_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """ResNet-D's shortcut: a 2×2 average pool does the striding, then a stride-1 1×1 conv + BN projects, so no
    input pixel is skipped (option B's stride-2 1×1 conv ignores 3/4 of them). Identity when shapes match."""
    _check_block_args(in_channels, out_channels, stride)
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    pool = nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity()
    return nn.Sequential(pool, _conv1x1(in_channels, out_channels), nn.BatchNorm2d(out_channels))  # the change


def _deep_stem() -> nn.Sequential:
    """ResNet-C's stem (Bag of Tricks, Fig. 2(b)): three 3×3 convs (32, 32, 64 channels) instead of one 7×7."""
    return nn.Sequential(_conv3x3(3, 32, 2), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
                         _conv3x3(32, 32), nn.BatchNorm2d(32), nn.ReLU(inplace=True), _conv3x3(32, 64))


# --------------------------------------------------------------------------------------------------------------
# Inverted residual (MobileNetV2, Sandler et al. 2018) and the ConvNeXt block (Liu et al. 2022)
# --------------------------------------------------------------------------------------------------------------


class InvertedResidual(nn.Module):
    """H(x) = F(x) + x with F = 1×1 expand (×t) → depthwise 3×3 → *linear* 1×1 project (Sandler et al. 2018,
    Fig. 3(b), Table 1): thin → wide → thin, the bottleneck inverted, and no ReLU on the thin output.

    As in the paper, a block that changes the shape has *no* shortcut (``shortcut is None``).
    ``zero_init=True`` zeroes the last BN, so a block with a shortcut starts as the exact identity.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expand_ratio: int = 6,
                 zero_init: bool = False) -> None:
        super().__init__()
        _check_block_args(in_channels, out_channels, stride)
        _checks.integer("expand_ratio", expand_ratio, low=1)
        _checks.flag("zero_init", zero_init)
        hidden = in_channels * expand_ratio
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers += [_conv1x1(in_channels, hidden), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, padding=1, groups=hidden, bias=False),  # depthwise
                   nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
                   _conv1x1(hidden, out_channels), nn.BatchNorm2d(out_channels)]  # linear bottleneck: no ReLU
        self.conv = nn.Sequential(*layers)
        self.shortcut = nn.Identity() if stride == 1 and in_channels == out_channels else None
        if zero_init:
            nn.init.zeros_(layers[-1].weight)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:
            return self.residual(x)  # the shape changes: no shortcut in MobileNetV2
        return self.residual(x) + self.shortcut(x)  # H(x) = F(x) + x


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) map (ConvNeXt's "LN", Liu et al. 2022, §2.5)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """H(x) = x + γ·F(x) with F = depthwise 7×7 → LN → Linear 4C → GELU → Linear C (Liu et al. 2022, Fig. 4);
    γ is a learned per-channel layer scale initialised to ``layer_scale`` (1e-6 in the paper, §2.6, so the block
    starts *almost* as the identity; ``layer_scale=0`` makes it exact). The shape never changes."""

    def __init__(self, dim: int, layer_scale: float = 1e-6) -> None:
        super().__init__()
        _checks.integer("dim", dim, low=1)
        _checks.number("layer_scale", layer_scale)
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))
        self.shortcut = nn.Identity()

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dwconv(x).permute(0, 2, 3, 1)  # (N, H, W, C): LN and the MLP act per pixel
        out = self.pwconv2(self.act(self.pwconv1(self.norm(out))))
        return (self.gamma * out).permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)  # H(x) = F(x) + x, nothing after


def _convnext_downsample(in_channels: int, out_channels: int) -> nn.Sequential:
    """ConvNeXt's separate downsampling layer between stages: LN then a 2×2 stride-2 conv (Liu et al. 2022, §2.5)."""
    return nn.Sequential(LayerNorm2d(in_channels, eps=1e-6), nn.Conv2d(in_channels, out_channels, 2, 2))


# --------------------------------------------------------------------------------------------------------------
# ImageNet configurations with published parameter counts
# --------------------------------------------------------------------------------------------------------------


def se_resnet50(num_classes: int = 1000) -> ResNet:
    """SE-ResNet-50, r = 16 (Hu et al. 2018): 28,088,024 parameters ("28.1M" in the paper's reduction-ratio
    ablation; ~2.5M more than ResNet-50)."""
    return ResNet(SEBottleneck, (3, 4, 6, 3), num_classes)


def eca_resnet50(num_classes: int = 1000) -> ResNet:
    """ECA-ResNet-50 (Wang et al. 2020): ResNet-50 plus 86 weights of 1-D convs (k from Eq. 12 on each block's output
    channels: 5, 5, 5, 7 per stage), 25,557,118 in all. The paper reports "80 vs. 24.37M" (abstract): a handful of
    extra weights on a ResNet-50 it counts as 24.37M, a different convention from torchvision's 25,557,032."""
    return ResNet(ECABottleneck, (3, 4, 6, 3), num_classes)


def resnext50_32x4d(num_classes: int = 1000) -> ResNet:
    """ResNeXt-50 (32×4d) (Xie et al. 2017, Table 1): 25,028,904 parameters, as torchvision's."""
    return ResNet(ResNeXtBottleneck, (3, 4, 6, 3), num_classes)


def wide_resnet50_2(num_classes: int = 1000) -> ResNet:
    """Wide ResNet-50-2 (torchvision): 68,883,240 parameters."""
    return ResNet(WideBottleneck, (3, 4, 6, 3), num_classes)


def resnet50d(num_classes: int = 1000) -> ResNet:
    """ResNet-50-D (He et al. 2019, Fig. 2: ResNet-B's strides, ResNet-C's deep stem, ResNet-D's shortcut):
    25,576,264 parameters ("25M" in Table 5; the same layout as timm's ``resnet50d``)."""
    model = ResNet(Bottleneck, (3, 4, 6, 3), num_classes)
    model.conv1 = _deep_stem()  # ResNet-C; bn1/relu/maxpool of ResNet follow it unchanged
    for block in model.modules():
        if isinstance(block, Bottleneck) and not isinstance(block.downsample, nn.Identity):
            conv = block.downsample[0]
            block.downsample = resnet_d_shortcut(conv.in_channels, conv.out_channels, conv.stride[0])
    _init_weights(model, zero_init_residual=False)
    return model


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018, Table 2), laid out as torchvision's: 3,504,872 parameters at width 1.0."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))  # (expansion t, channels c, repeats n, first stride s)

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        _checks.integer("num_classes", num_classes, low=1)
        layers: list[nn.Module] = [_conv_bn_relu6(3, 32, 3, 2)]
        c_in = 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        layers.append(_conv_bn_relu6(c_in, 1280, 1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def _conv_bn_relu6(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU6(inplace=True))


def mobilenet_v2(num_classes: int = 1000) -> MobileNetV2:
    """MobileNetV2 (Sandler et al. 2018): 3,504,872 parameters, as torchvision's ``mobilenet_v2``."""
    return MobileNetV2(num_classes)


class ConvNeXt(nn.Module):
    """ConvNeXt (Liu et al. 2022, §2): a 4×4 "patchify" stem, four stages of :class:`ConvNeXtBlock` with separate
    downsampling layers, global average pool, LN, linear."""

    def __init__(self, depths: tuple[int, ...] = (3, 3, 9, 3), dims: tuple[int, ...] = (96, 192, 384, 768),
                 num_classes: int = 1000) -> None:
        super().__init__()
        _checks.integer("num_classes", num_classes, low=1)
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6))
        stages = []
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            down = [_convnext_downsample(dims[i - 1], dim)] if i else []
            stages.append(nn.Sequential(*down, *(ConvNeXtBlock(dim) for _ in range(depth))))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x)).mean((2, 3))
        return self.head(self.norm(x))


def convnext_tiny(num_classes: int = 1000) -> ConvNeXt:
    """ConvNeXt-T (Liu et al. 2022, §3: C = (96, 192, 384, 768), B = (3, 3, 9, 3)): 28,589,128 parameters,
    as torchvision's ``convnext_tiny``."""
    return ConvNeXt((3, 3, 9, 3), (96, 192, 384, 768), num_classes)


# --------------------------------------------------------------------------------------------------------------
# Any variant in one small net (the lesson's comparison and diagrams)
# --------------------------------------------------------------------------------------------------------------


def block(variant: str, in_channels: int, out_channels: int, stride: int = 1) -> nn.Module:
    """One block of ``variant`` (see :data:`VARIANTS`) mapping ``in_channels`` → ``out_channels`` at ``stride``.

    Bottleneck variants use ``out_channels // 4`` inner channels (×2 for ResNeXt/Wide's 3×3 conv, in 4 groups for
    ResNeXt, the 32×4d ratios scaled down); shortcuts are option B (1×1 projection) where the shape changes, except
    for ResNet-D (average pool + 1×1) and the inverted residual (none). A ConvNeXt block never changes the shape:
    pass ``in_channels == out_channels`` and ``stride=1`` (:func:`small_net` puts a downsampling layer in front).
    """
    _checks.choice("variant", variant, VARIANTS)
    _check_block_args(in_channels, out_channels, stride)
    if variant in ("bottleneck", "se", "eca", "resnext", "wide", "resnet_d") and out_channels % 4:
        raise ValueError(f"a {variant} block needs out_channels divisible by 4 (the bottleneck expansion); "
                         f"got {out_channels}")
    channels = out_channels // 4
    proj = _shortcut(in_channels, out_channels, stride, "B", True)
    if variant == "resnet":
        return BasicBlock(in_channels, out_channels, stride, proj)
    if variant == "preact":
        return PreActBlock(in_channels, out_channels, stride)
    if variant == "bottleneck":
        return Bottleneck(in_channels, channels, stride, proj)
    if variant == "se":
        return SEBottleneck(in_channels, channels, stride, proj, reduction=4)
    if variant == "eca":
        return ECABottleneck(in_channels, channels, stride, proj)
    if variant == "resnext":
        return ResNeXtBottleneck(in_channels, channels, stride, proj, groups=4, base_width=32)
    if variant == "wide":
        return WideBottleneck(in_channels, channels, stride, proj)
    if variant == "resnet_d":
        return Bottleneck(in_channels, channels, stride, resnet_d_shortcut(in_channels, out_channels, stride))
    if variant == "inverted":
        return InvertedResidual(in_channels, out_channels, stride)
    if (in_channels, stride) != (out_channels, 1):
        raise ValueError("a ConvNeXt block keeps its shape: in_channels must equal out_channels and stride be 1 "
                         f"(ConvNeXt downsamples between stages); got {in_channels}->{out_channels}, stride {stride}")
    return ConvNeXtBlock(out_channels)


class SmallNet(nn.Module):
    """conv 3×3 stem → three stages (widths w, 2w, 4w; strides 1, 2, 2) of one variant's blocks → pool → linear.

    Pre-activation nets end with BN-ReLU before the pool (their blocks leave the last sum un-normalised), ConvNeXt
    with LN; ConvNeXt stages start with ConvNeXt's own downsampling layer (LN + 2×2 conv)."""

    def __init__(self, variant: str, width: int = 16, blocks: int = 1, in_channels: int = 3,
                 num_classes: int = 10) -> None:
        super().__init__()
        _checks.choice("variant", variant, VARIANTS)
        _checks.integer("width", width, low=4, high=512)
        _checks.integer("blocks", blocks, low=1, high=50)
        _checks.integer("in_channels", in_channels, low=1)
        _checks.integer("num_classes", num_classes, low=1)
        self.variant = variant
        self.stem = nn.Sequential(_conv3x3(in_channels, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        stages, c_in = [], width
        for i, c_out in enumerate((width, 2 * width, 4 * width)):
            stride = 1 if i == 0 else 2
            layers: list[nn.Module] = []
            if variant == "convnext" and (stride, c_in) != (1, c_out):
                layers.append(_convnext_downsample(c_in, c_out) if stride == 2 else _conv1x1(c_in, c_out))
                c_in, stride = c_out, 1
            for j in range(blocks):
                layers.append(block(variant, c_in, c_out, stride if j == 0 else 1))
                c_in = c_out
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        final = {"preact": nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU()), "convnext": LayerNorm2d(c_in, eps=1e-6)}
        self.final = final.get(variant, nn.Identity())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        _init_weights(self, zero_init_residual=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.final(self.stages(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def small_net(variant: str, width: int = 16, blocks: int = 1, in_channels: int = 3,
              num_classes: int = 10) -> SmallNet:
    """The same small three-stage net built from ``variant``'s blocks (lesson 07's comparison)."""
    return SmallNet(variant, width, blocks, in_channels, num_classes)


# --------------------------------------------------------------------------------------------------------------
# Depth: pre-activation CIFAR nets, and "why the identity matters" (He et al. 2016, Table 1, Fig. 2)
# --------------------------------------------------------------------------------------------------------------


class PreActCifarNet(nn.Module):
    """The pre-activation twin of :func:`resnet_edu.nets.cifar_net` (He et al. 2016, §4 / Table 3): conv stem,
    three stages of :class:`PreActBlock` (option A shortcuts, like the original), final BN-ReLU, pool, linear."""

    def __init__(self, depth: int, width: int = 16, in_channels: int = 3, num_classes: int = 10,
                 zero_init: bool = False) -> None:
        super().__init__()
        from .nets import check_depth

        check_depth(depth)
        _checks.integer("width", width, low=1, high=512)
        n = (depth - 2) // 6
        self.conv1 = _conv3x3(in_channels, width)
        layers, c_in = [], width
        for i, c_out in enumerate((width, 2 * width, 4 * width)):
            for j in range(n):
                layers.append(PreActBlock(c_in, c_out, 2 if (i > 0 and j == 0) else 1, "A"))
                c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.final = nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU())
        self.fc = nn.Linear(c_in, num_classes)
        _init_weights(self, zero_init_residual=False)
        if zero_init:
            for b in layers:
                nn.init.zeros_(b.conv2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.final(self.blocks(self.conv1(x)))
        return self.fc(x.mean((2, 3)))


def preact_cifar_net(depth: int, width: int = 16, in_channels: int = 3, num_classes: int = 10,
                     zero_init: bool = False) -> PreActCifarNet:
    """Pre-activation ResNet for CIFAR, depth 6n+2 (e.g. 110; He et al. 2016, Table 3). The BNs move (in front of
    each conv, one after the last block, none after the stem) and the parameter count stays that of
    ``nets.cifar_net(depth)`` (ResNet-20: 269,722)."""
    return PreActCifarNet(depth, width, in_channels, num_classes, zero_init)


class ScaledShortcut(nn.Module):
    """h(x) = λx (He et al. 2016, Fig. 2(b), "constant scaling", λ = 0.5)."""

    def __init__(self, scale: float = 0.5) -> None:
        super().__init__()
        self.scale = _checks.number("scale", scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x

    def extra_repr(self) -> str:
        return f"× {self.scale:g}"


class GatedShortcut(nn.Module):
    """h(x) = (1 − g(x))·x with g(x) = σ(W_g x + b_g), a 1×1 conv (He et al. 2016, Fig. 2(d), "shortcut-only
    gating"); ``bias`` is b_g's initial value (0: the gate starts half open)."""

    def __init__(self, channels: int, bias: float = 0.0) -> None:
        super().__init__()
        _checks.integer("channels", channels, low=1)
        self.gate = nn.Conv2d(channels, channels, 1)
        nn.init.constant_(self.gate.bias, _checks.number("bias", bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (1 - torch.sigmoid(self.gate(x))) * x


def _conv_shortcut(channels: int) -> nn.Conv2d:
    """h(x) = W x, a 1×1 conv (He et al. 2016, Fig. 2(e)), He-initialised so that it keeps the signal's variance."""
    conv = _conv1x1(channels, channels)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="linear")
    return conv


def _study_shortcut(kind: str, channels: int) -> nn.Module:
    if kind == "scaled":
        return ScaledShortcut(0.5)
    return GatedShortcut(channels) if kind == "gated" else _conv_shortcut(channels)


def shortcut_study_net(kind: str, depth: int = 56, width: int = 16, in_channels: int = 3,
                       num_classes: int = 10) -> nn.Module:
    """``nets.cifar_net(depth)`` with every identity shortcut replaced by ``kind`` (see :data:`SHORTCUT_KINDS`):
    "identity" (unchanged), "scaled" (×0.5), "gated" (1 − σ(1×1 conv)) or "conv1x1" (He et al. 2016, Table 1).
    The shortcuts that change the shape stay option A; only the identity ones are replaced."""
    _checks.choice("kind", kind, SHORTCUT_KINDS)
    model = cifar_net(depth, width=width, in_channels=in_channels, num_classes=num_classes)
    if kind != "identity":
        for m in model.modules():
            if isinstance(m, BuildingBlock) and isinstance(m.downsample, nn.Identity):
                m.downsample = _study_shortcut(kind, m.conv2.out_channels)
    return model


# --------------------------------------------------------------------------------------------------------------
# Experiments of lesson 07: one comparison, why the identity matters, pre- vs post-activation at depth
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Task:
    """The data every experiment of one lesson run shares: training and test images and the scale that chose them."""

    train: ImageData
    test: ImageData
    scale: str

    def __str__(self) -> str:
        return f"{self.scale} scale: {self.train} / {len(self.test)} test images"


def task(size: int | None = None) -> Task:
    """CPU scale: scikit-learn's digits at ``size`` (default 8, 3 channels, no download). GPU scale: CIFAR-10 at
    32×32 when it is on disk or downloadable; otherwise the digits, and a printed line says so (never silently)."""
    from .data import DatasetUnavailable, cifar10, digits

    if size is not None:
        _checks.integer("size", size, low=8, high=64)
    if scale() == "gpu" and size is None:
        try:
            return Task(cifar10(train=True), cifar10(train=False), "gpu")
        except DatasetUnavailable as err:
            print(f"CIFAR-10 is unavailable, so the digits stand in for it: {err}")
    size = size or 8
    return Task(digits(size, channels=3), digits(size, channels=3, train=False), scale())


def _fit(model: nn.Module, data: Task, steps: int, lr: float, label: str, progress: bool,
         device: torch.device | str | None, seed: int, eval_every: int | None = None) -> FitResult:
    """The one place this module calls the trainer (SGD, momentum 0.9, constant lr, batch 64 on the CPU scale).
    ``seed`` is the lesson's: it draws the batch order (and augmentation), as the init's seed draws the weights."""
    from .train import TrainConfig, fit

    config = TrainConfig(steps=steps, batch_size=by_scale(cpu=64, gpu=128), lr=lr, eval_every=eval_every or steps,
                         seed=seed, augment=data.scale == "gpu" and data.train.x.shape[-1] == 32,
                         schedule=by_scale("constant", "cosine"))
    return fit(model, data.train, config, eval_data=data.test, progress=progress, device=device, label=label)


@dataclass
class ComparisonRow:
    """One variant in :class:`Comparison`: test accuracy, parameters, FLOPs per image, milliseconds per step."""

    variant: str
    params: int
    flops: int
    accuracy: float
    train_loss: float
    ms_per_step: float


@dataclass
class Comparison:
    """Every variant in the same :func:`small_net`, trained with the same recipe for the same number of steps."""

    rows: list[ComparisonRow]
    steps: int
    data: str

    def row(self, variant: str) -> ComparisonRow:
        for r in self.rows:
            if r.variant == variant:
                return r
        raise ValueError(f"variant {variant!r} was not compared; this comparison has {[r.variant for r in self.rows]}")

    def __str__(self) -> str:
        lines = [f"{self.steps} steps on {self.data} (one seed: test accuracy is kept out of the table, see below)",
                 f"{'variant':<11} {'train loss':>10} {'params':>9} {'MFLOPs/img':>10} {'ms/step':>8}"]
        lines += [f"{r.variant:<11} {r.train_loss:>10.3f} {r.params:>9,} {r.flops / 1e6:>10.2f} "
                  f"{r.ms_per_step:>8.1f}" for r in self.rows]
        return "\n".join(lines)

    def plot(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Parameters against FLOPs per image (log scales), one labelled point per variant: what each change costs.
        (Accuracy is not plotted: at this budget one seed's ranking reorders on the next.)"""
        from .viz import axes

        ax = axes(ax, figsize=(7, 4))
        for r in self.rows:
            ax.scatter(r.flops / 1e6, r.params / 1e3, s=40, alpha=0.7, label=r.variant)
            ax.annotate(r.variant, (r.flops / 1e6, r.params / 1e3), textcoords="offset points", xytext=(4, 4),
                        fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("MFLOPs per image (FlopCounterMode)")
        ax.set_ylabel("parameters (thousands)")
        ax.set_title("Same net, one change each: what it costs")
        ax.grid(True, alpha=0.3)
        return ax


def compare(variants: tuple[str, ...] = VARIANTS, width: int | None = None, steps: int | None = None,
            data: Task | None = None, seed: int = 0, device: torch.device | str | None = None,
            progress: bool = True) -> Comparison:
    """Train :func:`small_net` of each variant with the same recipe and number of steps on ``data``
    (default :func:`task`); measure test accuracy, parameters, FLOPs per image and time per step."""
    from tqdm.auto import tqdm

    from .blocks import count_flops

    variants = _checks.sequence("variants", variants, unique=True)
    for v in variants:
        _checks.choice("variant", v, VARIANTS)
    width = _checks.integer("width", width if width is not None else by_scale(cpu=16, gpu=32), low=4, high=256)
    steps = _checks.integer("steps", steps if steps is not None else by_scale(cpu=30, gpu=2000), low=1)
    _checks.seed(seed)
    data = data or task()
    rows = []
    for v in tqdm(variants, desc="variants", disable=not progress, leave=False):
        with seeded(seed):
            model = small_net(v, width, 1, data.train.in_channels, data.train.num_classes)
        flops = count_flops(model, data.train.x[:1].cpu())
        with one_thread():
            result = _fit(model, data, steps, by_scale(cpu=0.05, gpu=0.1), v, False, device, seed)
        rows.append(ComparisonRow(v, count_parameters(model), flops, result.evals[-1]["acc"],
                                  result.final_loss(max(1, steps // 5)), 1000 * result.wall_time / steps))
    return Comparison(rows, steps, data.train.name)


@dataclass
class ShortcutStudy:
    """The same deep CIFAR ResNet trained with each kind of shortcut (He et al. 2016, Table 1)."""

    depth: int
    results: dict[str, FitResult]

    def final_loss(self, kind: str) -> float:
        """Mean training loss over the last fifth of the run."""
        if kind not in self.results:
            raise ValueError(f"kind {kind!r} was not trained; this study has {list(self.results)}")
        r = self.results[kind]
        return r.final_loss(max(1, r.steps // 5))

    def accuracy(self, kind: str) -> float:
        return self.results[kind].evals[-1]["acc"] if self.results[kind].evals else float("nan")

    def __str__(self) -> str:
        lines = [f"ResNet-{self.depth}, {next(iter(self.results.values())).steps} steps, each shortcut h(x):",
                 f"{'h(x)':<9} {'final train loss':>16} {'test acc':>9}"]
        lines += [f"{k:<9} {self.final_loss(k):>16.3f} {self.accuracy(k):>9.3f}" for k in self.results]
        return "\n".join(lines)

    def plot(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        from .viz import plot_curves

        labels = {"identity": "h(x) = x", "scaled": "h(x) = 0.5·x", "gated": "h(x) = (1 − g(x))·x",
                  "conv1x1": "h(x) = W·x (1×1 conv)"}
        ax = plot_curves({labels[k]: r for k, r in self.results.items()}, ax=ax, smooth=10,
                         title=f"ResNet-{self.depth}: only the identity shortcut keeps training easy")
        return ax


def shortcut_study(kinds: tuple[str, ...] = SHORTCUT_KINDS, depth: int | None = None, width: int | None = None,
                   steps: int | None = None, data: Task | None = None, seed: int = 0,
                   device: torch.device | str | None = None, progress: bool = True) -> ShortcutStudy:
    """Train :func:`shortcut_study_net` once per shortcut kind, same seed and recipe (He et al. 2016, Table 1)."""
    from tqdm.auto import tqdm

    kinds = _checks.sequence("kinds", kinds, unique=True)
    for k in kinds:
        _checks.choice("kind", k, SHORTCUT_KINDS)
    depth = depth if depth is not None else by_scale(cpu=32, gpu=110)
    width = _checks.integer("width", width if width is not None else by_scale(cpu=8, gpu=16), low=1, high=256)
    steps = _checks.integer("steps", steps if steps is not None else by_scale(cpu=40, gpu=2000), low=1)
    _checks.seed(seed)
    data = data or task()
    results = {}
    for k in tqdm(kinds, desc="shortcuts", disable=not progress, leave=False):
        with seeded(seed):
            model = shortcut_study_net(k, depth, width, data.train.in_channels, data.train.num_classes)
        with one_thread():
            results[k] = _fit(model, data, steps, by_scale(cpu=0.1, gpu=0.1), k, False, device, seed)
    return ShortcutStudy(depth, results)


PREACT_ARMS = ("post-activation", "post-act, zero-init γ", "pre-activation")


def _ratio_text(ratio: float) -> str:
    """A first/last gradient ratio for a table; the zero-init control's last conv has no gradient at init."""
    return f"{ratio:.3g}" if math.isfinite(ratio) else "∞ (last is 0)"


@dataclass
class PreactStudy:
    """Post-activation (original), the same with zero-initialised last-BN γ (the control), and pre-activation CIFAR
    ResNets at one depth: training curves, gradient profiles, loss and logit spread at initialisation."""

    depth: int
    results: dict[str, FitResult]
    profiles: dict[str, GradientProfile]
    init_loss: dict[str, float]
    logit_std: dict[str, float]

    def final_loss(self, kind: str) -> float:
        """Mean training loss over the last fifth of the run."""
        if kind not in self.results:
            raise ValueError(f"kind {kind!r} was not trained; this study has {list(self.results)}")
        r = self.results[kind]
        return r.final_loss(max(1, r.steps // 5))

    def peak_loss(self, kind: str) -> float:
        """The highest training loss of the run (a deep post-activation net first rises, then recovers)."""
        return max(self.results[kind].loss)

    def __str__(self) -> str:
        steps = next(iter(self.results.values())).steps
        lines = [f"{f'ResNet-{self.depth}, {steps} steps':<24} {'loss at init':>12} {'logit std':>9} {'peak loss':>9} "
                 f"{'final loss':>10} {'grad first/last':>15}"]
        lines += [f"{k:<24} {self.init_loss[k]:>12.2f} {self.logit_std[k]:>9.2f} {self.peak_loss(k):>9.2f} "
                  f"{self.final_loss(k):>10.3f} {_ratio_text(self.profiles[k].ratio('conv')):>15}"
                  for k in self.results]
        return "\n".join(lines)

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        import matplotlib.pyplot as plt

        from .viz import plot_curves

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
        plot_curves(self.results, ax=left, smooth=10, title=f"ResNet-{self.depth}: training loss")
        for k, p in self.profiles.items():
            if math.isfinite(p.ratio("conv")):  # the zero-init control's last conv has no gradient at init
                p.plot(ax=right, label=f"{k} ({p.ratio('conv'):.2g}×)", markersize=3)
        right.set_title("gradient norm per layer at init (legend: first/last)")
        fig.tight_layout()
        return fig


def preact_study(depth: int | None = None, width: int | None = None, steps: int | None = None,
                 data: Task | None = None, seed: int = 0, device: torch.device | str | None = None,
                 progress: bool = True, arms: tuple[str, ...] = PREACT_ARMS) -> PreactStudy:
    """Train ``nets.cifar_net(depth)`` (post-activation), the same with every block's last BN γ set to 0
    (``zero_init_residual``: each block starts as the identity, so the stream does not grow with depth — lesson
    03) and :func:`preact_cifar_net` (pre-activation) with the same recipe; measure at init, on lesson 03's probe
    batch, each gradient profile, the loss and the spread of the logits (He et al. 2016, §4, Fig. 6; the zero γ of
    He et al. 2019, §3.1)."""
    from tqdm.auto import tqdm

    from .gradients import gradient_profile
    from .nets import check_depth

    depth = check_depth(depth if depth is not None else 110)
    width = _checks.integer("width", width if width is not None else by_scale(cpu=8, gpu=16), low=1, high=256)
    steps = _checks.integer("steps", steps if steps is not None else by_scale(cpu=25, gpu=2000), low=1)
    _checks.seed(seed)
    arms = _checks.sequence("arms", arms, unique=True)
    for a in arms:
        _checks.choice("arm", a, PREACT_ARMS)
    data = data or task()
    c, k = data.train.in_channels, data.train.num_classes
    builders = {"post-activation": lambda: cifar_net(depth, width=width, in_channels=c, num_classes=k),
                "post-act, zero-init γ": lambda: cifar_net(depth, width=width, in_channels=c, num_classes=k,
                                                           zero_init_residual=True),
                "pre-activation": lambda: preact_cifar_net(depth, width, c, k)}
    results, profiles, init_loss, logit_std = {}, {}, {}, {}
    x, y = data.train.x[:64].cpu(), data.train.y[:64].cpu()
    for name in tqdm(arms, desc="depth", disable=not progress, leave=False):
        with seeded(seed):
            model = builders[name]()
        with one_thread():
            with torch.no_grad():
                logits = model(x)  # train mode, as the first step of training sees it
            init_loss[name] = float(nn.functional.cross_entropy(logits, y))
            logit_std[name] = float(logits.std())
            profiles[name] = gradient_profile(model, x, y, label=name)
            model.zero_grad(set_to_none=True)
            results[name] = _fit(model, data, steps, 0.1, name, False, device, seed)
    return PreactStudy(depth, results, profiles, init_loss, logit_std)
