"""Exercise checkers for lesson 00."""

from __future__ import annotations

__all__: list[str] = []
