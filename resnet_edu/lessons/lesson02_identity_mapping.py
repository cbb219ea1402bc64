"""H(x) = F(x) + x: identity mapping and the learned residual (lesson 02; He et al. 2015, §3.1–3.2).

* :func:`zero_init_identity_gap` — a residual block whose last BN weight is zero outputs exactly its input at
  initialisation; its plain twin cannot (it outputs zero instead).
* :func:`learn_identity` — k plain units vs k residual units trained to reproduce their input (§3.1: when the
  best mapping is near the identity, learning a small perturbation of x should be easier for the solver than
  learning the whole mapping anew).
* :func:`learn_correction` — a tiny residual unit trained only on loss(H(x), y) ends with F(x) = y − x,
  although nobody ever computes y − x.
* :func:`loss_gradient` — ∂L/∂H by autograd for the usual reductions of the squared error.

The units compared are :class:`resnet_edu.nets.PlainUnit` and :class:`resnet_edu.nets.ResidualUnit`:
H(x) = W₂σ(W₁x + b₁) + b₂ without and with the shortcut. The figures are drawn by :mod:`resnet_edu.viz`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .. import _checks, nets, viz
from ..nets import KINDS, check_kind
from ..runtime import one_thread, seeded

REDUCTIONS = ("half_sum", "sum", "mean")
INITS = ("default", "he")


MAX_VALUE = 1e6  # the largest |x|, |y| learn_correction takes: float32 squares of more overflow toward inf/NaN
MAX_UNITS = 200  # the most units a stack may have (a bound that keeps a CPU run short)
_LIFT = "Set resnet_edu.lessons.lesson02_identity_mapping.MAX_UNITS higher if you really want more units."


def stack(kind: str, k: int, dim: int = 32, width: int = 64, init: str = "default") -> nn.Sequential:
    """``k`` plain or residual units (``dim`` → ``width`` → ``dim``) in a row, with PyTorch's default init or
    (``init="he"``) He et al. 2015b's: normal weights of variance 2/fan_in, zero biases."""
    residual = check_kind(kind)
    _checks.integer("k", k, low=1, high=MAX_UNITS, lift=_LIFT)
    _checks.choice("init", init, INITS)
    unit = nets.ResidualUnit if residual else nets.PlainUnit
    net = nn.Sequential(*[unit(dim, width) for _ in range(k)])
    return nets.he_init(net) if init == "he" else net


# --- 1. a zero-initialised residual block is exactly the identity ---


@dataclass
class IdentityGap:
    """max |out − x| at initialisation for the blocks of :func:`zero_init_identity_gap`."""

    channels: int
    blocks: int
    residual_block: float  # one zero-init BasicBlock, x ≥ 0 (as after a ReLU)
    residual_stage: float  # a stage of ``blocks`` zero-init BasicBlocks, x ≥ 0
    residual_signed: float  # one zero-init BasicBlock fed a signed x: the final ReLU clips the negatives
    largest_negative: float  # max(−x) of that signed x: what the final ReLU removes
    plain_zero_init: float  # the plain twin with the same zero BN: it outputs 0, so the gap is max |x|
    plain_default: float  # the plain twin with BN weight 1 (the usual init)
    input_max: float  # max |x| of the non-negative input

    def rows(self) -> list[tuple[str, float]]:
        """(label, max |out − x|) for each block measured."""
        return [
            ("residual block, zero-init, x ≥ 0", self.residual_block),
            (f"{self.blocks} residual blocks, zero-init, x ≥ 0", self.residual_stage),
            ("residual block, zero-init, signed x", self.residual_signed),
            ("plain block, zero-init (outputs 0)", self.plain_zero_init),
            ("plain block, default init", self.plain_default),
        ]

    def __str__(self) -> str:
        return "\n".join(f"{label:<40} max|out − x| = {value:.4g}" for label, value in self.rows())

    def plot(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Bar chart of max |block(x) − x| for each block at initialisation."""
        ax = viz.axes(ax, figsize=(7, 3))
        labels, values = zip(*self.rows(), strict=True)
        colors = [viz.KIND_COLORS["plain" if label.startswith("plain") else "residual"] for label in labels]
        bars = ax.barh(labels, values, color=colors)
        ax.bar_label(bars, fmt="%.3g", padding=3)
        ax.invert_yaxis()
        ax.set_xlabel("max |block(x) − x| at initialisation")
        ax.set_title("Which block starts as the identity mapping?")
        ax.set_xlim(0, max(values) * 1.25 + 1e-9)
        return ax


def zero_init(block: nn.Module) -> nn.Module:
    """Zero-initialise a block's residual branch: γ = 0 in the last BN of F (Goyal et al. 2017). Every BN starts
    with β = 0, so F(x) = γ·x̂ + β = 0 and a residual block computes relu(0 + x). Lesson 02 writes its own on the
    page; this is the package's, what ``cifar_net(zero_init_residual=True)`` does to every block."""
    if not isinstance(block, nets.BuildingBlock):
        raise TypeError(f"zero_init takes a resnet_edu.nets.BuildingBlock (such as BasicBlock); got "
                        f"{type(block).__name__}")
    nn.init.zeros_(block.last_bn.weight)
    return block


def zero_init_identity_gap(
    channels: int = 16,
    size: int = 8,
    batch: int = 4,
    blocks: int = 9,
    seed: int = 0,
    block: type[nn.Module] | None = None,
    zero_init: Callable[[nn.Module], object] = zero_init,
) -> IdentityGap:
    """Measure how far blocks of :func:`resnet_edu.nets.cifar_net` are from the identity at initialisation.

    ``zero_init`` (default :func:`zero_init`, lesson 02's page passes its own) zeroes each block's residual branch:
    with γ = 0 in its last BN, F(x) = 0 and a residual BasicBlock computes relu(0 + x) = relu(x): exactly x for
    the non-negative inputs it receives inside the network (they come out of a ReLU), and relu(x) ≠ x for a signed
    input. ``block`` is the block class (default :class:`resnet_edu.nets.BasicBlock`, see
    :func:`resnet_edu.nets.cifar_net`). Goyal et al. 2017 (zero γ); He et al. 2015, §3.1. ``blocks`` is the number
    of blocks per stage (ResNet-56 has 9).
    """
    _checks.integer("channels", channels, low=1, high=256)
    _checks.integer("size", size, low=1, high=256)
    _checks.integer("batch", batch, low=1, high=1024)
    _checks.integer("blocks", blocks, low=1, high=200)
    _checks.seed(seed)
    if not callable(zero_init):
        raise TypeError(f"zero_init must be a function that zero-initialises one block in place; got {zero_init!r}")
    depth = 6 * blocks + 2
    with seeded(seed):
        residual = nets.cifar_net(depth, residual=True, width=channels, block=block).layer1
        plain = nets.cifar_net(depth, residual=False, width=channels, block=block).layer1
        plain_default = nets.cifar_net(depth, residual=False, width=channels, block=block).layer1
    for b in (*residual, *plain):
        zero_init(b)  # after the net's own init, which sets every BN to γ = 1, β = 0
    gen = torch.Generator().manual_seed(seed)
    signed = torch.randn(batch, channels, size, size, generator=gen)
    x = signed.clamp(min=0)  # as after a ReLU: what every block inside the network receives

    def gap(module: nn.Module, inp: torch.Tensor) -> float:
        with torch.no_grad():
            return (module(inp.clone()) - inp).abs().max().item()  # clone: the blocks' ReLUs are in-place

    return IdentityGap(
        channels=channels,
        blocks=blocks,
        residual_block=gap(residual[0], x),
        residual_stage=gap(residual, x),
        residual_signed=gap(residual[0], signed),
        largest_negative=(-signed).max().item(),
        plain_zero_init=gap(plain[0], x),
        plain_default=gap(plain_default[0], x),
        input_max=x.abs().max().item(),
    )


# --- 2. learning the identity: k plain units vs k residual units ---


@dataclass
class IdentityLearning:
    """Result of :func:`learn_identity`: MSE(net(x), x) per kind and k, before and after training."""

    ks: tuple[int, ...]
    steps: int
    dim: int
    width: int
    final: dict[tuple[str, int], float]  # test MSE after training
    initial: dict[tuple[str, int], float]  # test MSE at initialisation
    curves: dict[tuple[str, int], list[float]] = field(repr=False)  # training MSE per step
    init: str = "default"

    def _key(self, kind: str, k: int) -> tuple[str, int]:
        check_kind(kind)
        if isinstance(k, bool) or k not in self.ks:
            raise ValueError(f"k={k!r} was not trained; available: {', '.join(map(str, self.ks))}")
        if (kind, k) not in self.final:
            raise ValueError(f"the {kind} stacks were not trained in this run (kinds={self.kinds()})")
        return kind, k

    def loss(self, kind: str, k: int) -> float:
        """Test MSE between the output and the input after training (0 = perfect identity)."""
        return self.final[self._key(kind, k)]

    def initial_loss(self, kind: str, k: int) -> float:
        """Test MSE at initialisation, before any training."""
        return self.initial[self._key(kind, k)]

    def kinds(self) -> tuple[str, ...]:
        """The kinds trained: ``("plain", "residual")`` unless :func:`learn_identity` was given ``kinds``."""
        return tuple(kind for kind in KINDS if any(key[0] == kind for key in self.final))

    def ratio(self, k: int) -> float:
        """How many times larger the plain stack's final loss is than the residual stack's."""
        return self.loss("plain", k) / self.loss("residual", k)

    def __str__(self) -> str:
        lines = [f"MSE(net(x), x) after {self.steps} Adam steps (dim {self.dim}, width {self.width}, "
                 f"{'PyTorch default' if self.init == 'default' else 'He'} init)"]
        if self.kinds() != KINDS:
            for kind in self.kinds():
                lines += [f"k={k:>3}: {kind} {self.loss(kind, k):<7.3g} (at init {self.initial_loss(kind, k):.3g})"
                          for k in self.ks]
            return "\n".join(lines)
        for k in self.ks:
            lines.append(
                f"k={k:>3}: plain {self.loss('plain', k):<7.3g} residual {self.loss('residual', k):<8.2g}"
                f" plain/residual = {self.ratio(k):>5,.0f}×   (at init: plain {self.initial_loss('plain', k):.3g},"
                f" residual {self.initial_loss('residual', k):.3g})"
            )
        return "\n".join(lines)

    def plot(self, smooth: int = 20):  # noqa: ANN201 (matplotlib Figure)
        """Left: final loss against k (log scale). Right: the training curves."""
        import matplotlib.pyplot as plt

        smooth = _checks.integer("smooth", smooth, low=1)
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
        for kind in self.kinds():
            left.plot(self.ks, [self.loss(kind, k) for k in self.ks], "o-", color=viz.KIND_COLORS[kind], label=kind)
        left.axhline(1.0, ls=":", color="gray", label="output 0 (MSE = Var x = 1)")
        left.set_xscale("log")
        left.set_yscale("log")
        left.set_xticks(self.ks, [str(k) for k in self.ks])
        left.set_xlabel("number of stacked units k")
        left.set_ylabel("test MSE(net(x), x) after training")
        left.set_title("Learning the identity mapping")
        left.grid(True, which="both", alpha=0.3)
        left.legend()
        styles = ["-", "--", ":", "-."]
        for i, k in enumerate(self.ks):
            for kind in self.kinds():
                curve = viz.moving_average(self.curves[(kind, k)], smooth)
                right.plot(curve, styles[i % len(styles)], color=viz.KIND_COLORS[kind], label=f"{kind} k={k}")
        right.set_yscale("log")
        right.set_xlabel("Adam step")
        right.set_ylabel(f"training MSE (moving average of {smooth})")
        right.set_title("Training curves")
        right.grid(True, which="both", alpha=0.3)
        right.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        return fig


def _mse_to_input(net: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        return nn.functional.mse_loss(net(x), x).item()


def learn_identity(
    ks: Sequence[int] = (1, 5, 20),
    steps: int = 500,
    dim: int = 32,
    width: int = 64,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = 1e-3,
    progress: bool = True,
    init: str = "default",
    kinds: Sequence[str] = KINDS,
) -> IdentityLearning:
    """Train k plain units and k residual units (same layers, same init) to output their input x ~ N(0, I).

    Each step draws a fresh batch; the loss is MSE(net(x), x) and the optimiser Adam. The final and initial
    losses are measured on a fixed test batch of 1024 points. He et al. 2015, §3.1: a residual stack only
    needs F = 0, a plain stack has to build the identity out of ReLU layers. Runs on the CPU (the nets are
    tiny). ``init="he"`` is the sceptic's control: He et al. 2015b's init instead of PyTorch's; ``kinds=("plain",)``
    trains only the plain stacks.
    """
    ks = tuple(_checks.integer("every k in ks", k, low=1, high=MAX_UNITS, lift=_LIFT)
               for k in _checks.sequence("ks", ks, unique=True))
    _checks.integer("steps", steps, low=1, high=100_000)
    _checks.integer("dim", dim, low=1, high=4096)
    _checks.integer("width", width, low=1, high=4096)
    _checks.integer("batch_size", batch_size, low=1, high=100_000)
    _checks.seed(seed)
    _checks.number("lr", lr, low=0, low_inclusive=False)
    _checks.flag("progress", progress)
    _checks.choice("init", init, INITS)
    kinds = _checks.sequence("kinds", kinds, unique=True)
    for kind in kinds:
        check_kind(kind)
    with one_thread():  # tiny nets: one thread is as fast and stays steady on a busy machine
        return _learn_identity(ks, steps, dim, width, seed, batch_size, lr, progress, init, kinds)


def _learn_identity(
    ks: tuple[int, ...], steps: int, dim: int, width: int, seed: int, batch_size: int, lr: float, progress: bool,
    init: str = "default",
    kinds: tuple[str, ...] = KINDS,
) -> IdentityLearning:
    test_x = torch.randn(1024, dim, generator=torch.Generator().manual_seed(10_000 + seed))
    final, initial, curves = {}, {}, {}
    runs = [(kind, k) for k in ks for kind in kinds]
    for kind, k in tqdm(runs, desc="learning the identity", disable=not progress):
        with seeded(seed):  # the same init for every run, and the caller's random stream left alone
            net = stack(kind, k, dim, width, init)
        data = torch.Generator().manual_seed(seed + 1)  # the same batches for every net
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        initial[(kind, k)] = _mse_to_input(net, test_x)
        curve = []
        for _ in range(steps):
            x = torch.randn(batch_size, dim, generator=data)
            loss = nn.functional.mse_loss(net(x), x)  # the target is the input itself
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            curve.append(loss.item())
        final[(kind, k)] = _mse_to_input(net, test_x)
        curves[(kind, k)] = curve
    return IdentityLearning(ks, steps, dim, width, final, initial, curves, init)


# --- 3. the learned correction F(x) → y − x ---


def _fmt(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


@dataclass
class Correction:
    """Result of :func:`learn_correction`: F(x), H(x) and the loss at every step."""

    x: list[float]
    y: list[float]
    history: list[list[float]]  # what the layers output (F(x), or H(x) for a plain unit) before each step and after
    losses: list[float]  # loss(H(x), y) before each step, and after the last one
    kind: str = "residual"  # "plain": the layers output H(x) itself, there is no F

    @property
    def final(self) -> list[float]:
        """What the layers output after training: F(x) for a residual unit, H(x) for a plain one."""
        return self.history[-1]

    @property
    def output(self) -> list[float]:
        """H(x) after training: x + F(x) for a residual unit, the layers' output for a plain one."""
        if self.kind == "plain":
            return list(self.final)
        return [a + b for a, b in zip(self.x, self.final, strict=True)]

    def expected(self) -> list[float]:
        """What the layers must output: y − x for a residual unit (computed here only to compare; training never
        computes it), y itself for a plain unit."""
        if self.kind == "plain":
            return list(self.y)
        return [b - a for a, b in zip(self.x, self.y, strict=True)]

    def distance_to_cover(self) -> float:
        """‖target − layers' output at init‖: how far the layers must move (y − x from 0, or y from H₀(x))."""
        return sum((e - h) ** 2 for e, h in zip(self.expected(), self.history[0], strict=True)) ** 0.5

    def error(self) -> float:
        """max |layers' output − what they must output| after training (|F(x) − (y − x)|, or |H(x) − y|)."""
        return max(abs(f - e) for f, e in zip(self.final, self.expected(), strict=True))

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        """F(x) per component over the steps, with y − x dashed; the loss on a log scale."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
        plain = self.kind == "plain"
        for i, target in enumerate(self.expected()):
            line = left.plot([h[i] for h in self.history], label=f"{'H' if plain else 'F'}(x)[{i}]")[0]
            label = f"y[{i}] = {target:+.2f}" if plain else f"y[{i}] − x[{i}] = {target:+.2f}"
            left.axhline(target, ls="--", color=line.get_color(), alpha=0.7, label=label)
        left.set_xlabel("training step")
        left.set_ylabel("H(x) (plain unit)" if plain else "F(x)")
        left.set_title(f"x = {_fmt(self.x)}, y = {_fmt(self.y)}: " +
                       ("the plain unit must build y from scratch" if plain else "F(x) learns the correction y − x"))
        left.grid(True, alpha=0.3)
        left.legend(fontsize=8)
        right.semilogy([max(v, 1e-16) for v in self.losses])
        right.set_xlabel("training step")
        right.set_ylabel("loss = MSE(H(x), y)")
        right.set_title("The only signal: loss(H(x), y)")
        right.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        return fig


def learn_correction(
    x: Sequence[float] | torch.Tensor = (2.0, 3.0),
    y: Sequence[float] | torch.Tensor = (2.1, 2.9),
    steps: int = 100,
    seed: int = 0,
    width: int = 8,
    lr: float = 0.02,
    kind: str = "residual",
) -> Correction:
    """Train a zero-initialised :class:`resnet_edu.nets.ResidualUnit` on one pair (x, y) with SGD and MSE(H(x), y).

    F starts at 0 (H(x) = x); the only training signal is the loss on H(x) = F(x) + x, and F(x) ends at y − x.
    He et al. 2015, §3.1: the layers approximate the residual function F(x) = H(x) − x, not H(x) itself.
    ``kind="plain"`` trains the same layers without the shortcut (:class:`resnet_edu.nets.PlainUnit`, PyTorch's
    default init), which must produce y itself from what it outputs at init.
    """
    residual = check_kind(kind)
    x_t, y_t = _checks.vector("x", x), _checks.vector("y", y)
    if x_t.shape != y_t.shape:
        raise ValueError(f"x and y must have the same length; got {x_t.numel()} and {y_t.numel()}")
    for name, values in (("x", x_t), ("y", y_t)):
        if float(values.abs().max()) > MAX_VALUE:
            raise ValueError(f"{name} must hold values between -{MAX_VALUE:g} and {MAX_VALUE:g}; got "
                             f"{values.tolist()}. Their squared errors in float32 would overflow (to inf, then NaN). "
                             "Set resnet_edu.lessons.lesson02_identity_mapping.MAX_VALUE higher if you really want "
                             "larger values.")
    _checks.integer("steps", steps, low=1, high=100_000)
    _checks.integer("width", width, low=1, high=4096)
    _checks.seed(seed)
    _checks.number("lr", lr, low=0, low_inclusive=False)
    with seeded(seed):
        n = x_t.numel()
        unit = nets.ResidualUnit(n, width, zero_init=True) if residual else nets.PlainUnit(n, width)
    layers = unit.residual if residual else unit  # what the layers output: F(x), or H(x) for the plain unit
    optimizer = torch.optim.SGD(unit.parameters(), lr=lr)
    history = [layers(x_t).detach().tolist()]  # F(x) before training
    losses = []
    for _ in range(steps):
        loss = nn.functional.mse_loss(unit(x_t), y_t)  # unit(x) = F(x) + x: the loss sees only H(x) and y
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        history.append(layers(x_t).detach().tolist())  # F(x) after this step, recorded for the plot
    with torch.no_grad():
        losses.append(nn.functional.mse_loss(unit(x_t), y_t).item())
    if not all(math.isfinite(v) for v in losses):
        first = next(i for i, v in enumerate(losses) if not math.isfinite(v))
        raise ValueError(f"training diverged: the loss became {losses[first]} at step {first} (lr={lr:g}); try a "
                         "smaller lr, or x and y of a smaller size")
    return Correction(x_t.tolist(), y_t.tolist(), history, losses, "residual" if residual else "plain")


def loss_gradient(
    H: Sequence[float] | torch.Tensor, y: Sequence[float] | torch.Tensor, reduction: str = "half_sum"
) -> torch.Tensor:
    """∂L/∂H by autograd for the squared error between the output H and the target y.

    ``reduction``: ``"half_sum"`` L = ½ Σ (H − y)² (gradient H − y), ``"sum"`` L = Σ (H − y)² (gradient
    2(H − y)), ``"mean"`` L = (1/n) Σ (H − y)², PyTorch's default ``MSELoss`` (gradient 2(H − y)/n).
    """
    _checks.choice("reduction", reduction, REDUCTIONS)
    h = _checks.vector("H", H).clone().requires_grad_(True)
    target = _checks.vector("y", y)
    if h.shape != target.shape:
        raise ValueError(f"H and y must have the same length; got {h.numel()} and {target.numel()}")
    if reduction == "half_sum":
        loss = 0.5 * ((h - target) ** 2).sum()
    else:
        loss = nn.functional.mse_loss(h, target, reduction=reduction)
    (grad,) = torch.autograd.grad(loss, h)
    return grad
