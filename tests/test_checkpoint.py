"""resnet_edu.train.checkpoint (issue 32): every net save_checkpoint accepts reloads, a net its numbers cannot
rebuild is refused at save (never a file that only fails on reload), and the path is read as meant — ``~`` is home,
``dir/new/`` is a folder, a name at the file system's limit saves, one past it is refused by its length. The
round trip of a trained net and the overwrite rules are in test_dynamics.py."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_edu import nets, train
from resnet_edu.train import checkpoint


def _net(**kw):
    torch.manual_seed(0)
    net = nets.cifar_net(8, width=4, in_channels=1, **kw)
    for m in net.modules():  # BN statistics away from (0, 1), so a BN lost on reload changes the output
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def _same_net(a, b):
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return type(a) is type(b) and torch.allclose(a(x), b(x), atol=1e-6) and all(
            torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


# Issue 32: each of these saved, and then load_checkpoint could not rebuild it ("holds a net that does not rebuild").
REBUILDS = [
    ("option-B projection shortcuts", dict(shortcut="B")),
    ("without BatchNorm", dict(batch_norm=False)),
    ("projections without BatchNorm", dict(shortcut="B", batch_norm=False)),
    ("plain, without BatchNorm", dict(residual=False, batch_norm=False)),
    ("the default (option A, BatchNorm)", dict()),
]


@pytest.mark.parametrize("label,kw", REBUILDS, ids=[r[0] for r in REBUILDS])
def test_every_net_that_saves_reloads_as_the_same_net(tmp_path, label, kw):
    net = _net(**kw)
    loaded = train.load_checkpoint(train.save_checkpoint(net, tmp_path / "net.pt"), device="cpu")
    assert _same_net(net, loaded), label
    assert loaded.shortcut_option == net.shortcut_option


def _lesioned():
    net = _net()
    net.layer1[0] = nn.Identity()  # lesson 09's lesion: the block is gone
    return net, "layer1.0 is Identity"


def _stride():
    net = _net()
    net.conv1.stride = (2, 2)  # no weight changes shape: only the layout tells
    return net, "conv1 is Conv2d"


def _activation():
    net = _net()
    net.relu = nn.GELU()
    return net, "relu is GELU"


def _bigger_head():
    net = _net()
    net.fc = nn.Linear(16, 10, bias=False)
    return net, "fc is Linear"


def _own_forward():
    net = _net()
    block = net.layer2[0]
    block.forward = lambda x: F.relu(block.shortcut(x))  # the branch dropped, the weights all still there
    return net, "layer2.0 is BasicBlock(…) with its own forward"


def _extra_module():
    net = _net()
    net.layer3.append(nn.Dropout())
    return net, "layer3.1 is Dropout(…), which cifar_net(depth=8, residual=True, shortcut='A', width=4, in_channels=1"


NOT_REBUILT = [_lesioned, _stride, _activation, _bigger_head, _own_forward, _extra_module]


@pytest.mark.parametrize("make", NOT_REBUILT, ids=[f.__name__.strip("_") for f in NOT_REBUILT])
def test_a_net_its_numbers_cannot_rebuild_is_refused_at_save(tmp_path, make):
    net, where = make()
    with pytest.raises(ValueError, match="cannot be saved as a checkpoint") as info:
        train.save_checkpoint(net, tmp_path / "net.pt")
    message = str(info.value).replace("(…)", "")
    assert all(part in message for part in where.split("(…)")), message
    assert "Save the net before changing it" in message and "torch.save(model.state_dict()" in message
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_checkpoint_written_before_issue_32_still_loads(tmp_path):
    net = _net()
    old = {k: v for k, v in checkpoint._shape(net).items() if k in ("depth", "residual", "width", "in_channels",
                                                                    "num_classes")}
    torch.save({"shape": old, "state_dict": net.state_dict()}, tmp_path / "old.pt")
    assert _same_net(net, train.load_checkpoint(tmp_path / "old.pt", device="cpu"))


@pytest.mark.parametrize("given", ["new/", "a/new/", "a//new//"])
def test_a_path_ending_in_a_slash_is_a_folder_not_a_file_name(tmp_path, monkeypatch, given):
    """Issue 32: save_checkpoint(net, "dir/new/") wrote a file named "new"."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IsADirectoryError, match=f"{given} is a folder; give a file path such as .*new.model.pt"):
        train.save_checkpoint(_net(), given)
    assert list(tmp_path.iterdir()) == []


def test_a_tilde_is_the_home_folder(tmp_path, monkeypatch):
    """Issue 32: "~/c.pt" made a folder named "~" in the working folder."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    path = train.save_checkpoint(_net(), "~/c.pt")
    assert path == home / "c.pt" and path.is_file() and list(work.iterdir()) == []
    assert _same_net(_net(), train.load_checkpoint("~/c.pt", device="cpu"))


def test_a_name_at_the_file_systems_limit_saves_and_one_past_it_is_refused(tmp_path):
    """Issue 32: a 255-byte name failed on its ".<name>.<pid>.partial" twin with torch's "open file failed"."""
    longest = checkpoint._name_max(tmp_path)
    at_limit = tmp_path / ("n" * (longest - 3) + ".pt")
    assert _same_net(_net(), train.load_checkpoint(train.save_checkpoint(_net(), at_limit), device="cpu"))
    assert [p.name for p in tmp_path.iterdir()] == [at_limit.name]  # no partial file left behind
    with pytest.raises(ValueError, match=f"is {longest + 1} bytes long; this file system takes at most {longest}"):
        train.save_checkpoint(_net(), tmp_path / ("n" * (longest - 2) + ".pt"))
    assert [p.name for p in tmp_path.iterdir()] == [at_limit.name]


@pytest.mark.parametrize("path", [b"net.pt", "", "   ", None, 3])
def test_a_path_that_is_not_a_path_is_refused(path):
    with pytest.raises(TypeError, match="path must be"):
        train.save_checkpoint(_net(), path)
    with pytest.raises(TypeError, match="path must be"):
        train.load_checkpoint(path)


def test_write_then_rename_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def fail(partial):
        partial.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        train.write_then_rename(path, fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    assert train.write_then_rename(tmp_path / "sub" / "g.txt", lambda p: p.write_text("new")).read_text() == "new"


def test_saving_leaves_the_callers_random_stream_alone(tmp_path):
    """The layout check builds a reference net; the learner's next random numbers must not depend on a save."""
    torch.manual_seed(5)
    expected = torch.rand(3)
    net = _net()
    torch.manual_seed(5)
    train.save_checkpoint(net, tmp_path / "net.pt")
    assert torch.equal(torch.rand(3), expected)
