"""The degradation problem: deeper *plain* nets train worse, residual nets do not (lesson 01).

He et al. 2015, §1 and §4.2: adding layers to a plain network raises its *training* error — so it is not overfitting
but an optimisation difficulty — while the same stack with identity shortcuts gets better with depth. The paper shows
it as CIFAR-10 error curves against iterations (Fig. 1: plain-20 vs plain-56; Fig. 6: plain nets and ResNets at
20–110 layers) and lists the ResNets' final test error per depth in Table 6. :func:`run` trains both families at
several depths with one recipe and returns a :class:`DegradationResult` holding the curves and the numbers the
lesson's check cell asserts on.

Two recipes (:class:`~resnet_edu.recipes.Recipe`, kept in the core module :mod:`resnet_edu.recipes` because lessons
09 and 10 train their nets with them too; the core's :func:`~resnet_edu.recipes.train_family` trains every net),
picked by :func:`resnet_edu.runtime.scale` from the table ``recipes.DEGRADATION``:

* ``DEGRADATION_CPU`` — scikit-learn's digits at 8×8, width 8, Adam 1e-3, batch 64, 100 steps (about 12 s for the six
  nets of depths 8/20/56 with one torch thread).
* ``DEGRADATION_GPU`` — CIFAR-10 with the paper's nets, data and augmentation (§4.2: crop-and-flip, SGD with momentum
  0.9), trained the way fast CIFAR recipes do: batch 512 with the learning rate scaled up after a warm-up (Goyal et
  al. 2017), weight decay 5e-4, a linear decay to zero, 15 epochs, so that the eight nets at depths 20/32/44/56 fit in
  about 3 min on one H100 with the fast trainer (an estimate: ``benchmarks/degradation_seeds.py --time-gpu-epoch``
  measures it).
  The paper's step schedule compressed to 12 epochs left ResNet-56 undertrained (training loss 0.683 vs
  ResNet-20's 0.480, measured on an H200), the opposite of Fig. 6. Without CIFAR-10 it says so and uses digits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .. import _checks
from .. import data as _data
from .. import nets as _nets
from .. import recipes as _recipes
from .. import runtime as _runtime
from .. import train as _train
from .. import work as _work
from ..recipes import Recipe

KINDS = _nets.KINDS  # ("plain", "residual")


CPU_DEPTHS = (8, 20, 56)
PAPER_DEPTHS = (20, 32, 44, 56)  # the plain nets of He et al. 2015, Fig. 6 (left); ResNets at these depths in Table 6
GPU_DEPTHS = (20, 56)  # the gpu scale (a T4's minutes): the shallowest and the deepest of them


DEPTHS = {"cpu": CPU_DEPTHS, "gpu": GPU_DEPTHS, "paper": PAPER_DEPTHS}


def depths_for(scale: str | None = None) -> tuple[int, ...]:
    """The depths lesson 01 trains at a scale: 8/20/56 on the CPU, 20/56 at the gpu scale, the paper's 20/32/44/56
    at the paper scale."""
    return _recipes.pick(DEPTHS, scale)


def work(scale: str | None = None) -> _work.Work:
    """What :func:`run` trains at ``scale`` with one seed, in ResNet-56-equivalent images (benchmarks/work.py)."""
    scale = _work.check_scale(scale)
    nets = [(kind, depth) for depth in depths_for(scale) for kind in KINDS]
    return _work.Work("01", scale, _work.family_items(_recipes.pick(_recipes.DEGRADATION, scale), nets))


@dataclass
class DegradationResult:
    """Plain and residual nets trained at several depths and seeds (He et al. 2015, §4.2: the error curves of
    Fig. 1 and Fig. 6, the final errors per depth of Table 6).

    ``runs[(kind, depth, seed)]`` is the :class:`~resnet_edu.train.FitResult` of one net; its ``evals[-1]`` holds
    the final test loss/accuracy and, under ``train_loss``/``train_acc``, the same measured on the whole training
    set (eval mode). Numbers are means over seeds unless a ``seed`` is given.
    """

    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    recipe: Recipe
    dataset: str
    runs: dict[tuple[str, int, int], _train.FitResult] = field(default_factory=dict)
    wall_time: float = 0.0

    def _check(self, kind: str, depth: int, seed: int | None) -> tuple[int, ...]:
        _nets.check_kind(kind)
        if depth not in self.depths:
            raise ValueError(f"depth must be one of the trained depths {', '.join(map(str, self.depths))}; "
                             f"got {depth!r}")
        if seed is None:
            return self.seeds
        if seed not in self.seeds:
            raise ValueError(f"seed must be one of the trained seeds {', '.join(map(str, self.seeds))} or None "
                             f"(the mean over seeds); got {seed!r}")
        return (seed,)

    def _mean(self, values: list[float]) -> float:
        return sum(values) / len(values)

    def train_loss(self, kind: str, depth: int, seed: int | None = None) -> float:
        """Mean training loss over the last ``recipe.last`` steps (inf if the run diverged), mean over seeds."""
        seeds = self._check(kind, depth, seed)
        return self._mean([self.runs[kind, depth, s].final_loss(self.recipe.last) for s in seeds])

    def train_error(self, kind: str, depth: int, seed: int | None = None) -> float:
        """Error on the *whole* training set after training, model in eval mode — measured exactly like
        :meth:`test_error`, so the two can be compared (not the running accuracy of the last training batches)."""
        seeds = self._check(kind, depth, seed)
        return self._mean([1.0 - self._final_eval(kind, depth, s)["train_acc"] for s in seeds])

    def final_train_loss(self, kind: str, depth: int, seed: int | None = None) -> float:
        """Cross-entropy on the whole training set after training (eval mode, like :meth:`test_loss`)."""
        seeds = self._check(kind, depth, seed)
        return self._mean([self._final_eval(kind, depth, s)["train_loss"] for s in seeds])

    def test_error(self, kind: str, depth: int, seed: int | None = None) -> float:
        """Error on the held-out test set after training (model in eval mode)."""
        seeds = self._check(kind, depth, seed)
        return self._mean([1.0 - self._final_eval(kind, depth, s)["acc"] for s in seeds])

    def test_loss(self, kind: str, depth: int, seed: int | None = None) -> float:
        """Cross-entropy on the held-out test set after training (model in eval mode)."""
        seeds = self._check(kind, depth, seed)
        return self._mean([self._final_eval(kind, depth, s)["loss"] for s in seeds])

    def _final_eval(self, kind: str, depth: int, seed: int) -> dict[str, float]:
        run = self.runs[kind, depth, seed]
        if run.diverged or not run.evals:
            return {"loss": math.inf, "acc": 0.0, "train_loss": math.inf, "train_acc": 0.0}
        return run.evals[-1]

    def curve(self, kind: str, depth: int) -> list[float]:
        """The training loss per step, averaged over the seeds that reached that step."""
        self._check(kind, depth, None)
        curves = [self.runs[kind, depth, s].loss for s in self.seeds]
        return [self._mean([c[i] for c in curves if i < len(c)]) for i in range(max(map(len, curves)))]

    def table(self, per_seed: bool = False) -> str:
        """A text table of the final numbers (one row per net; with ``per_seed`` one row per net and seed). Every
        number is measured after training on a whole set (training or test) with the model in eval mode."""
        header = (f"{'net':>12} {'seed':>6} {'train loss':>10} {'train err':>9} {'test loss':>9} {'test err':>8}"
                  "   (whole sets, eval mode)")
        rows = [header]
        for kind in KINDS:
            for depth in self.depths:
                for seed in (self.seeds if per_seed else (None,)):
                    name = f"{kind}-{depth}"
                    tag = "mean" if seed is None else str(seed)
                    rows.append(f"{name:>12} {tag:>6} {self.final_train_loss(kind, depth, seed):10.3f} "
                                f"{self.train_error(kind, depth, seed):9.1%} {self.test_loss(kind, depth, seed):9.3f} "
                                f"{self.test_error(kind, depth, seed):8.1%}")
        return "\n".join(rows)

    def plot(self, smooth: int | None = None):  # noqa: ANN201 (matplotlib Figure)
        """Three panels: training-loss curves of the plain nets and of the ResNets (the shape of He et al. 2015,
        Fig. 1 and Fig. 6 left and middle, which plot error against iterations), and the final training and test
        error against depth for both families (the paper has no such plot: Table 6 lists the ResNets' final test
        error per depth, and the end points of Fig. 6's curves give the plain nets' trend). Both errors are measured
        after training on the whole set, in eval mode. Plain nets are red, ResNets blue (darker = deeper)."""
        import matplotlib.pyplot as plt

        from ..viz import KIND_COLORS, moving_average

        if smooth is not None:
            smooth = _checks.integer("smooth", smooth, low=1)  # a moving-average window in steps
        steps = len(self.curve("plain", self.depths[0]))
        smooth = max(1, steps // 20) if smooth is None else smooth
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
        shades = [0.45 + 0.5 * i / max(1, len(self.depths) - 1) for i in range(len(self.depths))]
        maps = {"plain": plt.cm.Reds, "residual": plt.cm.Blues}  # KIND_COLORS' hues, darker = deeper
        for ax, kind, title in zip(axes[:2], KINDS, ("Plain nets", "ResNets (identity shortcuts)")):
            for depth, colour in zip(self.depths, maps[kind](shades)):
                loss = moving_average(self.curve(kind, depth), smooth)
                ax.plot(range(1, len(loss) + 1), loss, color=colour, label=f"{kind}-{depth}")
            ax.axhline(math.log(10), color="grey", ls=":", lw=1, label="chance level (exercise 2)")
            ax.set_title(f"{title}: training loss")
            ax.set_xlabel("training step")
            ax.set_ylabel(f"training loss (moving average of {smooth})")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        top = max(ax.get_ylim()[1] for ax in axes[:2])
        for ax in axes[:2]:
            ax.set_ylim(0, top)
        ax = axes[2]
        for kind, colour in KIND_COLORS.items():
            ax.plot(self.depths, [100 * self.train_error(kind, d) for d in self.depths], "o-", color=colour,
                    label=f"{kind}: training error")
            ax.plot(self.depths, [100 * self.test_error(kind, d) for d in self.depths], "s--", color=colour,
                    alpha=0.6, label=f"{kind}: test error")
        ax.set_xticks(self.depths)
        ax.set_xlabel("depth (weight layers)")
        ax.set_ylabel("error (%)")
        ax.set_title(f"Final error vs depth ({self.dataset}; whole sets, eval mode)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig


def _seeds(seed: int | Sequence[int]) -> tuple[int, ...]:
    seeds = (seed,) if isinstance(seed, int) and not isinstance(seed, bool) else tuple(seed)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ValueError(f"seed must be a non-negative integer or a non-empty sequence of them; got {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct; got {seed!r}")
    return seeds


def _depths(depths: Sequence[int]) -> tuple[int, ...]:
    depths = tuple(depths)
    if not depths:
        raise ValueError("depths must be a non-empty sequence of CIFAR depths 6n+2 (8, 14, 20, 26, 32, 44, 56, "
                         "110, …); got ()")
    for depth in depths:
        _nets.check_depth(depth)
    if len(set(depths)) != len(depths):
        raise ValueError(f"depths must be distinct; got {depths!r}")
    return tuple(sorted(depths))


def run(
    depths: Sequence[int] = CPU_DEPTHS,
    seed: int | Sequence[int] = 0,
    scale: str | None = None,
    recipe: Recipe | None = None,
    blocks: Mapping[str, type[nn.Module]] | None = None,
    progress: bool = True,
    train_step: Callable | None = None,
) -> DegradationResult:
    """Train plain and residual CIFAR-style nets at ``depths`` (He et al. 2015, §4.2) and return the result.

    ``seed`` is one seed or several (``seed=(0, 1, 2)``: every number becomes a mean over seeds). ``scale`` picks
    the recipe (``"cpu"``: digits; ``"gpu"``: CIFAR-10, falling back to digits with a notice); ``recipe`` overrides
    it. ``blocks`` — ``{"plain": PlainBlock, "residual": ResidualBlock}``, the blocks written on the lesson's page —
    builds the nets from those classes (default: :class:`~resnet_edu.nets.BasicBlock`, the same layers in the same
    order, so the same numbers). ``train_step(model, x, y, optimizer) -> (loss, logits)`` — the training step
    written on the page — trains every net (``resnet_edu.train.fit(train_step=…)``: fp32, the standard loop; the
    same operations as fit's own lines, so the same numbers). On the CPU, training uses one torch thread (steadier
    than two under load), restored afterwards.
    """
    depths, seeds = _depths(depths), _seeds(seed)
    if recipe is None:
        recipe = _recipes.pick(_recipes.DEGRADATION, scale)
    else:
        _recipes.check_recipe(recipe)
    train, test, recipe = _recipes.load_data(recipe)
    print(f"scale {scale or _runtime.scale()} · {recipe.describe()} · depths {depths} · seeds {seeds}")
    family = _recipes.train_family(recipe, [(kind, d) for kind in KINDS for d in depths], seeds, data=(train, test),
                                   measure_train=True, blocks=blocks, progress=progress, train_step=train_step)
    result = DegradationResult(depths, seeds, recipe, train.name.replace(" (train)", ""))
    result.runs = {key: run.fit for key, run in family.runs.items()}
    result.wall_time = sum(fit.wall_time for fit in result.runs.values())
    return result


# ---------------------------------------------------------------------------------------------------------------
# What degradation is not: overfitting, measured (issue 30 item 5)
# ---------------------------------------------------------------------------------------------------------------

OVERFIT_DEPTHS = (1, 10)  # a linear classifier against a 10-layer residual MLP
OVERFIT_NOISE = 0.4  # the fraction of training labels replaced by a wrong one (the test labels stay right)
OVERFIT_CONFIG = _train.TrainConfig(steps=300, batch_size=1438, optimizer="adam", lr=1e-2, eval_every=0)


class _MLPBlock(nn.Module):
    """x + W₂ relu(W₁ relu(x)): a residual block of two linear layers."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, x):  # noqa: ANN001, ANN201 (a tensor in, a tensor out)
        return x + self.fc2(self.fc1(x.relu()).relu())


def mlp(depth: int, width: int = 32, inputs: int = 64, classes: int = 10) -> nn.Sequential:
    """A net of ``depth`` linear layers on flattened images: depth 1 is a linear classifier; an even depth ≥ 2 is a
    linear stem, (depth − 2) / 2 residual blocks of two layers (:class:`_MLPBlock`) and a linear classifier."""
    depth = _checks.integer("depth", depth, low=1)
    if depth != 1 and depth % 2:
        raise ValueError(f"depth must be 1 (a linear classifier) or even (a stem, blocks of two layers and a "
                         f"classifier); got {depth}")
    _checks.integer("width", width, low=1)
    if depth == 1:
        return nn.Sequential(nn.Flatten(), nn.Linear(inputs, classes))
    blocks = [_MLPBlock(width) for _ in range((depth - 2) // 2)]
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, width), *blocks, nn.ReLU(), nn.Linear(width, classes))


def noisy_labels(data: _data.ImageData, fraction: float, seed: int) -> _data.ImageData:
    """``data`` with ``fraction`` of its labels, picked by ``seed``, replaced by a different class (uniformly)."""
    _checks.number("fraction", fraction)
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1 (the share of labels replaced); got {fraction}")
    generator = torch.Generator().manual_seed(seed)
    y = data.y.clone()
    picked = torch.randperm(len(y), generator=generator)[: round(fraction * len(y))]
    shift = torch.randint(1, len(data.classes), (len(picked),), generator=generator)
    y[picked] = (y[picked] + shift) % len(data.classes)  # never the true class
    return _data.ImageData(data.x, y, data.name, data.classes)


@dataclass
class OverfittingResult:
    """Nets of several depths trained on training labels of which ``noise`` are wrong: per depth, the error on
    those training labels (the ones the net was trained on) and on the clean test set, both in eval mode."""

    depths: tuple[int, ...]
    seed: int
    noise: float
    train_error: dict[int, float]
    test_error: dict[int, float]
    wall_time: float

    def table(self) -> str:
        """One row per depth: training error (on the noisy labels it was trained on) and test error."""
        rows = [f"{'depth':>5} {'train err':>9} {'test err':>8}   ({self.noise:.0%} of the training labels wrong, "
                f"seed {self.seed})"]
        rows += [f"{d:>5} {self.train_error[d]:9.1%} {self.test_error[d]:8.1%}" for d in self.depths]
        return "\n".join(rows)


def overfitting_run(
    depths: Sequence[int] = OVERFIT_DEPTHS,
    seed: int = 0,
    noise: float = OVERFIT_NOISE,
    config: _train.TrainConfig = OVERFIT_CONFIG,
    train_step: Callable | None = None,
) -> OverfittingResult:
    """Overfitting, the opposite signature of degradation: on the 8×8 digits with ``noise`` of the training labels
    wrong, train :func:`mlp` nets of ``depths`` (full batch, Adam, 300 steps) and measure their errors. The deeper
    net memorises the wrong labels — lower training error — and pays on the clean test set — higher test error.
    ``train_step`` is the training step written on the lesson's page (see :func:`run`). About 2 s on one thread."""
    if not isinstance(config, _train.TrainConfig):
        raise TypeError(f"config must be a resnet_edu.train.TrainConfig; got {type(config).__name__}")
    depths = tuple(_checks.integer("depth", d, low=1) for d in depths)
    seed = _checks.integer("seed", seed, low=0)
    clean = _data.digits(size=8, train=True)
    train, test = noisy_labels(clean, noise, seed), _data.digits(size=8, train=False)
    config = config.replace(batch_size=min(config.batch_size, len(train)))
    train_error, test_error, wall = {}, {}, 0.0
    with _runtime.one_thread():
        for depth in depths:
            with _runtime.seeded(seed):  # the same weights and batches whatever ran before
                net = mlp(depth, classes=len(train.classes))
                fit = _train.fit(net, train, config, eval_data=test, progress=False, label=f"depth {depth}",
                                 train_step=train_step)
            wall += fit.wall_time
            train_error[depth] = 1.0 - _train.evaluate(net, train)["acc"]
            test_error[depth] = 1.0 - fit.evals[-1]["acc"]
    return OverfittingResult(depths, seed, noise, train_error, test_error, wall)
