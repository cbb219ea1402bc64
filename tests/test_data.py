"""resnet_edu.data: offline digits, CIFAR-10 (error message, image-folder export and its cache), device-resident
loader and augmentation, ImageData checks."""

import numpy as np
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
    "kwargs,error,message",
    [
        (dict(size=4), ValueError, "size must be an integer >= 8"),
        (dict(size=8.0), TypeError, "size must be an integer \\(write 8\\)"),
        (dict(channels=2), ValueError, "channels must be one of 1, 3; got 2"),
        (dict(train="test"), TypeError, "train must be True or False; got 'test'"),
        (dict(test_fraction=float("nan")), ValueError, "test_fraction must be a finite number"),
        (dict(test_fraction=1.0), ValueError, "test_fraction must be > 0 and < 1"),
    ],
)
def test_digits_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        data.digits(**kwargs)


def test_image_data_checks_its_tensors():
    with pytest.raises(ValueError, match="ImageData needs one label per image; got 100 images and 10 labels"):
        data.ImageData(torch.zeros(100, 1, 8, 8), torch.zeros(10, dtype=torch.long), "x", ("a",))
    with pytest.raises(ValueError, match="ImageData.x must have 4 dimensions \\(images \\(N, C, H, W\\)\\)"):
        data.ImageData(torch.zeros(10, 8, 8), torch.zeros(10, dtype=torch.long), "x", ("a",))
    with pytest.raises(TypeError, match="ImageData.y must be int64"):
        data.ImageData(torch.zeros(10, 1, 8, 8), torch.zeros(10), "x", ("a",))


def _write_folder(root, split, per_class, suffix=".png", size=32):
    from PIL import Image

    rng = np.random.default_rng(0 if split == "train" else 1)
    for label, name in enumerate(data.CIFAR10_CLASSES):
        folder = root / "cifar10" / split / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((size, size, 3), 20 * label, dtype=np.uint8)
            pixels[0, 0] = rng.integers(0, 256, 3)
            Image.fromarray(pixels).save(folder / f"{i:04d}{suffix}", quality=95)


def test_cifar10_from_an_image_folder_decodes_once_and_caches(tmp_path, capsys):
    _write_folder(tmp_path, "train", 3)
    _write_folder(tmp_path, "test", 1, suffix=".jpg")
    train = data.cifar10(root=tmp_path, download=False)
    assert "image folder" in capsys.readouterr().out and (tmp_path / "cifar10" / "train.npz").is_file()
    assert train.x.shape == (30, 3, 32, 32) and sorted(train.y.tolist()) == sorted(list(range(10)) * 3)
    assert train.name == "CIFAR-10 (train)" and train.classes == data.CIFAR10_CLASSES
    assert train.y[:10].tolist() != sorted(train.y[:10].tolist())  # classes are mixed, not in folder order
    # each image's label matches its class folder: the flat colour 20·label, normalised
    mean, std = data.CIFAR10_MEAN[0], data.CIFAR10_STD[0]
    assert torch.allclose(train.x[:, 0, 5, 5], (20 * train.y.float() / 255 - mean) / std, atol=1e-5)
    again = data.cifar10(root=tmp_path, download=False)
    assert "cached arrays" in capsys.readouterr().out and torch.equal(again.x, train.x)
    test = data.cifar10(root=tmp_path, train=False, download=False)
    assert len(test) == 10 and "(test)" in test.name
    # a changed folder (one more image) is decoded again
    _write_folder(tmp_path / "more", "train", 1)
    (tmp_path / "more" / "cifar10" / "train" / "cat" / "0000.png").rename(
        tmp_path / "cifar10" / "train" / "cat" / "9999.png")
    assert len(data.cifar10(root=tmp_path, download=False)) == 31 and "decoded" in capsys.readouterr().out


def test_cifar10_image_folder_errors(tmp_path):
    _write_folder(tmp_path, "train", 1, size=16)
    with pytest.raises(data.DatasetUnavailable, match="is 16x16 pixels; CIFAR-10 images are 32x32"):
        data.cifar10(root=tmp_path)
    (tmp_path / "cifar10" / "train" / "zebra").mkdir()
    with pytest.raises(data.DatasetUnavailable, match="one folder per CIFAR-10 class"):
        data.cifar10(root=tmp_path)
    with pytest.raises(TypeError, match="download must be True or False"):
        data.cifar10(root=tmp_path, download="no")


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
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        data.DeviceLoader(d, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an integer; got True"):
        data.DeviceLoader(d, batch_size=True)  # a bool is not a batch size of 1


def test_augment_crop_flip_keeps_shape_and_moves_pixels():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    g = torch.Generator().manual_seed(0)
    out = data.augment_crop_flip(x, generator=g)
    assert out.shape == x.shape
    outs = [data.augment_crop_flip(x, generator=g) for _ in range(5)]
    assert any(not torch.equal(o, x) for o in outs)
    # every output pixel is either an input pixel or zero padding
    assert set(out.unique().tolist()) <= set(x.unique().tolist()) | {0.0}
