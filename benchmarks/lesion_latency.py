"""Lesson 09's lesion checkboxes: seconds per update when a learner ticks or unticks a block (issue 33: a state
already seen ≤ 0.05 s on a quiet CPU; a first visit re-evaluates both nets on the test set).

Run: .venv/bin/python benchmarks/lesion_latency.py [--repeats 5]

Trains the lesson's CPU nets first (``train_nets(seed=0)``, as notebook 09 does), builds the app for the plain net
and the ResNet of the same depth, and then, for each deletable block: a first visit (that block alone deleted, its
PNG forgotten first), a state already seen (the same again) and a first visit after the app drew the neighbouring
states ahead (``SliderApp.prefetch``, what its background thread does while the learner looks). Prints medians of
wall time and of this process's CPU time. Numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import resnet_edu as edu
from resnet_edu.lessons import lesson09_ensembles_paths as lesion

SEEN_BUDGET = 0.05


def timed(app, **values) -> tuple[float, float]:
    cpu = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        wall = app.update(**values)
    return wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    edu.runtime.describe()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        nets = lesion.train_nets(seed=0)
        app = lesion.lesion_explorer(nets, names=nets.pair)
        app.update()  # what show() draws: nothing deleted
    print(f"trained {', '.join(nets.pair)} and built the app in {time.perf_counter() - start:.1f} s")
    boxes = list(app.controls)
    cold, seen, ahead = [], [], []
    for name in boxes:
        for _ in range(args.repeats):
            app.forget(**{name: True})
            cold.append(timed(app, **{name: True}))
            seen.append(timed(app, **{name: True}))
    for name in boxes:  # look at "nothing deleted", let the neighbours be drawn, then tick one box
        app.clear_cache()
        with contextlib.redirect_stdout(io.StringIO()):
            app.update()
            app.prefetch()
        ahead.append(timed(app, **{name: True}))
    med = statistics.median
    print(f"{len(boxes)} checkboxes, {args.repeats} repeats each; medians (max)")
    print(f"first visit (one block deleted): {med(w for w, _ in cold):.3f} s wall, {med(c for _, c in cold):.3f} s "
          f"CPU ({max(w for w, _ in cold):.3f} s)")
    print(f"state already seen:              {med(w for w, _ in seen):.3f} s wall ({max(w for w, _ in seen):.3f} s); "
          f"budget {SEEN_BUDGET} s")
    print(f"first visit, neighbours drawn:   {med(w for w, _ in ahead):.3f} s wall ({max(w for w, _ in ahead):.3f} s)")


if __name__ == "__main__":
    main()
