"""Lesson 03b's depth slider: seconds per update at depths 20 / 56 / 110 (issue 33: a first visit ≤ 0.15 s at 56 and
≤ 0.3 s at 110, a state already seen ≤ 0.05 s, on a quiet CPU).

Run: .venv/bin/python benchmarks/slider_latency.py [--repeats 5]

An update is what a learner waits for after releasing the slider: measure the gradient profile, draw it, turn the
figure into a PNG and put it in the output. Three cases per state: a cold first visit (profile and PNG forgotten
first); a first visit one notch away from where the learner was looking, after the app drew the nearest states
ahead (``SliderApp.prefetch``, what its background thread does in a live notebook while the learner looks); and a
state already seen (its PNG is kept). Then the look-ahead: how long a fresh app, shown at depth 56, takes to draw
every state of the slider ahead (what its background thread does once the kernel is idle while the learner reads),
after which any first visit costs what a state already seen costs. Prints medians of wall time and of this
process's CPU time: on a busy machine the wall time is inflated by other programs, the CPU time much less (the
profile runs on one thread). Numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import resnet_edu as edu

DEPTHS = (20, 56, 110)
BUDGET = {20: 0.15, 56: 0.15, 110: 0.3}  # first visit; a state already seen: 0.05 s
SEEN_BUDGET = 0.05


def select(app, residual: bool, bn: bool) -> None:
    """Put the app's toggles in this state, as a learner's clicks would (that redraw is not timed)."""
    with contextlib.redirect_stdout(io.StringIO()):
        app.controls["residual"].value = residual
        app.controls["bn"].value = bn


def forget(app, depth: int, residual: bool, bn: bool) -> None:
    app.cache.pop((depth, residual, bn), None)
    app.forget(depth=depth, residual=residual, bn=bn)


def measure(app, depth: int, residual: bool, bn: bool, cached: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one depth-slider update, timed by the app itself (``DepthExplorer.timings``:
    ``cached=False`` forgets the state's profile and PNG first, a first visit)."""
    cpu = time.process_time()
    wall = app.timings(depths=(depth,), residual=residual, bn=bn, cached=cached)[depth]
    return wall, time.process_time() - cpu


def ahead(app, depth: int, residual: bool, bn: bool) -> float:
    """Wall seconds of a first visit of ``depth`` one notch from where the learner looked, its neighbours drawn."""
    step = app.controls["depth"].step
    before = depth - step if depth - step >= app.controls["depth"].min else depth + step
    forget(app, depth, residual, bn)
    with contextlib.redirect_stdout(io.StringIO()):
        app.update(depth=before)
        app.controls["depth"].value = before
        app.prefetch()  # what the background thread does while the learner looks at `before`
        seconds = app.time_updates("depth", [depth])[depth]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    edu.runtime.describe()
    app = edu.lessons.lesson03b_gradient_norms.depth_explorer()
    with contextlib.redirect_stdout(io.StringIO()):  # warm-up: imports, first figure (its printout swallowed)
        measure(app, 20, True, True, cached=False)
    print(f"median of {args.repeats} updates, batch 32 of 16x16 digits, CPU")
    print(f"{'state':<34} {'first visit wall':>16} {'CPU':>7} {'drawn ahead':>12} {'seen':>7} {'budget':>7}")
    for residual, bn in ((True, True), (False, True), (True, False), (False, False)):
        select(app, residual, bn)
        for depth in DEPTHS:
            cold = [measure(app, depth, residual, bn, cached=False) for _ in range(args.repeats)]
            warm = [measure(app, depth, residual, bn, cached=True) for _ in range(args.repeats)]
            near = [ahead(app, depth, residual, bn) for _ in range(args.repeats)]
            state = f"depth={depth} residual={residual} bn={bn}"
            wall = statistics.median(w for w, _ in cold)
            cpu = statistics.median(c for _, c in cold)
            cached = statistics.median(w for w, _ in warm)
            print(f"{state:<34} {wall:>15.3f}s {cpu:>6.3f}s {statistics.median(near):>11.3f}s {cached:>6.3f}s "
                  f"{BUDGET[depth]:>6.2f}s")
    print(f"budget for a state already seen: {SEEN_BUDGET} s")
    fresh = edu.lessons.lesson03b_gradient_norms.depth_explorer()
    with contextlib.redirect_stdout(io.StringIO()):
        fresh.update()  # what show() draws
        start, cpu = time.perf_counter(), time.process_time()
        count = fresh.prefetch(fresh.lookahead)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        left = sum(fresh._key({**fresh.values(), "depth": d, "residual": r, "bn": b}) not in fresh._images
                   for d in fresh.valid_depths for r in (False, True) for b in (False, True))
        visits = [fresh.time_updates("depth", [d])[d] for d in fresh.valid_depths]
    print(f"look-ahead: a fresh app shown at depth 56 draws the other {count} states in {wall:.1f} s ({cpu:.1f} s CPU) "
          f"of idle time; states left undrawn: {left}; then a first visit at any depth takes "
          f"{statistics.median(visits):.3f} s (median), {max(visits):.3f} s at most")


if __name__ == "__main__":
    main()
