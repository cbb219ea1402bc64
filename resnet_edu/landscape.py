"""The loss landscape around a trained net, plain vs residual (lesson 10; Li et al. 2018, "Visualizing the Loss
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

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import _checks
from . import data as _data
from . import runtime as _runtime
from .viz import KIND_COLORS


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
        the 1-D slice at ±``distance`` minus the centre (a measure of sharpness)."""
        distance = _checks.number("distance", distance, low=0, low_inclusive=False)
        ends = [a for a in self.alphas if math.isclose(abs(a), distance, abs_tol=1e-9)]
        if len(ends) != 2:
            raise ValueError(f"distance must be one of the measured |α| {sorted({abs(a) for a in self.alphas})}; "
                             f"got {distance:g}")
        values = [self.slices[self._net(net)][self.alphas.index(a)] for a in ends]
        return sum(values) / 2 - self.center(net)

    def relative_rise(self, net: str, distance: float = 0.5) -> float:
        """The loss at filter-normalised distance ``distance`` (mean of ±``distance``) divided by the loss at the
        trained weights: how many times the loss grows, which does not favour the net that starts lower."""
        return 1 + self.rise(net, distance) / self.center(net)

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
        rows = [head + f" {'× at 0.5':>9} {'non-convex points':>18}"]
        for net in self.slices:
            rises = " ".join(f"{self.rise(net, d):12.3g}" for d in picks)
            times = f"{self.relative_rise(net, 0.5):9.3g}" if 0.5 in picks else f"{'':>9}"
            rows.append(f"{net:>12} {self.center(net):9.3f} {rises} {times} {self.nonconvexity(net):18.0%}")
        return "\n".join(rows)

    def __str__(self) -> str:
        return (f"training loss around the trained weights ({self.samples} training images; 1-D rises: mean over "
                f"{self.directions} random direction(s); × = loss at ±0.5 / loss at θ)\n" + self.table())

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

