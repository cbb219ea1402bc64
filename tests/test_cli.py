"""``python -m resnet_edu.train`` (issue 34): every --arch, MNIST and Fashion-MNIST from IDX files written here in
torchvision's raw layout, an image folder, a run stopped and resumed bit for bit, and the bad arguments of issues 32
and 34 answered by argparse with one sentence. Nothing is downloaded."""

import os
import re
import time

import numpy as np
import pytest
import torch

from resnet_edu import data, zoo
from resnet_edu.train import checkpoint
from resnet_edu.train.__main__ import main

QUICK = ["--steps", "2", "--batch-size", "4", "--device", "cpu", "--quiet", "--eval-every", "0"]


def write_idx(root, kind="MNIST", train=8, test=4, seed=0):
    """``root/<kind>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``: the IDX files torchvision's MNIST and
    FashionMNIST read (big-endian magic 0x0803 / 0x0801, then the sizes, then uint8 data)."""
    rng = np.random.default_rng(seed)
    raw, written = root / kind / "raw", {}
    raw.mkdir(parents=True)
    for prefix, n in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        images[:, :4] = images[:, -4:] = 0  # a black background at the edges, like a digit
        labels = (np.arange(n) % 10).astype(np.uint8)
        written[prefix] = images
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(np.array([0x0803, n, 28, 28], ">i4").tobytes()
                                                         + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(np.array([0x0801, n], ">i4").tobytes() + labels.tobytes())
    return written


def write_folder(root, classes=("cat", "dog"), per_class=3, size=12, mode="RGB", seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for label, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                shape = (size, size) if mode == "L" else (size, size, 3)
                pixels = rng.integers(0, 256, shape, dtype=np.uint8) // 4 + 60 * label
                Image.fromarray(pixels.astype(np.uint8), mode).save(folder / f"{i:03d}.png")
    return root


# --- data: MNIST, Fashion-MNIST, image folders -------------------------------------------------------------------

@pytest.mark.parametrize("kind,load", [("MNIST", data.mnist), ("FashionMNIST", data.fashion_mnist)])
def test_mnist_and_fashion_mnist_read_torchvision_raw_idx_files(tmp_path, kind, load, capsys):
    written = write_idx(tmp_path, kind)
    train, test = load(tmp_path), load(tmp_path, train=False)
    assert train.x.shape == (8, 1, 28, 28) and test.x.shape == (4, 1, 28, 28) and train.num_classes == 10
    assert abs(float(train.x.mean())) < 1e-5 and abs(float(train.x.std()) - 1) < 1e-3  # the train split's stats
    assert test.y.tolist() == [0, 1, 2, 3] and "torchvision's files" in capsys.readouterr().out
    raw_train, raw_test = (torch.from_numpy(written[p]).float() / 255 for p in ("train", "t10k"))
    assert torch.allclose(test.x[:, 0], (raw_test - raw_train.mean()) / raw_train.std(), atol=1e-5)


@pytest.mark.parametrize("load,title", [(data.mnist, "MNIST"), (data.fashion_mnist, "Fashion-MNIST")])
def test_mnist_offline_says_where_to_put_the_files_and_downloads_nothing(tmp_path, load, title):
    with pytest.raises(data.DatasetUnavailable) as info:
        load(tmp_path / "nowhere")
    message = str(info.value)
    assert message.startswith(f"{title} is not in {tmp_path / 'nowhere'}. Put its four files")
    assert "train-images-idx3-ubyte.gz" in message and "RESNET_EDU_DATA" in message and "download=True" in message
    assert not (tmp_path / "nowhere").exists()


def test_image_folder_reads_classes_grey_and_sizes(tmp_path, capsys):
    write_folder(tmp_path / "pets", size=12)
    train = data.image_folder(tmp_path / "pets")
    assert train.classes == ("cat", "dog") and train.x.shape == (6, 3, 12, 12)
    assert sorted(train.y.tolist()) == [0, 0, 0, 1, 1, 1]
    assert "decoded" in capsys.readouterr().out and (tmp_path / "pets" / "train.npz").is_file()
    assert len(data.image_folder(tmp_path / "pets", train=False)) == 6
    data.image_folder(tmp_path / "pets")
    assert "cached arrays" in capsys.readouterr().out.splitlines()[-1]
    assert data.image_folder(tmp_path / "pets", size=32).x.shape == (6, 3, 32, 32)  # resized, its own cache
    assert (tmp_path / "pets" / "train.32px.npz").is_file()
    write_folder(tmp_path / "grey", mode="L")
    assert data.image_folder(tmp_path / "grey").in_channels == 1


def _only(folder, what):
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.iterdir():
        f.unlink()
    if what == "nested":
        (folder / "dog").mkdir()
        from PIL import Image

        for i in range(2):
            Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(folder / "dog" / f"{i}.png")
    elif what == "unreadable":
        (folder / "a.heic").write_bytes(b"\0" * 10)
        (folder / "notes.txt").write_text("x")


# issue 32: a class folder empty, one level deeper (the usual unzip result), or only formats PIL does not read was
# accepted with that class at 0 images; now refused, naming the folder and what it holds
FOLDER_CASES = [
    ("empty", "the class folder .*train/dog is empty"),
    ("nested", "train/dog holds no images itself, but its folder dog/ holds 2 one level deeper"),
    ("unreadable", "train/dog holds no image that PIL reads \\(it holds 1 file\\(s\\) .heic, 1 file\\(s\\) .txt\\)"),
]


@pytest.mark.parametrize("what,message", FOLDER_CASES, ids=[c[0] for c in FOLDER_CASES])
def test_image_folder_refuses_a_class_without_images(tmp_path, what, message):
    write_folder(tmp_path)
    _only(tmp_path / "train" / "dog", what)
    with pytest.raises(data.DatasetUnavailable, match=message):
        data.image_folder(tmp_path)


def test_image_folder_reads_every_format_pil_reads(tmp_path):
    from PIL import Image

    write_folder(tmp_path)
    for path in sorted((tmp_path / "train" / "dog").iterdir()):
        with Image.open(path) as image:
            image.save(path.with_suffix(".bmp"))  # .bmp was skipped before: the class had 0 images
        path.unlink()
    assert sorted(data.image_folder(tmp_path).y.tolist()) == [0, 0, 0, 1, 1, 1]


def test_the_cache_sees_content_not_only_size_and_time(tmp_path, capsys):
    """Issue 32: an image replaced by another of the same byte size with its old mtime (cp -p, rsync -t) returned
    the old pixels."""
    from PIL import Image

    write_folder(tmp_path)
    before = data.image_folder(tmp_path).x.clone()
    path = tmp_path / "train" / "cat" / "000.png"
    info = path.stat()
    Image.fromarray(np.full((12, 12, 3), 255, np.uint8)).save(path)
    body = path.read_bytes()
    path.write_bytes(body + b"\0" * (info.st_size - len(body)) if len(body) < info.st_size else body)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    capsys.readouterr()
    after = data.image_folder(tmp_path).x
    assert "changed since train.npz was written" in capsys.readouterr().out and not torch.equal(before, after)


def test_the_test_split_must_hold_the_training_classes(tmp_path):
    write_folder(tmp_path)
    (tmp_path / "test" / "dog").rename(tmp_path / "test" / "dgo")
    with pytest.raises(data.DatasetUnavailable, match="must hold the class folders of the training split"):
        data.image_folder(tmp_path, train=False)


# --- the catalogue and --list-archs ----------------------------------------------------------------------------

def test_list_archs_prints_every_arch_with_its_parameters_for_the_data(capsys):
    assert main(["--list-archs", "--dataset", "cifar10"]) == 0
    out = capsys.readouterr().out
    for a in zoo.ARCHS.values():
        assert re.search(rf"^  {a.name} +[\d,]+  ", out, re.M), a.name
    assert re.search(r"^  resnet18_cifar +11,173,962 ", out, re.M)  # the CIFAR ResNet-18 of the copied repositories
    assert re.search(r"^  resnet20 +269,722 ", out, re.M)  # He et al. 2015, §4.2: 0.27M
    assert main(["--list-archs", "--dataset", "mnist"]) == 0
    grey = capsys.readouterr().out
    assert "1 channel(s), 10 classes" in grey and re.search(r"^  resnet18_cifar +11,172,810 ", grey, re.M)


def test_catalogue_names_build_the_nets_they_name():
    assert zoo.count_parameters_of(zoo.arch("resnet18"), 3, 1000) == 11_689_512  # torchvision's resnet18
    assert zoo.count_parameters_of(zoo.arch("resnet50"), 3, 1000) == 25_557_032
    model = zoo.arch("resnet18_cifar").build(3, 10)
    assert isinstance(model.maxpool, torch.nn.Identity) and model.conv1.kernel_size == (3, 3)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="unknown arch 'resnet19'"):
        zoo.arch("resnet19")


@pytest.fixture(scope="module")
def idx_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    write_idx(root, "MNIST", train=8, test=4)
    return root


# the ImageNet-sized nets (21-67 M parameters) take 2-10 s each on 2 cores: RESNET_EDU_ALL_ARCHS=1 runs them too
HEAVY = {n for n, a in zoo.ARCHS.items() if a.rgb_only or n.split("_")[0] in ("resnet34", "resnet50", "resnet101",
                                                                             "resnet152")}


@pytest.mark.parametrize("name", list(zoo.ARCHS))
def test_every_arch_trains_a_few_steps_on_mnist(name, idx_root, capsys):
    if name in HEAVY and os.environ.get("RESNET_EDU_ALL_ARCHS") != "1":
        pytest.skip("an ImageNet-sized net: RESNET_EDU_ALL_ARCHS=1 trains it too")
    started = time.perf_counter()
    assert main(["--arch", name, "--dataset", "mnist", "--data", str(idx_root), *QUICK]) == 0
    out = capsys.readouterr().out
    assert f"\n{name} on MNIST (train)" in out and "2 steps in" in out and "test accuracy" in out
    assert "padded to 32x32" in out and out.count("data: ") == 1  # said once
    if zoo.arch(name).rgb_only:
        assert "grey images repeated to 3 channels" in out
    print(f"{name}: {time.perf_counter() - started:.1f} s")


def test_fashion_mnist_digits_and_a_folder_from_the_shell(tmp_path, capsys):
    write_idx(tmp_path, "FashionMNIST")
    assert main(["--arch", "preact_resnet20", "--dataset", "fashion-mnist", "--data", str(tmp_path), *QUICK]) == 0
    assert "Fashion-MNIST (train)" in capsys.readouterr().out
    assert main(["--arch", "resnet18", "--dataset", "digits", *QUICK]) == 0
    assert "the 8x8 digits resized to 32x32, the smallest resnet18 takes" in capsys.readouterr().out
    write_folder(tmp_path / "pets", size=16)
    assert main(["--arch", "small_se", "--dataset", "folder", "--data", str(tmp_path / "pets"), *QUICK]) == 0
    assert "small_se on pets (train)" in capsys.readouterr().out


# --- resume ------------------------------------------------------------------------------------------------------

def test_a_run_stopped_and_resumed_ends_bit_identical_to_one_that_never_stopped(tmp_path, fake_cifar, capsys):
    """Issue 34, item 3: optimizer (momentum), schedule (the step decay falls inside the resumed half), batch order
    mid-epoch, augmentation's random crops and flips, BN statistics — all continue exactly (CPU)."""
    run = ["--arch", "resnet20", "--dataset", "cifar10", "--steps", "12", "--batch-size", "8", "--device", "cpu",
           "--quiet", "--eval-every", "0"]  # 64 images: 8 batches per epoch, so step 5 is mid-epoch
    assert main([*run, "--save", str(tmp_path / "whole.pt")]) == 0
    assert main([*run, "--save", str(tmp_path / "half.pt"), "--stop-after", "5"]) == 0
    out = capsys.readouterr().out
    assert f"saved the run at step 5 of 12 to {tmp_path / 'half.pt'} (continue it with --resume" in out
    assert main([*run, "--resume", str(tmp_path / "half.pt"), "--save", str(tmp_path / "resumed.pt")]) == 0
    assert "resuming" in capsys.readouterr().out
    whole, half, resumed = (checkpoint.load_run(tmp_path / f"{n}.pt") for n in ("whole", "half", "resumed"))
    assert half["step"] == 5 and whole["step"] == resumed["step"] == 12
    assert not torch.equal(half["model"]["fc.weight"], whole["model"]["fc.weight"])
    for key, value in whole["model"].items():
        assert torch.equal(value, resumed["model"][key]), key  # bit for bit
    momentum = [s["momentum_buffer"] for s in whole["optimizer"]["state"].values()]
    assert all(torch.equal(a, s["momentum_buffer"]) for a, s in zip(momentum, resumed["optimizer"]["state"].values()))


RESUME_CASES = [
    (["--arch", "resnet32"], "it trained with --arch resnet20, this command says --arch resnet32"),
    (["--arch", "resnet20", "--lr", "0.05"], "it trained with --lr None, this command says --lr 0.05"),
    (["--arch", "resnet20", "--dataset", "mnist"], "it trained with --dataset digits, this command says --dataset"),
]


@pytest.mark.parametrize("argv,message", RESUME_CASES, ids=[" ".join(a) for a, _ in RESUME_CASES])
def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, argv, message, capsys, idx_root):
    base = ["--dataset", "digits", "--steps", "4", "--batch-size", "8", "--device", "cpu", "--quiet"]
    assert main(["--arch", "resnet20", *base, "--save", str(tmp_path / "a.pt"), "--stop-after", "2"]) == 0
    capsys.readouterr()
    changed = [*base, *argv] if "--dataset" not in argv else [*base[2:], *argv, "--data", str(idx_root)]
    with pytest.raises(SystemExit) as exit_:
        main([*changed, "--resume", str(tmp_path / "a.pt")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "checkpoint of another run" in err and re.search(message, err), err


def test_resume_refuses_what_is_not_a_run_checkpoint(tmp_path, capsys):
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "weights.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    for name, says in (("weights.pt", "is not a run checkpoint"), ("junk.pt", "does not read as a checkpoint"),
                       ("missing.pt", "no checkpoint at")):
        with pytest.raises(SystemExit):
            main(["--dataset", "digits", "--resume", str(tmp_path / name)])
        assert says in capsys.readouterr().err


# --- bad arguments (issues 32 and 34): usage, one sentence, exit 2, before any training -----------------------

READ_ONLY = "READ_ONLY"
CLI_CASES = [
    # RANK=1 alone trained, printed and wrote nothing, exit 0
    ({"RANK": "1"}, [], "RANK=1 is set but WORLD_SIZE is not: a half-set torchrun environment"),
    ({"WORLD_SIZE": "0", "RANK": "0"}, [], "WORLD_SIZE must be >= 1"),  # was accepted
    ({"WORLD_SIZE": "2", "RANK": "2"}, [], "RANK must lie in 0..1 for WORLD_SIZE=2"),
    ({"WORLD_SIZE": "two", "RANK": "0"}, [], "WORLD_SIZE must be a whole number"),
    ({}, ["--save", "/proc/resnet_edu_w.pt"], "the folder /proc cannot be written"),  # torch's error after training
    ({}, ["--save", READ_ONLY, "--overwrite"], "the file is read-only; make it writable"),  # after training, too
    ({}, ["--overwrite"], "--overwrite applies to --save only"),  # was accepted
    ({}, ["--log-dir", ""], "--log-dir needs a folder name"),  # wrote into ./runs
    ({}, ["--lr", "1e308"], "argument --lr: it must be at most 3.40282e\\+38"),  # a traceback from torch's SGD
    ({}, ["--weight-decay", "1e308"], "argument --weight-decay: it must be at most 3.40282e\\+38"),
    ({}, ["--steps", "1000000000"], "argument --steps: steps must be at most 1000000"),  # TrainConfig said it later
    # a traceback from DeviceLoader (also for --batch-size 2**70, a number read from the shell)
    ({}, ["--batch-size", "5000"], "--batch-size 5000 is larger than the training set \\(1,438 images of digits"),
    ({}, ["--batch-size", str(2**70)], "--batch-size 1180591620717411303424 is larger than the training set"),
    ({}, ["--arch", "resnet19"], "argument --arch: unknown arch 'resnet19'; --list-archs lists all"),
    ({}, ["--arch", "resnet20", "--depth", "56"], "--depth builds the CIFAR ResNet without --arch"),
    ({}, ["--arch", "convnext_tiny", "--image-size", "8"], "convnext_tiny takes images of at least 32x32"),
    ({}, ["--dataset", "folder"], "--dataset folder needs --data ROOT"),
    ({}, ["--stop-after", "3"], "--stop-after needs --save FILE"),
    ({}, ["--dataset", "mnist", "--image-size", "32"], "--image-size applies to --dataset digits only, and folder"),
]


@pytest.mark.parametrize("env,argv,message", CLI_CASES, ids=[" ".join([*e, *a]) for e, a, _ in CLI_CASES])
def test_bad_arguments_are_answered_before_training(env, argv, message, tmp_path, monkeypatch, capsys):
    if "/proc/" in " ".join(argv) and not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux's /proc, a folder no one can write")
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if READ_ONLY in argv:
        target = tmp_path / "w.pt"
        target.write_bytes(b"keep")
        target.chmod(0o444)
        argv = [str(target) if a == READ_ONLY else a for a in argv]
    trained = []
    monkeypatch.setattr("resnet_edu.train.__main__.fit", lambda *a, **k: trained.append(1))
    with pytest.raises(SystemExit) as exit_:
        main(["--dataset", "digits", "--steps", "2", "--device", "cpu", "--quiet", *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("usage: python -m resnet_edu.train") and "Traceback" not in err
    assert re.search(message, err.strip().splitlines()[-1]), err
    assert not trained


def test_help_shows_the_three_common_runs(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--arch resnet18_cifar --dataset cifar10" in out and "--arch resnet20 --dataset mnist" in out
    assert "--dataset folder --data" in out and "--resume" in out
