"""The recipe and the record of a training run: :class:`TrainConfig` (what :func:`~resnet_edu.train.fit` does) and
:class:`FitResult` (what it measured). Lessons 00, 01, 07, 08 pass these around."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .. import _checks

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "step", "cosine", "linear", "onecycle")
PRECISIONS = ("fp32", "bf16", "fp16")
# The longest run a TrainConfig takes, in optimizer steps (``steps=`` or ``epochs`` × batches): He et al. 2015 train
# CIFAR-10 for 64k steps (§4.2) and ImageNet for 600k (§3.4), so 10**6 is every run of the paper with room to spare,
# and 10**9 is a typo. A bound, not a law: raise it (resnet_edu.train.config.MAX_STEPS = …) for a longer run.
MAX_STEPS = 1_000_000
MAX_EPOCHS = 10_000  # 250 times lesson 08's GPU recipe (40 epochs); the steps they make are bounded too
_LIFT = {"MAX_STEPS": "He et al. 2015 train ImageNet for 600,000 steps; for a longer run raise "
                      "resnet_edu.train.config.MAX_STEPS first.",
         "MAX_EPOCHS": "Lesson 08 trains for 40 epochs; for a longer run raise resnet_edu.train.config.MAX_EPOCHS "
                       "first."}


@dataclass(frozen=True)
class TrainConfig:
    """How a net is trained: every knob of :func:`~resnet_edu.train.fit` in one frozen object that validates itself.

    Exactly one of ``steps`` (optimizer steps, at most :data:`MAX_STEPS`) or ``epochs`` (passes over the data, at most
    :data:`MAX_EPOCHS` and :data:`MAX_STEPS` steps in all). ``lr`` defaults to 0.1 for SGD
    and 1e-3 for Adam. ``schedule`` multiplies ``lr`` step by step:

    * ``"constant"``; ``"step"``: ÷10 at 50 % and 75 % of training (He et al. 2015, §4.2: 32k and 48k of 64k);
    * ``"cosine"``: half a cosine down to 0 (Loshchilov & Hutter 2017);
    * ``"linear"``: linear decay to 0;
    * ``"onecycle"``: from lr/25 up to lr over the first ``warmup`` fraction (0.3 when ``warmup=0``), then half a
      cosine down to lr/10⁴ (Smith & Topin 2019, "super-convergence"; the shape of torch's ``OneCycleLR``).

    ``warmup`` (a fraction of the steps) adds a linear warm-up from 0 in front of the other schedules.
    ``label_smoothing`` is passed to the cross-entropy (Szegedy et al. 2016, §7). ``eval_every``: evaluate the
    held-out data every N steps (None: 10 times per run; 0: only at the end; always at the end). ``tta_flip``
    averages the logits of each test image and its mirror image in evaluations. ``fast`` allows the captured
    CUDA-graph step on a GPU (no effect on the CPU); ``sync_every`` is how often, in steps, a GPU run reads its loss.
    """

    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup: float = 0.0
    augment: bool = False
    label_smoothing: float = 0.0
    seed: int | None = 0
    eval_every: int | None = None
    tta_flip: bool = False
    fast: bool = True
    sync_every: int = 50

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("a TrainConfig needs exactly one of steps=… or epochs=… (a positive integer), "
                             f"e.g. TrainConfig(steps=100); got steps={self.steps!r}, epochs={self.epochs!r}")
        if self.steps is not None:
            _checks.integer("steps", self.steps, low=1)
            _checks.integer("steps", self.steps, high=MAX_STEPS, lift=_LIFT["MAX_STEPS"])  # 10**9 is a typo
        else:
            _checks.integer("epochs", self.epochs, low=1)
            _checks.integer("epochs", self.epochs, high=MAX_EPOCHS, lift=_LIFT["MAX_EPOCHS"])
        _checks.integer("batch_size", self.batch_size, low=1)
        _checks.choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.lr is not None:
            _checks.number("lr", self.lr, low=0, low_inclusive=False)
        _checks.number("momentum", self.momentum, low=0, high=1, high_inclusive=False)
        _checks.flag("nesterov", self.nesterov)
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov=True needs optimizer='sgd' with momentum > 0")
        _checks.number("weight_decay", self.weight_decay, low=0)
        _checks.choice("schedule", self.schedule, SCHEDULES)
        _checks.number("warmup", self.warmup, low=0, high=1, high_inclusive=False)
        _checks.flag("augment", self.augment)
        _checks.number("label_smoothing", self.label_smoothing, low=0, high=1, high_inclusive=False)
        if self.seed is not None:
            _checks.seed(self.seed)
        if self.eval_every is not None:
            _checks.integer("eval_every", self.eval_every, low=0)
        _checks.flag("tta_flip", self.tta_flip)
        _checks.flag("fast", self.fast)
        _checks.integer("sync_every", self.sync_every, low=1)

    @property
    def base_lr(self) -> float:
        """``lr``, or its default for the optimizer (SGD 0.1, Adam 1e-3)."""
        if self.lr is not None:
            return float(self.lr)
        return 0.1 if self.optimizer == "sgd" else 1e-3

    def total_steps(self, batches_per_epoch: int) -> int:
        """Optimizer steps of the whole run, given how many full batches one epoch holds (an integer >= 1)."""
        _checks.integer("batches_per_epoch", batches_per_epoch, low=1)
        if self.steps is not None:
            return self.steps
        total = self.epochs * batches_per_epoch
        if total > MAX_STEPS:
            raise ValueError(f"epochs={self.epochs} of {batches_per_epoch:,} batches is {total:,} steps; a run may "
                             f"take at most {MAX_STEPS:,}. {_LIFT['MAX_STEPS']}")
        return total

    def lr_factor(self, step: int, total: int) -> float:
        """The multiplier of ``lr`` at 0-based ``step`` of a ``total``-step run (the one schedule every path uses).

        ``step`` runs from 0 to ``total`` (the value at ``total``, where a run has ended, is the schedule's last one,
        never below 0); a step past the end is refused rather than extrapolated into a negative learning rate.
        """
        _checks.integer("total", total, low=1)
        _checks.integer("step", step, low=0)
        if step > total:
            raise ValueError(f"step must be between 0 and total={total} (the schedule ends there); got {step}")
        name = self.schedule
        if name == "onecycle":  # Smith & Topin 2019: up from lr/25, then cosine down to lr/1e4
            peak = max(1, round((self.warmup or 0.3) * total))
            start, end = 1 / 25, 1 / 25 / 1e4
            if step < peak:
                return start + (1 - start) * step / peak
            t = (step - peak) / max(1, total - peak)
            return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * t))
        warm = round(self.warmup * total)
        ramp = min(1.0, (step + 1) / warm) if warm else 1.0
        if name == "constant":
            return ramp * 1.0
        if name == "step":
            return ramp * 0.1 ** ((step >= total // 2) + (step >= total * 3 // 4))
        t = (step - warm) / max(1, total - warm) if step >= warm else 0.0
        if name == "cosine":
            return ramp * 0.5 * (1 + math.cos(math.pi * t))
        return ramp * (1 - t)  # linear

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again), e.g. ``config.replace(steps=400)``."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; allowed: "
                             f"{', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """One line: optimizer, schedule, batch, length, augmentation."""
        length = f"{self.steps} steps" if self.steps is not None else f"{self.epochs} epochs"
        opt = f"{self.optimizer} lr {self.base_lr:g}"
        if self.optimizer == "sgd":
            opt += f" momentum {self.momentum:g}{' (nesterov)' if self.nesterov else ''}"
            opt += f" weight decay {self.weight_decay:g}"
        elif self.weight_decay:
            opt += f" weight decay {self.weight_decay:g}"
        extras = f", {self.schedule} schedule" + (f" with {self.warmup:.0%} warm-up" if self.warmup else "")
        extras += ", crop+flip augmentation" if self.augment else ""
        extras += f", label smoothing {self.label_smoothing:g}" if self.label_smoothing else ""
        extras += ", flip TTA" if self.tta_flip else ""
        return f"batch {self.batch_size}, {opt}{extras}, {length}"


@dataclass
class FitResult:
    """What :func:`~resnet_edu.train.fit` measured: per-step training ``loss``/``acc``, per-eval metrics, wall time,
    divergence.

    ``fast`` tells whether the captured CUDA-graph step ran; ``capture_time`` is its one-off cost (warm-up steps and
    capture, seconds, included in ``wall_time``); ``clock`` holds (step, seconds since the start) at every read of
    the loss, evaluations not counted, so that steady-state speed is the slope between two entries
    (:meth:`ms_per_step`); ``precision`` is fp32, bf16 or fp16; ``eval_time`` is the part of ``wall_time`` spent
    evaluating; ``clock_from`` is the step after which the steady-state clock starts (the first replay after the
    capture; 0 without one).
    """

    loss: list[float] = field(default_factory=list)
    acc: list[float] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    wall_time: float = 0.0
    diverged: bool = False
    diverged_at: int | None = None
    label: str = ""
    fast: bool = False
    capture_time: float = 0.0
    precision: str = "fp32"
    eval_time: float = 0.0
    clock: list[tuple[int, float]] = field(default_factory=list)
    clock_from: int = 0

    @property
    def steps(self) -> int:
        return len(self.loss)

    def final_loss(self, last: int = 50) -> float:
        """Mean training loss over the ``last`` steps (inf when the run diverged)."""
        _checks.integer("last", last, low=1)
        if self.diverged or not self.loss:
            return float("inf")
        tail = self.loss[-last:]
        return sum(tail) / len(tail)

    def final_acc(self, last: int = 50) -> float:
        """Mean training accuracy over the ``last`` steps."""
        _checks.integer("last", last, low=1)
        tail = self.acc[-last:] or [0.0]
        return sum(tail) / len(tail)

    def ms_per_step(self, skip: int = 0) -> float:
        """Steady-state milliseconds per training step: the slope of ``clock`` (evaluations excluded) from its first
        reading at or after step ``skip`` (and after the capture, ``clock_from``) to its last, so that warm-up and
        capture are never counted."""
        _checks.integer("skip", skip, low=0)
        marks = [(s, t) for s, t in self.clock if s >= max(skip, self.clock_from)]
        if len(marks) < 2:
            raise ValueError(f"ms_per_step needs two clock readings at or after step {skip}; this run has "
                             f"{len(marks)} (train longer or lower TrainConfig.sync_every)")
        (s0, t0), (s1, t1) = marks[0], marks[-1]
        return 1000 * (t1 - t0) / (s1 - s0)

    def plot(self, ax=None, smooth: int = 10):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Training loss per step (moving average of ``smooth`` steps), with eval points if any."""
        from ..viz import plot_curves

        ax = plot_curves({self.label or "train": self}, ax=ax, smooth=smooth)
        if self.evals:
            ax.plot([e["step"] for e in self.evals], [e["loss"] for e in self.evals], "o--", label="eval loss")
            ax.legend()
        return ax
