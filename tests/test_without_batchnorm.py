"""Lesson 11 (a deep ResNet without BatchNorm): the blocks on the page are the module's, the experiments' numbers, and
the checkers' tables of wrong answers (each rejected with a sentence naming the mistake)."""

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import resnet_edu as edu
from resnet_edu import exercises
from resnet_edu.lessons import lesson11_without_batchnorm as L
from resnet_edu.runtime import seeded

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "11_without_batchnorm.ipynb"
BLOCKS = ("ResidualBlock", "BNResidualBlock", "SkipInitBlock", "PlainBlock", "FixupBlock")


def page_namespace() -> dict:
    """Run the notebook's cells that define the blocks (up to the ``arms`` dict) and return their namespace."""
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    start = next(i for i, c in enumerate(cells) if "class ResidualBlock" in c)
    end = next(i for i, c in enumerate(cells) if "arms = {" in c)
    namespace: dict = {"edu": edu, "seed": 0}
    for source in cells[start:end + 1]:
        exec(source, namespace)  # noqa: S102 - the lesson's own cells
    return namespace


def test_the_page_blocks_are_the_modules():
    page = page_namespace()
    x = torch.randn(4, 8, 6, 6, generator=torch.Generator().manual_seed(0))
    for name in BLOCKS:
        args = (8, 16) if name == "FixupBlock" else (8,)
        with seeded(3):
            mine = page[name](*args)
        with seeded(3):
            theirs = getattr(L, name)(*args)
        assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()], name
        with torch.no_grad():
            for p in mine.parameters():
                p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
            theirs.load_state_dict(mine.state_dict())
            assert torch.equal(mine.train()(x), theirs.train()(x)), name
    assert set(page["arms"]) == set(L.default_arms(16)) and page["depth"] == L.sizes()["depth"]


def test_zero_branches_are_exact_identities_and_bn_counts_blocks():
    v = L.stream_variance(depth=6, seed=0, batch=64)
    assert v.variance["SkipInit"] == v.variance["Fixup"] == [1.0] * 6
    assert v.branch["SkipInit"] == [0.0] * 6
    assert v.growth("no BN") > v.growth("BN") > 1
    assert v.per_block("no BN") == pytest.approx(v.growth("no BN") ** (1 / 6))
    assert "after 6" in str(v)
    with pytest.raises(ValueError, match="arm must be one of"):
        v.growth("LayerNorm")


def test_default_depth_shows_the_claims_on_seed_0():
    """The notebook's check-cell claims on its default seed (their ranges over seeds 0-5 are in the report)."""
    v = L.stream_variance(seed=0)
    depth = v.depth
    assert v.growth("no BN") / v.growth("BN") > 5
    assert 0.4 < v.growth("BN") / (depth + 1) < 2.5
    assert 0.5 < v.branch["BN"][-1] * (depth + 1) ** 0.5 < 2


def test_train_arms_tiny_and_bad_inputs():
    cfg = L.recipe(0).replace(steps=2)
    tr = L.train_arms({"SkipInit": L.SkipInitBlock, "no BN": L.ResidualBlock, "BN": L.BNResidualBlock}, depth=2,
                      config=cfg, progress=False)
    assert set(tr.accuracy) == {"SkipInit", "no BN", "BN"} and all(0 <= a <= 1 for a in tr.accuracy.values())
    assert "test accuracy" in str(tr)
    with pytest.raises(TypeError, match="arms must be a non-empty dict"):
        L.train_arms([L.SkipInitBlock], progress=False)
    with pytest.raises(TypeError, match="config must be"):
        L.train_arms(depth=2, config={"steps": 2}, progress=False)
    with pytest.raises(TypeError, match="block must be a block class"):
        L.Stack("SkipInit", 2, 4, 1, 10, 8)
    with pytest.raises(ValueError, match="depth"):
        L.stream_variance(depth=0)


def test_predictions_quote_the_run(capsys):
    v = L.stream_variance(depth=4, seed=0, batch=32)
    measured = "exponential" if v.growth("no BN") > 3 * 5 else "linear"
    assert exercises.check_growth_prediction(measured, v) is True and "after 4 blocks" in capsys.readouterr().out
    tr = L.train_arms({"BN": L.BNResidualBlock, "no BN": L.ResidualBlock}, depth=2,
                      config=L.recipe(0).replace(steps=2), progress=False)
    side = "yes" if tr.accuracy["no BN"] >= tr.accuracy["BN"] - 0.05 else "no"
    assert exercises.check_train_prediction(side, tr) is True and "test accuracy" in capsys.readouterr().out


# --- exercise 1: the growth factor ---

WRONG_GROWTH = {10: "linear growth", 11: "k + 1", 20: "they multiply", 2: "one block", 100: "power of 2",
                1000: "Not 1,000"}


def test_check_growth_factor(capsys, rejected):
    assert exercises.check_growth_factor(1024) is True and "2^10" in capsys.readouterr().out
    for answer, says in WRONG_GROWTH.items():
        rejected(exercises.check_growth_factor, answer, says)


# --- exercise 2: the SkipInit block, right and wrong ---


def _block(where="branch", alpha0=0.0, learnable=True, relu_after=False, bn=False, zero_branch=False):
    """A SkipInit-like block class with one thing changed: ``where`` α sits ("branch": x + α·F(x), "shortcut":
    α·x + F(x), "sum": α·(x + F(x)), "inside": before the branch's last layer, "input": F(α·x), "none": no α,
    "after_relu": just before the last conv, which is the same function), its start value, whether it is an
    nn.Parameter, a ReLU after the addition, BN in the branch, a zero-initialised branch."""

    class Block(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv1, self.conv2 = L.conv3x3(channels), L.conv3x3(channels)
            if zero_branch:
                nn.init.zeros_(self.conv2.weight)
            self.bn = nn.BatchNorm2d(channels) if bn else None
            if where != "none":
                value = torch.full((), alpha0)
                self.alpha = nn.Parameter(value) if learnable else alpha0

        def forward(self, x):
            a = getattr(self, "alpha", 1.0)
            inp = a * x if where == "input" else x
            h = self.conv1(torch.relu(self.bn(inp) if self.bn is not None else inp))
            h = torch.relu(a * h if where == "inside" else h)
            f = self.conv2(a * h if where == "after_relu" else h)
            if where == "branch":
                out = x + a * f
            elif where == "shortcut":
                out = a * x + f
            elif where == "sum":
                out = a * (x + f)
            else:
                out = x + f if where in ("none", "inside", "input") or not learnable else x + f
            return torch.relu(out) if relu_after else out

    return Block


RIGHT_SKIPINIT = {"the page's SkipInitBlock": L.SkipInitBlock, "the bottleneck solution":
                  exercises.solution_skipinit_block(), "α just before the last conv": _block("after_relu")}
WRONG_SKIPINIT = {  # name: (class, what the verdict must name)
    "α = 1": (_block(alpha0=1.0), "α starts at 1"),
    "α on the shortcut": (_block("shortcut"), "α is on the shortcut"),
    "α outside the branch's last layer (inside F)": (_block("inside"), "α sits inside the branch"),
    "α on the branch's input": (_block("input"), "α sits inside the branch"),
    "no α": (_block("none"), "There is no α"),
    "α on the whole sum": (_block("sum"), "α multiplies the whole sum"),
    "α a plain number": (_block(learnable=False), "no learnable scalar"),
    "ReLU after the addition": (_block(relu_after=True), "ReLU after the addition"),
    "BN left in the branch": (_block(bn=True), "normalisation layer"),
    "F zero-initialised too": (_block(zero_branch=True), "F(x) is zero"),
    "α = 0.5": (_block(alpha0=0.5), "α starts at 0.5"),
}


@pytest.mark.parametrize("name", RIGHT_SKIPINIT)
def test_check_skipinit_block_accepts_right_blocks(name, capsys):
    assert exercises.check_skipinit_block(RIGHT_SKIPINIT[name]) is True, capsys.readouterr().out


@pytest.mark.parametrize("name", WRONG_SKIPINIT)
def test_check_skipinit_block_names_each_mistake(name, rejected):
    rejected(exercises.check_skipinit_block, *WRONG_SKIPINIT[name])


def test_check_skipinit_block_template_is_not_an_answer_yet(capsys):
    class MySkipInitBlock(nn.Module):
        def __init__(self, channels):
            super().__init__()
            raise NotImplementedError("your code here")

    assert exercises.check_skipinit_block(MySkipInitBlock) is False
    assert "No answer yet" in capsys.readouterr().out
    assert exercises.check_skipinit_block(L.SkipInitBlock(4)) is False  # an instance, not the class
    assert "Pass the class itself" in capsys.readouterr().out
