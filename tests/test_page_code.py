"""The code a lesson's claim rests on is written on its page, and the experiment runs it (issue 27 item 3): each
test executes a notebook cell's definitions and holds them equal to the package's default, so the two cannot drift."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
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


# -- lesson 02: the zero-initialised block ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def code02() -> dict[str, object]:
    return page_code("02_identity_mapping.ipynb", "a7f20e11")


@pytest.mark.parametrize("kind", edu.nets.KINDS)
def test_lesson02_zero_init_builds_the_packages_zero_init_net(code02, kind):
    """The page's Block with the page's zero_init applied to every block = cifar_net(zero_init_residual=True):
    the same weights (γ = 0 in every bn2) and the same outputs, in training and in eval mode."""
    residual = edu.nets.check_kind(kind)
    torch.manual_seed(0)
    page = edu.nets.cifar_net(14, residual=residual, width=4, block=code02["Block"])
    for stage in (page.layer1, page.layer2, page.layer3):
        for block in stage:
            code02["zero_init"](block)
    torch.manual_seed(0)
    package = edu.nets.cifar_net(14, residual=residual, width=4, zero_init_residual=True)
    assert list(page.state_dict()) == list(package.state_dict())
    for a, b in zip(page.state_dict().values(), package.state_dict().values()):
        assert torch.equal(a, b)
    x = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    for mode in (True, False):
        page.train(mode)
        package.train(mode)
        assert torch.equal(page(x), package(x))


def test_lesson02_zero_init_block_is_the_identity(code02):
    """F(x) = 0 whatever the convolutions hold: relu(x) with the shortcut, 0 without."""
    residual = code02["zero_init"](code02["Block"](4, 4, 1, torch.nn.Identity()))
    plain = code02["zero_init"](code02["Block"](4, 4))
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        assert torch.equal(residual(x.clone()), torch.relu(x)) and torch.equal(plain(x.clone()), torch.zeros_like(x))


@pytest.mark.parametrize("seed", [0, 3])
def test_lesson02_experiment_with_the_page_code_gives_the_same_numbers(code02, seed):
    lesson = edu.lessons.lesson02_identity_mapping
    page = lesson.zero_init_identity_gap(blocks=3, seed=seed, block=code02["Block"], zero_init=code02["zero_init"])
    assert page == lesson.zero_init_identity_gap(blocks=3, seed=seed)
    assert page == lesson.zero_init_identity_gap(blocks=3, seed=seed, zero_init=code02["zero_init"])  # on BasicBlock


def test_lesson02_zero_init_arguments_are_checked():
    lesson = edu.lessons.lesson02_identity_mapping
    with pytest.raises(TypeError, match="zero_init must be a function"):
        lesson.zero_init_identity_gap(zero_init="gamma")
    with pytest.raises(TypeError, match="zero_init takes a resnet_edu.nets.BuildingBlock"):
        lesson.zero_init(torch.nn.Linear(2, 2))


# -- lesson 05: the Euler loop ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def euler05():
    return page_code("05_ode_view.ipynb", "f209538b")["euler"]


@pytest.mark.parametrize("steps", [1, 7, 64])
def test_lesson05_euler_loop_is_the_packages_solve_and_stack(euler05, steps):
    ode = edu.lessons.lesson05_ode_view
    f = ode.vector_field(seed=2)
    x0 = torch.randn(9, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        page = euler05(f, x0, 1.5, steps)
        assert torch.equal(page, ode.solve(f, x0, 1.5, steps, "euler"))
        assert torch.equal(page, ode.ResidualStack(f, steps, 1.5)(x0))


def test_lesson05_convergence_with_the_page_loop_gives_the_same_numbers(euler05):
    ode = edu.lessons.lesson05_ode_view
    page = ode.convergence(steps=(8, 16, 32), methods=("euler", "rk4"), euler=euler05)
    package = ode.convergence(steps=(8, 16, 32), methods=("euler", "rk4"))
    assert page.errors == package.errors and page.orders == package.orders


def test_lesson05_euler_argument_is_checked(euler05):
    ode = edu.lessons.lesson05_ode_view
    with pytest.raises(TypeError, match="euler must be a function"):
        ode.convergence(steps=(8, 16), euler="euler")
    with pytest.raises(ValueError, match="euler= computes the 'euler' column"):
        ode.convergence(steps=(8, 16), methods=("rk4",), euler=euler05)


# -- lesson 08: the gradient-norm hook inside the training loop ------------------------------------------------
@pytest.fixture(scope="module")
def norms08():
    return page_code("08_train_cifar10.ipynb", "lesson08-02a")["gradient_norms"]


def test_lesson08_hook_measures_what_the_fused_recorder_measures(norms08):
    """One backward, both recorders: the page's norms and the package's fused ones agree bit for bit (CPU)."""
    lesson = edu.lessons.lesson08_train_cifar10
    torch.manual_seed(0)
    net = edu.nets.cifar_net(14, residual=False, width=4, in_channels=1)
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    torch.nn.functional.cross_entropy(net(x), y).backward()
    page, package = lesson.GradientRecorder(net, 1, norms=norms08), lesson.GradientRecorder(net, 1)
    page(0)
    package(0)
    assert torch.equal(norms08(net), torch.stack([w.grad.norm() for w in package.weights]))
    assert np.array_equal(page.history().norms, package.history().norms)


def test_lesson08_train_pair_with_the_page_hook_gives_the_same_numbers(norms08):
    lesson = edu.lessons.lesson08_train_cifar10
    recipe = edu.recipes.with_recipe(lesson.DYNAMICS_CPU, steps=6, last=2)
    page = lesson.train_pair(depth=8, recipe=recipe, every=1, progress=False, gradient_norms=norms08)
    package = lesson.train_pair(depth=8, recipe=recipe, every=1, progress=False)
    for kind in edu.nets.KINDS:
        a, b = page.history(kind), package.history(kind)
        assert np.array_equal(a.norms, b.norms) and np.array_equal(a.updates, b.updates, equal_nan=True)
        assert page.runs[kind].fit.loss == package.runs[kind].fit.loss


def test_lesson08_hook_is_checked(norms08):
    lesson = edu.lessons.lesson08_train_cifar10
    net = edu.nets.cifar_net(8, width=4, in_channels=1)
    with pytest.raises(TypeError, match="norms must be a function"):
        lesson.GradientRecorder(net, 1, norms="l2")
    net(torch.randn(2, 1, 8, 8)).sum().backward()
    with pytest.raises(ValueError, match="norms\\(model\\) must return a tensor of 8 gradient norms"):
        lesson.GradientRecorder(net, 1, norms=lambda m: norms08(m)[:3])(0)


# -- lessons 03 and 03b: backward through one block (the +I term), and the hook that records each layer's gradient
#    norm ------------------------------------------------------------------------------------------------------
L3 = edu.lessons.lesson03_gradient_path
L3b = edu.lessons.lesson03b_gradient_norms


@pytest.fixture(scope="module")
def code03() -> dict[str, object]:
    backward = page_code("03_gradient_path.ipynb", "b7e3a1c2", lesson=L3, seed=0)
    hook = page_code("03b_gradient_norms.ipynb", "c4d5e6f8")
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
    page = L3b.cifar_profile(20, kind, batch_norm, seed=1, record_norms=record)
    package = L3b.cifar_profile(20, kind, batch_norm, seed=1)
    assert page.names == package.names and page.kinds == package.kinds and page.norms == package.norms
    assert page.label == package.label


def test_lesson03_studies_with_the_page_hook_give_the_same_numbers(code03):
    record = code03["record_gradient_norms"]
    page = L3b.depth_study(depths=(8, 14), seed=2, draws=2, progress=False, record_norms=record)
    package = L3b.depth_study(depths=(8, 14), seed=2, draws=2, progress=False)
    assert page.draw_ratios == package.draw_ratios and page.ratios("plain") == package.ratios("plain")
    for init, scale in (("default", 1.0), ("he", 0.1)):
        page = L3b.mlp_study(depth=20, init=init, branch_scale=scale, seed=1, record_norms=record)
        package = L3b.mlp_study(depth=20, init=init, branch_scale=scale, seed=1)
        assert all(page.profiles[k].norms == package.profiles[k].norms for k in edu.nets.KINDS)


def test_lesson03_page_code_arguments_are_checked():
    with pytest.raises(TypeError, match="jacobian must be a function"):
        L3.jacobian_check(jacobian="autograd")
    with pytest.raises(ValueError, match="must return a 8×8 matrix"):
        L3.jacobian_check(jacobian=lambda f, x: torch.zeros(8, 4, dtype=x.dtype))
    with pytest.raises(TypeError, match="record_norms must be a function"):
        L3b.depth_study(depths=(8,), progress=False, record_norms={})
    with pytest.raises(TypeError, match="must return the dict its hooks fill"):
        L3b.cifar_profile(8, record_norms=lambda model: None)
    with pytest.raises(ValueError, match="not conv/linear layer names"):
        L3b.cifar_profile(8, record_norms=lambda model: {"conv": 1.0})


# --- lesson 01: the training step on the page ---


def _page_training_step(net, x, y, optimizer):
    import torch.nn.functional as F

    logits = net(x)
    loss = F.cross_entropy(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss, logits


def _notebook01_training_step():
    import json

    cells = json.loads((NOTEBOOKS / "01_degradation.ipynb").read_text())["cells"]
    source = "".join(next(c for c in cells if c.get("id") == "162ae34b")["source"])
    namespace: dict = {}
    exec(source.split("# run() below")[0], namespace)  # the definition only, not the print
    return namespace["training_step"]


@pytest.mark.parametrize("step", [_page_training_step, "notebook"])
def test_lesson01_page_training_step_trains_to_the_same_weights_and_records(step):
    from resnet_edu import data as edu_data
    from resnet_edu import nets, train

    step = _notebook01_training_step() if step == "notebook" else step
    ds = edu_data.digits(8)
    config = train.TrainConfig(steps=6, batch_size=32, optimizer="adam", lr=1e-3, seed=3, eval_every=3)
    runs = []
    for kwargs in ({}, {"train_step": step}):
        torch.manual_seed(0)
        net = nets.cifar_net(8, width=4, in_channels=1, num_classes=10)
        result = train.fit(net, ds, config, eval_data=ds, progress=False, device="cpu", **kwargs)
        runs.append((net, result))
    (a, ra), (b, rb) = runs
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert ra.loss == rb.loss and ra.acc == rb.acc and ra.evals == rb.evals


def test_lesson01_run_with_the_page_step_gives_the_same_numbers():
    from resnet_edu.lessons import lesson01_degradation as L1

    recipe = L1._recipes.with_recipe(L1._recipes.DEGRADATION_CPU, steps=4)
    a = L1.run(depths=(8,), recipe=recipe, progress=False)
    b = L1.run(depths=(8,), recipe=recipe, progress=False, train_step=_page_training_step)
    assert {k: r.loss for k, r in a.runs.items()} == {k: r.loss for k, r in b.runs.items()}


def test_a_page_step_is_checked():
    from resnet_edu import data as edu_data
    from resnet_edu import nets, train

    ds = edu_data.digits(8)
    config = train.TrainConfig(steps=2, batch_size=32, seed=0)
    net = nets.cifar_net(8, width=4, in_channels=1, num_classes=10)
    with pytest.raises(TypeError, match="train_step must be a function"):
        train.fit(net, ds, config, progress=False, device="cpu", train_step="step")
    with pytest.raises(TypeError, match=r"must return \(loss, logits\)"):
        train.fit(net, ds, config, progress=False, device="cpu", train_step=lambda m, x, y, o: m(x).sum())
    with pytest.raises(ValueError, match="cannot be combined"):
        train.fit(net, ds, config, progress=False, device="cpu", train_step=_page_training_step,
                  after_backward=lambda s: None)


# -- lesson 09: stochastic depth (Huang et al. 2016) -------------------------------------------------------------
def test_lesson09_stochastic_depth_page_code_is_the_packages():
    """The page's block and decay rule train and lesion like the package's defaults: same survival rates, same
    outputs in training (same draws) and at test time, the same trained weights."""
    from resnet_edu.lessons import lesson09_ensembles_paths as L9

    code = page_code("09_ensembles_paths.ipynb", "l09-12c", lesson=L9)
    page_block, page_decay = code["StochasticDepthBlock"], code["linear_decay"]
    built = []
    for block, decay in ((page_block, page_decay), (L9.StochasticDepthBlock, L9.linear_decay)):
        torch.manual_seed(0)
        model = edu.nets.cifar_net(20, width=4, in_channels=1, block=block)
        built.append((model, decay(model)))
    (a, pa), (b, pb) = built
    assert pa == pb
    x = torch.randn(8, 1, 8, 8)
    for mode in (True, False):
        outs = []
        for model in (a, b):
            model.train(mode)
            torch.manual_seed(1)
            outs.append(model(x))
        assert torch.equal(*outs), f"training={mode}"
    recipe = edu.recipes.with_recipe(edu.recipes.DEGRADATION_CPU, steps=3)
    nets = L9.train_nets((("plain", 8), ("residual", 8)), recipe=recipe, progress=False)
    mine = L9.train_stochastic_depth(nets, block=page_block, survival=page_decay, progress=False)["residual-8"]
    default = L9.train_stochastic_depth(nets, progress=False)["residual-8"]
    assert all(torch.equal(p, q) for p, q in zip(mine.state_dict().values(), default.state_dict().values()))
