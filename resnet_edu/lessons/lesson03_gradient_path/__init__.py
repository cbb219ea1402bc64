"""Lesson 03 · the gradient path, ∂L/∂x = ∂L/∂y · (∂F/∂x + I): the experiments of
``notebooks/03_gradient_path.ipynb``, with their figures and the depth slider.

One idea, measured five ways (which is why the module is long): the identity term of a residual block's Jacobian
carries the gradient past every block.

* :func:`jacobian_check` — the formula itself on one block (autograd and finite differences; He et al. 2016, Eq. 5).
* :func:`path_expansion` — the product ∏(I + W_i) multiplied out into 2ⁿ paths (Veit et al. 2016).
* :func:`depth_study` — plain vs residual CIFAR nets (He et al. 2015, §4.2) at several depths, at init: with BN the
  plain nets' gradients *explode* toward the input, as Yang et al. 2019 predict for fully connected BN nets.
* :func:`stream_study` — why the ResNet's profile grows only slowly: its stream grows linearly (De & Smith 2020).
* :func:`mlp_study` — a 100-layer MLP without BN: the textbook *vanishing* gradient, and the residual twin.
* :func:`depth_explorer` — the depth slider (a :class:`resnet_edu.widgets.SliderApp`).

The figures (``result.plot()``) and the slider live in :mod:`resnet_edu.lessons.lesson03_gradient_path.figures`.

The per-layer gradient norms themselves are core (:func:`resnet_edu.gradients.gradient_profile`, used by lessons
00, 03, 07 and 08).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ... import _checks
from ...gradients import GradientProfile, gradient_profile, probe_batch, stream_rms, weight_layers
from ...nets import KINDS, BasicBlock, ResidualUnit, check_depth, check_kind, cifar_net, mlp
from ...runtime import one_thread, seeded
from . import figures
from .figures import DepthExplorer as DepthExplorer  # the slider: lesson.depth_explorer()
from .figures import depth_explorer as depth_explorer

BLOCKS = ("mlp", "basic")

# ---------------------------------------------------------------------------------------------------------------
# One block: ∂y/∂x = D·(I + ∂F/∂x)
# ---------------------------------------------------------------------------------------------------------------

def residual_block(block: str = "mlp", dim: int = 8, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """A small residual block in float64 and one input ``x`` for it (lesson 03's Jacobian check).

    ``"mlp"``: y = x + F(x), :class:`resnet_edu.nets.ResidualUnit` with F = Linear-tanh-Linear on ``dim``
    features and nothing after the addition — the block the formula describes (tanh: smooth, so finite
    differences agree to high precision).
    ``"basic"``: the BasicBlock of He et al. 2015 (Fig. 2) in eval mode, y = relu(F(x) + x), on a 1×2×2×2 input
    (``dim`` ignored): its final ReLU sits *after* the addition. Both have a ``.residual(x)`` method, F.
    """
    if not isinstance(block, str) or block not in BLOCKS:
        raise ValueError(f"block must be 'mlp' (y = x + F(x)) or 'basic' (y = relu(F(x) + x)); got {block!r}")
    _checks.integer("dim", dim, low=1, high=64, lift="A Jacobian check costs dim² evaluations; 64 is plenty.")
    _checks.seed(seed)
    gen = torch.Generator().manual_seed(seed)
    with seeded(seed):
        if block == "mlp":
            module: nn.Module = ResidualUnit(dim, 2 * dim, activation="tanh")
            x = torch.randn(dim, generator=gen)
        else:
            module = BasicBlock(2, 2, shortcut=nn.Identity()).eval()
            x = torch.randn(1, 2, 2, 2, generator=gen)
    return module.double(), x.double()


def _finite_difference_jacobian(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                                eps: float = 1e-6) -> torch.Tensor:
    """Central differences, one input coordinate at a time: no autograd involved."""
    flat = x.reshape(-1)
    columns = []
    for i in range(flat.numel()):
        step = torch.zeros_like(flat)
        step[i] = eps
        plus, minus = f((flat + step).view_as(x)), f((flat - step).view_as(x))
        columns.append(((plus - minus) / (2 * eps)).reshape(-1))
    return torch.stack(columns, dim=1)


@dataclass
class JacobianCheck:
    """∂y/∂x of a residual block measured two ways, next to I + ∂F/∂x (He et al. 2016, Eq. 5).

    ``max_error``: max |∂y/∂x − D·(I + ∂F/∂x)| where D is the derivative of whatever follows the addition
    (the identity for the ``"mlp"`` block, the 0/1 mask of the final ReLU for ``"basic"``).
    ``max_error_without_mask``: the same without D — zero for ``"mlp"``, not for ``"basic"``.
    ``max_error_finite_difference``: the same formula against a finite-difference Jacobian (no autograd).
    """

    block: str
    jacobian: torch.Tensor  # ∂y/∂x by autograd
    jacobian_f: torch.Tensor  # ∂F/∂x by autograd
    mask: torch.Tensor  # diagonal of D
    max_error: float
    max_error_without_mask: float
    max_error_finite_difference: float

    @property
    def identity_part(self) -> torch.Tensor:
        """∂y/∂x − D·∂F/∂x: what the shortcut contributes (D·I)."""
        return self.jacobian - self.mask[:, None] * self.jacobian_f

    def __str__(self) -> str:
        return (f"{self.block} block, {self.jacobian.shape[0]} inputs: max |J - D(I + J_F)| = {self.max_error:.1e} "
                f"(autograd), {self.max_error_finite_difference:.1e} (finite differences); without D: "
                f"{self.max_error_without_mask:.1e}")

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        """Three heat maps: ∂y/∂x, ∂F/∂x, and their difference (≈ I, the identity path)
        (:func:`figures.plot_jacobian`)."""
        return figures.plot_jacobian(self)


Jacobian = Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor], torch.Tensor]


def autograd_jacobian(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """∂f/∂x as an (outputs × inputs) matrix, by ``torch.autograd.functional.jacobian`` (the package's default for
    :func:`jacobian_check`; notebook 03 writes the same backward pass on the page)."""
    return torch.autograd.functional.jacobian(lambda v: f(v.view_as(x)).reshape(-1), x.reshape(-1))


def jacobian_check(block: str = "mlp", dim: int = 8, seed: int = 0,
                   jacobian: Jacobian = autograd_jacobian) -> JacobianCheck:
    """Verify ∂y/∂x = D·(I + ∂F/∂x) for one residual block numerically (lesson 03; He et al. 2016, Eq. 5).

    ``jacobian(f, x)`` computes ∂f/∂x as an (outputs × inputs) matrix by backpropagation; it is called on the whole
    block and on its branch F (notebook 03 passes the backward pass it writes on the page)."""
    _checks.function("jacobian", jacobian, "jacobian(f, x) -> (outputs × inputs) tensor")
    module, x = residual_block(block, dim, seed)
    with one_thread():
        return _jacobian_check(block, module, x, jacobian)


def _jacobian_check(block: str, module: nn.Module, x: torch.Tensor, jacobian: Jacobian) -> JacobianCheck:
    flat = x.reshape(-1)
    f = module.residual  # F
    with torch.no_grad():
        y_flat = lambda v: module(v.view_as(x)).reshape(-1)  # noqa: E731
        pre = (f(x) + x).reshape(-1)  # what enters the final ReLU ("basic") or is the output ("mlp")
    j_y, j_f = (_checks.tensor(f"jacobian of {what}", jacobian(fn, x), ndim=2, expected="an (outputs × inputs) matrix")
                for what, fn in (("the block", module), ("its branch F", f)))
    if j_y.shape != (flat.numel(), flat.numel()) or j_f.shape != j_y.shape:
        raise ValueError(f"jacobian(f, x) must return a {flat.numel()}×{flat.numel()} matrix here (outputs × inputs); "
                         f"got {tuple(j_y.shape)} and {tuple(j_f.shape)}")
    mask = (pre > 0).to(x.dtype) if block == "basic" else torch.ones_like(flat)
    eye = torch.eye(flat.numel(), dtype=x.dtype)
    formula = mask[:, None] * (eye + j_f)
    with torch.no_grad():
        j_fd = _finite_difference_jacobian(y_flat, flat)
    return JacobianCheck(
        block, j_y, j_f, mask,
        max_error=float((j_y - formula).abs().max()),
        max_error_without_mask=float((j_y - (eye + j_f)).abs().max()),
        max_error_finite_difference=float((j_fd - formula).abs().max()),
    )


@dataclass
class PathExpansion:
    """n residual blocks with *linear* branches, y = (I + W_n)⋯(I + W_1) x, multiplied out into 2ⁿ paths: every
    path picks, at each block, the shortcut (I) or the branch (W_i) — the "unraveled view" of Veit et al. 2016
    (Fig. 1). ``max_error`` = max |stack(x) − Σ over paths| (float64 rounding only)."""

    n_blocks: int
    paths: list[tuple[int, ...]]  # the blocks (1-based) whose branch each path goes through; () = identity path
    max_error: float
    length_norms: dict[int, float]  # path length → norm of the summed outputs of all paths of that length

    def counts(self) -> dict[int, int]:
        """How many paths have each length (the binomial coefficients C(n, k))."""
        out: dict[int, int] = {}
        for p in self.paths:
            out[len(p)] = out.get(len(p), 0) + 1
        return dict(sorted(out.items()))

    def __str__(self) -> str:
        names = ["x" if not p else " → ".join(f"F{i}" for i in p) for p in self.paths]
        return (f"{self.n_blocks} blocks → {len(self.paths)} paths: {', '.join(names)}\n"
                f"paths per length {self.counts()}; max |stack(x) − Σ paths(x)| = {self.max_error:.1e}")


def path_expansion(n_blocks: int = 3, dim: int = 4, branch_scale: float = 0.5, seed: int = 0) -> PathExpansion:
    """Build ``n_blocks`` linear residual blocks x ↦ x + W_i x (float64, W_i ~ N(0, branch_scale²/dim)), run the
    stack, and compare with the sum of its 2ⁿ paths (lesson 03; Veit et al. 2016, §3). Linear branches make the
    expansion exact; with nonlinear branches each F also sees the sum of the paths before it."""
    import itertools

    _checks.integer("n_blocks", n_blocks, low=1, high=8, lift="2ⁿ paths are summed one by one; 8 gives 256.")
    _checks.integer("dim", dim, low=1, high=64)
    _checks.number("branch_scale", branch_scale)
    _checks.seed(seed)
    gen = torch.Generator().manual_seed(seed)
    weights = [torch.randn(dim, dim, generator=gen, dtype=torch.float64) * branch_scale / dim**0.5
               for _ in range(n_blocks)]
    x = torch.randn(dim, generator=gen, dtype=torch.float64)
    y = x
    for w in weights:
        y = y + w @ y  # y = x + F(x), one block
    paths = sorted((tuple(i + 1 for i, take in enumerate(choice) if take)
                    for choice in itertools.product((False, True), repeat=n_blocks)), key=lambda p: (len(p), p))
    total, by_length = torch.zeros_like(x), {}
    for path in paths:
        out = x
        for i in path:
            out = weights[i - 1] @ out
        total = total + out
        by_length[len(path)] = by_length.get(len(path), torch.zeros_like(x)) + out
    return PathExpansion(n_blocks, paths, float((y - total).abs().max()),
                         {k: float(v.norm()) for k, v in by_length.items()})


# ---------------------------------------------------------------------------------------------------------------
# Whole nets at init: plain vs residual CIFAR nets, their stream, and a deep MLP without BN
# ---------------------------------------------------------------------------------------------------------------

NormRecorder = Callable[[nn.Module], dict]


def _profile(model: nn.Module, x: torch.Tensor, y: torch.Tensor, label: str,
             record_norms: NormRecorder | None) -> GradientProfile:
    """One forward/backward pass at init: :func:`resnet_edu.gradients.gradient_profile` by default, or the hooks
    of ``record_norms(model)`` (a dict it fills with ‖∂L/∂W‖ per layer name during ``loss.backward()``)."""
    if record_norms is None:
        return gradient_profile(model, x, y, label=label)
    layers = weight_layers(model)
    norms = record_norms(model)
    if not isinstance(norms, dict):
        raise TypeError(f"record_norms(model) must return the dict its hooks fill (layer name -> gradient norm); got "
                        f"{type(norms).__name__}")
    F.cross_entropy(model(x), y).backward()
    unknown = sorted(set(norms) - {name for name, _ in layers})
    if unknown:
        raise ValueError(f"record_norms filled {unknown}, which are not conv/linear layer names of the model; use the "
                         f"names of edu.gradients.weight_layers(model)")
    kinds = ["conv" if isinstance(m, nn.Conv2d) else "linear" for _, m in layers]
    return GradientProfile([n for n, _ in layers], [float(norms.get(n, 0.0)) for n, _ in layers], label, kinds)


def _check_recorder(record_norms: object) -> NormRecorder | None:
    if record_norms is not None:
        _checks.function("record_norms", record_norms, "record_norms(model) -> dict filled by its hooks")
    return record_norms  # type: ignore[return-value]



def cifar_profile(
    depth: int,
    kind: str = "residual",
    batch_norm: bool = True,
    batch: tuple[torch.Tensor, torch.Tensor] | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    record_norms: NormRecorder | None = None,
) -> GradientProfile:
    """The gradient profile at initialisation of the CIFAR net of He et al. 2015, §4.2 (``kind`` plain or
    residual, with or without BN), on ``batch`` (default :func:`probe_batch`). The net is built under ``seed``
    without touching the global random state, so the same arguments always give the same numbers; on the CPU the
    pass runs on one thread (see :func:`one_thread`). ``record_norms(model)``: the hook that records each layer's
    gradient norm (notebook 03 writes it on the page); by default :func:`resnet_edu.gradients.gradient_profile`."""
    residual = check_kind(kind)
    _check_recorder(record_norms)
    check_depth(depth)
    _checks.flag("batch_norm", batch_norm)
    _checks.seed(seed)
    if device is not None:
        device = _checks.device(device)
    if batch is None:
        x, y = probe_batch()
    else:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError(f"batch must be a pair (images, labels) such as probe_batch() returns; got "
                            f"{type(batch).__name__}")
        x = _checks.tensor("batch images", batch[0], ndim=4, expected="images (N, C, H, W)")
        y = _checks.tensor("batch labels", batch[1], ndim=1, dtype=torch.int64, expected="class indices (N,)")
    with seeded(seed):
        model = cifar_net(depth, residual=residual, batch_norm=batch_norm, in_channels=x.shape[1])
    if device is not None:
        model, x, y = model.to(device), x.to(device), y.to(device)
    label = f"{'ResNet' if residual else 'plain'}-{depth}" + ("" if batch_norm else " (no BN)")
    with one_thread():
        return _profile(model, x, y, label, record_norms)


@dataclass
class DepthStudy:
    """Gradient profiles at init of plain and residual CIFAR nets at several depths (lesson 03).

    ``ratio(kind, depth)`` is first-conv / last-conv gradient norm: ≫ 1 explodes toward the input, ≪ 1 vanishes;
    with ``draws`` > 1 it is the geometric mean over that many nets and batches (``draw_ratios`` holds each one),
    and ``profiles`` (the plot) are the first draw's.
    """

    depths: tuple[int, ...]
    batch_norm: bool
    profiles: dict[tuple[str, int], GradientProfile]
    draw_ratios: dict[tuple[str, int], list[float]] = field(default_factory=dict)

    def profile(self, kind: str, depth: int) -> GradientProfile:
        check_kind(kind)
        if isinstance(depth, bool) or depth not in self.depths:
            raise ValueError(f"depth {depth!r} was not measured; this study has depths {list(self.depths)}")
        return self.profiles[kind, depth]

    def ratio(self, kind: str, depth: int) -> float:
        """First-conv over last-conv gradient norm of the ``kind`` net at ``depth`` (geometric mean over draws)."""
        first = self.profile(kind, depth).ratio("conv")
        ratios = self.draw_ratios.get((kind, depth), [first])
        return first if len(ratios) == 1 else math.exp(sum(math.log(r) for r in ratios) / len(ratios))

    @property
    def draws(self) -> int:
        """How many nets (and batches) each ratio averages."""
        return max((len(r) for r in self.draw_ratios.values()), default=1)

    def ratios(self, kind: str) -> list[float]:
        """First-conv over last-conv gradient norm of the ``kind`` nets, one per depth."""
        return [self.ratio(kind, d) for d in self.depths]

    def table(self) -> str:
        """The ratios as a small text table, one row per depth."""
        rows = [f"{'depth':>5}  {'plain first/last':>16}  {'residual first/last':>19}"]
        rows += [f"{d:>5}  {self.ratio('plain', d):>16.3g}  {self.ratio('residual', d):>19.3g}" for d in self.depths]
        return "\n".join(rows)

    def __str__(self) -> str:
        mean = f", geometric mean over {self.draws} nets and batches" if self.draws > 1 else ""
        return (f"gradient norm ratio first/last conv at init ({'with' if self.batch_norm else 'without'} BN{mean})\n"
                + self.table())

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        """One panel per depth: plain and residual profiles on a shared log scale (the first draw's nets)
        (:func:`figures.plot_depth_study`)."""
        return figures.plot_depth_study(self)


def depth_study(
    depths: tuple[int, ...] = (20, 56, 110),
    batch_norm: bool = True,
    batch_size: int = 32,
    size: int = 16,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    draws: int = 1,
    record_norms: NormRecorder | None = None,
) -> DepthStudy:
    """Profile plain and residual CIFAR nets at each depth at init, on :func:`probe_batch` (lesson 03).

    Every ratio is a random net on a batch: ``draws`` = k averages it (geometric mean) over k nets, seeds ``seed``
    … ``seed + k − 1``, each on its own batch (:func:`probe_batch` with ``index`` 0 … k − 1), so that a claim
    about the ratios is a claim about the distribution rather than one draw (issue 21).

    What this measures is the gradient *at initialisation*: with BN the plain nets' gradients grow toward the
    input, exponentially in depth, as Yang et al. 2019 ("A Mean Field Theory of Batch Normalization") predict for
    deep fully connected BN nets at init. It is not the measurement of He et al. 2015, §4.1, who checked their
    BN-trained ImageNet plain nets' forward and backward signals and found healthy, non-vanishing norms; both
    speak against *vanishing* gradients as the cause of degradation.

    ``record_norms`` is passed to :func:`cifar_profile`: the hook that records each layer's gradient norm.
    """
    from tqdm.auto import tqdm

    depths = tuple(check_depth(d) for d in _checks.sequence("depths", depths, unique=True))
    _checks.flag("batch_norm", batch_norm)
    _checks.flag("progress", progress)
    _checks.seed(seed)
    _check_recorder(record_norms)
    draws = _checks.integer("draws", draws, low=1, high=10, lift="Each draw profiles every net once more.")
    batches = [probe_batch(batch_size, size, i) for i in range(draws)]
    configs = [(i, kind, d) for i in range(draws) for d in depths for kind in KINDS]
    profiles, ratios = {}, {}
    for i, kind, d in tqdm(configs, desc="profiling", disable=not progress, leave=False):
        profile = cifar_profile(d, kind, batch_norm, batches[i], seed + i, device, record_norms)
        profiles.setdefault((kind, d), profile)
        ratios.setdefault((kind, d), []).append(profile.ratio("conv"))
    return DepthStudy(depths, batch_norm, profiles, ratios if draws > 1 else {})


@dataclass
class StreamStudy:
    """Mean square of every block's output at init, plain vs residual CIFAR net with BN (lesson 03).

    De & Smith 2020 ("Batch Normalization Biases Residual Blocks Towards the Identity Function in Deep Networks",
    §2): the BN'd branch adds a signal of roughly unit variance at every block, so the residual stream's variance
    grows *linearly* with the number of blocks, and block l's branch is only ~1/√l of what passes through it.
    """

    depth: int
    blocks_per_stage: int
    mean_square: dict[str, list[float]]  # per kind, one value per block, input side first

    def increments(self, kind: str = "residual", stage: int = 1) -> list[float]:
        """Growth of the mean square from block to block inside ``stage`` (1, 2 or 3)."""
        check_kind(kind)
        if stage not in (1, 2, 3):
            raise ValueError(f"stage must be 1, 2 or 3; got {stage!r}")
        n = self.blocks_per_stage
        values = self.mean_square[kind][(stage - 1) * n: stage * n]
        return [b - a for a, b in zip(values, values[1:])]

    def __str__(self) -> str:
        n = self.blocks_per_stage
        rows = [f"mean square of each block's output, depth {self.depth} at init (stage 1, {n} blocks):"]
        rows += [f"  {kind:>8}: " + " ".join(f"{v:.2g}" for v in self.mean_square[kind][:n]) for kind in KINDS]
        return "\n".join(rows)

    def plot(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """Mean square per block for both kinds, with the stage boundaries marked (:func:`figures.plot_stream`)."""
        return figures.plot_stream(self, ax)


def stream_study(depth: int = 56, batch_size: int = 32, size: int = 16, seed: int = 0) -> StreamStudy:
    """Measure the size of every block's output at init for the plain and the residual CIFAR net of ``depth``
    (BN, He et al. 2015, §4.2) on :func:`probe_batch` (lesson 03)."""
    check_depth(depth)
    x, _ = probe_batch(batch_size, size)
    mean_square = {}
    for kind in KINDS:
        with seeded(seed):
            net = cifar_net(depth, residual=kind == "residual", in_channels=x.shape[1])
        mean_square[kind] = [r * r for r in stream_rms(net, x)]
    return StreamStudy(depth, (depth - 2) // 6, mean_square)


@dataclass
class MLPStudy:
    """Gradient profiles and forward activation sizes of a deep plain MLP and its residual twin at init.

    ``ratio(kind)``: first-layer / last-layer gradient norm; ``activation_rms[kind]``: RMS of each layer's output,
    input side first (the forward pass: does the signal stay bounded?).
    """

    depth: int
    init: str
    branch_scale: float
    profiles: dict[str, GradientProfile]
    activation_rms: dict[str, list[float]]

    def profile(self, kind: str) -> GradientProfile:
        check_kind(kind)
        return self.profiles[kind]

    def ratio(self, kind: str) -> float:
        """First-layer over last-layer gradient norm (input linear vs output linear)."""
        return self.profile(kind).ratio()

    def first_layer_norm(self, kind: str) -> float:
        """The gradient norm of the input-side linear layer of the ``kind`` net."""
        return self.profile(kind).norms[0]

    def output_rms(self, kind: str) -> float:
        """RMS of the network's output: ~1 is a healthy forward pass, 1e20 an exploding one."""
        check_kind(kind)
        return self.activation_rms[kind][-1]

    def describe(self) -> str:
        """One line: the gradient ratio and output size of both nets."""
        return (f"MLP depth {self.depth}, init={self.init}, branch scale {self.branch_scale:.3g}: " + "; ".join(
            f"{k}: first/last gradient {self.ratio(k):.2g}, output RMS {self.output_rms(k):.2g}" for k in KINDS))

    def __str__(self) -> str:
        return self.describe()

    def plot(self):  # noqa: ANN201 (matplotlib Figure)
        """Left: gradient norm per layer (backward pass). Right: activation RMS per layer (forward pass)
        (:func:`figures.plot_mlp`)."""
        return figures.plot_mlp(self)


def mlp_study(
    depth: int = 100,
    init: str = "default",
    branch_scale: float = 1.0,
    width: int = 64,
    batch_size: int = 64,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    record_norms: NormRecorder | None = None,
) -> MLPStudy:
    """A ``depth``-layer MLP without BN, plain vs residual, at init (lesson 03): gradient profile and activation
    sizes on a fixed random batch (2 features, 2 classes, cross-entropy).

    Runs in float64 by default, because the plain net's first-layer gradient (~1e-40 with PyTorch's default init)
    underflows to exactly 0 in float32. ``init="he"`` uses He et al. 2015b; ``branch_scale`` multiplies every
    residual branch (1/√depth keeps the He-initialised forward pass bounded). ``record_norms``: as in
    :func:`cifar_profile`.
    """
    _checks.number("branch_scale (e.g. 1.0 or 1/sqrt(depth))", branch_scale, low=0)
    _checks.integer("depth", depth, low=1, high=2000, lift="Deeper MLPs take long on a CPU; call mlp() yourself.")
    _checks.integer("batch_size", batch_size, low=1, high=100_000)
    _checks.seed(seed)
    dtype = _checks.choice("dtype", dtype, (torch.float32, torch.float64))
    _check_recorder(record_norms)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, 2, generator=gen, dtype=dtype)
    y = torch.randint(0, 2, (batch_size,), generator=gen)
    profiles, rms = {}, {}
    for kind in KINDS:
        with seeded(seed):
            net = mlp(depth, width, 2, 2, residual=kind == "residual", batch_norm=False, init=init,
                      branch_scale=float(branch_scale)).to(dtype)
        with one_thread():
            profiles[kind] = _profile(net, x, y, kind, record_norms)
            rms[kind] = _activation_rms(net, x)
    return MLPStudy(depth, init, float(branch_scale), profiles, rms)


def _activation_rms(net: nn.Sequential, x: torch.Tensor) -> list[float]:
    """The RMS of every layer's output, input side first (one extra forward pass, no gradients)."""
    sizes = []
    with torch.no_grad():
        for layer in net:
            x = layer(x)
            sizes.append(float(x.pow(2).mean().sqrt()))
    return sizes
