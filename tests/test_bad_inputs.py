"""Bad input gets a clear answer everywhere (issue 14): one table of wrong arguments a learner might type, over the
public API of every module, each with the error it must raise and the sentence it must say. Nothing here may end
in a silent NaN, a wrong number, or a message from deep inside torch."""

import math

import pytest
import torch

import resnet_edu as edu
from resnet_edu import diagrams, gradients, nets, runtime, viz, widgets
from resnet_edu.lessons import lesson02_identity_mapping as identity
from resnet_edu.lessons import lesson03_gradient_path as L3
from resnet_edu.lessons import lesson03b_gradient_norms as L3b
from resnet_edu.lessons import lesson04_identity_vs_lambda as shortcuts
from resnet_edu.lessons import lesson05_ode_view as ode

nan, inf = math.nan, math.inf
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the answer on a machine without CUDA")


def _enter(context):  # a context manager's checks run when the `with` block starts
    with context:
        pass


CASES = [
    # flags are real bools: a string is not read as True
    ("cifar_net residual='plain'", lambda: nets.cifar_net(8, residual="plain"), TypeError,
     r"residual must be True or False; got 'plain' \(str\)"),
    ("mlp residual='plain'", lambda: nets.mlp(3, residual="plain"), TypeError, "residual must be True or False"),
    ("cifar_net batch_norm=1", lambda: nets.cifar_net(8, batch_norm=1), TypeError, "batch_norm must be True or False"),
    ("make_block projection='yes'", lambda: shortcuts.make_block("module", projection="yes"), TypeError,
     "projection must be True or False"),
    ("depth_explorer residual='plain'", lambda: L3b.depth_explorer(residual="plain"), TypeError,
     "residual must be True or False"),
    ("cifar_profile batch_norm='yes'", lambda: L3b.cifar_profile(8, batch_norm="yes"), TypeError,
     "batch_norm must be True or False"),
    # NaN and inf are refused, never propagated
    ("mlp branch_scale=nan", lambda: nets.mlp(3, branch_scale=nan), ValueError, "branch_scale must be a finite number"),
    ("mlp branch_scale=inf", lambda: nets.mlp(3, branch_scale=inf), ValueError, "branch_scale must be a finite number"),
    ("mlp_study branch_scale=inf", lambda: L3b.mlp_study(branch_scale=inf), ValueError,
     "branch_scale .* must be a finite number; got inf"),
    ("learn_correction x=[nan, 1]", lambda: identity.learn_correction(x=[nan, 1.0]), ValueError,
     "x contains NaN or inf"),
    ("learn_correction lr=inf", lambda: identity.learn_correction(lr=inf), ValueError, "lr must be a finite number"),
    ("StepBlock h=nan", lambda: ode.StepBlock(ode.vector_field(), h=nan), ValueError,
     r"h \(the step size\) must be a finite number"),
    ("ResidualStack T=inf", lambda: ode.ResidualStack(ode.vector_field(), 4, T=inf), ValueError,
     "integration time.* must be a finite number"),
    ("two_spirals noise=nan", lambda: ode.two_spirals(noise=nan), ValueError, "noise must be a finite number"),
    ("train_ode_net lr=nan", lambda: ode.train_ode_net(lr=nan, progress=False), ValueError,
     "lr must be a finite number"),
    ("solve x0 with NaN", lambda: ode.solve(ode.vector_field(), torch.tensor([[nan, 0.0]], dtype=torch.float64)),
     ValueError, "x0 contains NaN or inf"),
    ("loss_gradient y=[True, 2]", lambda: identity.loss_gradient([1.0, 2.0], [True, 2.0]), TypeError,
     "y must be a list or 1-D tensor of numbers"),
    ("learn_correction x='ab'", lambda: identity.learn_correction(x="ab"), TypeError,
     "x must be a list or 1-D tensor of numbers"),
    # out-of-range values give an error, not a wrong number
    ("moving_average window=2.5", lambda: viz.moving_average([1.0, 2.0, 3.0], 2.5), TypeError,
     "window must be an integer; got 2.5"),
    ("moving_average window=0", lambda: viz.moving_average([1.0, 2.0], 0), ValueError,
     "window must be an integer >= 1; got 0"),
    ("moving_average values='abc'", lambda: viz.moving_average("abc", 2), TypeError,
     "values must be a list or tuple"),
    ("measured_order repeated N", lambda: ode.measured_order([8, 8, 16], [0.1, 0.1, 0.05]), ValueError,
     "steps must not repeat a value"),
    ("convergence repeated N", lambda: ode.convergence(steps=(16, 16, 32)), ValueError,
     "steps must not repeat a value"),
    ("measured_order one N", lambda: ode.measured_order([8], [0.1]), ValueError, "steps must hold at least 2 value"),
    ("measured_order error 0", lambda: ode.measured_order([8, 16], [0.1, 0.0]), ValueError, "every error must be > 0"),
    ("train_ode_net label_smoothing=1", lambda: ode.train_ode_net(label_smoothing=1.0, progress=False), ValueError,
     "label_smoothing must be >= 0 and < 1"),
    ("probe_batch batch_size=1", lambda: gradients.probe_batch(batch_size=1), ValueError,
     "batch_size must be an integer >= 2 and <= 1000; got 1"),
    ("zero_init_identity_gap seed=-1", lambda: identity.zero_init_identity_gap(seed=-1), ValueError,
     "seed must be an integer >= 0"),
    ("ResNet with 3 stages", lambda: nets.ResNet(nets.BasicBlock, (2, 2, 2)), ValueError,
     "layers must give 4 block counts"),
    # diagrams: nothing that is not a diagram is reported as drawn
    ("diagrams.show(None)", lambda: diagrams.show(None), TypeError, "graph must be a graphviz diagram.*got NoneType"),
    ("block_graph channels=2.5", lambda: diagrams.block_graph(channels=2.5), TypeError,
     "channels must be an integer; got 2.5"),
    ("count_nodes of a string", lambda: diagrams.count_nodes("digraph", "Add"), TypeError,
     "graph must be a graphviz diagram"),
    # seeds are ints; a seed typed as a string is answered plainly
    ("seeded(1.7)", lambda: _enter(runtime.seeded(1.7)), TypeError, r"seed must be an integer; got 1.7 \(float\)"),
    ("seed_everything(1.5)", lambda: runtime.seed_everything(1.5), TypeError, "seed must be an integer; got 1.5"),
    ("seed_everything('3')", lambda: runtime.seed_everything("3"), TypeError,
     "seed must be an integer, not the string '3'; write 3"),
    ("seeded('0')", lambda: _enter(runtime.seeded("0")), TypeError, "not the string '0'; write 0"),
    ("seed_everything('abc')", lambda: runtime.seed_everything("abc"), TypeError,
     "seed must be an integer such as 0 or 42; got the string 'abc'"),
    ("seed_everything(-1)", lambda: runtime.seed_everything(-1), ValueError, "seed must be an integer >= 0"),
    ("two_spirals seed=True", lambda: ode.two_spirals(seed=True), TypeError, "seed must be an integer; got True"),
    # sizes: ints, within bounds that say how to lift them
    ("cifar_net(8.0)", lambda: nets.cifar_net(8.0), TypeError, r"depth must be an integer \(write 8\)"),
    ("cifar_net depth 2000", lambda: nets.cifar_net(2000), ValueError,
     "depth must be at most 1202.*resnet_edu.nets.MAX_CIFAR_DEPTH"),
    ("mlp width 10**5", lambda: nets.mlp(3, width=10**5), ValueError,
     "width must be at most 4096.*resnet_edu.nets.MAX_WIDTH"),
    ("ResidualStack 10**6 steps", lambda: ode.ResidualStack(ode.vector_field(), 10**6), ValueError,
     "steps must be at most 100000.*resnet_edu.lessons.lesson05_ode_view.MAX_STEPS"),
    ("train_ode_net iterations 10**6", lambda: ode.train_ode_net(iterations=10**6, progress=False), ValueError,
     "iterations must be at most 100000"),
    ("stack k=10**4", lambda: identity.stack("plain", 10**4), ValueError,
     "k must be at most 200.*resnet_edu.lessons.lesson02_identity_mapping.MAX_UNITS"),
    ("jacobian_check dim=100", lambda: L3.jacobian_check(dim=100), ValueError, "dim must be at most 64"),
    ("vector_field dim='2'", lambda: ode.vector_field(dim="2"), TypeError,
     r"dim must be an integer \(write 2 without quotes\)"),
    ("example_input batch=0", lambda: shortcuts.example_input(batch=0), ValueError, "batch must be an integer >= 1"),
    # a sequence where a sequence is expected: one value or a bare string is refused by name
    ("depth_study depths=8", lambda: L3b.depth_study(depths=8), TypeError,
     r"depths must be a list or tuple of values, e\.g\. \[8\]"),
    ("convergence methods='euler'", lambda: ode.convergence(methods="euler"), TypeError,
     r"methods must be a list or tuple of values, e\.g\. \['euler'\]"),
    ("convergence steps=8", lambda: ode.convergence(steps=8), TypeError, "steps must be a list or tuple"),
    ("learn_identity ks=5", lambda: identity.learn_identity(ks=5, progress=False), TypeError,
     "ks must be a list or tuple"),
    ("property_table names='visible'", lambda: shortcuts.property_table(names="visible", progress=False), TypeError,
     "names must be a list or tuple"),
    ("run_property versions='module'", lambda: shortcuts.run_property("visible", versions="module"), TypeError,
     "versions must be a list or tuple"),
    ("plot_profiles of one profile", lambda: viz.plot_profiles(gradients.GradientProfile(["a"], [1.0])), TypeError,
     "profiles must be a list or tuple"),
    # choices
    ("ratio kind='convs'", lambda: gradients.GradientProfile(["a", "b"], [1.0, 1.0]).ratio("convs"), ValueError,
     "kind must be one of 'conv', 'linear'"),
    ("loss_gradient reduction='max'", lambda: identity.loss_gradient([1.0], [0.0], "max"), ValueError,
     "reduction must be one of 'half_sum', 'sum', 'mean'; got 'max'"),
    ("make_block version='lambda2'", lambda: shortcuts.make_block("lambda2"), ValueError,
     "version must be one of 'module', 'lambda', 'lambda_layer'"),
    ("vector_field dtype=int64", lambda: ode.vector_field(dtype=torch.int64), ValueError,
     "dtype must be one of torch.float32, torch.float64"),
    # objects of the wrong kind
    ("count_parameters of a class", lambda: nets.count_parameters(nets.CifarResNet), TypeError,
     r"model must be an nn.Module instance; got the class CifarResNet \(call it"),
    ("hidden_modules of a string", lambda: shortcuts.hidden_modules("net"), TypeError, "model must be an nn.Module"),
    ("step_explorer of a string", lambda: edu.lessons.lesson05_ode_view.step_explorer("result"), TypeError,
     "result must be what edu.lessons.lesson05_ode_view.train_ode_net"),
    ("SliderApp without controls", lambda: widgets.SliderApp({}, print), TypeError,
     "controls must be a non-empty dict"),
    ("plot_curves of nothing", lambda: viz.plot_curves({}), TypeError, "results must be a non-empty dict"),
    ("solve with f=3", lambda: ode.solve(3, torch.zeros(1, 2)), TypeError, r"f must be a function f\(x\) -> dx/dt"),
    # tensors at entry: shapes, channels and dtypes, with a sentence
    ("3-channel net on 1-channel images", lambda: nets.cifar_net(8)(torch.zeros(2, 1, 8, 8)), ValueError,
     "x must have 3 channel.*build the net with in_channels=1"),
    ("resnet18 on 1-channel images", lambda: nets.resnet18()(torch.zeros(1, 1, 32, 32)), ValueError,
     r"x must have 3 channel\(s\) in dimension 1 \(a batch of RGB images"),
    ("gradient_profile 1-channel digits", lambda: gradients.gradient_profile(
        nets.cifar_net(8), torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long)), ValueError,
     "inputs must have 3 channel"),
    ("gradient_profile inputs/targets mismatch", lambda: gradients.gradient_profile(
        nets.mlp(2), torch.zeros(4, 2), torch.zeros(3, dtype=torch.long)), ValueError,
     "inputs and targets must hold the same number of examples"),
    ("float64 points into a float32 field", lambda: ode.solve(ode.vector_field(dtype=torch.float32),
                                                               torch.zeros(3, 2, dtype=torch.float64)), TypeError,
     "x0 is torch.float64 but the field f computes in torch.float32"),
    ("solve x0 with 3 features", lambda: ode.solve(ode.vector_field(), torch.zeros(3, 3)), ValueError,
     "x0 must have 2 features"),
    ("solve x0 as a list", lambda: ode.solve(ode.vector_field(), [[0.0, 1.0]]), TypeError,
     "x0 must be a torch.Tensor"),
    ("ODENet on 3-D points", lambda: ode.ODENet()(torch.zeros(4, 3)), ValueError, r"shape \(n, 2\)"),
    ("autograd_graph without a graph", lambda: diagrams.autograd_graph(torch.ones(2).sum()), ValueError,
     "no autograd graph"),
]


@pytest.mark.parametrize(("call", "error", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_answered_with_a_sentence(call, error, message):
    with pytest.raises(error, match=message):
        call()


DEVICE_CASES = [
    ("cifar_profile device='cuda'", lambda: L3b.cifar_profile(8, device="cuda"), ValueError,
     "asks for a GPU, but this machine has no CUDA GPU"),
    ("probe_cast to='cuda'", lambda: shortcuts.probe_cast("module", to="cuda"), ValueError,
     "asks for a GPU, but this machine has no CUDA GPU"),
    ("cifar_profile device='gpu'", lambda: L3b.cifar_profile(8, device="gpu"), ValueError,
     "device must be 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    ("cifar_profile device=0.5", lambda: L3b.cifar_profile(8, device=0.5), TypeError,
     "device must be a string such as 'cpu'"),
]


@no_cuda
@pytest.mark.parametrize(("call", "error", "message"), [c[1:] for c in DEVICE_CASES], ids=[c[0] for c in DEVICE_CASES])
def test_devices_are_answered_plainly(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_device_strings_are_accepted():
    assert L3b.cifar_profile(8, device="cpu").norms == L3b.cifar_profile(8).norms


def test_float32_points_into_the_float64_field_are_converted_exactly():
    f = ode.vector_field()
    x32 = torch.randn(5, 2)
    assert torch.equal(ode.solve(f, x32, 1.0, 8), ode.solve(f, x32.double(), 1.0, 8))


def test_the_bool_that_was_residual_is_has_shortcuts():
    assert nets.cifar_net(8).has_shortcuts is True and nets.cifar_net(8, residual=False).has_shortcuts is False
    block = nets.cifar_net(8).layer1[0]
    assert callable(block.residual)  # `residual` is F, and only F
    assert not isinstance(getattr(nets.cifar_net(8), "residual", None), bool)


def test_the_table_holds_every_case_of_the_issue():
    names = " ".join(c[0] for c in CASES + DEVICE_CASES)
    for case in ("residual='plain'", "branch_scale=nan", "branch_scale=inf", "x=[nan", "h=nan", "window=2.5",
                 "seeded(1.7)", "repeated N", "diagrams.show(None)", "device='cuda'", "seed_everything('3')",
                 "depths=8", "methods='euler'", "float64 points", "1-channel"):
        assert case in names, case
    assert len(CASES) + len(DEVICE_CASES) >= 60
    assert edu.viz.KIND_COLORS == {"plain": "tab:red", "residual": "tab:blue"}
    assert not hasattr(viz, "show")  # one show(), in diagrams


def test_moving_average_keeps_a_divergence_local():
    # NaN in the data (a diverged step) shows in the windows that hold it, and only there
    assert viz.moving_average([1.0, nan, 3.0, 4.0, 5.0], 2)[2:] == [pytest.approx(nan, nan_ok=True), 3.5, 4.5]
    assert viz.moving_average([1, 2, 3, 4], 2) == [1.0, 1.5, 2.5, 3.5]
