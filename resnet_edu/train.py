"""One training loop for every lesson (lessons 00, 01, 08).

:func:`fit` trains with SGD (He et al. 2015, §4.2: momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 twice)
or Adam, logs loss and accuracy per step, evaluates on held-out data, stops on a non-finite loss, and on CUDA uses
bf16 autocast and channels-last memory. A ``tqdm.auto`` bar shows progress; ``log_dir`` adds TensorBoard scalars.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .data import DeviceLoader, ImageData

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine", "step")


@dataclass
class FitResult:
    """What :func:`fit` measured: per-step training ``loss``/``acc``, per-eval metrics, wall time, divergence."""

    loss: list[float] = field(default_factory=list)
    acc: list[float] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    wall_time: float = 0.0
    diverged: bool = False
    diverged_at: int | None = None
    label: str = ""

    @property
    def steps(self) -> int:
        return len(self.loss)

    def final_loss(self, last: int = 50) -> float:
        """Mean training loss over the ``last`` steps (inf when the run diverged)."""
        if self.diverged or not self.loss:
            return float("inf")
        tail = self.loss[-last:]
        return sum(tail) / len(tail)

    def final_acc(self, last: int = 50) -> float:
        """Mean training accuracy over the ``last`` steps."""
        tail = self.acc[-last:] or [0.0]
        return sum(tail) / len(tail)

    def plot(self, ax=None, smooth: int = 10):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Training loss per step (moving average of ``smooth`` steps), with eval points if any."""
        from .viz import plot_curves

        ax = plot_curves({self.label or "train": self}, ax=ax, smooth=smooth)
        if self.evals:
            ax.plot([e["step"] for e in self.evals], [e["loss"] for e in self.evals], "o--", label="eval loss")
            ax.legend()
        return ax


def _optimizer(model: nn.Module, name: str, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


def _schedule(opt: torch.optim.Optimizer, name: str, total: int) -> torch.optim.lr_scheduler.LRScheduler:
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if name == "step":  # He et al. 2015 §4.2: divide by 10 at 50 % and 75 % of training (32k, 48k of 64k)
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[total // 2, total * 3 // 4], gamma=0.1)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageData, batch_size: int = 1000, device: torch.device | None = None) -> dict:
    """Mean cross-entropy loss and accuracy of ``model`` on ``data`` (eval mode, restored afterwards)."""
    was_training = model.training
    model.eval()
    dev = device or next(model.parameters()).device
    total_loss, correct = 0.0, 0
    for x, y in DeviceLoader(data, min(batch_size, len(data)), shuffle=False, device=dev, drop_last=False):
        with _autocast(dev):
            logits = model(x)
        total_loss += float(F.cross_entropy(logits.float(), y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    model.train(was_training)
    return {"loss": total_loss / len(data), "acc": correct / len(data)}


def _autocast(dev: torch.device) -> Any:
    return torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else torch.autocast("cpu", enabled=False)


def _check(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")


def fit(
    model: nn.Module,
    train_data: ImageData,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int = 128,
    optimizer: str = "sgd",
    lr: float | None = None,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    schedule: str = "constant",
    augment: bool = False,
    eval_data: ImageData | None = None,
    eval_every: int | None = None,
    log_dir: str | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
    seed: int | None = 0,
    label: str = "",
    after_backward: Callable[[int], None] | None = None,
) -> FitResult:
    """Train ``model`` on ``train_data`` for ``steps`` optimizer steps or ``epochs`` passes; return a FitResult.

    ``lr`` defaults to 0.1 for SGD and 1e-3 for Adam. ``schedule``: "constant", "cosine" or "step" (÷10 at 50 % and
    75 %). ``eval_data`` is evaluated every ``eval_every`` steps (default: 10 times per run) and at the end. A NaN or
    infinite loss stops training with a printed message; the result has ``diverged=True`` and ``diverged_at``.
    ``after_backward(step)`` (0-based step index) runs after ``loss.backward()`` and before the optimizer step, e.g. a
    :class:`resnet_edu.dynamics.GradientRecorder` reading every layer's gradient (lesson 08).
    """
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps=… or epochs=… (both positive integers)")
    count = steps if steps is not None else epochs
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        raise ValueError(f"steps/epochs must be a positive integer; got {count!r}")
    _check("optimizer", optimizer, OPTIMIZERS)
    _check("schedule", schedule, SCHEDULES)
    if lr is None:
        lr = 0.1 if optimizer == "sgd" else 1e-3
    if not lr > 0:
        raise ValueError(f"lr must be positive; got {lr!r}")

    from .runtime import device as best_device

    dev = torch.device(device) if device is not None else best_device()
    if seed is not None:
        torch.manual_seed(seed)
    loader = DeviceLoader(train_data, batch_size, shuffle=True, augment=augment, device=dev, seed=seed)
    if eval_data is not None:
        eval_data = eval_data.to(dev)  # once, not at every evaluation
    total = steps if steps is not None else epochs * len(loader)
    eval_every = eval_every or max(1, total // 10)
    model.to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
    opt = _optimizer(model, optimizer, lr, momentum, weight_decay)
    sched = _schedule(opt, schedule, total)
    writer = _writer(log_dir)
    result = FitResult(label=label)
    bar = _bar(total, progress, label)
    start = time.perf_counter()
    model.train()
    step = 0
    while step < total:
        for x, y in loader:
            if dev.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(dev):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
            value = float(loss.detach())
            if not math.isfinite(value):
                result.diverged, result.diverged_at = True, step + 1
                print(f"Training diverged at step {step + 1}: the loss became {value}. "
                      f"Try a smaller learning rate (lr={lr:g} now).")
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if after_backward is not None:
                after_backward(step)
            opt.step()
            sched.step()
            step += 1
            result.loss.append(value)
            result.acc.append(float((logits.argmax(1) == y).float().mean()))
            if writer is not None:
                writer.add_scalar("train/loss", value, step)
                writer.add_scalar("train/acc", result.acc[-1], step)
                writer.add_scalar("train/lr", sched.get_last_lr()[0], step)
            if eval_data is not None and (step % eval_every == 0 or step == total):
                metrics = evaluate(model, eval_data, device=dev)
                result.evals.append({"step": step, **metrics})
                if writer is not None:
                    writer.add_scalar("eval/loss", metrics["loss"], step)
                    writer.add_scalar("eval/acc", metrics["acc"], step)
            if bar is not None:
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{value:.3f}")
            if step >= total:
                break
        if result.diverged:
            break
    if dev.type == "cuda":
        torch.cuda.synchronize()
    result.wall_time = time.perf_counter() - start
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    return result


def _bar(total: int, progress: bool, label: str) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label or "training", leave=False)


def _writer(log_dir: str | None) -> Any:
    if log_dir is None:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir)
