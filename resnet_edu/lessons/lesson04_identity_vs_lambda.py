"""Why ``nn.Identity()`` and not ``lambda x: x`` for a shortcut — every popular claim, executed (lesson 04).

The shortcut connection (跳跃连接) of He et al. 2015, §3.2, Eq. 1 is y = F(x) + x; when shapes differ, Eq. 2 uses a
projection y = F(x) + W_s x (§3.3, option B: a 1×1 convolution). In PyTorch there are three common ways to write
the shortcut of the *same* block, the three *versions* of this module:

* ``"module"`` — a registered ``nn.Module``: ``nn.Identity()`` (or ``nn.Conv2d`` for a projection);
* ``"lambda"`` — a plain function attribute: ``self.shortcut = lambda x: x`` (or ``lambda x: proj(x)``);
* ``"lambda_layer"`` — a :class:`LambdaLayer` module wrapping such a lambda, the pattern a widely used CIFAR ResNet
  reproduction ships for its option-A shortcut.

Each ``probe_…(version, projection=False)`` function builds fresh blocks, runs one claim and returns a
:class:`Probe` ``(ok, detail)``. :data:`PROPERTIES` names the claims; :class:`PropertyTable` collects the rows a
notebook ran (``table.run(name)``) and shows the ✅/❌ table; :func:`property_table` runs them all.
:func:`hidden_modules` finds layers that a lambda closes over and that the model therefore does not know about.
"""

from __future__ import annotations

import copy
import html
import importlib
import io
import pickle
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .. import _checks
from ..runtime import seeded
from ..viz import axes

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
    """

    def __init__(self, version: str = "module", projection: bool = False, channels: int = 4) -> None:
        _check_version(version)
        _checks.flag("projection", projection)
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


def make_block(version: str = "module", projection: bool = False, seed: int = 0) -> ResidualBlock:
    """A :class:`ResidualBlock` with weights drawn from ``seed`` (the global random state is left untouched)."""
    _check_version(version)
    with seeded(seed):  # checks the seed
        return ResidualBlock(version, projection)


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


# ---------------------------------------------------------------------------------------------------------------
# Probes: one claim each. Signature (version, projection=False) -> Probe.


def probe_visible(version: str, projection: bool = False) -> Probe:
    """Is the shortcut listed by ``print(model)`` and ``model.named_modules()``?"""
    block = make_block(version, projection)
    if "shortcut" not in dict(block.named_modules()):
        names = [n for n, _ in block.named_modules() if n]
        return Probe(False, f"named_modules() = {names}: no 'shortcut', so print(model) cannot show it")
    line = next(s.strip() for s in repr(block).splitlines() if "(shortcut)" in s)
    note = " — listed, but the repr does not say what the lambda inside computes" if version == "lambda_layer" else ""
    return Probe(True, f"named_modules() has 'shortcut'; print(model) shows {line}{note}")


def probe_state_dict_keys(version: str, projection: bool = False) -> Probe:
    """Does ``state_dict()`` hold every tensor the block computes with? Also counts the keys of the shortcut."""
    block = make_block(version, projection)
    keys = list(block.state_dict())
    own = [k for k in keys if k.startswith("shortcut.")]
    missing = [n for n, _ in _all_tensors(block) if n not in keys]
    text = f"{len(keys)} keys, {len(own)} from the shortcut" + (f" {own}" if own else "")
    if missing:
        return Probe(False, f"{text}; missing the hidden {missing}")
    return Probe(True, text + ("" if projection else " (a parameter-free shortcut has no state)"))


def probe_state_dict_roundtrip(version: str, projection: bool = False) -> Probe:
    """Save ``state_dict()``, ``torch.load(weights_only=True)``, load it into a fresh block: same outputs?"""
    source, fresh = make_block(version, projection, seed=0).eval(), make_block(version, projection, seed=1).eval()
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    fresh.load_state_dict(state, strict=True)
    x = example_input()
    gap = (source(x) - fresh(x)).abs().max().item()
    text = f"{len(state)} tensors saved, loaded with weights_only=True and strict=True (no error)"
    if gap > 1e-6:
        return Probe(False, f"{text}, yet outputs differ by up to {gap:.3f}: the hidden projection kept random weights")
    return Probe(True, f"{text}; outputs identical")


def _load_whole(buffer: io.BytesIO) -> tuple[nn.Module, str]:
    """Load a pickled whole model with weights_only=True: first as is, then allow-listing its classes."""
    try:
        return torch.load(buffer, weights_only=True), "torch.load(weights_only=True) loaded it as is"
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        refusal = f"torch.load(weights_only=True) refused ({found.group(1) if found else 'a class'} not allow-listed)"
    buffer.seek(0)
    if not hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint"):  # torch < 2.5: no allow-list helpers
        return torch.load(buffer, weights_only=False), f"{refusal}; loaded with weights_only=False (trusted file)"
    names = torch.serialization.get_unsafe_globals_in_checkpoint(buffer)
    classes = []
    for name in names:
        module, _, qualname = name.rpartition(".")
        classes.append(getattr(importlib.import_module(module), qualname))
    buffer.seek(0)
    with torch.serialization.safe_globals(classes):
        model = torch.load(buffer, weights_only=True)
    return model, f"{refusal}; loaded with weights_only=True inside safe_globals({len(classes)} classes)"


def probe_save_whole(version: str, projection: bool = False) -> Probe:
    """``torch.save(model)`` of the whole model (pickle) and loading it back with ``weights_only=True``."""
    block = make_block(version, projection).eval()
    buffer = io.BytesIO()
    try:
        torch.save(block, buffer)
    except Exception as error:  # pickle raises AttributeError or PicklingError depending on the Python version
        return Probe(False, f"torch.save(model) failed: {_one_line(error)}")
    size = buffer.tell()
    buffer.seek(0)
    loaded, how = _load_whole(buffer)
    x = example_input()
    ok = _same(loaded(x), block(x))
    return Probe(ok, f"saved {size / 1024:.1f} kB; {how}; outputs {'identical' if ok else 'DIFFER'}")


def probe_deepcopy(version: str, projection: bool = False) -> Probe:
    """``copy.deepcopy(model)``: same outputs, and an independent copy (no tensor shared with the original)?"""
    block = make_block(version, projection).eval()
    clone = copy.deepcopy(block)
    x = example_input()
    same = _same(clone(x), block(x))
    originals = {t.data_ptr() for _, t in _all_tensors(block)}
    shared = [n for n, t in _all_tensors(clone) if t.data_ptr() in originals]
    if shared:
        return Probe(False, f"copy runs, but the copy's lambda still calls the original's layer: it shares {shared}")
    note = {"module": "", "lambda": "; the copy's shortcut is the same function object (functions are not copied)",
            "lambda_layer": "; the LambdaLayer is copied, the function inside is shared (functions are not copied)"}
    return Probe(same, f"copy computes {'the same' if same else 'DIFFERENT'} outputs, shares no tensor{note[version]}")


def _jit_notes(caught: Iterable[warnings.WarningMessage]) -> str:
    notes = {str(w.message).split(". ")[0] for w in caught if "deprecated" in str(w.message).lower()}
    return f" [torch {torch.__version__.split('+')[0]} warns: {'; '.join(sorted(notes))}]" if notes else ""


def _fresh_classes(block: nn.Module) -> nn.Module:
    """Give the block (and its LambdaLayers) a new subclass, so TorchScript compiles them from scratch: after one
    failed compilation it caches the half-built class and later attempts report "Can't redefine method"."""
    for module in block.modules():
        if isinstance(module, (ResidualBlock, LambdaLayer)):
            cls = type(module)
            module.__class__ = type(cls.__name__, (cls,), {"__module__": cls.__module__})
    return block


def _script_error(error: BaseException) -> str:
    """TorchScript's message, without its boilerplate: what it could not compile, and why."""
    text = str(error)
    what = re.search(r"(Module '\w+' has no attribute '\w+')", text)
    why = re.search(r"reproduced here:\s*\n\s*(.+?)\)?:?\s*$", text, flags=re.MULTILINE)
    if not what:
        return _one_line(error)
    reason = re.sub(r"[^\s:]*[/\\]([\w.]+\.py)", r"\1", why.group(1).strip()) if why else ""  # drop folders
    reason = f": {reason}" if reason else ""
    return f"{type(error).__name__}: {what.group(1)} — it exists in Python, TorchScript failed to compile it{reason}"


def probe_jit_script(version: str, projection: bool = False) -> Probe:
    """``torch.jit.script(model)``: compiles the Python source of ``forward`` and of every attribute it calls."""
    if not hasattr(torch.jit, "script"):
        return Probe(None, "torch.jit.script is not available in this torch")
    block = _fresh_classes(make_block(version, projection).eval())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scripted = torch.jit.script(block)
        except Exception as error:
            return Probe(False, _script_error(error) + _jit_notes(caught))
        x = example_input()
        ok = _same(scripted(x), block(x))
    return Probe(ok, f"scripted; outputs {'identical' if ok else 'DIFFER'}" + _jit_notes(caught))


def probe_jit_trace(version: str, projection: bool = False) -> Probe:
    """``torch.jit.trace(model, x)``: records the tensor operations of one run, whatever Python produced them.

    ``check_trace=False`` skips torch's re-run of the trace (seconds on a CPU); the probe compares outputs itself."""
    if not hasattr(torch.jit, "trace"):
        return Probe(None, "torch.jit.trace is not available in this torch")
    block = make_block(version, projection).eval()
    x = example_input()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            traced = torch.jit.trace(block, x, check_trace=False)
        except Exception as error:
            return Probe(False, _one_line(error) + _jit_notes(caught))
        ok = _same(traced(x), block(x))
    kinds = sorted({n.kind().split("::")[-1] for n in traced.inlined_graph.nodes() if n.kind().startswith("aten::")})
    return Probe(ok, f"traced; ops recorded: {', '.join(kinds)}; outputs {'identical' if ok else 'DIFFER'}"
                 + _jit_notes(caught))


def _fx_graph(version: str, projection: bool) -> tuple[torch.fx.GraphModule | None, str]:
    block = make_block(version, projection).eval()
    try:
        graph_module = torch.fx.symbolic_trace(block)
    except Exception as error:
        return None, _one_line(error)
    x = example_input()
    return graph_module, ("outputs identical" if _same(graph_module(x), block(x)) else "outputs DIFFER")


def probe_fx(version: str, projection: bool = False) -> Probe:
    """``torch.fx.symbolic_trace(model)`` runs and reproduces the outputs?"""
    graph_module, how = _fx_graph(version, projection)
    if graph_module is None:
        return Probe(False, how)
    nodes = [str(n.target) if n.op == "call_module" else n.name for n in graph_module.graph.nodes
             if n.op in ("call_module", "call_function")]
    return Probe(how == "outputs identical", f"traced; nodes: {' → '.join(nodes)}; {how}")


def probe_fx_node(version: str, projection: bool = False) -> Probe:
    """Is the shortcut a named module node of the FX graph (so graph passes can find and replace it)?"""
    graph_module, how = _fx_graph(version, projection)
    if graph_module is None:
        return Probe(False, how)
    add = next(n for n in graph_module.graph.nodes if n.op == "call_function" and "add" in n.name)
    operands = ", ".join(str(a) for a in add.args)
    if any(n.op == "call_module" and n.target == "shortcut" for n in graph_module.graph.nodes):
        return Probe(True, f"call_module node 'shortcut' feeds add({operands})")
    return Probe(False, f"the shortcut was inlined: add({operands}) — no node is called 'shortcut'")


@lru_cache(maxsize=1)
def compile_support() -> str:
    """'' when ``torch.compile`` runs here, else the reason it is skipped (``RESNET_EDU_SKIP_COMPILE=1`` skips)."""
    if _checks.env_flag("RESNET_EDU_SKIP_COMPILE", "skip the torch.compile probe", "run it"):
        return "RESNET_EDU_SKIP_COMPILE is set"
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    try:
        out = torch.compile(lambda t: t + 1, backend="eager", fullgraph=True)(torch.zeros(1))
        return "" if out.item() == 1 else "torch.compile returned a wrong value on a 1-line test"
    except Exception as error:
        return f"torch.compile does not run here: {_one_line(error)}"


def probe_compile(version: str, projection: bool = False, backend: str = "eager") -> Probe:
    """``torch.compile(model, fullgraph=True)``: TorchDynamo captures the block as one graph, lambdas included.

    ``backend="eager"`` runs the captured graph without code generation, which keeps this probe at a fraction of
    a second on a CPU; pass ``"inductor"`` for the real compiler (needs a C++ toolchain, takes tens of seconds).
    """
    _checks.choice("backend", backend, ("eager", "aot_eager", "inductor"))
    reason = compile_support()
    if reason:
        return Probe(None, f"skipped: {reason}")
    block = make_block(version, projection).eval()
    torch.compiler.reset()  # fresh caches: each probe compiles a new instance of the same forward
    try:
        compiled = torch.compile(block, backend=backend, fullgraph=True)
        x = example_input()
        ok = _same(compiled(x), block(x))
    except Exception as error:
        return Probe(False, _one_line(error))
    return Probe(ok, f"one graph, no graph break (fullgraph=True, backend={backend!r}); "
                     f"outputs {'identical' if ok else 'DIFFER'}")


def _target(to: torch.dtype | torch.device | str) -> tuple[str, Callable[[torch.Tensor], bool]]:
    if isinstance(to, torch.dtype):
        return str(to).replace("torch.", ""), lambda t: not t.is_floating_point() or t.dtype == to
    device = torch.device(to)
    return str(device), lambda t: t.device.type == device.type


def probe_cast(version: str, projection: bool = False, to: torch.dtype | torch.device | str = torch.float64) -> Probe:
    """``model.to(to)`` (a dtype such as ``torch.float64`` — what ``.double()`` does — or a device): does every
    tensor the block uses follow, and does a forward pass on converted input run?"""
    if not isinstance(to, (torch.dtype, torch.device, str)):
        raise TypeError(f"to must be a torch.dtype, a torch.device or a device string; got {type(to).__name__}")
    if not isinstance(to, torch.dtype):
        to = _checks.device(to, "to")
    name, converted = _target(to)
    block = make_block(version, projection).eval().to(to)
    left = [f"{n} ({t.dtype}, {t.device})".replace("torch.", "") for n, t in _all_tensors(block) if not converted(t)]
    moved = [n for n, _ in _shortcut_tensors(block)]
    try:
        block(example_input().to(to))
        ran = "forward runs"
    except RuntimeError as error:
        ran = f"forward fails: {_one_line(error, 120)}"
    if left:
        return Probe(False, f".to({name}) left behind {left}; {ran}")
    what = f"shortcut tensors {moved} converted too" if moved else "the shortcut has no tensors, nothing to convert"
    return Probe(ran == "forward runs", f".to({name}): {what}; {ran}")


def probe_hook(version: str, projection: bool = False) -> Probe:
    """Can a forward hook be registered on ``model.shortcut`` (what instrumentation and feature taps need)?"""
    block = make_block(version, projection).eval()
    seen: list[tuple[int, ...]] = []
    try:
        handle = block.shortcut.register_forward_hook(lambda module, inputs, output: seen.append(tuple(output.shape)))
    except AttributeError as error:
        return Probe(False, _one_line(error))
    block(example_input())
    handle.remove()
    return Probe(len(seen) == 1, f"hook fired {len(seen)}× and saw the shortcut's output {seen[0] if seen else ''}")


def probe_parameters(version: str, projection: bool = False) -> Probe:
    """Does ``model.parameters()`` contain every weight the block computes with?"""
    block = make_block(version, projection)
    registered = sum(p.numel() for p in block.parameters())
    hidden = [(path, sum(p.numel() for p in m.parameters())) for path, m in hidden_modules(block)]
    text = f"parameters(): {registered} numbers in {len(list(block.parameters()))} tensors"
    if any(n for _, n in hidden):
        return Probe(False, f"{text}; hidden from it: {', '.join(f'{p} with {n} weights' for p, n in hidden)}")
    own = [n for n, _ in _shortcut_tensors(block)]
    return Probe(True, f"{text}; " + (f"includes the shortcut's {own}" if own else "the shortcut has no weights"))


def probe_training(version: str, projection: bool = False, steps: int = 5, lr: float = 0.1) -> Probe:
    """A few SGD steps on ``model.parameters()``: do the shortcut's weights change?"""
    _checks.integer("steps", steps, low=1, high=1000)
    _checks.number("lr", lr, low=0, low_inclusive=False)
    block = make_block(version, projection).train()
    watched = _shortcut_tensors(block)
    if not watched:
        return Probe(True, "the shortcut has no weights: nothing to train")
    before = [t.detach().clone() for _, t in watched]
    optimizer = torch.optim.SGD(block.parameters(), lr=lr)
    x = example_input()
    target = torch.randn(block(x).shape, generator=torch.Generator().manual_seed(2))
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(block(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    moved = max((t.detach() - b).abs().max().item() for (_, t), b in zip(watched, before))
    run = f"{steps} SGD steps (loss {losses[0]:.3f} → {losses[-1]:.3f})"
    if moved > 0:
        return Probe(True, f"after {run} the projection moved by max |ΔW| = {moved:.4f}")
    grad = max((t.grad.norm().item() if t.grad is not None else 0.0) for _, t in watched)
    return Probe(False, f"after {run} the projection is bit-for-bit unchanged, although backward() filled its .grad "
                        f"(norm {grad:.3f}): the optimizer was never given it")


# ---------------------------------------------------------------------------------------------------------------
# The table.


@dataclass(frozen=True)
class Property:
    """One claim: a short label, the probe that runs it, and whether it is about a projection shortcut."""

    name: str
    label: str
    probe: Callable[..., Probe]
    projection: bool = False


PROPERTIES: dict[str, Property] = {p.name: p for p in (
    Property("visible", "listed by print(model) / named_modules()", probe_visible),
    Property("state_dict", "state_dict holds all its tensors (shortcut: 0 keys)", probe_state_dict_keys),
    Property("state_dict_roundtrip", "state_dict save → load (weights_only=True)", probe_state_dict_roundtrip),
    Property("save_whole", "torch.save(model) → torch.load", probe_save_whole),
    Property("deepcopy", "copy.deepcopy", probe_deepcopy),
    Property("jit_script", "torch.jit.script", probe_jit_script),
    Property("jit_trace", "torch.jit.trace", probe_jit_trace),
    Property("fx", "torch.fx.symbolic_trace", probe_fx),
    Property("fx_node", "shortcut is a node of the FX graph", probe_fx_node),
    Property("compile", "torch.compile(fullgraph=True)", probe_compile),
    Property("cast", ".double() (or .to(device)) then forward", probe_cast),
    Property("hook", "forward hook on model.shortcut", probe_hook),
    Property("proj_parameters", "projection weights in parameters()", probe_parameters, True),
    Property("proj_training", "projection trained by the optimizer", probe_training, True),
    Property("proj_state_dict", "projection weights in state_dict", probe_state_dict_keys, True),
    Property("proj_roundtrip", "state_dict round-trip restores outputs", probe_state_dict_roundtrip, True),
    Property("proj_cast", ".double() converts the projection", probe_cast, True),
    Property("proj_deepcopy", "deepcopy gives an independent projection", probe_deepcopy, True),
)}


def _check_property(name: object) -> Property:
    if not isinstance(name, str) or name not in PROPERTIES:
        raise ValueError(f"unknown property {name!r}; choose one of {', '.join(PROPERTIES)}")
    return PROPERTIES[name]


@dataclass
class PropertyRow:
    """One property probed on each version: ``results[version]`` is a :class:`Probe`."""

    name: str
    label: str
    projection: bool
    results: dict[str, Probe]

    def ok(self, version: str) -> bool | None:
        _check_version(version)
        return self.results[version].ok

    def __repr__(self) -> str:
        kind = "1×1 projection shortcut" if self.projection else "x → x shortcut"
        width = max(len(LABELS[self.projection][v]) for v in self.results)
        lines = [f"{self.label}  ({kind})"]
        for version, probe in self.results.items():
            lines.append(f"  {probe.mark} {LABELS[self.projection][version]:<{width}}  {probe.detail}")
        return "\n".join(lines)


def run_property(name: str, versions: Iterable[str] = VERSIONS) -> PropertyRow:
    """Run the probe of property ``name`` (a key of :data:`PROPERTIES`) on each version."""
    prop = _check_property(name)
    versions = tuple(_check_version(v) for v in _checks.sequence("versions", versions, unique=True))
    results = {v: prop.probe(v, projection=prop.projection) for v in versions}
    return PropertyRow(prop.name, prop.label, prop.projection, results)


@dataclass
class PropertyTable:
    """The ✅/❌ table: one :class:`PropertyRow` per property, in the order they were run.

    ``table.run(name)`` probes one property, keeps the row and returns it (a notebook cell shows its details);
    displaying the table shows the marks. ``table.ok(name, version)`` reads one cell.
    """

    rows: list[PropertyRow] = field(default_factory=list)
    versions: tuple[str, ...] = VERSIONS

    def run(self, name: str) -> PropertyRow:
        row = run_property(name, self.versions)
        self.rows = [r for r in self.rows if r.name != name] + [row]
        return row

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rows]

    def missing(self) -> list[str]:
        """Properties of :data:`PROPERTIES` not run yet."""
        return [n for n in PROPERTIES if n not in self.names]

    def __getitem__(self, name: str) -> PropertyRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"property {name!r} has not been run; run it with table.run({name!r})")

    def ok(self, name: str, version: str) -> bool | None:
        return self[name].ok(version)

    def as_dict(self) -> dict[str, dict[str, bool | None]]:
        """``{property: {version: ok}}``."""
        return {r.name: {v: r.results[v].ok for v in self.versions} for r in self.rows}

    def _sections(self) -> list[tuple[str, list[PropertyRow]]]:
        plain = [r for r in self.rows if not r.projection]
        proj = [r for r in self.rows if r.projection]
        return [(t, rows) for t, rows in (("x → x shortcut", plain), ("1×1 projection shortcut (W_s x)", proj))
                if rows]

    def to_text(self) -> str:
        """The table as monospace text (marks: ✅ yes, ❌ no, ⏭️ skipped)."""
        width = max([len(r.label) for r in self.rows] + [32])
        cols = [HEADERS[v] for v in self.versions]
        head = f"{'property':<{width}} | " + " | ".join(cols)
        lines = [head, "-" * (len(head) + 3)]
        for title, rows in self._sections():
            lines.append(f"[{title}]")
            for row in rows:
                marks = [f"{row.results[v].mark:<{len(c) - 1}}" for v, c in zip(self.versions, cols)]
                lines.append(f"{row.label:<{width}} | " + " | ".join(marks))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(HEADERS[v])}</th>" for v in self.versions)
        body = []
        for title, rows in self._sections():
            span = len(self.versions) + 1
            body.append(f"<tr><th colspan='{span}' style='text-align:left'>{html.escape(title)}</th></tr>")
            for row in rows:
                cells = "".join(f"<td title='{html.escape(row.results[v].detail, quote=True)}' "
                                f"style='text-align:center'>{row.results[v].mark}</td>" for v in self.versions)
                body.append(f"<tr><td style='text-align:left'>{html.escape(row.label)}</td>{cells}</tr>")
        return f"<table><thead><tr><th>property</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

    def plot(self, ax=None):  # noqa: ANN001 (matplotlib Axes)
        """Draw the table as a coloured grid (green yes, red no, grey skipped); returns the Axes."""
        from matplotlib.colors import ListedColormap

        rows = [r for _, rs in self._sections() for r in rs]
        ax = axes(ax, figsize=(9, 0.32 * len(rows) + 1.5))
        code = {False: 0, None: 1, True: 2}
        grid = [[code[r.results[v].ok] for v in self.versions] for r in rows]
        ax.imshow(grid, cmap=ListedColormap(["#f4a6a6", "#d9d9d9", "#a8dba8"]), vmin=0, vmax=2, aspect="auto")
        for i, r in enumerate(rows):
            for j, v in enumerate(self.versions):
                ax.text(j, i, {True: "yes", False: "no", None: "skip"}[r.results[v].ok], ha="center", va="center")
        ax.set_xticks(range(len(self.versions)), [HEADERS[v].replace(" / ", "\n/ ") for v in self.versions])
        ax.set_yticks(range(len(rows)), [("[W_s] " if r.projection else "") + r.label for r in rows])
        ax.set_xlabel("how the shortcut is written")
        ax.set_ylabel("property")
        ax.set_title("Shortcut as a module or a lambda: each claim, run")
        return ax


def property_table(names: Iterable[str] | None = None, versions: Iterable[str] = VERSIONS,
                   progress: bool = True) -> PropertyTable:
    """Run every property (or ``names``) on every version and return the :class:`PropertyTable`."""
    from tqdm.auto import tqdm

    names = list(PROPERTIES) if names is None else list(_checks.sequence("names", names, unique=True))
    for name in names:
        _check_property(name)
    versions = tuple(_check_version(v) for v in _checks.sequence("versions", versions, unique=True))
    _checks.flag("progress", progress)
    table = PropertyTable(versions=versions)
    for name in tqdm(names, desc="probing", disable=not progress):
        table.run(name)
    return table


# ---------------------------------------------------------------------------------------------------------------
# Everyday uses of nn.Identity.


def as_feature_extractor(model: nn.Module, head: str = "fc") -> nn.Module:
    """Replace the classifier ``model.<head>`` by ``nn.Identity()`` so the model returns its pooled features
    (512-d for ResNet-18, He et al. 2015, Table 1). Changes ``model`` in place and returns it.

    Its ``state_dict`` loses the head's keys: load a full checkpoint *before* the swap (or with strict=False).
    """
    _checks.module("model", model)
    if not isinstance(head, str) or not isinstance(getattr(model, head, None), nn.Module):
        children = ", ".join(n for n, _ in model.named_children())
        raise ValueError(f"model has no sub-module {head!r} to replace; its children are: {children}")
    setattr(model, head, nn.Identity())
    return model


__all__ = [
    "HEADERS", "LABELS", "PROPERTIES", "VERSIONS", "LambdaLayer", "Probe", "Property", "PropertyRow",
    "PropertyTable", "ResidualBlock", "as_feature_extractor", "compile_support", "example_input", "hidden_modules",
    "make_block", "probe_cast", "probe_compile", "probe_deepcopy", "probe_fx", "probe_fx_node", "probe_hook",
    "probe_jit_script", "probe_jit_trace", "probe_parameters", "probe_save_whole", "probe_state_dict_keys",
    "probe_state_dict_roundtrip", "probe_training", "probe_visible", "property_table", "run_property",
]
