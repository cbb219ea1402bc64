"""resnet_edu.diagrams: block diagrams traced with torch.fx, the autograd graph of a block, drawing or the fix
to print when Graphviz's `dot` is missing (lessons 02 and 03)."""

import shutil

import graphviz
import pytest
import torch
from torch import nn

from resnet_edu import diagrams, nets

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def test_block_diagram_marks_f_shortcut_and_add():
    plain = nets.cifar_net(8, residual=False).layer1[0]
    residual = nets.cifar_net(8, zero_init_residual=True).layer1[0]
    source = diagrams.block_diagram(plain, residual, titles=["plain", "residual"]).source
    assert source.count("⊕") == 1  # only the residual block adds
    assert 'label="F(x)"' in source and 'label="H(x)"' in source
    assert "shortcut" in source and "BN, γ = 0" in source
    assert "cluster_block0" in source and "cluster_block1" in source
    plain_only = diagrams.block_diagram(nets.PlainUnit(2, 4)).source
    assert "⊕" not in plain_only and "linear 2→4" in plain_only


def test_block_diagram_traces_other_shortcuts():
    downsampling = nets.cifar_net(20).layer2[0]  # option A shortcut: one node, not its internals
    source = diagrams.block_diagram(downsampling, nets.mlp(2)[1]).source
    assert "ShortcutA" in source and "pad" not in source
    assert source.count("⊕") == 2


def test_block_diagram_errors():
    with pytest.raises(ValueError, match="at least one block"):
        diagrams.block_diagram()
    with pytest.raises(TypeError, match="nn.Module"):
        diagrams.block_diagram("block")
    with pytest.raises(ValueError, match="one title per block"):
        diagrams.block_diagram(nn.ReLU(), titles=["a", "b"])


def test_block_diagram_builds_without_dot_and_only_drawing_needs_it(monkeypatch):
    monkeypatch.setenv("PATH", "")  # no Graphviz `dot` anywhere
    diagram = diagrams.block_diagram(nets.ResidualUnit(2, 4))
    assert diagram.source.count("⊕") == 1 and 'label="F(x)"' in diagram.source  # the notebook's checks still run
    with pytest.raises(graphviz.ExecutableNotFound):
        diagram.pipe(format="svg")  # drawing is what needs `dot` ...
    with pytest.raises(diagrams.GraphvizMissing, match="apt-get install graphviz"):
        diagrams.require_dot()  # ... and this is the message the notebook prints instead


def test_block_graph_marks_the_add_node_and_its_two_paths(monkeypatch):
    monkeypatch.setenv("PATH", "")  # building the graph's source needs no Graphviz `dot`
    residual, plain = diagrams.block_graph("residual"), diagrams.block_graph("plain")
    assert diagrams.count_nodes(residual, "AddBackward") == 1 and diagrams.count_nodes(plain, "AddBackward") == 0
    convs = [diagrams.count_nodes(graph, "ConvolutionBackward") for graph in (residual, plain)]
    assert convs == [2, 2]
    src = residual.source
    assert "identity path" in src and "F path" in src and "fillcolor=orange" in src
    assert "identity path" not in plain.source
    with pytest.raises(ValueError, match="kind must be"):
        diagrams.block_graph("resnet")
    with pytest.raises(graphviz.ExecutableNotFound):
        residual.pipe(format="svg")  # only drawing needs `dot` ...
    with pytest.raises(diagrams.GraphvizMissing, match="apt-get install graphviz"):
        diagrams.require_dot()  # ... and this is the fix the notebook prints instead


@needs_dot
def test_block_graph_renders_with_dot():
    assert diagrams.block_graph("residual").pipe(format="svg")[:5] in (b"<?xml", b"<svg ")


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


def test_show_refuses_what_is_not_a_diagram(capsys):
    for thing in (None, "digraph {}", 3):
        with pytest.raises(TypeError, match="graph must be a graphviz diagram"):
            diagrams.show(thing)
    assert capsys.readouterr().out == ""  # nothing claims to be drawn


def test_autograd_graph_needs_a_graph():
    with pytest.raises(ValueError, match="no autograd graph"):
        diagrams.autograd_graph(torch.ones(2).sum())
    with pytest.raises(TypeError, match="output must be a torch.Tensor"):
        diagrams.autograd_graph([1.0])
