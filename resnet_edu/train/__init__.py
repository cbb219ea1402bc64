"""One training loop for every lesson (lessons 00, 01, 07, 08), and the shell command behind it.

:class:`TrainConfig` is the recipe — length, batch, optimizer, learning rate and schedule, augmentation, seed, eval
cadence — as one frozen dataclass that checks itself on construction; :func:`fit` takes it whole and returns a
:class:`FitResult`. The default SGD settings are He et al. 2015, §4.2's (momentum 0.9, lr 0.1 divided by 10 at 50 %
and 75 % with ``schedule="step"``).

On the CPU ``fit`` is a plain, deterministic loop. On a CUDA GPU small CIFAR nets are bound by kernel launches and
Python, not by arithmetic, so ``fit`` removes both (``TrainConfig.fast``, on by default): the whole step is captured
once in a CUDA graph and replayed, the batch goes through static buffers, the loss is read every ``sync_every``
steps, and bf16 (sm80+) or fp16 with device-side loss scaling (a T4) is used. Where the captured step cannot run
``fit`` says so in one printed line and trains with the standard loop.

One concern per file:

* :mod:`~resnet_edu.train.config` — :class:`TrainConfig`, :class:`FitResult`;
* :mod:`~resnet_edu.train.run` — what both loops share: precision, optimizer, checks, :func:`evaluate`, book-keeping;
* :mod:`~resnet_edu.train.loop` — :func:`fit` and the standard loop;
* :mod:`~resnet_edu.train.graphed` — the captured CUDA-graph step (all GPU-only code);
* :mod:`~resnet_edu.train.distributed` — ranks, their devices and shards, decisions taken together;
* :mod:`~resnet_edu.train.confusion` — :func:`predict` and :func:`confusion_matrix` (a :class:`Confusion`);
* :mod:`~resnet_edu.train.checkpoint` — :func:`save_checkpoint` / :func:`load_checkpoint`, a whole run to be
  continued (:class:`TrainState`, :func:`save_run` / :func:`load_run`) and the write-beside-and-rename step every
  saved file goes through (:func:`write_then_rename`);
* ``__main__`` — ``python -m resnet_edu.train``, also under ``torchrun``.
"""

from . import checkpoint, config, confusion, distributed, graphed, loop, run
from .checkpoint import TrainState, load_checkpoint, load_run, save_checkpoint, save_path, save_run, write_then_rename
from .config import MAX_EPOCHS, MAX_STEPS, OPTIMIZERS, PRECISIONS, SCHEDULES, FitResult, TrainConfig
from .confusion import Confusion, confusion_matrix, predict
from .distributed import broadcast_buffers, shard
from .graphed import MIN_TORCH, WARMUP_STEPS, CapturedStep, CaptureFailed, DeviceLossScale, fast_path_problem
from .loop import fit, standard_loop, training_lines
from .run import (
    DeviceHistory,
    _autocast,
    _Run,
    check_model_fits_data,
    evaluate,
    first_conv_channels,
    precision_for,
)

__all__ = [
    "OPTIMIZERS", "PRECISIONS", "SCHEDULES", "MIN_TORCH", "WARMUP_STEPS", "TrainConfig", "FitResult", "fit",
    "MAX_STEPS", "MAX_EPOCHS",
    "evaluate", "standard_loop", "training_lines", "shard", "broadcast_buffers", "CapturedStep", "CaptureFailed",
    "DeviceLossScale", "DeviceHistory", "fast_path_problem", "precision_for", "check_model_fits_data",
    "first_conv_channels", "config", "distributed", "graphed", "loop", "run", "_autocast", "_Run",
    "checkpoint", "save_checkpoint", "load_checkpoint", "save_path", "write_then_rename", "TrainState", "save_run",
    "load_run", "confusion", "Confusion", "confusion_matrix", "predict",
]
