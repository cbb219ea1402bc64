"""Lesson 03b's depth study over several seeds: first/last conv gradient ratio at init of plain and residual CIFAR
nets with BN, and whether each seed meets the bands the lesson's check cell asserts.

Run: .venv/bin/python benchmarks/gradient_seeds.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse

import resnet_edu as edu

DEPTHS = (20, 56, 110)
PLAIN_BANDS = ((10, 100), (1e2, 1e4), (1e6, 1e8))  # plain-20 / -56 / -110, as in the check cell
RESIDUAL_PER_DEPTH = (0.15, 0.6)  # the ResNet's ratio / depth: roughly linear growth (and within a factor 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    edu.runtime.describe()
    print(f"{'seed':>4}  " + "  ".join(f"plain-{d:<4} ResNet-{d:<4}" for d in DEPTHS) + "  bands")
    for seed in args.seeds:
        study = edu.lessons.lesson03b_gradient_norms.depth_study(depths=DEPTHS, seed=seed, progress=False)
        plain, residual = study.ratios("plain"), study.ratios("residual")
        per_depth = [r / d for r, d in zip(residual, DEPTHS)]
        ok = (all(lo <= p < hi for p, (lo, hi) in zip(plain, PLAIN_BANDS)) and plain[2] / plain[0] > 1e4
              and residual[0] < residual[1] < residual[2] and max(per_depth) / min(per_depth) < 2
              and all(RESIDUAL_PER_DEPTH[0] <= v <= RESIDUAL_PER_DEPTH[1] for v in per_depth))
        cells = "  ".join(f"{p:<10.3g} {r:<11.3g}" for p, r in zip(plain, residual))
        print(f"{seed:>4}  {cells}  {'all met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
