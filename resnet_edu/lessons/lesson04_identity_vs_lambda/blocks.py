"""Lesson 04's block in its three versions: the same residual block with the shortcut written as a registered
module (``nn.Identity()`` / ``nn.Conv2d``), as a plain lambda, or as a :class:`LambdaLayer` around a lambda; and
:func:`hidden_modules`, which finds the layers a lambda closes over. The probes in
:mod:`resnet_edu.lessons.lesson04_identity_vs_lambda.probes` run each claim on these blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch import nn

from ... import _checks
from ...runtime import seeded

VERSIONS = ("module", "lambda", "lambda_layer")
LABELS = {  # what the shortcut is, per version, for x -> x and for a 1x1 projection
    False: {"module": "nn.Identity()", "lambda": "lambda x: x", "lambda_layer": "LambdaLayer(lambda x: x)"},
    True: {"module": "nn.Conv2d 1×1", "lambda": "lambda x: proj(x)", "lambda_layer": "LambdaLayer(lambda x: proj(x))"},
}
HEADERS = {"module": "nn.Identity() / nn.Module", "lambda": "plain lambda", "lambda_layer": "LambdaLayer(lambda)"}
MARKS = {True: "✅", False: "❌", None: "⏭️"}


class LambdaLayer(nn.Module):
    """Wrap any function as a module (the option-A pattern of a popular CIFAR ResNet reproduction).

    The wrapper is registered, so it prints, takes hooks and moves with ``.to()`` — but the function inside is
    still a lambda: it does not pickle, TorchScript cannot compile it, and whatever it closes over stays hidden.
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = _checks.function("fn (what LambdaLayer wraps)", fn, "such as lambda x: x")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def _check_version(version: object) -> str:
    return _checks.choice("version", version, VERSIONS)


class ResidualBlock(nn.Module):
    """H(x) = relu(F(x) + shortcut(x)) with F = conv-BN-relu-conv-BN (He et al. 2015, Fig. 2), the shortcut
    written as one of :data:`VERSIONS`.

    ``projection=False``: the shortcut is x -> x. ``projection=True``: the block doubles the channels and the
    shortcut is a 1×1 convolution W_s (§3.3, option B) — registered (``"module"``) or captured by a lambda.
    ``batch_norm=True`` (with ``projection=True``) puts a BatchNorm after W_s, as torchvision's ``downsample`` does.
    """

    def __init__(self, version: str = "module", projection: bool = False, channels: int = 4,
                 batch_norm: bool = False) -> None:
        _check_version(version)
        _checks.flag("projection", projection)
        _checks.flag("batch_norm", batch_norm)
        if batch_norm and not projection:
            raise ValueError("batch_norm=True is the BN of a projection shortcut: pass projection=True too")
        _checks.integer("channels", channels, low=1, high=1024)
        super().__init__()
        c_out = 2 * channels if projection else channels
        self.version, self.projection = version, projection
        self.conv1 = nn.Conv2d(channels, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        if projection:
            proj = nn.Conv2d(channels, c_out, 1, bias=False)  # W_s of Eq. 2
            if batch_norm:  # torchvision's downsample: the 1×1 conv, then BN
                proj = nn.Sequential(proj, nn.BatchNorm2d(c_out))
            if version == "module":
                self.shortcut = proj
            elif version == "lambda":
                self.shortcut = lambda x: proj(x)
            else:
                self.shortcut = LambdaLayer(lambda x: proj(x))
        elif version == "module":
            self.shortcut = nn.Identity()
        elif version == "lambda":
            self.shortcut = lambda x: x
        else:
            self.shortcut = LambdaLayer(lambda x: x)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the residual branch (残差)."""
        return self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.residual(x) + self.shortcut(x))  # H(x) = F(x) + x


def make_block(version: str = "module", projection: bool = False, seed: int = 0,
               batch_norm: bool = False) -> ResidualBlock:
    """A :class:`ResidualBlock` with weights drawn from ``seed`` (the global random state is left untouched)."""
    _check_version(version)
    with seeded(seed):  # checks the seed
        return ResidualBlock(version, projection, batch_norm=batch_norm)


def example_input(batch: int = 4, channels: int = 4, size: int = 8, seed: int = 1) -> torch.Tensor:
    """A fixed random input of shape (batch, channels, size, size) for the blocks of this module."""
    for name, value in (("batch", batch), ("channels", channels), ("size", size)):
        _checks.integer(name, value, low=1, high=1024)
    return torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(_checks.seed(seed)))


def _closure_modules(fn: object, path: str, depth: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """Modules captured in the closure of ``fn`` (and of functions it captures), with a readable path."""
    closure = getattr(fn, "__closure__", None)
    if not closure or depth > 3:
        return
    for var, cell in zip(fn.__code__.co_freevars, closure):  # type: ignore[attr-defined]
        try:
            content = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(content, nn.Module):
            yield f"{path}.<closure {var}>", content
        elif callable(content):
            yield from _closure_modules(content, f"{path}.<closure {var}>", depth + 1)


def hidden_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules that a function attribute of ``model`` (or of a submodule) closes over but ``model`` does not
    register: their weights are missing from ``parameters()``, ``state_dict()`` and ``.to()``.

    >>> [name for name, _ in hidden_modules(make_block("lambda", projection=True))]
    ['shortcut.<closure proj>']
    """
    _checks.module("model", model)
    registered = {id(m) for m in model.modules()}
    found: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if attr.startswith("_"):  # _modules, _parameters, hook dicts, …
                continue
            for path, hidden in _closure_modules(value, f"{name}.{attr}" if name else attr):
                if id(hidden) not in registered:
                    registered.add(id(hidden))
                    found.append((path, hidden))
    return found


def _all_tensors(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Every parameter and buffer the model computes with: registered ones and those of hidden modules."""
    tensors = [*model.named_parameters(), *model.named_buffers()]
    for path, module in hidden_modules(model):
        tensors += [(f"{path}.{n}", t) for n, t in (*module.named_parameters(), *module.named_buffers())]
    return tensors


def _shortcut_tensors(block: ResidualBlock) -> list[tuple[str, torch.Tensor]]:
    """The weights of the shortcut, registered or hidden (empty for x -> x)."""
    return [(n, t) for n, t in _all_tensors(block) if n.startswith("shortcut")]


def _one_line(error: BaseException, limit: int = 170) -> str:
    """``Type: first meaningful line`` of an exception, shortened."""
    lines = [s.strip() for s in str(error).splitlines() if s.strip()]
    text = f"{type(error).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Probe(NamedTuple):
    """The outcome of one claim on one version: ``ok`` (True/False, None when skipped) and what happened."""

    ok: bool | None
    detail: str

    @property
    def mark(self) -> str:
        return MARKS[self.ok]


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-6)
