"""Datasets and a device-resident batch iterator (lessons 00, 01, 08).

* :func:`digits` — scikit-learn's bundled 8×8 handwritten digits (no internet needed), resized: the offline dataset
  that carries the CPU scale of the lessons.
* :func:`cifar10` — CIFAR-10 from under ``RESNET_EDU_DATA``: torchvision's files, or an image-folder export
  (``cifar10/{train,test}/<class>/*.png|jpg``, decoded once and cached beside it), or a download; raises
  :class:`DatasetUnavailable` with instructions when none of these works.
* :class:`DeviceLoader` — the whole dataset as one tensor on the device; shuffling and the CIFAR augmentation of
  He et al. 2015, §4.2 (4-pixel padding, random 32×32 crop, horizontal flip) happen on the device.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import _checks

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class DatasetUnavailable(RuntimeError):
    """A dataset is not on disk and could not be downloaded."""


@dataclass
class ImageData:
    """Images ``x`` (N, C, H, W float32, normalised) and integer labels ``y`` (N,)."""

    x: torch.Tensor
    y: torch.Tensor
    name: str
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        _checks.tensor("ImageData.x", self.x, ndim=4, finite=False, expected="images (N, C, H, W)",
                       dtype=(torch.float32, torch.float16, torch.bfloat16, torch.float64))
        _checks.tensor("ImageData.y", self.y, ndim=1, finite=False, expected="integer class labels (N,)",
                       dtype=torch.long)
        if len(self.x) != len(self.y):
            raise ValueError(f"ImageData needs one label per image; got {len(self.x)} images and {len(self.y)} labels")
        self.classes = tuple(_checks.sequence("ImageData.classes", self.classes, unique=True))
        if not all(isinstance(c, str) for c in self.classes):
            raise TypeError(f"ImageData.classes must be class names (strings); got {self.classes!r}")
        if len(self.y):
            low, high = torch.aminmax(self.y)  # one look at the labels (a single device sync on a GPU)
            low, high = int(low), int(high)
            if low < 0 or high >= len(self.classes):
                raise ValueError(f"ImageData labels must lie in 0..{len(self.classes) - 1}, one per class name "
                                 f"({len(self.classes)} classes); got labels from {low} to {high}")

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        shape = tuple(self.x.shape[1:])
        return f"ImageData({self.name}: {len(self)} images of shape {shape}, {len(self.classes)} classes)"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return self.x.shape[1]

    def to(self, device: torch.device | str) -> ImageData:
        return ImageData(self.x.to(device), self.y.to(device), self.name, self.classes)


def image_data(name: str, value: object) -> ImageData:
    """``value`` if it is an :class:`ImageData` (what :func:`digits` and :func:`cifar10` return); otherwise a
    TypeError naming the argument."""
    if not isinstance(value, ImageData):
        raise TypeError(f"{name} must be a resnet_edu.data.ImageData, such as edu.data.digits() returns; got "
                        f"{_checks._show(value)} ({type(value).__name__})")
    return value


def digits(size: int = 16, channels: int = 1, train: bool = True, test_fraction: float = 0.2) -> ImageData:
    """scikit-learn's 1,797 handwritten digits, resized from 8×8 to ``size``×``size`` (bilinear), standardised,
    with a fixed seeded stratified train/test split (1,438 / 359 at the default ``test_fraction``).

    ``channels=3`` repeats the grey channel so that CIFAR-shaped networks take it unchanged.
    """
    from sklearn.datasets import load_digits

    _checks.integer("size", size, low=8, high=256, lift="(the digits are 8x8; larger sizes only interpolate)")
    _checks.choice("channels", channels, (1, 3))
    _checks.flag("train", train)
    _checks.number("test_fraction", test_fraction, low=0, high=1, low_inclusive=False, high_inclusive=False)
    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.long)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = (x - x.mean()) / x.std()
    rng = np.random.default_rng(0)
    test_idx = np.concatenate(
        [rng.permutation(np.flatnonzero(bunch.target == c))[: round(test_fraction * (bunch.target == c).sum())]
         for c in range(10)]
    )
    mask = np.zeros(len(y), dtype=bool)
    mask[test_idx] = True
    keep = torch.from_numpy(~mask if train else mask)
    x = x[keep].repeat(1, channels, 1, 1).contiguous()
    split = "train" if train else "test"
    return ImageData(x, y[keep], f"digits {size}x{size} ({split})", tuple(str(i) for i in range(10)))


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where datasets live: ``root``, else ``$RESNET_EDU_DATA``, else ``~/.cache/resnet_edu``."""
    if root is not None:
        return Path(root)
    env = os.environ.get("RESNET_EDU_DATA")
    return Path(env) if env else Path.home() / ".cache" / "resnet_edu"


def cifar10(root: str | os.PathLike[str] | None = None, train: bool = True, download: bool = False) -> ImageData:
    """CIFAR-10 (50,000 train / 10,000 test 32×32 images), normalised per channel; prints which source it used.

    Looks under :func:`data_root` for, in this order: torchvision's ``cifar-10-batches-py/``; an image-folder export
    ``cifar10/{train,test}/<class name>/*.png|jpg`` (what cifar2png and similar tools write), decoded once and cached
    as ``cifar10/{train,test}.npz`` beside it (decoded again when the images changed); else, only when asked with
    ``download=True``, it downloads through torchvision (170 MB; a mistyped ``root`` then creates nothing).
    Raises :class:`DatasetUnavailable` with the folders to use, and how to download, when none of these works.
    """
    images, labels, source = cifar10_arrays(root, train, download)
    split = "train" if train else "test"
    print(f"CIFAR-10 ({split}): {source}")
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    x = ((x - mean) / std).contiguous()
    return ImageData(x, torch.from_numpy(labels).long(), f"CIFAR-10 ({split})", CIFAR10_CLASSES)


def cifar10_arrays(root: str | os.PathLike[str] | None = None, train: bool = True, download: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, str]:
    """The raw CIFAR-10 split behind :func:`cifar10`: images (N, 32, 32, 3) uint8, labels (N,) int64, and a sentence
    naming the source (what a torchvision-style pipeline, e.g. ``benchmarks/gpu_throughput.py``, starts from)."""
    _checks.flag("train", train)
    _checks.flag("download", download)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (a string or pathlib.Path); got {_checks._show(root)} "
                        f"({type(root).__name__})")
    folder = data_root(root)
    split = "train" if train else "test"
    export = folder / "cifar10"
    if (folder / "cifar-10-batches-py").is_dir() or not export.is_dir():
        return _cifar10_torchvision(folder, train, download)
    missing = [name for name in ("train", "test") if not (export / name).is_dir()]
    if missing:  # said before the (slow) decoding of the other split
        raise DatasetUnavailable(f"the image-folder export {export} has no {missing[0]}/ folder; it needs both "
                                 f"{export / 'train'}/<class>/*.png and {export / 'test'}/<class>/*.png")
    return _cifar10_image_folder(export, split)


def _cifar10_torchvision(folder: Path, train: bool, download: bool) -> tuple[np.ndarray, np.ndarray, str]:
    from torchvision.datasets import CIFAR10

    had = (folder / "cifar-10-batches-py").is_dir()
    where = (f"Put cifar-10-python.tar.gz or its extracted folder cifar-10-batches-py/ in {folder}, or an "
             f"image-folder export as {folder / 'cifar10'}/train/<class>/*.png and .../test/<class>/*.png, "
             "or set RESNET_EDU_DATA to the folder that holds it")
    tarball = folder / CIFAR10.filename
    archive = False
    if not had and tarball.is_file():  # torchvision extracts an intact archive offline; a damaged one it downloads
        from torchvision.datasets.utils import check_integrity

        archive = check_integrity(str(tarball), CIFAR10.tgz_md5)
        if not (archive or download):
            raise DatasetUnavailable(f"{tarball} is damaged or incomplete (its MD5 checksum is not CIFAR-10's). "
                                     "Delete it and copy it again, or download it anew with download=True.")
    if not (had or archive or download):
        raise DatasetUnavailable(f"CIFAR-10 is not in {folder}. {where}; or download it (170 MB) into {folder} "
                                 "with download=True.")
    try:
        ds = CIFAR10(str(folder), train=train, download=download or archive)
    except Exception as err:  # torchvision raises RuntimeError when absent, URLError/OSError when offline
        raise DatasetUnavailable(
            f"CIFAR-10 is not in {folder} and could not be {'downloaded' if download else 'read'} "
            f"({type(err).__name__}: {err}). {where}."
        ) from err
    source = f"torchvision's files in {folder / 'cifar-10-batches-py'}" + ("" if had else " (downloaded)")
    return ds.data, np.asarray(ds.targets, dtype=np.int64), source


def _idx_dataset(kind: str, root: str | os.PathLike[str] | None, train: bool, download: bool) -> ImageData:
    """MNIST or Fashion-MNIST through torchvision's dataset class (``kind`` is its name), as (N, 1, 28, 28) images
    standardised by the training split's mean and standard deviation; the files are torchvision's raw IDX files
    under ``<data root>/<kind>/raw`` (unpacked, or the .gz archives as downloaded, unpacked here offline)."""
    import torchvision.datasets as tvd
    from torchvision.datasets.utils import check_integrity

    _checks.flag("train", train)
    _checks.flag("download", download)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (a string or pathlib.Path); got {_checks._show(root)} "
                        f"({type(root).__name__})")
    cls = getattr(tvd, kind)
    title = {"MNIST": "MNIST", "FashionMNIST": "Fashion-MNIST"}[kind]
    folder = data_root(root)
    raw = folder / kind / "raw"
    names = [name for name, _ in cls.resources]
    unpacked = all((raw / name[: -len(".gz")]).is_file() for name in names)
    archives = not unpacked and all(check_integrity(str(raw / name), md5) for name, md5 in cls.resources)
    if not (unpacked or archives or download):
        raise DatasetUnavailable(
            f"{title} is not in {folder}. Put its four files ({', '.join(names)}, as downloaded or unpacked) in "
            f"{raw}, or set RESNET_EDU_DATA to the folder that holds {kind}/; or download it (about 30 MB) into "
            f"{folder} with download=True.")
    splits = {}
    for split in (True,) if train else (True, False):  # the training split's statistics for both
        try:  # download=True on archives that are there only unpacks them (torchvision checks their MD5 first)
            ds = cls(str(folder), train=split, download=download or archives)
        except Exception as err:  # RuntimeError when absent or damaged, URLError/OSError when offline
            raise DatasetUnavailable(f"{title} is not in {raw} and could not be "
                                     f"{'downloaded' if download else 'read'} ({type(err).__name__}: {err}). Put "
                                     f"its four files ({', '.join(names)}) there, or set RESNET_EDU_DATA.") from err
        splits[split] = ds
    ds, stats = splits[train], splits[True].data.float().div_(255)
    mean, std = float(stats.mean()), float(stats.std())  # the training split's, for both splits
    x = ((ds.data.float().div_(255) - mean) / std).unsqueeze(1).contiguous()
    name = f"{title} ({'train' if train else 'test'})"
    print(f"{name}: torchvision's files in {raw}")
    return ImageData(x, ds.targets.long(), name, tuple(ds.classes))


def mnist(root: str | os.PathLike[str] | None = None, train: bool = True, download: bool = False) -> ImageData:
    """MNIST (LeCun et al. 1998; 60,000 train / 10,000 test 28×28 grey digits) through ``torchvision.datasets.MNIST``
    from ``<data root>/MNIST/raw``; downloaded only with ``download=True``, otherwise :class:`DatasetUnavailable` says
    where to put the files."""
    return _idx_dataset("MNIST", root, train, download)


def fashion_mnist(root: str | os.PathLike[str] | None = None, train: bool = True, download: bool = False
                  ) -> ImageData:
    """Fashion-MNIST (Xiao et al. 2017; MNIST's layout with ten kinds of clothing) through
    ``torchvision.datasets.FashionMNIST`` from ``<data root>/FashionMNIST/raw``, like :func:`mnist`."""
    return _idx_dataset("FashionMNIST", root, train, download)


_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def image_suffixes() -> frozenset[str]:
    """The file suffixes PIL reads (``.png``, ``.jpg``, ``.bmp``, ``.gif``, ``.tif``, ``.webp``, …), lower case."""
    from PIL import Image

    Image.init()
    return frozenset(s.lower() for s in Image.registered_extensions())


def _no_images(folder: Path, readable: frozenset[str]) -> str:
    """Why the class folder ``folder`` holds no image: empty, its images one level deeper, or other files."""
    entries = sorted(folder.iterdir())
    if not entries:
        return f"the class folder {folder} is empty; put its images in it, or remove it"
    subs = [e for e in entries if e.is_dir()]
    for sub in subs:
        inner = sum(1 for f in sub.rglob("*") if f.is_file() and f.suffix.lower() in readable)
        if inner:
            return (f"the class folder {folder} holds no images itself, but its folder {sub.name}/ holds {inner:,} "
                    f"one level deeper (what unzipping into a folder of the same name gives); move them up, e.g. "
                    f"mv '{sub}'/* '{folder}'/")
    from collections import Counter

    kinds = Counter(e.suffix.lower() or "without a suffix" for e in entries if e.is_file())
    held = [f"{n:,} file(s) {k}" for k, n in kinds.most_common(4)] + ([f"{len(subs)} folder(s)"] if subs else [])
    return (f"the class folder {folder} holds no image that PIL reads (it holds {', '.join(held)}); convert them to "
            ".png or .jpg, or remove the folder")


def _class_files(root: Path, names: tuple[str, ...]) -> list[tuple[Path, int]]:
    """Every image PIL reads in ``root/<name>/`` with its label; a class folder without one is refused, by name."""
    readable, files = image_suffixes(), []
    for label, name in enumerate(names):
        found = [f for f in sorted((root / name).iterdir()) if f.is_file() and f.suffix.lower() in readable]
        if not found:
            raise DatasetUnavailable(_no_images(root / name, readable) + f" (every class of {root} needs images)")
        files += [(f, label) for f in found]
    return files


def _fingerprint(files: list[tuple[Path, int]], root: Path, size: int | None = None) -> str:
    """What the cache was built from: a hash of every image's path (relative to ``root``, so its class folder),
    label and *content*, in order, and the size asked for. Replacing an image (even by one of the same byte size
    with its old modification time, as ``cp -p`` and ``rsync -t`` leave it), moving or renaming one changes it."""
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    def content(item: tuple[Path, int]) -> str:
        return hashlib.sha256(item[0].read_bytes()).hexdigest()  # hashlib and reads let go of the GIL

    digest = hashlib.sha256(f"v2 size={size}\n".encode())
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for (path, label), seen in zip(files, pool.map(content, files, chunksize=256)):
            digest.update(f"{path.relative_to(root).as_posix()}\t{label}\t{seen}\n".encode())
    return digest.hexdigest()


def _read_cache(cache: Path, root: Path) -> tuple[np.ndarray, np.ndarray, str] | None:
    """``(x, y, fingerprint)`` from a cache written by :func:`_folder_arrays`; ``None`` for a cache of an earlier
    version (no fingerprint, rebuilt); a file that does not read is refused with how to fix it."""
    import zipfile

    def broken(why: str) -> DatasetUnavailable:
        return DatasetUnavailable(f"{cache} is not a readable image cache ({why}). Delete it and call again: it "
                                  f"is rebuilt from the images in {root}.")

    try:
        saved = np.load(cache, allow_pickle=False)  # never unpickles: a pickle is refused below, not loaded
        if not hasattr(saved, "files"):
            raise broken("a single array, not the .npz archive of arrays x and y that resnet_edu writes")
        with saved:
            if "x" not in saved.files or "y" not in saved.files:
                raise broken(f"it holds {sorted(saved.files)}, not the arrays x and y")
            if "fingerprint" not in saved.files:
                return None  # written before caches had a fingerprint: rebuilt
            x, y, key = saved["x"], saved["y"], str(saved["fingerprint"])
    except DatasetUnavailable:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:  # garbage, truncated, pickled
        raise broken(f"numpy cannot read it: {type(err).__name__}") from None
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] not in (1, 3) or y.shape != (len(x),):
        raise broken(f"images of shape {x.shape} ({x.dtype}) and {y.shape} labels, not (N, H, W, 1 or 3) uint8")
    return x, y, key


def _folder_arrays(folder: Path, split: str, classes: tuple[str, ...] | None = None, size: int | None = None,
                   cifar: bool = False) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """Images (N, H, W, C) uint8, labels, class names and a sentence naming the source, from
    ``folder/split/<class>/*`` through a cache ``folder/split.npz`` (``split.<size>px.npz`` when resized) keyed by
    what it was built from (:func:`_fingerprint`): when any image was added, removed, replaced or moved to another
    class folder, the folder is decoded again and one printed line says why. ``classes`` fixes the class names and
    their order (CIFAR-10's, or the training split's for the test split); ``cifar`` asks for 32×32 RGB."""
    root = folder / split
    names = tuple(sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")))
    if cifar and set(names) != set(CIFAR10_CLASSES):
        raise DatasetUnavailable(f"{root} must hold one folder per CIFAR-10 class ({', '.join(CIFAR10_CLASSES)}); "
                                 f"found {list(names)}")
    if classes is not None and set(names) != set(classes):
        raise DatasetUnavailable(f"{root} must hold the class folders of the training split "
                                 f"({', '.join(classes)}); found {', '.join(names) or 'none'}")
    if classes is None and len(names) < 2:
        raise DatasetUnavailable(f"{root} must hold one folder per class, at least two (<class>/*.png); found "
                                 f"{', '.join(names) or 'none'}")
    names = classes or names
    files = _class_files(root, names)
    cache = folder / (f"{split}.npz" if size is None else f"{split}.{size}px.npz")
    key = _fingerprint(files, root, size)
    if cache.is_file():
        saved = _read_cache(cache, root)
        if saved is not None and saved[2] == key:
            return saved[0], saved[1], names, f"cached arrays {cache} (decoded from the image folder {root})"
        print(f"The images in {root} changed since {cache.name} was written: decoding them again.")
    images = _decode(files, root, size, cifar)
    labels = np.asarray([label for _, label in files], dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(files))  # classes mixed, so a prefix is a fair subset
    images, labels = images[order], labels[order]
    try:
        np.savez(cache, x=images, y=labels, fingerprint=np.asarray(key))
        note = f"cached in {cache}"
    except OSError as err:
        note = f"could not cache it in {cache}: {err.strerror}"
    return images, labels, names, f"image folder {root} ({len(files)} images decoded; {note})"


def _cifar10_image_folder(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    images, labels, _, source = _folder_arrays(folder, split, CIFAR10_CLASSES, cifar=True)
    return images, labels, source


def _decode(files: list[tuple[Path, int]], root: Path, size: int | None = None, cifar: bool = False) -> np.ndarray:
    """The images of ``files`` as one (N, H, W, C) uint8 array: grey (C = 1) when every image is grey, else RGB;
    resized to ``size``×``size`` when asked, otherwise all of one size (CIFAR-10: 32×32)."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image
    from tqdm.auto import tqdm

    def one(item: tuple[Path, int]) -> np.ndarray:
        try:
            with Image.open(item[0]) as image:
                image = image.convert("L" if image.mode in _GREY_MODES and not cifar else "RGB")
                if size is not None:
                    image = image.resize((size, size), Image.BILINEAR)
                pixels = np.asarray(image)
        except (OSError, ValueError, SyntaxError) as err:  # truncated or not an image; PIL's text omits the file
            raise DatasetUnavailable(f"{item[0]} does not decode as an image ({err}); replace it with a good copy "
                                     "or delete it, then call again") from None
        if cifar and pixels.shape != (32, 32, 3):
            raise DatasetUnavailable(f"{item[0]} is {pixels.shape[1]}x{pixels.shape[0]} pixels; CIFAR-10 images "
                                     "are 32x32")
        return pixels if pixels.ndim == 3 else pixels[..., None]

    if not files:
        raise DatasetUnavailable(f"{root} holds no images in its class folders")
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        decoded = list(tqdm(pool.map(one, files, chunksize=256), total=len(files), desc=f"decoding {root.name}",
                            leave=False, mininterval=1.0, disable=len(files) < 2000))
    if any(d.shape[2] == 3 for d in decoded):  # a folder of mixed grey and colour images: all as colour
        decoded = [np.repeat(d, 3, axis=2) if d.shape[2] == 1 else d for d in decoded]
    first = decoded[0].shape
    odd = next((i for i, d in enumerate(decoded) if d.shape != first), None)
    if odd is not None:
        raise DatasetUnavailable(f"{files[odd][0]} is {decoded[odd].shape[1]}x{decoded[odd].shape[0]} pixels but "
                                 f"{files[0][0]} is {first[1]}x{first[0]}: the images of {root} must share one size; "
                                 "give a size to resize them all to (image_folder(size=…), --image-size)")
    return np.stack(decoded)


def image_folder(root: str | os.PathLike[str], train: bool = True, size: int | None = None) -> ImageData:
    """Any image folder ``root/{train,test}/<class>/*`` (every format PIL reads), the class names sorted, as images
    standardised per channel by the training split's mean and standard deviation; grey when every image is grey.

    Decoded once and cached beside the images (``root/train.npz``), keyed by their names, classes and content, like
    the CIFAR-10 image-folder export of :func:`cifar10`; ``size`` resizes every image to ``size``×``size``
    (bilinear), otherwise the images must share one size. A class folder that is empty, holds its images one level
    deeper, or holds no format PIL reads is refused, naming the folder and what it holds."""
    if isinstance(root, bytes) or not isinstance(root, (str, os.PathLike)) or not str(root).strip():
        raise TypeError(f"root must be a folder path (a string or pathlib.Path); got {_checks._show(root)}")
    _checks.flag("train", train)
    if size is not None:
        size = _checks.integer("size", size, low=1, high=1024)
    folder = Path(root).expanduser()
    missing = [s for s in ("train", "test") if not (folder / s).is_dir()]
    if missing:
        raise DatasetUnavailable(f"the image folder {folder} has no {missing[0]}/ folder; it needs both "
                                 f"{folder / 'train'}/<class>/*.png and {folder / 'test'}/<class>/*.png")
    images, labels, classes, source = _folder_arrays(folder, "train", size=size)
    stats = torch.from_numpy(images).float().div_(255)
    mean, std = stats.mean((0, 1, 2)), stats.std((0, 1, 2)).clamp_min(1e-6)  # per channel, the training split's
    if not train:
        images, labels, _, source = _folder_arrays(folder, "test", classes, size)
    split = "train" if train else "test"
    print(f"{folder.name} ({split}): {source}")
    x = ((torch.from_numpy(images).float().div_(255) - mean) / std).permute(0, 3, 1, 2).contiguous()
    return ImageData(x, torch.from_numpy(labels).long(), f"{folder.name} ({split})", classes)


def augment_crop_flip(x: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """He et al. 2015, §4.2: pad each side by ``padding`` zeros, take a random crop of the original size, flip
    horizontally with probability 1/2. Vectorised over the batch, on whatever device ``x`` lives."""
    _checks.tensor("x", x, ndim=4, finite=False, expected="a batch of images (N, C, H, W)")  # no sync: on the hot path
    padding = _checks.integer("padding", padding, low=0, high=64)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)) or None; got "
                        f"{_checks._show(generator)} ({type(generator).__name__})")
    if generator is not None and generator.device.type != x.device.type:
        raise ValueError(f"generator lives on {generator.device} but x on {x.device}; make the generator with "
                         f"torch.Generator(device=x.device)")
    n, _, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (padding,) * 4)
    oy = torch.randint(0, 2 * padding + 1, (n, 1), device=dev, generator=generator)
    ox = torch.randint(0, 2 * padding + 1, (n, 1), device=dev, generator=generator)
    rows = (oy + torch.arange(h, device=dev)).view(n, 1, h, 1)
    cols = (ox + torch.arange(w, device=dev)).view(n, 1, 1, w)
    batch = torch.arange(n, device=dev).view(n, 1, 1, 1)
    chans = torch.arange(x.shape[1], device=dev).view(1, -1, 1, 1)
    out = padded[batch, chans, rows, cols]
    flip = torch.rand(n, device=dev, generator=generator) < 0.5
    return torch.where(flip.view(n, 1, 1, 1), out.flip(3), out)


class DeviceLoader:
    """Iterate over shuffled mini-batches of a dataset that lives entirely on ``device``.

    One pass of ``for x, y in loader`` is one epoch. Shuffling and augmentation run on the device, so a GPU never
    waits for a CPU data pipeline. With a ``seed`` the order is repeatable.
    """

    def __init__(
        self,
        data: ImageData,
        batch_size: int = 128,
        shuffle: bool = True,
        augment: bool = False,
        device: torch.device | str | None = None,
        drop_last: bool = True,
        seed: int | None = 0,
    ) -> None:
        data = image_data("data", data)
        batch_size = _checks.integer("batch_size", batch_size, low=1)
        for name, value in (("shuffle", shuffle), ("augment", augment), ("drop_last", drop_last)):
            _checks.flag(name, value)
        if seed is not None:
            seed = _checks.seed(seed)
        if batch_size > len(data) and drop_last:
            raise ValueError(f"batch_size {batch_size} is larger than the dataset ({len(data)} examples)")
        from .runtime import device as best_device

        self.device = _checks.device(device) if device is not None else best_device()
        self.data = data.to(self.device)
        self.batch_size, self.shuffle, self.augment, self.drop_last = batch_size, shuffle, augment, drop_last
        self.generator = torch.Generator(device=self.device)
        if seed is not None:
            self.generator.manual_seed(seed)
        self._order: torch.Tensor | None = None  # this epoch's order, and how many of its batches were served
        self._position, self._resume = 0, False

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """Where the loader stands — its random generator, this epoch's order and how many batches of it were
        served — so that a checkpoint can continue with exactly the batches an uninterrupted run would see."""
        order = self._order.cpu() if self._order is not None else torch.empty(0, dtype=torch.long)
        return {"generator": self.generator.get_state(), "order": order, "position": self._position}

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        """Continue from :meth:`state_dict`: the next ``for x, y in loader`` serves the rest of that epoch."""
        order = state["order"]
        if len(order) not in (0, len(self.data)) or not 0 <= int(state["position"]) <= len(self):
            raise ValueError(f"this loader state is of a dataset of {len(order)} images served in batches that do not "
                             f"fit this loader ({len(self.data)} images, {len(self)} batches per epoch)")
        self.generator.set_state(state["generator"])
        self._order = order.to(self.device) if len(order) else None
        self._position, self._resume = int(state["position"]), True

    def __len__(self) -> int:
        n = len(self.data)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, start = len(self.data), 0
        if self._resume and self._order is not None and self._position < len(self):  # the rest of a saved epoch
            order, start = self._order, self._position
        else:
            order = (torch.randperm(n, device=self.device, generator=self.generator) if self.shuffle
                     else torch.arange(n, device=self.device))
        self._order, self._resume = order, False
        for i in range(start, len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = self.data.x[idx]
            if self.augment:
                x = augment_crop_flip(x, generator=self.generator)
            self._position = i + 1
            yield x, self.data.y[idx]
