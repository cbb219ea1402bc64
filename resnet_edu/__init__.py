"""resnet-edu: residual networks explained by running them.

``import resnet_edu as edu`` gives one module per concept. The core: ``edu.runtime`` (device, seeds, scale),
``edu.data``, ``edu.nets`` (plain and residual networks), ``edu.recipes`` (how the lessons' CIFAR-style nets are built
and trained), ``edu.zoo`` (the block catalogue), ``edu.train``, ``edu.gradients``, ``edu.viz`` (figures),
``edu.diagrams`` (Graphviz), ``edu.widgets``, ``edu.static``. Each lesson's own module is ``edu.lessons.lessonNN_topic``
(see the README's lesson map), its checkers are in ``edu.exercises``.

The rule is the folder: everything outside ``lessons/`` and ``exercises/`` is core, and core never imports from
them; a lesson never imports another lesson (``tests/test_hygiene.py`` parses every import to check it).
"""

from importlib import import_module
from pkgutil import iter_modules
from typing import Any

__version__ = "0.1.0"

REPO_URL = "https://github.com/resnet-edu/resnet-edu"

# Every public submodule in this folder (core, lessons, exercises), imported on first use.
_MODULES = tuple(sorted(info.name for info in iter_modules(__path__) if not info.name.startswith("_")))


def __getattr__(name: str) -> Any:
    """Import submodules on first use, so ``import resnet_edu`` stays fast."""
    if name in _MODULES:
        module = import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'resnet_edu' has no attribute {name!r}")


__all__ = [*_MODULES, "REPO_URL", "__version__"]
