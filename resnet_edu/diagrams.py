"""Graphviz diagrams generated from the modules themselves (lessons 02, 03, 06, 07).

* :func:`block_diagram` — a block's data flow traced with ``torch.fx``: the residual branch boxed as F(x), the
  shortcut in blue, the addition as ⊕ (He et al. 2015, Fig. 2); a plain block boxed as H(x).
* :func:`block_graph` — the autograd graph of one BasicBlock (torchviz), with the ``AddBackward0`` node where the
  gradient splits into the F path and the identity path; :func:`count_nodes` reads it.
* :func:`autograd_graph` — any output's autograd graph; :func:`show` draws a diagram or prints how to install ``dot``.

Building a diagram (its ``.source``) needs only the ``graphviz`` Python package; drawing it needs Graphviz's ``dot``.
"""

from __future__ import annotations

import operator
import re
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import fx, nn

from . import _checks
from .nets import BasicBlock, check_kind
from .runtime import one_thread, seeded

GRAPHVIZ_FIX = (
    "Graphviz's `dot` program is not installed, so diagrams cannot be drawn. Install it with one of: "
    "`sudo apt-get install graphviz` (Debian/Ubuntu/Colab), `conda install graphviz`, `brew install graphviz` "
    "(macOS); then restart the kernel."
)


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` binary is not on PATH."""


def require_dot() -> str:
    """Return the path of Graphviz's ``dot``; raise :class:`GraphvizMissing` naming the fix when it is absent."""
    path = shutil.which("dot")
    if path is None:
        raise GraphvizMissing(GRAPHVIZ_FIX)
    return path


def show(graph: Any) -> bool:
    """Display a ``graphviz`` diagram when ``dot`` is installed; otherwise print how to install it. Returns whether
    it was drawn. Building a diagram needs no ``dot`` (lessons assert on its structure either way)."""
    if not hasattr(graph, "source") or not hasattr(graph, "pipe"):
        raise TypeError("graph must be a graphviz diagram, e.g. block_diagram(block) or block_graph(); got "
                        f"{type(graph).__name__}")
    if shutil.which("dot") is None:
        print(GRAPHVIZ_FIX)
        return False
    from IPython.display import display

    display(graph)
    return True


def autograd_graph(output: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None, **kwargs: Any):  # noqa: ANN201
    """The autograd graph behind ``output`` as a ``graphviz.Digraph`` (torchviz's ``make_dot``).

    ``params`` (e.g. ``dict(model.named_parameters())``) labels the weight leaves. Rendering needs ``dot``.
    """
    _checks.tensor("output", output, finite=False, expected="a result computed from tensors that require grad")
    if output.grad_fn is None:
        raise ValueError("output has no autograd graph (its grad_fn is None): compute it from a model or from a "
                         "tensor with requires_grad=True, outside torch.no_grad()")
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict {{name: tensor}} such as dict(model.named_parameters()); got "
                        f"{type(params).__name__}")
    require_dot()
    from torchviz import make_dot

    return make_dot(output, params=dict(params) if params is not None else None, **kwargs)


def _describe(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        stride = f", stride {module.stride[0]}" if module.stride[0] != 1 else ""
        groups = ("" if module.groups == 1 else "\ndepthwise" if module.groups == module.in_channels
                  else f"\n{module.groups} groups")
        return f"conv {kh}×{kw}, {module.in_channels}→{module.out_channels}{stride}{groups}"
    if isinstance(module, nn.Linear):
        return f"linear {module.in_features}→{module.out_features}"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        zero = module.weight is not None and bool((module.weight == 0).all())
        return "BN, γ = 0" if zero else "BN"
    if isinstance(module, nn.Identity):
        return "identity: x"
    extra = "" if type(module).__module__.startswith("torch.") else module.extra_repr()
    return type(module).__name__ + (f"\n{extra}" if extra and len(extra) <= 40 else "")


_FUNCTIONS = {operator.add: "⊕", torch.add: "⊕", operator.mul: "×", torch.mul: "×"}


class _Tracer(fx.Tracer):
    """torch.fx tracer that keeps childless modules (e.g. :class:`resnet_edu.nets.ShortcutA`) as one node."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return super().is_leaf_module(m, module_qualified_name) or not any(True for _ in m.children())


def _ancestors(node: fx.Node) -> set[fx.Node]:
    seen, todo = set(), [node]
    while todo:
        n = todo.pop()
        if n in seen or n.op == "placeholder":
            continue
        seen.add(n)
        todo.extend(n.all_input_nodes)
    return seen


def _branches(graph: fx.Graph) -> tuple[set[fx.Node], set[fx.Node], fx.Node | None]:
    """(F nodes, shortcut nodes, the ⊕ node) of the first addition of two tensors; empty sets when none."""
    for node in graph.nodes:
        is_add = node.op == "call_function" and _FUNCTIONS.get(node.target) == "⊕"
        if is_add and len(node.all_input_nodes) == 2:
            a, b = (_ancestors(n) for n in node.all_input_nodes)
            residual, shortcut = (a - b, b - a) if len(a - b) >= len(b - a) else (b - a, a - b)
            return residual, shortcut, node
    return set(), set(), None


def block_diagram(*blocks: nn.Module, titles: Sequence[str] | None = None):  # noqa: ANN201
    """A ``graphviz.Digraph`` of each block, side by side, traced from the module with ``torch.fx``.

    In a residual block the nodes of the residual branch are boxed as "F(x)", the shortcut is drawn in blue and
    the addition is the ⊕ node; a plain block has no ⊕ and its layers are boxed as "H(x)" (He et al. 2015,
    Fig. 2). Building the diagram (its ``.source``) needs only the ``graphviz`` Python package; drawing it
    (displaying it in a notebook, ``.pipe()``, ``.render()``) needs Graphviz's ``dot`` program
    (:func:`require_dot` says how to install it).
    """
    import graphviz

    if not blocks:
        raise ValueError("pass at least one block, e.g. block_diagram(plain_block, residual_block)")
    for block in blocks:
        _checks.module("every block", block)
    if titles is not None:
        titles = list(_checks.sequence("titles", titles))
        wrong = [t for t in titles if not isinstance(t, str)]
        if wrong:
            raise TypeError(f"titles must be strings, one per block, e.g. ['plain', 'residual']; got {titles!r}")
    if titles is not None and len(titles) != len(blocks):
        raise ValueError(f"give one title per block: {len(blocks)} blocks but {len(titles)} titles")
    dot = graphviz.Digraph("blocks", graph_attr={"rankdir": "TB", "fontname": "Helvetica", "nodesep": "0.3"})
    font = {"fontname": "Helvetica", "fontsize": "11"}
    dot.attr("node", shape="box", style="rounded,filled", fillcolor="white", **font)
    dot.attr("edge", **font)
    for i, block in enumerate(blocks):
        graph = _Tracer().trace(block)
        modules = dict(block.named_modules())
        residual, shortcut, add = _branches(graph)
        name = type(block).__name__
        title = titles[i] if titles else (f"{name}: H(x) = F(x) + x" if add else f"{name} (plain): H(x)")
        ident = {node: f"b{i}_{node.name}" for node in graph.nodes}
        with dot.subgraph(name=f"cluster_block{i}") as outer:
            outer.attr(label=title, fontsize="13", style="rounded", color="gray40")
            layers = {n for n in graph.nodes if n.op not in ("placeholder", "output")}
            inner_nodes = residual if add is not None else layers
            inner_label = "F(x)" if add is not None else "H(x)"
            with outer.subgraph(name=f"cluster_block{i}_f") as inner:
                inner.attr(label=inner_label, labeljust="l", fontsize="14", style="dashed,rounded",
                           color="darkorange", fontcolor="darkorange")
                for node in graph.nodes:
                    if node in inner_nodes:
                        inner.node(ident[node], _label(node, modules), fillcolor="#fff3e0")
            for node in graph.nodes:
                if node in inner_nodes:
                    continue
                if node.op == "placeholder":
                    outer.node(ident[node], "x", shape="ellipse", fillcolor="#eeeeee")
                elif node.op == "output":
                    outer.node(ident[node], "output", shape="ellipse", fillcolor="#eeeeee")
                elif node is add:
                    outer.node(ident[node], "⊕", shape="circle", fontsize="18", fillcolor="#e3f2fd")
                else:
                    color = "#e3f2fd" if node in shortcut else "white"
                    outer.node(ident[node], _label(node, modules), fillcolor=color)
        for node in graph.nodes:
            for src in node.all_input_nodes:
                into_add = node is add and (src in shortcut or src.op == "placeholder")
                on_shortcut = node in shortcut or into_add
                attrs = {"color": "royalblue", "penwidth": "2"} if on_shortcut else {}
                if on_shortcut and src.op == "placeholder":
                    # x straight into ⊕ is the identity shortcut with no module on it (torchvision's downsample=None)
                    attrs["label"] = " shortcut\n identity: x" if node is add else " shortcut"
                    attrs["fontcolor"] = "royalblue"
                dot.edge(ident[src], ident[node], **attrs)
    return dot


def _label(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        return f"{node.target}\n{_describe(modules[node.target])}"
    if node.op == "call_function":
        return _FUNCTIONS.get(node.target, getattr(node.target, "__name__", str(node.target)))
    return str(node.target)


def _grad_fns(root) -> list:  # noqa: ANN001
    seen, order, stack = set(), [], [root]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        order.append(fn)
        stack.extend(nxt for nxt, _ in fn.next_functions)
    return order


def block_graph(kind: str = "residual", channels: int = 2, size: int = 4):  # noqa: ANN201 (graphviz.Digraph)
    """The autograd graph of one BasicBlock (He et al. 2015, Fig. 2), residual or plain, drawn by torchviz.

    In the residual block the ``AddBackward0`` node (y = F(x) + x) is highlighted and its two incoming edges are
    labelled: in the backward pass the gradient arriving there is copied unchanged into both, the F path and the
    identity path. Arrows point forward (input → output); gradients travel against them. Building the graph (its
    ``.source``, what :func:`count_nodes` reads) needs only the ``graphviz`` Python package; drawing it needs
    Graphviz's ``dot`` program (:func:`require_dot` says how to install it).
    """
    from torchviz import make_dot  # not viz.autograd_graph, which insists on `dot`: building does not need it

    residual = check_kind(kind)
    _checks.integer("channels", channels, low=1, high=16, lift="A larger block only makes the graph wider.")
    _checks.integer("size", size, low=1, high=64)
    with seeded(0):
        block = BasicBlock(channels, channels, has_shortcut=residual)
        x = torch.randn(2, channels, size, size, requires_grad=True)
    with one_thread():
        y = block(x)
    graph = make_dot(y, params={"x": x, **dict(block.named_parameters())})
    graph.graph_attr.update(size="7,9", label=f"autograd graph of one {kind} BasicBlock", labelloc="t")
    for fn in _grad_fns(y.grad_fn):
        if type(fn).__name__.startswith("AddBackward"):
            _highlight_add(graph, fn, x)
    return graph


def _highlight_add(graph, add_fn, x: torch.Tensor) -> None:  # noqa: ANN001
    """Colour the ⊕ node and label its F-path and identity-path edges in torchviz's dot source."""
    node = str(id(add_fn))
    label = f"{type(add_fn).__name__}\n⊕  y = F(x) + x\nthe gradient splits here"
    graph.body = [line.replace(f"\t{node} [label={type(add_fn).__name__}]",
                               f'\t{node} [label="{label}" fillcolor=orange penwidth=2]') for line in graph.body]
    for src, _ in add_fn.next_functions:
        if src is None:
            continue
        is_identity = getattr(src, "variable", None) is x
        attrs = ('label=" identity path (I)" color=blue fontcolor=blue penwidth=2' if is_identity
                 else 'label=" F path (∂F/∂x)" color=darkgreen fontcolor=darkgreen penwidth=2')
        graph.body = [f"\t{id(src)} -> {node} [{attrs}]" if line.strip() == f"{id(src)} -> {node}" else line
                      for line in graph.body]


def count_nodes(graph, name: str) -> int:  # noqa: ANN001 (graphviz.Digraph)
    """How many nodes of ``graph`` (from :func:`block_graph`) are autograd functions named ``name*``."""
    if not hasattr(graph, "body"):
        raise TypeError(f"graph must be a graphviz diagram such as block_graph() returns; got {type(graph).__name__}")
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be the start of an autograd function's name, e.g. 'AddBackward'; got {name!r}")
    return sum(1 for line in graph.body if re.search(rf'\[label="?{re.escape(name)}', line))


MAX_BLOCKS = 8  # the most blocks unrolled_paths draws: 2⁸ = 256 paths (lesson 03's path_expansion bound)
_LIFT = "Set resnet_edu.diagrams.MAX_BLOCKS higher if you really want a larger drawing (dot slows down)."


def unrolled_paths(paths: Sequence[Sequence[int]]):  # noqa: ANN201 (graphviz.Digraph)
    """The "unraveled view" of a residual stack (Veit et al. 2016, Fig. 1): left the stack as built, x → ⊕ → ⊕ →
    …, right every path from x to the output as its own chain of branches F_i, all summed at the end (lesson 03).

    ``paths`` lists, per path, the blocks (1-based) whose branch it goes through — e.g. the ``paths`` of
    :func:`resnet_edu.lessons.lesson03_gradient_path.path_expansion`, which checks numerically that the paths add
    up to the stack.
    Building the diagram needs only the ``graphviz`` Python package; drawing it needs ``dot``.
    """
    import graphviz

    example = "e.g. [[], [1], [2], [1, 2]] or lesson03_gradient_path.path_expansion(3).paths"
    paths = [tuple(_checks.sequence("each path", p, min_len=0)) for p in _checks.sequence("paths", paths)]
    for p in paths:
        for i in p:
            _checks.integer("each block number in paths", i, low=1, high=MAX_BLOCKS, lift=_LIFT)
    if any(list(p) != sorted(set(p)) for p in paths):
        raise ValueError(f"each path must list increasing block numbers from 1, {example}; got {paths}")
    if len(set(paths)) != len(paths):
        twice = sorted({p for p in paths if paths.count(p) > 1})
        raise ValueError(f"paths must list each path once; {twice} appear(s) more than once")
    if len(paths) > 2 ** MAX_BLOCKS:
        raise ValueError(f"paths must list at most {2 ** MAX_BLOCKS} paths; got {len(paths)}. {_LIFT}")
    n = max((max(p) for p in paths if p), default=0)
    font = {"fontname": "Helvetica", "fontsize": "11"}
    dot = graphviz.Digraph("unrolled", graph_attr={"rankdir": "LR", "nodesep": "0.15", "ranksep": "0.35",
                                                   "fontname": "Helvetica"})
    dot.attr("node", shape="box", style="rounded,filled", fillcolor="#fff3e0", **font)
    dot.attr("edge", arrowsize="0.6", **font)
    with dot.subgraph(name="cluster_stack") as stack:
        stack.attr(label=f"the stack: {n} residual blocks", style="rounded", color="gray40")
        stack.node("s_x", "x", shape="ellipse", fillcolor="#eeeeee")
        previous = "s_x"
        for i in range(1, n + 1):
            stack.node(f"s_f{i}", f"F{i}")
            stack.node(f"s_add{i}", "⊕", shape="circle", fillcolor="#e3f2fd")
            stack.edge(previous, f"s_f{i}")
            stack.edge(previous, f"s_add{i}", color="royalblue", penwidth="2")
            stack.edge(f"s_f{i}", f"s_add{i}")
            previous = f"s_add{i}"
        stack.node("s_y", "y", shape="ellipse", fillcolor="#eeeeee")
        stack.edge(previous, "s_y")
    with dot.subgraph(name="cluster_paths") as view:
        view.attr(label=f"unrolled: {len(paths)} paths, summed", style="rounded", color="gray40")
        view.node("p_x", "x", shape="ellipse", fillcolor="#eeeeee")
        view.node("p_sum", "Σ", shape="circle", fontsize="18", fillcolor="#e3f2fd")
        for k, path in enumerate(paths):
            previous = "p_x"
            if not path:  # the identity path: x straight to the sum
                view.edge("p_x", "p_sum", color="royalblue", penwidth="2", label=" identity path")
                continue
            for i in path:
                node = f"p{k}_f{i}"
                view.node(node, f"F{i}")
                view.edge(previous, node)
                previous = node
            view.edge(previous, "p_sum")
        view.node("p_y", "y", shape="ellipse", fillcolor="#eeeeee")
        view.edge("p_sum", "p_y")
    dot.edge("s_y", "p_x", style="invis")
    return dot
