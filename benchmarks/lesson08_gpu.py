"""Lesson 08's numbers at a scale: plain-56 and ResNet-56 trained with one recipe while every layer's gradient norm
is recorded — final test accuracies, wall time, img/s, and the numbers the notebook's check cells assert.

    .venv/bin/python benchmarks/lesson08_gpu.py --scale paper            # CIFAR-10, DYNAMICS_PAPER (needs the data)
    .venv/bin/python benchmarks/lesson08_gpu.py --scale gpu --seeds 0 1  # several seeds
    .venv/bin/python benchmarks/lesson08_gpu.py --scale cpu              # the digits, DYNAMICS_CPU

The recipe (resnet_edu.lessons.lesson08_train_cifar10.DYNAMICS_GPU) aims at ResNet-56 ≥ 92 % test accuracy, the whole
notebook within
8 min on one H100: batch 512 with a scaled learning rate, annealed to zero, SGD with momentum and weight decay 5e-4,
He et al. 2015's crop-and-flip augmentation. The whole notebook's time is measured with
``RESNET_EDU_SCALE=gpu /usr/bin/time .venv/bin/pytest --nbval-lax notebooks/08_train_cifar10.ipynb``.
"""

from __future__ import annotations

import argparse
import time

import resnet_edu as edu
from resnet_edu.lessons import lesson08_train_cifar10 as dynamics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=edu.runtime.SCALES, default="gpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    for seed in args.seeds:
        start = time.perf_counter()
        result = dynamics.train_pair(depth=56, seed=seed, scale=args.scale, progress=False)
        total = time.perf_counter() - start
        print(result.table())
        for run in result.runs.values():
            print("  " + run.throughput())
        plain0, plain_t = result.ratio_at_start("plain"), result.ratio_during_training("plain")
        res0, res_t = result.ratio_at_start("residual"), result.ratio_during_training("residual")
        checks = {
            "step 0: plain ratio > 100 and > 30 × residual": plain0 > 100 and plain0 > 30 * res0,
            "training: plain ratio < step-0 ratio / 100": plain_t < plain0 / 100,
            "training: residual ratio within 1/30 … 30": 1 / 30 < res_t < 30,
            "first-layer weight growth plain > 5 × residual":
                result.weight_growth("plain") > 5 * result.weight_growth("residual"),
            "ResNet-56 ahead of plain-56": result.test_acc("residual") - result.test_acc("plain")
                >= (0.03 if result.dataset == "CIFAR-10" else 0.2),
        }
        if result.dataset == "CIFAR-10":
            checks["ResNet-56 ≥ 92 % test"] = result.test_acc("residual") >= 0.92
        print(f"seed {seed}: {result.dataset}, training {result.wall_time:.1f} s, total {total:.1f} s")
        for name, ok in checks.items():
            print(f"  {'holds' if ok else 'FAILS'}: {name}")


if __name__ == "__main__":
    main()
