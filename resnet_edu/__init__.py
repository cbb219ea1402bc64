"""resnet-edu: residual networks explained by running them.

``import resnet_edu as edu`` gives one module per concept. The core (:data:`CORE`): ``edu.runtime`` (device, seeds,
scale), ``edu.data``, ``edu.nets`` (plain and residual networks), ``edu.recipes`` (how the lessons' CIFAR-style nets
are built and trained), ``edu.zoo`` (the block catalogue), ``edu.train``, ``edu.gradients``, ``edu.viz`` (figures),
``edu.diagrams`` (Graphviz), ``edu.widgets``. Each lesson's own module (:data:`LESSONS`, with ``edu.exercises``) is
imported the same way (see the README's lesson map) and may use the core, never the other way round.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

REPO_URL = "https://github.com/resnet-edu/resnet-edu"

# The toolkit every lesson uses. A core module never imports a lesson module (tests/test_hygiene.py parses every
# import to check it); when two lessons need the same thing, it moves down into core.
CORE = ("_checks", "runtime", "data", "nets", "recipes", "work", "zoo", "train", "gradients", "viz", "diagrams",
        "widgets", "static")
# One lesson's experiments each (the README's lesson map), and the exercise checkers; they may import core.
# One module per notebook lives in ``resnet_edu/lessons/`` (``edu.lessons.lesson01_degradation``, …), with the
# exercise checkers in ``edu.exercises``; they may import core, never the other way round.
LESSONS = ("lessons", "exercises")
_MODULES = tuple(name for name in CORE + LESSONS if not name.startswith("_"))


def __getattr__(name: str) -> Any:
    """Import submodules on first use, so ``import resnet_edu`` stays fast."""
    if name in _MODULES:
        module = import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'resnet_edu' has no attribute {name!r}")


__all__ = [*_MODULES, "CORE", "LESSONS", "REPO_URL", "__version__"]
