"""What both training loops share (lesson 08's trainer, one concern per file): precision and autocast, the
optimizer, the checks that a net fits its data, :func:`evaluate`, and :class:`_Run` — the book-keeping of a run
(loss history kept on the device, divergence agreed by every rank, progress bar, TensorBoard, evaluations, clock)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import _checks
from ..data import DeviceLoader, ImageData
from . import distributed
from .config import FitResult, TrainConfig


def precision_for(device: torch.device, capability: tuple[int, int] | None = None) -> str:
    """fp32 off CUDA; bf16 on sm80+ (A100, H100); fp16 below (T4 is sm75: no bf16 tensor cores)."""
    if device.type != "cuda":
        return "fp32"
    if capability is None:
        capability = torch.cuda.get_device_capability(device)
    return "bf16" if tuple(capability) >= (8, 0) else "fp16"


def _autocast(dev: torch.device, precision: str | None = None) -> Any:
    """Autocast for ``precision`` on ``dev`` (bf16/fp16 exist on CUDA only: elsewhere autocast stays off)."""
    precision = precision or precision_for(dev)
    if precision == "fp32" or dev.type != "cuda":
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
    if len(data) == 0:
        raise ValueError(f"{name} ({data.name}) holds no images; give it at least one")
    want = first_conv_channels(model)
    if want is not None and want != data.in_channels:
        raise ValueError(
            f"the network's first convolution takes {want}-channel images, but {name} ({data.name}) has "
            f"{data.in_channels} channel(s). Build the net with in_channels={data.in_channels}, e.g. "
            f"nets.cifar_net(20, in_channels={data.in_channels}), or load the data with channels={want}."
        )


def check_data_finite(data: ImageData, name: str) -> None:
    """Refuse images holding NaN or inf: the data, not the learning rate, would make the loss NaN."""
    if math.isfinite(float(data.x.sum(dtype=torch.float64))):  # one pass, no image-sized temporary
        return
    bad = int((~torch.isfinite(data.x)).sum())
    if bad:
        raise ValueError(f"{name} ({data.name}) holds {bad:,} pixel values that are not finite numbers (NaN or inf), "
                         "so every loss would be NaN: the data is broken, not the learning rate. Check how the images "
                         "were made or normalised (e.g. a division by a zero standard deviation).")


def check_outputs(logits: torch.Tensor, data: ImageData, name: str = "data") -> None:
    """The network must return one logit per class of ``data``: (batch, data.num_classes)."""
    if logits.dim() != 2 or logits.shape[1] != data.num_classes:
        got = f"{logits.shape[1]} outputs" if logits.dim() == 2 else f"outputs of shape {tuple(logits.shape)}"
        raise ValueError(f"the network returns {got} per image, but {name} ({data.name}) has {data.num_classes} "
                         f"classes: a net needs exactly one output per class (fewer cannot score every label, more "
                         f"would let it predict classes that do not exist). Build it with "
                         f"num_classes={data.num_classes}, e.g. nets.cifar_net(20, num_classes={data.num_classes}).")


@torch.no_grad()
def probe_outputs(model: nn.Module, data: ImageData, device: torch.device, name: str = "data") -> None:
    """Run two images through ``model`` (eval mode, no state changes) and check its outputs with :func:`check_outputs`
    — before training, so that a mismatch is a sentence rather than an index error deep inside the loss."""
    was_training = model.training
    model.eval()
    try:
        with _autocast(device):
            logits = model(data.x[:2].to(device))
    finally:
        model.train(was_training)
    check_outputs(logits, data, name)


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
                 model: nn.Module, progress: bool, log_dir: str | None, sync_every: int,
                 epoch_steps: int = 0, after_first_epoch: Any = None) -> None:
        self.config, self.total, self.dev, self.result, self.model = config, total, dev, result, model
        self.epoch_steps, self.after_first_epoch = epoch_steps, after_first_epoch
        self.eval_data = eval_data
        self.eval_every = (max(1, total // 10) if config.eval_every is None
                           else config.eval_every or total)
        self.history = DeviceHistory(sync_every, dev)
        self.distributed = distributed.ranks() is not None
        self.bar = _bar(total, progress, result.label)
        self.writer = _writer(log_dir)
        self.start = time.perf_counter()

    def restart(self) -> None:
        """Forget a failed attempt: history, evaluations, clock and bar back to zero (wall time keeps counting)."""
        self.history.read()
        for kept in (self.result.loss, self.result.acc, self.result.evals, self.result.clock):
            kept.clear()
        self.result.capture_time = self.result.eval_time = 0.0
        self.result.clock_from = 0
        if self.bar is not None:
            self.bar.reset()

    def record(self, loss: torch.Tensor, acc: torch.Tensor) -> bool:
        """Record one step's loss; on a read, False when the run diverged (history cut at the first bad step)."""
        if self.history.add(loss, acc):
            return self.flush()
        return True

    def flush(self) -> bool:
        losses, accs = self.history.read()
        if not losses:
            return True
        first = len(self.result.loss)
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        bad_value, where = (0.0 if bad is None else losses[bad]), ""
        if self.distributed:  # every rank stops at the same step, or one would wait for the others forever
            step, bad_value, rank = distributed.first_divergence(None if bad is None else first + bad, bad_value,
                                                                 self.dev)
            bad, where = (None if step is None else step - first), f" on rank {rank}"
        if bad is not None:
            losses, accs = losses[:bad], accs[:bad]
        self.result.loss += losses
        self.result.acc += accs
        self.result.clock.append((len(self.result.loss), time.perf_counter() - self.start - self.result.eval_time))
        if self.after_first_epoch is not None and len(self.result.loss) >= min(self.epoch_steps, self.total):
            hook, self.after_first_epoch = self.after_first_epoch, None  # once, at the first read past one epoch
            hook(len(self.result.loss), self.result.clock[-1][1])
        if self.writer is not None:
            for i, (value, acc) in enumerate(zip(losses, accs), start=first + 1):
                self.writer.add_scalar("train/loss", value, i)
                self.writer.add_scalar("train/acc", acc, i)
                self.writer.add_scalar("train/lr", self.config.base_lr * self.config.lr_factor(i - 1, self.total), i)
        if self.bar is not None and losses:
            self.bar.update(len(losses))
            rate = len(self.result.loss) * self.config.batch_size / max(1e-9, self.result.clock[-1][1])
            self.bar.set_postfix({"loss": f"{sum(losses[-10:]) / len(losses[-10:]):.3f}", "img/s": f"{rate:,.0f}"})
        if bad is not None:
            self.result.diverged, self.result.diverged_at = True, len(self.result.loss) + 1
            print(f"Training diverged at step {self.result.diverged_at}: the loss became {bad_value}{where}. "
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
                distributed.broadcast_buffers(self.model)  # every rank evaluates rank 0's BN statistics
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
            distributed.broadcast_buffers(self.model)
        if self.dev.type == "cuda":
            torch.cuda.synchronize(self.dev)
        self.result.wall_time = time.perf_counter() - self.start
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


def _batches(loader: DeviceLoader, total: int, start: int = 0) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """(0-based step, x, y) for ``total`` steps, epoch after epoch (from step ``start`` of a resumed run)."""
    step = start
    while step < total:
        for x, y in loader:
            yield step, x, y
            step += 1
            if step >= total:
                return


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageData, batch_size: int = 1000, device: torch.device | str | None = None,
             tta_flip: bool = False) -> dict[str, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``data`` (eval mode, restored afterwards).

    ``device`` moves the model there first (default: where its parameters are). ``tta_flip`` averages the logits of
    each image and its mirror image (test-time augmentation).
    """
    _checks.module("model", model)
    if not isinstance(data, ImageData):
        raise TypeError(f"data must be a resnet_edu.data.ImageData; got {type(data).__name__}")
    _checks.integer("batch_size", batch_size, low=1)
    _checks.flag("tta_flip", tta_flip)
    check_model_fits_data(model, data)
    if device is not None:
        dev = _checks.device(device)
        model.to(dev)
    else:
        dev = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.eval()
    # summed on the device (float64: the same sums as Python floats on the CPU), read once at the end
    total_loss = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    try:
        for i, (x, y) in enumerate(DeviceLoader(data, min(batch_size, len(data)), shuffle=False, device=dev,
                                                drop_last=False)):
            if dev.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)  # the layout the nets train in on a GPU
            with _autocast(dev):
                logits = model(x).float()
                if i == 0:
                    check_outputs(logits, data)
                if tta_flip:
                    logits = (logits + model(x.flip(3)).float()) / 2
            total_loss += F.cross_entropy(logits, y, reduction="sum").double()
            correct += (logits.argmax(1) == y).sum()
    finally:
        model.train(was_training)
    return {"loss": float(total_loss) / len(data), "acc": int(correct) / len(data)}


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

