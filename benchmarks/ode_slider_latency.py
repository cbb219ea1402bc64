"""Lesson 05's step slider: seconds per update for N = 1 … 48 (budget: ≤ 0.2 s per update on a quiet CPU, issue 33).

Run: .venv/bin/python benchmarks/ode_slider_latency.py [--repeats 5]

An update is what a learner waits for after releasing the slider: compute the view of a new N (the grid and the
sample points through N Euler blocks), redraw the figure's data and turn it into the PNG that is shown; a state
already seen shows its stored PNG (the "cached" columns). In a live notebook the app also draws the neighbouring
N in the background while the learner looks, so a step to N ± 1 usually costs what the cached columns show.
Trains the lesson's net first (seed 1, a few seconds). Prints medians of wall time and of this process's CPU time:
on a busy machine the wall time is inflated by other programs, the CPU time much less. The last line repeats the
lesson's timing cell (``SliderApp.time_updates`` over the same N values on a fresh app), which the notebook only
prints, never asserts, and the look-ahead: how long a fresh app takes to draw every N ahead (what its background
thread does once the kernel is idle while the learner reads), after which a first visit costs what a state already
seen costs. Numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import resnet_edu as edu
from resnet_edu.lessons import lesson05_ode_view as ode

STEPS = (1, 2, 4, 8, 16, 32, 48)
LESSON_STEPS = (1, 3, 7, 12, 24, 40, 48, 32)  # what notebooks/05_ode_view.ipynb times
BUDGET = 0.2  # issue 33 (issue 3 had 0.5 s)


def measure(app, result, steps: int, cached: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one update; the app's printout is swallowed. ``cached=False`` forgets the
    state's view and its PNG first (a first visit); ``cached=True`` shows a state already seen."""
    if not cached:
        result._views.pop(steps, None)
        app.forget(steps=steps)
    cpu = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        wall = app.update(steps=steps)
    return wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    edu.runtime.describe()
    start = time.perf_counter()
    result = ode.train_ode_net(ode.two_spirals(500, seed=1), ode.two_spirals(1000, seed=2),
                                   steps=(8, 32), iterations=300, seed=1, progress=False)
    print(f"trained in {time.perf_counter() - start:.1f} s: {result}")
    start = time.perf_counter()
    app = edu.lessons.lesson05_ode_view.step_explorer(result, max_steps=48)
    print(f"app built in {time.perf_counter() - start:.2f} s (figure, accuracy curve for N = 1…48)")
    measure(app, result, 32, cached=True)  # warm-up: first PNG
    print(f"median of {args.repeats} updates, CPU")
    print(f"{'state':<10} {'first visit wall':>16} {'CPU':>7} {'cached wall':>12} {'CPU':>7} {'budget':>7}")
    worst = 0.0
    for steps in STEPS:
        cold = [measure(app, result, steps, cached=False) for _ in range(args.repeats)]
        warm = [measure(app, result, steps, cached=True) for _ in range(args.repeats)]
        wall, cpu = statistics.median(w for w, _ in cold), statistics.median(c for _, c in cold)
        cached, cached_cpu = statistics.median(w for w, _ in warm), statistics.median(c for _, c in warm)
        worst = max(worst, wall)
        print(f"{'steps=' + str(steps):<10} {wall:>15.3f}s {cpu:>6.3f}s {cached:>11.3f}s {cached_cpu:>6.3f}s "
              f"{BUDGET:>6.1f}s")
    print(f"slowest median update: {worst:.3f} s ({'within' if worst <= BUDGET else 'OVER'} the {BUDGET} s budget)")
    result._views.clear()
    seconds = edu.lessons.lesson05_ode_view.step_explorer(result, max_steps=48).time_updates("steps", LESSON_STEPS)
    median = statistics.median(seconds.values())
    print(f"the lesson's timing cell, N = {list(LESSON_STEPS)} on a fresh app: median {median:.3f} s per update "
          f"({'within' if median <= BUDGET else 'OVER'} the {BUDGET} s budget)")
    result._views.clear()
    fresh = edu.lessons.lesson05_ode_view.step_explorer(result, max_steps=48)
    with contextlib.redirect_stdout(io.StringIO()):
        fresh.update()  # what show() draws
        start, cpu = time.perf_counter(), time.process_time()
        count = fresh.prefetch(fresh.lookahead)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        visits = fresh.time_updates("steps", range(1, 49))
    print(f"look-ahead: a fresh app draws the other {count} values of N in {wall:.1f} s ({cpu:.1f} s CPU) of idle "
          "time; "
          f"then a first visit at any N takes {statistics.median(visits.values()):.3f} s (median), "
          f"{max(visits.values()):.3f} s at most")


if __name__ == "__main__":
    main()
