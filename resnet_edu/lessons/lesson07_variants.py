"""Lesson 07's experiments: every variant in the same small net, why the shortcut stays the identity, pre- vs
post-activation at depth.

One idea — change one thing about the block and measure it — in three experiments, with the nets they train (which is
why the module is long). The blocks themselves are the catalogue :mod:`resnet_edu.zoo` (PreAct, SE, ECA, ResNeXt,
Wide, ResNet-D, inverted residual, ConvNeXt, their published builders); this module re-exports the names lesson 07
calls as ``edu.lessons.lesson07_variants.<name>`` and adds the study nets and what trains them:

* :func:`small_net` (any variant in the same small three-stage net), :func:`preact_cifar_net` (the pre-activation
  twin of :func:`resnet_edu.nets.cifar_net`), :func:`shortcut_study_net` (scaled, gated or 1×1-conv shortcuts);
* :func:`compare` → :class:`Comparison`: each variant's :func:`small_net`, same recipe, same steps;
* :func:`shortcut_study` → :class:`ShortcutStudy`: identity vs scaled, gated (the gate of Highway networks,
  Srivastava et al. 2015) and 1×1-conv shortcuts (He et al. 2016, Table 1);
* :func:`preact_study` → :class:`PreactStudy`: post- vs pre-activation CIFAR ResNets at depth (He et al. 2016, §4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .. import _checks
from .. import work as _work
from ..data import ImageData
from ..gradients import GradientProfile
from ..nets import (
    BuildingBlock,
    _conv1x1,
    cifar_net,
    count_flops,
    count_parameters,
)
from ..runtime import by_scale, one_thread, scale, seeded
from ..train import FitResult
from ..zoo import (  # noqa: F401  (the catalogue's names lesson 07 calls as edu.lessons.lesson07_variants.<name>)
    ECA,
    ECA_RESNET50_K,
    VARIANTS,
    ConvNeXt,
    ConvNeXtBlock,
    ECABottleneck,
    InvertedResidual,
    LayerNorm2d,
    MobileNetV2,
    PreActBlock,
    PreActCifarNet,
    ResNeXtBottleneck,
    SEBottleneck,
    SmallNet,
    SqueezeExcitation,
    WideBottleneck,
    _block,
    _convnext_downsample,
    block,
    convnext_tiny,
    eca_kernel_size,
    eca_resnet50,
    mobilenet_v2,
    preact_cifar_net,
    resnet50d,
    resnet_d_shortcut,
    resnext50_32x4d,
    se_resnet50,
    small_net,
    wide_resnet50_2,
)

SHORTCUT_KINDS = ("identity", "scaled", "gated", "conv1x1")
# The three studies' default sizes by scale. gpu (Colab's T4): all three within 1.0 M ResNet-56-equivalent training
# images (benchmarks/work.py) — the shortcut study at depth 56, fewer steps; paper: He et al. 2016's depth 110 and
# 2,000 steps each. The gpu sizes are unmeasured on a GPU.
COMPARE_SIZES = {"cpu": {"width": 16, "steps": 30}, "gpu": {"width": 32, "steps": 800},
                 "paper": {"width": 32, "steps": 2000}}
SHORTCUT_SIZES = {"cpu": {"depth": 32, "width": 8, "steps": 40}, "gpu": {"depth": 56, "width": 16, "steps": 700},
                  "paper": {"depth": 110, "width": 16, "steps": 2000}}
PREACT_SIZES = {"cpu": {"width": 8, "steps": 25}, "gpu": {"width": 16, "steps": 500},
                "paper": {"width": 16, "steps": 2000}}


def _sizes(table: dict[str, dict[str, int]], scale_: str | None = None) -> dict[str, int]:
    return table[scale() if scale_ is None else scale_]

# --------------------------------------------------------------------------------------------------------------
# The study nets at depth: "why the identity matters" (He et al. 2016, Table 1, Fig. 2). The small net of every
# variant and the pre-activation CIFAR net are in zoo (small_net, preact_cifar_net): the train CLI builds them too.
# --------------------------------------------------------------------------------------------------------------


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
    gating"); ``bias`` is b_g's initial value (0: the gate starts half open). The gate is Highway networks'
    (Srivastava et al. 2015, "Training Very Deep Networks": T(x)·H(x) + (1 − T(x))·x), whose full form is He et al.'s
    "exclusive gating" (Fig. 2(c)); this one gates the shortcut only."""

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
            if isinstance(m, BuildingBlock) and m.has_shortcut and m.downsample is None:  # the identity shortcuts
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
    from ..data import DatasetUnavailable, cifar10, digits

    if size is not None:
        _checks.integer("size", size, low=8, high=64)
    if scale() != "cpu" and size is None:
        try:
            return Task(cifar10(train=True, download=True), cifar10(train=False, download=True), scale())
        except DatasetUnavailable as err:
            print(f"CIFAR-10 is unavailable, so the digits stand in for it: {err}")
    size = size or 8
    return Task(digits(size, channels=3), digits(size, channels=3, train=False), scale())


def _forecast_on(forecast: bool | None) -> bool:
    """``forecast``, or by default on at the gpu and paper scales (as :func:`resnet_edu.recipes.train_family`)."""
    return scale() != "cpu" if forecast is None else _checks.flag("forecast", forecast)


def _forecast(weights: list[float], steps: int) -> _work.Forecast:
    """After the first net's first epoch, say how long the rest of this study should take. ``weights`` are the
    nets' FLOPs per image, in training order (every net trains ``steps``)."""
    return _work.Forecast(sum(weights), weights[0], steps, what="the rest of this study")


def _fit(model: nn.Module, data: Task, steps: int, lr: float, label: str, progress: bool,
         device: torch.device | str | None, seed: int, eval_every: int | None = None,
         after_first_epoch: _work.Forecast | None = None) -> FitResult:
    """The one place this module calls the trainer (SGD, momentum 0.9, constant lr, batch 64 on the CPU scale).
    ``seed`` is the lesson's: it draws the batch order (and augmentation), as the init's seed draws the weights."""
    from ..train import TrainConfig, fit

    config = TrainConfig(steps=steps, batch_size=by_scale(cpu=64, gpu=128), lr=lr, eval_every=eval_every or steps,
                         seed=seed, augment=data.scale != "cpu" and data.train.x.shape[-1] == 32,
                         schedule=by_scale("constant", "cosine"))
    return fit(model, data.train, config, eval_data=data.test, progress=progress, device=device, label=label,
               after_first_epoch=after_first_epoch)


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
        """The row of ``variant`` (one of the compared variants)."""
        rows = {r.variant: r for r in self.rows}
        return rows[_checks.choice("variant (one that was compared)", variant, rows)]

    def __str__(self) -> str:
        lines = [f"{self.steps} steps on {self.data} (one seed: test accuracy is kept out of the table, see below)",
                 f"{'variant':<11} {'train loss':>10} {'params':>9} {'MFLOPs/img':>10} {'ms/step':>8}"]
        lines += [f"{r.variant:<11} {r.train_loss:>10.3f} {r.params:>9,} {r.flops / 1e6:>10.2f} "
                  f"{r.ms_per_step:>8.1f}" for r in self.rows]
        return "\n".join(lines)

    def plot(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Parameters against FLOPs per image (log scales), one labelled point per variant: what each change costs.
        (Accuracy is not plotted: at this budget one seed's ranking reorders on the next.)"""
        from ..viz import axes

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
            progress: bool = True, forecast: bool | None = None) -> Comparison:
    """Train :func:`small_net` of each variant with the same recipe and number of steps on ``data``
    (default :func:`task`); measure test accuracy, parameters, FLOPs per image and time per step."""
    from tqdm.auto import tqdm

    variants = _checks.sequence("variants", variants, unique=True)
    for v in variants:
        _checks.choice("variant", v, VARIANTS)
    sizes = _sizes(COMPARE_SIZES)
    width = _checks.integer("width", width if width is not None else sizes["width"], low=4, high=256)
    steps = _checks.integer("steps", steps if steps is not None else sizes["steps"], low=1)
    _checks.seed(seed)
    data = data or task()
    rows = []
    hook = None
    if _forecast_on(forecast):
        with seeded(seed):
            weights = [count_flops(small_net(v, width, 1, data.train.in_channels, data.train.num_classes),
                                   data.train.x[:1].cpu()) for v in variants]
        hook = _forecast(weights, steps)
    for v in tqdm(variants, desc="variants", disable=not progress, leave=False):
        with seeded(seed):
            model = small_net(v, width, 1, data.train.in_channels, data.train.num_classes)
        flops = count_flops(model, data.train.x[:1].cpu())
        with one_thread():
            result = _fit(model, data, steps, by_scale(cpu=0.05, gpu=0.1), v, False, device, seed,
                          after_first_epoch=hook)
        hook = None
        # steady-state training time per step: capture, warm-up and evaluations are not steps (FitResult.clock)
        ms = result.ms_per_step() if len(result.clock) >= 2 else float("nan")
        rows.append(ComparisonRow(v, count_parameters(model), flops, result.evals[-1]["acc"],
                                  result.final_loss(max(1, steps // 5)), ms))
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
        from ..viz import plot_curves

        labels = {"identity": "h(x) = x", "scaled": "h(x) = 0.5·x", "gated": "h(x) = (1 − g(x))·x",
                  "conv1x1": "h(x) = W·x (1×1 conv)"}
        ax = plot_curves({labels[k]: r for k, r in self.results.items()}, ax=ax, smooth=10,
                         title=f"ResNet-{self.depth}: only the identity shortcut keeps training easy")
        return ax


def shortcut_study(kinds: tuple[str, ...] = SHORTCUT_KINDS, depth: int | None = None, width: int | None = None,
                   steps: int | None = None, data: Task | None = None, seed: int = 0,
                   device: torch.device | str | None = None, progress: bool = True,
                   forecast: bool | None = None) -> ShortcutStudy:
    """Train :func:`shortcut_study_net` once per shortcut kind, same seed and recipe (He et al. 2016, Table 1)."""
    from tqdm.auto import tqdm

    kinds = _checks.sequence("kinds", kinds, unique=True)
    for k in kinds:
        _checks.choice("kind", k, SHORTCUT_KINDS)
    sizes = _sizes(SHORTCUT_SIZES)
    depth = depth if depth is not None else sizes["depth"]
    width = _checks.integer("width", width if width is not None else sizes["width"], low=1, high=256)
    steps = _checks.integer("steps", steps if steps is not None else sizes["steps"], low=1)
    _checks.seed(seed)
    data = data or task()
    results = {}
    # the kinds differ only in their shortcuts, so their FLOPs are about equal
    hook = _forecast([1.0] * len(kinds), steps) if _forecast_on(forecast) else None
    for k in tqdm(kinds, desc="shortcuts", disable=not progress, leave=False):
        with seeded(seed):
            model = shortcut_study_net(k, depth, width, data.train.in_channels, data.train.num_classes)
        with one_thread():
            results[k] = _fit(model, data, steps, by_scale(cpu=0.1, gpu=0.1), k, False, device, seed,
                              after_first_epoch=hook)
        hook = None
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

        from ..viz import plot_curves

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
                 progress: bool = True, arms: tuple[str, ...] = PREACT_ARMS,
                 forecast: bool | None = None) -> PreactStudy:
    """Train ``nets.cifar_net(depth)`` (post-activation), the same with every block's last BN γ set to 0
    (``zero_init_residual``: each block starts as the identity, so the stream does not grow with depth — lesson
    03b) and :func:`preact_cifar_net` (pre-activation) with the same recipe; measure at init, on the first 64
    training images, each gradient profile (lesson 03b's), the loss and the spread of the logits (He et al. 2016,
    §4, Fig. 6; the zero γ of He et al. 2019, §3.1)."""
    from tqdm.auto import tqdm

    from ..gradients import gradient_profile
    from ..nets import check_depth

    depth = check_depth(depth if depth is not None else 110)
    sizes = _sizes(PREACT_SIZES)
    width = _checks.integer("width", width if width is not None else sizes["width"], low=1, high=256)
    steps = _checks.integer("steps", steps if steps is not None else sizes["steps"], low=1)
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
    # nets of one depth and width: about equal FLOPs
    hook = _forecast([1.0] * len(arms), steps) if _forecast_on(forecast) else None
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
            results[name] = _fit(model, data, steps, 0.1, name, False, device, seed, after_first_epoch=hook)
        hook = None
    return PreactStudy(depth, results, profiles, init_loss, logit_std)


def work(scale: str | None = None) -> _work.Work:
    """What the notebook's three studies train at ``scale`` (each net evaluated once at the end), in
    ResNet-56-equivalent images (benchmarks/work.py): :func:`shortcut_study`, :func:`preact_study` at depth 110 (the
    notebook's) and :func:`compare` of every variant."""
    from ..nets import cifar_net

    scale = _work.check_scale(scale)
    batch = 64 if scale == "cpu" else 128
    n_train, n_test, _, size = _work.data_sizes("digits" if scale == "cpu" else "cifar10", 8)
    c, k = 3, 10

    def item(label: str, model: nn.Module, steps: int) -> _work.Item:
        return _work.Item(label, _work.model_flops(model, c, size), steps * batch, n_test)

    items = []
    sc, pre, cmp_ = (_sizes(t, scale) for t in (SHORTCUT_SIZES, PREACT_SIZES, COMPARE_SIZES))
    with seeded(0):
        items += [item(f"shortcut {kind}", shortcut_study_net(kind, sc["depth"], sc["width"], c, k), sc["steps"])
                  for kind in SHORTCUT_KINDS]
        items += [item(f"post-act 110 ({arm})", cifar_net(110, width=pre["width"], in_channels=c, num_classes=k),
                       pre["steps"]) for arm in PREACT_ARMS[:2]]
        items.append(item("pre-act 110", preact_cifar_net(110, pre["width"], c, k), pre["steps"]))
        items += [item(f"variant {v}", small_net(v, cmp_["width"], 1, c, k), cmp_["steps"]) for v in VARIANTS]
    return _work.Work("07", scale, items)
