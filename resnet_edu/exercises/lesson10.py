"""Exercise checkers for lesson 10 (shattered gradients, Balduzzi et al. 2017; loss landscapes, Li et al. 2018).

The truths are computed on the spot (noise drawn here, the reference autocorrelation) or read from the learner's own
landscape, never typed in.
"""

from __future__ import annotations

import math

import torch

from ._core import _why_not_a_number, brief, missing, numbers, predicted, verdict

__all__ = [
    "check_noise_autocorrelation",
    "check_autocorrelation",
    "check_landscape_prediction",
    "check_shattered_prediction",
    "solution_noise_autocorrelation",
    "solution_autocorrelation",
]


# --- prediction before the shattered-gradients experiment: white and brown noise ---

def _noise(seed: int = 0, points: int = 10_000) -> tuple[float, float]:
    from ..lessons.lesson10_shattered_landscape import autocorrelation

    generator = torch.Generator().manual_seed(seed)
    white = torch.randn(points, dtype=torch.float64, generator=generator)
    return autocorrelation(white), autocorrelation(white.cumsum(0))


def solution_noise_autocorrelation() -> tuple[float, float]:
    """White noise: neighbours are independent, 0. Brown noise (a running sum): neighbours differ by one small
    step, ≈ 1."""
    return 0.0, 1.0


def check_noise_autocorrelation(answer: object) -> bool:
    """Predict the lag-1 autocorrelation of (white noise, brown noise), the two ends of Balduzzi et al.'s scale for
    gradients (Fig. 1–2). The checker measures both on 10,000 samples."""
    if missing(answer, "answer = (white, brown): two numbers between -1 and 1."):
        return False
    pair = numbers(answer, 2, "numbers, (white, brown)", "(0.5, 0.5)")  # "12" is not the pair (1, 2)
    if pair is None:
        return False
    white, brown = pair
    m_white, m_brown = _noise()
    seen = f"Measured just now on 10,000 samples: white {m_white:.3f}, brown {m_brown:.4f}."
    ok_white, ok_brown = abs(white - m_white) < 0.1, abs(brown - m_brown) < 0.1
    if ok_white and ok_brown:
        return verdict(True, f"Right. {seen} A shallow net's gradient along a line looks like brown noise; a deep "
                             "plain net's like white noise: neighbouring inputs get unrelated gradients, so a "
                             "gradient step learned at one input says nothing about the next (Balduzzi et al. 2017).",
                       "")
    hints = []
    if not ok_white:
        hints.append("white noise: each value is drawn independently, so a value says nothing about its neighbour")
    if not ok_brown:
        hints.append("brown noise: each value is the previous one plus a small step, so neighbours almost agree")
    return verdict(False, "", f"Not yet: {'; '.join(hints)}. {seen}")


# --- prediction before the study: does a 50-block ResNet's gradient look like white or brown noise? ---

def check_shattered_prediction(prediction: object, study: object) -> bool:
    """Recorded before the shattered-gradients study: does the deepest ResNet's gradient along the line look like
    "white" or "brown" noise? Judged on ``study`` (the learner's
    :class:`resnet_edu.lessons.lesson10_shattered_landscape.ShatteredResult`):
    "brown" when its lag-1 autocorrelation is nearer the brown-noise end (1) than the white (0)."""
    try:
        deepest = max(study.depths)  # type: ignore[union-attr]
        value = study.autocorr["residual", deepest]  # type: ignore[union-attr]
        plain = study.autocorr["plain", deepest]  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - not a study: say what to pass
        return verdict(False, "", "Pass the study as the second argument: check_shattered_prediction(prediction, "
                                  "shattered), shattered = "
                                  "edu.lessons.lesson10_shattered_landscape.shattered_study(...).")
    measured = "brown" if value > 0.5 else "white"
    return predicted(
        prediction, measured, ("white", "brown"),
        f"the {deepest}-block ResNet's gradient has lag-1 autocorrelation {value:.2f} in your run (the plain "
        f"net's at the same depth: {plain:.2f})",
        "Each residual block adds a small change to a signal that the shortcut carries through, so neighbouring "
        "inputs keep neighbouring gradients (Balduzzi et al. 2017, §4).")


# --- exercise: write the lag-1 autocorrelation yourself ---

def solution_autocorrelation(g: torch.Tensor) -> float:
    """Lag-1 autocorrelation: remove the mean, then Σ g[i]·g[i+1] / Σ g[i]² (Balduzzi et al. 2017, Fig. 2)."""
    g = torch.as_tensor(g, dtype=torch.float64).flatten()
    g = g - g.mean()
    return float((g[1:] * g[:-1]).sum() / (g * g).sum())


def _series() -> dict[str, torch.Tensor]:
    """The curves the checker feeds: white and brown noise, brown noise far from 0, an alternating sequence."""
    generator = torch.Generator().manual_seed(0)
    white = torch.randn(256, dtype=torch.float64, generator=generator)
    brown = torch.randn(256, dtype=torch.float64, generator=generator).cumsum(0)
    return {"white noise": white, "brown noise": brown, "brown noise + 50": brown + 50.0,
            "alternating ±1": torch.tensor([(-1.0) ** i for i in range(256)], dtype=torch.float64),
            "white noise × 1000": 1000 * white}


def _mistake(fn, series: dict[str, torch.Tensor], values: dict[str, float]) -> str:  # noqa: ANN001
    """Name the mistake that explains the learner's values, from what each test curve reveals."""
    right = {name: solution_autocorrelation(g) for name, g in series.items()}
    white, scaled = values["white noise"], values["white noise × 1000"]
    if all(math.isclose(v, 1.0, abs_tol=1e-6) for v in values.values()):
        return "you get 1 for every curve: that is the lag-0 autocorrelation; pair g[i] with g[i + 1], not g[i]."
    if not math.isclose(scaled, white, rel_tol=1e-3, abs_tol=1e-9):
        return ("multiplying a curve by 1000 changed your value, so it is a covariance, not a correlation: divide by "
                "the sum of squares of the centred curve.")
    n_points = len(next(iter(series.values())))
    for factor in ((n_points - 1) / n_points, n_points / (n_points - 1)):
        if all(math.isclose(values[n], right[n] * factor, rel_tol=1e-3, abs_tol=1e-6) for n in series):
            return ("close, but every value is off by the factor n/(n − 1) or (n − 1)/n: a mean over n − 1 products "
                    "against a mean over n squares. Use sums on both sides, Σ g[i]·g[i+1] / Σ g[i]².")
    if values["brown noise + 50"] > right["brown noise + 50"] + 1e-3:
        return ("shifting the curve by +50 pushed your value toward 1: subtract the mean first (g − g.mean()), or any "
                "offset looks like correlation.")
    if math.isclose(values["alternating ±1"], -right["alternating ±1"], abs_tol=0.02):
        return "the sign is lost (abs or a square?): an alternating +1, −1 curve has autocorrelation ≈ −1."
    shown = "; ".join(f"{n}: yours {values[n]:.3f}, expected {right[n]:.3f}" for n in series)
    return f"the values differ ({shown})."


def check_autocorrelation(answer: object) -> bool:
    """Exercise: ``answer`` is your function ``lag1(g)`` that returns the lag-1 autocorrelation of a 1-D tensor ``g``
    as a number. The checker runs it on white noise, brown noise, brown noise shifted by 50, white noise × 1000 and
    an alternating sequence, and compares with the definition (mean removed, normalised by the sum of squares)."""
    if missing(answer, "write lag1(g) in the cell above and pass it: check_autocorrelation(lag1)."):
        return False
    if not callable(answer) or isinstance(answer, type):
        return verdict(False, "", f"Pass your function itself, e.g. check_autocorrelation(lag1); got "
                                  f"{type(answer).__name__} {brief(answer)}.")
    series, values = _series(), {}
    for name, g in series.items():
        try:
            value = answer(g.clone())
        except NotImplementedError:
            print("✏️  not finished yet: your function raises NotImplementedError.")
            return False
        except Exception as err:  # noqa: BLE001 - the learner's code: explain, never crash
            return verdict(False, "", f"lag1 raised {type(err).__name__} on {name}: {err}")
        number, why = _why_not_a_number(value, "one finite number", "0.42")
        if number is None:  # a bool, a string, a list, NaN, inf, 10**400: each with its sentence
            return verdict(False, "", f"lag1 should return one finite number; on {name}: {why}")
        values[name] = number
    right = {name: solution_autocorrelation(g) for name, g in series.items()}
    pearson = {name: float(torch.corrcoef(torch.stack([g[1:], g[:-1]]))[0, 1]) for name, g in series.items()}
    if all(math.isclose(values[n], pearson[n], abs_tol=1e-3) for n in series) and not all(
            math.isclose(values[n], right[n], abs_tol=1e-3) for n in series):
        return verdict(True, "Right, in its Pearson form: you correlate the pairs (g[i], g[i+1]) with each half "
                             "centred on its own mean. The lesson's definition centres the whole curve once; the two "
                             f"agree on long, steady curves (white noise: {values['white noise']:.3f} vs "
                             f"{right['white noise']:.3f}) and differ a little on a short random walk (brown noise: "
                             f"{values['brown noise']:.3f} vs {right['brown noise']:.3f}).", "")
    if all(math.isclose(values[n], right[n], abs_tol=1e-3) for n in series):
        return verdict(True, f"Right: white noise {values['white noise']:.3f}, brown noise "
                             f"{values['brown noise']:.3f}, the same brown noise shifted by 50 still "
                             f"{values['brown noise + 50']:.3f}, alternating {values['alternating ±1']:.3f}."
                             " edu.lessons.lesson10_shattered_landscape.autocorrelation computes the same number "
                             "for the gradient curves.", "")
    return verdict(False, "", _mistake(answer, series, values))


# --- prediction before the loss landscape: at α = ±1, whose training loss rises more? ---

def check_landscape_prediction(prediction: object, land: object, names: object = None) -> bool:
    """Recorded before the landscape: at the slices' largest filter-normalised distance (α = ±1 in lesson 10), whose
    training loss *rises* more — loss at ±α minus loss at the trained weights — the "plain" net's or the
    "residual" net's? Judged on ``land`` (the learner's
    :class:`resnet_edu.lessons.lesson10_shattered_landscape.Landscape`); ``names`` = (plain, residual) net names."""
    try:
        plain, res = names if names is not None else sorted(land.slices)  # type: ignore[union-attr]
        distance = land.span  # type: ignore[union-attr]
        rise = {"plain": land.rise(plain, distance), "residual": land.rise(res, distance)}  # type: ignore
    except Exception:  # noqa: BLE001 - anything else is not a landscape: say what to pass
        return verdict(False, "", "Pass the landscape and the pair: check_landscape_prediction(prediction, land, "
                                  "pair), land = edu.lessons.lesson10_shattered_landscape.landscape(...).")
    measured = max(rise, key=rise.get)
    return predicted(
        prediction, measured, ("plain", "residual"),
        f"at α = ±{distance:g} the loss rises by {rise['plain']:.3g} for {plain} and {rise['residual']:.3g} for {res}",
        "On filter-normalised axes a step α means the same in both nets (each filter moved by α times its own "
        "norm), so the rise compares how sharp the two neighbourhoods are. Dividing by the loss at θ would not: a "
        "loss near 0 makes any rise a large factor.")


