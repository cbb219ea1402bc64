"""What recording every layer's gradient norm costs (lesson 08): ms per training step of a 56-layer net with and
without :class:`resnet_edu.lessons.lesson08_train_cifar10.GradientRecorder`, interleaved repeats, medians; and the
recorder's own cost per
call, timed alone. On the CPU both use process time (CPU seconds of this process), which other programs on a busy
machine disturb far less than wall time; on a GPU, wall time after a synchronize.

    .venv/bin/python benchmarks/gradient_recorder.py                      # CPU: digits 8x8, width 8 (lesson 08's)
    .venv/bin/python benchmarks/gradient_recorder.py --device cuda        # GPU: CIFAR-shaped random data, width 16,
                                                                          # batch 512, the trainer's fast path
    .venv/bin/python benchmarks/gradient_recorder.py --device cuda --check-capture
                        # the recorder inside the captured CUDA graph records what it records without the graph
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

from resnet_edu import data, nets, runtime, train
from resnet_edu.gradients import weight_layers
from resnet_edu.lessons import lesson08_train_cifar10 as dynamics


def _clock(device: str) -> float:
    if device == "cpu":
        return time.process_time()
    torch.cuda.synchronize()
    return time.perf_counter()


def one_run(train_data: data.ImageData, config: train.TrainConfig, width: int, every: int | None, device: str
            ) -> float:
    """ms per step of one fit (``every=None``: no recorder)."""
    torch.manual_seed(0)
    model = nets.cifar_net(56, residual=True, width=width, in_channels=train_data.in_channels)
    recorder = None if every is None else dynamics.GradientRecorder(model, config.steps, every)
    start = _clock(device)
    result = train.fit(model, train_data, config, progress=False, device=device, after_backward=recorder)
    elapsed = _clock(device) - start
    if device != "cpu" and result.fast:  # steady state, capture excluded
        return result.ms_per_step(skip=config.sync_every)
    if recorder is not None:
        history = recorder.history()
        assert history.norms.shape == (len(history.steps), len(weight_layers(model)))
    return 1000 * elapsed / result.steps


def recorder_call_ms(train_data: data.ImageData, width: int, device: str, calls: int = 200) -> tuple[float, int]:
    """ms of one recording call (every step recorded), after one backward pass; and the number of layers."""
    torch.manual_seed(0)
    model = nets.cifar_net(56, residual=True, width=width, in_channels=train_data.in_channels).to(device)
    x, y = train_data.x[:64].to(device), train_data.y[:64].to(device)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    recorder = dynamics.GradientRecorder(model, calls, every=1)
    recorder(0)
    start = _clock(device)
    for step in range(calls):
        recorder(step)
    elapsed = _clock(device) - start
    return 1000 * elapsed / calls, len(recorder.names)


def check_capture(train_data: data.ImageData, config: train.TrainConfig, width: int, device: str) -> None:
    """Record every step of the same seeded run with the captured CUDA-graph step and without it; compare."""
    histories = {}
    for fast in (True, False):
        torch.manual_seed(0)
        model = nets.cifar_net(56, residual=True, width=width, in_channels=train_data.in_channels)
        recorder = dynamics.GradientRecorder(model, config.steps, every=1)
        result = train.fit(model, train_data, config.replace(fast=fast), progress=False, device=device,
                           after_backward=recorder)
        histories[fast] = recorder.history()
        print(f"fast={fast}: captured step ran: {result.fast}; {len(histories[fast].steps)} rows recorded")
    a, b = histories[True].norms, histories[False].norms
    worst = float(abs(a - b).max() / abs(b).max())
    print(f"rows {a.shape} vs {b.shape}; largest difference {worst:.2e} of the largest norm (bf16 kernels may "
          "differ slightly; the rows must match step by step)")
    assert a.shape == b.shape and worst < 0.05, "the recorder inside the CUDA graph disagrees with the eager one"
    print("✅ recorder inside the captured graph = recorder without it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--check-capture", action="store_true")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.device == "cpu":
        train_data, width = data.digits(8, 1), 8
        config = dynamics.DYNAMICS_CPU.train.replace(steps=args.steps or 100, eval_every=0)
    else:
        n = 10_000
        train_data = data.ImageData(torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,)), "random CIFAR-shaped",
                                    data.CIFAR10_CLASSES)
        width = 16
        config = dynamics.DYNAMICS_GPU.train.replace(steps=args.steps or 400, epochs=None, eval_every=0)
    if args.check_capture:
        check_capture(train_data, config.replace(steps=args.steps or 60), width, args.device)
        return
    variants = {"no recorder": None, "recorder, every step": 1, "recorder, every 10 steps": 10}
    times: dict[str, list[float]] = {name: [] for name in variants}
    with runtime.one_thread() if args.device == "cpu" else contextlib.nullcontext():
        one_run(train_data, config.replace(steps=10), width, 1, args.device)  # warm-up (allocator, cuDNN)
        for _ in range(args.repeats):
            for name, every in variants.items():  # interleaved, so a load change hits every variant alike
                times[name].append(one_run(train_data, config, width, every, args.device))
        per_call = recorder_call_ms(train_data, width, args.device)
    base = statistics.median(times["no recorder"])
    print(f"56-layer ResNet, {config.steps} steps of batch {config.batch_size} on {args.device}, "
          f"{args.repeats} interleaved repeats (median ms per step; min–max)")
    for name, values in times.items():
        med = statistics.median(values)
        spread = f"({min(values):.2f}–{max(values):.2f})"
        print(f"  {name:<26} {med:7.2f} ms {spread}   overhead {100 * (med / base - 1):+5.1f} %")
    print(f"one recorder call (all {per_call[1]} layers' norms, written on the device), timed alone: "
          f"{per_call[0]:.3f} ms = {100 * per_call[0] / base:.2f} % of a training step")


if __name__ == "__main__":
    main()
