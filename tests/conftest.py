"""Fixtures shared by several test modules."""

import pytest
import torch

from resnet_edu import data


def _fake_cifar(train: bool = True, **_: object) -> data.ImageData:
    """64 training / 20 test random 32×32 RGB images with CIFAR-10's ten class names (no download)."""
    g = torch.Generator().manual_seed(0 if train else 1)
    n = 64 if train else 20
    return data.ImageData(torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g),
                          f"CIFAR-10 ({'train' if train else 'test'})", data.CIFAR10_CLASSES)


@pytest.fixture
def fake_cifar(monkeypatch: pytest.MonkeyPatch):
    """``data.cifar10`` replaced by a tiny fake CIFAR-10 for one test, so the GPU recipes' code path runs on the CPU
    (lessons 01 and 08); returns the fake loader (``fake_cifar(train=False)`` is the test split)."""
    monkeypatch.setattr(data, "cifar10", _fake_cifar)
    return _fake_cifar


@pytest.fixture(scope="module")
def digits8() -> tuple[data.ImageData, data.ImageData]:
    """The digits at 8×8, training and test split: the trainer tests' tiny task."""
    return data.digits(8, 1), data.digits(8, 1, train=False)


@pytest.fixture
def rejected(capsys: pytest.CaptureFixture[str]):
    """``rejected(checker, answer, says)``: the exercise checker answers ``False`` and prints a ❌ line naming the
    mistake (``says``) — the wrong-answer tables of lessons 06 and 07."""
    def check(checker, answer: object, says: str) -> None:  # noqa: ANN001
        assert checker(answer) is False
        out = capsys.readouterr().out
        assert out.startswith("❌") and says in out, out
    return check
