"""Exercise checkers, one module per lesson: ``edu.exercises.check_…(answer)`` prints why an answer is right or
wrong and returns a bool. Solutions live in :mod:`resnet_edu.exercises.solutions`-style functions inside each
lesson module (``solution_…``), so the notebooks stay free of spoilers."""

from ._core import missing, predicted, verdict
from .lesson00 import *  # noqa: F403
from .lesson01 import *  # noqa: F403
from .lesson02 import *  # noqa: F403
from .lesson03 import *  # noqa: F403
from .lesson04 import *  # noqa: F403
from .lesson05 import *  # noqa: F403
from .lesson06 import *  # noqa: F403
from .lesson07 import *  # noqa: F403
from .lesson08 import *  # noqa: F403
from .lesson09 import *  # noqa: F403

__all__ = ["missing", "predicted", "verdict"]
