"""resnet_edu.zoo (the block catalogue, core): how the blocks are built, and a table of bad arguments, each with the
sentence it must say. Published parameter counts and the lesson's experiments are in test_variants.py."""

import pytest
import torch
from torch import nn

from resnet_edu import nets, zoo
from resnet_edu.lessons import lesson07_variants as variants  # the study nets built from the catalogue


def test_zoo_imports_no_training_code():
    from test_hygiene import ROOT, imported_modules

    assert not imported_modules(ROOT / "resnet_edu" / "zoo.py") & {"train", "data", "recipes", "runtime"}


def test_preact_projection_reads_the_pre_activated_input():
    # He et al. 2016's code and timm's PreActBasicBlock: the projection shortcut gets BN-ReLU(x), not x
    torch.manual_seed(0)
    block = zoo.PreActBlock(8, 16, stride=2, shortcut="B").eval()
    with torch.no_grad():
        block.bn1.bias.fill_(-0.5)  # BN-ReLU(x) now differs from x in a way a shortcut on x cannot hide
        x = torch.randn(2, 8, 8, 8)
        pre = block.relu(block.bn1(x))
        assert torch.allclose(block(x), block.residual(x) + block.shortcut(pre))
        assert not torch.allclose(block(x), block.residual(x) + block.shortcut(x))
    same = zoo.PreActBlock(8, 8).eval()  # the identity shortcut still carries x itself
    option_a = zoo.PreActBlock(8, 16, stride=2, shortcut="A").eval()  # and so does the parameter-free option A
    with torch.no_grad():
        assert torch.allclose(same(x) - same.residual(x), x)
        assert torch.allclose(option_a(x) - option_a.residual(x), option_a.shortcut(x))
    assert block.projects and not same.projects and not option_a.projects


def test_grouped_bottlenecks_are_built_once_with_torchvision_shapes():
    block = zoo.ResNeXtBottleneck(256, 128)  # 32×4d at stage 2: width 128·4/64·32 = 256 in 32 groups
    assert (block.conv1.out_channels, block.conv2.groups, block.conv3.in_channels) == (256, 32, 256)
    assert nets.Bottleneck(256, 128, groups=32, base_width=4).conv2.weight.shape == block.conv2.weight.shape
    wide = zoo.WideBottleneck(256, 64)
    assert (wide.conv2.in_channels, wide.conv2.groups) == (128, 1)


def test_resnet50d_is_built_with_its_stem_and_shortcuts():
    with torch.device("meta"):
        model = zoo.resnet50d()
    assert isinstance(model.conv1, nn.Sequential) and len(model.conv1) == 7  # ResNet-C: three 3×3 convs
    shortcuts = [m.downsample for m in model.modules() if isinstance(m, nets.Bottleneck)]
    changing = [s for s in shortcuts if s is not None]  # None: the identity shortcut, as in torchvision
    assert len(changing) == 4 and all(isinstance(s[1], nn.Conv2d) and s[1].stride == (1, 1) for s in changing)
    assert isinstance(changing[0][0], nn.Identity) and all(isinstance(s[0], nn.AvgPool2d) for s in changing[1:])


def test_block_is_a_name_to_factory_table():
    assert set(zoo._BLOCKS) == set(zoo.VARIANTS)
    assert type(zoo.block("resnext", 16, 32, 2)) is zoo.ResNeXtBottleneck
    assert type(zoo.block("resnet_d", 16, 32, 2)) is nets.Bottleneck


BAD = [
    # ConvNeXt: stage depths are 1…MAX_STAGE_BLOCKS, one per dim (issue 22: zero/negative depths built empty stages)
    ("ConvNeXt depth 0", lambda: zoo.ConvNeXt((0, 3, 9, 3)), ValueError,
     "every entry of depths must be an integer >= 1 and <= 64; got 0"),
    ("ConvNeXt negative depth", lambda: zoo.ConvNeXt((3, -1, 9, 3)), ValueError,
     "every entry of depths must be an integer >= 1"),
    ("ConvNeXt depth 10**6", lambda: zoo.ConvNeXt((10**6, 3, 9, 3)), ValueError,
     r"every entry of depths must be at most 64 .*Set resnet_edu.zoo.MAX_STAGE_BLOCKS higher"),
    ("ConvNeXt dim 10**6", lambda: zoo.ConvNeXt((1, 1), (10**6, 8)), ValueError,
     r"every entry of dims must be at most 4096 .*Set resnet_edu.nets.MAX_WIDTH higher"),
    ("ConvNeXt dim 0", lambda: zoo.ConvNeXt((1, 1), (8, 0)), ValueError, "every entry of dims must be an integer >= 1"),
    ("ConvNeXt depths/dims of different lengths", lambda: zoo.ConvNeXt((3, 3), (96, 192, 384)), ValueError,
     "one entry per stage each; got 2 depths and 3 dims"),
    ("ConvNeXt depths=3", lambda: zoo.ConvNeXt(3), TypeError, "depths must be a list or tuple"),
    ("ConvNeXt depths=()", lambda: zoo.ConvNeXt((), ()), ValueError, "depths must hold at least 1 value"),
    ("ConvNeXt num_classes=0", lambda: zoo.ConvNeXt((1,), (8,), num_classes=0), ValueError,
     "num_classes must be an integer >= 1"),
    ("ConvNeXtBlock dim=10**6", lambda: zoo.ConvNeXtBlock(10**6), ValueError,
     r"dim must be at most 4096 .*MAX_WIDTH higher"),
    # preact_cifar_net checks what cifar_net checks (issue 22: in_channels=0, num_classes=0, zero_init="no")
    ("preact_cifar_net in_channels=0", lambda: variants.preact_cifar_net(8, in_channels=0), ValueError,
     "in_channels must be an integer >= 1"),
    ("preact_cifar_net num_classes=0", lambda: variants.preact_cifar_net(8, num_classes=0), ValueError,
     "num_classes must be an integer >= 1"),
    ("preact_cifar_net zero_init='no'", lambda: variants.preact_cifar_net(8, zero_init="no"), TypeError,
     r"zero_init must be True or False; got 'no' \(str\)"),
    ("preact_cifar_net depth 21", lambda: variants.preact_cifar_net(21), ValueError, "depth must be 6n\\+2"),
    # blocks and small nets
    ("block of an unknown variant", lambda: zoo.block("densenet", 16, 16), ValueError,
     "variant must be one of 'resnet', 'bottleneck'"),
    ("block se with 18 channels", lambda: zoo.block("se", 16, 18), ValueError,
     "a se block needs out_channels divisible by 4"),
    ("block convnext that downsamples", lambda: zoo.block("convnext", 16, 32, 2), ValueError,
     "a ConvNeXt block keeps its shape"),
    ("block stride 3", lambda: zoo.block("resnet", 16, 16, 3), ValueError, "stride must be one of 1, 2"),
    ("block in_channels=0", lambda: zoo.block("resnet", 0, 16), ValueError, "in_channels must be an integer >= 1"),
    ("small_net in_channels=0", lambda: variants.small_net("resnet", in_channels=0), ValueError,
     "in_channels must be an integer >= 1"),
    ("small_net variant 'vgg'", lambda: variants.small_net("vgg"), ValueError, "variant must be one of"),
    ("ResNeXt 3×3 conv narrower than its groups", lambda: zoo.ResNeXtBottleneck(64, 4), ValueError,
     "fewer than its 32 groups"),
    ("Bottleneck groups=0", lambda: nets.Bottleneck(64, 16, groups=0), ValueError, "groups must be an integer >= 1"),
    ("ResNet stem='deep'", lambda: nets.ResNet(nets.Bottleneck, (1, 1, 1, 1), stem="deep"), TypeError,
     "stem must be an nn.Module"),
    ("ResNet downsample=3", lambda: nets.ResNet(nets.Bottleneck, (1, 1, 1, 1), downsample=3), TypeError,
     "downsample must be a function downsample"),
    ("count_flops of a string", lambda: nets.count_flops("resnet18", torch.zeros(1, 3, 8, 8)), TypeError,
     "model must be an nn.Module"),
]


@pytest.mark.parametrize("name,call,error,message", BAD, ids=[row[0] for row in BAD])
def test_bad_arguments_are_answered(name, call, error, message):
    with pytest.raises(error, match=message):
        call()
