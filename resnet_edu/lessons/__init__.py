"""One module per notebook, named like it: ``notebooks/01_degradation.ipynb`` ↔ ``lessons/lesson01_degradation.py``.

A lesson module holds that lesson's experiments with its own figures, apps and study nets, and uses the core
(``resnet_edu.data``, ``nets``, ``zoo``, ``train``, ``gradients``, ``viz``, ``widgets``, …). The rule is the folder:
nothing outside ``resnet_edu/lessons/`` imports from it (the exercise checkers of lesson NN excepted: they call lesson
NN's module), and a lesson never imports another lesson (``tests/test_hygiene.py`` parses every import to check it).
A lesson's checkers live in ``resnet_edu/exercises/lessonNN.py`` (one rule for every lesson), which imports only lesson
NN's module and core; notebook NN calls only lesson NN's module, its checkers and core. A long lesson is a package
(``lesson03_gradient_path/``, ``lesson04_identity_vs_lambda/``, ``lesson05_ode_view/``): its ``__init__`` holds the
experiments, its ``figures.py`` (or a module per part) the rest.
"""

from importlib import import_module
from pkgutil import iter_modules
from typing import Any

# Every lesson module in this folder, in the card's order (their names sort that way).
NAMES: tuple[str, ...] = tuple(sorted(info.name for info in iter_modules(__path__) if info.name.startswith("lesson")))


def __getattr__(name: str) -> Any:
    """Import a lesson's module on first use (``edu.lessons.lesson01_degradation``), so importing the package is
    fast."""
    if name in NAMES:
        module = import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'resnet_edu.lessons' has no attribute {name!r}")


__all__ = ["NAMES", *NAMES]
