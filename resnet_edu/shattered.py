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
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from . import _checks
from . import nets as _nets
from . import runtime as _runtime
from .viz import KIND_COLORS

KINDS = _nets.KINDS
CPU_DEPTHS = (1, 2, 5, 10, 20, 50)
GPU_DEPTHS = (1, 2, 5, 10, 20, 50, 100, 200)


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
