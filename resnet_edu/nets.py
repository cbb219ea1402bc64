"""Plain and residual networks at any depth (lessons 00–04, 06).

* :func:`cifar_net` — the CIFAR-10 networks of He et al. 2015, §4.2: depth 6n+2, three stages of widths
  w, 2w, 4w, global average pooling and a linear classifier; ``residual=False`` gives the *plain* twin with the
  same layers and no shortcuts.
* :func:`resnet18` … :func:`resnet152` — the ImageNet networks of He et al. 2015, Table 1, with ``state_dict``
  keys and shapes identical to torchvision's, so torchvision weights load with ``strict=True``.
* :func:`mlp` — deep fully connected nets with or without skip connections, for 1-D/2-D experiments.
* :func:`count_parameters` and :func:`count_flops` — what the papers' tables count (lessons 06 and 07).
* :class:`PlainUnit` / :class:`ResidualUnit` — a two-layer unit H(x) = W₂σ(W₁x) vs x + F(x), the smallest
  residual block (lessons 02 and 03).

Every block computes H(x) = F(x) + shortcut(x). The layers keep torchvision's names (``conv1``, ``bn1``, …,
``downsample``) so that weights are interchangeable, and ``downsample`` means what it means in torchvision: ``None``
is the identity shortcut (x itself), otherwise it holds the map that changes x's shape (option B's 1×1 conv + BN,
or option A's parameter-free :class:`ShortcutA`). :meth:`BasicBlock.residual` is F, :meth:`BasicBlock.shortcut`
the shortcut's output; a *plain* block is ``has_shortcut=False``, a flag apart from ``downsample``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks

SHORTCUTS = ("A", "B")
KINDS = ("plain", "residual")
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


def _conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, bias=False)


class ShortcutA(nn.Module):
    """Option A shortcut (He et al. 2015, §3.3 and §4.2): identity with stride-2 subsampling and zero-padded
    channels. It has no parameters, and being a real ``nn.Module`` (not a lambda) it prints, pickles and scripts."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        c_in, c_out = _checks.integer("c_in", c_in, low=1), _checks.integer("c_out", c_out, low=1)
        stride = _checks.integer("stride", stride, low=1, high=8)
        if c_out < c_in:
            raise ValueError(f"option A can only add channels; got {c_in} -> {c_out}")
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        extra = self.c_out - self.c_in
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))  # zero channels on both sides

    def extra_repr(self) -> str:
        return f"{self.c_in}->{self.c_out}, stride={self.stride}, parameter-free"


def _downsample(c_in: int, c_out: int, stride: int, option: str, batch_norm: bool) -> nn.Module | None:
    """A block's ``downsample`` in torchvision's meaning: ``None`` (the identity shortcut) when shapes match, else
    the W_s of Eq. 2, option A or B (§3.3)."""
    if stride == 1 and c_in == c_out:
        return None
    return _shortcut(c_in, c_out, stride, option, batch_norm)


def _shortcut(c_in: int, c_out: int, stride: int, option: str, batch_norm: bool) -> nn.Module:
    """The whole shortcut as a module, for blocks that hold one (``self.shortcut``): ``nn.Identity()`` when shapes
    match, else option A or B (§3.3)."""
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    if option == "A":
        return ShortcutA(c_in, c_out, stride)
    return nn.Sequential(_conv1x1(c_in, c_out, stride), _norm(c_out, batch_norm))  # option B: projection


def _block_args(in_channels: object, channels: object, stride: object, downsample: object, batch_norm: object,
                has_shortcut: object) -> None:
    _size("in_channels", in_channels, high=4 * MAX_WIDTH)
    _size("channels", channels)
    _checks.integer("stride", stride, low=1, high=8)
    if downsample is not None:
        _checks.module("downsample", downsample)
    _checks.flag("batch_norm", batch_norm)
    _checks.flag("has_shortcut", has_shortcut)
    if downsample is not None and not has_shortcut:
        raise ValueError("a plain block (has_shortcut=False) has no shortcut, so it takes no downsample; "
                         "leave downsample=None")


class BuildingBlock(nn.Module):
    """The building block of He et al. 2015 (Fig. 2, Eq. 1–2): H(x) = relu(F(x) + shortcut(x)); subclasses define F.

    ``downsample`` is torchvision's: ``None`` is the identity shortcut, shortcut(x) = x; a module (a projection,
    or option A) is what the shortcut applies when the shape changes, shortcut(x) = downsample(x). With
    ``has_shortcut=False`` the block is plain, relu(F(x)), and has no shortcut at all.
    """

    downsample: nn.Module | None
    has_shortcut: bool

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """The shortcut's output: x itself (``downsample is None``, the identity) or ``downsample(x)``."""
        return x if self.downsample is None else self.downsample(x)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the residual branch."""
        raise NotImplementedError

    @property
    def last_bn(self) -> nn.Module:
        """The last normalisation of F (zeroed by ``zero_init_residual`` so the block starts as the identity)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.residual(x)
        if self.has_shortcut:
            out = out + self.shortcut(x)  # H(x) = F(x) + x
        return self.relu(out)


class BasicBlock(BuildingBlock):
    """Two 3×3 convolutions: H(x) = relu(F(x) + x) with F = conv-BN-relu-conv-BN (He et al. 2015, Fig. 2).

    ``downsample=None`` is the identity shortcut, as in torchvision; ``has_shortcut=False`` (``residual=False`` in
    the builders) gives the plain block relu(F(x)).
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        batch_norm: bool = True,
        has_shortcut: bool = True,
    ) -> None:
        super().__init__()
        _block_args(in_channels, channels, stride, downsample, batch_norm, has_shortcut)
        self.conv1 = _conv3x3(in_channels, channels, stride)
        self.bn1 = _norm(channels, batch_norm)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = _norm(channels, batch_norm)
        self.downsample = downsample  # None: the identity shortcut (torchvision's meaning and name)
        self.has_shortcut = has_shortcut

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the residual branch."""
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))

    @property
    def last_bn(self) -> nn.Module:
        return self.bn2


class Bottleneck(BuildingBlock):
    """1×1 reduce, 3×3, 1×1 expand (He et al. 2015, Fig. 5 right): H(x) = relu(F(x) + x).

    Like torchvision (ResNet v1.5) the stride sits on the 3×3 convolution. ``groups`` and ``base_width`` shape that
    3×3 conv as torchvision does: ``channels · base_width / 64 · groups`` channels in ``groups`` groups — 1 and 64
    give the original block, 32 and 4 ResNeXt's 32×4d (Xie et al. 2017, Fig. 3(c)), 1 and 128 Wide ResNet-50-2.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        batch_norm: bool = True,
        groups: int = 1,
        base_width: int = 64,
        has_shortcut: bool = True,
    ) -> None:
        super().__init__()
        _block_args(in_channels, channels, stride, downsample, batch_norm, has_shortcut)
        _checks.integer("groups", groups, low=1, high=MAX_WIDTH)
        _checks.integer("base_width", base_width, low=1, high=MAX_WIDTH)
        width = channels * base_width // 64 * groups  # the 3×3 conv's channels (torchvision's formula)
        if width < groups:
            raise ValueError(f"channels={channels} gives {width} channels in the 3×3 conv, fewer than its {groups} "
                             "groups; use more channels, fewer groups or a larger base_width")
        out_channels = channels * self.expansion
        self.conv1 = _conv1x1(in_channels, width)
        self.bn1 = _norm(width, batch_norm)
        self.conv2 = nn.Conv2d(width, width, 3, stride, padding=1, groups=groups, bias=False)
        self.bn2 = _norm(width, batch_norm)
        self.conv3 = _conv1x1(width, out_channels)
        self.bn3 = _norm(out_channels, batch_norm)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.has_shortcut = has_shortcut

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the residual branch."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))

    @property
    def last_bn(self) -> nn.Module:
        return self.bn3


def _init_weights(model: nn.Module, zero_init_residual: bool) -> None:
    """He initialisation (He et al. 2015b) for convolutions, BN at (1, 0); optionally each block's last BN at 0
    so that every residual block starts as the identity (Goyal et al. 2017)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, BuildingBlock) and isinstance(m.last_bn, nn.BatchNorm2d):
                nn.init.zeros_(m.last_bn.weight)


MAX_CIFAR_DEPTH = 1202  # the deepest net of He et al. 2015, §4.2 (Table 6); a bound, raise it to go deeper
MAX_WIDTH = 4096  # widest layer the builders accept (a bound that keeps a CPU lesson short; raise it to go wider)


def check_depth(depth: object) -> int:
    """``depth`` if it is a CIFAR depth 6n+2 with n ≥ 1 (He et al. 2015, §4.2), else an error listing them."""
    d = _checks.integer("depth", depth, high=MAX_CIFAR_DEPTH,
                        lift="That is the deepest net of He et al. 2015 (Table 6); set "
                             "resnet_edu.nets.MAX_CIFAR_DEPTH higher if you really want a deeper one.")
    if d < 8 or (d - 2) % 6:
        raise ValueError(f"depth must be 6n+2 with n >= 1 (8, 14, 20, 26, 32, 44, 56, 110, …); got {depth!r}")
    return d


def check_kind(kind: object) -> bool:
    """``"plain"`` → False, ``"residual"`` → True; anything else is a ValueError naming the two kinds."""
    try:
        _checks.choice("kind", kind, KINDS)
    except ValueError:
        raise ValueError(f"kind must be 'plain' (no shortcuts) or 'residual' (with shortcuts); got {kind!r}") from None
    return kind == "residual"


def _size(name: str, value: object, high: int | None = None) -> int:
    """A layer size: a positive int, at most ``high`` (default :data:`MAX_WIDTH`)."""
    return _checks.integer(name, value, low=1, high=MAX_WIDTH if high is None else high,
                           lift="Set resnet_edu.nets.MAX_WIDTH higher if you really need more.")


class CifarResNet(nn.Module):
    """The CIFAR-10 network of He et al. 2015, §4.2 (plain or residual): 3×3 conv, three stages of n blocks with
    widths w/2w/4w on feature maps 32/16/8 (for 32×32 inputs), global average pool, linear."""

    def __init__(
        self,
        depth: int,
        residual: bool = True,
        shortcut: str = "A",
        width: int = 16,
        in_channels: int = 3,
        num_classes: int = 10,
        batch_norm: bool = True,
        zero_init_residual: bool = False,
        block: type[nn.Module] | None = None,
    ) -> None:
        super().__init__()
        check_depth(depth)
        _checks.flag("residual", residual)
        block = BasicBlock if block is None else check_block(block)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be 'A' (parameter-free) or 'B' (1x1 projection); got {shortcut!r}")
        for name, value in (("width", width), ("in_channels", in_channels), ("num_classes", num_classes)):
            _size(name, value)
        _checks.flag("batch_norm", batch_norm)
        _checks.flag("zero_init_residual", zero_init_residual)
        self.depth, self.has_shortcuts, self.shortcut_option = depth, residual, shortcut
        self.in_channels = in_channels
        n = (depth - 2) // 6
        self.conv1 = _conv3x3(in_channels, width)
        self.bn1 = _norm(width, batch_norm)
        self.relu = nn.ReLU(inplace=True)
        c_in = width
        stages = []
        for i, c_out in enumerate((width, 2 * width, 4 * width)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(_cifar_block(block, c_in, c_out, stride, shortcut, batch_norm, residual))
                c_in = c_out
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        _init_weights(self, zero_init_residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            _checks.tensor("x", x, ndim=4, channels=self.in_channels, finite=False,
                           expected=f"a batch of images (N, {self.in_channels}, H, W); build the net with "
                                    f"in_channels={x.shape[1] if x.dim() == 4 else '…'} for these images")
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _cifar_block(block: type[nn.Module], c_in: int, c_out: int, stride: int, option: str, batch_norm: bool,
                 residual: bool) -> nn.Module:
    """One block of :class:`CifarResNet`. A :class:`BuildingBlock` is built as torchvision builds its blocks:
    ``downsample`` is None for the identity, option A/B where the shape changes, and ``has_shortcut=residual``. Any
    other module class (lesson 01's page blocks) gets the whole shortcut as a module: ``nn.Identity()`` where the
    shape stays, option A/B where it changes, ``None`` in the plain net."""
    if issubclass(block, BuildingBlock):
        down = _downsample(c_in, c_out, stride, option, batch_norm) if residual else None
        return block(c_in, c_out, stride, down, batch_norm, has_shortcut=residual)
    sc = _shortcut(c_in, c_out, stride, option, batch_norm) if residual else None
    return block(c_in, c_out, stride, sc, batch_norm)


def cifar_net(
    depth: int,
    residual: bool = True,
    shortcut: str = "A",
    width: int = 16,
    in_channels: int = 3,
    num_classes: int = 10,
    batch_norm: bool = True,
    zero_init_residual: bool = False,
    block: type[nn.Module] | None = None,
) -> CifarResNet:
    """A CIFAR ResNet (``residual=True``) or its plain twin (He et al. 2015, §4.2, Table 6); the net's
    ``has_shortcuts`` says which.

    ``depth`` must be 6n+2 (20, 32, 44, 56, 110, 1202 in the paper). With option-A shortcuts the plain and residual
    nets have exactly the same parameters (ResNet-20: 269,722). ``batch_norm=False`` removes every BN layer.
    ``block`` is the block class (default :class:`BasicBlock`). A :class:`BuildingBlock` subclass is called as
    torchvision calls its blocks, ``block(in_channels, channels, stride, downsample, batch_norm,
    has_shortcut=residual)`` with ``downsample=None`` for the identity shortcut; any other class (lesson 01 passes
    the blocks written on its page) as ``block(in_channels, channels, stride, shortcut, batch_norm)``, where
    ``shortcut`` is the whole shortcut as a module (``nn.Identity()`` where the shape stays) and ``None`` in the plain
    net.
    """
    return CifarResNet(depth, residual, shortcut, width, in_channels, num_classes, batch_norm, zero_init_residual,
                       block)


def check_block(block: object) -> type[nn.Module]:
    """``block`` if it is a class of torch modules (such as :class:`BasicBlock`), else a TypeError."""
    if not (isinstance(block, type) and issubclass(block, nn.Module)):
        raise TypeError(f"block must be a torch.nn.Module class such as resnet_edu.nets.BasicBlock, built as "
                        f"block(in_channels, channels, stride, shortcut, batch_norm) (see cifar_net); got {block!r}")
    return block


class ResNet(nn.Module):
    """The ImageNet ResNet of He et al. 2015, Table 1, laid out exactly like torchvision's ``ResNet``.

    ``stem`` replaces the 7×7 stem conv (it must output 64 channels) and ``downsample(c_in, c_out, stride)`` builds
    every block's ``downsample`` where the shape changes (elsewhere it is None, the identity, as in torchvision);
    both default to the paper's, and the net is initialised once after both are in place (ResNet-C/D of He et al.
    2019 are built this way, :func:`resnet_edu.zoo.resnet50d`).

    ``in_channels`` is what the stem takes (1 for grey images). ``cifar_stem=True`` is the stem the most copied CIFAR
    ResNet-18 repositories use for 32×32 images: one 3×3 stride-1 conv and no max-pool, so the four stages see 32, 16,
    8 and 4 pixels instead of 8, 4, 2, 1 (ResNet-18 for 10 classes then has 11,173,962 parameters).
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int = 1000,
        residual: bool = True,
        zero_init_residual: bool = False,
        stem: nn.Module | None = None,
        downsample: Callable[[int, int, int], nn.Module] | None = None,
        in_channels: int = 3,
        cifar_stem: bool = False,
    ) -> None:
        super().__init__()
        if not (isinstance(block, type) and issubclass(block, BuildingBlock)):
            raise TypeError(f"block must be a building-block class such as BasicBlock or Bottleneck; got {block!r}")
        layers = _checks.sequence("layers", layers)
        if len(layers) != 4:
            raise ValueError(f"layers must give 4 block counts, one per stage (e.g. (2, 2, 2, 2)); got {layers}")
        for n in layers:
            _checks.integer("every entry of layers", n, low=1, high=64)
        _size("num_classes", num_classes, high=100_000)
        _checks.flag("residual", residual)
        _checks.flag("zero_init_residual", zero_init_residual)
        if stem is not None:
            _checks.module("stem", stem)
        if downsample is not None:
            _checks.function("downsample", downsample, "downsample(in_channels, out_channels, stride) -> nn.Module")
        _size("in_channels", in_channels)
        _checks.flag("cifar_stem", cifar_stem)
        if cifar_stem and stem is not None:
            raise ValueError("give either stem= (your own stem conv) or cifar_stem=True (a 3x3 stride-1 conv), "
                             "not both")
        self.has_shortcuts, self.in_channels = residual, in_channels
        # the stem: one 7×7 conv (Table 1), or what the caller gives (e.g. ResNet-C's three 3×3 convs, 64 out), or the
        # CIFAR repositories' 3×3 stride-1 conv without the max-pool (32×32 images keep their detail)
        if stem is None:
            stem = (_conv3x3(in_channels, 64) if cifar_stem
                    else nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False))
        self.conv1 = stem
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if cifar_stem else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        c_in = 64
        for i, (channels, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                c_out = channels * block.expansion
                if not residual:
                    down = None
                elif downsample is not None and (stride, c_in) != (1, c_out):
                    down = downsample(c_in, c_out, stride)  # e.g. ResNet-D's average-then-project shortcut
                else:
                    down = _downsample(c_in, c_out, stride, "B", True)  # None (the identity) or the projection
                blocks.append(block(c_in, channels, stride, down, has_shortcut=residual))
                c_in = c_out
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c_in, num_classes)
        _init_weights(self, zero_init_residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            _checks.tensor("x", x, ndim=4, channels=self.in_channels, finite=False,
                           expected="a batch of RGB images (N, 3, H, W)" if self.in_channels == 3 else
                           f"a batch of images (N, {self.in_channels}, H, W)")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000, in_channels: int = 3, cifar_stem: bool = False) -> ResNet:
    """ResNet-18 (He et al. 2015, Table 1): 11,689,512 parameters for 1000 classes."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_channels=in_channels, cifar_stem=cifar_stem)


def resnet34(num_classes: int = 1000, in_channels: int = 3, cifar_stem: bool = False) -> ResNet:
    """ResNet-34 (He et al. 2015, Table 1): 21,797,672 parameters for 1000 classes."""
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_channels=in_channels, cifar_stem=cifar_stem)


def resnet50(num_classes: int = 1000, in_channels: int = 3, cifar_stem: bool = False) -> ResNet:
    """ResNet-50 (He et al. 2015, Table 1): 25,557,032 parameters for 1000 classes."""
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_channels=in_channels, cifar_stem=cifar_stem)


def resnet101(num_classes: int = 1000, in_channels: int = 3, cifar_stem: bool = False) -> ResNet:
    """ResNet-101 (He et al. 2015, Table 1): 44,549,160 parameters for 1000 classes."""
    return ResNet(Bottleneck, (3, 4, 23, 3), num_classes, in_channels=in_channels, cifar_stem=cifar_stem)


def resnet152(num_classes: int = 1000, in_channels: int = 3, cifar_stem: bool = False) -> ResNet:
    """ResNet-152 (He et al. 2015, Table 1): 60,192,808 parameters for 1000 classes."""
    return ResNet(Bottleneck, (3, 8, 36, 3), num_classes, in_channels=in_channels, cifar_stem=cifar_stem)


def _activation(name: str) -> nn.Module:
    """A fresh activation module by name (one of :data:`ACTIVATIONS`), else a ValueError listing them."""
    return ACTIVATIONS[_checks.choice("activation", name, ACTIVATIONS)]()


class MLPBlock(nn.Module):
    """One hidden layer of a deep MLP (:func:`mlp`, lesson 03): plain x -> f(x), or residual x -> x + s·f(x) with
    the *one-layer* f = act(BN(Wx + b)).

    Not the F of :class:`ResidualUnit`: here the activation comes last and the width never changes, so the plain
    stack is an ordinary deep MLP (one Linear-BN-act per layer) and the residual twin wraps each such layer; BN and
    the branch scale s are what lesson 03 varies. :class:`ResidualUnit` is He et al. 2015's two-layer F,
    Linear-σ-Linear, whose last layer is linear (so F can be set to exactly 0 and output either sign).
    """

    def __init__(self, width: int, residual: bool, batch_norm: bool, activation: str, branch_scale: float) -> None:
        super().__init__()
        _size("width", width)
        _checks.flag("batch_norm", batch_norm)
        self.linear = nn.Linear(width, width)
        self.bn = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
        self.act = _activation(activation)
        self.has_shortcut = _checks.flag("residual", residual)
        self.branch_scale = _checks.number("branch_scale", branch_scale)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x) = act(BN(Wx + b))."""
        return self.act(self.bn(self.linear(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.has_shortcut:
            return x + self.branch_scale * self.residual(x)  # H(x) = x + s·F(x)
        return self.residual(x)


class PlainUnit(nn.Module):
    """H(x) = W₂ σ(W₁x + b₁) + b₂: two linear layers (``dim`` → ``width`` → ``dim``) that must produce H(x)
    directly — :class:`ResidualUnit` without its shortcut (lesson 02; He et al. 2015, Eq. 1)."""

    def __init__(self, dim: int, width: int, activation: str = "relu") -> None:
        super().__init__()
        _size("dim", dim)
        _size("width", width)
        self.fc1 = nn.Linear(dim, width)
        self.act = _activation(activation)
        self.fc2 = nn.Linear(width, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))  # H(x), learned from scratch


class ResidualUnit(PlainUnit):
    """H(x) = F(x) + x: the same two layers as :class:`PlainUnit`, now as F(x) = W₂ σ(W₁x + b₁) + b₂ beside an
    identity shortcut (He et al. 2015, Eq. 1 and Fig. 2), with nothing after the addition, so that
    ∂H/∂x = I + ∂F/∂x exactly (lessons 02 and 03).

    ``zero_init=True`` sets W₂ and b₂ to zero, so F(x) = 0 and the unit starts as the identity mapping.
    ``activation`` is σ: ``"relu"`` in lesson 02, ``"tanh"`` (smooth) for lesson 03's Jacobian check.
    """

    def __init__(self, dim: int, width: int, zero_init: bool = False, activation: str = "relu") -> None:
        super().__init__(dim, width, activation)
        _checks.flag("zero_init", zero_init)
        self.shortcut = nn.Identity()
        if zero_init:
            nn.init.zeros_(self.fc2.weight)
            nn.init.zeros_(self.fc2.bias)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the residual branch (the plain unit's two layers)."""
        return super().forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)  # H(x) = F(x) + x


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (what the papers' tables count)."""
    _checks.module("model", model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_flops(model: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward pass of ``model`` on ``x``, counted by ``torch.utils.flop_counter.FlopCounterMode``
    (convolutions and matrix products, 2 FLOPs per multiply-add; BN, ReLU and additions are not counted — the same
    convention as torchvision's published "GFLOPS", which are *multiply-adds*: divide by 2 to compare; lessons 06
    and 07)."""
    from torch.utils.flop_counter import FlopCounterMode

    from .runtime import one_thread

    _checks.module("model", model)
    _checks.tensor("x", x, finite=False, expected="the model's input (real or on the 'meta' device)")
    counter = FlopCounterMode(display=False)
    was_training = model.training
    with torch.no_grad(), counter, one_thread():
        model.eval()(x)
    model.train(was_training)
    return int(counter.get_total_flops())


def mlp(
    depth: int,
    width: int = 64,
    in_features: int = 2,
    out_features: int = 2,
    residual: bool = True,
    batch_norm: bool = False,
    activation: str = "relu",
    init: str = "default",
    branch_scale: float = 1.0,
) -> nn.Sequential:
    """A deep MLP: input linear, ``depth`` hidden blocks of size ``width``, output linear (lessons 03 and 05).

    ``init="default"`` keeps PyTorch's initialisation (the one that makes deep plain nets vanish), ``"he"`` uses
    He et al. 2015b's normal init. ``branch_scale`` multiplies each residual branch (e.g. 1/√depth keeps the
    forward pass of a deep He-initialised residual MLP bounded).
    """
    _checks.integer("depth", depth, low=1, high=2000, lift="Stack MLPBlock layers yourself for deeper nets.")
    for name, value in (("width", width), ("in_features", in_features), ("out_features", out_features)):
        _size(name, value)
    _checks.flag("residual", residual)
    _checks.flag("batch_norm", batch_norm)
    _checks.number("branch_scale", branch_scale, low=0)
    _activation(activation)  # a bad name fails here, before any layer is built
    if init not in ("default", "he"):
        raise ValueError(f"init must be 'default' (PyTorch's) or 'he' (He et al. 2015b); got {init!r}")
    layers: list[nn.Module] = [nn.Linear(in_features, width)]
    layers += [MLPBlock(width, residual, batch_norm, activation, branch_scale) for _ in range(depth)]
    layers.append(nn.Linear(width, out_features))
    net = nn.Sequential(*layers)
    return he_init(net) if init == "he" else net


def he_init(net: nn.Module) -> nn.Module:
    """He et al. 2015b ("Delving Deep into Rectifiers", Eq. 10) for every Linear layer of ``net``: normal weights of
    variance 2/fan_in, zero biases (lessons 02 and 03). Returns ``net``, changed in place."""
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return net
