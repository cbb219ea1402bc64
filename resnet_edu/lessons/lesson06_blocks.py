"""From three rules to BasicBlock, Bottleneck and the anatomy of ResNet-18/50 (lesson 06).

The blocks themselves live in :mod:`resnet_edu.nets`; this module *measures* them:

* :func:`check_rules` — runs a model with forward hooks and checks the three rules every block follows (He et al.
  2015, §3.3): (1) F(x) and the shortcut have the same shape, so they can be added; (2) a stage that halves the
  resolution doubles the width; (3) the shortcut is the identity unless the shape changes. A broken rule raises
  :class:`RuleBroken` naming the block, the rule and the cost.
* :func:`count_flops` (from :mod:`resnet_edu.nets`, the core) — FLOPs counted by PyTorch's
  ``torch.utils.flop_counter.FlopCounterMode`` (2 per multiply-add), never a hand-written formula;
  :func:`published_gflops` reads torchvision's published figure.
* :func:`compare_blocks` — BasicBlock vs Bottleneck at the same input/output width (He et al. 2015, Fig. 5).
* :func:`stage_table` — ResNet-18/50's Table 1 regenerated from the model: output size, parameters, FLOPs per stage.
* :func:`interchange` — a torchvision ResNet's ``state_dict`` in :func:`resnet_edu.nets.resnet18` (same logits),
  and ``fc = nn.Identity()`` as a feature extractor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import _checks
from ..nets import BasicBlock, Bottleneck, BuildingBlock, ShortcutA, _downsample, count_flops, count_parameters
from ..runtime import one_thread, seeded

MODELS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


class RuleBroken(ValueError):
    """A block breaks one of the three rules of :func:`check_rules`."""


@dataclass
class BlockRecord:
    """What :func:`check_rules` saw at one block: input and output shape (C, H, W) and the kind of shortcut."""

    name: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    shortcut: str

    def __str__(self) -> str:
        return f"{self.name:<10} {str(self.in_shape):>15} → {str(self.out_shape):<15} shortcut: {self.shortcut}"


def shortcut_kind(block: BuildingBlock) -> str:
    """"identity" (``downsample`` is None, as in torchvision), "option A" (parameter-free subsample + zero channels),
    "projection" or "none" (a plain block, ``has_shortcut=False``)."""
    if not block.has_shortcut:
        return "none"
    shortcut = block.downsample
    if shortcut is None or isinstance(shortcut, nn.Identity):
        return "identity"
    if isinstance(shortcut, ShortcutA):
        return "option A"
    return "projection" if any(True for _ in shortcut.parameters()) else type(shortcut).__name__


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n or type(m).__name__, m) for n, m in model.named_modules() if isinstance(m, (BasicBlock, Bottleneck))]


def check_rules(model: nn.Module, x: torch.Tensor) -> list[BlockRecord]:
    """Run ``model`` on ``x`` and check the three rules at every BasicBlock/Bottleneck; return what each block saw.

    Rule 1 is enforced by PyTorch itself (adding tensors of different shapes raises a ``RuntimeError``, which
    propagates). Rule 2 and rule 3 raise :class:`RuleBroken` with the block's name (He et al. 2015, §3.3).
    """
    _checks.tensor("x", x, ndim=4, expected="a batch of images (N, C, H, W)")
    blocks = _blocks(model)
    if not blocks:
        raise ValueError("model has no BasicBlock or Bottleneck to check")
    seen: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, (tuple(i[0].shape[1:]),
                                                                                     tuple(o.shape[1:]))))
             for name, m in blocks]
    try:
        with torch.no_grad(), one_thread():
            model.eval()(x)
    finally:
        for h in hooks:
            h.remove()
    records = []
    for name, m in blocks:
        (c_in, h_in, _), (c_out, h_out, _) = seen[name]
        record = BlockRecord(name, seen[name][0], seen[name][1], shortcut_kind(m))
        if h_out != h_in and (h_out != (h_in + 1) // 2 or c_out != 2 * c_in):
            raise RuleBroken(
                f"rule 2 broken at {name}: the resolution goes {h_in}→{h_out} and the width {c_in}→{c_out}; a stage "
                f"that halves the resolution must double the width ({c_in}→{2 * c_in}), so that every layer costs "
                "about the same FLOPs (He et al. 2015, §3.3)")
        if (c_in, h_in) == (c_out, h_out) and record.shortcut == "projection":
            extra = count_parameters(m.downsample)
            raise RuleBroken(
                f"rule 3 broken at {name}: the shape does not change ({c_in}×{h_in}×{h_in}) but the shortcut is a "
                f"projection with {extra:,} parameters; use the identity shortcut (downsample=None), which is free "
                "and keeps the path x → output exactly the identity (He et al. 2015, §4.1, Table 3: option C's "
                "projections everywhere add cost for a marginal gain)")
        records.append(record)
    return records


def make_stage(in_channels: int, out_channels: int, blocks: int, stride: int, shortcut: str = "B") -> nn.Sequential:
    """``blocks`` BasicBlocks, the first one at ``stride``; each shortcut the identity unless the shape changes
    (then option "A" or "B", He et al. 2015, §3.3). Nothing here enforces rule 2: :func:`check_rules` does."""
    _checks.integer("in_channels", in_channels, low=1)
    _checks.integer("out_channels", out_channels, low=1)
    _checks.integer("blocks", blocks, low=1, high=100)
    _checks.choice("stride", stride, (1, 2))
    _checks.choice("shortcut", shortcut, ("A", "B"))
    layers, c_in = [], in_channels
    for j in range(blocks):
        s = stride if j == 0 else 1
        layers.append(BasicBlock(c_in, out_channels, s, _downsample(c_in, out_channels, s, shortcut, True)))
        c_in = out_channels
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------------------------------------------
# Counting: parameters and FLOPs
# --------------------------------------------------------------------------------------------------------------


def published_gflops(name: str) -> float:
    """torchvision's published "GFLOPS" (multiply-adds, in 10⁹) of model ``name`` at 224×224, read from its weights'
    metadata (offline; ``torchvision.models.get_model_weights(name).DEFAULT.meta["_ops"]``)."""
    from torchvision.models import get_model_weights

    if not isinstance(name, str):
        raise TypeError(f"name must be a torchvision model name such as 'resnet18'; got {type(name).__name__}")
    try:
        return float(get_model_weights(name).DEFAULT.meta["_ops"])
    except (ValueError, KeyError) as err:
        raise ValueError(f"torchvision publishes no FLOPs for {name!r}; try one of {', '.join(MODELS)}") from err


@dataclass
class BlockCost:
    """Parameters and FLOPs of one block on one input (see :func:`compare_blocks`)."""

    name: str
    params: int
    flops: int
    layers: str


@dataclass
class BlockComparison:
    """BasicBlock vs Bottleneck at the same input/output width (He et al. 2015, Fig. 5)."""

    width: int
    size: int
    costs: list[BlockCost]

    def cost(self, name: str) -> BlockCost:
        """The cost of block ``name`` ("BasicBlock" or "Bottleneck")."""
        costs = {c.name: c for c in self.costs}
        return costs[_checks.choice("name (a compared block)", name, costs)]

    def __str__(self) -> str:
        rows = [f"{self.width} channels in and out, {self.size}×{self.size} feature map",
                f"{'block':<11} {'layers':<30} {'parameters':>11} {'GFLOPs':>8}"]
        rows += [f"{c.name:<11} {c.layers:<30} {c.params:>11,} {c.flops / 1e9:>8.3f}" for c in self.costs]
        return "\n".join(rows)

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        """Parameters and FLOPs side by side, one bar per block."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(8, 3))
        names = [c.name for c in self.costs]
        for ax, values, label in ((axes[0], [c.params / 1e3 for c in self.costs], "parameters (thousands)"),
                                  (axes[1], [c.flops / 1e9 for c in self.costs], "GFLOPs per image")):
            ax.bar(names, values, color=["tab:gray", "tab:blue"][: len(names)])
            ax.set_ylabel(label)
            ax.set_title(label.split(" (")[0].capitalize())
        fig.suptitle(f"One block, {self.width} channels in and out, on a {self.size}×{self.size} map")
        fig.tight_layout()
        return fig


def compare_blocks(width: int = 256, size: int = 56) -> BlockComparison:
    """A BasicBlock (two 3×3 convs at ``width``) and a Bottleneck (1×1 to width/4, 3×3, 1×1 back to ``width``), both
    ``width`` → ``width`` with an identity shortcut, costed on one ``size``×``size`` map (He et al. 2015, Fig. 5)."""
    _checks.integer("width", width, low=4, high=4096)
    _checks.integer("size", size, low=1, high=512)
    if width % 4:
        raise ValueError(f"width must be divisible by 4 (the bottleneck's expansion); got {width}")
    with torch.device("meta"):  # counting needs only shapes: no memory, no arithmetic
        basic = BasicBlock(width, width)  # downsample=None: the identity shortcut
        bottleneck = Bottleneck(width, width // 4)
        x = torch.empty(1, width, size, size)
    q = width // 4
    return BlockComparison(width, size, [
        BlockCost("BasicBlock", count_parameters(basic), count_flops(basic, x), f"3×3 {width}, 3×3 {width}"),
        BlockCost("Bottleneck", count_parameters(bottleneck), count_flops(bottleneck, x),
                  f"1×1 {q}, 3×3 {q}, 1×1 {width}"),
    ])


# --------------------------------------------------------------------------------------------------------------
# The stage table (He et al. 2015, Table 1), regenerated with forward hooks
# --------------------------------------------------------------------------------------------------------------

_STAGES = (("conv1", ("conv1", "bn1", "relu")), ("maxpool", ("maxpool",)), ("layer1", ("layer1",)),
           ("layer2", ("layer2",)), ("layer3", ("layer3",)), ("layer4", ("layer4",)),
           ("avgpool + fc", ("avgpool", "fc")))


@dataclass
class StageRow:
    """One row of :class:`StageTable`: output shape (C, H, W) after the stage, its parameters and FLOPs."""

    stage: str
    out_shape: tuple[int, ...]
    params: int
    flops: int


@dataclass
class StageTable:
    """ResNet stage by stage, measured (He et al. 2015, Table 1); ``total_gflops`` in multiply-adds like torchvision."""

    name: str
    size: int
    rows: list[StageRow]
    total_params: int
    total_flops: int

    @property
    def sizes(self) -> list[int]:
        """Output resolution after each stage (112, 56, 56, 28, 14, 7, 1 for ResNets at 224)."""
        return [r.out_shape[-1] if len(r.out_shape) == 3 else 1 for r in self.rows]

    @property
    def total_gmacs(self) -> float:
        """Multiply-adds in 10⁹ (FLOPs / 2): the unit of torchvision's published "GFLOPS"."""
        return self.total_flops / 2e9

    def row(self, stage: str) -> StageRow:
        """The row of ``stage`` (one of the table's stages, e.g. "conv2_x")."""
        rows = {r.stage: r for r in self.rows}
        return rows[_checks.choice("stage", stage, rows)]

    def __str__(self) -> str:
        lines = [f"{self.name} at {self.size}×{self.size}",
                 f"{'stage':<13} {'output (C, H, W)':<18} {'parameters':>11} {'GFLOPs':>8} {'% FLOPs':>8}"]
        for r in self.rows:
            lines.append(f"{r.stage:<13} {str(r.out_shape):<18} {r.params:>11,} {r.flops / 1e9:>8.3f} "
                         f"{100 * r.flops / self.total_flops:>7.1f}%")
        lines.append(f"{'total':<13} {'':<18} {self.total_params:>11,} {self.total_flops / 1e9:>8.3f}   "
                     f"= {self.total_gmacs:.3f} G multiply-adds")
        return "\n".join(lines)

    def plot(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Parameters and FLOPs per stage as shares of the total: where the weights live vs where the work is."""
        import numpy as np

        from ..viz import axes

        ax = axes(ax, figsize=(8, 3.5))
        idx = np.arange(len(self.rows))
        ax.bar(idx - 0.2, [100 * r.params / self.total_params for r in self.rows], 0.4, label="parameters")
        ax.bar(idx + 0.2, [100 * r.flops / self.total_flops for r in self.rows], 0.4, label="FLOPs")
        ax.set_xticks(idx, [f"{r.stage}\n{r.out_shape[-1]}×{r.out_shape[-1]}" if len(r.out_shape) == 3 else r.stage
                            for r in self.rows])
        ax.set_ylabel("% of the whole network")
        ax.set_title(f"{self.name}: where the parameters and the FLOPs are")
        ax.legend()
        return ax


def stage_table(name: str = "resnet18", size: int = 224) -> StageTable:
    """Build ``resnet_edu.nets.<name>`` and measure each stage on one ``size``×``size`` image: the output shape with
    forward hooks, parameters per stage, FLOPs per stage from ``FlopCounterMode``'s per-module counts. The model
    lives on PyTorch's ``meta`` device (shapes only), so even ResNet-152 is measured in a fraction of a second."""
    from torch.utils.flop_counter import FlopCounterMode

    from .. import nets

    _checks.choice("name", name, MODELS)
    _checks.integer("size", size, low=32, high=1024)
    with torch.device("meta"):  # shapes, parameters and FLOPs need no real weights
        model = getattr(nets, name)().eval()
        x = torch.empty(1, 3, size, size)
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [getattr(model, mods[-1]).register_forward_hook(
        lambda m, i, o, stage=stage: shapes.__setitem__(stage, tuple(o.shape[1:]))) for stage, mods in _STAGES]
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter, one_thread():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    per_module = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    prefix = type(model).__name__
    rows = []
    for stage, mods in _STAGES:
        params = sum(count_parameters(getattr(model, m)) for m in mods)
        flops = sum(per_module.get(f"{prefix}.{m}", 0) for m in mods)
        rows.append(StageRow(stage, shapes[stage], params, int(flops)))
    return StageTable(name, size, rows, count_parameters(model), int(counter.get_total_flops()))


# --------------------------------------------------------------------------------------------------------------
# Interchangeability with torchvision
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Interchange:
    """A torchvision ResNet's weights loaded into ours: same keys, the largest logit difference, feature shape."""

    name: str
    same_keys: bool
    max_abs_diff: float
    feature_shape: tuple[int, ...]

    def __str__(self) -> str:
        return (f"torchvision {self.name} → resnet_edu.nets.{self.name}: state_dict keys identical: {self.same_keys}; "
                f"max |logit difference| = {self.max_abs_diff:.1e}; with fc = nn.Identity() the output is "
                f"{self.feature_shape} features")


def interchange(name: str = "resnet18", size: int = 64, seed: int = 0) -> Interchange:
    """Build torchvision's ``name`` with random weights (no download), load its ``state_dict`` with ``strict=True``
    into ``resnet_edu.nets.<name>``, compare logits on a random batch; then set ``fc = nn.Identity()``."""
    import torchvision

    from .. import nets

    _checks.choice("name", name, MODELS)
    _checks.integer("size", size, low=32, high=512)
    _checks.seed(seed)
    with seeded(seed):
        theirs = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.randn(2, 3, size, size)
    ours = getattr(nets, name)().eval()
    same_keys = list(theirs.state_dict()) == list(ours.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    with torch.no_grad(), one_thread():
        diff = float((ours(x) - theirs(x)).abs().max())
        ours.fc = nn.Identity()
        features = ours(x)
    return Interchange(name, same_keys, diff, tuple(features.shape))
