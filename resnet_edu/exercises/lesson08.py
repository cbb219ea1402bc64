"""Exercise checkers for lesson 08 (training plain-56 and ResNet-56 while watching every layer's gradient;
He et al. 2015, §4.1–4.2). The right answers are read from the learner's own training run, not remembered."""

from __future__ import annotations

import math

from ._core import missing, number, predicted, verdict

__all__ = [
    "check_largest_gradient",
    "check_gradient_ratio",
    "check_images_per_second",
    "check_explosion_prediction",
    "solution_largest_gradient",
    "solution_gradient_ratio",
    "solution_images_per_second",
]

_PARTS = ("input", "middle", "output")
_NOT_A_RESULT = "Pass the training result as the second argument: check_…(answer, result), result = train_pair(…)."


def _is_comparison(result: object) -> bool:
    from ..lessons.lesson08_train_cifar10 import Comparison

    return isinstance(result, Comparison)


def _part(result, kind: str) -> str:  # noqa: ANN001
    history = result.history(kind)
    column = history.names.index(history.largest())
    return _PARTS[min(2, 3 * column // len(history.names))]


def solution_largest_gradient(result) -> dict[str, str]:  # noqa: ANN001
    """For each net, the third of its weight layers (input / middle / output side) whose gradient is largest at
    step 0, read from ``result`` (a :class:`resnet_edu.lessons.lesson08_train_cifar10.Comparison`)."""
    return {kind: _part(result, kind) for kind in ("plain", "residual")}


def check_largest_gradient(answer: object, result: object = None) -> bool:
    """Exercise 1: at step 0, is each net's largest gradient on the "input", "middle" or "output" side?"""
    if missing(answer, 'answer = {"plain": "...", "residual": "..."} with "input", "middle" or "output" each.'):
        return False
    if not _is_comparison(result):
        return verdict(False, "", _NOT_A_RESULT)
    if not isinstance(answer, dict) or set(answer) != {"plain", "residual"}:
        return verdict(False, "", 'Give a dict with keys "plain" and "residual", e.g. {"plain": "input", '
                                  '"residual": "middle"}.')
    given = {k: str(v).strip().lower() for k, v in answer.items()}
    if any(v not in _PARTS for v in given.values()):
        return verdict(False, "", f'Each value must be "input", "middle" or "output"; got {answer!r}.')
    right = solution_largest_gradient(result)
    names = {k: result.history(k).largest() for k in right}
    measured = "; ".join(f"{k}: {names[k]} ({right[k]} side)" for k in right)
    if given == right:
        return verdict(True, f"Right — measured in your run: {measured}. In the plain BN net the gradient grows "
                             "toward the input at init (lesson 03b); the shortcuts keep the residual net's far more "
                             "even.", "")
    wrong = [k for k in right if given[k] != right[k]]
    return verdict(False, "", f"Not for {', '.join(wrong)}. Your run measured {measured}. Look at the left edge "
                              "(step 0) of each heatmap: which rows are brightest?")


def solution_gradient_ratio(result) -> float:  # noqa: ANN001
    """``norms[0, 0] / norms[0, -1]`` of the plain net: first-layer over last-layer gradient norm at step 0 (at the
    first finite row when fp16 skipped step 0 and recorded NaN)."""
    return result.ratio_at_start("plain")


def check_gradient_ratio(answer: object, result: object = None) -> bool:
    """Exercise 2: compute the plain net's first-layer / last-layer gradient norm at step 0 from
    ``result.history("plain").norms`` (rows: recorded steps, columns: layers, input side first)."""
    if missing(answer, 'compute it from norms = result.history("plain").norms (row 0 is step 0; column 0 the first '
                       "layer, column -1 the last)."):
        return False
    if not _is_comparison(result):
        return verdict(False, "", _NOT_A_RESULT)
    value = number(answer, "a number", "norms[0, 0] / norms[0, -1]")
    if value is None:
        return False
    if value <= 0:
        return verdict(False, "", f"A ratio of two norms is a positive number; got {value!r}.")
    right = solution_gradient_ratio(result)
    residual = result.ratio_at_start("residual")
    if math.isclose(value, right, rel_tol=0.01):
        return verdict(True, f"Right: {right:.3g}. The residual net's is {residual:.3g}.", "")
    if math.isclose(value, 1 / right, rel_tol=0.01):
        return verdict(False, "", "That is last over first: divide the first column by the last one.")
    if math.isclose(value, residual, rel_tol=0.01):
        return verdict(False, "", 'That is the residual net\'s ratio; use result.history("plain").')
    return verdict(False, "", f"{value:g} is not it. Take row 0 (step 0; the first row without NaN if fp16 "
                              "skipped it) and divide column 0 by column -1.")


def solution_images_per_second(run) -> float:  # noqa: ANN001
    """Images per second: steps × batch size / wall time of the run (NaN when the wall time is 0: too short to
    time)."""
    return run.fit.steps * run.batch_size / run.fit.wall_time if run.fit.wall_time > 0 else float("nan")


def check_images_per_second(answer: object, run: object = None) -> bool:
    """Exercise 3: compute the training throughput of ``run`` (img/s) from ``run.fit.steps``, ``run.batch_size`` and
    ``run.fit.wall_time``."""
    from ..lessons.lesson08_train_cifar10 import Run

    if missing(answer, "use run.fit.steps, run.batch_size and run.fit.wall_time (seconds)."):
        return False
    if not isinstance(run, Run):
        return verdict(False, "", "Pass one net's run as the second argument, e.g. result.runs[\"residual\"].")
    value = number(answer, "a number of images per second", "1234.5")
    if value is None:
        return False
    if not run.fit.wall_time > 0:
        return verdict(False, "", f"This run's wall time is {run.fit.wall_time!r} s — too short to time — so its "
                                  "throughput is undefined; train for more steps and try again.")
    right = solution_images_per_second(run)
    if math.isclose(value, right, rel_tol=0.01):
        return verdict(True, f"Right: {right:,.0f} img/s. On a GPU, benchmarks/gpu_throughput.py compares the fast "
                             "trainer's number with the textbook training loop (DataLoader, fp32) on the same card.",
                       "")
    steps_per_second = run.fit.steps / run.fit.wall_time
    if math.isclose(value, steps_per_second, rel_tol=0.01):
        return verdict(False, "", "That is steps per second; every step processes a whole batch.")
    return verdict(False, "", f"{value:g} is not it: images = steps × batch size, divided by the seconds it took.")


def check_explosion_prediction(prediction: object, result: object) -> bool:
    """Recorded before training: does the plain net's explosion toward the input (first/last gradient norm ≫ 1 at
    step 0) "last" through training, or does it "collapse"? Judged on ``result`` (the learner's
    :class:`resnet_edu.lessons.lesson08_train_cifar10.Comparison`): "collapse" when the median ratio after the first 10
    % of training is
    below 1/100 of the ratio at step 0."""
    if not _is_comparison(result):
        return verdict(False, "", _NOT_A_RESULT)
    start, during = result.ratio_at_start("plain"), result.ratio_during_training("plain")  # type: ignore[union-attr]
    measured = "collapse" if during < start / 100 else "last"
    return predicted(
        prediction, measured, ("last", "collapse"),
        f"the plain net's first/last gradient norm is {start:,.0f} at step 0 and {during:.3g} (median) after the "
        "first 10 % of training in your run",
        "The first huge steps inflate the input-side weights; behind BatchNorm that shrinks their gradient (see "
        "below).")
