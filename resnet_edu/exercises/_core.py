"""Shared helpers for exercise checkers: every checker prints a verdict that explains, and returns a bool.

A checker never raises, whatever the answer (a learner's notebook must still run top to bottom): a missing answer
prints a hint (:func:`missing`), and a wrong answer — including one of a type that cannot be judged at all, such as
a bool where a number is asked for — returns ``verdict(False, "", ...)`` with a message that says what is expected
(which type, which form). :func:`number` and :func:`numbers` read numeric answers safely: huge integers, NaN, inf,
bools, strings, lists and dicts each get a sentence instead of an exception or a silent misreading (``"12"`` is not
the pair (1, 2)).
"""

from __future__ import annotations

import math
import numbers as _numbers
from collections.abc import Callable, Sequence
from typing import Any


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


Mistake = tuple["float | Callable[[float], bool]", str]


def check_number(answer: object, right: float, mistakes: Sequence[Mistake] = (), *, hint: str, right_text: str,
                 wrong_text: str, what: str = "a number", example: str = "2", whole: bool = False,
                 low: float | None = None, high: float | None = None, rel_tol: float = 0.0) -> bool:
    """The one table-driven checker for a number answer (lessons 04, 06, 07 and every later number exercise).

    In order: no answer yet (``hint``); not a readable finite number (:func:`number`'s sentence); outside
    ``[low, high]`` or, with ``whole``, not an ``int`` (a sentence naming ``what``); equal to ``right`` within
    ``rel_tol`` (✅ ``right_text``); the first matching row of ``mistakes`` — ``(value, sentence)`` or
    ``(predicate, sentence)``, the sentence naming that mistake; otherwise ``wrong_text``. Sentences may use
    ``{answer}`` and ``{right}`` (whole numbers with thousands separators, others ``:g``;
    literal braces doubled). Returns whether the answer is right.
    """
    if missing(answer, hint):
        return False
    bounds = " " + " and ".join(([] if low is None else [f"≥ {low:g}"]) + ([] if high is None else [f"≤ {high:g}"]))
    if isinstance(answer, int) and not isinstance(answer, bool) and (
            (low is not None and answer < low) or (high is not None and answer > high)):
        return verdict(False, "", f"Expected {what}{bounds}; got {brief(answer)}.")
    value = number(answer, what, example)
    if value is None:  # number() has said why
        return False
    if whole and not (isinstance(answer, int) or (hasattr(answer, "item") and float(value).is_integer())):
        return verdict(False, "", f"Expected {what} (an int such as {example}); got {type(answer).__name__} "
                                  f"{brief(answer)}.")
    if (low is not None and value < low) or (high is not None and value > high):
        return verdict(False, "", f"Expected {what}{bounds}; got {brief(answer)}.")
    fields = {"answer": f"{int(value):,}" if value.is_integer() and abs(value) < 1e15 else f"{value:g}",
              "right": f"{int(right):,}" if float(right).is_integer() else f"{right:g}"}
    if math.isclose(value, right, rel_tol=rel_tol, abs_tol=0.0):
        return verdict(True, right_text.format(**fields), "")
    for test, sentence in mistakes:
        hit = test(value) if callable(test) else math.isclose(value, float(test), rel_tol=rel_tol, abs_tol=0.0)
        if hit:
            return verdict(False, "", sentence.format(**fields))
    return verdict(False, "", wrong_text.format(**fields))


def brief(value: object) -> str:
    """``repr(value)``, cut to 60 characters (never raises), for quoting an answer in a verdict."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__, or an int too long to print
        size = f" of about {int(value.bit_length() * math.log10(2)) + 1} digits" if isinstance(value, int) else ""
        text = f"<{type(value).__name__}{size}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _why_not_a_number(value: object, what: str, example: str) -> tuple[float | None, str]:
    """(the value as a finite float, "") or (None, why it cannot be read as one)."""
    if isinstance(value, bool):
        return None, f"Expected {what} such as {example}; got the bool {value} (True and False are not numbers here)."
    if isinstance(value, (str, bytes)):
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        try:
            float(text)
        except ValueError:
            return None, f"Expected {what} such as {example}; got the text {brief(value)}."
        return None, f"Write the number itself, without quotes: {text.strip()} rather than {brief(value)}."
    if not isinstance(value, _numbers.Real) and hasattr(value, "item"):
        try:
            value = value.item()  # a one-element tensor or NumPy array
        except Exception:  # noqa: BLE001 - several elements: judged below as a collection
            pass
    if isinstance(value, bool) or not isinstance(value, _numbers.Real):
        kind = type(value).__name__
        many = " (one number, not a collection)" if hasattr(value, "__len__") else ""
        return None, f"Expected {what} such as {example}{many}; got {kind} {brief(value)}."
    try:
        x = float(value)
    except OverflowError:
        digits = int(int(value).bit_length() * math.log10(2)) + 1
        return None, (f"Got an integer of about {digits} digits: too large for any float (the largest is about "
                      f"1.8e308). Expected {what} such as {example}.")
    if math.isnan(x):
        return None, ("Got NaN (not a number): a computation went wrong, e.g. 0/0, log of a negative number or "
                      f"inf − inf. Expected {what} such as {example}.")
    if math.isinf(x):
        return None, f"Got {x} (an infinite value, e.g. from log(0) or an overflow). Expected {what} such as {example}."
    return x, ""


def number(answer: object, what: str = "a number", example: str = "2.5") -> float | None:
    """``answer`` as a finite float, or None after printing (as a ❌ verdict) why it cannot be judged."""
    value, why = _why_not_a_number(answer, what, example)
    if value is None:
        verdict(False, "", why)
    return value


def numbers(answer: object, n: int, what: str = "numbers", example: str = "[0.5, 1.0]") -> list[float] | None:
    """``answer`` as exactly ``n`` finite floats (a list, tuple, array or tensor), or None after printing why not.

    A string is never split into characters and a single number is not a list of one."""
    items: Any
    if isinstance(answer, (str, bytes, dict, set, frozenset)) or isinstance(answer, (bool, _numbers.Number)):
        kind = "text" if isinstance(answer, (str, bytes)) else type(answer).__name__
        verdict(False, "", f"Expected {n} {what} in a list or tuple, e.g. {example}; got the {kind} {brief(answer)}.")
        return None
    try:
        if hasattr(answer, "detach"):
            items = answer.detach().flatten().tolist()  # a tensor
        elif hasattr(answer, "ravel"):
            items = answer.ravel().tolist()  # a NumPy array
        else:
            items = list(answer)  # type: ignore[call-overload]
    except Exception:  # noqa: BLE001 - whatever cannot be iterated is a wrong answer, not a crash
        verdict(False, "", f"Expected {n} {what} in a list or tuple, e.g. {example}; got {type(answer).__name__} "
                           f"{brief(answer)}.")
        return None
    if len(items) != n:
        verdict(False, "", f"Give exactly {n} {what}, e.g. {example}; got {len(items)}: {brief(answer)}.")
        return None
    values = []
    for i, item in enumerate(items):
        value, why = _why_not_a_number(item, "a number", "0.5")
        if value is None:
            verdict(False, "", f"Entry {i} of your answer: {why}")
            return None
        values.append(value)
    return values
