"""CPU seconds of a few training steps for every ``--arch`` of ``python -m resnet_edu.train`` (issue 34).

Run: PYTHONPATH=. .venv/bin/python benchmarks/arch_steps.py [--steps 2] [--batch 4] [--archs resnet20,resnet18_cifar]

Each net of :data:`resnet_edu.zoo.ARCHS` is built for 3×32×32 images and 10 classes. It then trains for ``--steps``
steps of ``--batch`` images with :func:`resnet_edu.train.fit` (the standard loop, as the CLI uses on a CPU), on fake
data: random images, so nothing is read or downloaded. The table gives the parameter count, the build time, the
wall time of the steps (fit's own clock), the seconds per step and this process's CPU seconds for the steps
(less inflated than wall time when other programs share the cores). Numbers depend on the machine and on what else
runs on it. Torch's one-off start-up is paid before the table by an untimed step; the first step of each net still
includes that net's own warm-up, so per-step figures from 2 steps are upper bounds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import torch

from resnet_edu import train, zoo
from resnet_edu.data import ImageData


def fake_data(n: int, size: int = 32, seed: int = 0) -> ImageData:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return ImageData(x, y, f"fake {size}x{size} RGB", tuple(f"class {i}" for i in range(10)))


def measure(name: str, steps: int, batch: int, data: ImageData) -> tuple[int, float, float, float]:
    """(parameters, build seconds, wall and CPU seconds of ``steps`` training steps) of the arch ``name``."""
    arch = zoo.arch(name)
    torch.manual_seed(0)
    start = time.perf_counter()
    model = arch.build(3, 10)
    built = time.perf_counter() - start
    config = train.TrainConfig(steps=steps, batch_size=batch, fast=False, eval_every=0)
    cpu = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        result = train.fit(model, data, config, progress=False, device="cpu", label=name)
    return sum(p.numel() for p in model.parameters()), built, result.wall_time, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--archs", default=None, help="comma-separated names (default: all of zoo.ARCHS)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: on a shared 2-core "
                        "machine two threads waited on each other, 5 s instead of 0.07 s a ResNet-20 step)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = list(zoo.ARCHS) if args.archs is None else [n.strip() for n in args.archs.split(",")]
    data = fake_data(max(64, 2 * args.batch))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; {args.steps} steps of batch "
          f"{args.batch} on {data.name} images, 10 classes")
    print(f"{'arch':<22}{'parameters':>13}{'build s':>9}{'steps s':>9}{'s/step':>8}{'CPU s':>8}")
    measure("small_resnet", 1, args.batch, data)  # torch's one-off start-up (first autograd, first conv), untimed
    total = time.perf_counter()
    for name in names:
        params, built, trained, cpu = measure(name, args.steps, args.batch, data)
        print(f"{name:<22}{params:>13,}{built:>9.2f}{trained:>9.2f}{trained / args.steps:>8.2f}{cpu:>8.2f}",
              flush=True)
    print(f"{len(names)} archs in {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
