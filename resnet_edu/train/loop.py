""":func:`fit` — one training loop for every lesson (00, 01, 07, 08) — and the standard loop it runs on the CPU.

On the CPU, and on a GPU where the captured step cannot run, ``fit`` trains with :func:`standard_loop`: forward,
loss, backward, optimizer step, the textbook loop. On a CUDA GPU it first tries the captured step
(:mod:`~resnet_edu.train.graphed`); only a failure *of the capture* falls back, from the start, with one printed line.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import _checks
from ..data import DeviceLoader, ImageData
from . import distributed
from .checkpoint import TrainState
from .config import FitResult, TrainConfig
from .graphed import CaptureFailed, fast_loop, fast_path_problem
from .run import (
    _autocast,
    _batches,
    _optimizer,
    _Run,
    check_data_finite,
    check_model_fits_data,
    precision_for,
    probe_outputs,
)

# a training step written out by the learner: (model, x, y, optimizer) -> (loss, logits)
TrainStep = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.optim.Optimizer], tuple[torch.Tensor, torch.Tensor]]


def standard_loop(model: nn.Module, train_model: nn.Module, loader: DeviceLoader, config: TrainConfig, run: _Run,
                  after_backward: Callable[[int], None] | None, state: TrainState | None = None,
                  train_step: TrainStep | None = None) -> None:
    """The textbook loop, one step per batch (``train_model`` is ``model``, or its DistributedDataParallel wrapper);
    ``state`` continues a saved run and can stop it early (:class:`~resnet_edu.train.checkpoint.TrainState`);
    ``train_step`` replaces the loop's own forward-loss-backward-update (see :func:`fit`)."""
    dev, precision = run.dev, run.result.precision
    opt = _optimizer(train_model, config, config.base_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: config.lr_factor(s, run.total))
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    start = 0 if state is None else state.begin(opt, sched, loader, run)
    model.train()
    for step, x, y in _batches(loader, run.total, start):
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        if train_step is not None:
            loss, logits = _page_step(train_step, train_model, x, y, opt)
            if not run.record(loss, (logits.argmax(1) == y).float().mean()):
                break
            sched.step()
            if not run.after_step(step + 1) or (state is not None and state.stop(step + 1)):
                break
            continue
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
        if not run.after_step(step + 1) or (state is not None and state.stop(step + 1)):
            break


def _page_step(train_step: TrainStep, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
               opt: torch.optim.Optimizer) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the learner's ``train_step(model, x, y, optimizer)`` and check it returned ``(loss, logits)``."""
    out = train_step(model, x, y, opt)
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)
            and out[0].numel() == 1 and out[1].shape[:1] == y.shape):
        raise TypeError("train_step(model, x, y, optimizer) must return (loss, logits): the batch's loss and the "
                        f"model's outputs for the batch; got {type(out).__name__}")
    return out


def training_lines() -> list[str]:
    """The lines of :func:`standard_loop` that train — forward, loss, zero the gradients, backward, step — read from
    its source (lesson 01 prints them; the rest of the loop is book-keeping, loss scaling and the schedule)."""
    keys = ("logits = ", "cross_entropy(", "zero_grad(", ".backward()", "opt.step()")
    source = inspect.getsource(standard_loop).splitlines()
    return [line.strip() for line in source if any(k in line for k in keys) and "scaler" not in line]


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
    after_first_epoch: Callable[[int, float], None] | None = None,
    state: TrainState | None = None,
    train_step: TrainStep | None = None,
) -> FitResult:
    """Train ``model`` on ``train_data`` with the recipe ``config``; return a :class:`FitResult`.

    ``eval_data`` is evaluated at ``config.eval_every`` and at the end; ``log_dir`` adds TensorBoard scalars. A NaN
    or infinite loss stops training with a printed message (``diverged=True``, ``diverged_at``).

    ``after_backward(step)`` is called after ``loss.backward()`` and before the optimizer step, with the 0-based
    step index (e.g. to record per-layer gradient norms, lesson 08). On a GPU with the captured step it runs once,
    **during capture**, with the step index at capture: its device operations (say ``buf[k] += g.norm()``) are then
    replayed every step, but its Python code and the index are not — record into device tensors, or use
    ``fast=False`` for a plain per-step call.

    ``after_first_epoch(steps, seconds)`` is called once, at the first loss read after one epoch (or the whole run,
    if shorter), with the steps done and the training seconds they took (capture and warm-up included, evaluations
    not): how a GPU lesson says how long the rest will take (:class:`resnet_edu.work.Forecast`).

    Under ``torch.distributed`` (``torchrun``) the model is wrapped in DistributedDataParallel, each rank trains on
    its shard of the data on its own GPU (``cuda:LOCAL_RANK``), ``config.batch_size`` is the global batch (divided
    among the ranks), and the ranks stop together when any of them diverges.

    ``state`` (a :class:`~resnet_edu.train.checkpoint.TrainState`) continues a saved run from its step with its
    optimizer, schedule, batch order and random numbers, and keeps what a checkpoint of this run needs; it trains
    with the standard loop (``python -m resnet_edu.train --save/--resume``).

    ``train_step(model, x, y, optimizer) -> (loss, logits)`` is a training step written out by the learner
    (forward, loss, zero the gradients, backward, update: lesson 01's page); the standard loop then runs it in fp32
    for every batch instead of its own lines (the same operations in the same order, so the same numbers), and
    keeps the schedule, the records and the evaluations. A NaN loss then stops training after that step's update.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError("config must be a resnet_edu.train.TrainConfig, e.g. TrainConfig(steps=100, "
                        f"optimizer='adam'); got {type(config).__name__}")
    _checks.module("model", model)
    for name, value in (("train_data", train_data), ("eval_data", eval_data)):
        if not isinstance(value, ImageData) and not (name == "eval_data" and value is None):
            raise TypeError(f"{name} must be a resnet_edu.data.ImageData (e.g. data.digits()); "
                            f"got {type(value).__name__}")
    _checks.flag("progress", progress)
    if not isinstance(label, str):
        raise TypeError(f"label must be a string; got {type(label).__name__}")
    if after_backward is not None and not callable(after_backward):
        raise TypeError(f"after_backward must be a function of the step index, or None; got {after_backward!r}")
    if train_step is not None and not callable(train_step):
        raise TypeError(f"train_step must be a function (model, x, y, optimizer) -> (loss, logits), or None; got "
                        f"{train_step!r}")
    if train_step is not None and after_backward is not None:
        raise ValueError("train_step and after_backward cannot be combined: a written-out step has no place to call "
                         "the hook; call it inside your step, after loss.backward()")
    if after_first_epoch is not None and not callable(after_first_epoch):
        raise TypeError(f"after_first_epoch must be a function (steps, seconds), or None; got {after_first_epoch!r}")
    from ..runtime import device as best_device

    dev = _checks.device(device) if device is not None else best_device()
    checked = {"train_data": train_data} if eval_data is None else {"train_data": train_data, "eval_data": eval_data}
    for name, value in checked.items():
        check_model_fits_data(model, value, name)
        check_data_finite(value, name)
    ranks = distributed.ranks()
    rank, world = ranks or (0, 1)
    if ranks is not None:
        dev = distributed.local_device(dev, rank)
        if dev.type == "cuda":
            torch.cuda.set_device(dev)  # NCCL and DDP use the current device
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the {world} processes")
    if ranks is not None:
        train_data = distributed.shard(train_data, rank, world)
    seed = config.seed
    if seed is not None:
        torch.manual_seed(seed)
    loader = _loader(train_data, config, dev, rank, world)
    if eval_data is not None:
        eval_data = eval_data.to(dev)  # once, not at every evaluation
    total = config.total_steps(len(loader))
    model.to(dev)
    for name, value in checked.items():
        probe_outputs(model, value, dev, name)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
    train_model = model
    if ranks is not None:
        train_model = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    result = FitResult(label=label, precision="fp32" if train_step is not None else precision_for(dev))
    problem = fast_path_problem(config, dev, total, ranks is not None) if config.fast else "off"
    if train_step is not None and problem is None:
        problem = "a training step written out by the learner runs in the standard loop"
    if state is not None and problem is None:
        problem = "a run that is saved or resumed needs the standard loop's optimizer"
    if config.fast and problem is not None and dev.type == "cuda":
        print(f"fit: the fast CUDA-graph step is off here ({problem}); training with the standard loop.")
    sync_every = config.sync_every if dev.type == "cuda" else 1
    benchmark = torch.backends.cudnn.benchmark
    if dev.type == "cuda" and not torch.backends.cudnn.deterministic:
        torch.backends.cudnn.benchmark = True  # fixed batch shapes: let cuDNN time its algorithms once (restored below)
    run = _Run(config, total, dev, result, eval_data, model, progress and rank == 0, log_dir if rank == 0 else None,
               sync_every, len(loader), after_first_epoch)
    try:
        failure = None
        if problem is None:
            snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
            try:
                fast_loop(model, loader, config, run, after_backward)
                result.fast = True
            except CaptureFailed as err:  # only the capture; anything later propagates
                failure = str(err)
        if failure is not None:  # outside the except block: no traceback keeps the failed graph alive
            print(f"fit: the CUDA-graph capture failed ({failure}); training again from the start with the "
                  "standard loop.")
            _restart(model, snapshot, run, seed)
            loader = _loader(train_data, config, dev, rank, world)  # the same batches as a fast=False run
        if problem is not None or failure is not None:
            standard_loop(model, train_model, loader, config, run, after_backward, state, train_step)
    finally:
        run.close()
        torch.backends.cudnn.benchmark = benchmark
    return result


def _loader(data: ImageData, config: TrainConfig, dev: torch.device, rank: int, world: int) -> DeviceLoader:
    """This rank's batches (``data`` is already its shard): a 1/world share of the global batch, its own seed."""
    return DeviceLoader(data, config.batch_size // world, shuffle=True, augment=config.augment, device=dev,
                        seed=None if config.seed is None else config.seed + rank)


def _restart(model: nn.Module, snapshot: dict[str, torch.Tensor], run: _Run, seed: int | None) -> None:
    """Undo a failed fast attempt: initial weights back, gradients cleared, history and evaluations emptied, the
    failed graph's memory returned."""
    if run.dev.type == "cuda":
        torch.cuda.synchronize(run.dev)
        torch.cuda.empty_cache()
    with torch.no_grad():
        model.load_state_dict(snapshot)
    for p in model.parameters():
        p.grad = None
    run.restart()
    if seed is not None:
        torch.manual_seed(seed)
