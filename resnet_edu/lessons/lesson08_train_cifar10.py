"""Training dynamics: plain-56 and ResNet-56 trained with one recipe while every layer's gradient is watched
(lesson 08). One idea — watching a training run — in one module: the recorder, the pair it watches and the
figures of what it saw.

He et al. 2015, §4.2 train their CIFAR-10 nets and compare plain and residual ones at equal depth (Fig. 6); §4.1
argues that the plain nets' trouble is not vanishing gradients. Lesson 03b measured the gradient of every layer at
initialisation; this module measures it *during* training:

* :class:`GradientRecorder` — an ``after_backward`` hook for :func:`resnet_edu.train.fit` that writes the norm
  ‖∂L/∂W‖ of every conv and linear weight (input side first) into a buffer on the training device: one fused
  ``torch._foreach_norm`` per step, the row index kept on the device, no host sync and no Python branch that depends
  on the step, so it also works inside a captured CUDA graph. It is read once, after training.
* :func:`train_pair` — trains a plain net and its residual twin (same recipe, same seed) and returns a
  :class:`Comparison`: gradient heatmaps (layer × step, one log colour scale for both), the first/middle/last layers
  over time, training and test accuracy, TensorBoard logs with gradient-norm histograms.
* What a learner likes to look at: :func:`prediction_grid`, :meth:`Run.throughput`, and from the core
  (:mod:`resnet_edu.train.confusion`) :func:`confusion_matrix`.
* :func:`save_checkpoint` / :func:`load_checkpoint` — a ``state_dict`` plus the net's shape, reloaded with
  ``torch.load(..., weights_only=True)`` (no pickled code is executed); they live in the core
  (:mod:`resnet_edu.train.checkpoint`) and are named here for the notebook.

Two recipes, the table ``DYNAMICS`` picked by :func:`resnet_edu.runtime.scale`: ``DYNAMICS_CPU`` (the digits,
seconds) and ``DYNAMICS_GPU`` (CIFAR-10, the fast trainer; without CIFAR-10 it says so and uses the digits). The
nets are trained by the core's :func:`~resnet_edu.recipes.train_family`, with the recorder passed in.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import _checks
from .. import data as _data
from .. import nets as _nets
from .. import recipes as _recipes
from .. import runtime as _runtime
from .. import train as _train
from .. import viz as _viz
from .. import work as _work
from ..gradients import weight_layers
from ..train import (  # noqa: F401 (core; named here for the notebook: lesson.save_checkpoint, lesson.confusion_matrix)
    Confusion,
    confusion_matrix,
    load_checkpoint,
    predict,
    save_checkpoint,
)

KINDS = _nets.KINDS  # ("plain", "residual")
KIND_COLORS = _viz.KIND_COLORS  # plain red, residual blue, as in every lesson

# The digits at 8×8, width 8, SGD with momentum like the GPU recipe: two 56-layer nets in seconds on one CPU thread.
DYNAMICS_CPU = _recipes.Recipe(
    dataset="digits", image_size=8, width=8, last=50,
    train=_train.TrainConfig(steps=200, batch_size=64, optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4,
                             schedule="cosine"),
)
# CIFAR-10, He et al. 2015 §4.2's nets and crop-and-flip augmentation, trained like fast CIFAR recipes: batch 512, lr
# 0.4 (the paper's 0.1 at batch 128 scaled linearly, Goyal et al. 2017) reached by a warm-up over 15 % of training
# and annealed to zero (one-cycle, Smith & Topin 2019), Nesterov momentum, weight decay 5e-4, label smoothing 0.1
# (Szegedy et al. 2016), flipped test images averaged in, 40 epochs: aimed at ResNet-56 ≥ 92 % test within 8 min for
# the whole notebook on one H100 with the fast trainer (unmeasured: see benchmarks/lesson08_gpu.py). The paper scale.
DYNAMICS_PAPER = _recipes.Recipe(
    dataset="cifar10", image_size=32, width=16, last=50,
    train=_train.TrainConfig(epochs=40, batch_size=512, optimizer="sgd", lr=0.4, momentum=0.9, nesterov=True,
                             weight_decay=5e-4, schedule="onecycle", warmup=0.15, augment=True, label_smoothing=0.1,
                             tta_flip=True),
)
# The gpu scale (Colab's T4): the same recipe for 7 epochs, 2 nets ≈ 0.96 M ResNet-56-equivalent images with the 20
# flipped test passes (benchmarks/work.py). ResNet-56 should still be far ahead of plain-56 (the check asks 3 points);
# no paper accuracy is claimed at this length. Unmeasured on a GPU.
DYNAMICS_GPU = replace(DYNAMICS_PAPER, train=DYNAMICS_PAPER.train.replace(epochs=7))
DYNAMICS: dict[str, _recipes.Recipe] = {"cpu": DYNAMICS_CPU, "gpu": DYNAMICS_GPU,  # lesson 08's, by scale
                                        "paper": DYNAMICS_PAPER}
DEPTH = 56


# ---------------------------------------------------------------------------------------------------------------
# The recorder
# ---------------------------------------------------------------------------------------------------------------


class GradientRecorder:
    """Record ‖∂L/∂W‖ of every conv and linear weight of ``model`` every ``every`` steps, on the device.

    Pass it to :func:`resnet_edu.train.fit` as ``after_backward=recorder``; each call (after ``loss.backward()``)
    computes all layers' norms with one ``torch._foreach_norm`` and writes them into a preallocated
    (rows × layers) tensor on the gradients' device. The step counter lives on the device too and the write is a
    ``torch.where``, so nothing waits for the GPU and a CUDA graph that captures one call replays it correctly every
    step (see :meth:`__call__`). Rows hold steps 0, ``every``, 2·``every``, …; steps beyond ``steps`` are ignored.
    :meth:`history` reads the buffer once (the only host sync). Lesson 08; layer names input side first, as in
    lesson 03b.

    ``norms(model)`` measures the gradients instead of the fused default: one tensor of ‖∂L/∂W‖ per weight layer in
    the order of :func:`resnet_edu.gradients.weight_layers`, on the gradients' device (lesson 08 writes it on its
    page; the recorder keeps the bookkeeping: the buffer, the device counter, the relative updates).
    """

    def __init__(self, model: nn.Module, steps: int, every: int = 1, label: str = "",
                 norms: Callable[[nn.Module], torch.Tensor] | None = None) -> None:
        _checks.module("model", model)
        self.steps = _checks.integer("steps", steps, low=1)
        self.every = _checks.integer("every", every, low=1)
        layers = weight_layers(model)
        if not layers:
            raise ValueError("model has no Conv2d or Linear layers whose gradients could be recorded")
        self.names = [name for name, _ in layers]
        self.weights = [module.weight for _, module in layers]  # Parameters stay the same objects after .to(device)
        self.rows = math.ceil(self.steps / self.every)
        self.label = label
        self.model = model
        self.norms = None if norms is None else _checks.function("norms", norms, "norms(model) -> a tensor of "
                                                                  "one gradient norm per weight layer")
        self._buffer: torch.Tensor | None = None  # allocated on the first call, on the gradients' device
        self._count: torch.Tensor | None = None
        self._updates: torch.Tensor | None = None  # ‖ΔW‖/‖W‖ per recorded row and layer
        self._previous: list[torch.Tensor] | None = None  # the weights at the last recorded step

    def _allocate(self, device: torch.device) -> None:
        self._buffer = torch.full((self.rows, len(self.weights)), float("nan"), device=device)
        self._updates = torch.full((self.rows, len(self.weights)), float("nan"), device=device)
        self._count = torch.zeros((), dtype=torch.long, device=device)
        self._previous = [w.detach().clone() for w in self.weights]

    def __call__(self, step: int) -> None:
        """Record the current gradients of 0-based training step ``step``.

        Called eagerly, ``step`` sets the device counter (a device-side fill, no sync), so a restarted run starts
        again at row 0, and a step that is not recorded computes nothing. Called while a CUDA graph is being
        captured, the counter is left alone: the captured ops compute the norms, write them where the counter says
        (only on every ``every``-th step, by a ``torch.where``) and add 1, and each replay continues from where the
        eager steps stopped.
        """
        grads = [w.grad for w in self.weights]
        if any(g is None for g in grads):
            missing = [n for n, g in zip(self.names, grads) if g is None]
            raise RuntimeError(f"no gradient for {', '.join(missing[:3])}: call the recorder after loss.backward()")
        if self._buffer is None:
            self._allocate(grads[0].device)
        buffer, count = self._buffer, self._count
        if not _capturing(count):  # eager: Python's step is the truth, and steps not recorded cost nothing
            _checks.integer("step", step, low=0)
            if step % self.every or step >= self.steps:
                count.fill_(step + 1)
                return
            count.fill_(step)
        # One fused norm for the gradients and for the relative update ‖ΔW‖/‖W‖ per step since the last recorded
        # step (the weights seen here are those before this step's update): what the optimizer actually did to each
        # layer, weight decay and momentum included.
        weights = [w.detach() for w in self.weights]
        layers = len(weights)
        moved = list(torch._foreach_sub(weights, self._previous))
        if self.norms is None:
            every_norm = torch.stack(torch._foreach_norm(grads + moved + self._previous))
            norms = every_norm[:layers]
        else:  # the learner's measurement of the gradients; the weights' norms stay fused
            norms = self._measured(self.norms(self.model))
            every_norm = torch.cat([norms, torch.stack(torch._foreach_norm(moved + self._previous))])
        norms = norms.to(buffer.dtype).view(1, -1)
        # fp16 (a T4): a step whose gradients overflowed is skipped by the optimizer; its row says NaN, not inf
        norms = torch.where(torch.isfinite(norms).all(), norms, float("nan"))
        change, size = every_norm[layers:2 * layers], every_norm[2 * layers:].clamp_min(1e-12)
        row = torch.clamp(count // self.every, max=self.rows - 1).view(1)
        keep = (count % self.every == 0) & (count < self.steps)  # a device bool: no Python branch on the step
        buffer.index_copy_(0, row, torch.where(keep, norms, buffer.index_select(0, row)))
        relative = torch.where(count > 0, change / size / self.every, float("nan")).to(buffer.dtype).view(1, -1)
        self._updates.index_copy_(0, row, torch.where(keep, relative, self._updates.index_select(0, row)))
        for previous, w in zip(self._previous, weights):
            previous.copy_(torch.where(keep, w, previous))
        count.add_(1)

    def _measured(self, norms: object) -> torch.Tensor:
        """What ``norms(model)`` returned, if it is one number per weight layer (checked on shapes only: no sync)."""
        if not isinstance(norms, torch.Tensor) or norms.shape != (len(self.weights),):
            shape = tuple(norms.shape) if isinstance(norms, torch.Tensor) else type(norms).__name__
            raise ValueError(f"norms(model) must return a tensor of {len(self.weights)} gradient norms, one per weight "
                             f"layer ({self.names[0]}, …); got {shape}")
        return norms

    @property
    def calls(self) -> int:
        """How many times the recorder ran (reads the device counter: one sync)."""
        return 0 if self._count is None else int(self._count)

    def history(self) -> GradientHistory:
        """The recorded norms as a :class:`GradientHistory` (one copy to the host)."""
        filled = math.ceil(min(self.calls, self.steps) / self.every)
        if filled == 0:
            raise RuntimeError("nothing recorded yet: pass the recorder to fit(..., after_backward=recorder)")
        norms = self._buffer[:filled].float().cpu().numpy()
        updates = self._updates[:filled].float().cpu().numpy()
        return GradientHistory(self.names, [r * self.every for r in range(filled)], norms, self.label, updates)


def _capturing(tensor: torch.Tensor) -> bool:
    """True while a CUDA graph is being captured on the current stream (never for CPU tensors)."""
    return tensor.is_cuda and torch.cuda.is_current_stream_capturing()


@dataclass
class GradientHistory:
    """‖∂L/∂W‖ per weight layer (columns, input side first) at recorded training steps (rows, 0-based)."""

    names: list[str]
    steps: list[int]
    norms: np.ndarray  # (len(steps), len(names))
    label: str = ""
    updates: np.ndarray | None = None  # ‖ΔW‖/‖W‖ per step (row 0: NaN, nothing before it); same shape as norms

    def __post_init__(self) -> None:
        for name, value in (("norms", self.norms), ("updates", self.updates)):
            if value is not None and value.shape != (len(self.steps), len(self.names)):
                raise ValueError(f"{name} must have shape (steps, layers) = ({len(self.steps)}, {len(self.names)}); "
                                 f"got {value.shape}")

    @property
    def positions(self) -> dict[str, int]:
        """Column of the first (next to the input), middle and last (the classifier) weight layer."""
        return {"first": 0, "middle": len(self.names) // 2, "last": len(self.names) - 1}

    def layer(self, which: str | int) -> np.ndarray:
        """Norms over time of one layer: ``"first"``, ``"middle"``, ``"last"``, a layer name or a column index."""
        if isinstance(which, str) and which in self.positions:
            return self.norms[:, self.positions[which]]
        if isinstance(which, str) and which in self.names:
            return self.norms[:, self.names.index(which)]
        if isinstance(which, int) and not isinstance(which, bool) and -len(self.names) <= which < len(self.names):
            return self.norms[:, which]
        raise ValueError(f"layer must be 'first', 'middle', 'last', a layer name such as {self.names[0]!r} or an "
                         f"index below {len(self.names)}; got {which!r}")

    @property
    def first_row(self) -> int:
        """The first recorded row whose norms are all finite: 0, unless fp16 skipped the first steps (NaN rows)."""
        finite = np.flatnonzero(np.isfinite(self.norms).all(axis=1))
        if finite.size == 0:
            raise ValueError(f"no recorded step of {self.label or 'this run'} has finite gradient norms: every "
                             "recorded step overflowed (fp16) or diverged")
        return int(finite[0])

    def ratio(self) -> np.ndarray:
        """First-layer over last-layer norm at every recorded step: ≫ 1 means the gradient grows toward the input."""
        return self.layer("first") / self.layer("last")

    def largest(self, row: int | None = None) -> str:
        """Name of the layer with the largest gradient norm at recorded row ``row`` (default :attr:`first_row`: step
        0, before any update, unless fp16 skipped it)."""
        return self.names[int(np.argmax(self.norms[self.first_row if row is None else row]))]

    def plot(self, ax=None, norm=None, colorbar: bool = True):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Heatmap layer × training step on a log colour scale (pass one ``matplotlib.colors.LogNorm`` as ``norm``
        to compare nets on the same scale, as :meth:`Comparison.plot_heatmaps` does)."""
        from matplotlib.colors import LogNorm

        from ..viz import axes

        ax = axes(ax, figsize=(7, 3.8))
        norm = norm or LogNorm(*_positive_range([self]))
        layers = np.arange(1, len(self.names) + 1)
        mesh = ax.pcolormesh(self.steps, layers, self.norms.T, norm=norm, cmap="magma", shading="nearest")
        ax.set_xlabel("training step")
        ax.set_ylabel("weight layer (1 = next to the input)")
        ax.set_title(f"‖∂L/∂W‖ per layer: {self.label}" if self.label else "‖∂L/∂W‖ per layer")
        if colorbar:
            ax.figure.colorbar(mesh, ax=ax, label="gradient norm (log scale)")
        return ax


def _positive_range(histories: list[GradientHistory]) -> tuple[float, float]:
    values = np.concatenate([h.norms[np.isfinite(h.norms) & (h.norms > 0)] for h in histories])
    if values.size == 0:
        return 1e-8, 1.0
    return float(values.min()), float(values.max())


# ---------------------------------------------------------------------------------------------------------------
# Training both nets
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One trained net: its :class:`~resnet_edu.train.FitResult`, its gradient history, the model itself, the final
    test accuracy, and ``weight_growth``: ‖W‖ after training / ‖W‖ at init of every weight layer (input side first)."""

    kind: str
    depth: int
    fit: _train.FitResult
    history: GradientHistory
    model: nn.Module
    batch_size: int
    test_acc: float
    weight_growth: np.ndarray

    @property
    def label(self) -> str:
        return f"{self.kind}-{self.depth}"

    @property
    def images_per_second(self) -> float:
        """Training throughput of this run: images through forward + backward + update per second of the run's wall
        time (which includes its test evaluations and, on a GPU, the one-off CUDA-graph capture)."""
        return self.fit.steps * self.batch_size / self.fit.wall_time if self.fit.wall_time > 0 else float("nan")

    def throughput(self) -> str:
        """One line: img/s, steps and wall time of this run."""
        return (f"{self.label}: {self.images_per_second:,.0f} img/s ({self.fit.steps} steps of {self.batch_size} "
                f"in {self.fit.wall_time:.1f} s, evaluations included)")


@dataclass
class Comparison:
    """A plain net and its residual twin trained with the same recipe and seed (lesson 08; He et al. 2015, §4.2,
    Fig. 6). ``runs[kind]`` is a :class:`Run`; ``log_dir`` holds the TensorBoard logs when there are any."""

    depth: int
    recipe: _recipes.Recipe
    dataset: str
    runs: dict[str, Run] = field(default_factory=dict)
    log_dir: str | None = None

    def history(self, kind: str) -> GradientHistory:
        _nets.check_kind(kind)
        return self.runs[kind].history

    def test_acc(self, kind: str) -> float:
        _nets.check_kind(kind)
        return self.runs[kind].test_acc

    def ratio_at_start(self, kind: str) -> float:
        """First-layer / last-layer gradient norm at step 0 (at initialisation, before any update), or at the first
        step with finite gradients when fp16 skipped the first (its rows are NaN)."""
        history = self.history(kind)
        return float(history.ratio()[history.first_row])

    def weight_growth(self, kind: str, which: str = "first") -> float:
        """‖W‖ after training / ‖W‖ at init of the ``"first"``, ``"middle"`` or ``"last"`` weight layer."""
        history = self.history(kind)
        if which not in history.positions:
            raise ValueError(f"which must be 'first', 'middle' or 'last'; got {which!r}")
        return float(self.runs[kind].weight_growth[history.positions[which]])

    def relative_update(self, kind: str, which: str = "first", skip: float = 0.1) -> float:
        """Median ‖ΔW‖/‖W‖ per step of the ``"first"``, ``"middle"`` or ``"last"`` weight layer over the recorded
        steps after the first ``skip`` fraction of training: the layer's effective step size, measured."""
        history = self.history(kind)
        if which not in history.positions:
            raise ValueError(f"which must be 'first', 'middle' or 'last'; got {which!r}")
        values = history.updates[:, history.positions[which]]
        return float(np.nanmedian(values[max(1, int(skip * len(values))):]))

    def plot_updates(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """‖ΔW‖/‖W‖ per step of every weight layer (median after the first 10 % of training), input side first, for
        both nets: how far the optimizer actually moves each layer relative to its size."""
        from ..viz import axes

        ax = axes(ax, figsize=(8, 4))
        for kind, run in self.runs.items():
            values = run.history.updates[max(1, len(run.history.steps) // 10):]
            ax.plot(range(1, len(run.history.names) + 1), np.nanmedian(values, axis=0), "o-", ms=3,
                    color=KIND_COLORS[kind], label=run.label)
        ax.set_yscale("log")
        ax.set_xlabel("weight layer (1 = next to the input)")
        ax.set_ylabel("‖ΔW‖ / ‖W‖ per step (median)")
        ax.set_title("Relative update of every layer during training")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        return ax

    def ratio_during_training(self, kind: str, skip: float = 0.1) -> float:
        """Median first/last gradient ratio over the recorded steps after the first ``skip`` fraction of training
        (0 ≤ ``skip`` < 1: 0 takes every recorded step, 0.5 the second half)."""
        skip = _checks.number("skip", skip, low=0, high=1, high_inclusive=False)
        ratio = self.history(kind).ratio()
        return float(np.nanmedian(ratio[int(skip * len(ratio)):]))  # NaN: a step fp16 skipped

    @property
    def wall_time(self) -> float:
        return sum(run.fit.wall_time for run in self.runs.values())

    def table(self) -> str:
        """Per net: final training loss, test accuracy, first/last gradient ratio at step 0 and during training, and
        how much the first layer's weights grew."""
        rows = [f"{'net':<12} {'train loss':>10} {'test acc':>8} {'first/last ‖g‖: step 0':>23} {'training':>9} "
                f"{'‖W first‖ end/init':>19}"]
        for kind, run in self.runs.items():
            rows.append(f"{run.label:<12} {run.fit.final_loss(self.recipe.last):>10.3f} {run.test_acc:>8.1%} "
                        f"{self.ratio_at_start(kind):>23.3g} {self.ratio_during_training(kind):>9.3g} "
                        f"{self.weight_growth(kind):>19.3g}")
        return "\n".join(rows)

    def plot_heatmaps(self):  # noqa: ANN201 (matplotlib Figure)
        """One heatmap layer × step per net, both on the same log colour scale."""
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm

        histories = [run.history for run in self.runs.values()]
        norm = LogNorm(*_positive_range(histories))
        fig, axes = plt.subplots(1, len(histories), figsize=(6.5 * len(histories), 4), layout="constrained")
        for ax, history in zip(np.atleast_1d(axes), histories):
            history.plot(ax=ax, norm=norm, colorbar=False)
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="magma"), ax=axes, label="‖∂L/∂W‖ (one log scale)")
        fig.suptitle(f"Gradient norm of every weight layer during training ({self.dataset})")
        return fig

    def plot_layers(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Gradient norm of the first, middle and last weight layer of each net over training (log scale)."""
        from ..viz import axes

        ax = axes(ax, figsize=(8, 4))
        for kind, run in self.runs.items():
            for which, style in zip(("first", "middle", "last"), ("-", "--", ":")):
                name = run.history.names[run.history.positions[which]]
                ax.plot(run.history.steps, run.history.layer(which), style, color=KIND_COLORS[kind],
                        label=f"{run.label}: {which} ({name})")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("gradient norm ‖∂L/∂W‖")
        ax.set_title("First, middle and last layer during training")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        return ax

    def plot_accuracy(self, ax=None, smooth: int | None = None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Training accuracy (moving average over batches) and test accuracy (points) of both nets."""
        from ..viz import axes, moving_average

        if smooth is not None:
            smooth = _checks.integer("smooth", smooth, low=1)  # a moving-average window in steps
        ax = axes(ax, figsize=(8, 4))
        for kind, run in self.runs.items():
            window = max(1, run.fit.steps // 20) if smooth is None else smooth
            ax.plot(range(1, run.fit.steps + 1), moving_average(run.fit.acc, window), color=KIND_COLORS[kind],
                    alpha=0.7, label=f"{run.label}: training (moving average of {window})")
            ax.plot([e["step"] for e in run.fit.evals], [e["acc"] for e in run.fit.evals], "o--",
                    color=KIND_COLORS[kind], label=f"{run.label}: test")
        ax.axhline(0.1, color="grey", ls=":", lw=1, label="chance (10 %)")
        ax.set_ylim(0, 1)
        ax.set_xlabel("training step")
        ax.set_ylabel("accuracy")
        ax.set_title(f"Training and test accuracy ({self.dataset})")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        return ax

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        """The three views side by side is too wide; this draws the heatmaps (see also plot_layers/plot_accuracy)."""
        return self.plot_heatmaps()


def find_tensorboard() -> str | None:
    """Make ``%tensorboard`` find the ``tensorboard`` program of *this* Python (lesson 08) and return its path.

    The notebook magic starts ``tensorboard`` from the kernel's PATH, which lacks the virtual environment's ``bin/``
    when JupyterLab was started without activating it (then it prints "Could not find `tensorboard`"). When the
    program is not on PATH but sits next to ``sys.executable``, this sets ``TENSORBOARD_BINARY`` (which the magic
    reads first) and prepends that folder to PATH. Returns None when there is no ``tensorboard`` program at all."""
    import shutil
    import sys

    here = Path(sys.executable).parent / ("tensorboard.exe" if os.name == "nt" else "tensorboard")
    found = shutil.which("tensorboard")
    if found is None and here.exists():
        os.environ["TENSORBOARD_BINARY"] = str(here)
        os.environ["PATH"] = os.pathsep.join([str(here.parent), os.environ.get("PATH", "")])
        found = str(here)
    return found


def runs_dir(name: str = "08_train_cifar10") -> Path:
    """Where lesson 08 keeps its TensorBoard logs and checkpoints: ``<data root>/runs/<name>`` (``data_root()`` is
    ``$RESNET_EDU_DATA`` or ``~/.cache/resnet_edu``), outside the repository, so notebooks/ stays clean."""
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ValueError(f"name must be a plain folder name such as '08_train_cifar10'; got {name!r}")
    return _data.data_root() / "runs" / name


def work(scale: str | None = None) -> _work.Work:
    """What :func:`train_pair` trains at ``scale`` (plain-56 and ResNet-56, ~20 flipped test passes each), in
    ResNet-56-equivalent images (benchmarks/work.py)."""
    scale = _work.check_scale(scale)
    recipe = _recipes.pick(DYNAMICS, scale)
    total = recipe.train.total_steps(max(1, _work.data_sizes(recipe.dataset, recipe.image_size)[0]
                                         // recipe.train.batch_size))
    nets = [(kind, DEPTH) for kind in KINDS]
    return _work.Work("08", scale, _work.family_items(recipe, nets, eval_every=max(1, total // 20)))


def train_pair(
    depth: int = DEPTH,
    seed: int = 0,
    scale: str | None = None,
    recipe: _recipes.Recipe | None = None,
    every: int | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    gradient_norms: Callable[[nn.Module], torch.Tensor] | None = None,
) -> Comparison:
    """Train plain-``depth`` and ResNet-``depth`` with one recipe and seed, recording every layer's gradient norm
    every ``every`` steps (default: about 200 records per run), and evaluate on the test set ~20 times.

    ``scale`` picks the recipe (``"cpu"``: digits; ``"gpu"``: CIFAR-10, falling back to the digits with a notice);
    ``recipe`` overrides it. ``log_dir``: TensorBoard runs ``<log_dir>/plain-56`` and ``<log_dir>/residual-56``
    with the trainer's scalars plus gradient-norm scalars and histograms. ``gradient_norms(model)`` is the
    measurement the recorder takes after every ``loss.backward()`` (lesson 08's page passes its own; see
    :class:`GradientRecorder`'s ``norms``). Lesson 08.
    """
    _nets.check_depth(depth)
    _checks.seed(seed)
    _checks.flag("progress", progress)
    if recipe is None:
        recipe = _recipes.pick(DYNAMICS, scale)
    else:
        _recipes.check_recipe(recipe)
    train, test, recipe = _recipes.load_data(recipe, fallback=DYNAMICS_CPU)  # no CIFAR-10: lesson 08's digits recipe
    total = recipe.train.total_steps(len(train) // recipe.train.batch_size)
    every = max(1, total // 200) if every is None else _checks.integer("every", every, low=1)
    print(f"scale {scale or _runtime.scale()} · {recipe.describe()} · depth {depth} · seed {seed} · "
          f"gradient norms every {every} step(s)")
    result = Comparison(depth, recipe, train.name.replace(" (train)", ""),
                        log_dir=None if log_dir is None else str(log_dir))
    init_norms: dict[str, torch.Tensor] = {}

    def record(model: nn.Module, label: str) -> GradientRecorder:  # the hook fit calls after each backward
        recorder = GradientRecorder(model, total, every, label=label, norms=gradient_norms)
        init_norms[label] = torch.stack([w.detach().norm() for w in recorder.weights])
        return recorder

    family = _recipes.train_family(recipe, [(kind, depth) for kind in KINDS], (seed,), data=(train, test),
                                   eval_every=max(1, total // 20), recorder=record, log_dir=result.log_dir,
                                   progress=progress)
    for (kind, _, _), trained in family.runs.items():
        result.runs[kind] = _run(trained, recipe, init_norms[trained.label], family.test, result.log_dir)
    return result


def _run(trained: _recipes.Trained, recipe: _recipes.Recipe, init_norms: torch.Tensor, test: _data.ImageData,
         log_dir: str | None) -> Run:
    """Lesson 08's record of one trained net: its gradient history (written to TensorBoard too), test accuracy and
    weight growth."""
    recorder, fit, model = trained.recorder, trained.fit, trained.model
    history = recorder.history()
    if log_dir is not None:
        log_gradients(history, Path(log_dir) / trained.label)
    tta_flip = recipe.train.tta_flip
    test_acc = fit.evals[-1]["acc"] if fit.evals else _train.evaluate(model, test, tta_flip=tta_flip)["acc"]
    growth = (torch.stack([w.detach().norm() for w in recorder.weights]).cpu() / init_norms).numpy()
    return Run(trained.kind, trained.depth, fit, history, model, recipe.train.batch_size, test_acc, growth)


def log_gradients(history: GradientHistory, log_dir: str | os.PathLike[str]) -> None:
    """Write a recorded history to TensorBoard after training (no sync while training): scalars
    ``grad_norm/first|middle|last`` and a histogram ``grad_norm/layers`` of all layers' norms per recorded step
    (TensorBoard steps are 1-based, like the trainer's)."""
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(log_dir)) as writer:
        for row, step in enumerate(history.steps):
            for which, column in history.positions.items():
                writer.add_scalar(f"grad_norm/{which}", float(history.norms[row, column]), step + 1)
            writer.add_histogram("grad_norm/layers", history.norms[row], step + 1)


# ---------------------------------------------------------------------------------------------------------------
# Looking at the trained nets
# ---------------------------------------------------------------------------------------------------------------


def _image(data: _data.ImageData, i: int) -> np.ndarray:
    x = data.x[i].detach().cpu()
    if x.shape[0] == 3 and data.name.startswith("CIFAR-10"):
        x = x * torch.tensor(_data.CIFAR10_STD).view(3, 1, 1) + torch.tensor(_data.CIFAR10_MEAN).view(3, 1, 1)
    else:
        x = (x - x.min()) / (x.max() - x.min() + 1e-8)
    x = x.clamp(0, 1)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def prediction_grid(model: nn.Module, data: _data.ImageData, n: int = 16, seed: int = 0):  # noqa: ANN201
    """A grid of ``n`` random test images titled "predicted (true)", wrong ones in red (lesson 08)."""
    import matplotlib.pyplot as plt

    n = _checks.integer("n", n, low=1, high=64, lift="Draw several grids for more.")
    n = min(n, len(data))
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(_checks.seed(seed)))[:n]
    predicted = predict(model, _data.ImageData(data.x[pick], data.y[pick], data.name, data.classes))
    cols = min(8, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i, p in zip(axes.flat, pick.tolist(), predicted.tolist()):
        true = int(data.y[i])
        ax.imshow(_image(data, i), cmap="gray")
        ax.set_title(f"{data.classes[p]}\n({data.classes[true]})", fontsize=8,
                     color="black" if p == true else "tab:red")
    fig.suptitle("Predicted (true) label; wrong predictions in red")
    fig.tight_layout()
    return fig
