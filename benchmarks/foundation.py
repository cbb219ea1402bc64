"""Foundation figures (issue 2): gradient_profile latency and training-step cost on the offline digits.

Run: .venv/bin/python benchmarks/foundation.py  — prints medians over repeats; numbers depend on the machine.
"""

from __future__ import annotations

import statistics
import time

import torch

import resnet_edu as edu


def median_seconds(fn, repeats: int = 7) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    edu.runtime.describe()
    digits = edu.data.digits(size=16, channels=3)
    x, y = digits.x[:32], digits.y[:32]
    for depth in (20, 56, 110):
        for residual in (True, False):
            model = edu.nets.cifar_net(depth, residual=residual)
            s = median_seconds(lambda model=model: edu.gradients.gradient_profile(model, x, y))
            print(f"gradient_profile {'ResNet' if residual else 'plain'}-{depth}, batch 32, 16x16: {s * 1000:.0f} ms")
    train8 = edu.data.digits(size=8, channels=1)
    for size, data in ((8, train8), (16, digits)):
        for depth in (20, 56):
            model = edu.nets.cifar_net(depth, in_channels=data.in_channels)
            result = edu.train.fit(model, data, edu.train.TrainConfig(steps=40, batch_size=64, optimizer="adam"),
                                   progress=False)
            print(f"fit ResNet-{depth} on digits {size}x{size}, batch 64: {result.wall_time / 40 * 1000:.1f} ms/step")
    print(f"torch threads: {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
