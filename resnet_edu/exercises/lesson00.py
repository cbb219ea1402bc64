"""Exercise checkers for lesson 00: one prediction about the first gradient profile."""

from __future__ import annotations

from collections.abc import Sequence

from ._core import predicted

__all__ = ["check_profile_prediction"]


def check_profile_prediction(prediction: object, profiles: Sequence[object]) -> bool:
    """Before the plot: where is plain-20's gradient largest at init, near the ``"input"`` or the ``"output"``?
    Checked against the measured profile (the one whose label starts with "plain"): its first conv vs its last."""
    try:
        plain = next(p for p in profiles if str(getattr(p, "label", "")).lower().startswith("plain"))
        first, last = plain.norms[0], plain.norms[-2]  # first conv, last conv (norms[-1] is the classifier)
    except (StopIteration, AttributeError, IndexError, TypeError):
        print("❌ Pass the list of profiles measured above (one labelled 'plain-…').")
        return False
    side = "input" if first > last else "output"
    return predicted(
        prediction, side, ("input", "output"),
        f"plain-20's first conv gets ‖∂L/∂W‖ = {first:.3g}, its last conv {last:.3g}",
        "With BatchNorm the backward pass of a plain net grows layer by layer toward the input (lesson 03b follows "
        "it to depth 110); the textbook 'vanishing gradient' would put the small end at the input.",
    )
