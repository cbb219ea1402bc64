"""The block catalogue (core, like timm's ``layers/``): every variant is H(x) = F(x) + shortcut(x) with *one*
change. Lesson 07 trains them (:mod:`resnet_edu.lessons.lesson07_variants`); this module only builds them and imports
no training code.

=================  =====================================================  =========================================
variant            the one change                                          paper
=================  =====================================================  =========================================
``preact``         BN-ReLU *before* each conv, nothing after the ⊕          He et al. 2016, "Identity Mappings", Fig. 4
``se``             F(x) re-weighted per channel by squeeze-excitation       Hu et al. 2018, Fig. 3
``eca``            the same with a 1-D conv across channels (no FC)         Wang et al. 2020, Fig. 2
``resnext``        the 3×3 conv of the bottleneck split into 32 groups      Xie et al. 2017, Fig. 3(c)
``wide``           every conv inside the block wider (bottleneck: 2×)       Zagoruyko & Komodakis 2016; torchvision
``resnet_d``       the projection shortcut averages, then convolves        He et al. 2019, "Bag of Tricks", Fig. 2(c)
``inverted``       expand 1×1 → depthwise 3×3 → *linear* 1×1 project        Sandler et al. 2018, Fig. 3(b), Table 1
``convnext``       depthwise 7×7 → LayerNorm → MLP ×4 → layer scale         Liu et al. 2022, Fig. 4
=================  =====================================================  =========================================

Where a 50-layer (or the paper's) ImageNet configuration exists, a builder gives it with the published parameter
count: :func:`se_resnet50`, :func:`eca_resnet50`, :func:`resnext50_32x4d`, :func:`wide_resnet50_2`,
:func:`resnet50d`, :func:`mobilenet_v2`, :func:`convnext_tiny`; :func:`block` builds any variant by name.
:func:`small_net` puts any variant into one small three-stage net and :func:`preact_cifar_net` is the pre-activation
twin of :func:`resnet_edu.nets.cifar_net`: both live here, not in lesson 07, because ``python -m resnet_edu.train``
(core) trains them too (:data:`ARCHS`: every net of the collection by name). Lesson 07's shortcut study stays in
:mod:`resnet_edu.lessons.lesson07_variants`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from . import _checks
from .nets import (
    MAX_WIDTH,
    BasicBlock,
    Bottleneck,
    ResNet,
    _conv1x1,
    _conv3x3,
    _downsample,
    _init_weights,
    _shortcut,
    check_depth,
    cifar_net,
)

MAX_STAGE_BLOCKS = 64  # the most blocks per stage a builder accepts (ConvNeXt-XL has 27; a bound, raise it)
_LIFT_BLOCKS = "Set resnet_edu.zoo.MAX_STAGE_BLOCKS higher if you really want a deeper stage."
VARIANTS = ("resnet", "bottleneck", "preact", "se", "eca", "resnext", "wide", "resnet_d", "inverted", "convnext")


# --------------------------------------------------------------------------------------------------------------
# Pre-activation (He et al. 2016, "Identity Mappings in Deep Residual Networks", Fig. 1(b) and Fig. 4(e))
# --------------------------------------------------------------------------------------------------------------


class PreActBlock(nn.Module):
    """H(x) = F(x) + shortcut(x) with F = BN-ReLU-conv-BN-ReLU-conv and *nothing after the addition*.

    The change from :class:`resnet_edu.nets.BasicBlock`: the ReLU after ⊕ is gone (the activations moved in front of
    the convolutions), so the shortcut path from block to block is a pure identity (He et al. 2016, Eq. 4).
    ``zero_init=True`` zeroes the last conv, so F(x) = 0 and the block is exactly the identity, for *every* x.
    ``shortcut`` is "A" (parameter-free) or "B" (1×1 projection) when the shape changes (He et al. 2015, §3.3). The
    projection is a conv like those of F, so it reads the *pre-activated* input BN-ReLU(x), as He et al. 2016's code
    and timm's ``PreActBasicBlock`` do; the identity and the parameter-free option A carry x itself.
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
        self.projects = isinstance(self.shortcut, nn.Sequential)  # option B: a 1×1 conv, which reads BN-ReLU(x)
        if zero_init:
            nn.init.zeros_(self.conv2.weight)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x) = conv(ReLU(BN(conv(ReLU(BN(x))))))."""
        return self._residual(self.relu(self.bn1(x)))

    def _residual(self, pre: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.bn2(self.conv1(pre))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))  # the pre-activation, shared by F and a projection shortcut
        shortcut = self.shortcut(pre if self.projects else x)
        return self._residual(pre) + shortcut  # H(x) = F(x) + x — no ReLU after the addition


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
    Halfway between two odd numbers (4.5 at C = 256, 6 at C = 2048) it takes the larger; the authors' released
    ECA-Net50 takes 3 at C = 256 (:data:`ECA_RESNET50_K`)."""
    _checks.integer("channels", channels, low=1)
    gamma = _checks.number("gamma", gamma, low=0, low_inclusive=False)  # 0 divided by zero; 10**400 overflowed
    b = _checks.number("b", b)
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


def _odd_kernel(name: str, k: object) -> int:
    k = _checks.integer(name, k, low=1, high=MAX_WIDTH)
    if k % 2 == 0:
        raise ValueError(f"{name} must be odd, so that the 1-D kernel is centred on a channel; got {k}")
    return k


class ECA(nn.Module):
    """Efficient channel attention: a 1-D conv of size k across the pooled channels, no dimensionality reduction
    (Wang et al. 2020, §3.2, Fig. 2). ``k_size`` (odd) is k; None takes it from the channels by Eq. 12
    (:func:`eca_kernel_size`). It has only k parameters."""

    def __init__(self, channels: int, k_size: int | None = None) -> None:
        super().__init__()
        self.channels = _checks.integer("channels", channels, low=1)
        self.k = eca_kernel_size(channels) if k_size is None else _odd_kernel("k_size", k_size)
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

    def __init__(self, in_channels: int, channels: int, stride: int = 1, downsample: nn.Module | None = None,
                 reduction: int = 16, has_shortcut: bool = True) -> None:
        super().__init__(in_channels, channels, stride, downsample, has_shortcut=has_shortcut)
        self.se = SqueezeExcitation(channels * self.expansion, reduction)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(super().residual(x))  # the change: F(x) · s(F(x)), before the addition


class ECABottleneck(Bottleneck):
    """A :class:`resnet_edu.nets.Bottleneck` with ECA on F(x): H(x) = relu(ECA(F(x)) + x) (Wang et al. 2020, Fig. 2);
    ``k_size`` as in :class:`ECA`."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, downsample: nn.Module | None = None,
                 k_size: int | None = None, has_shortcut: bool = True) -> None:
        super().__init__(in_channels, channels, stride, downsample, has_shortcut=has_shortcut)
        self.eca = ECA(channels * self.expansion, k_size)  # k_size None: Eq. 12 on the block's output channels

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.eca(super().residual(x))  # the change: F(x) · s(F(x)) with s from a 1-D conv


# --------------------------------------------------------------------------------------------------------------
# ResNeXt (Xie et al. 2017): the bottleneck's 3×3 conv in groups; Wide ResNet (Zagoruyko & Komodakis 2016): its inside
# --------------------------------------------------------------------------------------------------------------


class ResNeXtBottleneck(Bottleneck):
    """A bottleneck whose 3×3 conv is split into ``groups`` groups of ``base_width``·channels/64 channels each
    (Xie et al. 2017, Fig. 3(c), "32×4d"); the layers keep torchvision's names, so its weights load."""

    groups = 32
    base_width = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int | None = None, base_width: int | None = None, has_shortcut: bool = True) -> None:
        super().__init__(in_channels, channels, stride, downsample,  # the change: g groups, w channels per group
                         groups=self.groups if groups is None else groups,
                         base_width=self.base_width if base_width is None else base_width, has_shortcut=has_shortcut)


class WideBottleneck(ResNeXtBottleneck):
    """A bottleneck twice as wide inside (one group, base width 128: the first 1×1 conv's output, the 3×3 conv and
    the last 1×1 conv's input; the block's output stays): torchvision's ``wide_resnet50_2``, the ImageNet form of
    Zagoruyko & Komodakis 2016 (§2, widening factor k = 2; their basic block widens both of its 3×3 convs)."""

    groups = 1
    base_width = 128


# --------------------------------------------------------------------------------------------------------------
# ResNet-D (He et al. 2019, "Bag of Tricks", §4.1, Fig. 2(c)): the projection shortcut averages before it projects
# --------------------------------------------------------------------------------------------------------------


def resnet_d_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """ResNet-D's ``downsample``: a 2×2 average pool does the striding, then a stride-1 1×1 conv + BN projects, so no
    input pixel is skipped (option B's stride-2 1×1 conv ignores 3/4 of them). ``None`` (the identity shortcut, as in
    torchvision) when shapes match."""
    _check_block_args(in_channels, out_channels, stride)
    if stride == 1 and in_channels == out_channels:
        return None
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
        _checks.integer("expand_ratio", expand_ratio, low=1, high=64)  # MobileNetV2 uses 6
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
        _checks.integer("dim", dim, low=1, high=MAX_WIDTH, lift="Set resnet_edu.nets.MAX_WIDTH higher if you really "
                        "need more.")
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


ECA_RESNET50_K = (3, 5, 5, 7)
"""The kernel size k of each stage of the authors' released ECA-Net50 (their README: ``--ksize 3557``; ``k_size`` is a
per-stage list in their ``models/eca_resnet.py``). Eq. 12 gives 4.5 at C = 256, equally near 3 and 5 (the release
takes 3, :func:`eca_kernel_size` 5), 5 at 512, 5.5 at 1024 (→ 5) and 6 at 2048, equally near 5 and 7 (both take 7)."""


def eca_resnet50(num_classes: int = 1000, k_size: tuple[int, int, int, int] | None = ECA_RESNET50_K) -> ResNet:
    """ECA-ResNet-50 (Wang et al. 2020) with one kernel size per stage, by default the authors' released
    :data:`ECA_RESNET50_K` = (3, 5, 5, 7): ResNet-50 plus 3·3 + 4·5 + 6·5 + 3·7 = 80 weights of 1-D convs, the
    paper's "80 vs. 24.37M" (abstract; it counts its ResNet-50 as 24.37M, torchvision as 25,557,032).
    ``k_size=None`` takes k from Eq. 12 on each block's output channels instead (5, 5, 5, 7 per stage: 86 weights)."""
    model = ResNet(ECABottleneck, (3, 4, 6, 3), num_classes)
    if k_size is None:
        return model
    k_size = _checks.sequence("k_size", k_size)
    if len(k_size) != 4:
        raise ValueError(f"k_size must give 4 kernel sizes, one per stage (e.g. {ECA_RESNET50_K}); got {k_size}")
    for stage, k in zip((model.layer1, model.layer2, model.layer3, model.layer4), k_size):
        k = _odd_kernel("every entry of k_size", k)
        for b in stage:  # one kernel size for every block of the stage, as the authors build it
            b.eca = ECA(b.eca.channels, k)
    return model


def resnext50_32x4d(num_classes: int = 1000) -> ResNet:
    """ResNeXt-50 (32×4d) (Xie et al. 2017, Table 1): 25,028,904 parameters, as torchvision's."""
    return ResNet(ResNeXtBottleneck, (3, 4, 6, 3), num_classes)


def wide_resnet50_2(num_classes: int = 1000) -> ResNet:
    """Wide ResNet-50-2 (torchvision): 68,883,240 parameters."""
    return ResNet(WideBottleneck, (3, 4, 6, 3), num_classes)


def resnet50d(num_classes: int = 1000) -> ResNet:
    """ResNet-50-D (He et al. 2019, Fig. 2: ResNet-B's strides, ResNet-C's deep stem, ResNet-D's shortcut):
    25,576,264 parameters ("25M" in Table 5; the same layout as timm's ``resnet50d``)."""
    # ResNet-C's stem (bn1/relu/maxpool of ResNet follow it unchanged) and ResNet-D's shortcut, built in place
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, stem=_deep_stem(), downsample=resnet_d_shortcut)


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018, Table 2), laid out as torchvision's: 3,504,872 parameters at width 1.0."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))  # (expansion t, channels c, repeats n, first stride s)

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        _checks.integer("num_classes", num_classes, low=1, high=100_000)
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
        depths, dims = _checks.sequence("depths", depths), _checks.sequence("dims", dims)
        if len(depths) != len(dims):
            raise ValueError(f"depths and dims must have one entry per stage each; got {len(depths)} depths and "
                             f"{len(dims)} dims")
        for depth in depths:
            _checks.integer("every entry of depths", depth, low=1, high=MAX_STAGE_BLOCKS, lift=_LIFT_BLOCKS)
        for dim in dims:
            _checks.integer("every entry of dims", dim, low=1, high=MAX_WIDTH,
                            lift="Set resnet_edu.nets.MAX_WIDTH higher if you really need more.")
        _checks.integer("num_classes", num_classes, low=1, high=100_000)
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
# Any variant by name (lesson 07 puts them into one small net)
# --------------------------------------------------------------------------------------------------------------


def block(variant: str, in_channels: int, out_channels: int, stride: int = 1) -> nn.Module:
    """One block of ``variant`` (see :data:`VARIANTS`) mapping ``in_channels`` → ``out_channels`` at ``stride``.

    Bottleneck variants use ``out_channels // 4`` inner channels (×2 for ResNeXt/Wide's 3×3 conv, in 4 groups for
    ResNeXt, the 32×4d ratios scaled down); shortcuts are option B (1×1 projection) where the shape changes, except
    for ResNet-D (average pool + 1×1) and the inverted residual (none). A ConvNeXt block never changes the shape:
    pass ``in_channels == out_channels`` and ``stride=1`` (lesson 07's small net puts a downsampling layer in front).
    """
    _checks.choice("variant", variant, VARIANTS)
    _check_block_args(in_channels, out_channels, stride)
    return _block(variant, in_channels, out_channels, stride)


def _bottleneck_channels(variant: str, out_channels: int) -> int:
    if out_channels % 4:
        raise ValueError(f"a {variant} block needs out_channels divisible by 4 (the bottleneck expansion); "
                         f"got {out_channels}")
    return out_channels // 4


def _convnext_block(c_in: int, c_out: int, stride: int, _proj: nn.Module | None) -> nn.Module:
    if (c_in, stride) != (c_out, 1):
        raise ValueError("a ConvNeXt block keeps its shape: in_channels must equal out_channels and stride be 1 "
                         f"(ConvNeXt downsamples between stages); got {c_in}->{c_out}, stride {stride}")
    return ConvNeXtBlock(c_out)


# variant → factory(in_channels, out_channels, stride, proj): proj is the block's option-B ``downsample`` (None, the
# identity shortcut, when the shape stays). _block builds it first for every variant, also for the pre-activation,
# ResNet-D, inverted and ConvNeXt blocks that bring their own shortcut, so that every small net draws its random
# weights in one fixed order.
_BLOCKS: dict[str, Callable[[int, int, int, nn.Module | None], nn.Module]] = {
    "resnet": lambda c_in, c_out, s, proj: BasicBlock(c_in, c_out, s, proj),
    "bottleneck": lambda c_in, c_out, s, proj: Bottleneck(c_in, _bottleneck_channels("bottleneck", c_out), s, proj),
    "preact": lambda c_in, c_out, s, _proj: PreActBlock(c_in, c_out, s),
    "se": lambda c_in, c_out, s, proj: SEBottleneck(c_in, _bottleneck_channels("se", c_out), s, proj, reduction=4),
    "eca": lambda c_in, c_out, s, proj: ECABottleneck(c_in, _bottleneck_channels("eca", c_out), s, proj),
    "resnext": lambda c_in, c_out, s, proj: ResNeXtBottleneck(c_in, _bottleneck_channels("resnext", c_out), s, proj,
                                                              groups=4, base_width=32),
    "wide": lambda c_in, c_out, s, proj: WideBottleneck(c_in, _bottleneck_channels("wide", c_out), s, proj),
    "resnet_d": lambda c_in, c_out, s, _proj: Bottleneck(c_in, _bottleneck_channels("resnet_d", c_out), s,
                                                         resnet_d_shortcut(c_in, c_out, s)),
    "inverted": lambda c_in, c_out, s, _proj: InvertedResidual(c_in, c_out, s),
    "convnext": _convnext_block,
}


def _block(variant: str, in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """:func:`block` without its argument checks (for callers that checked them at their own entry)."""
    proj = _downsample(in_channels, out_channels, stride, "B", True)
    return _BLOCKS[variant](in_channels, out_channels, stride, proj)


class SmallNet(nn.Module):
    """conv 3×3 stem → three stages (widths w, 2w, 4w; strides 1, 2, 2) of one variant's blocks → pool → linear.

    Pre-activation nets end with BN-ReLU before the pool (their blocks leave the last sum un-normalised), ConvNeXt
    with LN; ConvNeXt stages start with ConvNeXt's own downsampling layer (LN + 2×2 conv)."""

    def __init__(self, variant: str, width: int = 16, blocks: int = 1, in_channels: int = 3,
                 num_classes: int = 10) -> None:
        super().__init__()
        _checks.choice("variant", variant, VARIANTS)  # checked once here: the blocks are built without block()
        _checks.integer("width", width, low=4, high=512)
        _checks.integer("blocks", blocks, low=1, high=50)
        _checks.integer("in_channels", in_channels, low=1, high=MAX_WIDTH)
        _checks.integer("num_classes", num_classes, low=1, high=100_000)
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
                layers.append(_block(variant, c_in, c_out, stride if j == 0 else 1))
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
    """The same small three-stage net built from ``variant``'s blocks (lesson 07's comparison;
    ``--arch small_<variant>``)."""
    return SmallNet(variant, width, blocks, in_channels, num_classes)


# --------------------------------------------------------------------------------------------------------------
# Depth: the pre-activation CIFAR nets (He et al. 2016, Table 3)
# --------------------------------------------------------------------------------------------------------------


class PreActCifarNet(nn.Module):
    """The pre-activation twin of :func:`resnet_edu.nets.cifar_net` (He et al. 2016, §4 / Table 3): conv stem,
    three stages of :class:`PreActBlock` (option A shortcuts, like the original), final BN-ReLU, pool, linear."""

    def __init__(self, depth: int, width: int = 16, in_channels: int = 3, num_classes: int = 10,
                 zero_init: bool = False) -> None:
        super().__init__()
        check_depth(depth)
        _checks.integer("width", width, low=1, high=512)
        _checks.integer("in_channels", in_channels, low=1, high=MAX_WIDTH)
        _checks.integer("num_classes", num_classes, low=1, high=100_000)
        _checks.flag("zero_init", zero_init)
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



# --------------------------------------------------------------------------------------------------------------
# Every net of the collection by one name (``python -m resnet_edu.train --arch NAME``)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arch:
    """One net of the collection by name: ``build(in_channels, num_classes)`` makes it.

    ``min_size`` is the smallest square image it takes (the stride-2 steps must leave at least one pixel);
    ``rgb_only`` marks the ImageNet configurations whose stem is fixed at 3 channels (grey images are repeated to
    three for them); ``paper`` says where it comes from.
    """

    name: str
    build: Callable[[int, int], nn.Module]
    paper: str
    min_size: int = 8
    rgb_only: bool = False


CIFAR_DEPTHS = (20, 32, 44, 56, 110)  # He et al. 2015, Table 6 (1202 is there too; --arch takes the usual five)


def _catalogue() -> dict[str, Arch]:
    from . import nets

    archs: list[Arch] = []
    for d in CIFAR_DEPTHS:
        archs += [
            Arch(f"resnet{d}", lambda c, k, d=d: cifar_net(d, in_channels=c, num_classes=k),
                 "He et al. 2015, §4.2 (CIFAR, option-A shortcuts)"),
            Arch(f"plain{d}", lambda c, k, d=d: cifar_net(d, residual=False, in_channels=c, num_classes=k),
                 "He et al. 2015, §4.2 (the plain twin, no shortcuts)"),
            Arch(f"preact_resnet{d}", lambda c, k, d=d: preact_cifar_net(d, in_channels=c, num_classes=k),
                 "He et al. 2016, Identity Mappings, Table 3"),
        ]
    archs += [Arch(f"small_{v}", lambda c, k, v=v: small_net(v, in_channels=c, num_classes=k),
                   f"lesson 07's small three-stage net of {v} blocks") for v in VARIANTS]
    for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
        builder = getattr(nets, name)
        archs += [
            Arch(f"{name}_cifar", lambda c, k, b=builder: b(k, in_channels=c, cifar_stem=True),
                 "He et al. 2015, Table 1, with the CIFAR stem (3x3 conv, no max-pool)"),
            Arch(name, lambda c, k, b=builder: b(k, in_channels=c), "He et al. 2015, Table 1 (ImageNet stem)",
                 min_size=32),
        ]
    for builder, paper in ((se_resnet50, "Hu et al. 2018"), (eca_resnet50, "Wang et al. 2020"),
                           (resnext50_32x4d, "Xie et al. 2017"), (wide_resnet50_2, "Zagoruyko & Komodakis 2016"),
                           (resnet50d, "He et al. 2019, Bag of Tricks"), (mobilenet_v2, "Sandler et al. 2018"),
                           (convnext_tiny, "Liu et al. 2022")):
        archs.append(Arch(builder.__name__, lambda c, k, b=builder: b(k), f"{paper} (ImageNet configuration)",
                          min_size=32, rgb_only=True))
    return {a.name: a for a in archs}


ARCHS: dict[str, Arch] = _catalogue()


def arch(name: object) -> Arch:
    """The :class:`Arch` called ``name`` (one of :data:`ARCHS`); a ValueError listing them otherwise."""
    if not isinstance(name, str) or name not in ARCHS:
        raise ValueError(f"unknown arch {_checks._show(name)}; the collection has {', '.join(ARCHS)}")
    return ARCHS[name]


def count_parameters_of(a: Arch, in_channels: int, num_classes: int) -> int:
    """Parameters of ``a`` built for ``in_channels``-channel images and ``num_classes`` classes, counted on the
    meta device (no memory, no random numbers drawn: a 69 M-parameter net counts in milliseconds)."""
    with torch.device("meta"):
        model = a.build(3 if a.rgb_only else in_channels, num_classes)
    return sum(p.numel() for p in model.parameters())
