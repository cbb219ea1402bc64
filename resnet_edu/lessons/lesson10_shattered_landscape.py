"""Shattered gradients: in deep plain nets the gradient looks like white noise, in ResNets it stays smooth
(lesson 10; Balduzzi et al. 2017, "The Shattered Gradients Problem: If resnets are the answer, then what is the
question?").

Feed a net with one input x and one output a line of 256 inputs x ∈ [−2, 2] (Balduzzi et al. §2; BatchNorm
normalises with the statistics of the line) and take the gradient ∂f/∂x at every point. In a shallow net it is a
smooth, slowly changing curve ("brown noise"); as a plain net gets deeper, neighbouring points get unrelated
gradients ("white noise"): the lag-1 autocorrelation falls from about 1 to about 0 (Balduzzi et al. Fig. 1–2, and
§3: it decays exponentially with depth). With skip connections it decays far more slowly (§4, sublinearly).

:func:`shattered_study` measures it on the deep MLPs of :func:`resnet_edu.nets.mlp` with BatchNorm and He
initialisation, plain (x → relu(BN(Wx + b))) and residual with one-layer blocks (x → x + relu(BN(Wx + b))).

The second half of the lesson, the loss landscape (Li et al. 2018), follows below.

The loss landscape around a trained net, plain vs residual (lesson 10; Li et al. 2018, "Visualizing the Loss
Landscape of Neural Nets").

Pick random directions δ, η in weight space and plot L(θ + αδ + βη) around the trained weights θ. Raw random
directions mislead, because a net with BatchNorm does not change when a filter is scaled; Li et al. (§4) therefore
*filter-normalise*: every filter of δ (one output channel of a conv, one row of a linear layer) is rescaled to the
norm of the same filter of θ, and BatchNorm parameters and biases are not moved. Then α = 1 means "each filter moved
by as much as its own size", comparable across nets. Li et al. (§5, Fig. 5) found the landscapes of plain and
residual nets alike at 20 layers and the plain net's chaotic from 56 layers on, while the ResNets' stay smooth.

:func:`landscape` evaluates 1-D slices and a 2-D grid for several trained nets with the *same* random numbers
(identically shaped nets get identical raw directions), and returns a :class:`Landscape` with the measurements the
lesson's check cells assert on: the loss at the centre, how fast it rises (:meth:`Landscape.rise`) and how
non-convex the surface is (:meth:`Landscape.nonconvexity`: the share of grid points where the surface curves down in
some direction, the discrete counterpart of Li et al.'s Hessian eigenvalue maps, §6).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .. import _checks
from .. import data as _data
from .. import nets as _nets
from .. import recipes as _recipes
from .. import runtime as _runtime
from .. import work as _work
from ..viz import KIND_COLORS

KINDS = _nets.KINDS
CPU_DEPTHS = (1, 2, 5, 10, 20, 50)
GPU_DEPTHS = (1, 2, 5, 10, 20, 50, 100, 200)
# the trained pair whose landscapes the lesson draws, and the landscape's grid, by scale (recipes.pick)
NETS = {"cpu": (("plain", 20), ("residual", 20)), "gpu": (("plain", 56), ("residual", 56))}
GRID = {"cpu": {"points_1d": 17, "points_2d": 9, "samples": 128},
        "gpu": {"points_1d": 41, "points_2d": 21, "samples": 1024},
        "paper": {"points_1d": 41, "points_2d": 25, "samples": 1024}}
LANDSCAPE_DIRECTIONS = 3


def work(scale: str | None = None) -> _work.Work:
    """What the lesson trains (``NETS`` with ``recipes.QUICK``) and evaluates for its landscapes (``GRID``, 3
    directions) at ``scale``, in ResNet-56-equivalent images (benchmarks/work.py); the gradient studies are small."""
    scale = _work.check_scale(scale)
    recipe, nets, grid = (_recipes.pick(t, scale) for t in (_recipes.QUICK, NETS, GRID))
    items = _work.family_items(recipe, nets, eval_every=0)
    channels, size = _work.data_sizes(recipe.dataset, recipe.image_size)[2:]
    points = LANDSCAPE_DIRECTIONS * grid["points_1d"] + grid["points_2d"] ** 2
    items += [_work.Item(f"landscape {kind}-{depth}", _work.cifar_flops(depth, kind == "residual", recipe.width,
                                                                        channels, size), 0, points * grid["samples"])
              for kind, depth in nets]
    return _work.Work("10", scale, items)


def line(points: int = 256, low: float = -2.0, high: float = 2.0) -> torch.Tensor:
    """``points`` equally spaced inputs from ``low`` to ``high`` as a (points, 1) batch (Balduzzi et al. §2)."""
    points = _checks.integer("points", points, low=3, high=100_000)
    low, high = _checks.number("low", low), _checks.number("high", high)
    if not low < high:
        raise ValueError(f"low must be smaller than high; got low={low:g}, high={high:g}")
    return torch.linspace(low, high, points).unsqueeze(1)


def input_gradients(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """∂f/∂x at every point of the line ``x`` (points, 1) for a net with one input and one output.

    BatchNorm layers normalise with the mean and variance of the whole line (computed in one pass, as a mini-batch
    would), then stay fixed, so that each point's gradient is the derivative of its own output. ``net`` itself is
    not changed (a copy is measured)."""
    _checks.tensor("x", x, ndim=2, channels=1, expected="a line of inputs (points, 1)")
    net = copy.deepcopy(net)
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    counts: dict[nn.Module, int] = {}
    hooks = [m.register_forward_pre_hook(lambda m, args: counts.__setitem__(m, args[0].numel() // args[0].shape[1]))
             for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # the running statistics become those of this one batch: the line
    net.train()
    with torch.no_grad():
        out = net(x)
    for hook in hooks:
        hook.remove()
    for m in norms:  # BN keeps the unbiased variance; normalising used the biased one
        m.running_var.mul_((counts[m] - 1) / counts[m])
    if out.shape != x.shape:
        raise ValueError(f"net must map one input to one output; got output shape {tuple(out.shape)} for "
                         f"input {tuple(x.shape)}")
    net.eval()
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x).sum(), x)
    return grad.squeeze(1)


def autocorrelation(values: torch.Tensor | Sequence[float], lag: int = 1) -> float:
    """Lag-``lag`` autocorrelation of a sequence (mean removed): about 1 for a smooth curve (brown noise), about 0
    for white noise (Balduzzi et al. Fig. 2). Needs at least 3 values (and ``lag`` ≤ their number − 2): with fewer,
    the mean removed leaves nothing to correlate (two values always give −0.5)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().flatten()
    g = _checks.vector("values", values, dtype=torch.float64, example="[0.1, 0.3, 0.2, 0.5]")
    if len(g) < 3:
        raise ValueError(f"values must hold at least 3 numbers for an autocorrelation; got {len(g)}")
    lag = _checks.integer("lag", lag, low=1)
    if lag > len(g) - 2:
        raise ValueError(f"lag must be at most {len(g) - 2} for {len(g)} values (a lag needs at least 2 pairs of "
                         f"values to correlate); got {lag}")
    g = g - g.mean()
    energy = float((g * g).sum())
    if energy == 0.0:
        raise ValueError("values are constant, so their autocorrelation is undefined")
    return float((g[lag:] * g[:-lag]).sum()) / energy


def line_net(kind: str, depth: int, width: int = 200, seed: int = 0, low: float = -2.0,
             high: float = 2.0) -> nn.Sequential:
    """The nets of the study: 1 input → ``depth`` hidden layers of ``width`` with ReLU → 1 output, He-initialised;
    ``"residual"`` wraps each hidden layer as x + relu(BN(Wx + b)) (one-layer blocks).

    Every hidden layer but the first has BatchNorm. The first one has none, and its biases put each unit's kink
    (where relu(w·x + b) bends) at its own random point of the line [``low``, ``high``]: a BN over inputs that
    depend on the single number x would centre every unit at the line's mean, so all 200 kinks would sit at the
    same x and a one-layer net's gradient would be one step (lesson 10's fix of that experiment)."""
    residual = _nets.check_kind(kind)
    with _runtime.seeded(_checks.seed(seed)):
        net = _nets.mlp(depth, width=width, in_features=1, out_features=1, residual=residual, batch_norm=True,
                        init="he")
        first = net[1]
        first.bn = nn.Identity()
        with torch.no_grad():
            slope = first.linear.weight @ net[0].weight  # the first hidden layer's pre-activation is slope·x + b
            kinks = torch.empty(width).uniform_(low, high)
            first.linear.bias.copy_(-slope.squeeze(1) * kinks)  # slope·(x − kink): zero at x = kink
    return net


@dataclass
class ShatteredResult:
    """Gradients along the line and their lag-1 autocorrelations for plain and residual nets at several depths.

    ``gradients[(kind, depth)]``: ∂f/∂x along ``x`` for the first seed. ``autocorr[(kind, depth)]``: the lag-1
    autocorrelation, mean over the seeds. ``white`` and ``brown``: the same number for white noise and for brown
    noise (its running sum), the two ends of Balduzzi et al.'s scale.
    """

    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    x: torch.Tensor
    gradients: dict[tuple[str, int], torch.Tensor]
    autocorr: dict[tuple[str, int], float]
    white: float
    brown: float

    def curve(self, kind: str) -> list[float]:
        """Lag-1 autocorrelation against depth for one kind of net."""
        _nets.check_kind(kind)
        return [self.autocorr[kind, d] for d in self.depths]

    def table(self) -> str:
        head = f"{'depth':>9} " + " ".join(f"{d:>6}" for d in self.depths)
        rows = [head] + [f"{kind:>9} " + " ".join(f"{v:6.2f}" for v in self.curve(kind)) for kind in KINDS]
        rows.append(f"(white noise {self.white:.2f}, brown noise {self.brown:.2f}; mean over {len(self.seeds)} seeds)")
        return "\n".join(rows)

    def __str__(self) -> str:
        return "lag-1 autocorrelation of ∂f/∂x along the line\n" + self.table()

    def plot(self, depths: Sequence[int] | None = None):  # noqa: ANN201 (matplotlib Figure)
        """Top: the gradient curves of plain and residual nets at three depths (Balduzzi et al. Fig. 1); bottom:
        the autocorrelation against depth (their Fig. 2–3 in one number per net)."""
        import matplotlib.pyplot as plt

        middle = self.depths[len(self.depths) // 2]
        shown = tuple(dict.fromkeys(depths if depths is not None else (self.depths[0], middle, self.depths[-1])))
        for d in shown:
            if d not in self.depths:
                raise ValueError(f"depths must be among the measured {self.depths}; got {d!r}")
        fig = plt.figure(figsize=(14, 7))
        grid = fig.add_gridspec(2, len(shown))
        x = self.x.squeeze(1).numpy()
        for j, d in enumerate(shown):
            ax = fig.add_subplot(grid[0, j])
            for kind in KINDS:
                g = self.gradients[kind, d]
                ax.plot(x, (g / g.abs().max()).numpy(), color=KIND_COLORS[kind], lw=1,
                        label=f"{kind}: autocorrelation {self.autocorr[kind, d]:.2f}")
            ax.set_title(f"depth {d}: ∂f/∂x along the line")
            ax.set_xlabel("input x")
            ax.set_ylabel("∂f/∂x (scaled to max 1)")
            ax.legend(fontsize=8, loc="lower left")
        ax = fig.add_subplot(grid[1, :])
        for kind in KINDS:
            ax.plot(self.depths, self.curve(kind), "o-", color=KIND_COLORS[kind], label=kind)
        ax.axhline(self.brown, color="brown", ls="--", lw=1, label=f"brown noise ({self.brown:.2f})")
        ax.axhline(self.white, color="grey", ls=":", lw=1, label=f"white noise ({self.white:.2f})")
        ax.set_xscale("log")
        ax.set_xticks(self.depths, [str(d) for d in self.depths])
        ax.set_xlabel("depth (hidden layers)")
        ax.set_ylabel("lag-1 autocorrelation of ∂f/∂x")
        ax.set_title("How the gradient shatters with depth (Balduzzi et al. 2017)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig


def shattered_study(
    depths: Sequence[int] = CPU_DEPTHS, seeds: int = 3, width: int = 200, points: int = 256, progress: bool = True,
    seed: int = 0,
) -> ShatteredResult:
    """Measure ∂f/∂x along a line of ``points`` inputs in [−2, 2] for plain and residual nets (:func:`line_net`) at
    every depth of ``depths``, with the ``seeds`` seeds ``seed``, ``seed`` + 1, … (Balduzzi et al. 2017, §2–4); the
    white-noise reference is drawn from ``seed`` too."""
    depths = tuple(_checks.integer("depth", d, low=1, high=1000) for d in _checks.sequence("depths", depths,
                                                                                        unique=True))
    depths = tuple(sorted(depths))
    seed = _checks.seed(seed)
    seeds = tuple(range(seed, seed + _checks.integer("seeds", seeds, low=1, high=100)))
    width = _checks.integer("width", width, low=2, high=4096)
    x = line(points)
    gradients, autocorr = {}, {}
    jobs = [(kind, d) for kind in KINDS for d in depths]
    with _runtime.one_thread():
        for kind, d in tqdm(jobs, desc="gradients along the line", disable=not progress):
            values = []
            for s in seeds:
                g = input_gradients(line_net(kind, d, width, s), x)
                values.append(autocorrelation(g))
                if s == seeds[0]:
                    gradients[kind, d] = g
            autocorr[kind, d] = sum(values) / len(values)
    with _runtime.seeded(seed):
        white = torch.randn(points, dtype=torch.float64)
    return ShatteredResult(depths, seeds, x, gradients, autocorr, autocorrelation(white),
                           autocorrelation(white.cumsum(0)))


# --- the loss landscape (Li et al. 2018) ----------------------------------------------------------------------


def filter_normalized_direction(model: nn.Module, generator: torch.Generator) -> list[torch.Tensor]:
    """A random Gaussian direction with one tensor per parameter of ``model``, filter-normalised (Li et al. 2018,
    §4, Eq. 2): d_ij ← d_ij / ‖d_ij‖ · ‖θ_ij‖ for each filter j of layer i; parameters with one dimension
    (biases, BatchNorm's γ and β) get 0."""
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    direction = []
    for p in model.parameters():
        if p.dim() <= 1:
            direction.append(torch.zeros_like(p))
            continue
        d = torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p)
        shape = (-1,) + (1,) * (p.dim() - 1)
        d = d * (p.detach().flatten(1).norm(dim=1) / d.flatten(1).norm(dim=1).clamp_min(1e-12)).view(shape)
        direction.append(d)
    return direction


@torch.no_grad()
def _loss_at(model: nn.Module, base: list[torch.Tensor], d1: list[torch.Tensor], d2: list[torch.Tensor],
             a: float, b: float, x: torch.Tensor, y: torch.Tensor) -> float:
    for p, w, u, v in zip(model.parameters(), base, d1, d2):
        p.copy_(w + a * u + b * v)  # θ + αδ + βη
    return float(F.cross_entropy(model(x).float(), y))


@dataclass
class Landscape:
    """Training loss around trained nets along filter-normalised random directions (Li et al. 2018).

    ``alphas``: the 1-D coordinates; ``slices[net]``: the loss along the 1-D directions, mean over them
    (``each_slice[net][i]``: along direction i alone; direction 0 is the δ of the 2-D grid). ``grid``: the 2-D
    coordinates (the same along both axes); ``surfaces[net][i, j]``: the loss at α = grid[j], β = grid[i].
    """

    alphas: list[float]
    slices: dict[str, list[float]]
    grid: list[float]
    surfaces: dict[str, torch.Tensor]
    samples: int
    each_slice: dict[str, list[list[float]]] = field(default_factory=dict)

    @property
    def directions(self) -> int:
        """How many random directions the 1-D slices average over."""
        return max((len(v) for v in self.each_slice.values()), default=1)

    def _net(self, net: str) -> str:
        if net not in self.slices:
            raise ValueError(f"net must be one of {', '.join(map(repr, self.slices))}; got {net!r}")
        return net

    def center(self, net: str) -> float:
        """The loss at the trained weights (α = β = 0)."""
        return self.slices[self._net(net)][self.alphas.index(0.0)]

    def rise(self, net: str, distance: float = 0.5) -> float:
        """How much the loss rises at filter-normalised distance ``distance`` from the trained weights: the mean of
        the 1-D slice at ±``distance`` minus the centre. An absolute rise at a distance that means the same in every
        net (each filter moved by ``distance`` times its own norm) compares sharpness; a rise divided by the loss at
        θ would not: near a training loss of 0 any rise is a large factor (lesson 10)."""
        distance = _checks.number("distance", distance, low=0, low_inclusive=False)
        ends = [a for a in self.alphas if math.isclose(abs(a), distance, abs_tol=1e-9)]
        if len(ends) != 2:
            raise ValueError(f"distance must be one of the measured |α| {sorted({abs(a) for a in self.alphas})}; "
                             f"got {distance:g}")
        values = [self.slices[self._net(net)][self.alphas.index(a)] for a in ends]
        return sum(values) / 2 - self.center(net)

    @property
    def span(self) -> float:
        """The largest filter-normalised distance measured along the 1-D slices, max |α| (1 in lesson 10)."""
        return max(abs(a) for a in self.alphas)

    def nonconvexity(self, net: str) -> float:
        """Share of the inner grid points where the surface curves *down* in some direction: the smaller eigenvalue
        of the finite-difference Hessian of the loss is negative (0 = a convex-looking bowl; Li et al. 2018, §6, map
        the same sign with the Hessian's exact eigenvalues)."""
        z = self.surfaces[self._net(net)].double()
        zxx = z[1:-1, 2:] - 2 * z[1:-1, 1:-1] + z[1:-1, :-2]
        zyy = z[2:, 1:-1] - 2 * z[1:-1, 1:-1] + z[:-2, 1:-1]
        zxy = (z[2:, 2:] - z[2:, :-2] - z[:-2, 2:] + z[:-2, :-2]) / 4
        smaller = (zxx + zyy) / 2 - torch.sqrt(((zxx - zyy) / 2) ** 2 + zxy**2)
        return float((smaller < 0).double().mean())

    def table(self) -> str:
        distances = sorted({abs(a) for a in self.alphas if a > 0})
        picks = [d for d in (0.25, 0.5, 1.0) if any(math.isclose(d, e) for e in distances)] or distances[-1:]
        head = f"{'net':>12} {'loss at θ':>9} " + " ".join(f"{'rise at ' + format(d, 'g'):>12}" for d in picks)
        rows = [head + f" {'non-convex points':>18}"]
        for net in self.slices:
            rises = " ".join(f"{self.rise(net, d):12.3g}" for d in picks)
            rows.append(f"{net:>12} {self.center(net):9.3f} {rises} {self.nonconvexity(net):18.0%}")
        return "\n".join(rows)

    def __str__(self) -> str:
        return (f"training loss around the trained weights ({self.samples} training images; 1-D rises: mean over "
                f"{self.directions} random direction(s): loss at ±α minus loss at θ)\n" + self.table())

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        """1-D slices of every net on one log axis (Li et al. Fig. 2 style), and one 2-D contour of log₁₀ loss per
        net with the same axes and the same contour levels (Li et al. Fig. 5)."""
        import matplotlib.pyplot as plt

        nets = list(self.slices)
        fig, axes = plt.subplots(1, 1 + len(nets), figsize=(5 * (1 + len(nets)), 4.2), layout="constrained")
        for net in nets:
            for curve in self.each_slice.get(net, []) if self.directions > 1 else []:
                axes[0].plot(self.alphas, curve, color=_color(net), lw=0.6, alpha=0.35)
            axes[0].plot(self.alphas, self.slices[net], color=_color(net), lw=2,
                         label=f"{net} (mean of {self.directions} directions)" if self.directions > 1 else net)
        axes[0].set_yscale("log")
        axes[0].set_xlabel("α (filter-normalised direction δ)")
        axes[0].set_ylabel("training loss (log scale)")
        axes[0].set_title("1-D slices L(θ + αδ)")
        axes[0].grid(True, alpha=0.3)
        axes[0].legend(fontsize=8)
        logs = {net: self.surfaces[net].log10().numpy() for net in nets}
        low = min(float(z.min()) for z in logs.values())
        high = max(float(z.max()) for z in logs.values())
        levels = [low + (high - low) * i / 14 for i in range(15)]
        for ax, net in zip(axes[1:], nets):
            filled = ax.contourf(self.grid, self.grid, logs[net], levels=levels, cmap="viridis")
            ax.contour(self.grid, self.grid, logs[net], levels=levels, colors="white", linewidths=0.5)
            ax.plot(0, 0, "r*", markersize=10, label="trained weights θ")
            ax.set_aspect("equal")
            ax.set_title(f"{net}: log₁₀ L(θ + αδ + βη)")
            ax.set_xlabel("α")
            ax.set_ylabel("β")
            ax.legend(fontsize=8, loc="upper right")
        fig.colorbar(filled, ax=list(axes[1:]), label="log₁₀ training loss (same levels in every panel)")
        return fig

    def plot_surface(self):  # noqa: ANN201 (matplotlib Figure)
        """The 2-D grids as 3-D surfaces of log₁₀ loss, side by side with the same vertical axis (Li et al. Fig. 1)."""
        import matplotlib.pyplot as plt

        nets = list(self.surfaces)
        fig = plt.figure(figsize=(6 * len(nets), 4.5), layout="constrained")
        g = torch.tensor(self.grid)
        xx, yy = torch.meshgrid(g, g, indexing="xy")
        top = max(float(s.log10().max()) for s in self.surfaces.values())
        bottom = min(float(s.log10().min()) for s in self.surfaces.values())
        for j, net in enumerate(nets):
            ax = fig.add_subplot(1, len(nets), j + 1, projection="3d")
            ax.plot_surface(xx.numpy(), yy.numpy(), self.surfaces[net].log10().numpy(), cmap="viridis",
                            vmin=bottom, vmax=top)
            ax.set_zlim(bottom, top)
            ax.set_title(net)
            ax.set_xlabel("α")
            ax.set_ylabel("β")
            ax.set_zlabel("log₁₀ training loss")
        return fig


def _color(net: str) -> str:
    return KIND_COLORS["plain" if net.startswith("plain") else "residual"]


def landscape(
    models: Mapping[str, nn.Module],
    data: _data.ImageData,
    span: float = 1.0,
    points_1d: int = 17,
    points_2d: int = 9,
    samples: int = 256,
    seed: int = 0,
    progress: bool = True,
    directions: int = 1,
) -> Landscape:
    """Evaluate the training loss of each net in ``models`` (name → trained net) on the first ``samples`` images of
    ``data`` along a filter-normalised random direction (``points_1d`` values of α in [−span, span]) and on a
    ``points_2d`` × ``points_2d`` grid of two directions (Li et al. 2018, §4–5). Every net gets directions drawn from
    the same seed; its weights are restored afterwards. BatchNorm uses its running statistics (eval mode).
    The 1-D slices are measured along ``directions`` random directions and averaged (one direction's rise is one
    random draw: lesson 10 averages several); the first of them is the grid's δ."""
    if not isinstance(models, Mapping) or not models:
        raise TypeError(f"models must be a non-empty dict of name -> trained net; got {type(models).__name__}")
    for name, model in models.items():
        _checks.module(f"models[{name!r}]", model)
    data = _data.image_data("data", data)
    span = _checks.number("span", span, low=0, high=10, low_inclusive=False)
    points_1d = _checks.integer("points_1d", points_1d, low=3, high=201)
    points_2d = _checks.integer("points_2d", points_2d, low=3, high=101, lift="A finer grid takes minutes per net.")
    for name, n in (("points_1d", points_1d), ("points_2d", points_2d)):
        if n % 2 == 0:
            raise ValueError(f"{name} must be odd, so that the trained weights (0) are on the grid; got {n}")
    samples = _checks.integer("samples", samples, low=1)
    if samples > len(data):
        raise ValueError(f"samples must be at most the number of images in data ({len(data)}); got {samples}")
    seed = _checks.seed(seed)
    directions = _checks.integer("directions", directions, low=1, high=100)
    alphas = [round(span * (2 * i / (points_1d - 1) - 1), 12) for i in range(points_1d)]
    grid = [round(span * (2 * i / (points_2d - 1) - 1), 12) for i in range(points_2d)]
    slices, surfaces, each_slice = {}, {}, {}
    total = len(models) * (directions * points_1d + points_2d**2)
    with _runtime.one_thread(), tqdm(total=total, desc="loss landscape", disable=not progress) as bar:
        for name, model in models.items():
            dev = next(model.parameters()).device
            x, y = data.x[:samples].to(dev), data.y[:samples].to(dev)
            generator = torch.Generator().manual_seed(seed)
            d1 = filter_normalized_direction(model, generator)  # δ, then η: the same numbers for every net
            d2 = filter_normalized_direction(model, generator)
            more = [filter_normalized_direction(model, generator) for _ in range(directions - 1)]
            base = [p.detach().clone() for p in model.parameters()]
            was_training = model.training
            model.eval()
            try:
                each_slice[name] = []
                for d in [d1, *more]:
                    each_slice[name].append([])
                    for a in alphas:
                        each_slice[name][-1].append(_loss_at(model, base, d, d2, a, 0.0, x, y))
                        bar.update(1)
                slices[name] = [sum(v) / len(v) for v in zip(*each_slice[name])]
                surface = torch.empty(points_2d, points_2d, dtype=torch.float64)
                for i, b in enumerate(grid):
                    for j, a in enumerate(grid):
                        surface[i, j] = _loss_at(model, base, d1, d2, a, b, x, y)
                        bar.update(1)
                surfaces[name] = surface
            finally:
                with torch.no_grad():
                    for p, w in zip(model.parameters(), base):
                        p.copy_(w)
                model.train(was_training)
    return Landscape(alphas, slices, grid, surfaces, samples, each_slice)

