"""Shared helpers for exercise checkers: every checker prints a verdict that explains, and returns a bool.

A checker never raises for a wrong or missing answer (a learner's notebook must still run top to bottom); it
raises ``TypeError`` only when the answer has a type that cannot be judged at all.
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
