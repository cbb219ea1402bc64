"""Lesson 03 · the gradient path, ∂L/∂x = ∂L/∂y · (∂F/∂x + I): the experiments of
``notebooks/03_gradient_path.ipynb``, with their figure.

* :func:`jacobian_check` — the formula itself on one block (autograd and finite differences; He et al. 2016, Eq. 5).
* :func:`path_expansion` — the product ∏(I + W_i) multiplied out into 2ⁿ paths (Veit et al. 2016).

What the identity term does to the gradient norms of whole nets at initialisation is lesson 03b
(:mod:`resnet_edu.lessons.lesson03b_gradient_norms`). The Jacobian figure (``check.plot()``) lives in
:mod:`resnet_edu.lessons.lesson03_gradient_path.figures`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ... import _checks
from ...nets import BasicBlock, ResidualUnit
from ...runtime import one_thread, seeded
from . import figures

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
            module = BasicBlock(2, 2).eval()  # downsample=None: the identity shortcut
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
