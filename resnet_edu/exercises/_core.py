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
    return ok


def missing(answer: object, hint: str) -> bool:
    """True (after printing ``hint``) when the learner has not answered yet (``answer is None`` or ``...``)."""
    if answer is None or answer is Ellipsis:
        print("✏️  No answer yet: " + hint)
        return True
    return False
