"""Lesson 03's depth slider: seconds per update at depths 20 / 56 / 110 (issue 3 asks ≤ 0.2 s at 56, ≤ 1 s at 110).

Run: .venv/bin/python benchmarks/slider_latency.py [--repeats 5]

An update is what a learner waits for after releasing the slider: measure the gradient profile (first visit of a
state; later visits are cached and shown separately), draw it, turn the figure into a PNG and put it in the output.
Prints medians of wall time and of this process's CPU time: on a busy machine the wall time is inflated by other
programs, the CPU time much less (the profile runs on one thread). Numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import resnet_edu as edu

DEPTHS = (20, 56, 110)
BUDGET = {20: 0.2, 56: 0.2, 110: 1.0}


def select(app, residual: bool, bn: bool) -> None:
    """Put the app's toggles in this state, as a learner's clicks would (that redraw is not timed)."""
    with contextlib.redirect_stdout(io.StringIO()):
        app.controls["residual"].value = residual
        app.controls["bn"].value = bn


def measure(app, depth: int, residual: bool, bn: bool, cached: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one depth-slider update, timed by the app itself (``DepthExplorer.timings``:
    ``cached=False`` forgets the state's profile first, a first visit)."""
    cpu = time.process_time()
    wall = app.timings(depths=(depth,), residual=residual, bn=bn, cached=cached)[depth]
    return wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    edu.runtime.describe()
    app = edu.lessons.lesson03_gradient_path.depth_explorer()
    with contextlib.redirect_stdout(io.StringIO()):  # warm-up: imports, first figure (its printout swallowed)
        measure(app, 20, True, True, cached=False)
    print(f"median of {args.repeats} updates, batch 32 of 16x16 digits, CPU")
    print(f"{'state':<26} {'first visit wall':>16} {'CPU':>7} {'cached wall':>12} {'budget':>7}")
    for residual, bn in ((True, True), (False, True), (True, False), (False, False)):
        select(app, residual, bn)
        for depth in DEPTHS:
            cold = [measure(app, depth, residual, bn, cached=False) for _ in range(args.repeats)]
            warm = [measure(app, depth, residual, bn, cached=True) for _ in range(args.repeats)]
            state = f"depth={depth} residual={residual} bn={bn}"
            wall = statistics.median(w for w, _ in cold)
            cpu = statistics.median(c for _, c in cold)
            cached = statistics.median(w for w, _ in warm)
            print(f"{state:<26} {wall:>15.3f}s {cpu:>6.3f}s {cached:>11.3f}s {BUDGET[depth]:>6.1f}s")


if __name__ == "__main__":
    main()
