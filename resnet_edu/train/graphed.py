"""The fast GPU loop: the whole training step captured once in a CUDA graph and replayed (all the GPU-only code).

On a GPU small CIFAR nets are bound by kernel launches and Python, not arithmetic; one graph replay per step removes
both. The batch is copied into static buffers, loss and accuracy stay on the GPU, and fp16 (a T4) scales its loss
with device ops only. :func:`fast_loop` raises :class:`CaptureFailed` only when building, warming up or capturing
the step fails — then :func:`~resnet_edu.train.fit` trains with the standard loop; any later error propagates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import _checks
from ..data import DeviceLoader
from .config import PRECISIONS, TrainConfig
from .run import _autocast, _batches, _optimizer, _Run

WARMUP_STEPS = 3  # eager steps on a side stream before capture (cuDNN autotuning, optimizer state, allocator)
MIN_TORCH = "2.5"  # fused SGD that takes a tensor learning rate (torch 2.5, "tensor lr for all optimizers")


class CaptureFailed(RuntimeError):
    """Building, warming up or capturing the step failed; the message names the original error."""


class DeviceLossScale:
    """Dynamic loss scaling for fp16 made only of device ops, so that it can live inside a CUDA graph.

    ``torch.amp.GradScaler`` keeps Python-side state per step, which a graph would freeze at its capture-time values.
    Its kernels are graph-safe, so this class calls them directly: scale the loss by a device tensor;
    ``_amp_foreach_non_finite_check_and_unscale_`` unscales the gradients and sets ``found_inf``; the fused SGD
    kernel skips the update when ``found_inf`` is set; ``_amp_update_scale_`` halves the scale after an overflow
    and doubles it after ``interval`` clean steps — the rule of GradScaler (Micikevicius et al. 2018, §3.2).
    """

    def __init__(self, device: torch.device, init: float = 2.0**16, interval: int = 2000) -> None:
        init = _checks.number("init", init, low=0, low_inclusive=False)
        self.interval = _checks.integer("interval", interval, low=1)
        self.scale = torch.full((), init, dtype=torch.float32, device=device)
        self.inv_scale = torch.ones((), dtype=torch.float32, device=device)
        self.found_inf = torch.zeros((), dtype=torch.float32, device=device)
        self.growth_tracker = torch.zeros((), dtype=torch.int32, device=device)

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
        _checks.choice("precision", precision, PRECISIONS)
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
        if config.optimizer == "sgd" and config.momentum:
            # Fused SGD would create them with empty_like at its first step, and skip that step whole when fp16
            # overflows (found_inf): the next step would read uninitialised memory. Zero is what SGD starts from.
            for p in self.params:
                self.opt.state[p]["momentum_buffer"] = torch.zeros_like(p)
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

    def release(self) -> None:
        """Drop the graph (and with it its memory pool), the gradients and the optimizer state."""
        if self.graph is not None and hasattr(self.graph, "reset"):
            self.graph.reset()
        self.graph = None
        for p in self.params:
            p.grad = None
        self.opt.state.clear()


def fast_path_problem(config: TrainConfig, device: torch.device, total: int, distributed: bool,
                      has_graphs: bool | None = None, version: str | None = None) -> str | None:
    """Why the captured CUDA-graph step cannot run here (a short phrase), or None when it can.

    Only asked on CUDA with ``config.fast``; the CPU always takes the standard loop, silently. ``version``
    (default: this torch's) must be at least :data:`MIN_TORCH`; older torch keeps the standard loop.
    """
    if has_graphs is None:
        has_graphs = hasattr(torch.cuda, "graph") and hasattr(torch.cuda, "CUDAGraph")
    version = torch.__version__ if version is None else version
    if device.type != "cuda":
        return "it needs a CUDA GPU"
    if config.optimizer != "sgd":
        return f"the captured step uses fused SGD, and this run uses optimizer={config.optimizer!r}"
    if distributed:
        return "DistributedDataParallel trains with the standard loop"
    if total <= WARMUP_STEPS + 1:
        return f"{total} steps are too few to pay for a capture"
    if not has_graphs:
        return f"torch {version} has no torch.cuda.graph"
    if torch.torch_version.TorchVersion(version) < MIN_TORCH:
        return f"it needs torch {MIN_TORCH} or newer (fused SGD with a tensor learning rate); this is torch {version}"
    return None


def fast_loop(model: nn.Module, loader: DeviceLoader, config: TrainConfig, run: _Run,
              after_backward: Callable[[int], None] | None, capture: bool = True) -> None:
    """Warm-up steps eagerly, then capture once and replay. ``capture=False`` runs every step eagerly on the same
    static buffers (how the CPU tests exercise this loop). Only a failure before the first replay is a
    :class:`CaptureFailed`; the step, the stepper and its graph are released before it is raised."""
    model.train()
    stepper: CapturedStep | None = None
    t0 = time.perf_counter()
    for step, x, y in _batches(loader, run.total):
        lr = config.base_lr * config.lr_factor(step, run.total)
        if not capture:
            stepper = stepper or CapturedStep(model, config, run.dev, run.result.precision, x, y, after_backward)
            stepper.load(x, y, lr)
            stepper.opt.zero_grad(set_to_none=True)
            stepper.run(step)
        elif stepper is None or stepper.graph is None:
            failure = None
            try:
                stepper = stepper or CapturedStep(model, config, run.dev, run.result.precision, x, y, after_backward)
                stepper.load(x, y, lr)
                if step < WARMUP_STEPS:
                    stepper.warm_up(step)
                else:
                    stepper.capture(step)
                    if run.dev.type == "cuda":
                        torch.cuda.synchronize(run.dev)
            except Exception as err:  # a model that syncs with the host, an op that cannot be captured, …
                failure = f"{type(err).__name__}: {str(err)[:200]}"
            if failure is not None:  # raised outside the except block: no traceback keeps the graph alive
                if stepper is not None:
                    stepper.release()
                raise CaptureFailed(failure)
            if stepper.graph is not None:
                run.result.capture_time = time.perf_counter() - t0
                stepper.replay()
        else:
            stepper.load(x, y, lr)
            stepper.replay()
        if not run.record(stepper.loss, stepper.acc) or not run.after_step(step + 1):
            return
