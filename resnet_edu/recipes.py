"""Recipes: how the plain/residual CIFAR-style nets of lessons 01, 08 and 09 are built and trained (core).

A :class:`Recipe` is the data, the width of the nets and one :class:`~resnet_edu.train.TrainConfig`;
:func:`load_data` loads a recipe's data (CIFAR-10 missing → a printed notice and the digits instead, never
silently), :func:`build` builds ``kind``-``depth`` whose initial weights depend on the seed only, and
:func:`with_recipe` changes a few fields of a recipe. ``CPU_RECIPE`` and ``GPU_RECIPE`` are lesson 01's two scales
(:mod:`resnet_edu.lessons.lesson01_degradation` explains them); lesson 08
(:mod:`resnet_edu.lessons.lesson08_train_cifar10`) defines its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from torch import nn

from . import _checks
from . import data as _data
from . import nets as _nets
from . import runtime as _runtime
from . import train as _train

DATASETS = ("digits", "cifar10")


@dataclass(frozen=True)
class Recipe:
    """How every net of one experiment is trained (the same for plain and residual, for every depth): the data and
    the width of the nets, plus one :class:`~resnet_edu.train.TrainConfig` (``train``) that the lessons'
    ``train_one`` pass to ``fit`` whole (with each run's seed).

    ``last`` is how many final steps ``train_loss`` averages. ``subset`` keeps only the first ``subset`` training
    images (for quick checks of the CIFAR-10 code path).
    """

    dataset: str = "digits"
    image_size: int = 8
    width: int = 8
    train: _train.TrainConfig = _train.TrainConfig(steps=100, batch_size=64, optimizer="adam", lr=1e-3,
                                                   eval_every=0)
    last: int = 50
    subset: int | None = None

    def __post_init__(self) -> None:
        _checks.choice("Recipe.dataset", self.dataset, DATASETS)
        if not isinstance(self.train, _train.TrainConfig):
            raise TypeError("Recipe.train must be a resnet_edu.train.TrainConfig, e.g. TrainConfig(steps=100); "
                            f"got {type(self.train).__name__}")
        for name in ("width", "last"):
            _checks.integer(f"Recipe.{name}", getattr(self, name), low=1)
        _checks.integer("Recipe.image_size", self.image_size, low=8)
        if self.subset is not None:
            _checks.integer("Recipe.subset", self.subset, low=1)

    def describe(self) -> str:
        """One line: data, width, then the training config, as the lessons print it."""
        data = "CIFAR-10" if self.dataset == "cifar10" else f"digits {self.image_size}x{self.image_size}"
        return f"{data}, width {self.width}, {self.train.describe()}"


CPU_RECIPE = Recipe()  # lesson 01's CPU scale (and lesson 09's): digits 8×8, width 8, Adam 1e-3, 100 steps
# He et al. 2015, §4.2's nets, data and augmentation with a short annealed schedule: batch 512, lr 0.4 (the paper's 0.1
# at 128, scaled linearly, Goyal et al. 2017) after a linear warm-up over the first 10 % (the paper warms ResNet-110
# up too), then a linear decay to zero; Nesterov momentum, weight decay 5e-4; 15 epochs (1,455 steps). Annealing to
# zero lets the deeper ResNets finish fitting; the step schedule squeezed into 12 epochs did not (ResNet-56 ended above
# ResNet-20). Measure the per-seed table with `benchmarks/degradation_seeds.py --scale gpu --seeds 0 1 2`.
GPU_RECIPE = Recipe(  # lesson 01's GPU scale (lesson 09 shortens it)
    dataset="cifar10", image_size=32, width=16, last=50,
    train=_train.TrainConfig(epochs=15, batch_size=512, optimizer="sgd", lr=0.4, momentum=0.9, nesterov=True,
                             weight_decay=5e-4, schedule="linear", warmup=0.1, augment=True, eval_every=0),
)


def load_data(recipe: Recipe) -> tuple[_data.ImageData, _data.ImageData, Recipe]:
    """Training and test data for ``recipe``; CIFAR-10 missing → a printed notice and the digits recipe instead."""
    if recipe.dataset == "cifar10":
        try:
            # a GPU-scale lesson asks for the download (under the data root), as DESIGN.md says: present or downloadable
            train, test = _data.cifar10(train=True, download=True), _data.cifar10(train=False, download=True)
        except _data.DatasetUnavailable as err:
            print(f"Notice: CIFAR-10 is not available, so this runs on the offline digits instead.\n  {err}")
            recipe = CPU_RECIPE
        else:
            if recipe.subset is not None:
                train = _data.ImageData(train.x[: recipe.subset], train.y[: recipe.subset], train.name, train.classes)
            return train, test, recipe
    train = _data.digits(size=recipe.image_size, train=True)
    test = _data.digits(size=recipe.image_size, train=False)
    if recipe.subset is not None:
        train = _data.ImageData(train.x[: recipe.subset], train.y[: recipe.subset], train.name, train.classes)
    return train, test, recipe


def build(kind: str, depth: int, seed: int, recipe: Recipe, data: _data.ImageData) -> nn.Module:
    """``kind``-``depth`` at the recipe's width, shaped for ``data``; its initial weights depend on ``seed`` only."""
    residual = _nets.check_kind(kind)
    _runtime.seed_everything(seed)  # the initial weights depend on the seed only, not on what ran before
    return _nets.cifar_net(depth, residual=residual, width=recipe.width,
                           in_channels=data.in_channels, num_classes=data.num_classes)


def with_recipe(base: Recipe, **changes: object) -> Recipe:
    """A copy of ``base`` with some fields changed, e.g. ``with_recipe(CPU_RECIPE, steps=200)``; training fields
    (``steps``, ``lr``, …) go into its :class:`~resnet_edu.train.TrainConfig`."""
    check_recipe(base, "base")
    training = {k: v for k, v in changes.items() if k in _train.TrainConfig.__dataclass_fields__}
    own = {k: v for k, v in changes.items() if k not in training}
    unknown = set(own) - set(Recipe.__dataclass_fields__)
    if unknown:
        allowed = [*Recipe.__dataclass_fields__, *_train.TrainConfig.__dataclass_fields__]
        raise ValueError(f"unknown Recipe fields {sorted(unknown)}; allowed: {', '.join(allowed)}")
    if "steps" in training and "epochs" not in training and training["steps"] is not None:
        training["epochs"] = None  # one length replaces the other
    if "epochs" in training and "steps" not in training and training["epochs"] is not None:
        training["steps"] = None
    config = own.pop("train", base.train)
    return replace(base, **own, train=config.replace(**training) if training else config)


def check_recipe(recipe: object, name: str = "recipe") -> Recipe:
    """``recipe`` if it is a :class:`Recipe`; anything else (a dict, a TrainConfig, a string) is a TypeError."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"{name} must be a resnet_edu.recipes.Recipe (e.g. with_recipe(CPU_RECIPE, steps=200)); "
                        f"got {type(recipe).__name__}")
    return recipe
