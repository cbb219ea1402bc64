"""resnet_edu.data: offline digits, CIFAR-10 error message, device-resident loader and augmentation."""

import pytest
import torch

from resnet_edu import data


def test_digits_shapes_split_and_determinism():
    train, test = data.digits(16, 3), data.digits(16, 3, train=False)
    assert train.x.shape == (1438, 3, 16, 16) and test.x.shape == (359, 3, 16, 16)
    assert len(train) + len(test) == 1797
    assert set(train.y.tolist()) == set(range(10)) and train.num_classes == 10
    assert torch.equal(train.x, data.digits(16, 3).x)
    small = data.digits(8, 1)
    assert small.x.shape[1:] == (1, 8, 8) and abs(float(small.x.mean())) < 0.1


@pytest.mark.parametrize(
    "kwargs,message",
    [(dict(size=4), "size must be an integer >= 8"), (dict(channels=2), "channels must be 1 or 3; got 2")],
)
def test_digits_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.digits(**kwargs)


def test_cifar10_missing_raises_one_clear_error(tmp_path):
    with pytest.raises(data.DatasetUnavailable, match="cifar-10-batches-py") as info:
        data.cifar10(root=tmp_path, download=False)
    assert str(tmp_path) in str(info.value) and "RESNET_EDU_DATA" in str(info.value)


def test_data_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_EDU_DATA", str(tmp_path))
    assert data.data_root() == tmp_path


def test_device_loader_epoch_shuffle_and_seed():
    d = data.digits(8, 1, train=False)
    loader = data.DeviceLoader(d, batch_size=100, device="cpu", seed=1)
    batches = list(loader)
    assert len(batches) == len(loader) == 3 and batches[0][0].shape == (100, 1, 8, 8)
    again = list(data.DeviceLoader(d, batch_size=100, device="cpu", seed=1))
    assert torch.equal(batches[0][1], again[0][1])
    assert not torch.equal(batches[0][1], d.y[:100])  # shuffled
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        data.DeviceLoader(d, batch_size=0)


def test_augment_crop_flip_keeps_shape_and_moves_pixels():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    g = torch.Generator().manual_seed(0)
    out = data.augment_crop_flip(x, generator=g)
    assert out.shape == x.shape
    outs = [data.augment_crop_flip(x, generator=g) for _ in range(5)]
    assert any(not torch.equal(o, x) for o in outs)
    # every output pixel is either an input pixel or zero padding
    assert set(out.unique().tolist()) <= set(x.unique().tolist()) | {0.0}
