"""Exercise checkers for lesson 01 (the degradation problem, He et al. 2015, §1, §3.1 and §4.2)."""

from __future__ import annotations

import math

from ._core import brief, missing, number, predicted, verdict

__all__ = [
    "check_degradation_prediction",
    "DIAGNOSIS_SCENARIOS",
    "check_diagnosis",
    "check_chance_loss",
    "check_identity_layers",
    "solution_diagnosis",
    "solution_chance_loss",
    "solution_identity_layers",
]

# Two made-up experiments (error rates in %): a 20-layer and a 56-layer net trained on the same data.
DIAGNOSIS_SCENARIOS = {
    "A": {"20 layers": {"train": 5.0, "test": 9.0}, "56 layers": {"train": 0.5, "test": 14.0}},
    "B": {"20 layers": {"train": 5.0, "test": 9.0}, "56 layers": {"train": 10.0, "test": 13.0}},
}
_DIAGNOSES = ("overfitting", "degradation")


def solution_diagnosis() -> dict[str, str]:
    """A is overfitting (deeper: lower training error, higher test error); B is degradation (both rise)."""
    return {"A": "overfitting", "B": "degradation"}


def check_diagnosis(answer: object) -> bool:
    """Exercise 1: label scenarios A and B of ``DIAGNOSIS_SCENARIOS`` as "overfitting" or "degradation"."""
    if missing(answer, 'answer = {"A": "...", "B": "..."} with "overfitting" or "degradation" for each scenario.'):
        return False
    if not isinstance(answer, dict) or set(answer) != {"A", "B"}:
        return verdict(False, "", 'Give a dict with keys "A" and "B", e.g. {"A": "overfitting", "B": "degradation"}.')
    given = {k: v.strip().lower() if isinstance(v, str) else brief(v) for k, v in answer.items()}
    unknown = [v for v in given.values() if v not in _DIAGNOSES]
    if unknown:
        return verdict(False, "", f'Each value must be "overfitting" or "degradation"; got {unknown}.')
    right = solution_diagnosis()
    wrong = [k for k in ("A", "B") if given[k] != right[k]]
    why = {
        "A": "In A the 56-layer net fits the training set *better* (0.5 % vs 5 %) but does worse on the test set: "
             "that is overfitting — the optimiser succeeded, the model memorised.",
        "B": "In B the 56-layer net is worse on the *training* set itself (10 % vs 5 %): it cannot even fit the data "
             "it sees. A deeper net could copy the shallow one and make the extra layers identities, so this is an "
             "optimisation failure — degradation (He et al. 2015, §1).",
    }
    return verdict(
        not wrong,
        "Right. Overfitting: training error falls, test error rises. Degradation: the training error itself rises.",
        " ".join(why[k] for k in wrong),
    )


def solution_chance_loss() -> float:
    """A net that gives every one of 10 classes probability 1/10 has cross-entropy −ln(1/10) = ln 10 ≈ 2.303."""
    return math.log(10)


def check_chance_loss(answer: object) -> bool:
    """Exercise 2: the cross-entropy loss of a 10-class classifier that has learned nothing (uniform output)."""
    if missing(answer, "compute the loss −ln p of the right class when every class gets p = 1/10 (use math.log)."):
        return False
    value = number(answer, "the loss as a number", "math.log(2)")
    if value is None:
        return False
    right = solution_chance_loss()
    if math.isclose(value, right, abs_tol=1e-3):
        return verdict(True, f"Right: ln 10 = {right:.4f}. A plain-56 whose training loss stays near 2.3 has "
                             "learned almost nothing — its training error is close to 90 %.", "")
    hints = [
        (0.1, "0.1 is the probability the net gives the right class; the loss is −ln of that probability."),
        (1.0, "That is log base 10. Cross-entropy in PyTorch uses the natural logarithm: math.log(10)."),
        (0.9, "0.9 is the chance-level *error rate*; the question asks for the cross-entropy *loss* −ln p."),
        (-right, "Mind the sign: the loss is −ln p, a positive number."),
    ]
    for target, hint in hints:
        if math.isclose(value, target, abs_tol=1e-3):
            return verdict(False, "", hint)
    return verdict(False, "", f"{value:g} is not it. Cross-entropy is −ln p(right class); with p = 1/10 for every "
                              "class, that is −ln(1/10).")


_FAMILIES = ("plain", "residual", "both", "neither")


def solution_identity_layers() -> str:
    """Only the residual block: with F = 0 it outputs relu(0 + x) = x; a plain block outputs relu(0) = 0."""
    return "residual"


def check_identity_layers(answer: object) -> bool:
    """Exercise 3: which blocks pass their input through unchanged when all the weights of the block are zero?"""
    if missing(answer, 'answer = "plain", "residual", "both" or "neither".'):
        return False
    given = answer.strip().lower() if isinstance(answer, str) else brief(answer)
    if given not in _FAMILIES:
        return verdict(False, "", f'Answer one of {", ".join(map(repr, _FAMILIES))}; got {brief(answer)}.')
    return verdict(
        given == "residual",
        "Right. With every weight at zero the residual branch gives F(x) = 0, so the block outputs "
        "relu(F(x) + x) = relu(x) = x (its input already passed a ReLU, so it is ≥ 0): an exact identity mapping "
        "(恒等映射). The extra 36 layers of a ResNet-56 can therefore 'switch off' and leave a ResNet-20, which is "
        "why depth cannot make its training error much worse (He et al. 2015, §3.1).",
        "Look at what each block computes with all weights zero. Plain: relu(BN(conv(relu(BN(conv(x)))))) — "
        "the convolutions output 0, BN maps 0 to its bias β = 0, so the block outputs 0 and the signal is lost. "
        "Residual: relu(F(x) + x) with F(x) = 0 — the shortcut still carries x. Only one family keeps its input.",
    )


def check_degradation_prediction(prediction: object, result: object) -> bool:
    """Before training: will plain-56 end with a ``"higher"`` or ``"lower"`` training error than plain-20?
    Checked against ``result`` (a :class:`~resnet_edu.lessons.lesson01_degradation.DegradationResult`; training error
    measured on
    the whole training set in eval mode)."""
    try:
        depths = result.depths  # type: ignore[attr-defined]
        shallow, deep = (20 if 20 in depths else min(depths)), max(depths)
        e_shallow, e_deep = result.train_error("plain", shallow), result.train_error("plain", deep)  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        print("❌ Pass the result of edu.lessons.lesson01_degradation.run(...) as the second argument.")
        return False
    side = "higher" if e_deep > e_shallow else "lower"
    return predicted(
        prediction, side, ("higher", "lower"),
        f"plain-{deep} training error {e_deep:.1%}, plain-{shallow} {e_shallow:.1%}",
        "More layers can only help on the training set if they find the identity; plain layers do not (§1).",
    )
