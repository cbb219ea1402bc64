"""Tests for resnet_edu.lessons.lesson04_identity_vs_lambda (lesson 04) and its exercise checkers: the property table
is recomputed and
asserted cell by cell."""

from __future__ import annotations

import io

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import resnet_edu as edu
from resnet_edu.lessons import lesson04_identity_vs_lambda as S

matplotlib.use("Agg")

Y, N = True, False
# property -> (module, lambda, lambda_layer): what the lesson's table must show
EXPECTED = {
    "visible": (Y, N, Y),
    "state_dict": (Y, Y, Y),
    "state_dict_roundtrip": (Y, Y, Y),
    "save_whole": (Y, N, N),
    "deepcopy": (Y, Y, Y),
    "jit_script": (Y, N, N),
    "jit_trace": (Y, Y, Y),
    "fx": (Y, Y, Y),
    "fx_node": (Y, N, N),
    "compile": (Y, Y, Y),
    "cast": (Y, Y, Y),
    "hook": (Y, N, Y),
    "proj_parameters": (Y, N, N),
    "proj_training": (Y, N, N),
    "proj_state_dict": (Y, N, N),
    "proj_roundtrip": (Y, N, N),
    "proj_cast": (Y, N, N),
    "proj_deepcopy": (Y, N, N),
}


@pytest.fixture(scope="module")
def table() -> S.PropertyTable:
    return S.property_table(progress=False)


def test_expected_covers_every_property():
    assert set(EXPECTED) == set(S.PROPERTIES)


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.parametrize("index,version", list(enumerate(S.VERSIONS)))
def test_property_table_cell(table, name, index, version):
    expected = EXPECTED[name][index]
    if name == "compile" and S.compile_support():
        expected = None  # skipped, with the reason in the detail
    probe = table[name].results[version]
    assert isinstance(probe, S.Probe) and isinstance(probe.detail, str) and probe.detail
    assert table.ok(name, version) is expected, f"{name} / {version}: {probe.detail}"


def test_table_views(table):
    assert table.names == list(S.PROPERTIES) and table.missing() == []
    d = table.as_dict()
    assert d["save_whole"] == {"module": True, "lambda": False, "lambda_layer": False}
    text = table.to_text()
    assert "✅" in text and "❌" in text and "[1×1 projection shortcut (W_s x)]" in text
    assert repr(table) == text
    html = table._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") >= len(S.PROPERTIES) + 1 and "Can&#x27;t pickle" in html
    ax = table.plot()
    assert ax.get_title() and ax.get_xlabel() and len(ax.get_yticklabels()) == len(S.PROPERTIES)
    with pytest.raises(KeyError, match="has not been run"):
        S.PropertyTable()["visible"]


def test_table_run_keeps_one_row_per_property():
    t = S.PropertyTable()
    row = t.run("state_dict")
    t.run("visible")
    t.run("state_dict")
    assert t.names == ["visible", "state_dict"] and isinstance(row, S.PropertyRow)
    assert "visible" not in t.missing() and "hook" in t.missing()
    text = repr(row)
    assert text.startswith("state_dict holds") and text.count("✅") == 3 and "nn.Identity()" in text


def test_property_table_subset_and_errors():
    t = S.property_table(["visible"], versions=("lambda",), progress=False)
    assert t.as_dict() == {"visible": {"lambda": False}}
    with pytest.raises(ValueError, match="unknown property 'nope'"):
        S.property_table(["nope"], progress=False)
    with pytest.raises(ValueError, match="unknown property"):
        S.run_property("nope")
    with pytest.raises(ValueError, match="version must be one of"):
        S.run_property("visible", versions=("identity",))
    with pytest.raises(ValueError, match="version must be one of"):
        S.run_property("visible").ok("identity")


# --- the details say what the lesson claims ---------------------------------------------------------------------

def test_details_tell_the_truth(table):
    r = {name: {v: table[name].results[v].detail for v in S.VERSIONS} for name in S.PROPERTIES}
    assert "(shortcut): Identity()" in r["visible"]["module"] and "LambdaLayer()" in r["visible"]["lambda_layer"]
    assert all("0 from the shortcut" in d for d in r["state_dict"].values())
    assert "Can't pickle local object" in r["save_whole"]["lambda"] and "<lambda>" in r["save_whole"]["lambda_layer"]
    assert "refused" in r["save_whole"]["module"] and "safe_globals" in r["save_whole"]["module"]
    assert "no attribute 'shortcut'" in r["jit_script"]["lambda"]
    assert "no attribute 'fn'" in r["jit_script"]["lambda_layer"]
    assert "inlined" in r["fx_node"]["lambda_layer"] and "'shortcut'" in r["fx_node"]["module"]
    assert "register_forward_hook" in r["hook"]["lambda"]
    assert "nothing to convert" in r["cast"]["lambda"]
    assert "hidden from it" in r["proj_parameters"]["lambda"] and "32 weights" in r["proj_parameters"]["lambda"]
    assert "bit-for-bit unchanged" in r["proj_training"]["lambda_layer"] and "moved" in r["proj_training"]["module"]
    assert "['shortcut.weight']" in r["proj_state_dict"]["module"] and "missing" in r["proj_state_dict"]["lambda"]
    assert "outputs differ" in r["proj_roundtrip"]["lambda"]
    assert "strict=True (no error)" in r["proj_roundtrip"]["lambda"]
    assert "float32" in r["proj_cast"]["lambda"] and "forward fails" in r["proj_cast"]["lambda"]
    assert "shares" in r["proj_deepcopy"]["lambda"]


def test_probes_are_deterministic():
    assert S.probe_training("lambda", projection=True) == S.probe_training("lambda", projection=True)
    assert S.probe_state_dict_roundtrip("lambda", True) == S.probe_state_dict_roundtrip("lambda", True)


def test_jit_script_reports_the_same_reason_twice():
    first, second = S.probe_jit_script("lambda"), S.probe_jit_script("lambda")
    assert first == second and "Can't redefine" not in second.detail


def test_probe_cast_device_and_errors():
    assert S.probe_cast("lambda", projection=True, to="cpu").ok is True  # nothing has to move on a CPU
    with pytest.raises(TypeError, match="torch.dtype"):
        S.probe_cast("module", to=64)
    if torch.cuda.is_available():
        probe = S.probe_cast("lambda", projection=True, to="cuda")
        assert probe.ok is False and "cpu" in probe.detail


def test_probe_training_errors():
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        S.probe_training("module", True, steps=0)
    assert S.probe_training("lambda").detail == "the shortcut has no weights: nothing to train"


def test_probe_mark():
    assert (S.Probe(True, "").mark, S.Probe(False, "").mark, S.Probe(None, "").mark) == ("✅", "❌", "⏭️")


def test_compile_skip_switch(monkeypatch):
    S.compile_support.cache_clear()
    monkeypatch.setenv("RESNET_EDU_SKIP_COMPILE", "1")
    try:
        probe = S.probe_compile("module")
        assert probe.ok is None and "RESNET_EDU_SKIP_COMPILE" in probe.detail and probe.mark == "⏭️"
    finally:
        S.compile_support.cache_clear()


# --- blocks and helpers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", S.VERSIONS)
@pytest.mark.parametrize("projection", [False, True])
def test_versions_compute_the_same_function(version, projection):
    x = S.example_input()
    ref = S.make_block("module", projection).eval()
    block = S.make_block(version, projection).eval()
    out = block(x)
    assert out.shape == (4, 8 if projection else 4, 8, 8)
    assert torch.allclose(out, ref(x))  # same seed: the hidden projection gets the same weights too
    if not projection:
        assert torch.allclose(out, block.relu(block.residual(x) + x))  # H(x) = relu(F(x) + x)


def test_make_block_is_seeded():  # and leaves the global RNG alone: tests/test_runtime.py
    a, b = S.make_block(seed=5), S.make_block(seed=5)
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.equal(a.conv1.weight, S.make_block(seed=6).conv1.weight)
    assert torch.equal(S.example_input(), S.example_input()) and S.example_input(2, 3, 5).shape == (2, 3, 5, 5)


def test_block_errors():
    with pytest.raises(ValueError, match="version must be one of 'module', 'lambda', 'lambda_layer'"):
        S.ResidualBlock("identity")
    with pytest.raises(ValueError, match="version must be one of"):
        S.make_block("Identity")
    with pytest.raises(ValueError, match="channels must be an integer >= 1"):
        S.ResidualBlock("module", channels=0)


def test_lambda_layer():
    layer = S.LambdaLayer(lambda x: 2 * x)
    assert torch.equal(layer(torch.ones(2)), torch.full((2,), 2.0)) and repr(layer) == "LambdaLayer()"
    with pytest.raises(TypeError, match=r"fn \(what LambdaLayer wraps\) must be a function"):
        S.LambdaLayer(3)


def test_hidden_modules():
    assert S.hidden_modules(S.make_block("module", True)) == []
    assert S.hidden_modules(S.make_block("lambda")) == []  # x -> x closes over nothing
    found = S.hidden_modules(S.make_block("lambda_layer", True))
    assert [name for name, _ in found] == ["shortcut.fn.<closure proj>"] and isinstance(found[0][1], nn.Conv2d)
    conv = nn.Linear(2, 2)

    def inner(x):
        return conv(x)

    class Nested(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.f = lambda x: inner(x)

    assert [n for n, _ in S.hidden_modules(Nested())] == ["f.<closure inner>.<closure conv>"]
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        S.hidden_modules(lambda x: x)


def test_as_feature_extractor():
    model = S.as_feature_extractor(edu.nets.resnet18()).eval()
    assert isinstance(model.fc, nn.Identity) and "fc.weight" not in model.state_dict()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 512)
    with pytest.raises(ValueError, match="no sub-module 'head'"):
        S.as_feature_extractor(edu.nets.resnet18(), head="head")
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        S.as_feature_extractor("resnet18")


def test_whole_model_needs_allow_listing_for_weights_only():
    buffer = io.BytesIO()
    torch.save(S.make_block("module"), buffer)
    buffer.seek(0)
    with pytest.raises(Exception, match="Unsupported global"):
        torch.load(buffer, weights_only=True)
    buffer.seek(0)
    assert isinstance(torch.load(buffer, weights_only=False), S.ResidualBlock)


# --- exercises ----------------------------------------------------------------------------------------------------

class _Broken(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        proj = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.shortcut = lambda x: proj(x)

    def forward(self, x):
        return F.relu(self.conv(x) + self.shortcut(x))


def test_exercise_identity_state_keys(capsys):
    ex = edu.exercises
    assert ex.solution_identity_state_keys() == 0
    assert ex.check_identity_state_keys(None) is False and "No answer yet" in capsys.readouterr().out
    assert ex.check_identity_state_keys(0) is True and "✅" in capsys.readouterr().out
    assert ex.check_identity_state_keys(1) is False and "owns no tensor" in capsys.readouterr().out
    # a wrong type is a wrong answer with an explanation, never an exception
    for wrong in ("zero", 0.0, True, [0]):
        assert ex.check_identity_state_keys(wrong) is False and "whole number of keys" in capsys.readouterr().out


def test_exercise_save_survivors(capsys):
    ex = edu.exercises
    assert ex.solution_save_survivors() == {"module"}
    assert ex.check_save_survivors(...) is False and "No answer yet" in capsys.readouterr().out
    assert ex.check_save_survivors({"module"}) is True and ex.check_save_survivors("module") is True
    capsys.readouterr()
    assert ex.check_save_survivors(["module", "lambda_layer"]) is False and "Hint" in capsys.readouterr().out
    assert ex.check_save_survivors({"identity"}) is False and "unknown version" in capsys.readouterr().out
    assert ex.check_save_survivors(3) is False and "set (or list) of version names" in capsys.readouterr().out


def test_exercise_projection_block(capsys):
    ex = edu.exercises
    assert ex.check_projection_block(None) is False and "No answer yet" in capsys.readouterr().out
    assert ex.check_projection_block(_Broken) is False
    out = capsys.readouterr().out
    assert "hidden in a closure" in out and "no registered 1×1 Conv2d" in out
    assert ex.check_projection_block(ex.solution_projection_block()) is True and "✅" in capsys.readouterr().out
    assert ex.check_projection_block(lambda c_in, c_out: nn.Identity()) is False
    assert "(4, 8, 8, 8)" in capsys.readouterr().out
    assert ex.check_projection_block(lambda c_in, c_out: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert ex.check_projection_block(42) is False and "Pass the class itself" in capsys.readouterr().out
    assert ex.check_projection_block(ex.solution_projection_block()(4, 8)) is False
    assert "pass the class itself" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [0, 3])
def test_closure_batchnorm_ignores_eval_apply_and_parameters(seed):
    """torchvision's downsample (1×1 conv + BN) in a lambda: the BN stays in training mode after .eval(), and
    apply()/parameters() never reach it; registered, it behaves."""
    runs = {v: S.closure_batchnorm(v, seed=seed) for v in S.VERSIONS}
    for v in ("lambda", "lambda_layer"):
        r = runs[v]
        assert r.batch_dependence > 0.05 and r.stats_updates == 2 and not r.bn_in_parameters
        assert (r.bns_reached_by_apply, r.bns_in_block) == (2, 3)
    r = runs["module"]
    assert r.batch_dependence < 1e-5 and r.stats_updates == 0 and r.bn_in_parameters
    assert (r.bns_reached_by_apply, r.bns_in_block) == (3, 3)
    block = S.make_block("module", projection=True, batch_norm=True)
    assert "shortcut.1.running_mean" in block.state_dict()  # torchvision's layout: conv, then BN
    with pytest.raises(ValueError, match="pass projection=True"):
        S.ResidualBlock("module", batch_norm=True)


def test_exercise_closure_batchnorm(capsys):
    ex = edu.exercises
    assert ex.solution_closure_batchnorm() == "yes"
    assert ex.check_closure_batchnorm(None) is False and "No answer yet" in capsys.readouterr().out
    assert ex.check_closure_batchnorm("yes") is True and "training mode" in capsys.readouterr().out
    assert ex.check_closure_batchnorm("no") is False
    assert "not among them" in capsys.readouterr().out  # the wrong answer gets the reason, not only the truth
    assert ex.check_closure_batchnorm(True) is False and "one of 'yes', 'no'" in capsys.readouterr().out
