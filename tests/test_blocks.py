"""resnet_edu.lessons.lesson06_blocks (lesson 06): the three rules, FLOPs vs torchvision's published figures, the stage
table,
interchangeability with torchvision; and lesson 06's exercise checkers."""

import math

import pytest
import torch
from torch import nn

from resnet_edu import exercises, nets
from resnet_edu.lessons import lesson06_blocks as blocks


def test_rule1_mismatched_shapes_fail_in_pytorch_itself():
    bad = nets.BasicBlock(16, 32, stride=1)  # downsample=None: the identity shortcut
    with pytest.raises(RuntimeError, match="must match"):
        blocks.check_rules(bad, torch.randn(2, 16, 8, 8))


def test_rule2_halving_without_doubling_is_named():
    net = nn.Sequential(blocks.make_stage(16, 16, 1, 1), blocks.make_stage(16, 16, 1, 2))
    with pytest.raises(blocks.RuleBroken, match=r"rule 2 broken at 1\.0: the resolution goes 8→4 and the width 16→16"):
        blocks.check_rules(net, torch.randn(2, 16, 8, 8))


def test_rule3_projection_where_identity_fits_is_named():
    proj = nn.Sequential(nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16))
    with pytest.raises(blocks.RuleBroken, match="rule 3 broken .* projection with 288 parameters"):
        blocks.check_rules(nets.BasicBlock(16, 16, 1, proj), torch.randn(2, 16, 8, 8))


@pytest.mark.parametrize("option,kind", [("A", "option A"), ("B", "projection")])
def test_rules_hold_in_the_real_nets(option, kind):
    records = blocks.check_rules(nets.cifar_net(20, shortcut=option, width=4), torch.randn(1, 3, 16, 16))
    assert len(records) == 9
    assert [r.shortcut for r in records].count(kind) == 2
    assert records[3].in_shape == (4, 16, 16) and records[3].out_shape == (8, 8, 8)


def test_check_rules_bad_arguments():
    with pytest.raises(ValueError, match="no BasicBlock or Bottleneck"):
        blocks.check_rules(nn.Conv2d(3, 3, 1), torch.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match="must have 4 dimensions"):
        blocks.check_rules(nets.cifar_net(8), torch.randn(3, 8, 8))
    with pytest.raises(ValueError, match="stride must be one of 1, 2"):
        blocks.make_stage(16, 32, 1, 3)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_flops_agree_with_torchvision_published_figures(name):
    table = blocks.stage_table(name)
    published = blocks.published_gflops(name)  # resnet18: 1.814, resnet50: 4.089 (multiply-adds)
    assert round(table.total_gmacs, 3) == published
    assert table.total_params == nets.count_parameters(getattr(nets, name)())
    assert sum(r.params for r in table.rows) == table.total_params
    assert sum(r.flops for r in table.rows) == table.total_flops


@pytest.mark.parametrize("name", ["resnet34", "resnet101", "resnet152"])
def test_flops_of_deeper_nets(name):
    with torch.device("meta"):  # FlopCounterMode needs only shapes: no memory, no arithmetic
        model, x = getattr(nets, name)(), torch.empty(1, 3, 224, 224)
    gmacs = blocks.count_flops(model, x) / 2e9
    assert round(gmacs, 3) == pytest.approx(blocks.published_gflops(name), abs=0.001)


def test_stage_table_sizes_and_widths():
    t18 = blocks.stage_table("resnet18")
    assert t18.sizes == [112, 56, 56, 28, 14, 7, 1]
    assert [r.out_shape[0] for r in t18.rows[2:6]] == [64, 128, 256, 512]
    t50 = blocks.stage_table("resnet50")
    assert [r.out_shape[0] for r in t50.rows[2:6]] == [256, 512, 1024, 2048]
    assert "layer3" in str(t18)
    with pytest.raises(ValueError, match="name must be one of"):
        blocks.stage_table("vgg16")
    with pytest.raises(ValueError, match="stage must be one of"):
        t18.row("layer5")


def test_published_gflops_bad_name():
    with pytest.raises(ValueError, match="publishes no FLOPs"):
        blocks.published_gflops("no_such_net")
    with pytest.raises(TypeError):
        blocks.published_gflops(18)


def test_bottleneck_is_far_cheaper_than_basic_at_256():
    cmp = blocks.compare_blocks(256, 56)
    basic, bottle = cmp.cost("BasicBlock"), cmp.cost("Bottleneck")
    assert basic.params == 2 * 9 * 256 * 256 + 4 * 256 == 1_180_672
    assert bottle.params == 256 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * (64 + 64 + 256) == 70_400
    assert basic.flops / bottle.flops > 16
    assert "Bottleneck" in str(cmp)
    with pytest.raises(ValueError, match="divisible by 4"):
        blocks.compare_blocks(30)


def test_interchange_with_torchvision():
    result = blocks.interchange("resnet18", size=32)
    assert result.same_keys and result.max_abs_diff == 0.0
    assert result.feature_shape == (2, 512)


def test_count_flops_counts_a_conv():
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
    assert blocks.count_flops(conv, torch.randn(1, 2, 4, 4)) == 2 * 9 * 2 * 3 * 16


# --- lesson 06 exercises ---


class _Unfinished(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        raise NotImplementedError


def _block(relu="after", shortcut="A", stride_on=1, bias=False, functional=False):
    """A BasicBlock class with one thing changed: ``relu`` "after" ⊕ (right), "before", "both" or "none";
    ``shortcut`` "A"/"B" (right), "none" or "always" (a projection even where the shape stays); the stride on conv
    ``stride_on``; biases in the convs; ``functional``: F.relu instead of nn.ReLU modules."""

    class Block(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            s1, s2 = (stride, 1) if stride_on == 1 else (1, stride)
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, s1, 1, bias=bias)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, s2, 1, bias=bias)
            self.bn2 = nn.BatchNorm2d(out_channels)
            self.act1, self.act2 = nn.ReLU(inplace=True), nn.ReLU()
            changes = stride != 1 or in_channels != out_channels
            if shortcut == "none":
                self.shortcut = None
            elif shortcut == "always" or (shortcut == "B" and changes):
                self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                              nn.BatchNorm2d(out_channels))
            elif changes:
                self.shortcut = nets.ShortcutA(in_channels, out_channels, stride)
            else:
                self.shortcut = nn.Identity()

        def relu(self, t, which):
            return torch.relu(t) if functional else (self.act1 if which == 1 else self.act2)(t)

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)), 1)))
            if relu in ("before", "both"):
                out = self.relu(out, 2)
            if self.shortcut is not None:
                out = out + self.shortcut(x)
            return self.relu(out, 2) if relu in ("after", "both") else out

    return Block


RIGHT_BLOCKS = {
    "option A, nn.ReLU modules": _block(),
    "option A, F.relu": _block(functional=True),
    "option B": _block(shortcut="B"),
    "the solution": exercises.solution_basic_block(),
}
WRONG_BLOCKS = {  # name: (class, what the verdict must name)
    "ReLU before the addition": (_block(relu="before"), "7.84"),
    "ReLU before and after the addition": (_block(relu="both"), "relu(relu(F(x)) + x)"),
    "no ReLU at all after F": (_block(relu="none"), "no ReLU after the addition"),
    "no shortcut (plain block)": (_block(shortcut="none"), "Is there a shortcut"),
    "projection where the shape stays": (_block(shortcut="always"), "rule 3"),
    "stride on conv2": (_block(stride_on=2), "the second 3×3 conv"),
    "biases before BN": (_block(bias=True), "bias"),
}


@pytest.mark.parametrize("name", RIGHT_BLOCKS)
def test_check_basic_block_accepts_right_blocks(name, capsys):
    assert exercises.check_basic_block(RIGHT_BLOCKS[name]) is True, capsys.readouterr().out


@pytest.mark.parametrize("name", WRONG_BLOCKS)
def test_check_basic_block_names_each_mistake(name, rejected):
    rejected(exercises.check_basic_block, *WRONG_BLOCKS[name])


def test_check_basic_block_unfinished_and_wrong_types(capsys):
    assert exercises.check_basic_block(None) is False
    assert "No answer yet" in capsys.readouterr().out
    assert exercises.check_basic_block(_Unfinished) is False
    assert "not finished" in capsys.readouterr().out
    for bad in ("MyBlock", 3, float("nan"), [1, 2], nn.Conv2d):
        assert exercises.check_basic_block(bad) is False


def _resnet20(block=None, maxpool=False, stem_relu=True, strides=((1, 0), (2, 0)), flatten=False, blocks=3):
    """A ResNet-20 class with one thing changed: ``block`` (default the right option-A block), a max pool in the
    stem, no ReLU after the stem, ``strides``: the (stage, block) pairs, counted from 0, whose block halves the size,
    flattening instead of pooling, ``blocks`` per stage."""
    block = block or _block()
    halving = set(strides)

    class Net(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            stem = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)]
            stem += [nn.ReLU()] if stem_relu else []
            stem += [nn.MaxPool2d(2)] if maxpool else []
            self.stem = nn.Sequential(*stem)
            layers, c_in = [], 16
            for i, c_out in enumerate((16, 32, 64)):
                for j in range(blocks):
                    layers.append(block(c_in, c_out, 2 if (i, j) in halving else 1))
                    c_in = c_out
            self.blocks = nn.Sequential(*layers)
            self.fc = nn.Linear(64 * 8 * 8 if flatten else 64, num_classes)

        def forward(self, x):
            out = self.blocks(self.stem(x))
            return self.fc(out.flatten(1) if flatten else out.mean((2, 3)))

    return Net


RIGHT_NETS = {
    "option A": _resnet20(),
    "option B": _resnet20(block=_block(shortcut="B")),
    "F.relu blocks": _resnet20(block=_block(functional=True)),
    "the solution": exercises.solution_resnet20(),
}
WRONG_NETS = {  # name: (class, what the verdict must name)
    "plain-20, no shortcut anywhere": (_resnet20(block=_block(shortcut="none")), "plain-20"),
    "never downsamples": (_resnet20(strides=()), "never halves"),
    "strides in the last block of stages 1 and 2": (_resnet20(strides=((0, 2), (1, 2))), "the sizes go wrong"),
    "max-pool stem": (_resnet20(maxpool=True), "no max pool"),
    "no stem ReLU": (_resnet20(stem_relu=False), "stem should be conv-BN-ReLU"),
    "flattening instead of pooling": (_resnet20(flatten=True), "flattened instead of pooled"),
    "2 blocks per stage (ResNet-14)": (_resnet20(blocks=2), "19 3×3 convs"),
    "a projection in every block": (_resnet20(block=_block(shortcut="always")), "parameters"),
    "blocks with the ReLU before the addition": (_resnet20(block=_block(relu="before")), "7.84"),
    "blocks without a final ReLU": (_resnet20(block=_block(relu="none")), "no ReLU after the addition"),
}


@pytest.mark.parametrize("name", RIGHT_NETS)
def test_check_resnet20_accepts_right_nets(name, capsys):
    assert exercises.check_resnet20(RIGHT_NETS[name]) is True, capsys.readouterr().out


@pytest.mark.parametrize("name", WRONG_NETS)
def test_check_resnet20_names_each_mistake(name, rejected):
    rejected(exercises.check_resnet20, *WRONG_NETS[name])


def test_check_resnet20_partly_plain_and_bad_input(capsys):
    class Mixed(nn.Module):  # option-A blocks except stage 2's second block, which is plain
        def __init__(self):
            super().__init__()
            self.net = _resnet20()()
            self.net.blocks[4] = _block(shortcut="none")(32, 32, 1)

        def forward(self, x):
            return self.net(x)

    assert exercises.check_resnet20(Mixed) is False
    assert "no shortcut in stage 2 block 2" in capsys.readouterr().out
    assert exercises.check_resnet20(None) is False
    assert exercises.check_resnet20(lambda: nets.cifar_net(20, shortcut="B")) is False  # not a class
    assert exercises.check_resnet20(nets.CifarResNet) is False  # needs a depth: building it fails, no exception


def test_check_stage_shape_and_bottleneck_params():
    assert exercises.solution_stage_shape() == (256, 14, 14)
    assert exercises.check_stage_shape((256, 14, 14)) is True
    assert exercises.check_stage_shape([1, 256, 14, 14]) is True
    for bad in ((128, 28, 28), "256x14x14", float("inf"), (1e300, 1, 1), None, [math.nan] * 3):
        assert exercises.check_stage_shape(bad) is False
    assert exercises.solution_bottleneck_params() == 70_400
    assert exercises.check_bottleneck_params(70_400) is True
    for bad in (69_632, 1e400, "70400", True, None, -1):
        assert exercises.check_bottleneck_params(bad) is False
