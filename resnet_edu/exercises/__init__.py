"""Exercise checkers, one module per lesson: ``edu.exercises.check_…(answer)`` prints why an answer is right or
wrong and returns a bool. Solutions live in the same lesson modules (``solution_…`` functions), so the notebooks stay
free of spoilers.

Every ``exercises/lessonNN.py`` is found and re-exported here automatically (its ``__all__``, plus any
``check_…``/``solution_…`` it defines), so ``edu.exercises.check_…`` and ``from resnet_edu.exercises import *`` reach
every checker of every lesson, including lessons added later, without editing this file.
"""

import importlib
import pkgutil
import re

from ._core import brief, missing, not_yet, number, numbers, predicted, verdict

__all__ = ["brief", "missing", "not_yet", "number", "numbers", "predicted", "verdict"]
LESSONS: list[str] = []  # the lesson modules found, e.g. ["lesson00", "lesson01", ...]


def _export_lessons() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not re.fullmatch(r"lesson\d\d[a-z]?", info.name):
            continue
        module = importlib.import_module(f".{info.name}", __name__)
        own = [n for n, v in vars(module).items()
               if n.startswith(("check_", "solution_")) and getattr(v, "__module__", None) == module.__name__]
        for name in dict.fromkeys([*getattr(module, "__all__", []), *own]):
            globals()[name] = getattr(module, name)
            if name not in __all__:
                __all__.append(name)
        LESSONS.append(info.name)


_export_lessons()
