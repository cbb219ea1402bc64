"""Where and at which scale the lessons run (every lesson's set-up cell; lesson 00).

One switch decides the scale of every experiment: :func:`scale` returns ``"cpu"`` (small images, a few hundred
steps, still shows the effect), ``"gpu"`` (CIFAR-10 and paper depths, sized for Colab's T4: at most
:data:`resnet_edu.work.GPU_BUDGET` ResNet-56-equivalent training images per lesson) or ``"paper"`` (opt-in, for big
GPUs: the paper-length recipes and their accuracy targets). It defaults to ``"gpu"`` when CUDA is available and can
be overridden with the environment variable ``RESNET_EDU_SCALE=cpu|gpu|paper``.
"""

from __future__ import annotations

import math
import os
import platform
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import torch

from . import _checks

SCALES = ("cpu", "gpu", "paper")
_UNSET = object()
T = TypeVar("T")


def device() -> torch.device:
    """The best available device: CUDA, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


SEED_ENV = "RESNET_EDU_SEED"


def lesson_seed(default: int = 0) -> int:
    """The seed a lesson runs on: ``RESNET_EDU_SEED`` when it is set, else ``default`` (the one seed switch).

    ``RESNET_EDU_SEED=3 make test`` runs every notebook on seed 3; every random thing a lesson draws (weights, batch
    order, directions, lesion sets) derives from the ``seed`` its set-up cell returns.
    """
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return _checks.seed(default)
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{SEED_ENV} must be a whole number >= 0, e.g. {SEED_ENV}=3; got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{SEED_ENV} must be a whole number >= 0, e.g. {SEED_ENV}=3; got {raw!r}")
    return _checks.seed(value)


def seed_everything(seed: int | None = None) -> int:
    """Seed Python, NumPy and PyTorch so that two CPU runs give the same numbers.

    ``seed=None`` (every lesson's set-up cell) takes :func:`lesson_seed`: ``RESNET_EDU_SEED`` or 0. Returns the seed,
    so the set-up cell writes ``seed = edu.runtime.seed_everything()`` and the lesson passes ``seed`` on.
    """
    seed = lesson_seed() if seed is None else _checks.seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return seed


def scale() -> str:
    """``"cpu"``, ``"gpu"`` or ``"paper"``: the size every experiment takes (``RESNET_EDU_SCALE`` overrides the
    default, ``"gpu"`` on CUDA, else ``"cpu"``)."""
    chosen = os.environ.get("RESNET_EDU_SCALE", "").strip().lower()
    if chosen:
        if chosen not in SCALES:
            raise ValueError(f"RESNET_EDU_SCALE must be 'cpu', 'gpu' or 'paper'; got {chosen!r}")
        return chosen
    return "gpu" if torch.cuda.is_available() else "cpu"


def by_scale(cpu: T, gpu: T, paper: T = _UNSET) -> T:  # type: ignore[assignment]
    """Pick the value for the current :func:`scale`: ``steps = by_scale(cpu=300, gpu=2_000, paper=20_000)``; without
    ``paper`` the paper scale takes the ``gpu`` value."""
    chosen = scale()
    if chosen == "paper":
        return gpu if paper is _UNSET else paper
    return gpu if chosen == "gpu" else cpu


# What each GPU scale costs (benchmarks/work.py; minutes estimated from an assumed ResNet-56 rate, unmeasured).
SCALE_COSTS = ("scale gpu (the default on a GPU): at most 1.0 M ResNet-56-equivalent training images per lesson, about "
               "5 min on a T4 (estimated); RESNET_EDU_SCALE=paper: the paper-length recipes, up to ~4.2 M, about "
               "25 min on a T4 or 2-3 min on an H100 (estimated)")


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def gpu_advice() -> str:
    """One line about the GPU for the set-up cell: which GPU there is, or on Colab without one how to get one
    (the lessons then run their GPU scale); empty outside Colab without a GPU (the CPU scale is the default)."""
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return (f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, compute capability "
                f"{props.major}.{props.minor}\n{SCALE_COSTS}")
    if in_colab():
        return ("No GPU on this Colab runtime: the lessons run their small CPU scale. For the GPU scale choose "
                "Runtime → Change runtime type → a GPU (e.g. T4), save, and run the notebook again from the top.")
    return ""


def describe() -> None:
    """Print what the lesson runs on: Python, torch, device, scale, CPU threads, and :func:`gpu_advice`."""
    dev = device()
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else platform.processor() or platform.machine()
    print(f"python {platform.python_version()} · torch {torch.__version__} · device {dev} ({name})")
    print(f"scale {scale()} · torch threads {torch.get_num_threads()} · colab {in_colab()}")
    advice = gpu_advice()
    if advice:
        print(advice)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the ``with`` block on one CPU thread, then restore the previous count (lessons 01–05).

    The lessons' nets are small: a second OpenMP thread saves little on a quiet machine, and on a busy one (other
    programs on the same cores) the threads wait for each other and a 0.1 s step can take seconds.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the ``with`` block with torch's CPU generator seeded by ``seed``; the caller's random stream is restored
    afterwards, so building a lesson's net or checking an exercise never changes the learner's other numbers."""
    seed = _checks.seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


MARGIN_ENV = "RESNET_EDU_MARGINS"
MARGIN_PREFIX = "margin "


def margins_shown() -> bool:
    """Whether :func:`expect` prints its margin line: ``RESNET_EDU_MARGINS`` is 1/true/yes/on (``make seeds``)."""
    return _checks.env_flag(MARGIN_ENV, "print every check's margin, for tools/seeds.py", "a learner's quiet run")


def expect(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    log: bool = False,
    why: str = "",
) -> float:
    """A check cell's assert with a margin: ``low < value < high`` or an ``AssertionError`` saying ``why``.

    Returns the margin, how far ``value`` is from failing: the slack to the nearer bound divided by that bound's size
    (``(value - low) / |low|``, ``(high - value) / |high|``; a bound of 0 gives the plain difference), or with
    ``log=True`` (ratios spanning decades) in decades, ``log10(value / low)``. A margin of 0.5 means the value could
    move half a bound's size before the check fails. With ``RESNET_EDU_MARGINS=1`` (set by ``make seeds``) it also
    prints ``margin <name>: <margin> ...``, the line ``tools/seeds.py`` reads; a learner's run prints nothing.

    ``edu.runtime.expect("plain-56 first/last", ratio, low=1e2, high=1e4, log=True, why="hundreds to thousands")``
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name must be a non-empty string naming the claim; got {name!r}")
    x = _checks.number(name, value)
    if low is None and high is None:
        raise ValueError("expect needs low=, high= or both (the bound the claim states)")
    low = None if low is None else _checks.number("low", low)
    high = None if high is None else _checks.number("high", high)
    _checks.flag("log", log)
    if low is not None and high is not None and not low < high:
        raise ValueError(f"expect({name!r}): low must be below high, or no value can pass; got low={low:g}, "
                         f"high={high:g} (swapped?)")
    if log and any(b is not None and b <= 0 for b in (low, high)):
        raise ValueError(f"log=True compares ratios in decades and needs positive bounds; got low={low}, high={high}")
    if log and x < 0:
        raise ValueError(f"{name} = {x:.4g} is negative, but log=True measures a ratio in decades (log10 of value / "
                         "bound): the value must be positive; is it a difference rather than a ratio?")
    slacks = []
    if log and x == 0:  # log10(high / 0) = +inf: an exact 0 is as far below a ceiling as it gets, and misses a floor
        slacks.append(-math.inf if low is not None else math.inf)
    elif log:
        slacks += [math.log10(x / b) for b in (low,) if b is not None]
        slacks += [math.log10(b / x) for b in (high,) if b is not None]
    else:
        slacks += [(x - b) / (abs(b) or 1.0) for b in (low,) if b is not None]
        slacks += [(b - x) / (abs(b) or 1.0) for b in (high,) if b is not None]
    margin = min(slacks)
    bounds = " and ".join(part for part in (
        f"> {low:.3g}" if low is not None else "", f"< {high:.3g}" if high is not None else "") if part)
    if margins_shown():
        unit = " decades" if log else ""
        print(f"{MARGIN_PREFIX}{name}: {margin:+.3g}{unit} (value {x:.4g}, needs {bounds})")
    if not margin > 0:
        reason = f"{why} " if why else ""
        raise AssertionError(f"{reason}({name} = {x:.4g}; it should be {bounds})")
    return margin
