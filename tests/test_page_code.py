"""The code a lesson's claim rests on is written on its page, and the experiment runs it (issue 27 item 3): each
test executes a notebook cell's definitions and holds them equal to the package's default, so the two cannot drift."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch

import resnet_edu as edu

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def page_code(notebook: str, cell_id: str, **names: object) -> dict[str, object]:
    """The names a notebook cell defines, by executing that cell's source alone (with ``edu`` and ``names``, such
    as the set-up cell's ``seed`` and the notebook's ``lesson``)."""
    cells = {cell.id: cell for cell in nbformat.read(NOTEBOOKS / notebook, as_version=4).cells}
    namespace: dict[str, object] = {"edu": edu, **names}
    exec(compile(cells[cell_id].source, f"{notebook}:{cell_id}", "exec"), namespace)  # noqa: S102 (our notebook)
    return namespace


# -- lesson 01: the plain and the residual block ---------------------------------------------------------------
@pytest.fixture(scope="module")
def blocks01() -> dict[str, type[torch.nn.Module]]:
    code = page_code("01_degradation.ipynb", "c60fb8c3")
    return {"plain": code["PlainBlock"], "residual": code["ResidualBlock"]}


@pytest.mark.parametrize("kind", edu.nets.KINDS)
@pytest.mark.parametrize("depth", [8, 20])
def test_lesson01_blocks_build_the_packages_nets(blocks01, kind, depth):
    """Same seed → the same initial weights (same layers, created in the same order) and the same outputs, in
    training and in eval mode."""
    residual = edu.nets.check_kind(kind)
    torch.manual_seed(0)
    page = edu.nets.cifar_net(depth, residual=residual, width=4, in_channels=1, block=blocks01[kind])
    torch.manual_seed(0)
    package = edu.nets.cifar_net(depth, residual=residual, width=4, in_channels=1)
    assert list(page.state_dict()) == list(package.state_dict())
    for a, b in zip(page.state_dict().values(), package.state_dict().values()):
        assert torch.equal(a, b)
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    for mode in (True, False):
        page.train(mode)
        package.train(mode)
        assert torch.equal(page(x), package(x))


def test_lesson01_block_differs_only_by_the_shortcut(blocks01):
    """Same weights, F(x) = 0 (its last BN zeroed): the plain block outputs relu(0) = 0, the residual one relu(x)."""
    torch.manual_seed(0)
    plain = blocks01["plain"](4, 4, 1, None).eval()
    residual = blocks01["residual"](4, 4, 1, torch.nn.Identity()).eval()
    residual.load_state_dict(plain.state_dict())
    for bn in (plain.bn2, residual.bn2):
        torch.nn.init.zeros_(bn.weight)
    x = torch.randn(2, 4, 6, 6)
    assert torch.equal(plain(x), torch.zeros_like(x)) and torch.equal(residual(x), torch.relu(x))


def test_lesson01_run_with_the_page_blocks_gives_the_same_numbers(blocks01):
    recipe = edu.recipes.with_recipe(edu.recipes.DEGRADATION_CPU, steps=5, last=2)
    lesson = edu.lessons.lesson01_degradation
    page = lesson.run(depths=(8,), recipe=recipe, blocks=blocks01, progress=False)
    package = lesson.run(depths=(8,), recipe=recipe, progress=False)
    for key in package.runs:
        assert page.runs[key].loss == package.runs[key].loss and page.runs[key].evals == package.runs[key].evals


def test_blocks_argument_is_checked():
    with pytest.raises(TypeError, match="block must be a torch.nn.Module class"):
        edu.nets.cifar_net(8, block="BasicBlock")
    with pytest.raises(ValueError, match="kind must be 'plain'"):
        edu.recipes.train_family(edu.recipes.DEGRADATION_CPU, [("plain", 8)], blocks={"dense": torch.nn.Linear})


# -- lesson 03: backward through one block (the +I term), and the hook that records each layer's gradient norm ----
L3 = edu.lessons.lesson03_gradient_path


@pytest.fixture(scope="module")
def code03() -> dict[str, object]:
    backward = page_code("03_gradient_path.ipynb", "b7e3a1c2", lesson=L3, seed=0)
    hook = page_code("03_gradient_path.ipynb", "c4d5e6f8")
    return {**backward, "record_gradient_norms": hook["record_gradient_norms"]}


def test_lesson03_page_shows_the_identity_term(code03):
    """The cell's own lines: ∂y/∂x of x + F(x) is I + ∂F/∂x bit for bit, and ∂F/∂x is not the identity."""
    J, J_F, I = code03["J"], code03["J_F"], code03["I"]
    assert J.shape == (8, 8) and torch.equal(J, I + J_F) and not torch.equal(J_F, torch.zeros_like(J_F))


@pytest.mark.parametrize("block", L3.BLOCKS)
@pytest.mark.parametrize("seed", [0, 3])
def test_lesson03_page_backward_is_the_packages_jacobian(code03, block, seed):
    """Same block, same input → the page's backward passes give the package's Jacobian bit for bit, of the block
    and of its branch F, and jacobian_check reports the same numbers with either."""
    module, x = L3.residual_block(block, seed=seed)
    for f in (module, module.residual):
        assert torch.equal(code03["backward_through"](f, x), L3.autograd_jacobian(f, x))
    page, package = L3.jacobian_check(block, seed=seed, jacobian=code03["backward_through"]), L3.jacobian_check(
        block, seed=seed)
    assert (page.max_error, page.max_error_without_mask, page.max_error_finite_difference) == (
        package.max_error, package.max_error_without_mask, package.max_error_finite_difference)
    assert torch.equal(page.jacobian, package.jacobian) and torch.equal(page.jacobian_f, package.jacobian_f)


@pytest.mark.parametrize("kind", edu.nets.KINDS)
@pytest.mark.parametrize("batch_norm", [True, False])
def test_lesson03_page_hook_records_the_packages_profile(code03, kind, batch_norm):
    """The page's hooks, fired by loss.backward(), record the norms gradient_profile computes, bit for bit."""
    record = code03["record_gradient_norms"]
    page = L3.cifar_profile(20, kind, batch_norm, seed=1, record_norms=record)
    package = L3.cifar_profile(20, kind, batch_norm, seed=1)
    assert page.names == package.names and page.kinds == package.kinds and page.norms == package.norms
    assert page.label == package.label


def test_lesson03_studies_with_the_page_hook_give_the_same_numbers(code03):
    record = code03["record_gradient_norms"]
    page = L3.depth_study(depths=(8, 14), seed=2, draws=2, progress=False, record_norms=record)
    package = L3.depth_study(depths=(8, 14), seed=2, draws=2, progress=False)
    assert page.draw_ratios == package.draw_ratios and page.ratios("plain") == package.ratios("plain")
    for init, scale in (("default", 1.0), ("he", 0.1)):
        page = L3.mlp_study(depth=20, init=init, branch_scale=scale, seed=1, record_norms=record)
        package = L3.mlp_study(depth=20, init=init, branch_scale=scale, seed=1)
        assert all(page.profiles[k].norms == package.profiles[k].norms for k in edu.nets.KINDS)


def test_lesson03_page_code_arguments_are_checked():
    with pytest.raises(TypeError, match="jacobian must be a function"):
        L3.jacobian_check(jacobian="autograd")
    with pytest.raises(ValueError, match="must return a 8×8 matrix"):
        L3.jacobian_check(jacobian=lambda f, x: torch.zeros(8, 4, dtype=x.dtype))
    with pytest.raises(TypeError, match="record_norms must be a function"):
        L3.depth_study(depths=(8,), progress=False, record_norms={})
    with pytest.raises(TypeError, match="must return the dict its hooks fill"):
        L3.cifar_profile(8, record_norms=lambda model: None)
    with pytest.raises(ValueError, match="not conv/linear layer names"):
        L3.cifar_profile(8, record_norms=lambda model: {"conv": 1.0})
