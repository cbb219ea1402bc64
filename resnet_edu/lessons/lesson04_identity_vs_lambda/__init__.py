"""Why ``nn.Identity()`` and not ``lambda x: x`` for a shortcut — every popular claim, executed (lesson 04).

The shortcut connection (捷径连接 or 快捷连接; 跳跃连接 is "skip connection") of He et al. 2015, §3.2, Eq. 1 is
y = F(x) + x; when shapes differ, Eq. 2 uses a projection y = F(x) + W_s x (§3.3, option B: a 1×1 convolution). In
PyTorch there are three common ways to write the shortcut of the *same* block, the three *versions* of this module:

* ``"module"`` — a registered ``nn.Module``: ``nn.Identity()`` (or ``nn.Conv2d`` for a projection);
* ``"lambda"`` — a plain function attribute: ``self.shortcut = lambda x: x`` (or ``lambda x: proj(x)``);
* ``"lambda_layer"`` — a :class:`LambdaLayer` module wrapping such a lambda, the pattern a widely used CIFAR ResNet
  reproduction ships for its option-A shortcut.

Each ``probe_…(version, projection=False)`` function builds fresh blocks, runs one claim and returns a
:class:`Probe` ``(ok, detail)``. :data:`PROPERTIES` names the claims; :class:`PropertyTable` collects the rows a
notebook ran (``table.run(name)``) and shows the ✅/❌ table; :func:`property_table` runs them all.
:func:`hidden_modules` finds layers that a lambda closes over and that the model therefore does not know about.

The package: :mod:`~resnet_edu.lessons.lesson04_identity_vs_lambda.blocks` (the three versions, :func:`hidden_modules`),
:mod:`~resnet_edu.lessons.lesson04_identity_vs_lambda.probes` (one claim each) and, here,
the table and the everyday uses of ``nn.Identity``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from torch import nn

from ... import _checks
from ...viz import axes
from .blocks import (
    HEADERS,
    LABELS,
    VERSIONS,
    LambdaLayer,
    Probe,
    ResidualBlock,
    _check_version,
    example_input,
    hidden_modules,
    make_block,
)
from .probes import (
    ClosureBatchNorm,
    closure_batchnorm,
    compile_support,
    probe_cast,
    probe_compile,
    probe_deepcopy,
    probe_fx,
    probe_fx_node,
    probe_hook,
    probe_jit_script,
    probe_jit_trace,
    probe_parameters,
    probe_save_whole,
    probe_state_dict_keys,
    probe_state_dict_roundtrip,
    probe_training,
    probe_visible,
)

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
    "HEADERS", "LABELS", "PROPERTIES", "VERSIONS", "ClosureBatchNorm", "LambdaLayer", "Probe", "Property",
    "PropertyRow", "PropertyTable", "ResidualBlock", "as_feature_extractor", "closure_batchnorm",
    "compile_support", "example_input", "hidden_modules", "make_block", "probe_cast", "probe_compile",
    "probe_deepcopy", "probe_fx", "probe_fx_node", "probe_hook", "probe_jit_script", "probe_jit_trace",
    "probe_parameters", "probe_save_whole", "probe_state_dict_keys", "probe_state_dict_roundtrip",
    "probe_training", "probe_visible", "property_table", "run_property",
]
