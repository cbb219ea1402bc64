"""ResNets behave like ensembles of relatively shallow networks (lesson 09; Veit, Wilber & Belongie 2016).

Unroll n residual blocks y = x + F(x) and the output is a sum over 2ⁿ *paths*: each block is either passed
through its branch F or skipped along its shortcut, so the number of paths of length k is the binomial C(n, k)
(Veit et al. 2016, §3, Eq. 3–4). Two experiments of the paper, run on a trained plain net and its ResNet twin:

* :func:`lesion_study` — delete one block at a time, then k random blocks, and measure the test accuracy (§4,
  Fig. 3 and 5): a ResNet loses little for most blocks and declines step by step with k, a plain net collapses to
  chance whichever block goes. Only blocks whose
  input and output shapes agree can be deleted (:func:`deletable_blocks`): the downsampling blocks cannot.
* :func:`path_gradients` — the gradient that flows along paths of each length k (§5, Fig. 6): in the backward pass,
  k random blocks pass the gradient only through F, the other n − k only through the shortcut.
* :func:`train_stochastic_depth` — the lesion as a training method (Huang et al. 2016, "Deep Networks with
  Stochastic Depth", §3): each training step deletes every block l with probability 1 − p_l, p_l falling linearly to
  p_L = 0.5 (:func:`linear_decay`), and the test-time net scales each branch by p_l (:class:`StochasticDepthBlock`).
  The same lesion study then shows what that training changes.

:func:`train_nets` trains the nets once with the core's :func:`~resnet_edu.recipes.train_family` (lesson 01's recipe,
``recipes.QUICK``).
:func:`lesion_explorer` is the interactive version: tick blocks to delete, both nets are re-evaluated.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import _checks
from .. import data as _data
from .. import nets as _nets
from .. import recipes as _recipes
from .. import runtime as _runtime
from .. import train as _train
from .. import work as _work
from ..viz import KIND_COLORS

KINDS = _nets.KINDS  # ("plain", "residual")


# -- the trained nets ------------------------------------------------------------------------------------------
CPU_NETS = (("plain", 20), ("residual", 20), ("residual", 56))
GPU_NETS = (("plain", 56), ("residual", 56))
NETS = {"cpu": CPU_NETS, "gpu": GPU_NETS}


label = _recipes.label  # "plain-20", "residual-56"


def work(scale: str | None = None) -> _work.Work:
    """What :func:`train_nets` trains at ``scale``, in ResNet-56-equivalent images (benchmarks/work.py); the lesion
    and path evaluations after training are not counted."""
    scale = _work.check_scale(scale)
    return _work.Work("09", scale, _work.family_items(_recipes.pick(_recipes.QUICK, scale), _recipes.pick(NETS, scale),
                                                      eval_every=0), note="lesions/paths not counted")


def train_nets(
    nets: Sequence[tuple[str, int]] | None = None,
    seed: int = 0,
    scale: str | None = None,
    recipe: _recipes.Recipe | None = None,
    progress: bool = True,
) -> _recipes.Family:
    """Train the nets ``nets`` — (kind, depth) pairs — with one recipe and seed, and return them in eval mode.

    Defaults by scale: on the CPU plain-20, ResNet-20 and ResNet-56 with lesson 01's digits recipe (8×8, width 8,
    Adam, 100 steps: seconds each); on a GPU plain-56 and ResNet-56 on CIFAR-10 (``recipes.QUICK_GPU``; on digits,
    with a notice, when CIFAR-10 is absent).
    """
    scale = _runtime.scale() if scale is None else _checks.choice("scale", scale, _runtime.SCALES)
    specs = _recipes.check_nets(_recipes.pick(NETS, scale) if nets is None else nets)
    seed = _checks.seed(seed)
    if recipe is None:
        recipe = _recipes.pick(_recipes.QUICK, scale)
    else:
        _recipes.check_recipe(recipe)
    train, test, used = _recipes.load_data(recipe)
    if nets is None and used.dataset != recipe.dataset:  # no CIFAR-10: the CPU nets, which train on digits
        print(f"… so the CPU scale's nets are trained instead: {', '.join(label(*spec) for spec in CPU_NETS)}")
        specs = CPU_NETS
    return _recipes.train_family(used, specs, (seed,), data=(train, test), eval_every=0, progress=progress)


def _check_trained(nets: object) -> _recipes.Family:
    if not isinstance(nets, _recipes.Family):
        raise TypeError(f"nets must be the trained nets that train_nets() returns (a resnet_edu.recipes.Family); "
                        f"got {type(nets).__name__}")
    return nets


# -- blocks and deleting them ------------------------------------------------------------------------------------
def blocks(model: nn.Module) -> list[_nets.BuildingBlock]:
    """The building blocks of ``model`` in forward order (plain or residual: the same positions)."""
    found = [m for m in model.modules() if isinstance(m, _nets.BuildingBlock)]
    if not found:
        raise ValueError(f"model has no residual/plain building blocks (resnet_edu.nets.BasicBlock or Bottleneck); "
                         f"got a {type(model).__name__}")
    return found


def _keeps_shape(block: _nets.BuildingBlock) -> bool:
    convs = [m for name, m in block.named_modules() if isinstance(m, nn.Conv2d) and not name.startswith("downsample")]
    return all(c.stride == (1, 1) for c in convs) and convs[0].in_channels == convs[-1].out_channels


def deletable_blocks(model: nn.Module) -> list[int]:
    """Indices (into :func:`blocks`) of the blocks whose output has the shape of their input: only those can be
    replaced by the identity. The first block of each later stage downsamples, so it cannot (Veit et al. 2016, §4)."""
    return [i for i, block in enumerate(blocks(model)) if _keeps_shape(block)]


def _check_drop(model: nn.Module, drop: object) -> tuple[int, ...]:
    allowed = deletable_blocks(model)
    items = _checks.sequence("drop", drop, min_len=0, unique=True)
    for i in items:
        if isinstance(i, bool) or not isinstance(i, int) or i not in allowed:
            raise ValueError(f"drop must list deletable block indices {allowed} (downsampling blocks cannot be "
                             f"deleted); got {i!r}")
    return tuple(items)


@contextlib.contextmanager
def without_blocks(model: nn.Module, drop: Sequence[int]) -> Iterator[nn.Module]:
    """Inside the ``with`` block, the blocks ``drop`` (indices into :func:`blocks`) are replaced by the identity:
    for a ResNet that removes F and keeps the shortcut (y = x), for a plain net it removes the block's layers.
    The model is restored afterwards, even after an error."""
    drop = _check_drop(model, drop)
    found = blocks(model)
    targets = {id(found[i]) for i in drop}
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    try:
        for parent in model.modules():
            for name, child in parent.named_children():
                if id(child) in targets:
                    swapped.append((parent, name, child))
        for parent, name, _ in swapped:
            setattr(parent, name, nn.Identity())  # H(x) = x: the block is gone
        yield model
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


def accuracy_without(model: nn.Module, data: _data.ImageData, drop: Sequence[int]) -> float:
    """Test accuracy of ``model`` on ``data`` with the blocks ``drop`` deleted (Veit et al. 2016, §4)."""
    with without_blocks(model, drop):
        return _train.evaluate(model, data)["acc"]


# -- the lesion study --------------------------------------------------------------------------------------------
def _style(name: str) -> dict[str, Any]:
    kind, depth = name.rsplit("-", 1)
    deep = int(depth) > 20 and kind == "residual"
    return {"color": "navy" if deep else KIND_COLORS.get(kind, "grey"), "marker": "s" if deep else "o"}


@dataclass
class LesionResult:
    """Test accuracy after deleting blocks (Veit et al. 2016, §4, Fig. 3 and Fig. 5), per net (keyed by label).

    ``baseline[net]``: nothing deleted. ``deletable[net]``: the blocks that can be deleted; ``single[net][j]``: the
    accuracy with block ``deletable[net][j]`` deleted. ``random[net][k]``: one accuracy per random set of k blocks.
    """

    deletable: dict[str, list[int]]
    baseline: dict[str, float]
    single: dict[str, list[float]]
    random: dict[str, dict[int, list[float]]]

    def _net(self, net: str) -> str:
        if net not in self.baseline:
            raise ValueError(f"net must be one of the studied nets {', '.join(map(repr, self.baseline))}; got {net!r}")
        return net

    def mean_random(self, net: str, k: int) -> float:
        """Mean accuracy of ``net`` over the random sets of ``k`` deleted blocks."""
        runs = self.random[self._net(net)]
        if k not in runs:
            raise ValueError(f"k must be one of the measured 0 … {max(runs)}; got {k!r}")
        return sum(runs[k]) / len(runs[k])

    def median_single(self, net: str) -> float:
        """The median accuracy over the single deletions of ``net`` (the upper median for an even count)."""
        ordered = sorted(self.single[self._net(net)])
        return ordered[len(ordered) // 2]

    def kept(self, net: str) -> float:
        """The mean over the single deletions of ``net`` of the accuracy kept, accuracy / intact accuracy."""
        accs = self.single[self._net(net)]
        return sum(accs) / len(accs) / self.baseline[net]

    def worst_block(self, net: str) -> int:
        """The block (index into :func:`blocks`) whose deletion costs ``net`` the most accuracy."""
        accs = self.single[self._net(net)]
        return self.deletable[net][accs.index(min(accs))]

    def drop(self, net: str) -> list[float]:
        """Accuracy lost by deleting each single block: baseline − accuracy (same order as ``deletable[net]``)."""
        return [self.baseline[self._net(net)] - a for a in self.single[net]]

    def table(self) -> str:
        """Accuracy per net: nothing deleted, the best and worst single deletion, the median, and k random blocks."""
        rows = [f"{'net':>12} {'intact':>7} {'one block deleted: worst':>25} {'median':>7} {'best':>6}"]
        for net, accs in self.single.items():
            ordered, median = sorted(accs), self.median_single(net)
            rows.append(f"{net:>12} {self.baseline[net]:7.1%} {ordered[0]:25.1%} {median:7.1%} {ordered[-1]:6.1%}")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.table()

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        """Left: accuracy with each single block deleted (Veit et al. Fig. 3); right: accuracy against the number
        of randomly deleted blocks, mean and min–max over the random sets (Fig. 5)."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.2))
        for net in self.single:
            style = _style(net)
            left.plot(self.deletable[net], self.single[net], ls="-", lw=1, label=f"{net}: one block deleted", **style)
            left.axhline(self.baseline[net], color=style["color"], ls="--", lw=1)
            ks = sorted(self.random[net])
            runs = [self.random[net][k] for k in ks]
            right.plot(ks, [sum(r) / len(r) for r in runs], ls="-", label=f"{net} (mean)", **style)
            right.fill_between(ks, [min(r) for r in runs], [max(r) for r in runs], color=style["color"], alpha=0.12)
        for ax in (left, right):
            ax.axhline(0.1, color="grey", ls=":", lw=1, label="chance (10 classes)")
            ax.set_ylabel("test accuracy")
            ax.set_ylim(0, 1)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        left.set_xlabel("deleted block (index from the input side; dashed: nothing deleted)")
        left.set_title("Deleting one block (Veit et al. 2016, Fig. 3)")
        right.set_xlabel("number of blocks deleted at random (band: min–max over the random sets)")
        right.set_title("Deleting k random blocks (Veit et al. 2016, Fig. 5)")
        fig.tight_layout()
        return fig


def _random_sets(deletable: list[int], samples: int, points: int,
                 generator: torch.Generator) -> dict[int, list[tuple[int, ...]]]:
    n = len(deletable)
    ks = sorted({round(i * n / (points - 1)) for i in range(points)}) if n >= points else range(n + 1)
    sets = {}
    for k in ks:
        draws = 1 if k in (0, len(deletable)) else samples  # there is one way to delete none or all
        sets[k] = [tuple(sorted(deletable[j] for j in torch.randperm(len(deletable), generator=generator)[:k]
                                .tolist())) for _ in range(draws)]
    return sets


def lesion_study(
    nets: _recipes.Family, names: Sequence[str] | None = None, samples: int = 4, points: int = 8, seed: int = 0,
    progress: bool = True,
) -> LesionResult:
    """Delete each deletable block alone, then ``samples`` random sets of k blocks, from each net in ``names``
    (default: all of ``nets``); return the test accuracies (Veit et al. 2016, §4). k takes every value from 0 to the
    number of deletable blocks, or ``points`` evenly spaced ones when there are more. Nets with the same blocks get
    the same random sets."""
    _check_trained(nets)
    names = tuple(nets.models) if names is None else _checks.sequence("names", names, unique=True)
    models = {name: nets[name] for name in names}
    samples = _checks.integer("samples", samples, low=1, high=200, lift="Call lesion_study again with another seed.")
    points = _checks.integer("points", points, low=2, high=1000)
    generator = torch.Generator().manual_seed(_checks.seed(seed))
    deletable = {name: deletable_blocks(m) for name, m in models.items()}
    sets_by_layout: dict[tuple[int, ...], dict[int, list[tuple[int, ...]]]] = {}
    for blocks_ in deletable.values():
        if tuple(blocks_) not in sets_by_layout:
            sets_by_layout[tuple(blocks_)] = _random_sets(blocks_, samples, points, generator)
    total = sum(len(deletable[n]) + sum(map(len, sets_by_layout[tuple(deletable[n])].values())) for n in names)
    baseline, single, random = {}, {}, {}
    with _runtime.one_thread(), tqdm(total=total, desc="deleting blocks", disable=not progress) as bar:
        for name, net in models.items():
            single[name] = []
            for i in deletable[name]:
                single[name].append(accuracy_without(net, nets.test, [i]))
                bar.update(1)
            random[name] = {}
            for k, drops in sets_by_layout[tuple(deletable[name])].items():
                random[name][k] = []
                for drop in drops:
                    random[name][k].append(accuracy_without(net, nets.test, drop))
                    bar.update(1)
            baseline[name] = random[name][0][0]
    return LesionResult(deletable, baseline, single, random)


# -- stochastic depth: the lesion during training (Huang et al. 2016) -------------------------------------------
class StochasticDepthBlock(_nets.BasicBlock):
    """He et al.'s basic block trained with stochastic depth (Huang et al. 2016, §3, Eq. 2 and 5; lesson 09's page
    writes the same class): in training mode the block is deleted — y = x — with probability 1 − ``survival`` (p_l),
    one draw per mini-batch; in eval mode its branch is scaled by p_l, its expected share during training."""

    survival = 1.0  # p_l, set per block by linear_decay()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)  # x, or the shortcut that changes the shape
        if self.training and torch.rand(()) > self.survival:
            return torch.relu(shortcut)  # deleted for this mini-batch: y = x
        out = self.residual(x)  # F(x)
        if not self.training:
            out = self.survival * out  # test time: F weighted by how often it was there in training
        return self.relu(out + shortcut)


def linear_decay(model: nn.Module, p_last: float = 0.5) -> list[float]:
    """Huang et al. 2016's linear decay rule (§3, Eq. 4): block l of L survives with p_l = 1 − l/L · (1 − p_L),
    from nearly 1 at the input to ``p_last`` (p_L, 0.5 in the paper) at the output. Sets each block's ``survival``
    and returns the p_l."""
    p_last = _checks.number("p_last", p_last, low=0, high=1, low_inclusive=False)
    found = blocks(model)
    for l, block in enumerate(found, 1):
        block.survival = 1 - l / len(found) * (1 - p_last)
    return [block.survival for block in found]


def train_stochastic_depth(
    nets: _recipes.Family, depth: int | None = None, block: type[nn.Module] = StochasticDepthBlock,
    survival: Any = linear_decay, p_last: float = 0.5, seed: int = 0, progress: bool = True,
) -> _recipes.Family:
    """Train the ResNet of depth ``depth`` (default: the depth of ``nets.pair``) again with stochastic depth: built
    from ``block`` (lesson 09's page passes its own), ``survival(model, p_last)`` setting each block's p_l before
    training, with the recipe, data and ``seed`` of ``nets`` (Huang et al. 2016). Returns it as a
    :class:`~resnet_edu.recipes.Family` of one net, in eval mode, for :func:`lesion_study`."""
    _check_trained(nets)
    depth = int(nets.pair[1].rsplit("-", 1)[1]) if depth is None else _nets.check_depth(depth)
    block = _nets.check_block(block)
    if not callable(survival):
        raise TypeError(f"survival must be a function (model, p_last) that sets each block's p_l, such as "
                        f"linear_decay; got {survival!r}")
    p_last = _checks.number("p_last", p_last, low=0, high=1, low_inclusive=False)

    def decay(model: nn.Module, name: str) -> None:  # called on the freshly built net, before it trains
        survival(model, p_last)

    return _recipes.train_family(nets.recipe, [("residual", depth)], (_checks.seed(seed),),
                                 data=(nets.train, nets.test), eval_every=0, blocks={"residual": block},
                                 recorder=decay, progress=progress)


# -- paths -----------------------------------------------------------------------------------------------------
def path_counts(n: int) -> list[int]:
    """Number of paths of each length k = 0 … n through n residual blocks: C(n, k) (Veit et al. 2016, Eq. 4).
    They sum to 2ⁿ."""
    n = _checks.integer("n", n, low=0, high=10_000)
    return [math.comb(n, k) for k in range(n + 1)]


def path_length_distribution(n: int) -> list[float]:
    """Fraction of the 2ⁿ paths that have length k: the binomial distribution B(n, 1/2) (Veit et al. Fig. 6a)."""
    counts = path_counts(n)
    total = 2 ** (len(counts) - 1)
    return [c / total for c in counts]


class _Routed(nn.Module):
    """A residual block whose backward pass goes through only one of its two summands: ``route="branch"`` lets
    the gradient through F only, ``"shortcut"`` through the shortcut only. The forward value is unchanged."""

    def __init__(self, block: _nets.BuildingBlock, route: str) -> None:
        super().__init__()
        self.block, self.route = block, route

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch, shortcut = self.block.residual(x), self.block.shortcut(x)
        if self.route == "branch":
            shortcut = shortcut.detach()
        else:
            branch = branch.detach()
        return self.block.relu(branch + shortcut)  # the value of relu(F(x) + x), gradient along one summand


@dataclass
class PathGradients:
    """Gradient magnitude at the input of the first block carried by single paths of each length k (Veit et al.
    2016, §5, Fig. 6). ``measured[k]``: the norm of ∂L/∂x₀ (mean over a batch) for each sampled path through k
    branches, ``per_path[k]`` their mean;
    ``counts[k]`` = C(n, k); ``total[k]`` = ``per_path[k]`` × ``counts[k]``: what all paths of length k carry."""

    n: int
    per_path: list[float]
    measured: list[list[float]]
    counts: list[int] = field(init=False)
    total: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.counts = path_counts(self.n)
        self.total = [g * c for g, c in zip(self.per_path, self.counts)]

    @property
    def mean_length(self) -> float:
        """The mean path length n/2 of the binomial distribution."""
        return self.n / 2

    @property
    def peak_length(self) -> int:
        """The path length whose paths together carry the most gradient."""
        return max(range(self.n + 1), key=lambda k: self.total[k])

    def share(self, up_to: int) -> float:
        """Fraction of the summed gradient magnitude carried by paths of length ≤ ``up_to`` (0 … n)."""
        up_to = _checks.integer("up_to (a path length)", up_to, low=0)
        if up_to > self.n:
            raise ValueError(f"up_to (a path length) must be between 0 and {self.n}: paths through {self.n} blocks are "
                             f"at most {self.n} long (share({self.n}) is 1); got {up_to}")
        return sum(self.total[: up_to + 1]) / sum(self.total)

    def __str__(self) -> str:
        return (f"{self.n} blocks, {2 ** self.n} paths (mean length {self.mean_length:g}); gradient per path falls "
                f"from {self.per_path[0]:.3g} (length 0) to {self.per_path[-1]:.3g} (length {self.n}); paths of "
                f"length {self.peak_length} carry the most in total; length ≤ {self.n // 2 - 1}: "
                f"{self.share(self.n // 2 - 1):.0%} of it")

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        """Three panels as in Veit et al. Fig. 6: (a) path-length distribution, (b) gradient per path of length k,
        (c) total gradient magnitude per path length."""
        import matplotlib.pyplot as plt

        ks = list(range(self.n + 1))
        fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
        axes[0].bar(ks, path_length_distribution(self.n), color="tab:blue")
        axes[0].set_title(f"(a) Path lengths through {self.n} blocks: B({self.n}, ½)")
        axes[0].set_ylabel("fraction of all paths")
        for k, values in zip(ks, self.measured):
            axes[1].scatter([k] * len(values), values, s=8, color="tab:blue", alpha=0.35,
                            label="one sampled path" if k == 0 else None)
        axes[1].plot(ks, self.per_path, "o-", color="navy", label="mean")
        axes[1].set_yscale("log")
        axes[1].set_title("(b) Gradient magnitude along one path")
        axes[1].set_ylabel("‖∂L/∂x₀‖ per example")
        axes[1].legend(fontsize=8)
        axes[2].bar(ks, self.total, color="tab:blue")
        axes[2].axvline(self.mean_length, color="grey", ls="--", label=f"mean path length {self.mean_length:g}")
        axes[2].set_title("(c) Total gradient magnitude per path length")
        axes[2].set_ylabel("(b) × number of paths")
        axes[2].legend(fontsize=8)
        for ax in axes:
            ax.set_xlabel("path length k (blocks whose branch F the path goes through)")
            ax.grid(True, alpha=0.3)
        fig.tight_layout()
        return fig


def _cifar_resnet(model: object) -> _nets.CifarResNet:
    if not isinstance(model, _nets.CifarResNet) or not model.has_shortcuts:
        raise TypeError(f"model must be a residual resnet_edu.nets.CifarResNet (cifar_net(..., residual=True)); got "
                        f"{type(model).__name__}{'' if not isinstance(model, _nets.CifarResNet) else ' (plain)'}")
    return model


def path_gradients(
    model: nn.Module, data: _data.ImageData, samples: int = 10, batch_size: int = 128, seed: int = 0,
    progress: bool = True,
) -> PathGradients:
    """Veit et al. 2016, §5: for each path length k, ``samples`` times pick k random blocks whose backward pass goes
    through F only (the other n − k: through the shortcut only) and a random batch, and measure ‖∂L/∂x₀‖ per
    example at the input x₀ of the first block. ``model`` is a trained residual CIFAR net (eval mode)."""
    net = _cifar_resnet(model)
    data = _data.image_data("data", data)
    samples = _checks.integer("samples", samples, low=1, high=1000)
    batch_size = _checks.integer("batch_size", batch_size, low=1)
    if batch_size > len(data):
        raise ValueError(f"batch_size must be at most the number of images in data ({len(data)}); got {batch_size}")
    seed = _checks.seed(seed)
    stack = blocks(net)
    n = len(stack)
    generator = torch.Generator().manual_seed(seed)
    was_training = net.training
    net.eval()
    per_path, measured = [], []
    dev = next(net.parameters()).device
    with _runtime.one_thread(), tqdm(total=(n + 1) * samples, desc="gradients by path length",
                                     disable=not progress) as bar:
        for k in range(n + 1):
            values = []
            for _ in range(samples):
                through = set(torch.randperm(n, generator=generator)[:k].tolist())
                idx = torch.randperm(len(data), generator=generator)[:batch_size]
                x, y = data.x[idx].to(dev), data.y[idx].to(dev)
                x0 = net.relu(net.bn1(net.conv1(x))).detach().requires_grad_(True)
                h = x0
                for i, block in enumerate(stack):
                    h = _Routed(block, "branch" if i in through else "shortcut")(h)
                logits = net.fc(torch.flatten(net.avgpool(h), 1))
                (grad,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), x0)
                values.append(float(grad.flatten(1).norm(dim=1).mean()))
                bar.update(1)
            per_path.append(sum(values) / len(values))
            measured.append(values)
    net.train(was_training)
    return PathGradients(n, per_path, measured)


# -- the interactive version -----------------------------------------------------------------------------------
def lesion_explorer(nets: _recipes.Family, names: Sequence[str] | None = None) -> Any:
    """Lesson 09's app: one checkbox per deletable block; ticking it deletes that block from each net in ``names``
    (default: the plain net and the ResNet of the smallest depth trained) and re-evaluates their test accuracy
    (Veit et al. 2016, §4). The nets must have the same blocks. Display it with ``.show()``."""
    from ..widgets import SliderApp

    _check_trained(nets)
    if names is None:
        depth = min(int(name.rsplit("-", 1)[1]) for name in nets.models)
        names = [name for name in nets.models if name.endswith(f"-{depth}")]
    names = _checks.sequence("names", names, unique=True)
    layouts = {name: deletable_blocks(nets[name]) for name in names}
    if len({tuple(v) for v in layouts.values()}) != 1:
        raise ValueError(f"names must be nets with the same blocks (one depth); got {', '.join(names)}")
    deletable = layouts[names[0]]

    class LesionExplorer(SliderApp):
        """Checkboxes that delete blocks from trained nets; the bars show the re-evaluated test accuracy."""

        def __init__(self) -> None:
            import ipywidgets as W

            self.nets, self.names, self.deletable = nets, names, deletable
            controls = {f"block{i}": W.Checkbox(value=False, description=f"block {i}", indent=False,
                                                layout=W.Layout(width="90px"))
                        for i in deletable}
            super().__init__(controls, self.render_lesion, title="Tick blocks to delete them (then both nets are "
                             "re-evaluated on the test set)", savefig_kwargs={"dpi": 80},
                             precompute=len(controls))  # each box flipped, drawn ahead while the learner looks
            self.widget.children[-2].layout.flex_flow = "row wrap"  # many checkboxes wrap onto several lines

        def dropped(self, values: dict[str, Any]) -> list[int]:
            return [i for i in self.deletable if values[f"block{i}"]]

        def accuracies(self, drop: Sequence[int]) -> dict[str, float]:
            with _runtime.one_thread():
                return {name: accuracy_without(self.nets[name], self.nets.test, drop) for name in self.names}

        def render_lesion(self, **values: Any) -> Any:
            from matplotlib.figure import Figure

            drop = self.dropped(values)
            accs = self.accuracies(drop)
            fig = Figure(figsize=(6.5, 0.6 + 0.5 * len(accs)))
            ax = fig.add_subplot()
            ax.barh(list(accs), list(accs.values()), color=[_style(n)["color"] for n in accs])
            for j, acc in enumerate(accs.values()):
                ax.text(min(acc + 0.02, 0.88), j, f"{acc:.1%}", va="center")
            ax.axvline(0.1, color="grey", ls=":", lw=1, label="chance")
            ax.set_xlim(0, 1)
            ax.set_xlabel("test accuracy")
            ax.set_title(f"deleted blocks: {', '.join(map(str, drop)) if drop else 'none'}")
            fig.tight_layout()
            fig.set_layout_engine(None)  # laid out: savefig need not draw twice (same pixels)
            return fig

        def marker(self, values: dict[str, Any]) -> str:
            return f"rendered deleted={self.dropped(values)}"

    return LesionExplorer()
