"""Lesson 01's numbers over several seeds: final training loss of plain and residual nets at each depth, per seed
and averaged, and the three comparisons the check cell asserts (He et al. 2015: the training curves of Fig. 1 and
Fig. 6, the final errors of Table 6).

    .venv/bin/python benchmarks/degradation_seeds.py                    # CPU scale, seeds 0 1 2, depths 8 20 56
    .venv/bin/python benchmarks/degradation_seeds.py --steps 400 --seeds 0 --depths 20 56
                                                                         # train 4× longer: does plain-56 catch up?
    .venv/bin/python benchmarks/degradation_seeds.py --scale gpu        # CIFAR-10 (digits if it is missing)
    .venv/bin/python benchmarks/degradation_seeds.py --time-gpu-epoch   # GPU recipe on random CIFAR-shaped data:
                                                                         # seconds per epoch → projected cell time
    .venv/bin/python benchmarks/degradation_seeds.py --scale gpu --seeds 0 1 2 --depths 20 32 44 56 110
                                                                         # lesson 01's GPU table, 3 seeds (+ResNet-110)
    .venv/bin/python benchmarks/degradation_seeds.py --scale gpu --dry-run   # the GPU path on a tiny random
                                                                         # "CIFAR-10", 1 epoch: runs on a CPU
"""

from __future__ import annotations

import argparse
import time

import torch

import resnet_edu as edu
from resnet_edu import data
from resnet_edu.lessons import lesson01_degradation as degradation

# The check cell of notebooks/01_degradation.ipynb asserts these on the final training loss, measured on the whole
# training set in eval mode (like the test loss).
PLAIN_RATIO_MIN = 1.25  # plain-56 must end above 1.25 × plain-20: "clearly higher"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--depths", type=int, nargs="+", default=None)
    parser.add_argument("--scale", choices=edu.runtime.SCALES, default="cpu")
    parser.add_argument("--steps", type=int, default=None,
                        help="train every net for this many steps instead of the scale's recipe length")
    parser.add_argument("--dry-run", action="store_true",
                        help="replace CIFAR-10 by 512 random images and train 1 epoch of batch 64 (code path only)")
    parser.add_argument("--time-gpu-epoch", action="store_true",
                        help="time one epoch of the GPU recipe per net on random CIFAR-shaped data (needs no dataset)")
    args = parser.parse_args()
    if args.time_gpu_epoch:
        time_gpu_epoch(tuple(args.depths) if args.depths else degradation.GPU_DEPTHS)
        return
    depths = tuple(args.depths) if args.depths else degradation.depths_for(args.scale)
    recipe = edu.recipes.pick(edu.recipes.DEGRADATION, args.scale)
    if args.steps is not None:
        recipe = edu.recipes.with_recipe(recipe, steps=args.steps, epochs=None)
    if args.dry_run:
        data.cifar10 = _random_cifar(512)  # the numbers it learns mean nothing
        recipe = edu.recipes.with_recipe(recipe, epochs=1, steps=None, batch_size=64, last=4)
    start = time.perf_counter()
    result = degradation.run(depths=depths, seed=tuple(args.seeds), scale=args.scale, recipe=recipe, progress=False)
    elapsed = time.perf_counter() - start
    print(result.table(per_seed=True))
    print()
    print(result.table())
    lo, hi = min(depths), max(depths)
    ref = 20 if 20 in depths else lo
    print("\nfinal training loss (whole training set, eval mode):")
    for kind in degradation.KINDS:
        print(f"  {kind:>8}: " + " · ".join(f"{d}: {result.final_train_loss(kind, d):.3f}" for d in depths))
    print(f"\ncheck-cell comparisons (final training loss, whole training set, eval mode), "
          f"thresholds: plain-{hi} > {PLAIN_RATIO_MIN} × plain-{ref}, residual-{hi} < residual-{ref}")
    for seed in (*result.seeds, None):
        p_ref, p_hi = result.final_train_loss("plain", ref, seed), result.final_train_loss("plain", hi, seed)
        r_ref, r_hi = result.final_train_loss("residual", ref, seed), result.final_train_loss("residual", hi, seed)
        ok = p_hi > PLAIN_RATIO_MIN * p_ref and r_hi < r_ref and r_hi < p_hi
        tag = "mean" if seed is None else f"seed {seed}"
        print(f"{tag:>7}: plain-{hi} / plain-{ref} = {p_hi / p_ref:.2f} · residual-{hi} − residual-{ref} = "
              f"{r_hi - r_ref:+.3f} · plain-{hi} − residual-{hi} = {p_hi - r_hi:+.3f} · all checks "
              f"{'hold' if ok else 'FAIL'}")
    per_seed = result.wall_time / len(result.seeds)
    print(f"\ntraining time {result.wall_time:.1f} s ({per_seed:.1f} s per seed); total with data {elapsed:.1f} s")
    for (kind, depth, seed), fit in result.runs.items():
        if seed == result.seeds[0]:
            print(f"  {kind}-{depth}: {1000 * fit.wall_time / fit.steps:.1f} ms per step")


def _random_cifar(n_train: int):  # noqa: ANN202
    """A stand-in for :func:`resnet_edu.data.cifar10`: random images shaped like CIFAR-10 (timing, code paths)."""
    def fake_cifar10(train: bool = True, **_: object) -> data.ImageData:
        n = n_train if train else max(1, n_train // 5)
        return data.ImageData(torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,)), "random CIFAR-shaped",
                              data.CIFAR10_CLASSES)

    return fake_cifar10


def time_gpu_epoch(depths: tuple[int, ...], n_train: int = 50_000) -> None:
    """Seconds per epoch of every net under GPU_RECIPE, on random data shaped like CIFAR-10 (timing only)."""
    data.cifar10 = _random_cifar(n_train)  # timing only: the numbers it learns mean nothing
    recipe = edu.recipes.with_recipe(edu.recipes.DEGRADATION_GPU, epochs=1)
    start = time.perf_counter()
    result = degradation.run(depths=depths, seed=0, scale="gpu", recipe=recipe, progress=False)
    total = time.perf_counter() - start
    epochs = edu.recipes.DEGRADATION_GPU.train.epochs
    for (kind, depth, _), fit in result.runs.items():
        print(f"  {kind}-{depth}: {fit.wall_time:.1f} s per epoch ({1000 * fit.wall_time / fit.steps:.1f} ms per step)")
    print(f"one epoch of all {len(result.runs)} nets: {result.wall_time:.1f} s training, {total:.1f} s in all; "
          f"DEGRADATION_GPU ({epochs} epochs) projects to {epochs * result.wall_time / 60:.1f} min of training")


if __name__ == "__main__":
    main()
