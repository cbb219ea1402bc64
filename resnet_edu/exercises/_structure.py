"""Helpers for the checkers that judge a learner's *module* by its structure (lessons 06 and 07), not by its size.

A learner's class is built and run inside ``try`` (whatever it raises becomes a sentence, never an exception), and
:func:`trace` records, in call order, what every convolution, BatchNorm, pooling and linear layer saw: enough to
tell a plain net from a residual one, a stride in the wrong place, a max-pool stem or a ReLU on the wrong side of ⊕.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

UNFINISHED = "not finished yet"
POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)
_TRACED = (nn.Conv2d, nn.BatchNorm2d, nn.Linear, *POOLS)


def not_a_class(answer: object, example: str) -> str:
    """"" when ``answer`` is an ``nn.Module`` subclass (what the write-a-class exercises take), else the sentence that
    says to pass the class itself, e.g. ``example="MyBasicBlock"``."""
    if isinstance(answer, type) and issubclass(answer, nn.Module):
        return ""
    return (f"Pass the class itself (a subclass of nn.Module), e.g. answer = {example}; "
            f"got {type(answer).__name__}.")


def build(answer: object, *args: int) -> tuple[nn.Module | None, str]:
    """``answer(*args)`` as a module, or (None, why not) — "not finished yet" while it raises NotImplementedError."""
    try:
        module = answer(*args)  # type: ignore[operator]
    except NotImplementedError:
        return None, f"{UNFINISHED}: it still raises NotImplementedError — fill in the TODOs."
    except Exception as err:  # noqa: BLE001 - any error in the learner's code becomes a verdict
        return None, f"building it with {args} raised {type(err).__name__}: {err}"
    if not isinstance(module, nn.Module):
        return None, f"calling it with {args} should give an nn.Module; got {type(module).__name__}"
    return module, ""


def run(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, str]:
    """``module(x)`` in eval mode without gradients, or (None, why not)."""
    try:
        with torch.no_grad():
            out = module.eval()(x.clone())  # a clone: an in-place ReLU in the learner's code must not change x
    except NotImplementedError:
        return None, f"{UNFINISHED}: forward still raises NotImplementedError — fill in the TODOs."
    except Exception as err:  # noqa: BLE001
        return None, f"running it on a {tuple(x.shape)} input raised {type(err).__name__}: {err}"
    if not isinstance(out, torch.Tensor):
        return None, f"forward should return a tensor; got {type(out).__name__}"
    return out, ""


@dataclass
class Call:
    """One layer call seen by :func:`trace`: the module, a copy of its input and the shape of its output."""

    module: nn.Module
    input: torch.Tensor
    out_shape: tuple[int, ...]

    @property
    def is_conv3x3(self) -> bool:
        return isinstance(self.module, nn.Conv2d) and self.module.kernel_size == (3, 3)

    @property
    def stride(self) -> int:
        return int(self.module.stride[0]) if isinstance(self.module, nn.Conv2d) else 1


def trace(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, list[Call], str]:
    """Run ``module`` on ``x`` (eval mode) and record every conv/BN/pool/linear call in order: (output, calls, why)."""
    calls: list[Call] = []

    def hook(m: nn.Module, inputs: tuple, out: object) -> None:
        if inputs and isinstance(inputs[0], torch.Tensor) and isinstance(out, torch.Tensor):
            calls.append(Call(m, inputs[0].detach().clone(), tuple(out.shape)))

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, _TRACED)]
    try:
        out, why = run(module, x)
    finally:
        for h in handles:
            h.remove()
    return out, calls, why


def bn_after(calls: list[Call], conv: Call) -> nn.BatchNorm2d | None:
    """The BatchNorm called right after ``conv`` (the BN that normalises its output), or None."""
    i = next(i for i, c in enumerate(calls) if c is conv)
    following = calls[i + 1] if i + 1 < len(calls) else None
    return following.module if following is not None and isinstance(following.module, nn.BatchNorm2d) else None


def set_bn(bn: nn.BatchNorm2d, weight: float, bias: float) -> None:
    """γ and β of ``bn`` set to constants (its running statistics are untouched: eval mode uses mean 0, var 1)."""
    with torch.no_grad():
        bn.weight.fill_(weight)
        bn.bias.fill_(bias)


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal shapes and values up to float rounding."""
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=1e-5, rtol=1e-5))
