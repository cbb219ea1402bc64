"""Lesson 04's probes, one claim each: ``probe_…(version, projection=False)`` builds fresh blocks
(:mod:`~resnet_edu.lessons.lesson04_identity_vs_lambda.blocks`), runs the claim and returns a :class:`Probe`
``(ok, detail)``. One idea, which is why the module is long: every popular claim about ``nn.Identity()`` vs a lambda,
executed (pickle, TorchScript, FX, ``torch.compile``, casts, hooks, the optimizer).
"""

from __future__ import annotations

import copy
import importlib
import io
import pickle
import re
import warnings
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ... import _checks
from .blocks import (
    LambdaLayer,
    Probe,
    ResidualBlock,
    _all_tensors,
    _one_line,
    _same,
    _shortcut_tensors,
    example_input,
    hidden_modules,
    make_block,
)

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
# The BatchNorm that a lambda hides: torchvision's downsample (1×1 conv + BN) written as a lambda.


class ClosureBatchNorm(NamedTuple):
    """What :func:`closure_batchnorm` measured on one version of the block with a 1×1 conv + BN shortcut."""

    version: str
    batch_dependence: float  # eval mode: max |output of image 0 alone − image 0 inside its batch|
    stats_updates: int  # times the shortcut's BN updated its running statistics during two eval-mode calls
    bn_in_parameters: bool  # are the shortcut BN's γ and β among model.parameters()?
    bns_reached_by_apply: int  # BatchNorm layers that model.apply(fn) visits
    bns_in_block: int  # BatchNorm layers the block computes with, registered or hidden (3: bn1, bn2, the shortcut's)


def _bns(model: nn.Module) -> list[nn.Module]:
    """Every BatchNorm2d ``model`` computes with: its registered ones and those a lambda hides."""
    found = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for _, module in hidden_modules(model):
        found += [m for m in module.modules() if isinstance(m, nn.BatchNorm2d) and all(m is not f for f in found)]
    return found


def closure_batchnorm(version: str, seed: int = 0) -> ClosureBatchNorm:
    """Build the block whose shortcut is torchvision's ``downsample`` — a 1×1 conv W_s, then a BatchNorm — written as
    ``version``, switch it to eval mode, and measure what a BN in a lambda's closure misses: ``.eval()`` (image 0's
    output depends on the rest of its batch, and the running statistics keep moving), ``parameters()`` and
    ``model.apply(fn)`` (the way initialisers reach every layer)."""
    _checks.seed(seed)
    block = make_block(version, projection=True, seed=seed, batch_norm=True).eval()
    x = example_input(seed=seed + 1)
    shortcut_bn = next(bn for bn in _bns(block) if bn is not block.bn1 and bn is not block.bn2)
    before = int(shortcut_bn.num_batches_tracked)
    with torch.no_grad():
        alone, in_batch = block(x[:1]), block(x)[:1]  # two eval-mode calls that both contain image 0
    reached: list[nn.Module] = []
    block.apply(lambda m: reached.append(m) if isinstance(m, nn.BatchNorm2d) else None)
    params = {id(p) for p in block.parameters()}
    return ClosureBatchNorm(
        version, float((alone - in_batch).abs().max()), int(shortcut_bn.num_batches_tracked) - before,
        all(id(p) in params for p in shortcut_bn.parameters()), len(reached), len(_bns(block)))
