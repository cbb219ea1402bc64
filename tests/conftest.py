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
