"""resnet-edu: residual networks explained by running them.

``import resnet_edu as edu`` gives one module per concept: ``edu.runtime`` (device, seeds, scale), ``edu.nets``
(plain and residual networks), ``edu.data``, ``edu.train``, ``edu.gradients``, ``edu.viz`` (figures), ``edu.diagrams``
(Graphviz), ``edu.widgets`` and ``edu.exercises``; each lesson's own module is imported the same way (see the README's
lesson map).
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

REPO_URL = "https://github.com/resnet-edu/resnet-edu"

_MODULES = (
    "runtime", "nets", "data", "train", "gradients", "viz", "diagrams", "widgets", "static", "exercises",
    "degradation", "identity", "shortcuts", "ode", "blocks", "variants", "ensembles", "shattered",
    "landscape", "dynamics",
)


def __getattr__(name: str) -> Any:
    """Import submodules on first use, so ``import resnet_edu`` stays fast."""
    if name in _MODULES:
        module = import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'resnet_edu' has no attribute {name!r}")


__all__ = [*_MODULES, "REPO_URL", "__version__"]
