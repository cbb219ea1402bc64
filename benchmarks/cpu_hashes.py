"""Fingerprints of the CPU numbers of lessons 01, 08 and 09: a refactor that must not change them prints the same
hashes before and after.

    PYTHONPATH=. RESNET_EDU_SCALE=cpu .venv/bin/python benchmarks/cpu_hashes.py            # all three
    PYTHONPATH=. RESNET_EDU_SCALE=cpu .venv/bin/python benchmarks/cpu_hashes.py 01 08      # some of them

Each line is a lesson's default CPU experiment (seed 0) and the SHA-256 (first 16 hex digits) of every number it
measured, written exactly (``float.hex``): per-step training loss and accuracy, every evaluation, and for lesson 08
the recorded gradient norms and weight growth, for lesson 09 the nets' final weights. About 40 s on one core.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Iterable

import numpy as np
import torch

import resnet_edu as edu


def _numbers(values: Iterable[object]) -> Iterable[str]:
    for value in values:
        if isinstance(value, dict):
            for key in sorted(value):
                yield key
                yield from _numbers([value[key]])
        elif isinstance(value, (list, tuple)):
            yield from _numbers(value)
        elif isinstance(value, np.ndarray):
            yield from _numbers(value.astype(float).ravel().tolist())
        elif isinstance(value, torch.Tensor):
            yield from _numbers(value.detach().double().cpu().numpy().ravel().tolist())
        elif isinstance(value, (int, float)):
            yield float(value).hex()
        else:
            yield str(value)


def digest(*values: object) -> str:
    """SHA-256 of every number in ``values`` (nested dicts, lists, arrays, tensors), first 16 hex digits."""
    h = hashlib.sha256()
    for token in _numbers(values):
        h.update(token.encode())
        h.update(b"|")
    return h.hexdigest()[:16]


def fits(fit_results: Iterable[object]) -> list[object]:
    return [[f.loss, f.acc, f.evals, f.diverged] for f in fit_results]


def lesson01() -> str:
    result = edu.lessons.lesson01_degradation.run(seed=0, progress=False)
    return digest(sorted(result.runs), fits(result.runs[k] for k in sorted(result.runs)))


def lesson08() -> str:
    pair = edu.lessons.lesson08_train_cifar10.train_pair(seed=0, progress=False)
    runs = [pair.runs[k] for k in sorted(pair.runs)]
    return digest(fits(r.fit for r in runs), [[r.history.norms, r.history.updates, r.weight_growth, r.test_acc]
                                              for r in runs])


def lesson09() -> str:
    nets = edu.lessons.lesson09_ensembles_paths.train_nets(seed=0, progress=False)
    names = sorted(nets.models)
    return digest(names, fits(nets.fits[n] for n in names),
                  [[p for p in nets.models[n].state_dict().values()] for n in names])


LESSONS = {"01": lesson01, "08": lesson08, "09": lesson09}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", choices=[*LESSONS, []], help="which lessons (default: all)")
    args = parser.parse_args()
    if edu.runtime.scale() != "cpu":
        raise SystemExit("set RESNET_EDU_SCALE=cpu: the hashes fingerprint the CPU numbers")
    for name in args.lessons or LESSONS:
        start = time.perf_counter()
        print(f"lesson {name}: {LESSONS[name]()}  ({time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
