"""resnet_edu.lessons.lesson07_variants (lesson 07): every variant's shapes, published parameter counts, identity at
init, bad
arguments; the three experiments on a tiny budget; lesson 07's exercise checkers."""

import pytest
import torch
import torchvision
from torch import nn

from resnet_edu import exercises, nets
from resnet_edu.lessons import lesson07_variants as variants

# Published parameter counts at 1000 classes, 224×224, and where they come from.
PUBLISHED = {
    # torchvision's weights metadata (num_params), also checked against torchvision's own builders below
    "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
    "mobilenet_v2": 3_504_872,
    "convnext_tiny": 28_589_128,
    # exact counts of our layouts; the papers give them rounded (see ROUNDED_M)
    "se_resnet50": 28_088_024,
    "resnet50d": 25_576_264,
}
ROUNDED_M = {  # (millions, digits): Hu et al. 2018, reduction-ratio ablation (r = 16)
    "se_resnet50": (28.1, 1),
}


@pytest.mark.parametrize("name,count", PUBLISHED.items())
def test_imagenet_parameter_counts(name, count):
    with torch.device("meta"):
        model = getattr(variants, name)()
    assert nets.count_parameters(model) == count


@pytest.mark.parametrize("name,rounded", ROUNDED_M.items())
def test_paper_rounded_counts(name, rounded):
    millions, digits = rounded
    assert round(PUBLISHED[name] / 1e6, digits) == millions


def test_eca_adds_the_papers_80_weights_with_the_released_kernel_sizes():
    # Wang et al. 2020 (abstract): "80 vs. 24.37M"; the authors' ECA-Net50 takes one k per stage, --ksize 3557:
    # 3·3 + 4·5 + 6·5 + 3·7 = 80. Eq. 12 on each block's output channels gives 3·5 + 4·5 + 6·5 + 3·7 = 86 instead.
    with torch.device("meta"):
        base = nets.count_parameters(nets.resnet50())
        released, eq12 = variants.eca_resnet50(), variants.eca_resnet50(k_size=None)
    assert variants.ECA_RESNET50_K == (3, 5, 5, 7)
    assert nets.count_parameters(released) - base == 80
    assert nets.count_parameters(eq12) - base == 86
    for stage, k in zip((released.layer1, released.layer2, released.layer3, released.layer4), (3, 5, 5, 7)):
        assert {b.eca.k for b in stage} == {k} and {b.eca.conv.kernel_size for b in stage} == {(k,)}
    assert [b.eca.k for b in eq12.layer1] == [5, 5, 5]


def test_eca_kernel_sizes_are_checked():
    with pytest.raises(ValueError, match="k_size must be odd"):
        variants.ECA(64, 4)
    with pytest.raises(ValueError, match="4 kernel sizes, one per stage"):
        variants.eca_resnet50(k_size=(3, 5, 7))
    with pytest.raises(ValueError, match="every entry of k_size must be odd"):
        variants.eca_resnet50(k_size=(3, 5, 5, 6))
    x = torch.randn(2, 64, 4, 4)
    assert variants.ECA(64, 7)(x).shape == x.shape and variants.ECA(64).k == variants.eca_kernel_size(64)


def test_resnet50d_count_as_bag_of_tricks_lists_it():
    # He et al. 2019, Table 5 lists whole millions, truncated: "25M" for ResNet-50 (25.56M) and for ResNet-50-D
    assert int(PUBLISHED["resnet50d"] / 1e6) == 25 == int(nets.count_parameters(nets.resnet50()) / 1e6)
    assert PUBLISHED["resnet50d"] - 25_557_032 == 19_232  # the deep stem (ResNet-C); ResNet-D's shortcut adds 0


@pytest.mark.parametrize("name", ["resnext50_32x4d", "wide_resnet50_2", "mobilenet_v2", "convnext_tiny"])
def test_counts_equal_torchvision_builders_and_metadata(name):
    from torchvision.models import get_model_weights

    with torch.device("meta"):
        theirs = getattr(torchvision.models, name)(weights=None)
    assert nets.count_parameters(theirs) == PUBLISHED[name] == get_model_weights(name).DEFAULT.meta["num_params"]


def test_resnext_loads_torchvision_weights():
    torch.manual_seed(0)
    theirs = torchvision.models.resnext50_32x4d(weights=None).eval()
    ours = variants.resnext50_32x4d().eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


def test_eca_kernel_sizes_follow_eq12():
    assert [variants.eca_kernel_size(c) for c in (64, 256, 512, 1024, 2048)] == [3, 5, 5, 5, 7]
    with pytest.raises(ValueError):
        variants.eca_kernel_size(0)


@pytest.mark.parametrize("variant", variants.VARIANTS)
def test_block_shapes_at_both_strides(variant):
    x = torch.randn(2, 16, 8, 8)
    same = variants.block(variant, 16, 16, 1)
    assert same(x).shape == (2, 16, 8, 8)
    if variant != "convnext":
        assert variants.block(variant, 16, 32, 2)(x).shape == (2, 32, 4, 4)


@pytest.mark.parametrize("variant", variants.VARIANTS)
def test_small_nets(variant):
    net = variants.small_net(variant, width=8, in_channels=3, num_classes=10)
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)


def test_block_bad_arguments():
    with pytest.raises(ValueError, match="variant must be one of"):
        variants.block("densenet", 16, 16)
    with pytest.raises(ValueError, match="divisible by 4"):
        variants.block("se", 16, 18)
    with pytest.raises(ValueError, match="ConvNeXt block keeps its shape"):
        variants.block("convnext", 16, 32, 2)
    with pytest.raises(ValueError, match="stride must be one of 1, 2"):
        variants.PreActBlock(16, 16, stride=3)
    with pytest.raises(TypeError, match="zero_init must be True or False"):
        variants.InvertedResidual(16, 16, zero_init="yes")
    with pytest.raises(ValueError, match="fewer than its 32 groups"):
        variants.ResNeXtBottleneck(64, 4)
    with pytest.raises(ValueError, match="width must be an integer >= 4"):
        variants.small_net("resnet", width=2)
    with pytest.raises(TypeError, match="layer_scale must be a number"):
        variants.ConvNeXtBlock(8, layer_scale="small")
    with pytest.raises(ValueError, match="kind must be one of"):
        variants.shortcut_study_net("dropout", depth=8)


def _exact_identity(block, x):
    with torch.no_grad():
        return torch.equal(block.eval()(x), x)


def test_identity_at_zero_init():
    x = torch.randn(2, 16, 8, 8)
    assert _exact_identity(variants.PreActBlock(16, 16, zero_init=True), x)  # for every x, negatives included
    assert _exact_identity(variants.InvertedResidual(16, 16, zero_init=True), x)
    assert _exact_identity(variants.ConvNeXtBlock(16, layer_scale=0.0), x)
    tiny = variants.ConvNeXtBlock(16)  # the paper's 1e-6: almost, not exactly
    with torch.no_grad():
        assert 0 < float((tiny(x) - x).abs().max()) < 1e-4
    # the post-activation bottleneck family: zero_init_residual → relu(0 + x) = x for x ≥ 0
    xp = torch.randn(1, 256, 4, 4).relu()
    for cls in (variants.SEBottleneck, variants.ECABottleneck, variants.ResNeXtBottleneck, variants.WideBottleneck):
        block = cls(256, 64)  # downsample=None: the identity shortcut
        nets._init_weights(block, zero_init_residual=True)  # what ResNet(zero_init_residual=True) does
        assert _exact_identity(block, xp), cls.__name__
        assert not _exact_identity(cls(256, 64), xp)
    assert not _exact_identity(variants.PreActBlock(16, 16), x)


def test_inverted_residual_has_no_shortcut_when_shape_changes():
    assert variants.InvertedResidual(16, 24, 2).shortcut is None
    assert isinstance(variants.InvertedResidual(16, 16, 1).shortcut, nn.Identity)


def test_resnet_d_shortcut_sees_every_pixel():
    sc = variants.resnet_d_shortcut(4, 8, 2)
    x = torch.zeros(1, 4, 4, 4)
    x[..., 1, 1] = 1.0  # a pixel that option B's stride-2 1×1 conv never reads
    b = nets._shortcut(4, 8, 2, "B", True)
    with torch.no_grad():
        assert sc.eval()(x).abs().sum() > 0 and b.eval()(x).abs().sum() == 0


def test_preact_net_and_shortcut_study_nets():
    pre, post = variants.preact_cifar_net(20), nets.cifar_net(20)
    # the BNs move (in front of the convs, one after the last block, none after the stem): the count is unchanged
    assert nets.count_parameters(pre) == nets.count_parameters(post) == 269_722
    assert pre(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    x = torch.randn(2, 3, 16, 16)
    for kind in variants.SHORTCUT_KINDS:
        net = variants.shortcut_study_net(kind, depth=8, width=4)
        assert net(x).shape == (2, 10)
    scaled = variants.shortcut_study_net("scaled", depth=20)
    assert sum(isinstance(m, variants.ScaledShortcut) for m in scaled.modules()) == 7  # 9 blocks − 2 option-A


def test_experiments_on_a_tiny_budget():
    data = variants.task(8)
    cmp = variants.compare(("resnet", "convnext"), width=4, steps=3, data=data, progress=False)
    assert [r.variant for r in cmp.rows] == ["resnet", "convnext"]
    assert all(0 <= r.accuracy <= 1 and r.params > 0 and r.flops > 0 for r in cmp.rows)
    assert "convnext" in str(cmp)
    study = variants.shortcut_study(("identity", "scaled"), depth=8, width=4, steps=3, data=data, progress=False)
    assert set(study.results) == {"identity", "scaled"} and study.final_loss("identity") > 0
    pre = variants.preact_study(depth=8, width=4, steps=3, data=data, progress=False)
    assert set(pre.profiles) == set(pre.init_loss) == set(variants.PREACT_ARMS)
    with pytest.raises(ValueError, match="depth must be 6n"):
        variants.preact_study(depth=10, data=data)
    with pytest.raises(ValueError, match="variant must be one of"):
        variants.compare(("resnet", "vgg"), data=data)
    with pytest.raises(TypeError, match="must be a list or tuple"):
        variants.compare("resnet", data=data)


# --- lesson 07 exercises ---


def test_lesson07_checkers(capsys):
    assert exercises.solution_se_params() == 8_464
    assert exercises.check_se_params(8_464) is True
    assert exercises.solution_eca_kernel() == 5
    assert exercises.check_eca_kernel(5) is True
    assert exercises.check_best_shortcut("Identity") is True
    for check in (exercises.check_se_params, exercises.check_eca_kernel, exercises.check_best_shortcut):
        assert check(None) is False
        assert "No answer yet" in capsys.readouterr().out
        for bad in (float("nan"), 1e400, "lots", [1, 2], True, -3, 4):
            assert check(bad) is False


def _preact(order="pre", relu_after=False, shortcut_from="x", relus=2, down="A", has_shortcut=True):
    """A pre-activation block class with one thing changed: ``order`` "post" (conv-BN-ReLU, the original), a ReLU
    after ⊕, the identity shortcut taken from BN-ReLU(x) (``shortcut_from="pre"``), only one ReLU in F, ``down``
    "A" or "B" (a 1×1 projection of the pre-activated input, as in He et al. 2016's code), no shortcut."""

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride=1):
            super().__init__()
            self.bn1 = nn.BatchNorm2d(c_out if order == "post" else c_in)
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.changes = stride != 1 or c_in != c_out
            self.proj = nn.Conv2d(c_in, c_out, 1, stride, bias=False) if self.changes and down == "B" else None
            self.option_a = nets.ShortcutA(c_in, c_out, stride) if self.changes else nn.Identity()

        def forward(self, x):
            if order == "post":
                out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
                pre = x
            else:
                pre = torch.relu(self.bn1(x))
                out = self.bn2(self.conv1(pre))
                out = self.conv2(torch.relu(out) if relus == 2 else out)
            if has_shortcut:
                source = pre if shortcut_from == "pre" or self.proj is not None else x
                out = out + (self.proj(source) if self.proj is not None else self.option_a(source))
            return torch.relu(out) if relu_after else out

    return Block


RIGHT_PREACT = {"option A": _preact(), "projection of the pre-activated input": _preact(down="B"),
                "the solution": exercises.solution_preact_block(), "the zoo's PreActBlock": variants.PreActBlock}
WRONG_PREACT = {  # name: (class, what the verdict must name)
    "post-activation order": (_preact(order="post"), "original (post-activation) order"),
    "ReLU after the addition": (_preact(relu_after=True), "a ReLU after the addition"),
    "identity shortcut from BN-ReLU(x)": (_preact(shortcut_from="pre"), "carries BN-ReLU(x)"),
    "one ReLU only": (_preact(relus=1), "conv 2 receives negative values"),
    "no shortcut": (_preact(has_shortcut=False), "Where is the shortcut"),
}


@pytest.mark.parametrize("name", RIGHT_PREACT)
def test_check_preact_block_accepts_right_blocks(name, capsys):
    assert exercises.check_preact_block(RIGHT_PREACT[name]) is True, capsys.readouterr().out


@pytest.mark.parametrize("name", WRONG_PREACT)
def test_check_preact_block_names_each_mistake(name, rejected):
    rejected(exercises.check_preact_block, *WRONG_PREACT[name])


def test_lesson07_predictions_quote_the_run(capsys):
    data = variants.task()
    cmp = variants.compare(("bottleneck", "inverted"), width=4, steps=2, data=data, progress=False)
    assert exercises.check_cost_prediction("inverted", cmp) is True and "MFLOPs" in capsys.readouterr().out
    assert exercises.check_cost_prediction("bottleneck", cmp) is False
    study = variants.preact_study(depth=8, width=4, steps=3, data=data, progress=False)
    measured = "pre-activation" if study.final_loss("pre-activation") < study.final_loss("post-activation") else \
        "post-activation"
    assert exercises.check_preact_prediction(measured, study) is True and "after 3 steps" in capsys.readouterr().out
    shortcuts = variants.shortcut_study(("identity", "scaled"), depth=8, width=4, steps=3, data=data, progress=False)
    best = min(shortcuts.results, key=shortcuts.final_loss)
    assert exercises.check_best_shortcut(best, shortcuts) is True and "Your run:" in capsys.readouterr().out


def test_fit_draws_the_batch_order_from_the_lessons_seed():
    """Issue 21: the seed a lesson passes reaches the trainer (batch order), not only the init."""
    import copy

    data = variants.task()
    model = variants.small_net("resnet", 4, 1, data.train.in_channels, data.train.num_classes)
    runs = {s: variants._fit(copy.deepcopy(model), data, 3, 0.05, "r", False, None, s).loss for s in (0, 1)}
    again = variants._fit(copy.deepcopy(model), data, 3, 0.05, "r", False, None, 0).loss
    assert runs[0] == again and runs[0] != runs[1]


@pytest.mark.parametrize("width", [16, 32])
def test_small_net_costs_that_left_notebook_07s_check_cell(width):
    """Issue 27 item 4: notebook 07's comparison check asserts what its prose says; these cost facts of the same small
    nets (CPU width 16, GPU width 32) moved here. They hold for any seed: weights do not change a count."""
    params = {v: nets.count_parameters(variants.small_net(v, width, 1, 3, 10)) for v in ("bottleneck", "resnext",
                                                                                     "wide", "eca", "se")}
    assert params["resnext"] < params["wide"], "grouping the 3×3 conv divides its parameters"
    assert 0 < params["eca"] - params["bottleneck"] < 20 < params["se"] - params["bottleneck"], params
