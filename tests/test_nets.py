"""resnet_edu.nets: parameter counts against the papers, torchvision compatibility, identity at init, errors."""

import io
import pickle

import pytest
import torch
import torchvision
from torch import nn

from resnet_edu import nets

# He et al. 2015, Table 6 (option A shortcuts): exact counts of this layout, and the paper's rounded figures.
CIFAR_COUNTS = {20: 269_722, 56: 853_018, 110: 1_727_962}
CIFAR_ROUNDED_M = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}
IMAGENET_COUNTS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}


@pytest.mark.parametrize("depth,count", CIFAR_COUNTS.items())
def test_cifar_counts_exact_and_plain_equal(depth, count):
    assert nets.count_parameters(nets.cifar_net(depth)) == count
    assert nets.count_parameters(nets.cifar_net(depth, residual=False)) == count


@pytest.mark.parametrize("depth,millions", CIFAR_ROUNDED_M.items())
def test_cifar_counts_match_table6(depth, millions):
    with torch.device("meta"):
        model = nets.cifar_net(depth)
    n = nets.count_parameters(model)
    digits = 1 if millions >= 1 else 2
    assert round(n / 1e6, digits) == millions


@pytest.mark.parametrize("name,count", IMAGENET_COUNTS.items())
def test_imagenet_counts(name, count):
    with torch.device("meta"):
        model = getattr(nets, name)()
    assert nets.count_parameters(model) == count


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_torchvision_state_dict_loads_strict_and_gives_same_logits(name):
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)(weights=None).eval()
    ours = getattr(nets, name)().eval()
    a, b = theirs.state_dict(), ours.state_dict()
    assert list(a.keys()) == list(b.keys())
    assert all(a[k].shape == b[k].shape for k in a)
    ours.load_state_dict(a, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


def test_zero_init_block_is_identity_at_init():
    block = nets.BasicBlock(16, 16)  # downsample=None: the identity shortcut
    nn.init.zeros_(block.bn2.weight)
    block.eval()
    x = torch.rand(4, 16, 8, 8)  # non-negative, as the output of the previous block's ReLU
    assert (block(x) - x).abs().max().item() == 0.0


def test_zero_init_residual_flag_zeroes_every_last_bn():
    model = nets.cifar_net(20, zero_init_residual=True)
    blocks = [m for m in model.modules() if isinstance(m, nets.BasicBlock)]
    assert len(blocks) == 9 and all(b.bn2.weight.detach().abs().sum() == 0 for b in blocks)


def test_option_a_is_parameter_free_module_and_model_pickles():
    model = nets.cifar_net(20)
    shortcuts = [m for m in model.modules() if isinstance(m, nets.ShortcutA)]
    assert len(shortcuts) == 2
    assert all(sum(p.numel() for p in s.parameters()) == 0 for s in shortcuts)
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    x = torch.randn(2, 3, 32, 32)
    model.eval(), loaded.eval()
    torch.testing.assert_close(model(x), loaded(x))
    pickle.dumps(model)


def test_option_a_shapes():
    s = nets.ShortcutA(16, 32, 2)
    out = s(torch.ones(1, 16, 8, 8))
    assert out.shape == (1, 32, 4, 4)
    assert out[:, :8].abs().sum() == 0 and out[:, 24:].abs().sum() == 0 and out[:, 8:24].eq(1).all()


def test_option_b_adds_projections_plain_has_no_shortcuts():
    b = nets.cifar_net(20, shortcut="B")
    assert nets.count_parameters(b) > CIFAR_COUNTS[20]
    plain = nets.cifar_net(20, residual=False)
    blocks = [blk for blk in plain.modules() if isinstance(blk, nets.BasicBlock)]
    assert len(blocks) == 9 and all(not blk.has_shortcut and blk.downsample is None for blk in blocks)
    x = torch.randn(2, 16, 8, 8)
    plain_block = blocks[0].eval()
    with torch.no_grad():
        assert torch.equal(plain_block(x), torch.relu(plain_block.residual(x)))  # relu(F(x)): no shortcut


def test_identity_shortcut_is_downsample_none_and_adds_no_state():
    """torchvision's meaning: downsample=None is the identity shortcut, a module only where the shape changes."""
    model = nets.cifar_net(20)
    first = model.layer1[0]
    assert first.has_shortcut and first.downsample is None
    x = torch.randn(2, 16, 8, 8)
    assert first.shortcut(x) is x
    assert not any("downsample" in k for k in model.layer1.state_dict())
    changing = [blk for blk in model.modules() if isinstance(blk, nets.BasicBlock) and blk.downsample is not None]
    assert len(changing) == 2 and all(isinstance(blk.downsample, nets.ShortcutA) for blk in changing)
    with pytest.raises(ValueError, match="plain block .* takes no downsample"):
        nets.BasicBlock(16, 32, 2, nets.ShortcutA(16, 32, 2), has_shortcut=False)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_downsample_means_what_it_means_in_torchvision(name):
    """Block by block, our downsample is None exactly where torchvision's is, and each block's state_dict loads
    into the other's block with the same outputs (an identity block and a projecting one)."""
    theirs = getattr(torchvision.models, name)(weights=None).eval()
    ours = getattr(nets, name)().eval()
    tv_blocks = [m for m in theirs.modules() if type(m).__name__ in ("BasicBlock", "Bottleneck")]
    our_blocks = [m for m in ours.modules() if isinstance(m, nets.BuildingBlock)]
    assert [b.downsample is None for b in our_blocks] == [b.downsample is None for b in tv_blocks]
    identity = next(i for i, b in enumerate(tv_blocks) if b.downsample is None)
    projecting = next(i for i, b in enumerate(tv_blocks) if b.downsample is not None)
    for i in (identity, projecting):
        tv, mine = tv_blocks[i], our_blocks[i]
        mine.load_state_dict(tv.state_dict(), strict=True)
        tv.load_state_dict(mine.state_dict(), strict=True)
        x = torch.randn(2, tv.conv1.in_channels, 8, 8)
        with torch.no_grad():
            torch.testing.assert_close(mine(x), tv(x), rtol=0, atol=0)


def test_no_batch_norm():
    model = nets.cifar_net(20, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_forward_shapes_small_inputs_and_channels():
    model = nets.cifar_net(8, in_channels=1, num_classes=5, width=4)
    assert model(torch.randn(3, 1, 16, 16)).shape == (3, 5)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(depth=57), r"depth must be 6n\+2 .*got 57"),
        (dict(depth=2), r"depth must be 6n\+2 .*got 2"),
        (dict(depth=20, width=0), "width must be an integer >= 1 and <= 4096; got 0"),
        (dict(depth=20, shortcut="C"), "shortcut must be 'A'.* or 'B'.*got 'C'"),
        (dict(depth=20, num_classes=-1), "num_classes must be an integer >= 1"),
    ],
)
def test_cifar_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nets.cifar_net(**kwargs)


def test_mlp_shapes_residual_and_errors():
    m = nets.mlp(depth=5, width=8, in_features=2, out_features=3)
    assert m(torch.randn(4, 2)).shape == (4, 3)
    assert len([x for x in m.modules() if isinstance(x, nn.Linear)]) == 7
    block = nets.MLPBlock(8, residual=True, batch_norm=False, activation="relu", branch_scale=1.0)
    nn.init.zeros_(block.linear.weight), nn.init.zeros_(block.linear.bias)
    x = torch.randn(3, 8)
    assert torch.equal(block(x), x)
    with pytest.raises(ValueError, match="activation must be one of 'relu', 'tanh'"):
        nets.mlp(3, activation="swish")
    with pytest.raises(ValueError, match="init must be 'default'"):
        nets.mlp(3, init="xavier")
    with pytest.raises(ValueError, match="depth must be an integer >= 1"):
        nets.mlp(0)


def test_shared_argument_checks():
    assert nets.check_depth(56) == 56 and nets.check_kind("residual") is True and nets.check_kind("plain") is False
    with pytest.raises(ValueError, match="kind must be 'plain'.* or 'residual'.*got 'resnet'"):
        nets.check_kind("resnet")
    assert not hasattr(nets, "check_positive"), "sizes are checked by _checks.integer(name, value, low=1)"
