"""Lesson 03b · gradient norms at initialisation, plain vs residual, with and without BatchNorm: the experiments
of ``notebooks/03b_gradient_norms.ipynb``, with their figures and the depth slider.

Lesson 03 derives the identity term of a residual block's Jacobian; this lesson measures what it does to whole
nets at init.

* :func:`depth_study` — plain vs residual CIFAR nets (He et al. 2015, §4.2) at several depths, at init: with BN the
  plain nets' gradients *explode* toward the input, as Yang et al. 2019 predict for fully connected BN nets.
* :func:`stream_study` — why the ResNet's profile grows only slowly: its stream grows linearly (De & Smith 2020).
* :func:`mlp_study` — a 100-layer MLP without BN: the textbook *vanishing* gradient, and the residual twin.
* :func:`depth_explorer` — the depth slider (a :class:`resnet_edu.widgets.SliderApp`).

The figures (``result.plot()``) and the slider live in :mod:`resnet_edu.lessons.lesson03b_gradient_norms.figures`.

The per-layer gradient norms themselves are core (:func:`resnet_edu.gradients.gradient_profile`, used by lessons
00, 03b, 07 and 08).
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
from ...nets import KINDS, check_depth, check_kind, cifar_net, mlp
from ...runtime import one_thread, seeded
from . import figures
from .figures import DepthExplorer as DepthExplorer  # the slider: lesson.depth_explorer()
from .figures import depth_explorer as depth_explorer

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
    gradient norm (notebook 03b writes it on the page); by default :func:`resnet_edu.gradients.gradient_profile`."""
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
    """Gradient profiles at init of plain and residual CIFAR nets at several depths (lesson 03b).

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
    """Profile plain and residual CIFAR nets at each depth at init, on :func:`probe_batch` (lesson 03b).

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
    """Mean square of every block's output at init, plain vs residual CIFAR net with BN (lesson 03b).

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
    (BN, He et al. 2015, §4.2) on :func:`probe_batch` (lesson 03b)."""
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
    """A ``depth``-layer MLP without BN, plain vs residual, at init (lesson 03b): gradient profile and activation
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
