"""One training loop for every lesson (lessons 00, 01, 08), and the shell command behind it.

:class:`TrainConfig` is the recipe — length, batch, optimizer, learning rate and schedule, augmentation, seed, eval
cadence — as one frozen dataclass that checks itself on construction; :func:`fit` takes it whole. The default SGD
settings are He et al. 2015, §4.2's (momentum 0.9, lr 0.1 divided by 10 at 50 % and 75 % with ``schedule="step"``).

On the CPU ``fit`` is a plain, deterministic loop. On a CUDA GPU small CIFAR nets are bound by kernel launches and
Python, not by arithmetic, so ``fit`` removes both (``TrainConfig.fast``, on by default):

* the whole training step — forward, loss, backward, fused SGD — is captured once in a CUDA graph
  (``torch.cuda.graph``) and replayed: one launch per step instead of hundreds;
* the batch is copied into static input buffers (fixed shapes; the last partial batch of an epoch is dropped);
* loss and accuracy stay on the GPU and are read every ``sync_every`` steps (no host sync per step);
* bf16 autocast on sm80+ (A100, H100); fp16 on older GPUs (T4), with dynamic loss scaling done by device ops.

Where the captured step cannot run (Adam, DistributedDataParallel, a model that syncs with the host, a capture
error) ``fit`` says so in one printed line and trains with the standard loop. ``python -m resnet_edu.train`` runs
the same trainer from the shell, also under ``torchrun`` (see :func:`main`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .data import DeviceLoader, ImageData

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "step", "cosine", "linear", "onecycle")
PRECISIONS = ("fp32", "bf16", "fp16")
WARMUP_STEPS = 3  # eager steps on a side stream before capture (cuDNN autotuning, optimizer state, allocator)


@dataclass(frozen=True)
class TrainConfig:
    """How a net is trained: every knob of :func:`fit` in one frozen object that validates itself.

    Exactly one of ``steps`` (optimizer steps) or ``epochs`` (passes over the data). ``lr`` defaults to 0.1 for SGD
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
        else:
            _checks.integer("epochs", self.epochs, low=1)
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
        """Optimizer steps of the whole run, given how many full batches one epoch holds."""
        return self.steps if self.steps is not None else self.epochs * batches_per_epoch

    def lr_factor(self, step: int, total: int) -> float:
        """The multiplier of ``lr`` at 0-based ``step`` of a ``total``-step run (the one schedule every path uses)."""
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
    """What :func:`fit` measured: per-step training ``loss``/``acc``, per-eval metrics, wall time, divergence.

    ``fast`` tells whether the captured CUDA-graph step ran; ``capture_time`` is its one-off cost (warm-up steps and
    capture, seconds, included in ``wall_time``); ``clock`` holds (step, seconds since the start) at every read of
    the loss, so that steady-state speed is the slope between two entries; ``precision`` is fp32, bf16 or fp16;
    ``eval_time`` is the part of ``wall_time`` spent evaluating.
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
        """Steady-state milliseconds per step: the slope of ``clock`` after the first ``skip`` steps."""
        _checks.integer("skip", skip, low=0)
        marks = [(s, t) for s, t in self.clock if s >= skip]
        if len(marks) < 2:
            raise ValueError(f"ms_per_step needs two clock readings at or after step {skip}; this run has "
                             f"{len(marks)} (train longer or lower TrainConfig.sync_every)")
        (s0, t0), (s1, t1) = marks[0], marks[-1]
        return 1000 * (t1 - t0) / (s1 - s0)

    def plot(self, ax=None, smooth: int = 10):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Training loss per step (moving average of ``smooth`` steps), with eval points if any."""
        from .viz import plot_curves

        ax = plot_curves({self.label or "train": self}, ax=ax, smooth=smooth)
        if self.evals:
            ax.plot([e["step"] for e in self.evals], [e["loss"] for e in self.evals], "o--", label="eval loss")
            ax.legend()
        return ax


# ----------------------------------------------------------------------------------------------------------------
# Pieces shared by both loops


def precision_for(device: torch.device, capability: tuple[int, int] | None = None) -> str:
    """fp32 off CUDA; bf16 on sm80+ (A100, H100); fp16 below (T4 is sm75: no bf16 tensor cores)."""
    if device.type != "cuda":
        return "fp32"
    if capability is None:
        capability = torch.cuda.get_device_capability(device)
    return "bf16" if tuple(capability) >= (8, 0) else "fp16"


def _autocast(dev: torch.device, precision: str | None = None) -> Any:
    precision = precision or precision_for(dev)
    if precision == "fp32":
        return torch.autocast(dev.type if dev.type in ("cuda", "cpu") else "cpu", enabled=False)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype, cache_enabled=False)  # the cache must be off under graph capture


def _optimizer(model: nn.Module, config: TrainConfig, lr: float | torch.Tensor, fused: bool = False
               ) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        extra = {"fused": True} if fused else {}
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=config.momentum, nesterov=config.nesterov,
                               weight_decay=config.weight_decay, **extra)
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=config.weight_decay)


def first_conv_channels(model: nn.Module) -> int | None:
    """Input channels of the first convolution of ``model`` (None when it has none)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if conv is None else conv.in_channels


def check_model_fits_data(model: nn.Module, data: ImageData, name: str = "data") -> None:
    """A clear sentence when a net's first convolution expects a different number of channels than the images."""
    want = first_conv_channels(model)
    if want is not None and want != data.in_channels:
        raise ValueError(
            f"the network's first convolution takes {want}-channel images, but {name} ({data.name}) has "
            f"{data.in_channels} channel(s). Build the net with in_channels={data.in_channels}, e.g. "
            f"nets.cifar_net(20, in_channels={data.in_channels}), or load the data with channels={want}."
        )


class DeviceHistory:
    """Per-step training loss and accuracy kept on the training device, read into lists every ``every`` steps.

    Recording a step is two device copies (no host sync); :meth:`read` is the one sync. On the CPU, with
    ``every=1``, it is exactly the old ``float(loss)`` per step.
    """

    def __init__(self, every: int, device: torch.device) -> None:
        self.every = _checks.integer("every", every, low=1)
        self.values = torch.zeros(2, self.every, device=device)
        self.count = 0

    def add(self, loss: torch.Tensor, acc: torch.Tensor) -> bool:
        """Record one step; True when the buffer is full and should be read."""
        self.values[0, self.count].copy_(loss.detach())
        self.values[1, self.count].copy_(acc.detach())
        self.count += 1
        return self.count == self.every

    def read(self) -> tuple[list[float], list[float]]:
        """The recorded (loss, acc) lists since the last read; empties the buffer."""
        loss, acc = self.values[:, : self.count].tolist() if self.count else ([], [])
        self.count = 0
        return loss, acc


class _Run:
    """Book-keeping shared by both loops: history, divergence, bar, TensorBoard, evaluations, clock."""

    def __init__(self, config: TrainConfig, total: int, dev: torch.device, result: FitResult, eval_data: Any,
                 model: nn.Module, progress: bool, log_dir: str | None, sync_every: int) -> None:
        self.config, self.total, self.dev, self.result, self.model = config, total, dev, result, model
        self.eval_data = eval_data
        self.eval_every = (max(1, total // 10) if config.eval_every is None
                           else config.eval_every or total)
        self.history = DeviceHistory(sync_every, dev)
        self.distributed = _distributed() is not None
        self.bar = _bar(total, progress, result.label)
        self.writer = _writer(log_dir)
        self.start = time.perf_counter()

    def record(self, loss: torch.Tensor, acc: torch.Tensor) -> bool:
        """Record one step's loss; on a read, False when the run diverged (history cut at the first bad step)."""
        if self.history.add(loss, acc):
            return self.flush()
        return True

    def flush(self) -> bool:
        losses, accs = self.history.read()
        if not losses:
            return True
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        if bad is not None:
            bad_value, losses, accs = losses[bad], losses[:bad], accs[:bad]
        first = len(self.result.loss)
        self.result.loss += losses
        self.result.acc += accs
        self.result.clock.append((len(self.result.loss), time.perf_counter() - self.start))
        if self.writer is not None:
            for i, (value, acc) in enumerate(zip(losses, accs), start=first + 1):
                self.writer.add_scalar("train/loss", value, i)
                self.writer.add_scalar("train/acc", acc, i)
                self.writer.add_scalar("train/lr", self.config.base_lr * self.config.lr_factor(i - 1, self.total), i)
        if self.bar is not None and losses:
            self.bar.update(len(losses))
            self.bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}")
        if bad is not None:
            self.result.diverged, self.result.diverged_at = True, len(self.result.loss) + 1
            print(f"Training diverged at step {self.result.diverged_at}: the loss became {bad_value}. "
                  f"Try a smaller learning rate (lr={self.config.base_lr:g} now).")
            return False
        return True

    def after_step(self, step: int) -> bool:
        """Evaluate at the cadence (reading the loss first, so the bar and the log are current); False when the
        read found a divergence."""
        if self.eval_data is not None and (step % self.eval_every == 0 or step == self.total):
            if not self.flush():
                return False
            if self.distributed:
                broadcast_buffers(self.model)  # every rank evaluates rank 0's BN statistics
            started = time.perf_counter()
            metrics = evaluate(self.model, self.eval_data, device=self.dev, tta_flip=self.config.tta_flip)
            self.result.eval_time += time.perf_counter() - started
            self.result.evals.append({"step": step, **metrics})
            if self.writer is not None:
                self.writer.add_scalar("eval/loss", metrics["loss"], step)
                self.writer.add_scalar("eval/acc", metrics["acc"], step)
        return True

    def close(self) -> None:
        self.flush()
        if self.distributed:
            broadcast_buffers(self.model)
        if self.dev.type == "cuda":
            torch.cuda.synchronize(self.dev)
        self.result.wall_time = time.perf_counter() - self.start
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


def _batches(loader: DeviceLoader, total: int) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """(0-based step, x, y) for ``total`` steps, epoch after epoch."""
    step = 0
    while step < total:
        for x, y in loader:
            yield step, x, y
            step += 1
            if step >= total:
                return


# ----------------------------------------------------------------------------------------------------------------
# The standard loop (the CPU's, and the GPU's when the captured step is off or cannot run)


def _standard_loop(model: nn.Module, train_model: nn.Module, loader: DeviceLoader, config: TrainConfig, run: _Run,
                   after_backward: Callable[[int], None] | None) -> None:
    dev, precision = run.dev, run.result.precision
    opt = _optimizer(train_model, config, config.base_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: config.lr_factor(s, run.total))
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    model.train()
    for step, x, y in _batches(loader, run.total):
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(dev, precision):
            logits = train_model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
        if not run.record(loss, (logits.argmax(1) == y).float().mean()):
            break
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
        else:
            loss.backward()
        if after_backward is not None:
            after_backward(step)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        sched.step()
        if not run.after_step(step + 1):
            break


# ----------------------------------------------------------------------------------------------------------------
# The fast GPU loop: one captured CUDA graph per run


class DeviceLossScale:
    """Dynamic loss scaling for fp16 made only of device ops, so that it can live inside a CUDA graph.

    ``torch.amp.GradScaler`` keeps Python-side state per step (it records whether ``unscale_`` ran, and reads
    ``found_inf`` into the optimizer between calls), which a graph would freeze at its capture-time values. The
    kernels it calls are graph-safe, so this class uses them directly: scale the loss by a device tensor;
    ``_amp_foreach_non_finite_check_and_unscale_`` unscales the gradients and sets ``found_inf``; the fused SGD
    kernel skips the update when ``found_inf`` is set; ``_amp_update_scale_`` halves the scale after an overflow
    and doubles it after ``interval`` clean steps — the rule of GradScaler (Micikevicius et al. 2018, §3.2).
    """

    def __init__(self, device: torch.device, init: float = 2.0**16, interval: int = 2000) -> None:
        self.scale = torch.full((), init, dtype=torch.float32, device=device)
        self.inv_scale = torch.ones((), dtype=torch.float32, device=device)
        self.found_inf = torch.zeros((), dtype=torch.float32, device=device)
        self.growth_tracker = torch.zeros((), dtype=torch.int32, device=device)
        self.interval = interval

    def scaled(self, loss: torch.Tensor) -> torch.Tensor:
        return loss * self.scale

    def unscale_(self, params: Sequence[torch.Tensor]) -> None:
        grads = [p.grad for p in params if p.grad is not None]
        self.found_inf.zero_()
        torch.reciprocal(self.scale, out=self.inv_scale)
        torch._amp_foreach_non_finite_check_and_unscale_(grads, self.found_inf, self.inv_scale)

    def update(self) -> None:
        torch._amp_update_scale_(self.scale, self.growth_tracker, self.found_inf, 2.0, 0.5, self.interval)


class CapturedStep:
    """One training step on static buffers: forward, loss, backward, ``after_backward``, fused SGD, and the loss and
    accuracy copied into persistent device tensors. :meth:`run` executes it eagerly (the warm-up steps, and the
    CPU tests); :meth:`capture` records it into a ``torch.cuda.CUDAGraph`` that :meth:`replay` launches at once.
    """

    def __init__(self, model: nn.Module, config: TrainConfig, device: torch.device, precision: str,
                 sample_x: torch.Tensor, sample_y: torch.Tensor,
                 after_backward: Callable[[int], None] | None = None) -> None:
        self.model, self.config, self.device, self.precision = model, config, device, precision
        self.after_backward = after_backward
        layout = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        self.x = torch.empty_like(sample_x, device=device, memory_format=layout)
        self.y = torch.empty_like(sample_y, device=device)
        self.loss = torch.zeros((), device=device)
        self.acc = torch.zeros((), device=device)
        self.lr = torch.tensor(config.base_lr, dtype=torch.float32, device=device)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = _optimizer(model, config, self.lr, fused=True)
        self.loss_scale = DeviceLossScale(device) if precision == "fp16" else None
        if self.loss_scale is not None:
            self.opt.found_inf = self.loss_scale.found_inf  # the fused kernel skips the step when it is set
        self.graph: Any = None

    def load(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> None:
        """Copy the next batch and learning rate into the static buffers (device copies, no sync)."""
        self.x.copy_(x)
        self.y.copy_(y)
        self.lr.fill_(lr)

    def run(self, step: int) -> None:
        """The step itself; under capture this records instead of running."""
        with _autocast(self.device, self.precision):
            logits = self.model(self.x)
        loss = F.cross_entropy(logits.float(), self.y, label_smoothing=self.config.label_smoothing)
        if self.loss_scale is not None:
            self.loss_scale.scaled(loss).backward()
            self.loss_scale.unscale_(self.params)
        else:
            loss.backward()
        if self.after_backward is not None:
            self.after_backward(step)
        self.opt.step()
        if self.loss_scale is not None:
            self.loss_scale.update()
        self.loss.copy_(loss.detach())
        self.acc.copy_((logits.argmax(1) == self.y).float().mean())

    def warm_up(self, step: int) -> None:
        """One eager step on a side stream (what torch's whole-network capture recipe does before capturing)."""
        self.opt.zero_grad(set_to_none=True)
        if self.device.type != "cuda":
            self.run(step)
            return
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            self.run(step)
        torch.cuda.current_stream(self.device).wait_stream(side)

    def capture(self, step: int) -> None:
        """Record the step into a CUDA graph (gradients are allocated inside it, so they are set to None first)."""
        self.opt.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.run(step)

    def replay(self) -> None:
        self.graph.replay()


def fast_path_problem(config: TrainConfig, device: torch.device, total: int, distributed: bool,
                      has_graphs: bool | None = None) -> str | None:
    """Why the captured CUDA-graph step cannot run here (a short phrase), or None when it can.

    Only asked on CUDA with ``config.fast``; the CPU always takes the standard loop, silently.
    """
    if has_graphs is None:
        has_graphs = hasattr(torch.cuda, "graph") and hasattr(torch.cuda, "CUDAGraph")
    if device.type != "cuda":
        return "it needs a CUDA GPU"
    if config.optimizer != "sgd":
        return f"the captured step uses fused SGD, and this run uses optimizer={config.optimizer!r}"
    if distributed:
        return "DistributedDataParallel trains with the standard loop"
    if total <= WARMUP_STEPS + 1:
        return f"{total} steps are too few to pay for a capture"
    if not has_graphs:
        return f"torch {torch.__version__} has no torch.cuda.graph"
    return None


def _fast_loop(model: nn.Module, loader: DeviceLoader, config: TrainConfig, run: _Run,
               after_backward: Callable[[int], None] | None, capture: bool = True) -> None:
    """Warm-up steps eagerly, then capture once and replay. ``capture=False`` runs every step eagerly on the same
    static buffers (how the CPU tests exercise this loop)."""
    batches = _batches(loader, run.total)
    step, x, y = next(batches)
    model.train()
    stepper = CapturedStep(model, config, run.dev, run.result.precision, x, y, after_backward)
    t0 = time.perf_counter()
    pending: tuple[int, torch.Tensor, torch.Tensor] | None = (step, x, y)
    while pending is not None:
        step, x, y = pending
        stepper.load(x, y, config.base_lr * config.lr_factor(step, run.total))
        if capture and step == WARMUP_STEPS:
            stepper.capture(step)
            if run.dev.type == "cuda":
                torch.cuda.synchronize(run.dev)
            run.result.capture_time = time.perf_counter() - t0
        if stepper.graph is not None:
            stepper.replay()
        elif capture:
            stepper.warm_up(step)
        else:
            stepper.opt.zero_grad(set_to_none=True)
            stepper.run(step)
        if not run.record(stepper.loss, stepper.acc) or not run.after_step(step + 1):
            return
        pending = next(batches, None)


# ----------------------------------------------------------------------------------------------------------------
# fit


def _distributed() -> tuple[int, int] | None:
    """(rank, world size) under an initialised torch.distributed process group with more than one process."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank(), dist.get_world_size()
    return None


def broadcast_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank. DDP syncs them at the start of each
    forward pass, so after the last step each rank still holds the statistics of its own last batch."""
    for buffer in model.buffers():
        torch.distributed.broadcast(buffer, 0)


def shard(data: ImageData, rank: int, world: int) -> ImageData:
    """Rank ``rank``'s share of ``data``: every ``world``-th image from ``rank`` on, all shards of equal length."""
    n = len(data) // world * world
    return ImageData(data.x[rank:n:world], data.y[rank:n:world], data.name, data.classes)


def fit(
    model: nn.Module,
    train_data: ImageData,
    config: TrainConfig,
    *,
    eval_data: ImageData | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
    label: str = "",
    after_backward: Callable[[int], None] | None = None,
) -> FitResult:
    """Train ``model`` on ``train_data`` with the recipe ``config``; return a :class:`FitResult`.

    ``eval_data`` is evaluated at ``config.eval_every`` and at the end; ``log_dir`` adds TensorBoard scalars. A NaN
    or infinite loss stops training with a printed message (``diverged=True``, ``diverged_at``).

    ``after_backward(step)`` is called after ``loss.backward()`` and before the optimizer step, with the 0-based
    step index (e.g. to record per-layer gradient norms, lesson 08). On a GPU with the captured step it runs once,
    **during capture**, with the step index at capture: its device operations (say ``buf[k] += g.norm()``) are then
    replayed every step, but its Python code and the index are not — record into device tensors, or use
    ``fast=False`` for a plain per-step call.

    Under ``torch.distributed`` (``torchrun``) the model is wrapped in DistributedDataParallel, each rank trains on
    its shard of the data, and ``config.batch_size`` is the global batch (divided among the ranks).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError("config must be a resnet_edu.train.TrainConfig, e.g. TrainConfig(steps=100, "
                        f"optimizer='adam'); got {type(config).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    for name, value in (("train_data", train_data), ("eval_data", eval_data)):
        if not isinstance(value, ImageData) and not (name == "eval_data" and value is None):
            raise TypeError(f"{name} must be a resnet_edu.data.ImageData (e.g. data.digits()); "
                            f"got {type(value).__name__}")
    _checks.flag("progress", progress)
    if not isinstance(label, str):
        raise TypeError(f"label must be a string; got {type(label).__name__}")
    if after_backward is not None and not callable(after_backward):
        raise TypeError(f"after_backward must be a function of the step index, or None; got {after_backward!r}")
    from .runtime import device as best_device

    dev = _checks.device(device) if device is not None else best_device()
    check_model_fits_data(model, train_data, "train_data")
    if eval_data is not None:
        check_model_fits_data(model, eval_data, "eval_data")
    ranks = _distributed()
    rank, world = ranks or (0, 1)
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the {world} processes")
    if ranks is not None:
        train_data = shard(train_data, rank, world)
    seed = config.seed
    if seed is not None:
        torch.manual_seed(seed)
    loader = DeviceLoader(train_data, config.batch_size // world, shuffle=True, augment=config.augment, device=dev,
                          seed=None if seed is None else seed + rank)
    if eval_data is not None:
        eval_data = eval_data.to(dev)  # once, not at every evaluation
    total = config.total_steps(len(loader))
    model.to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
    train_model = model
    if ranks is not None:
        train_model = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    result = FitResult(label=label, precision=precision_for(dev))
    problem = fast_path_problem(config, dev, total, ranks is not None) if config.fast else "off"
    if config.fast and problem is not None and dev.type == "cuda":
        print(f"fit: the fast CUDA-graph step is off here ({problem}); training with the standard loop.")
    sync_every = config.sync_every if dev.type == "cuda" else 1
    run = _Run(config, total, dev, result, eval_data, model, progress and rank == 0, log_dir if rank == 0 else None,
               sync_every)
    try:
        if problem is None:
            snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
            try:
                _fast_loop(model, loader, config, run, after_backward)
                result.fast = True
            except Exception as err:  # a model that syncs with the host, an op that cannot be captured, …
                print(f"fit: the CUDA-graph capture failed ({type(err).__name__}: {str(err)[:200]}); "
                      "training again from the start with the standard loop.")
                _restart(model, snapshot, run, seed)
                loader = DeviceLoader(train_data, config.batch_size, shuffle=True, augment=config.augment,
                                      device=dev, seed=seed)  # fresh: the same batches as a fast=False run
                _standard_loop(model, train_model, loader, config, run, after_backward)
        else:
            _standard_loop(model, train_model, loader, config, run, after_backward)
    finally:
        run.close()
    return result


def _restart(model: nn.Module, snapshot: dict[str, torch.Tensor], run: _Run, seed: int | None) -> None:
    """Undo a failed fast attempt: initial weights back, gradients cleared, history and evaluations emptied."""
    if run.dev.type == "cuda":
        torch.cuda.synchronize(run.dev)
    with torch.no_grad():
        model.load_state_dict(snapshot)
    for p in model.parameters():
        p.grad = None
    run.history.read()
    run.result.loss.clear(), run.result.acc.clear(), run.result.evals.clear(), run.result.clock.clear()
    run.result.capture_time = run.result.eval_time = 0.0
    if seed is not None:
        torch.manual_seed(seed)


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageData, batch_size: int = 1000, device: torch.device | str | None = None,
             tta_flip: bool = False) -> dict[str, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``data`` (eval mode, restored afterwards).

    ``device`` moves the model there first (default: where its parameters are). ``tta_flip`` averages the logits of
    each image and its mirror image (test-time augmentation).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(data, ImageData):
        raise TypeError(f"data must be a resnet_edu.data.ImageData; got {type(data).__name__}")
    _checks.integer("batch_size", batch_size, low=1)
    _checks.flag("tta_flip", tta_flip)
    check_model_fits_data(model, data)
    if device is not None:
        dev = _checks.device(device)
        model.to(dev)
    else:
        dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for x, y in DeviceLoader(data, min(batch_size, len(data)), shuffle=False, device=dev, drop_last=False):
        with _autocast(dev):
            logits = model(x).float()
            if tta_flip:
                logits = (logits + model(x.flip(3)).float()) / 2
        total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    model.train(was_training)
    return {"loss": total_loss / len(data), "acc": correct / len(data)}


def _bar(total: int, progress: bool, label: str) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label or "training", leave=False)


def _writer(log_dir: str | os.PathLike[str] | None) -> Any:
    if log_dir is None:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(log_dir))


# ----------------------------------------------------------------------------------------------------------------
# The shell command: python -m resnet_edu.train, also under torchrun


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m resnet_edu.train --depth 56 --epochs 30 --data DIR``: train a CIFAR ResNet (He et al. 2015,
    §4.2) with :func:`fit` from the shell. Under ``torchrun --nproc_per_node N`` every process trains its shard with
    DistributedDataParallel (NCCL on GPUs, gloo on CPUs) and the command checks that all ranks end with identical
    weights."""
    from . import data as _data
    from . import nets as _nets

    args = _parser().parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if args.device is not None:
        dev = _checks.device(args.device)
    elif torch.cuda.is_available():
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    else:
        dev = torch.device("cpu")
    if world > 1:
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    say = print if rank == 0 else (lambda *_a, **_k: None)
    try:
        if args.dataset == "cifar10":
            train_data, test_data = _data.cifar10(args.data, train=True), _data.cifar10(args.data, train=False)
        else:
            size = args.image_size or 8
            train_data, test_data = _data.digits(size, train=True), _data.digits(size, train=False)
        config = TrainConfig(
            steps=args.steps, epochs=None if args.steps is not None else (args.epochs or 1),
            batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
            nesterov=args.nesterov, weight_decay=args.weight_decay, schedule=args.schedule, warmup=args.warmup,
            augment=args.dataset == "cifar10" and not args.no_augment, label_smoothing=args.label_smoothing,
            seed=args.seed, eval_every=args.eval_every, tta_flip=args.tta_flip, fast=not args.no_fast,
        )
        torch.manual_seed(args.seed)  # the same initial weights on every rank (DDP broadcasts rank 0's anyway)
        model = _nets.cifar_net(args.depth, residual=not args.plain, width=args.width,
                                in_channels=train_data.in_channels, num_classes=train_data.num_classes)
        name = f"{'plain' if args.plain else 'ResNet'}-{args.depth}"
        say(f"{name} on {train_data.name}, {config.describe()}, device {dev}"
            + (f", {world} processes (DistributedDataParallel)" if world > 1 else ""))
        result = fit(model, train_data, config, eval_data=test_data, progress=not args.quiet and rank == 0,
                     device=dev, label=name, log_dir=args.log_dir)
        final = result.evals[-1] if result.evals else {"acc": float("nan")}
        say(f"{result.steps} steps in {result.wall_time:.1f} s ({result.precision}, "
            + (f"captured CUDA graph, capture {result.capture_time:.1f} s" if result.fast else "standard loop")
            + f"); final training loss {result.final_loss(10):.4f}; test accuracy {final['acc']:.2%}")
        if world > 1:
            same, gap = _ranks_agree(model)
            say(f"{world} ranks: weights identical on every rank: {same} (max |difference| {gap:g})")
        if args.save:
            if "{rank}" in args.save or rank == 0:
                torch.save(model.state_dict(), args.save.format(rank=rank))
        return 0 if not result.diverged else 1
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


def _ranks_agree(model: nn.Module) -> tuple[bool, float]:
    """Whether every rank holds the same weights, and the largest difference from rank 0's."""
    flat = torch.cat([t.detach().float().flatten() for t in model.state_dict().values()])
    gathered = [torch.empty_like(flat) for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(gathered, flat)
    gap = max(float((g - gathered[0]).abs().max()) for g in gathered)
    return gap == 0, gap


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m resnet_edu.train", description=main.__doc__.split("\n\n")[0])
    p.add_argument("--depth", type=int, default=20, help="6n+2: 20, 32, 44, 56, 110 (default 20)")
    p.add_argument("--plain", action="store_true", help="the plain twin, without shortcuts")
    p.add_argument("--width", type=int, default=16, help="channels of the first stage (paper: 16)")
    p.add_argument("--dataset", choices=("cifar10", "digits"), default="cifar10")
    p.add_argument("--data", default=None, help="data root (default: $RESNET_EDU_DATA or ~/.cache/resnet_edu)")
    p.add_argument("--image-size", type=int, default=None, help="digits only: resize to this size (default 8)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, default=None, help="passes over the data (default 1)")
    length.add_argument("--steps", type=int, default=None, help="optimizer steps instead of epochs")
    p.add_argument("--batch-size", type=int, default=128, help="global batch (split among torchrun processes)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    p.add_argument("--lr", type=float, default=None, help="default 0.1 (SGD) or 1e-3 (Adam)")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="default 1e-4 (He et al. 2015, §4.2)")
    p.add_argument("--schedule", choices=SCHEDULES, default="step")
    p.add_argument("--warmup", type=float, default=0.0, help="fraction of the steps")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--no-augment", action="store_true", help="CIFAR-10 without crop+flip augmentation")
    p.add_argument("--tta-flip", action="store_true", help="evaluate on each image and its mirror image")
    p.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (0: only at the end)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-fast", action="store_true", help="the standard loop even on a GPU")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda:LOCAL_RANK if available)")
    p.add_argument("--log-dir", default=None, help="TensorBoard log folder")
    p.add_argument("--save", default=None, help="save the weights here ({rank} in the name: one file per rank)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


if __name__ == "__main__":
    raise SystemExit(main())
