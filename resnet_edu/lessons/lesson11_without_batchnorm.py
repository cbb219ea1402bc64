"""Training a deep ResNet without BatchNorm: SkipInit, Fixup, ReZero (lesson 11).

De & Smith 2020, §2: at initialisation BatchNorm divides each residual branch by the size of the stream it reads, so
the k-th branch adds about as much variance as one unit while the stream has gathered k + 1 of them: the branch is
downscaled by about √(k + 1) relative to the skip, and a deep BN ResNet starts close to the identity. Without BN, at
He initialisation each branch adds a variance comparable to its input's, so the stream's variance *multiplies* block
after block, and the net trains badly at the learning rate the BN net takes. Scaling every branch to zero at
initialisation — SkipInit's learnable α = 0 (De & Smith 2020), which is ReZero's x + α·F(x) (Bachlechner et al.
2020), or Fixup's rescaled init with the branch's last layer at zero (Zhang et al. 2019) — gives back what BN gave.

The blocks are written on the notebook's page; this module holds the same classes (a test keeps the two equal), the
net they are stacked into (:class:`Stack`), and the two experiments the page runs with them:

* :func:`stream_variance` — the variance of the residual stream after every block at initialisation, and the size of
  each branch relative to the stream it reads;
* :func:`train_arms` — the same nets trained with the same recipe (the BN net's learning rate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import nn

from .. import _checks, viz
from .. import work as _work
from ..data import ImageData
from ..runtime import one_thread, scale, seeded
from ..train import FitResult, TrainConfig, fit

MAX_DEPTH = 200  # the most blocks a stack may have (a bound that keeps a run finite)
BlockFactory = Callable[[int], nn.Module]


def conv3x3(channels: int) -> nn.Conv2d:
    """A 3×3 convolution, stride 1, no bias, He-initialised (He et al. 2015b: normal weights of variance 2/fan_in)."""
    _checks.integer("channels", channels, low=1, high=4096)
    conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    return conv


# --- the blocks (the notebook writes the same classes on its page) ---


class ResidualBlock(nn.Module):
    """x + F(x) with F = ReLU → conv → ReLU → conv, no normalisation, He init (the BN-free ResNet block)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = conv3x3(channels), conv3x3(channels)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.relu(self.conv1(torch.relu(x))))  # F(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)  # x + F(x)


class BNResidualBlock(ResidualBlock):
    """The same block with BatchNorm in the branch: F = BN → ReLU → conv → BN → ReLU → conv (He et al. 2016)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.bn1, self.bn2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.relu(self.bn2(self.conv1(torch.relu(self.bn1(x))))))


class SkipInitBlock(ResidualBlock):
    """x + α·F(x) with a learnable scalar α that starts at 0 (SkipInit, De & Smith 2020; ReZero's block)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.alpha = nn.Parameter(torch.zeros(()))  # α = 0: the block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.alpha * self.branch(x)  # x + α·F(x)


class PlainBlock(ResidualBlock):
    """F(x) alone: the same layers without the shortcut (a plain BN-free net)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.branch(x)


class FixupBlock(ResidualBlock):
    """Fixup's rules for this block (Zhang et al. 2019), ``L`` the number of residual blocks in the net: the branch's
    last conv at zero, the other one's He init scaled by L^(-1/(2m-2)) = L^(-1/2) (m = 2 layers per branch), scalar
    biases before each conv and activation and a scalar multiplier at the end of the branch."""

    def __init__(self, channels: int, L: int) -> None:  # noqa: N803 (the paper's name)
        super().__init__(channels)
        with torch.no_grad():
            self.conv1.weight.mul_(L ** -0.5)  # rule 2: rescale the standard init
            self.conv2.weight.zero_()  # rule 1: the branch's last layer starts at 0
        self.bias = nn.Parameter(torch.zeros(4))  # rule 3: scalar biases ...
        self.scale = nn.Parameter(torch.ones(()))  # ... and one scalar multiplier

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bias
        h = torch.relu(self.conv1(torch.relu(x) + b[0]) + b[1])
        return self.scale * self.conv2(h + b[2]) + b[3]


def default_arms(depth: int) -> dict[str, BlockFactory]:
    """The five nets the lesson compares, by name: the same stack, only the block differs."""
    _checks.integer("depth", depth, low=1, high=MAX_DEPTH)
    return {"BN": BNResidualBlock, "no BN": ResidualBlock, "SkipInit": SkipInitBlock,
            "Fixup": partial(FixupBlock, L=depth), "plain": PlainBlock}


# --- the net the blocks are stacked into ---


class Stack(nn.Module):
    """stem conv → ``depth`` blocks of ``channels`` channels (no downsampling) → ReLU → flatten → linear classifier.

    Every arm of the lesson is this net with another block; the stem and head are the same (PyTorch's default init for
    the classifier, He init for the stem)."""

    def __init__(self, block: BlockFactory, depth: int, channels: int, in_channels: int, num_classes: int,
                 size: int) -> None:
        super().__init__()
        if not callable(block):
            raise TypeError(f"block must be a block class or a function of the channel count; got {block!r}")
        _checks.integer("depth", depth, low=1, high=MAX_DEPTH)
        _checks.integer("channels", channels, low=1, high=4096)
        self.stem = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        nn.init.kaiming_normal_(self.stem.weight, nonlinearity="linear")
        self.blocks = nn.Sequential(*[block(channels) for _ in range(depth)])
        self.fc = nn.Linear(channels * size * size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.blocks(self.stem(x))).flatten(1))


# --- data and sizes per scale ---


@dataclass
class Task:
    """The images the lesson trains on: digits 8×8 on the CPU scale, CIFAR-10 on the GPU scale."""

    train: ImageData
    test: ImageData
    scale: str

    @property
    def size(self) -> int:
        return int(self.train.x.shape[-1])


def task() -> Task:
    """CPU scale: scikit-learn's digits at 8×8 (no download). GPU scale: CIFAR-10 when on disk or downloadable,
    otherwise the digits, and a printed line says so (never silently)."""
    from ..data import DatasetUnavailable, cifar10, digits

    if scale() != "cpu":
        try:
            return Task(cifar10(train=True, download=True), cifar10(train=False, download=True), scale())
        except DatasetUnavailable as err:
            print(f"CIFAR-10 is unavailable, so the digits stand in for it: {err}")
    return Task(digits(8), digits(8, train=False), scale())


SIZES = {"cpu": {"depth": 16, "channels": 8}, "gpu": {"depth": 16, "channels": 16}}  # paper: the gpu sizes


def sizes(scale_: str | None = None) -> dict[str, int]:
    """Depth (blocks) and width (channels) of every arm at this scale (or at ``scale_``)."""
    chosen = _work.check_scale(scale_)
    return SIZES["cpu" if chosen == "cpu" else "gpu"]


def recipe(seed: int = 0, scale_: str | None = None) -> TrainConfig:
    """The one recipe every arm trains with: SGD with momentum 0.9 at the BN net's learning rate, no warm-up.

    CPU: 150 steps of batch 32 on the digits. GPU: 5 epochs of CIFAR-10 (batch 128, cosine, crop + flip). With
    :func:`sizes`' net (0.61 ResNet-56 per image) the five arms cost 5 × 5 × 50,000 × 0.61 ≈ 0.77 M ResNet-56-equivalent
    training images (evaluation included: ≈ 0.78 M), within the 1.0 M every GPU lesson keeps to.
    """
    _checks.seed(seed)
    if _work.check_scale(scale_) != "cpu":
        return TrainConfig(epochs=5, batch_size=128, lr=0.05, schedule="cosine", augment=True, seed=seed,
                           eval_every=0)
    return TrainConfig(steps=150, batch_size=32, lr=0.02, seed=seed, eval_every=0)


def _check_arms(arms: object) -> dict[str, BlockFactory]:
    if not isinstance(arms, Mapping) or not arms:
        raise TypeError(f"arms must be a non-empty dict {{name: block class}}, e.g. {{'SkipInit': SkipInitBlock}}; "
                        f"got {type(arms).__name__}")
    for name, block in arms.items():
        if not isinstance(name, str) or not callable(block):
            raise TypeError(f"arms must map names (str) to block classes; got {name!r}: {block!r}")
    return dict(arms)


def build(block: BlockFactory, depth: int, data: Task, seed: int = 0) -> Stack:
    """One arm's net, its weights drawn from ``seed`` (the caller's random stream left alone)."""
    _checks.seed(seed)
    with seeded(seed):
        return Stack(block, depth, sizes()["channels"], data.train.in_channels, data.train.num_classes, data.size)


def work(scale: str | None = None) -> _work.Work:
    """What :func:`train_arms` trains at ``scale`` (the five arms, one test pass each), in ResNet-56-equivalent
    images (benchmarks/work.py)."""
    scale = _work.check_scale(scale)
    config, size = recipe(0, scale), sizes(scale)
    n_train, n_test, c, side = _work.data_sizes("digits" if scale == "cpu" else "cifar10", 8)
    steps = config.total_steps(max(1, n_train // config.batch_size))
    items = []
    with seeded(0):
        for name, block in default_arms(size["depth"]).items():
            net = Stack(block, size["depth"], size["channels"], c, 10, side)
            items.append(_work.Item(name, _work.model_flops(net, c, side), steps * config.batch_size, n_test))
    return _work.Work("11", scale, items)


# --- 1. the stream's variance at initialisation ---


@dataclass
class StreamVariance:
    """Per arm: Var(x_k) / Var(x_0) after every block k (x_0 the stem's output), and std F(x_k) / std x_k, the size of
    block k's branch relative to the stream it reads (0 for a branch that starts at zero)."""

    depth: int
    variance: dict[str, list[float]]
    branch: dict[str, list[float]]

    def _arm(self, arm: str) -> str:
        if arm not in self.variance:
            raise ValueError(f"arm must be one of {', '.join(map(repr, self.variance))}; got {arm!r}")
        return arm

    def growth(self, arm: str) -> float:
        """Var(x_L) / Var(x_0): how many times the stream's variance grew over the ``depth`` blocks."""
        return self.variance[self._arm(arm)][-1]

    def per_block(self, arm: str) -> float:
        """The geometric mean of Var(x_k) / Var(x_{k-1}) over the blocks: the factor one block multiplies by."""
        return self.growth(arm) ** (1 / self.depth)

    def __str__(self) -> str:
        lines = [f"Var(stream after block k) / Var(stream in), {self.depth} blocks, at initialisation"]
        for arm, v in self.variance.items():
            lines.append(f"{arm:>9}: after 1 block {v[0]:8.3g} · after {self.depth} {v[-1]:10.4g} · "
                         f"×{self.per_block(arm):.2f} per block · branch/stream at the last block "
                         f"{self.branch[arm][-1]:.3g}")
        return "\n".join(lines)

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        """Left: the stream's variance per block (log scale). Right: std F(x_k) / std x_k per block."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
        ks = range(1, self.depth + 1)
        for arm in self.variance:
            left.plot(ks, [max(v, 1e-12) for v in self.variance[arm]], marker="o", ms=3, label=arm)
            right.plot(ks, self.branch[arm], marker="o", ms=3, label=arm)
        left.plot(ks, [k + 1 for k in ks], "k:", label="k + 1")
        right.plot(ks, [1 / math.sqrt(k + 1) for k in ks], "k:", label="1/√(k + 1)")
        left.set_yscale("log")
        left.set(xlabel="block k", ylabel="Var(x_k) / Var(x_0)", title="The residual stream at initialisation")
        right.set(xlabel="block k", ylabel="std F(x_k) / std x_k", title="Each branch, relative to its stream")
        for ax in (left, right):
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        return fig


def stream_variance(arms: Mapping[str, BlockFactory] | None = None, depth: int | None = None, seed: int = 0,
                    batch: int = 256) -> StreamVariance:
    """Build every arm at initialisation and follow a batch of training images through it, block by block.

    BatchNorm uses the batch's statistics (train mode), as in the first training step. De & Smith 2020, §2."""
    depth = sizes()["depth"] if depth is None else _checks.integer("depth", depth, low=1, high=MAX_DEPTH)
    arms = default_arms(depth) if arms is None else _check_arms(arms)
    _checks.integer("batch", batch, low=2, high=4096)
    data = task()
    x = data.train.x[:batch]
    variance, branch = {}, {}
    with one_thread(), torch.no_grad():
        for name, block in arms.items():
            net = build(block, depth, data, seed).train()
            h = net.stem(x)
            start = h.var().item()
            variance[name], branch[name] = [], []
            for b in net.blocks:
                out = b(h)
                f = out - h if not isinstance(b, PlainBlock) else out  # the branch's output F(x_k)
                branch[name].append(f.std().item() / h.std().item())
                h = out
                variance[name].append(h.var().item() / start)
    return StreamVariance(depth, variance, branch)


# --- 2. training every arm with the same recipe ---


@dataclass
class ArmTraining:
    """Per arm, the :class:`~resnet_edu.train.FitResult` of :func:`train_arms`, its test accuracy and its recipe."""

    results: dict[str, FitResult]
    recipe: str
    depth: int
    chance: float
    accuracy: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        self.accuracy = {name: (r.evals[-1]["acc"] if r.evals and not r.diverged else self.chance)
                         for name, r in self.results.items()}

    def trained(self, arm: str, low: float = 0.5) -> bool:
        """Whether ``arm`` ends above ``low`` test accuracy (a diverged run never does)."""
        return self.accuracy[arm] > low

    def __str__(self) -> str:
        lines = [f"{self.depth} blocks, {self.recipe}"]
        for name, r in self.results.items():
            state = f"diverged at step {r.diverged_at}" if r.diverged else f"final training loss {r.final_loss(20):.3g}"
            lines.append(f"{name:>9}: test accuracy {self.accuracy[name]:6.1%} · {state}")
        return "\n".join(lines)

    def plot(self, smooth: int = 10):  # noqa: ANN201 (matplotlib Axes)
        """The training-loss curves of every arm (:func:`resnet_edu.viz.plot_curves`)."""
        ax = viz.plot_curves(self.results, smooth=smooth, title="Training loss, the same recipe for every net")
        ax.set_yscale("log")
        return ax


def train_arms(arms: Mapping[str, BlockFactory] | None = None, depth: int | None = None, seed: int = 0,
               progress: bool = True, config: TrainConfig | None = None) -> ArmTraining:
    """Train every arm from the same seed (weights and batch order) with :func:`recipe` (or ``config``)."""
    depth = sizes()["depth"] if depth is None else _checks.integer("depth", depth, low=1, high=MAX_DEPTH)
    arms = default_arms(depth) if arms is None else _check_arms(arms)
    _checks.flag("progress", progress)
    config = recipe(seed) if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a resnet_edu.train.TrainConfig or None; got {type(config).__name__}")
    data = task()
    results = {}
    hook = None
    if scale() != "cpu":  # after the first arm's first epoch: how long the other arms should take
        steps = config.total_steps(max(1, len(data.train) // config.batch_size))
        hook = _work.Forecast(len(arms), 1, steps, what="the rest of this training")
    with one_thread():
        for name, block in arms.items():
            net = build(block, depth, data, seed)
            results[name] = fit(net, data.train, config, eval_data=data.test, progress=progress, label=name,
                                after_first_epoch=hook)
            hook = None
    return ArmTraining(results, config.describe() if hasattr(config, "describe") else str(config), depth,
                       1 / data.train.num_classes)
