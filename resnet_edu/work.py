"""What a lesson's experiment costs, in ResNet-56-equivalent training images (DESIGN.md "Scale"; issue 28).

The unit: one CIFAR-10 training image through ResNet-56 (He et al. 2015, §4.2: width 16, 32×32). A net's images
count in proportion to its FLOPs: ``equivalents = (TRAIN_FACTOR × F × training images + F × evaluated images) ÷
(TRAIN_FACTOR × F56)``, where ``F`` is one forward pass of the net on one image counted by
:class:`torch.utils.flop_counter.FlopCounterMode` (:func:`resnet_edu.nets.count_flops`) and a training step is taken
as 3 forwards (forward, then the backward's two products: activations' and weights' gradients). The ``gpu`` scale
keeps every lesson within :data:`GPU_BUDGET`. :class:`Forecast` prints, after a run's first epoch, how long the
rest should take on this machine, measured from that epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import torch
from torch import nn

from . import _checks

TRAIN_FACTOR = 3  # a training step ≈ 3 forward passes (forward + the backward's two products)
GPU_BUDGET = 1_000_000  # ResNet-56-equivalent training images per lesson at the gpu scale (about 5 min on a T4)
CIFAR_TRAIN, CIFAR_TEST = 50_000, 10_000

# ResNet-56 training images per second assumed for the estimates (none measured yet: no GPU was lent to the sessions
# that wrote this). T4: issue 28's estimate (~3 k img/s, fp16, captured step). H100: issue 28's "a T4 is roughly a
# tenth of an H100 on small convolutions", so 10× the T4's. benchmarks/gpu_check.sh measures the real figure.
ASSUMED_RATES: dict[str, tuple[float, str]] = {
    "T4": (3_000.0, "assumed: issue 28's estimate for ResNet-56 on a T4 (fp16); unmeasured"),
    "H100": (30_000.0, "assumed: 10x the T4 (issue 28: a T4 is about a tenth of an H100); unmeasured"),
}


@lru_cache(maxsize=64)
def _flops(key: tuple) -> int:
    from . import nets

    depth, residual, width, channels, size = key
    model = nets.cifar_net(depth, residual=residual, width=width, in_channels=channels)
    return nets.count_flops(model, torch.zeros(1, channels, size, size))


def cifar_flops(depth: int, residual: bool = True, width: int = 16, channels: int = 3, size: int = 32) -> int:
    """Forward FLOPs on one image of :func:`resnet_edu.nets.cifar_net` (``depth``, ``residual``, ``width``)."""
    return _flops((depth, residual, width, channels, size))


def resnet56_flops() -> int:
    """Forward FLOPs of ResNet-56 (width 16) on one 32×32 image: the unit's denominator."""
    return cifar_flops(56)


def model_flops(model: nn.Module, channels: int = 3, size: int = 32) -> int:
    """Forward FLOPs of any net on one ``channels``×``size``×``size`` image (CPU, weights untouched)."""
    from . import nets

    return nets.count_flops(model, torch.zeros(1, channels, size, size))


@dataclass(frozen=True)
class Item:
    """One net's run: forward FLOPs per image, images trained on and images evaluated (test passes)."""

    label: str
    flops: int
    train_images: int
    eval_images: int = 0

    @property
    def equivalents(self) -> float:
        """ResNet-56-equivalent training images (evaluation counted as a third of a training image)."""
        return (TRAIN_FACTOR * self.train_images + self.eval_images) * self.flops / (TRAIN_FACTOR * resnet56_flops())


@dataclass
class Work:
    """A lesson's experiments at one scale: the runs it trains (and evaluates)."""

    lesson: str
    scale: str
    items: list[Item] = field(default_factory=list)
    note: str = ""

    @property
    def images(self) -> int:
        return sum(i.train_images + i.eval_images for i in self.items)

    @property
    def equivalents(self) -> float:
        return sum(i.equivalents for i in self.items)

    def minutes(self, gpu: str) -> float:
        """Estimated minutes on ``gpu`` (a key of :data:`ASSUMED_RATES`), at its assumed ResNet-56 rate."""
        rate, _ = ASSUMED_RATES[_checks.choice("gpu", gpu, tuple(ASSUMED_RATES))]
        return self.equivalents / rate / 60


def evaluations(eval_every: int | None, total: int) -> int:
    """How many test evaluations ``fit`` runs for ``total`` steps at ``eval_every`` (None: every tenth; 0: at the
    end only)."""
    every = max(1, total // 10) if eval_every is None else (eval_every or total)
    return total // every + (total % every != 0)


def check_scale(scale: str | None) -> str:
    """``scale``, or the current one (:func:`resnet_edu.runtime.scale`) when None."""
    from . import runtime

    return runtime.scale() if scale is None else _checks.choice("scale", scale, runtime.SCALES)


def data_sizes(dataset: str, image_size: int = 32) -> tuple[int, int, int, int]:
    """(training images, test images, channels, side) of ``"cifar10"`` or of the digits at ``image_size``."""
    if dataset == "cifar10":
        return CIFAR_TRAIN, CIFAR_TEST, 3, 32
    from . import data

    return len(data.digits(image_size)), len(data.digits(image_size, train=False)), 1, image_size


def fit_item(label: str, flops: int, config, train_size: int = CIFAR_TRAIN,  # noqa: ANN001 (TrainConfig)
             test_size: int = CIFAR_TEST) -> Item:
    """The :class:`Item` of one ``fit(model, train, config, eval_data=test)`` on data of these sizes."""
    total = config.total_steps(max(1, train_size // config.batch_size))
    test_passes = evaluations(config.eval_every, total) * (2 if config.tta_flip else 1)
    return Item(label, flops, total * config.batch_size, test_passes * test_size)


def family_items(recipe, nets: Sequence[tuple[str, int]], seeds: int = 1,  # noqa: ANN001 (recipes.Recipe)
                 eval_every: int | None = None) -> list[Item]:
    """The items of :func:`resnet_edu.recipes.train_family` (``recipe``, ``nets``, that many seeds)."""
    n_train, n_test, channels, size = data_sizes(recipe.dataset, recipe.image_size)
    if recipe.subset is not None:
        n_train = min(n_train, recipe.subset)
    config = recipe.train if eval_every is None else recipe.train.replace(eval_every=eval_every)
    return [fit_item(f"{kind}-{depth}", cifar_flops(depth, kind == "residual", recipe.width, channels, size), config,
                     n_train, n_test)
            for _ in range(seeds) for kind, depth in nets]


class Forecast:
    """After the first epoch of the first of several runs, print how long the rest should take here, at the speed
    that epoch was trained (capture and warm-up included, so an upper estimate). ``total`` is the work of every run
    and ``first`` the first run's, in one unit (FLOPs × images); ``first_steps`` the first run's steps in all.
    Pass it to :func:`resnet_edu.train.fit` as ``after_first_epoch``."""

    def __init__(self, total: float, first: float, first_steps: int, what: str = "the rest of this lesson",
                 out: Callable[[str], None] = print) -> None:
        if not 0 < first <= total:
            raise ValueError(f"first must be > 0 and at most total; got first={first!r}, total={total!r}")
        self.total, self.first, self.what, self.out = float(total), float(first), what, out
        self.first_steps = _checks.integer("first_steps", first_steps, low=1)
        self.line: str | None = None

    def rest_seconds(self, steps: int, seconds: float) -> float:
        """Seconds the rest should take when ``steps`` of the first run took ``seconds``."""
        done = self.first * min(steps, self.first_steps) / self.first_steps
        return (self.total - done) / done * seconds

    def __call__(self, steps: int, seconds: float) -> None:
        if steps <= 0 or not seconds > 0 or not math.isfinite(seconds):
            return
        where = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "this machine"
        self.line = (f"first epoch: {steps} steps in {seconds:.1f} s, so {self.what} should take about "
                     f"{self.rest_seconds(steps, seconds) / 60:.1f} min more on {where} (measured from that epoch; "
                     "it includes the warm-up, so the estimate errs long)")
        self.out(self.line)
