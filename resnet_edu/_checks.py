"""One home for argument checks (used by every public function of ``resnet_edu``).

Each check returns the value it accepted (converted where that is safe, e.g. a device string to ``torch.device``)
or raises ``TypeError``/``ValueError`` with one sentence that says what was wrong and what is allowed. Rules:

* flags are real bools (``"plain"`` is not ``True``);
* numbers are finite and not strings or bools; NaN and inf are refused, never propagated;
* seeds are non-negative ints up to 2**64 - 1 (what ``torch.manual_seed`` accepts);
* sizes are ints within bounds; an upper bound keeps a learner from waiting minutes by accident, and its message says
  how to lift it;
* where a sequence is expected, a single value or a bare string is refused by name;
* devices: ``"cpu"``, ``"cuda"``, ``"cuda:0"``, ``"mps"`` or a ``torch.device``;
  ``"cuda"`` without CUDA is answered plainly;
* tensors: type, number of dimensions, channels, dtype and finiteness checked at the entry of a function;
* switches in the environment (``RESNET_EDU_MARGINS=1``): 1/true/yes/on or 0/false/no/off/unset, anything else
  refused by name — never "set to anything, so on".
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from typing import Any

import torch

__all__ = [
    "flag", "number", "integer", "seed", "choice", "sequence", "device", "tensor", "vector", "function", "module",
    "env_flag",
]


def _show(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit str() limit
        text = f"an integer of {_digits(value)} digits"
    return text if len(text) <= 60 else text[:57] + "..."


def flag(name: str, value: object) -> bool:
    """``value`` if it is a real bool (True/False); strings, ints and None are refused."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; got {_show(value)} ({type(value).__name__})")
    return value


def number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """``value`` as a finite float within [low, high] (ends open when ``*_inclusive=False``).

    Strings, bools, None, NaN and ±inf are refused with a sentence naming the allowed range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.dtype.is_complex:
            value = value.item()
        else:
            raise TypeError(f"{name} must be a number; got {_show(value)} ({type(value).__name__})")
    try:
        x = float(value)  # type: ignore[arg-type]
    except OverflowError:  # an int such as 10**400: beyond every float, so beyond every bound a number here has
        bounds = "" if low is None and high is None else " " + _range(low, high, low_inclusive, high_inclusive)
        raise ValueError(f"{name} must be a finite number{bounds}; got an integer of {_digits(value)} digits, too "
                         "large for any float (the largest is about 1.8e308)") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number; got {x}")
    too_low = low is not None and (x < low if low_inclusive else x <= low)
    too_high = high is not None and (x > high if high_inclusive else x >= high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {_range(low, high, low_inclusive, high_inclusive)}; got {_show(value)}")
    return x


def _digits(value: object) -> int:
    """How many decimal digits the integer ``value`` has (without printing it: a huge int's str() is refused)."""
    n = abs(int(value))  # type: ignore[call-overload]
    digits = max(1, int(n.bit_length() * math.log10(2)))
    return digits + (n >= 10**digits)


def _range(low: float | None, high: float | None, low_inclusive: bool = True, high_inclusive: bool = True) -> str:
    lo = (">= " if low_inclusive else "> ") + f"{low:g}" if low is not None else ""
    hi = ("<= " if high_inclusive else "< ") + f"{high:g}" if high is not None else ""
    return " and ".join(part for part in (lo, hi) if part) or "a finite number"


def integer(name: str, value: object, *, low: int | None = None, high: int | None = None, lift: str = "") -> int:
    """``value`` if it is an int (not a bool, not a float such as 2.5) within [low, high].

    ``lift`` completes the sentence for values above ``high``: how a learner who really wants more can get it.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            hint = f" (write {int(value)})"
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            hint = f" (write {value.strip()} without quotes)"
        else:
            hint = ""
        raise TypeError(f"{name} must be an integer{hint}; got {_show(value)} ({type(value).__name__})")
    n = int(value)
    if low is not None and n < low:
        raise ValueError(f"{name} must be an integer {_range(low, high)}; got {_show(n)}")
    if high is not None and n > high:
        more = f" {lift}" if lift else ""
        raise ValueError(f"{name} must be at most {high} (a bound that keeps a run short); got {_show(n)}.{more}")
    return n


MAX_SEED = 2**64 - 1  # the largest seed torch.manual_seed accepts (it seeds a 64-bit generator)


def seed(value: object, name: str = "seed") -> int:
    """A non-negative integer seed up to :data:`MAX_SEED`, torch's bound (not a string, float or bool)."""
    if isinstance(value, str) and value.strip().isdigit():
        raise TypeError(f"{name} must be an integer, not the string {value!r}; write {value.strip()}")
    if isinstance(value, str):
        raise TypeError(f"{name} must be an integer such as 0 or 42; got the string {_show(value)}")
    n = integer(name, value, low=0)
    if n > MAX_SEED:
        raise ValueError(f"{name} must be at most 2**64 - 1 = {MAX_SEED}, the largest seed torch.manual_seed "
                         f"accepts; got {_show(n)}")
    return n


def choice(name: str, value: object, allowed: Iterable[Any]) -> Any:
    """``value`` if it is one of ``allowed``; otherwise a ValueError listing them."""
    options = tuple(allowed)
    if isinstance(value, bool) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {_show(value)}")
    return value


def sequence(name: str, value: object, *, min_len: int = 1, unique: bool = False) -> tuple[Any, ...]:
    """``value`` as a tuple; a single value or a bare string is refused by name ("give a list, e.g. [...]")."""
    if isinstance(value, (str, bytes, dict, set)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list or tuple of values, e.g. [{_show(value)}]; got one value "
                        f"{_show(value)} ({type(value).__name__})")
    items = tuple(value)  # type: ignore[arg-type]
    if len(items) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} value(s); got {len(items)}")
    if unique and len(set(items)) != len(items):
        raise ValueError(f"{name} must not repeat a value; got {_show(list(items))}")
    return items


def device(value: object, name: str = "device") -> torch.device:
    """A ``torch.device`` from a string or device; CUDA/MPS that this machine lacks is answered plainly."""
    if isinstance(value, bool) or not isinstance(value, (str, torch.device)):
        raise TypeError(f"{name} must be a string such as 'cpu' or 'cuda', or a torch.device; got {_show(value)}")
    try:
        dev = torch.device(value)
    except RuntimeError as err:
        raise ValueError(f"{name} must be 'cpu', 'cuda', 'cuda:N' or 'mps'; got {_show(value)}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={_show(value)} asks for a GPU, but this machine has no CUDA GPU (or this torch "
                         "build has no CUDA). Use device='cpu', or on Colab pick Runtime → Change runtime type → GPU.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"{name}={_show(value)}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"{name}={_show(value)} asks for Apple's MPS, which this machine lacks; use 'cpu'.")
    return dev


def tensor(
    name: str,
    value: object,
    *,
    ndim: int | Sequence[int] | None = None,
    channels: int | None = None,
    dtype: torch.dtype | Sequence[torch.dtype] | None = None,
    finite: bool = True,
    expected: str = "",
) -> torch.Tensor:
    """``value`` if it is a tensor with the given number of dims, channels (dim 1), dtype and finite entries.

    ``expected`` describes the tensor for the message, e.g. "a batch of images (N, C, H, W)".
    """
    what = f" ({expected})" if expected else ""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{what}; got {type(value).__name__}")
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.dim() not in dims:
            raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions{what}; "
                             f"got shape {tuple(value.shape)}")
    if channels is not None and (value.dim() < 2 or value.shape[1] != channels):
        raise ValueError(f"{name} must have {channels} channel(s) in dimension 1{what}; got shape {tuple(value.shape)}")
    if dtype is not None:
        dtypes = (dtype,) if isinstance(dtype, torch.dtype) else tuple(dtype)
        if value.dtype not in dtypes:
            names = " or ".join(str(d).replace("torch.", "") for d in dtypes)
            raise TypeError(f"{name} must be {names}{what}; got {str(value.dtype).replace('torch.', '')} "
                            f"(convert with .to({dtypes[0]}))")
    if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} contains NaN or inf{what}; every entry must be finite")
    return value


def vector(
    name: str, value: object, *, dtype: torch.dtype = torch.float32, example: str = "[2.0, 3.0]"
) -> torch.Tensor:
    """A non-empty 1-D tensor of finite numbers from a list, tuple or tensor (strings, bools and NaN refused)."""
    if isinstance(value, (str, bytes, bool)) or isinstance(value, numbers.Number):
        raise TypeError(f"{name} must be a list or 1-D tensor of numbers like {example}; got {_show(value)} "
                        f"({type(value).__name__})")
    if not isinstance(value, torch.Tensor):
        items = list(value) if hasattr(value, "__iter__") and not isinstance(value, dict) else None
        nested = items is not None and any(isinstance(v, (list, tuple)) for v in items)
        if items is None or (not nested and any(isinstance(v, (bool, str, bytes)) or not isinstance(v, numbers.Real)
                                                 for v in items)):
            raise TypeError(f"{name} must be a list or 1-D tensor of numbers like {example}; got {_show(value)}")
        try:
            value = torch.as_tensor(items if nested else [float(v) for v in items], dtype=dtype)
        except OverflowError:
            raise ValueError(f"{name} holds an integer too large for any float (the largest is about 1.8e308); "
                             f"every entry must be a finite number like {example}") from None
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a list or 1-D tensor of numbers like {example}; got "
                            f"{_show(value)}") from err
    elif value.dtype == torch.bool or value.is_complex():
        raise TypeError(f"{name} must hold real numbers like {example}; got a {value.dtype} tensor")
    else:
        value = value.detach().to(dtype)
    if value.dim() != 1 or value.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector like {example}; got shape {tuple(value.shape)}")
    return tensor(name, value)


def function(name: str, value: object, signature: str = "") -> Any:
    """``value`` if it is callable (a function, a module, a class); ``signature`` shows how it is called."""
    if not callable(value):
        how = f" {signature}" if signature else ""
        raise TypeError(f"{name} must be a function{how} (pass it without parentheses); got {_show(value)} "
                        f"({type(value).__name__})")
    return value


def module(name: str, value: object) -> torch.nn.Module:
    """``value`` if it is an ``nn.Module`` instance; a class is answered with "pass an instance"."""
    if isinstance(value, type) and issubclass(value, torch.nn.Module):
        raise TypeError(f"{name} must be an nn.Module instance; got the class {value.__name__} (call it: "
                        f"{value.__name__}(...))")
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name} must be an nn.Module; got {_show(value)} ({type(value).__name__})")
    return value


_ON, _OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def env_flag(name: str, on: str, off: str) -> bool:
    """The switch ``os.environ[name]``: True for 1/true/yes/on, False for 0/false/no/off or unset (any case, spaces
    ignored); anything else is a ValueError that says what ``on`` and ``off`` mean."""
    value = os.environ.get(name, "").strip().lower()
    if value in _OFF:
        return False
    if value in _ON:
        return True
    raise ValueError(f"{name} must be 1 ({on}) or 0/unset ({off}); also accepted: true/yes/on, false/no/off; "
                     f"got {_show(os.environ[name])}")
