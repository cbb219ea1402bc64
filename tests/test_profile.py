"""resnet_edu.gradients.gradient_profile (foundation contract) and resnet_edu.viz."""

import shutil

import matplotlib
import pytest
import torch

from resnet_edu import diagrams, gradients, nets, viz

matplotlib.use("Agg")


def test_profile_has_one_entry_per_weight_layer_in_order():
    model = nets.cifar_net(20)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    p = gradients.gradient_profile(model, x, y, label="ResNet-20")
    assert len(p) == 19 + 1 + 0  # 19 convs (no projection with option A) + fc
    assert p.names[0] == "conv1" and p.names[1] == "layer1.0.conv1" and p.names[-1] == "fc"
    assert all(n > 0 for n in p.norms) and p.kinds.count("conv") == 19
    assert p.ratio("conv") > 0
    ax = p.plot()
    assert ax.get_yscale() == "log" and ax.get_title()


def test_profile_mlp_float_targets_use_mse():
    m = nets.mlp(3, width=8, in_features=2, out_features=2)
    p = gradients.gradient_profile(m, torch.randn(4, 2), torch.randn(4, 2))
    assert len(p) == 5 and p.kinds == ["linear"] * 5


def test_profile_without_weight_layers_is_an_error():
    with pytest.raises(ValueError, match="no Conv2d or Linear"):
        gradients.gradient_profile(torch.nn.ReLU(), torch.randn(2, 2), torch.randn(2, 2))


def test_plot_helpers():
    a = gradients.GradientProfile(["a", "b"], [1.0, 0.1], "plain", ["conv", "conv"])
    b = gradients.GradientProfile(["a", "b"], [1.0, 1.0], "residual", ["conv", "conv"])
    ax = viz.plot_profiles([a, b])
    assert len(ax.lines) == 2
    assert viz.moving_average([1, 2, 3, 4], 2) == [1, 1.5, 2.5, 3.5]
    assert a.ratio() == pytest.approx(10.0)


def test_autograd_graph_or_clear_error(monkeypatch):
    x = torch.randn(1, 3, requires_grad=True)
    out = (x * 2).sum()
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(diagrams.GraphvizMissing, match="apt-get install graphviz.*conda install graphviz.*brew"):
        diagrams.autograd_graph(out)
    monkeypatch.undo()
    if shutil.which("dot"):
        graph = diagrams.autograd_graph(out, {"x": x})
        assert "MulBackward" in graph.source


def test_show_draws_or_prints_the_fix(monkeypatch, capsys):
    import graphviz

    graph = graphviz.Digraph()
    graph.node("x")
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    assert diagrams.show(graph) is False
    assert "apt-get install graphviz" in capsys.readouterr().out
