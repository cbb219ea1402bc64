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
    _write_folder(tmp_path, "test", 1)
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


def _pixel(root, split, name, file):
    from PIL import Image

    with Image.open(root / "cifar10" / split / name / file) as image:
        return np.asarray(image.convert("RGB"))[5, 5, 0]


def _replace(path, value, when):
    """Write a 32x32 image of flat colour ``value`` at ``path`` and give it the modification time ``when``."""
    import os

    from PIL import Image

    Image.fromarray(np.full((32, 32, 3), value, dtype=np.uint8)).save(path)
    os.utime(path, ns=(when, when))


def test_image_folder_cache_is_keyed_by_what_it_was_built_from(tmp_path, capsys):
    """Issue 22: a replaced image, an image moved to another class, or another image set of the same size is
    decoded again (one printed line), never answered from the stale cache."""
    _write_folder(tmp_path, "train", 2)
    _write_folder(tmp_path, "test", 1)
    root = tmp_path / "cifar10" / "train"
    data.cifar10(root=tmp_path)
    capsys.readouterr()
    # 1. one image replaced in place: same file count, same name, new pixels
    _replace(root / "cat" / "0000.png", 123, 1_000_000_000_000_000_000)
    again = data.cifar10(root=tmp_path)
    out = capsys.readouterr().out
    assert "changed since train.npz was written: decoding them again" in out and out.count("\n") == 2
    mean, std = data.CIFAR10_MEAN[0], data.CIFAR10_STD[0]
    assert torch.isclose(again.x[:, 0, 5, 5], torch.tensor((123 / 255 - mean) / std)).sum() == 1
    # 2. a cat image moved into dog/: same files and pixels, another label
    cat, dog = data.CIFAR10_CLASSES.index("cat"), data.CIFAR10_CLASSES.index("dog")
    (root / "cat" / "0000.png").rename(root / "dog" / "0099.png")
    moved = data.cifar10(root=tmp_path)
    assert "decoding them again" in capsys.readouterr().out
    assert (moved.y == cat).sum() == 1 and (moved.y == dog).sum() == 3
    # 3. unchanged: the cache answers, without the line
    data.cifar10(root=tmp_path)
    out = capsys.readouterr().out
    assert "cached arrays" in out and "decoding them again" not in out


@pytest.mark.parametrize("kind", ["garbage", "truncated", "foreign npz", "pickled objects", "single array"])
def test_a_cache_that_does_not_read_names_the_file_and_says_what_to_do(tmp_path, kind):
    _write_folder(tmp_path, "train", 1)
    _write_folder(tmp_path, "test", 1)
    data.cifar10(root=tmp_path)
    cache = tmp_path / "cifar10" / "train.npz"
    if kind == "garbage":
        cache.write_bytes(b"not an archive at all\n" * 10)
    elif kind == "truncated":
        cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    elif kind == "foreign npz":
        np.savez(cache, weights=np.ones(3))
    elif kind == "pickled objects":
        np.savez(cache, x=np.array([{"a": 1}], dtype=object), y=np.zeros(1), fingerprint=np.asarray("k"))
    else:
        with open(cache, "wb") as f:
            np.save(f, np.zeros(3))
    with pytest.raises(data.DatasetUnavailable) as info:
        data.cifar10(root=tmp_path)
    message = str(info.value)
    assert str(cache) in message and "Delete it" in message and "rebuilt" in message
    assert "pickle" not in message.lower() and info.value.__cause__ is None
    cache.unlink()
    assert len(data.cifar10(root=tmp_path)) == 10  # deleting it is the whole fix


def test_a_cache_from_before_fingerprints_is_rebuilt(tmp_path, capsys):
    _write_folder(tmp_path, "train", 1)
    _write_folder(tmp_path, "test", 1)
    np.savez(tmp_path / "cifar10" / "train.npz", x=np.zeros((10, 32, 32, 3), np.uint8), y=np.zeros(10, np.int64),
             files=10)
    train = data.cifar10(root=tmp_path)
    assert "decoding them again" in capsys.readouterr().out and sorted(train.y.tolist()) == list(range(10))


def test_a_truncated_image_names_its_file(tmp_path):
    _write_folder(tmp_path, "train", 1)
    _write_folder(tmp_path, "test", 1)
    bad = tmp_path / "cifar10" / "train" / "ship" / "0000.png"
    bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(data.DatasetUnavailable, match="0000.png does not decode as an image") as info:
        data.cifar10(root=tmp_path)
    assert str(bad) in str(info.value) and "replace it" in str(info.value)


def test_an_export_without_test_says_so_before_decoding_train(tmp_path):
    _write_folder(tmp_path, "train", 1)
    with pytest.raises(data.DatasetUnavailable, match="has no test/ folder; it needs both"):
        data.cifar10(root=tmp_path, train=True)
    assert not (tmp_path / "cifar10" / "train.npz").exists()  # nothing was decoded


def test_a_mistyped_root_creates_nothing_and_says_how_to_download(tmp_path):
    typo = tmp_path / "datsets"
    with pytest.raises(data.DatasetUnavailable, match="download=True") as info:
        data.cifar10(root=typo)
    assert not typo.exists() and str(typo) in str(info.value) and "170 MB" in str(info.value)
    with pytest.raises(data.DatasetUnavailable):
        data.cifar10_arrays(typo, train=False)
    assert not typo.exists()
    with pytest.raises(TypeError, match="root must be a folder path"):
        data.cifar10(root=3)


def test_image_data_labels_must_have_a_class_name():
    x = torch.zeros(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"labels must lie in 0..1, one per class name \(2 classes\); got labels "
                                         "from 0 to 5"):
        data.ImageData(x, torch.tensor([0, 5]), "x", ("a", "b"))
    with pytest.raises(ValueError, match="got labels from -1 to 0"):
        data.ImageData(x, torch.tensor([-1, 0]), "x", ("a", "b"))
    with pytest.raises(ValueError, match="ImageData.classes must not repeat"):
        data.ImageData(x, torch.tensor([0, 1]), "x", ("a", "a"))
    assert data.ImageData(x, torch.tensor([0, 1]), "x", ["a", "b", "c"]).classes == ("a", "b", "c")


def test_a_damaged_cifar_archive_is_named_not_downloaded_over(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"half a download")
    with pytest.raises(data.DatasetUnavailable, match="cifar-10-python.tar.gz is damaged or incomplete"):
        data.cifar10(root=tmp_path)
