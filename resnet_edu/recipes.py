"""Recipes and one trainer for a family of plain/residual CIFAR-style nets (core: lessons 01, 08, 09 and 10).

A :class:`Recipe` is the data, the width of the nets and one :class:`~resnet_edu.train.TrainConfig`;
:func:`load_data` loads a recipe's data (CIFAR-10 missing → a printed notice and a digits recipe instead, never
silently), :func:`build` builds ``kind``-``depth`` whose initial weights depend on the seed only, and
:func:`with_recipe` changes a few fields of a recipe. A recipe table maps each scale to a recipe and :func:`pick`
takes the current scale's: ``DEGRADATION`` is lesson 01's (:mod:`resnet_edu.lessons.lesson01_degradation` explains
it), ``QUICK`` the same shortened on the GPU for the nets that lessons 09 and 10 study after training; lesson 08
(:mod:`resnet_edu.lessons.lesson08_train_cifar10`) keeps its own ``DYNAMICS`` table. Every recipe has one name.

:func:`train_family` trains plain/residual × depths × seeds with one recipe and returns a :class:`Family`; a lesson
passes in what it watches during training (``recorder``: lesson 08's gradient recorder) and keeps its own result
object and figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from torch import nn
from tqdm.auto import tqdm

from . import _checks
from . import data as _data
from . import nets as _nets
from . import runtime as _runtime
from . import train as _train
from . import work as _work

DATASETS = ("digits", "cifar10")


@dataclass(frozen=True)
class Recipe:
    """How every net of one experiment is trained (the same for plain and residual, for every depth): the data and
    the width of the nets, plus one :class:`~resnet_edu.train.TrainConfig` (``train``) that the lessons'
    :func:`train_family` passes to ``fit`` whole (with each run's seed).

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


DEGRADATION_CPU = Recipe()  # lesson 01's CPU scale (and 09's, 10's): digits 8×8, width 8, Adam 1e-3, 100 steps
# He et al. 2015, §4.2's nets, data and augmentation with a short annealed schedule: batch 512, lr 0.4 (the paper's 0.1
# at 128, scaled linearly, Goyal et al. 2017) after a linear warm-up over the first 10 % (the paper warms ResNet-110
# up too), then a linear decay to zero; Nesterov momentum, weight decay 5e-4; 15 epochs (1,455 steps). Annealing to
# zero lets the deeper ResNets finish fitting; the step schedule squeezed into 12 epochs did not (ResNet-56 ended above
# ResNet-20). Measure the per-seed table with `benchmarks/degradation_seeds.py --scale paper --seeds 0 1 2`.
DEGRADATION_PAPER = Recipe(  # lesson 01's paper scale: 8 nets × 15 epochs ≈ 4.1 M ResNet-56-equivalent images
    dataset="cifar10", image_size=32, width=16, last=50,
    train=_train.TrainConfig(epochs=15, batch_size=512, optimizer="sgd", lr=0.4, momentum=0.9, nesterov=True,
                             weight_decay=5e-4, schedule="linear", warmup=0.1, augment=True, eval_every=0),
)
# The gpu scale (Colab's T4): the same recipe for 7 epochs at depths 20 and 56 only (4 nets ≈ 0.96 M ResNet-56-
# equivalent images, benchmarks/work.py). Plain-56 trails plain-20 from the first epochs in He et al.'s Fig. 1 and 6
# (the gap is in training error too), so the degradation should show; unmeasured on a GPU at this length.
DEGRADATION_GPU = replace(DEGRADATION_PAPER, train=DEGRADATION_PAPER.train.replace(epochs=7))
QUICK_GPU = replace(DEGRADATION_PAPER, train=DEGRADATION_PAPER.train.replace(epochs=5))  # 5 epochs a net

DEGRADATION: dict[str, Recipe] = {"cpu": DEGRADATION_CPU, "gpu": DEGRADATION_GPU,  # lesson 01
                                  "paper": DEGRADATION_PAPER}
QUICK: dict[str, Recipe] = {"cpu": DEGRADATION_CPU, "gpu": QUICK_GPU}  # nets studied after training: lessons 09, 10

T = TypeVar("T")


def pick(table: Mapping[str, T], scale: str | None = None) -> T:
    """The entry of ``table`` (scale → recipe, or depths, …) for ``scale`` (default: :func:`resnet_edu.runtime.scale`),
    e.g. ``pick(DEGRADATION)``. A table without a ``"paper"`` entry gives its ``"gpu"`` one at the paper scale."""
    scale = _runtime.scale() if scale is None else _checks.choice("scale", scale, (*_runtime.SCALES, None))
    if scale == "paper" and "paper" not in table:
        scale = "gpu"
    if scale not in table:
        raise ValueError(f"this table has no entry for scale {scale!r}; it has {', '.join(map(repr, table))}")
    return table[scale]


def load_data(recipe: Recipe, fallback: Recipe = DEGRADATION_CPU) -> tuple[_data.ImageData, _data.ImageData, Recipe]:
    """Training and test data for ``recipe`` and the recipe they belong to: CIFAR-10 missing → a printed notice and
    ``fallback`` (a digits recipe) instead."""
    if fallback.dataset != "digits":
        raise ValueError(f"fallback must be a digits recipe (it is used when CIFAR-10 is missing); got "
                         f"{fallback.dataset!r}")
    if recipe.dataset == "cifar10":
        try:
            # a GPU-scale lesson asks for the download (under the data root), as DESIGN.md says: present or downloadable
            train, test = _data.cifar10(train=True, download=True), _data.cifar10(train=False, download=True)
        except _data.DatasetUnavailable as err:
            print(f"Notice: CIFAR-10 is not available, so this runs on the offline digits instead.\n  {err}")
            recipe = fallback
        else:
            if recipe.subset is not None:
                train = _data.ImageData(train.x[: recipe.subset], train.y[: recipe.subset], train.name, train.classes)
            return train, test, recipe
    train = _data.digits(size=recipe.image_size, train=True)
    test = _data.digits(size=recipe.image_size, train=False)
    if recipe.subset is not None:
        train = _data.ImageData(train.x[: recipe.subset], train.y[: recipe.subset], train.name, train.classes)
    return train, test, recipe


def build(kind: str, depth: int, seed: int, recipe: Recipe, data: _data.ImageData,
          block: type[nn.Module] | None = None) -> nn.Module:
    """``kind``-``depth`` at the recipe's width, shaped for ``data``, built from ``block`` (default
    :class:`~resnet_edu.nets.BasicBlock`); its initial weights depend on ``seed`` only."""
    residual = _nets.check_kind(kind)
    _runtime.seed_everything(seed)  # the initial weights depend on the seed only, not on what ran before
    return _nets.cifar_net(depth, residual=residual, width=recipe.width,
                           in_channels=data.in_channels, num_classes=data.num_classes, block=block)


def with_recipe(base: Recipe, **changes: object) -> Recipe:
    """A copy of ``base`` with some fields changed, e.g. ``with_recipe(DEGRADATION_CPU, steps=200)``; training fields
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
        raise TypeError(f"{name} must be a resnet_edu.recipes.Recipe (e.g. with_recipe(DEGRADATION_CPU, steps=200)); "
                        f"got {type(recipe).__name__}")
    return recipe


# ---------------------------------------------------------------------------------------------------------------
# One trainer for a family of nets
# ---------------------------------------------------------------------------------------------------------------


def label(kind: str, depth: int) -> str:
    """``"plain-20"``, ``"residual-56"``: how the lessons name a net."""
    return f"{kind}-{depth}"


@dataclass
class Trained:
    """One net of a :class:`Family`: the trained ``model``, its :class:`~resnet_edu.train.FitResult` and the
    ``recorder`` that watched it (whatever :func:`train_family`'s ``recorder`` returned for it, or None)."""

    kind: str
    depth: int
    seed: int
    model: nn.Module
    fit: _train.FitResult
    recorder: Any = None

    @property
    def label(self) -> str:
        return label(self.kind, self.depth)


@dataclass
class Family:
    """Plain and residual nets trained with one recipe (:func:`train_family`): ``runs[(kind, depth, seed)]`` is a
    :class:`Trained`, ``train``/``test`` the data they were trained and evaluated on, ``recipe`` the recipe used
    (the digits one when CIFAR-10 was missing). With one seed, ``family["residual-56"]`` is a trained net."""

    recipe: Recipe
    train: _data.ImageData
    test: _data.ImageData
    runs: dict[tuple[str, int, int], Trained] = field(default_factory=dict)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(seed for _, _, seed in self.runs))

    def _one_seed(self) -> dict[str, Trained]:
        if len(self.seeds) != 1:
            raise ValueError(f"nets are named by label only when one seed was trained; these have seeds "
                             f"{self.seeds}: use runs[(kind, depth, seed)]")
        return {run.label: run for run in self.runs.values()}

    @property
    def models(self) -> dict[str, nn.Module]:
        """Label → trained net (one seed)."""
        return {name: run.model for name, run in self._one_seed().items()}

    @property
    def fits(self) -> dict[str, _train.FitResult]:
        """Label → :class:`~resnet_edu.train.FitResult` (one seed)."""
        return {name: run.fit for name, run in self._one_seed().items()}

    def __getitem__(self, name: str) -> nn.Module:
        models = self.models
        if name not in models:
            raise KeyError(f"no net {name!r} was trained; the trained nets are {', '.join(models)}")
        return models[name]

    @property
    def pair(self) -> tuple[str, str]:
        """(plain, residual): the names of a plain net and its residual twin of the same depth (the smallest such
        depth), for same-depth comparisons."""
        models = self.models
        depths = sorted(int(name.rsplit("-", 1)[1]) for name in models if name.startswith("plain-"))
        for depth in depths:
            if label("residual", depth) in models:
                return label("plain", depth), label("residual", depth)
        raise ValueError(f"no plain net and ResNet of the same depth were trained; the nets are {', '.join(models)}")

    @property
    def deepest(self) -> str:
        """The name of the deepest ResNet trained."""
        residual = [name for name in self.models if name.startswith("residual-")]
        if not residual:
            raise ValueError(f"no ResNet was trained; the nets are {', '.join(self.models)}")
        return max(residual, key=lambda name: int(name.rsplit("-", 1)[1]))

    def accuracy(self, name: str) -> float:
        """Test accuracy of one trained net (one seed) with all its blocks."""
        return _train.evaluate(self[name], self.test)["acc"]

    def __str__(self) -> str:
        accs = ", ".join(f"{name} {self.accuracy(name):.1%}" for name in self.models)
        return f"trained on {self.train.name} ({self.recipe.describe()}): test accuracy {accs}"


Recorder = Callable[[nn.Module, str], Callable[[int], None] | None]


def check_nets(nets: object) -> tuple[tuple[str, int], ...]:
    """``nets`` as (kind, depth) pairs, each checked; anything else is a ValueError that says what is allowed."""
    specs = _checks.sequence("nets", nets, unique=True)
    for spec in specs:
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise ValueError(f"nets must hold (kind, depth) pairs such as ('plain', 20); got {spec!r}")
        _nets.check_kind(spec[0])
        _nets.check_depth(spec[1])
    return tuple(specs)


def train_family(
    recipe: Recipe,
    nets: Sequence[tuple[str, int]],
    seeds: Sequence[int] = (0,),
    *,
    data: tuple[_data.ImageData, _data.ImageData] | None = None,
    eval_every: int | None = None,
    measure_train: bool = False,
    recorder: Recorder | None = None,
    log_dir: str | Path | None = None,
    blocks: Mapping[str, type[nn.Module]] | None = None,
    progress: bool = True,
    forecast: bool | None = None,
    train_step: Callable | None = None,
) -> Family:
    """Train every (kind, depth) of ``nets`` for every seed of ``seeds`` with ``recipe``, and return the
    :class:`Family` (seeds outer, nets inner, in the order given), every net in eval mode.

    Each net is built by :func:`build` (its initial weights depend on its seed only) and trained by
    :func:`resnet_edu.train.fit` with ``recipe.train`` and the run's seed, on one torch thread. ``data`` is the
    (train, test) pair when the caller loaded it (then ``recipe`` is the one it belongs to); otherwise
    :func:`load_data` loads it. ``eval_every`` overrides the recipe's cadence of test evaluations (0: at the end
    only). ``measure_train`` adds ``train_loss``/``train_acc`` to the last evaluation, measured on the whole training
    set in eval mode like the test set. ``recorder(model, label)``, called on each freshly built net, returns the
    ``after_backward`` hook that ``fit`` calls after every ``loss.backward()`` (or None); it is kept in
    :attr:`Trained.recorder`. ``log_dir``: TensorBoard runs ``<log_dir>/<label>`` (``-seed<s>`` added for several
    seeds). ``blocks`` maps a kind to the block class its nets are built from (``{"plain": PlainBlock,
    "residual": ResidualBlock}``, lesson 01's page); a kind left out gets :class:`~resnet_edu.nets.BasicBlock`.
    ``forecast`` (default: on at the gpu and paper scales) prints after the first net's first epoch how long the
    rest of the training should take here (:class:`resnet_edu.work.Forecast`). ``train_step`` — a training step
    written on the lesson's page — trains every net in :func:`resnet_edu.train.fit`'s standard loop
    (``fit(train_step=…)``).
    """
    check_recipe(recipe)
    specs = check_nets(nets)
    seeds = tuple(_checks.sequence("seeds", seeds, unique=True))
    for seed in seeds:
        _checks.seed(seed)
    _checks.flag("measure_train", measure_train)
    _checks.flag("progress", progress)
    forecast = _runtime.scale() != "cpu" if forecast is None else _checks.flag("forecast", forecast)
    if eval_every is not None:
        eval_every = _checks.integer("eval_every", eval_every, low=0)
    if recorder is not None and not callable(recorder):
        raise TypeError(f"recorder must be a function (model, label) -> after_backward hook, or None; got "
                        f"{recorder!r}")
    blocks = {} if blocks is None else dict(blocks)
    for kind, block in blocks.items():
        _nets.check_kind(kind)
        _nets.check_block(block)
    if data is None:
        train, test, recipe = load_data(recipe)
    else:
        train, test = (_data.image_data(name, value) for name, value in zip(("train", "test"), data))
    dev = _runtime.device()
    train, test = train.to(dev), test.to(dev)  # once, not at every evaluation
    family = Family(recipe, train, test)
    jobs = [(kind, depth, seed) for seed in seeds for kind, depth in specs]
    hook = _forecast(recipe, train, jobs) if forecast else None
    inner = progress and (recipe.dataset == "cifar10" or len(jobs) == 1)  # a bar per net where a net takes long
    with _runtime.one_thread(), tqdm(jobs, desc="training nets", disable=not progress or len(jobs) == 1) as bar:
        for kind, depth, seed in bar:
            name = label(kind, depth)
            bar.set_postfix_str(f"{name} seed {seed}")
            model = build(kind, depth, seed, recipe, train, blocks.get(kind))
            watch = None if recorder is None else recorder(model, name)
            config = recipe.train.replace(seed=seed) if eval_every is None else recipe.train.replace(
                seed=seed, eval_every=eval_every)
            run_dir = None if log_dir is None else str(Path(log_dir) / (name if len(seeds) == 1
                                                                         else f"{name}-seed{seed}"))
            fit = _train.fit(model, train, config, eval_data=test, log_dir=run_dir, progress=inner, label=name,
                             after_backward=watch, after_first_epoch=hook, train_step=train_step)
            hook = None  # the first net's first epoch only
            if measure_train and fit.evals and not fit.diverged:  # all of the training set, eval mode
                final = _train.evaluate(model, train)
                fit.evals[-1].update(train_loss=final["loss"], train_acc=final["acc"])
            family.runs[kind, depth, seed] = Trained(kind, depth, seed, model.eval(), fit, watch)
    return family


def _forecast(recipe: Recipe, train: _data.ImageData, jobs: list[tuple[str, int, int]]) -> _work.Forecast:
    """The forecast of :func:`train_family`'s jobs: every net takes the same steps, so its work is its FLOPs."""
    c, size = train.in_channels, int(train.x.shape[-1])
    flops = [_work.cifar_flops(depth, kind == "residual", recipe.width, c, size) for kind, depth, _ in jobs]
    steps = recipe.train.total_steps(max(1, len(train) // recipe.train.batch_size))
    return _work.Forecast(sum(flops), flops[0], steps, what="the rest of these nets' training")
