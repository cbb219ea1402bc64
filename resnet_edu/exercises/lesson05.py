"""Exercise checkers for lesson 05 (the ODE view: a residual block is one Euler step; Chen et al. 2018, Eq. 1–2).

Every truth a checker compares with is measured by running the step rules on
:func:`resnet_edu.lessons.lesson05_ode_view.vector_field`,
never typed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from ._core import brief, missing, number, predicted, verdict

__all__ = [
    "check_one_step_prediction",
    "check_error_factors", "check_midpoint_step", "check_equal_budget",
    "solution_error_factors", "solution_midpoint_step", "solution_equal_budget",
]

BUDGET = 48  # evaluations of f in exercise 3


# --- exercise 1: by what factor does the error shrink when N is multiplied by 4? ---

def _measured_factors() -> dict[str, float]:
    """error(N = 16) / error(N = 64) for Euler and RK4 on the lesson's vector field."""
    from ..lessons.lesson05_ode_view import convergence

    result = convergence(steps=(16, 64), methods=("euler", "rk4"))
    return {name: errs[0] / errs[1] for name, errs in result.errors.items()}


def check_error_factors(answer: object) -> bool:
    """Exercise 1: predict how much smaller the error gets when N (the number of blocks) is multiplied by 4,
    for the Euler stack and for the RK4 stack. Answer ``{"euler": ..., "rk4": ...}``."""
    if missing(answer, 'record two numbers before the run, e.g. prediction = {"euler": 2, "rk4": 8}; the table shows '
                       "the measured errors."):
        return False
    if not isinstance(answer, Mapping) or set(answer) != {"euler", "rk4"}:
        return verdict(False, "", f'Give a dict with the keys "euler" and "rk4"; got {brief(answer)}.')
    euler = number(answer["euler"], 'a number for "euler" (how many times smaller)', "2")
    rk4 = None if euler is None else number(answer["rk4"], 'a number for "rk4" (how many times smaller)', "8")
    if euler is None or rk4 is None:
        return False
    measured = _measured_factors()
    seen = f"measured here: Euler {measured['euler']:.1f}×, RK4 {measured['rk4']:.0f}× (N = 16 → 64)"
    euler_ok = 3 <= euler <= 5.5
    rk4_ok = 128 <= rk4 <= 512
    if euler_ok and rk4_ok:
        return verdict(True, f"Right: error ∝ h^p = (T/N)^p, so 4× the blocks gives 4^p smaller error: 4¹ = 4 for "
                       f"Euler, 4⁴ = 256 for RK4 ({seen}).", "")
    hints = []
    if not euler_ok:
        hints.append("Euler is a first-order method: error ∝ h, and h = T/N shrinks 4×")
    if not rk4_ok:
        hints.append("RK4 is fourth order: error ∝ h⁴, so a 4× smaller h gives 4⁴ smaller error" if rk4 < 128 else
                     "RK4 is fourth order, not higher: 4⁴ = 256")
    return verdict(False, "", "; ".join(hints) + f" ({seen}).")


def solution_error_factors() -> dict[str, float]:
    """Error ∝ (T/N)^order: 4× the blocks → 4¹ = 4 (Euler), 4⁴ = 256 (RK4)."""
    return {"euler": 4.0, "rk4": 256.0}


# --- exercise 2: write a midpoint (RK2) residual block; the checker measures its order ---

class _Counting:
    """Wraps f and counts how often it is called."""

    def __init__(self, f: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.f, self.calls = f, 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.f(x)


def check_midpoint_step(answer: object) -> bool:
    """Exercise 2: ``answer`` is your function ``step(f, x, h)`` returning x_{t+1} by the midpoint rule (RK2).
    The checker runs the N-step stack with it and *measures* its order of accuracy (it should be ≈ 2)."""
    from ..lessons.lesson05_ode_view import convergence, midpoint_step, vector_field

    if missing(answer, "write def my_midpoint_step(f, x, h): ... and set answer = my_midpoint_step."):
        return False
    if not callable(answer):
        return verdict(False, "", "Pass your function itself (answer = my_midpoint_step, no parentheses): a "
                       f"function step(f, x, h) that returns the next state; got {brief(answer)} "
                       f"({type(answer).__name__}).")
    f = vector_field()
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    counting = _Counting(f)
    try:
        with torch.no_grad():
            out = answer(counting, x, 0.1)
    except Exception as err:  # a learner's code may raise anything; report it instead of crashing the notebook
        return verdict(False, "", f"Your step raised {type(err).__name__}: {err}. It must take (f, x, h) and "
                       "return the next state.")
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        return verdict(False, "", f"Your step must return a tensor shaped like x {tuple(x.shape)}; got "
                       f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}.")
    try:
        order = convergence(f, methods={"yours": answer}).orders["yours"]
    except Exception as err:  # e.g. code that only works for one batch size
        return verdict(False, "", f"Running the N-step stack with your block raised {type(err).__name__}: {err}.")
    if not math.isfinite(order) or order < 0.5:
        return verdict(False, "", "Your block does not converge to the ODE solution as N grows (measured order "
                       f"{order:.2f}). It must be a step of size h of dx/dt = f(x): x + h·(a slope).")
    if abs(order - 1) < 0.4:
        return verdict(False, "", f"Measured order {order:.2f}: that is Euler's accuracy. The midpoint rule first "
                       "takes half a step, x_half = x + (h/2)·f(x), and then the full step with the slope there: "
                       "x + h·f(x_half).")
    if order > 2.6:
        return verdict(False, "", f"Measured order {order:.2f}: more accurate than the midpoint rule (RK4?). The "
                       "exercise asks for the two-evaluation rule x + h·f(x + (h/2)·f(x)).")
    if abs(order - 2) > 0.4:
        return verdict(False, "", f"Measured order {order:.2f}, expected ≈ 2. Check the half step: "
                       "x + h·f(x + (h/2)·f(x)).")
    same = torch.allclose(out, midpoint_step(f, x, 0.1), rtol=0, atol=1e-12)
    detail = "it is exactly the midpoint rule" if same else "second order, but not the midpoint rule (Heun's?)"
    return verdict(True, f"Measured order {order:.2f} ≈ 2 with {counting.calls} evaluations of f per block: "
                   f"{detail}. Halving h divides its error by 4.", "")


def solution_midpoint_step() -> Callable[..., torch.Tensor]:
    """The midpoint rule: a half Euler step to look ahead, then a full step with the slope found there."""

    def midpoint(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, h: float) -> torch.Tensor:
        x_half = x + 0.5 * h * f(x)
        return x + h * f(x_half)

    return midpoint


# --- exercise 3: the same budget of f-evaluations, which block wins? ---

def _budget_errors() -> dict[str, float]:
    """Error at T of Euler / midpoint / RK4 stacks that all evaluate f ``BUDGET`` times."""
    from ..lessons.lesson05_ode_view import EVALUATIONS, reference_solution, solve, vector_field

    f = vector_field()
    x0 = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = reference_solution(f, x0)
    return {m: float((solve(f, x0, 1.0, BUDGET // k, m) - exact).norm(dim=-1).max()) for m, k in EVALUATIONS.items()}


def check_equal_budget(answer: object) -> bool:
    """Exercise 3: with 48 evaluations of f — 48 Euler blocks, 24 midpoint blocks or 12 RK4 blocks — which stack
    lands closest to the ODE solution? Answer "euler", "midpoint" or "rk4"."""
    if missing(answer, 'answer "euler", "midpoint" or "rk4".'):
        return False
    if not isinstance(answer, str) or answer.lower() not in ("euler", "midpoint", "rk4"):
        return verdict(False, "", f'Answer one of "euler", "midpoint", "rk4"; got {brief(answer)}.')
    errors = _budget_errors()
    best = min(errors, key=errors.get)
    table = ", ".join(f"{m} ({BUDGET // k} blocks) {errors[m]:.1e}" for m, k in (("euler", 1), ("midpoint", 2),
                                                                                   ("rk4", 4)))
    return verdict(
        answer.lower() == best,
        f"Right: {best}. Errors at the same cost: {table}. Fewer but smarter blocks win: the order beats the "
        "number of steps.",
        f"Measured errors at the same cost: {table}. A higher order pays for its extra evaluations many times "
        "over when f is smooth.",
    )


def solution_equal_budget() -> str:
    """RK4: 12 blocks of order 4 beat 48 blocks of order 1 by orders of magnitude (on a smooth f)."""
    return min((errors := _budget_errors()), key=errors.get)


def check_one_step_prediction(prediction: object, result: object) -> bool:
    """Before training: the net is trained with N = 8…32 blocks. Run with a single block (N = 1, h = 1), will it
    still classify at least 90 % of the test points — ``"yes"`` or ``"no"``? Checked against ``result``."""
    try:
        acc = result.accuracy(1)  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        print("❌ Pass the result of edu.lessons.lesson05_ode_view.train_ode_net(...) as the second argument.")
        return False
    side = "yes" if acc >= 0.9 else "no"
    why = ("One block is one straight jump x₁ = x₀ + 1·f(x₀): the learned field f only moves points correctly in "
           "small steps along its curved flow, so one big step lands elsewhere (a flow with nearly straight paths, "
           "which some seeds learn, survives it)." if side == "no" else
           "One block is one straight jump x₁ = x₀ + 1·f(x₀), and this run learned a flow whose paths are nearly "
           "straight: one straight step lands near the flow's end point (result.one_step_miss(32) measures how near). "
           "Most seeds learn curved paths, and then one big step lands elsewhere.")
    return predicted(prediction, side, ("yes", "no"),
                     f"with N = 1 the trained net classifies {acc:.1%} of the test points", why)
