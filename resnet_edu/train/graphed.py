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
# fp16's loss scale starts at GradScaler's 2**16 and is halved (at most this many times) before the first step until
# that step's gradients are finite: on a T4, plain-56's first-layer gradients overflow at 2**16 (issue 28).
MAX_SCALE_HALVINGS = 24
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
        self.pool: Any = None  # the graph's memory pool (a torch.cuda.MemPool), explicit so a failure can free it
        self.side: Any = None  # one side stream for every warm-up and the capture

    def side_stream(self) -> Any:
        if self.side is None:
            self.side = torch.cuda.Stream(self.device)
        return self.side

    def calibrate_loss_scale(self) -> int:
        """Halve the fp16 loss scale until the first batch's scaled gradients are finite, before any step (no
        update, BatchNorm statistics restored); returns the number of halvings. One host read per try, so this runs
        once, before the warm-up steps (which must not sync) and the capture."""
        if self.loss_scale is None:
            return 0
        buffers = [b.detach().clone() for b in self.model.buffers()]
        halvings = 0
        try:
            for halvings in range(MAX_SCALE_HALVINGS + 1):  # noqa: B007 (the count is returned)
                self.opt.zero_grad(set_to_none=True)
                with _autocast(self.device, self.precision):
                    logits = self.model(self.x)
                loss = F.cross_entropy(logits.float(), self.y, label_smoothing=self.config.label_smoothing)
                self.loss_scale.scaled(loss).backward()
                self.loss_scale.unscale_(self.params)
                if not float(self.loss_scale.found_inf):
                    break
                self.loss_scale.scale.mul_(0.5)
        finally:
            self.opt.zero_grad(set_to_none=True)
            self.loss_scale.found_inf.zero_()
            with torch.no_grad():
                for kept, b in zip(buffers, self.model.buffers()):
                    b.copy_(kept)
        return halvings

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
        """One eager step on the side stream (what torch's whole-network capture recipe does before capturing), with
        CUDA's sync-debug mode at "error": a step that waits for the host fails here, eagerly, with its own error,
        rather than inside the capture."""
        self.opt.zero_grad(set_to_none=True)
        if self.device.type != "cuda":
            self.run(step)
            return
        side = self.side_stream()
        side.wait_stream(torch.cuda.current_stream(self.device))
        before = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")
        try:
            with torch.cuda.stream(side):  # the previous stream comes back on exit, also after an error
                self.run(step)
        finally:
            torch.cuda.set_sync_debug_mode(before)
        torch.cuda.current_stream(self.device).wait_stream(side)

    def capture(self, step: int) -> None:
        """Record the step into a CUDA graph (gradients are allocated inside it, so they are set to None first), on
        the side stream, into an explicit memory pool. When the step or ``capture_end`` fails, the allocator's
        capture is ended, the pool released and the stream restored, and the step's own error is raised (not
        ``capture_end``'s "operation not permitted when stream is capturing")."""
        self.opt.zero_grad(set_to_none=True)
        graph, side = torch.cuda.CUDAGraph(), self.side_stream()
        self.pool = torch.cuda.MemPool()
        torch.cuda.synchronize(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        failure: BaseException | None = None
        with torch.cuda.stream(side):
            graph.capture_begin(pool=self.pool.id)
            try:
                self.run(step)
            except Exception as err:  # noqa: BLE001 (re-raised below, after the capture is ended)
                failure = err
            try:
                graph.capture_end()
            except Exception as err:  # noqa: BLE001
                failure = failure or err
        if failure is not None:
            self._abandon(graph)
            raise failure
        torch.cuda.current_stream(self.device).wait_stream(side)
        self.graph = graph

    def _abandon(self, graph: Any) -> None:
        """Undo a failed capture: end the allocator's capture into the pool (torch before 2.12 skips it when
        ``capture_end`` raises), reset the graph, and drop the graph's holds on the pool, so that its memory is
        freed when the pool goes (``empty_cache()`` frees the rest of the process's cache again)."""
        index = self.device.index if self.device.index is not None else torch.cuda.current_device()
        try:
            torch._C._cuda_endAllocateToPool(index, self.pool.id)
        except RuntimeError:
            pass  # capture_end had already ended it
        try:
            graph.reset()
        except RuntimeError:
            pass
        while self.pool.use_count() > 1:  # 1: the MemPool object's own reference, dropped with it
            torch._C._cuda_releasePool(index, self.pool.id)

    def replay(self) -> None:
        self.graph.replay()

    def release(self) -> None:
        """Drop the graph (and with it its memory pool), the gradients and the optimizer state."""
        if self.graph is not None and hasattr(self.graph, "reset"):
            self.graph.reset()
        self.graph = self.pool = None
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
            if stepper is None:
                stepper = CapturedStep(model, config, run.dev, run.result.precision, x, y, after_backward)
                stepper.load(x, y, lr)
                stepper.calibrate_loss_scale()
            stepper.load(x, y, lr)
            stepper.opt.zero_grad(set_to_none=True)
            stepper.run(step)
        elif stepper is None or stepper.graph is None:
            failure = None
            try:
                if stepper is None:
                    stepper = CapturedStep(model, config, run.dev, run.result.precision, x, y, after_backward)
                    stepper.load(x, y, lr)
                    stepper.calibrate_loss_scale()  # before any step: the first one must not overflow in fp16
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
                # read the loss once here: the step clock then starts after the capture and its first replay
                if not run.record(stepper.loss, stepper.acc) or not run.flush():
                    return
                run.result.clock_from = step + 1
                if not run.after_step(step + 1):
                    return
                continue
        else:
            stepper.load(x, y, lr)
            stepper.replay()
        if not run.record(stepper.loss, stepper.acc) or not run.after_step(step + 1):
            return
