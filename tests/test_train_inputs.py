"""Bad input to the trainer and its command line gets one clear sentence (issues 22 and 23): a table of wrong
arguments, each with the error it must raise and what the message must say; and the CLI answers like a CLI —
usage, one sentence, exit status 2 — never a traceback, and never overwrites a file unasked."""

import math
import re

import pytest
import torch

from resnet_edu import data, nets, train
from resnet_edu.train import TrainConfig
from resnet_edu.train.__main__ import main

nan = math.nan


def _digits():
    return data.digits(8, 1)


def _net(**kwargs):
    torch.manual_seed(0)
    return nets.cifar_net(8, width=4, in_channels=1, **kwargs)


def _nan_digits():
    d = _digits()
    return data.ImageData(torch.full_like(d.x, nan), d.y, d.name, d.classes)


CASES = [
    # the schedule's domain: no extrapolation past the end into negative learning rates
    ("lr_factor step past the end", lambda: TrainConfig(steps=8, schedule="linear").lr_factor(9, 8), ValueError,
     r"step must be between 0 and total=8 \(the schedule ends there\); got 9"),
    ("lr_factor negative step", lambda: TrainConfig(steps=8).lr_factor(-1, 8), ValueError,
     "step must be an integer >= 0; got -1"),
    ("lr_factor total=0", lambda: TrainConfig(steps=8).lr_factor(0, 0), ValueError, "total must be an integer >= 1"),
    ("lr_factor step=1.5", lambda: TrainConfig(steps=8).lr_factor(1.5, 8), TypeError, "step must be an integer"),
    ("total_steps('5')", lambda: TrainConfig(epochs=1).total_steps("5"), TypeError,
     "batches_per_epoch must be an integer .write 5 without quotes."),
    ("total_steps(0)", lambda: TrainConfig(epochs=2).total_steps(0), ValueError,
     "batches_per_epoch must be an integer >= 1; got 0"),
    # shard: a rank outside [0, world)
    ("shard rank=3 of 3", lambda: train.shard(_digits(), 3, 3), ValueError, r"rank must be in \[0, world\) = \[0, 3\)"),
    ("shard rank=-1", lambda: train.shard(_digits(), -1, 2), ValueError, "rank must be an integer >= 0"),
    ("shard world=0", lambda: train.shard(_digits(), 0, 0), ValueError, "world must be an integer >= 1"),
    ("shard of a tensor", lambda: train.shard(_digits().x, 0, 2), TypeError, "data must be a resnet_edu.data.Image"),
    # the class count is checked like the channels
    ("fit net with 12 outputs on 10 classes", lambda: train.fit(_net(num_classes=12), _digits(), TrainConfig(steps=2),
                                                                progress=False, device="cpu"), ValueError,
     r"the network returns 12 outputs per image, but train_data \(digits 8x8 \(train\)\) has 10 classes.*"
     r"num_classes=10"),
    ("fit net with 5 outputs on 10 classes", lambda: train.fit(_net(num_classes=5), _digits(), TrainConfig(steps=2),
                                                               progress=False, device="cpu"), ValueError,
     "returns 5 outputs per image, but train_data"),
    ("evaluate net with 3 outputs", lambda: train.evaluate(_net(num_classes=3), _digits()), ValueError,
     r"returns 3 outputs per image, but data \(digits 8x8 \(train\)\) has 10 classes"),
    # the data, not the learning rate
    ("fit on all-NaN images", lambda: train.fit(_net(), _nan_digits(), TrainConfig(steps=2), progress=False,
                                                device="cpu"), ValueError,
     "train_data .* holds 92,032 pixel values that are not finite numbers .*the data is broken, not the learning rate"),
    ("fit with all-NaN eval_data", lambda: train.fit(_net(), _digits(), TrainConfig(steps=2), eval_data=_nan_digits(),
                                                     progress=False, device="cpu"), ValueError,
     "eval_data .* not finite numbers"),
    # the captured step's pieces
    ("DeviceLossScale init=nan", lambda: train.DeviceLossScale(torch.device("cpu"), init=nan), ValueError,
     "init must be a finite number; got nan"),
    ("DeviceLossScale init=0", lambda: train.DeviceLossScale(torch.device("cpu"), init=0.0), ValueError,
     "init must be > 0; got 0"),
    ("DeviceLossScale interval=0", lambda: train.DeviceLossScale(torch.device("cpu"), interval=0), ValueError,
     "interval must be an integer >= 1"),
    ("CapturedStep precision='fp8'", lambda: train.CapturedStep(_net(), TrainConfig(steps=5), torch.device("cpu"),
                                                                "fp8", torch.zeros(2, 1, 8, 8),
                                                                torch.zeros(2, dtype=torch.long)), ValueError,
     "precision must be one of 'fp32', 'bf16', 'fp16'; got 'fp8'"),
    # "model must be …" through _checks.module, one wording everywhere
    ("fit model=class", lambda: train.fit(nets.CifarResNet, _digits(), TrainConfig(steps=2)), TypeError,
     r"model must be an nn.Module instance; got the class CifarResNet \(call it"),
    ("fit model='resnet'", lambda: train.fit("resnet", _digits(), TrainConfig(steps=2)), TypeError,
     r"model must be an nn.Module; got 'resnet' \(str\)"),
    ("evaluate model=None", lambda: train.evaluate(None, _digits()), TypeError, "model must be an nn.Module; got None"),
    ("evaluate empty data", lambda: train.evaluate(_net(), data.ImageData(torch.zeros(0, 1, 8, 8), torch.zeros(
        0, dtype=torch.long), "empty", ("a",))), ValueError, r"data \(empty\) holds no images"),
]


@pytest.mark.parametrize("call,error,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_answered_in_one_sentence(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_schedule_ends_at_its_last_value_never_below_zero():
    for name in ("constant", "step", "cosine", "linear", "onecycle"):
        config = TrainConfig(steps=10, schedule=name, warmup=0.3 if name != "constant" else 0.0)
        assert all(config.lr_factor(s, 10) >= 0 for s in range(11)), name
    assert TrainConfig(steps=8, schedule="linear").lr_factor(8, 8) == 0


CLI_CASES = [
    (["--epochs", "0"], "argument --epochs: it must be >= 1; got 0"),
    (["--steps", "-3"], "argument --steps: it must be >= 1; got -3"),
    (["--steps", "ten"], "argument --steps: an integer is needed; got 'ten'"),
    (["--lr", "nan"], "argument --lr: it must be a finite number; got nan"),
    (["--lr", "0"], "argument --lr: it must be > 0; got 0"),
    (["--momentum", "1.5"], "argument --momentum: it must be >= 0 and < 1; got 1.5"),
    (["--warmup", "-0.1"], "argument --warmup: it must be >= 0 and < 1"),
    (["--weight-decay", "inf"], "argument --weight-decay: it must be a finite number"),
    (["--depth", "21"], "argument --depth: depth must be 6n\\+2"),
    (["--batch-size", "0"], "argument --batch-size: it must be >= 1; got 0"),
    (["--eval-every", "-1"], "argument --eval-every: it must be >= 0; got -1"),
    (["--seed", "-1"], "argument --seed: it must be >= 0; got -1"),
    (["--width", "0"], "argument --width: it must be >= 1; got 0"),
    (["--image-size", "16"], "--image-size applies to --dataset digits only"),
    (["--dataset", "digits", "--data", "/tmp"], "--data applies to --dataset cifar10 only"),
    (["--dataset", "digits", "--no-augment"], "--no-augment applies to --dataset cifar10 only"),
    (["--dataset", "digits", "--download"], "--download applies to --dataset cifar10 only"),
    (["--data", "/nonexistent/cifar-typo"], "CIFAR-10 is not in"),
    (["--dataset", "digits", "--save", ""], "--save needs a file name"),
    (["--dataset", "digits", "--save", "/no/such/folder/w.pt"], "the folder /no/such/folder does not exist"),
    (["--dataset", "digits", "--optimizer", "adam", "--nesterov"], "nesterov=True needs optimizer='sgd'"),
]


@pytest.mark.parametrize("argv,message", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_the_cli_answers_bad_values_with_usage_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("usage: python -m resnet_edu.train"), err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("python -m resnet_edu.train: error: ")
    assert re.search(message, last), last


def test_save_refuses_an_existing_file_unless_overwrite(tmp_path, capsys):
    target = tmp_path / "w.pt"
    target.write_bytes(b"keep me")
    argv = ["--dataset", "digits", "--depth", "8", "--width", "4", "--steps", "2", "--batch-size", "32", "--device",
            "cpu", "--quiet", "--save", str(target)]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and "the file exists; add --overwrite" in capsys.readouterr().err
    assert target.read_bytes() == b"keep me"
    folder = tmp_path / "sub"
    folder.mkdir()
    with pytest.raises(SystemExit):
        main(argv[:-1] + [str(folder)])
    assert "is a folder" in capsys.readouterr().err
    assert main(argv + ["--overwrite"]) == 0
    assert set(torch.load(target)["model"]) == set(_net().state_dict())  # a run checkpoint (issue 34)


def test_process_group_gets_device_and_timeout(monkeypatch):
    """init_process_group had neither: NCCL guessed the GPU and a crashed rank left the others waiting 10 minutes."""
    calls = []
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda *a, **k: calls.append((a, k)))
    train.distributed.init(torch.device("cuda", 1))
    train.distributed.init(torch.device("cpu"))
    (nccl, kw), (gloo, kw_cpu) = calls
    assert nccl == ("nccl",) and kw["device_id"] == torch.device("cuda", 1)
    assert gloo == ("gloo",) and kw["timeout"].total_seconds() == kw_cpu["timeout"].total_seconds() <= 120


def test_local_device_gives_each_rank_its_own_gpu(monkeypatch):
    """Under torchrun a bare "cuda" was every rank's GPU 0; now it is cuda:LOCAL_RANK (a fake 4-GPU machine)."""
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert train.distributed.local_device(torch.device("cuda"), rank=6) == torch.device("cuda", 2)
    assert train.distributed.local_device(torch.device("cuda", 2), rank=6) == torch.device("cuda", 2)  # its own
    with pytest.raises(ValueError, match="several ranks would share GPU 0"):  # was taken: every rank on GPU 0
        train.distributed.local_device(torch.device("cuda", 0), rank=6)
    assert train.distributed.local_device(torch.device("cpu"), rank=6) == torch.device("cpu")
    monkeypatch.delenv("LOCAL_RANK")
    assert train.distributed.local_device(torch.device("cuda"), rank=5) == torch.device("cuda", 1)  # 5 % 4
    monkeypatch.setenv("LOCAL_RANK", "4")
    with pytest.raises(ValueError, match="local rank 4, but the machine has 4 CUDA device"):
        train.distributed.local_device(torch.device("cuda"), rank=4)
