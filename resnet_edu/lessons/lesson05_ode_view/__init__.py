"""The ODE view of residual networks (lesson 05).

A residual block computes x_{t+1} = x_t + F(x_t) (He et al. 2015, Eq. 1; Chen et al. 2018, "Neural Ordinary
Differential Equations", Eq. 1). Write F = h·f and it is one *forward-Euler step* of size h of the ordinary
differential equation dx/dt = f(x) (Chen et al. 2018, Eq. 2). A stack of N such blocks that all share the same f
(weight-tied) with h = T/N integrates the ODE from t = 0 to t = T, and as N grows it converges to the ODE's exact
solution, with an error that shrinks like h¹: Euler is a first-order method. Other step rules give other residual
blocks: the midpoint rule (order 2) and the classical Runge–Kutta rule RK4 (order 4) (Hairer, Nørsett & Wanner,
"Solving Ordinary Differential Equations I", §II.1; the global error ≤ C·h^p of an order-p method is their §II.3,
Theorem 3.4). The residual-block-as-Euler-step reading is E 2017 ("A proposal on machine learning via dynamical
systems"), Haber & Ruthotto 2017 ("Stable architectures for deep neural networks") and Lu et al. 2018 ("Beyond
finite layer neural networks", ICML), before Chen et al. 2018 made it Neural ODEs.

What this module offers, in lesson order:

* step rules :func:`euler_step`, :func:`midpoint_step`, :func:`rk4_step` and the modules built from them,
  :class:`StepBlock` and the weight-tied :class:`ResidualStack`;
* :func:`vector_field` (a fixed smooth f), :func:`solve`, :func:`reference_solution`, and :func:`convergence`,
  which measures the order of each rule from a log-log fit (:func:`measured_order`);
* a 2-D task: :func:`two_spirals`, the weight-tied :class:`ODENet`, :func:`train_ode_net` → :class:`FlowResult`
  (trajectories, decision boundary and accuracy for any number of steps);
* the figures (``result.plot()``) and the step slider :func:`step_explorer`, in
  :mod:`resnet_edu.lessons.lesson05_ode_view.figures`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ... import _checks
from ...runtime import one_thread, seeded
from . import figures
from .figures import step_explorer as step_explorer  # the slider: lesson.step_explorer(result)

Field = Callable[[torch.Tensor], torch.Tensor]
StepRule = Callable[[Field, torch.Tensor, float], torch.Tensor]
EulerLoop = Callable[[Field, torch.Tensor, float, int], torch.Tensor]  # euler(f, x0, T, N) -> x_N


# --- step rules: one residual block each -------------------------------------------------------------------------

def euler_step(f: Field, x: torch.Tensor, h: float) -> torch.Tensor:
    """Forward Euler: x + h·f(x) — exactly a residual block with F = h·f. Order 1, one evaluation of f."""
    h = _checks.number("h (the step size)", h)
    return x + h * f(x)  # x_{t+1} = x_t + h f(x_t)


def midpoint_step(f: Field, x: torch.Tensor, h: float) -> torch.Tensor:
    """Explicit midpoint rule (RK2): a half Euler step to look ahead, then a full step with the slope found there.
    Order 2, two evaluations of f."""
    h = _checks.number("h (the step size)", h)
    return x + h * f(x + 0.5 * h * f(x))


def rk4_step(f: Field, x: torch.Tensor, h: float) -> torch.Tensor:
    """Classical Runge–Kutta (RK4): a weighted mean of four slopes. Order 4, four evaluations of f."""
    h = _checks.number("h (the step size)", h)
    k1 = f(x)
    k2 = f(x + 0.5 * h * k1)
    k3 = f(x + 0.5 * h * k2)
    k4 = f(x + h * k3)
    return x + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6


STEP_RULES: dict[str, StepRule] = {"euler": euler_step, "midpoint": midpoint_step, "rk4": rk4_step}
ORDER = {"euler": 1, "midpoint": 2, "rk4": 4}  # the theory: global error ∝ h^order
EVALUATIONS = {"euler": 1, "midpoint": 2, "rk4": 4}  # evaluations of f per step (the cost of one block)


MAX_STEPS = 100_000  # the most blocks a stack or solve may take (a bound that keeps a CPU run short)
_LIFT = "Set resnet_edu.lessons.lesson05_ode_view.MAX_STEPS higher if you really want more blocks."


def step_rule(method: str | StepRule) -> StepRule:
    """The step function for ``method`` ("euler", "midpoint", "rk4"), or ``method`` itself if it is callable."""
    if callable(method):
        return method
    if not isinstance(method, str) or method not in STEP_RULES:
        raise ValueError(f"method must be one of {', '.join(STEP_RULES)} or a function step(f, x, h); got {method!r}")
    return STEP_RULES[method]


def _time(T: object) -> float:
    return _checks.number("T (the integration time)", T, low=0, low_inclusive=False)


def _steps(value: object, name: str = "steps") -> int:
    return _checks.integer(name, value, low=1, high=MAX_STEPS, lift=_LIFT)


def _state(f: Field, x: object, name: str = "x0") -> torch.Tensor:
    """``x`` as the field's input: a finite float tensor (…, dim) in the dtype of ``f``'s weights. A float32 input
    to a float64 field is converted (nothing is lost); the other way round is refused with a sentence."""
    x = _checks.tensor(name, x, expected="the starting points, shape (n, dim)")
    if not x.is_floating_point():
        raise TypeError(f"{name} must hold floating-point numbers; got {x.dtype} (use .double())")
    weights = next((p for p in f.parameters()), None) if isinstance(f, nn.Module) else None
    if weights is not None and x.dtype != weights.dtype:
        if x.dtype.itemsize < weights.dtype.itemsize:
            x = x.to(weights.dtype)  # float32 → float64: exact
        else:
            raise TypeError(f"{name} is {x.dtype} but the field f computes in {weights.dtype}; convert one of them "
                            f"(e.g. {name}.to({weights.dtype}) or f.to({x.dtype}))")
    first = next((m for m in f.modules() if isinstance(m, nn.Linear)), None) if isinstance(f, nn.Module) else None
    if first is not None and (x.dim() == 0 or x.shape[-1] != first.in_features):
        raise ValueError(f"{name} must have {first.in_features} features in its last dimension (the field's "
                         f"dimension); got shape {tuple(x.shape)}")
    return x


class StepBlock(nn.Module):
    """One residual block that is one step of size ``h`` of a step rule: Euler gives x + h·f(x). (Named for the
    step it takes; the CIFAR-style residual block with a shortcut module is :class:`resnet_edu.nets.BasicBlock`.)

    ``f`` is a module shared with the other blocks of a :class:`ResidualStack` (weight tying)."""

    def __init__(self, f: nn.Module, h: float, method: str | StepRule = "euler") -> None:
        super().__init__()
        self.f = _checks.function("f", f, "f(x) -> dx/dt")
        self.h = _checks.number("h (the step size)", h)
        self.method = method if isinstance(method, str) else getattr(method, "__name__", "custom")
        self.rule = step_rule(method)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rule(self.f, x, self.h)

    def extra_repr(self) -> str:
        return f"method={self.method}, h={self.h:g}"


class ResidualStack(nn.Module):
    """N weight-tied residual blocks with step h = T/N: it integrates dx/dt = f(x) from 0 to T (Chen et al. 2018,
    Eq. 1–2). All blocks hold the *same* f, so the parameter count does not grow with N."""

    def __init__(self, f: nn.Module, steps: int, T: float = 1.0, method: str | StepRule = "euler") -> None:
        super().__init__()
        self.steps = _steps(steps)
        self.T = _time(T)
        self.f = _checks.function("f", f, "f(x) -> dx/dt")
        self.blocks = nn.ModuleList(StepBlock(f, self.T / self.steps, method) for _ in range(self.steps))

    @property
    def h(self) -> float:
        """The step size T/N."""
        return self.T / self.steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x

    def trajectory(self, x: torch.Tensor) -> torch.Tensor:
        """x_0, x_1, …, x_N stacked: shape (N + 1, *x.shape)."""
        states = [x]
        for block in self.blocks:
            states.append(block(states[-1]))
        return torch.stack(states)


# --- convergence: the stack approaches the ODE solution as N grows ------------------------------------------------

def vector_field(dim: int = 2, hidden: int = 16, seed: int = 0, dtype: torch.dtype = torch.float64) -> nn.Module:
    """A fixed smooth vector field f(x) = W₂ tanh(W₁x + b₁) + b₂ with random (seeded) weights, in float64 by
    default so that the errors of high-order rules are not swamped by rounding."""
    _checks.integer("dim", dim, low=1, high=1024)
    _checks.integer("hidden", hidden, low=1, high=4096)
    dtype = _checks.choice("dtype", dtype, (torch.float32, torch.float64))
    g = torch.Generator().manual_seed(_checks.seed(seed))
    f = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim)).to(dtype)
    with torch.no_grad():
        f[0].weight.copy_(torch.randn(hidden, dim, generator=g, dtype=dtype) * 1.5 / math.sqrt(dim))
        f[0].bias.copy_(torch.randn(hidden, generator=g, dtype=dtype) * 0.5)
        f[2].weight.copy_(torch.randn(dim, hidden, generator=g, dtype=dtype) * 1.5 / math.sqrt(hidden))
        f[2].bias.copy_(torch.randn(dim, generator=g, dtype=dtype) * 0.2)
    return f


@one_thread()
@torch.no_grad()
def solve(
    f: Field, x0: torch.Tensor, T: float = 1.0, steps: int = 10, method: str | StepRule = "euler"
) -> torch.Tensor:
    """x(T) approximated by ``steps`` steps of ``method`` from x(0) = ``x0`` — the output of an N-block stack.

    ``x0`` in float32 is converted to the float64 of :func:`vector_field` (exact); NaN/inf in ``x0`` is refused."""
    _checks.function("f", f, "f(x) -> dx/dt")
    x = _state(f, x0)
    h = _time(T) / _steps(steps)
    rule = step_rule(method)
    for _ in range(steps):
        x = rule(f, x, h)
    return x


def reference_solution(f: Field, x0: torch.Tensor, T: float = 1.0, steps: int = 2048) -> torch.Tensor:
    """The 'exact' x(T): RK4 with very small steps (error ∝ h⁴, far below what the convergence study measures)."""
    _steps(steps, "reference_steps")
    return solve(f, x0, T, steps, "rk4")


def measured_order(steps: Sequence[int], errors: Sequence[float]) -> float:
    """The order p in error ≈ C·N^(−p): minus the least-squares slope of log(error) against log(N).

    ``steps`` must hold at least two *different* N (a slope needs two points)."""
    steps = [_steps(n, "every N in steps") for n in _checks.sequence("steps", steps, min_len=2, unique=True)]
    errors = _checks.sequence("errors", errors)
    if len(steps) != len(errors):
        raise ValueError(f"need one error per N: {len(steps)} values of N but {len(errors)} errors")
    for e in errors:
        _checks.number("every error", e, low=0, low_inclusive=False)
    slope = np.polyfit(np.log(np.asarray(steps, float)), np.log(np.asarray(errors, float)), 1)[0]
    return float(-slope)


@dataclass
class Convergence:
    """Error at time T of the N-step stack against the reference solution, per method, and the measured orders."""

    steps: list[int]
    errors: dict[str, list[float]]  # method -> max over the points of ‖x_N − x(T)‖, one per N
    orders: dict[str, float]  # method -> measured order (slope on log-log axes)
    T: float
    reference_steps: int

    def __str__(self) -> str:
        head = f"{'N':>6}" + "".join(f"{name:>12}" for name in self.errors)
        rows = [f"{n:>6}" + "".join(f"{errs[i]:>12.2e}" for errs in self.errors.values())
                for i, n in enumerate(self.steps)]
        orders = f"{'order':>6}" + "".join(f"{self.orders[name]:>12.2f}" for name in self.errors)
        return "\n".join([f"error at T = {self.T:g} against RK4 with {self.reference_steps} steps", head, *rows,
                          orders])

    def plot(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Error against N on log-log axes, one line per method (:func:`figures.plot_convergence`)."""
        return figures.plot_convergence(self, ax)


def convergence(
    f: Field | None = None,
    x0: torch.Tensor | None = None,
    T: float = 1.0,
    steps: Sequence[int] = (16, 32, 64, 128, 256),
    methods: Sequence[str] | Mapping[str, StepRule] = ("euler", "midpoint", "rk4"),
    reference_steps: int = 2048,
    euler: EulerLoop | None = None,
) -> Convergence:
    """Run the N-step stack for every N in ``steps`` and every method; measure each method's order of accuracy.

    Defaults: the float64 :func:`vector_field` (seed 0) and 64 starting points drawn from N(0, 1). ``methods`` may
    map names to your own step functions ``step(f, x, h)`` (lesson 05's exercise). ``euler`` is an Euler loop
    ``euler(f, x0, T, N)`` that computes the ``"euler"`` column instead of :func:`solve` (lesson 05 passes the
    loop written on its page; the package's is ``solve(f, x0, T, N, "euler")``, the same numbers bit for bit).
    """
    f = vector_field() if f is None else _checks.function("f", f, "f(x) -> dx/dt")
    if x0 is None:
        x0 = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x0 = _state(f, x0)
    _time(T)
    _steps(reference_steps, "reference_steps")
    steps = [_steps(n, "every N in steps") for n in _checks.sequence("steps", steps, min_len=2, unique=True)]
    if isinstance(methods, Mapping):
        rules = {str(name): _checks.function(f"methods[{name!r}]", rule, "step(f, x, h)")
                 for name, rule in methods.items()}
    else:
        rules = {m: step_rule(m) for m in _checks.sequence("methods", methods, unique=True)}
    if not rules:
        raise ValueError("methods must name at least one step rule, e.g. ('euler', 'rk4')")
    if euler is not None:
        _checks.function("euler", euler, "euler(f, x0, T, N) -> x_N")
        if "euler" not in rules:
            raise ValueError(f"euler= computes the 'euler' column, but methods has none: {', '.join(rules)}")
    exact = reference_solution(f, x0, T, reference_steps)

    def end_point(name: str, rule: StepRule, n: int) -> torch.Tensor:
        if name == "euler" and euler is not None:
            with torch.no_grad(), one_thread():  # as in solve
                return _checks.tensor("euler(f, x0, T, N)", euler(f, x0, float(T), n), finite=False)
        return solve(f, x0, T, n, rule)

    errors = {
        name: [float((end_point(name, rule, n) - exact).norm(dim=-1).max()) for n in steps]
        for name, rule in rules.items()
    }
    orders = {}
    for name, errs in errors.items():
        ok = all(e > 0 and math.isfinite(e) for e in errs)
        orders[name] = measured_order(steps, errs) if ok else float("nan")
    return Convergence(steps, errors, orders, float(T), reference_steps)


# --- a 2-D task: two spirals, untangled by a flow ----------------------------------------------------------------

@dataclass
class Points:
    """Labelled 2-D points: ``x`` (n, 2) float32, ``y`` (n,) int64 class 0 or 1."""

    x: torch.Tensor
    y: torch.Tensor
    name: str = ""

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"Points({self.name or 'unnamed'}: {len(self)} points, {int(self.y.sum())} of class 1)"


def _points(x: object, finite: bool = True) -> torch.Tensor:
    """Points of the plane for :class:`ODENet`: a float tensor of shape (n, 2) (finite entries unless
    ``finite=False``, which checks only the shape and dtype and so needs no device sync)."""
    x = _checks.tensor("x", x, ndim=2, finite=finite, expected="points of the plane, shape (n, 2)")
    if x.shape[1] != 2 or not x.is_floating_point():
        raise ValueError(f"x must be float points of the plane, shape (n, 2); got {tuple(x.shape)} {x.dtype}")
    return x


def two_spirals(n: int = 500, turns: float = 1.0, noise: float = 0.03, seed: int = 0) -> Points:
    """Two interleaved spiral arms, one per class, generated in code (no download): radius r ∈ [0.15, 1],
    angle 2π·turns·r (+π for class 1), plus Gaussian noise of standard deviation ``noise``."""
    _checks.integer("n", n, low=1, high=1_000_000)
    _checks.number("turns", turns, low=0, low_inclusive=False)
    _checks.number("noise", noise, low=0)
    g = torch.Generator().manual_seed(_checks.seed(seed))
    r = 0.15 + 0.85 * torch.rand(n, generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    angle = 2 * math.pi * turns * r + math.pi * y
    x = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)
    x = x + noise * torch.randn(n, 2, generator=g)
    return Points(x, y, f"two spirals ({turns:g} turns, n={n}, seed={seed})")


class ODENet(nn.Module):
    """A weight-tied residual net on the plane: x₀ = the point, N Euler blocks x ← x + h·f(x) with one shared f
    (a small tanh MLP, 2 → hidden → hidden → 2), h = T/N, then a linear read-out of x_N to two class scores.

    Because the blocks share f, the same trained net can be run with any number of steps N (``steps=``).
    """

    def __init__(self, hidden: int = 32, steps: int = 16, T: float = 1.0) -> None:
        super().__init__()
        _checks.integer("hidden", hidden, low=1, high=4096)
        self.steps = _steps(steps)
        self.T = _time(T)
        self.f = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                               nn.Linear(hidden, 2))
        self.readout = nn.Linear(2, 2)

    def stack(self, steps: int | None = None) -> ResidualStack:
        """The N-block residual stack (sharing this net's f)."""
        return ResidualStack(self.f, self.steps if steps is None else _steps(steps), self.T, "euler")

    def trajectory(self, x: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """x₀ … x_N: shape (N + 1, n, 2)."""
        x = _points(x)
        return self.stack(steps).trajectory(x)

    def forward(self, x: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Class scores after N = ``steps`` Euler blocks (default ``self.steps``). The blocks are not built as modules
        per call and the input is checked for shape and dtype only (no host sync), so training stays a tight loop;
        ``stack()`` gives the same computation as N modules."""
        n = self.steps if steps is None else _steps(steps)
        x, h = _points(x, finite=False), self.T / n
        for _ in range(n):
            x = euler_step(self.f, x, h)  # x_{t+1} = x_t + h f(x_t): block t, the same f in every block
        return self.readout(x)


@dataclass
class StepView:
    """What the step slider draws for one N: trajectories of sample points, P(class 1) on a grid, accuracy."""

    steps: int
    paths: np.ndarray  # (N + 1, P, 2)
    path_labels: np.ndarray  # (P,)
    grid_prob: np.ndarray  # (G, G), rows = y
    extent: tuple[float, float, float, float]
    accuracy: float


@dataclass
class FlowResult:
    """A trained :class:`ODENet` with its data; draws and scores the net for any number of steps N."""

    model: ODENet
    train: Points
    test: Points
    train_steps: tuple[int, int]  # N was drawn from this range (inclusive) at every training step
    losses: list[float]
    test_accuracy: float  # at model.steps
    wall_time: float
    _views: dict[int, StepView] = field(default_factory=dict, repr=False)
    _accuracies: dict[int, float] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        lo, hi = self.train_steps
        drawn = f"N drawn from {lo}–{hi} per step" if lo != hi else f"N = {hi}"
        return (f"weight-tied ODE net ({sum(p.numel() for p in self.model.parameters())} parameters, "
                f"T = {self.model.T:g}) trained on {len(self.train)} points, {drawn}, {len(self.losses)} steps, "
                f"{self.wall_time:.1f} s; final loss {self.losses[-1]:.3f}; test accuracy at N = {hi}: "
                f"{self.test_accuracy:.1%}")

    @one_thread()
    @torch.no_grad()
    def accuracy(self, steps: int | None = None, split: str = "test") -> float:
        """Fraction of correctly classified points of ``split`` ("train" or "test") when the net runs N steps."""
        _checks.choice("split", split, ("train", "test"))
        n = self.model.steps if steps is None else _steps(steps)
        if split == "test" and n in self._accuracies:
            return self._accuracies[n]
        data = self.test if split == "test" else self.train
        acc = float((self.model(data.x, n).argmax(1) == data.y).float().mean())
        if split == "test":
            self._accuracies[n] = acc
        return acc

    def accuracy_curve(self, steps: Sequence[int]) -> list[float]:
        """Test accuracy for each N in ``steps``."""
        return [self.accuracy(n) for n in _checks.sequence("steps", steps)]

    @one_thread()
    @torch.no_grad()
    def step_gap(self, steps: int) -> float:
        """Mean distance ‖x_N − x_2N‖ over the test points between the end points of N and of 2N Euler blocks:
        how far doubling the depth still moves the picture. For a first-order method it halves as N doubles."""
        n = _steps(steps)
        x = self.test.x
        return float((self.model.stack(n)(x) - self.model.stack(2 * n)(x)).norm(dim=1).mean())

    @one_thread()
    @torch.no_grad()
    def straightness(self, steps: int | None = None) -> float:
        """Mean over the test points of ‖x_N − x₀‖ / (length of the path x₀ → x₁ → … → x_N): 1 when every point
        moves along a straight line, smaller the more the flow bends its paths."""
        n = self.model.steps if steps is None else _steps(steps)
        path = self.model.trajectory(self.test.x, n)
        length = (path[1:] - path[:-1]).norm(dim=-1).sum(0)
        return float(((path[-1] - path[0]).norm(dim=-1) / length.clamp_min(1e-12)).mean())

    @one_thread()
    @torch.no_grad()
    def one_step_miss(self, steps: int | None = None) -> float:
        """How far one big step lands from the flow's end point, relative to how far the flow moves the points:
        mean ‖x₁ − x_N‖ / mean ‖x_N − x₀‖ over the test points, x₁ after one Euler block (h = T) and x_N after
        N = ``steps`` blocks. 0 when one step lands where N steps do (a straight, uniform flow); about 1 or more
        when one step misses by as much as the whole move."""
        n = self.model.steps if steps is None else _steps(steps)
        x0 = self.test.x
        end = self.model.stack(n)(x0)
        miss = (self.model.stack(1)(x0) - end).norm(dim=1).mean()
        return float(miss / (end - x0).norm(dim=1).mean().clamp_min(1e-12))

    @one_thread()
    @torch.no_grad()
    def view(self, steps: int, points_per_class: int = 30, grid: int = 72) -> StepView:
        """The picture for N = ``steps`` (computed once, then cached)."""
        n = _steps(steps)
        _checks.integer("points_per_class", points_per_class, low=1, high=10_000)
        _checks.integer("grid", grid, low=2, high=512)
        if n not in self._views:
            g = torch.Generator().manual_seed(0)
            picks = [torch.nonzero(self.test.y == c).flatten() for c in (0, 1)]
            picks = [p[torch.randperm(len(p), generator=g)[:points_per_class]] for p in picks]
            idx = torch.cat(picks)
            paths = self.model.trajectory(self.test.x[idx], n)
            lim = 1.25
            axis = torch.linspace(-lim, lim, grid)
            yy, xx = torch.meshgrid(axis, axis, indexing="ij")
            plane = torch.stack([xx.flatten(), yy.flatten()], dim=1)
            prob = F.softmax(self.model(plane, n), dim=1)[:, 1].reshape(grid, grid)
            self._views[n] = StepView(n, paths.numpy(), self.test.y[idx].numpy(), prob.numpy(),
                                      (-lim, lim, -lim, lim), self.accuracy(n))
        return self._views[n]

    def plot(self, steps: int | None = None, max_steps: int = 48):  # noqa: ANN201
        """Three panels for N steps (:class:`figures.StepFigure`): decision boundary in the input plane,
        trajectories through the blocks, accuracy against N (up to ``max_steps``). Returns the Figure."""
        return figures.StepFigure(self, max_steps).draw(self.model.steps if steps is None else steps)

    def plot_steps(self, steps: Sequence[int] = (1, 2, 4, 16, 48)):  # noqa: ANN201
        """Small multiples: the trajectories and the boundary for several N side by side. Returns the Figure."""
        return figures.plot_flow_steps(self, steps)

    def plot_loss(self, ax=None):  # noqa: ANN001, ANN201
        """The training loss per step."""
        return figures.plot_losses(self.losses, ax)


@one_thread()
def train_ode_net(
    train: Points | None = None,
    test: Points | None = None,
    steps: int | tuple[int, int] = (8, 32),
    T: float = 1.0,
    hidden: int = 32,
    iterations: int = 300,
    lr: float = 1e-2,
    kinetic: float = 0.01,
    label_smoothing: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> FlowResult:
    """Train a weight-tied :class:`ODENet` on two spirals (full batch, Adam, cosine learning-rate decay).

    ``steps=(lo, hi)`` draws N uniformly from lo…hi at every training step, so f has to work as a vector field
    for any step size in that range instead of exploiting one N's discretisation error (Ott et al. 2021, "ResNet
    After All?"); an int trains with a fixed N. ``kinetic`` weighs the penalty ∫‖f(x(t))‖² dt that keeps the
    flow slow and its paths straight (Finlay et al. 2020); ``label_smoothing`` keeps the scores finite so that
    the flow has no reason to push points ever faster. The net is later run with N = ``hi`` by default.
    """
    from tqdm.auto import tqdm

    if isinstance(steps, (int, bool, float, str)):
        lo = hi = _steps(steps)
    else:
        pair = _checks.sequence("steps", steps)
        if len(pair) != 2:
            raise ValueError(f"steps must be one int N or a pair (lo, hi); got {steps!r}")
        lo, hi = (_steps(n) for n in pair)
    if lo > hi:
        raise ValueError(f"steps=(lo, hi) needs lo <= hi; got {steps!r}")
    T = _time(T)
    _checks.integer("iterations", iterations, low=1, high=100_000,
                    lift="Train in several calls, or call the loop yourself, for longer runs.")
    _checks.number("lr", lr, low=0, low_inclusive=False)
    _checks.number("kinetic", kinetic, low=0)
    _checks.number("label_smoothing", label_smoothing, low=0, high=1, high_inclusive=False)
    _checks.seed(seed)
    _checks.flag("progress", progress)
    for name, points in (("train", train), ("test", test)):
        if points is not None and not isinstance(points, Points):
            raise TypeError(f"{name} must be Points (e.g. two_spirals(500)) or None; got {type(points).__name__}")
    train = two_spirals(500, seed=1) if train is None else train
    test = two_spirals(1000, seed=2) if test is None else test
    g = torch.Generator().manual_seed(seed)
    with seeded(seed):  # the initial weights depend on the seed only; the caller's random stream is left alone
        model = ODENet(hidden, hi, T)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iterations)
    losses = []
    start = time.perf_counter()
    for _ in tqdm(range(iterations), desc="training the ODE net", disable=not progress, leave=False):
        n = int(torch.randint(lo, hi + 1, (1,), generator=g))
        h, x, energy = T / n, train.x, 0.0
        for _ in range(n):
            v = model.f(x)
            energy = energy + h * v.pow(2).sum(1).mean()  # ∫ ‖f(x(t))‖² dt, kinetic energy of the flow
            x = x + h * v  # one Euler block
        loss = F.cross_entropy(model.readout(x), train.y, label_smoothing=label_smoothing) + kinetic * energy
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    result = FlowResult(model, train, test, (lo, hi), losses, 0.0, time.perf_counter() - start)
    result.test_accuracy = result.accuracy(hi)
    return result


# --- the picture behind section 1: f itself, Euler polygons against the exact trajectory -------------------------

@dataclass
class EulerPolygons:
    """Euler polygons x₀, x₁, …, x_N of one starting point for several N, next to the exact trajectory of
    dx/dt = f(x) (lesson 05, section 1; Hairer, Nørsett & Wanner, §I.7 draw the same picture)."""

    x0: list[float]
    T: float
    exact: np.ndarray  # (M + 1, 2): the reference trajectory (RK4 with M tiny steps)
    polygons: dict[int, np.ndarray]  # N → (N + 1, 2): the states after each Euler block
    errors: dict[int, float]  # N → ‖x_N − x(T)‖
    grid: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # X, Y, U, V: f sampled on a grid (the arrows)

    def __str__(self) -> str:
        return "end-point error ‖x_N − x(T)‖: " + ", ".join(f"N = {n}: {e:.3g}" for n, e in self.errors.items())

    def plot(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """The field f as arrows, the exact trajectory and the Euler polygons (:func:`figures.plot_euler_polygons`)."""
        return figures.plot_euler_polygons(self, ax=ax)


def euler_polygons(
    f: Field | None = None,
    x0: Sequence[float] = (-1.5, -0.5),
    T: float = 2.0,
    steps: Sequence[int] = (1, 2, 4, 8, 32),
    grid: int = 17,
    reference_steps: int = 2048,
) -> EulerPolygons:
    """Follow dx/dt = f(x) from ``x0`` to time ``T`` with N Euler blocks for each N in ``steps``, and exactly
    (RK4, ``reference_steps`` steps); sample f on a ``grid``×``grid`` lattice around the paths (lesson 05).
    ``f`` defaults to :func:`vector_field` (seed 0), the field of sections 1 and 2."""
    f = vector_field() if f is None else f
    T = _time(T)
    steps = [_steps(n, "every N in steps") for n in _checks.sequence("steps", steps)]
    grid = _checks.integer("grid", grid, low=2, high=200)
    reference_steps = _steps(reference_steps, "reference_steps")
    start = _checks.vector("x0", x0, dtype=torch.float64).reshape(1, 2)
    with torch.no_grad(), one_thread():
        exact = ResidualStack(f, reference_steps, T, "rk4").trajectory(start)[:, 0].numpy()
        polygons = {n: ResidualStack(f, n, T, "euler").trajectory(start)[:, 0].numpy() for n in steps}
        points = np.concatenate([exact, *polygons.values()])
        lo, hi = points.min(0) - 0.4, points.max(0) + 0.4
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid))
        uv = f(torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float64)).numpy()
    errors = {n: float(np.linalg.norm(p[-1] - exact[-1])) for n, p in polygons.items()}
    return EulerPolygons(start[0].tolist(), T, exact, polygons, errors,
                         (gx, gy, uv[:, 0].reshape(gx.shape), uv[:, 1].reshape(gx.shape)))
