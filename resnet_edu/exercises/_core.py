"""Shared helpers for exercise checkers: every checker prints a verdict that explains, and returns a bool.

A checker never raises, whatever the answer (a learner's notebook must still run top to bottom): a missing answer
prints a hint (:func:`missing`), and a wrong answer — including one of a type that cannot be judged at all, such as
a bool where a number is asked for — returns ``verdict(False, "", ...)`` with a message that says what is expected
(which type, which form).
"""

from __future__ import annotations


def verdict(ok: bool, right: str, wrong: str) -> bool:
    """Print ✅ + ``right`` or ❌ + ``wrong`` and return ``ok``."""
    print(("✅ " + right) if ok else ("❌ " + wrong))
    return bool(ok)


def missing(answer: object, hint: str) -> bool:
    """True (after printing ``hint``) when the learner has not answered yet (``answer is None`` or ``...``)."""
    if answer is None or answer is Ellipsis:
        print("✏️  No answer yet: " + hint)
        return True
    return False


def not_yet(hint: str) -> bool:
    """Print the "no answer yet" line for an answer cell the learner has not touched (a template left as it is)."""
    print("✏️  No answer yet: " + hint)
    return False


def predicted(prediction: object, measured: str, choices: tuple[str, ...], what: str, why: str) -> bool:
    """Compare a prediction recorded *before* an experiment with what the experiment measured.

    ``measured`` is one of ``choices``, computed from the experiment's result by the caller (never typed in);
    ``what`` says what was measured (with the number), ``why`` explains it. An untouched prediction
    (``None``/``...``) prints the measurement without a verdict.
    """
    if prediction is None or prediction is Ellipsis:
        print(f"✏️  No prediction recorded. Measured: {what} → {measured!r}. {why}")
        return False
    given = prediction.strip().lower() if isinstance(prediction, str) else None
    if given not in choices:
        return verdict(False, "", f"A prediction is one of {', '.join(map(repr, choices))}; got {prediction!r}. "
                       f"Measured: {what} → {measured!r}.")
    return verdict(given == measured, f"You predicted {given!r}, and so it is: {what}. {why}",
                   f"You predicted {given!r}; the run says {measured!r}: {what}. {why}")
