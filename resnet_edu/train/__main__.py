"""``python -m resnet_edu.train``: the lessons' trainer from the shell, also under ``torchrun`` (see :func:`main`).

Every value is checked by argparse: a wrong one gets the usage line, one sentence and exit status 2, never a
traceback; ``--save`` never overwrites a file unless ``--overwrite`` says so, and a bad ``--save`` fails before
training starts."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from .. import _checks
from . import distributed
from .config import OPTIMIZERS, SCHEDULES, TrainConfig
from .loop import fit


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m resnet_edu.train --depth 56 --epochs 30 --data DIR``: train a CIFAR ResNet (He et al. 2015,
    §4.2) with :func:`fit` from the shell. Under ``torchrun --nproc_per_node N`` every process trains its shard with
    DistributedDataParallel (NCCL on GPUs, gloo on CPUs) and the command checks that all ranks end with identical
    weights."""
    from .. import data as _data
    from .. import nets as _nets

    parser = _parser()
    args = parser.parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    _check_flags(parser, args, world)
    try:
        if args.device is not None:
            dev = _checks.device(args.device)
        else:
            dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if world > 1:
            dev = distributed.local_device(dev, rank)
        config = TrainConfig(
            steps=args.steps, epochs=None if args.steps is not None else (args.epochs or 1),
            batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
            nesterov=args.nesterov, weight_decay=args.weight_decay, schedule=args.schedule, warmup=args.warmup,
            augment=args.dataset == "cifar10" and not args.no_augment, label_smoothing=args.label_smoothing,
            seed=args.seed, eval_every=args.eval_every, tta_flip=args.tta_flip, fast=not args.no_fast,
        )
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    if world > 1:
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        distributed.init(dev)
    say = print if rank == 0 else (lambda *_a, **_k: None)
    try:
        try:
            if args.dataset == "cifar10":
                train_data, test_data = (_data.cifar10(args.data, train=True, download=args.download),
                                          _data.cifar10(args.data, train=False, download=args.download))
            else:
                size = args.image_size or 8
                train_data, test_data = _data.digits(size, train=True), _data.digits(size, train=False)
            torch.manual_seed(args.seed)  # the same initial weights on every rank (DDP broadcasts rank 0's anyway)
            model = _nets.cifar_net(args.depth, residual=not args.plain, width=args.width,
                                    in_channels=train_data.in_channels, num_classes=train_data.num_classes)
        except (TypeError, ValueError, _data.DatasetUnavailable) as err:
            parser.error(str(err))
        name = f"{'plain' if args.plain else 'ResNet'}-{args.depth}"
        say(f"{name} on {train_data.name}, {config.describe()}, device {dev}"
            + (f", {world} processes (DistributedDataParallel)" if world > 1 else ""))
        result = fit(model, train_data, config, eval_data=test_data, progress=not args.quiet and rank == 0,
                     device=dev, label=name, log_dir=args.log_dir)
        final = result.evals[-1] if result.evals else {"acc": float("nan")}
        say(f"{result.steps} steps in {result.wall_time:.1f} s ({result.precision}, "
            + (f"captured CUDA graph, capture {result.capture_time:.1f} s" if result.fast else "standard loop")
            + f"); final training loss {result.final_loss(10):.4f}; test accuracy {final['acc']:.2%}")
        if world > 1:
            same, gap = distributed.weights_agree(model)
            say(f"{world} ranks: weights identical on every rank: {same} (max |difference| {gap:g})")
        if args.save is not None and ("{rank}" in args.save or rank == 0):
            torch.save(model.state_dict(), _save_path(args.save, rank))
        return 0 if not result.diverged else 1
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


def _save_path(pattern: str, rank: int) -> Path:
    return Path(pattern.replace("{rank}", str(rank))).expanduser()


def _check_flags(parser: argparse.ArgumentParser, args: argparse.Namespace, world: int) -> None:
    """Refuse, before anything runs, flags that do not apply to the chosen data and a ``--save`` that would fail or
    overwrite. Every process checks every rank's file, so that all of them stop (or go on) together."""
    if args.dataset == "cifar10" and args.image_size is not None:
        parser.error("--image-size applies to --dataset digits only (CIFAR-10 images are 32x32)")
    if args.dataset == "digits" and args.data is not None:
        parser.error("--data applies to --dataset cifar10 only (the digits come with scikit-learn)")
    if args.dataset == "digits" and args.no_augment:
        parser.error("--no-augment applies to --dataset cifar10 only (the digits are never augmented)")
    if args.dataset == "digits" and args.download:
        parser.error("--download applies to --dataset cifar10 only (the digits come with scikit-learn)")
    if args.save is None:
        return
    if not args.save.strip():
        parser.error("--save needs a file name, e.g. --save resnet20.pt; got an empty one")
    for r in range(world) if "{rank}" in args.save else [0]:
        path = _save_path(args.save, r)
        if path.is_dir():
            parser.error(f"--save {path} is a folder; give a file name inside it, e.g. {path / 'weights.pt'}")
        if not path.parent.is_dir():
            parser.error(f"--save {path}: the folder {path.parent} does not exist; create it first (mkdir -p "
                         f"{path.parent}) so that the weights are not lost after training")
        if path.exists() and not args.overwrite:
            parser.error(f"--save {path}: the file exists; add --overwrite to replace it, or choose another name")


def _number(kind: type, low: float | None = None, high: float | None = None, high_open: bool = False,
            low_open: bool = False) -> Callable[[str], float]:
    """An argparse type: ``kind`` (int or float) within the bounds, answered in one sentence otherwise."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{'an integer' if kind is int else 'a number'} is needed; got "
                                             f"{text!r}") from None
        try:
            _checks.number("value", value, low=low, high=high, low_inclusive=not low_open,
                           high_inclusive=not high_open)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err).replace("value must", "it must")) from None
        return value
    return parse


def _depth(text: str) -> int:
    from ..nets import check_depth

    value = _number(int, low=1)(text)
    try:
        check_depth(value)
    except (TypeError, ValueError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return int(value)


def _parser() -> argparse.ArgumentParser:
    positive, count = _number(int, low=1), _number(int, low=0)
    fraction = _number(float, low=0, high=1, high_open=True)
    p = argparse.ArgumentParser(prog="python -m resnet_edu.train", description=main.__doc__.split("\n\n")[0])
    p.add_argument("--depth", type=_depth, default=20, help="6n+2: 20, 32, 44, 56, 110 (default 20)")
    p.add_argument("--plain", action="store_true", help="the plain twin, without shortcuts")
    p.add_argument("--width", type=positive, default=16, help="channels of the first stage (paper: 16)")
    p.add_argument("--dataset", choices=("cifar10", "digits"), default="cifar10")
    p.add_argument("--data", default=None, help="cifar10 only: data root (default: $RESNET_EDU_DATA or "
                   "~/.cache/resnet_edu)")
    p.add_argument("--download", action="store_true", help="cifar10 only: download it (170 MB) into the data root "
                   "when it is missing (default: say where to put it and stop)")
    p.add_argument("--image-size", type=positive, default=None, help="digits only: resize to this size (default 8)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=positive, default=None, help="passes over the data (default 1)")
    length.add_argument("--steps", type=positive, default=None, help="optimizer steps instead of epochs")
    p.add_argument("--batch-size", type=positive, default=128, help="global batch (split among torchrun processes)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    p.add_argument("--lr", type=_number(float, low=0, low_open=True), default=None,
                   help="default 0.1 (SGD) or 1e-3 (Adam)")
    p.add_argument("--momentum", type=fraction, default=0.9)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--weight-decay", type=_number(float, low=0), default=1e-4,
                   help="default 1e-4 (He et al. 2015, §4.2)")
    p.add_argument("--schedule", choices=SCHEDULES, default="step")
    p.add_argument("--warmup", type=fraction, default=0.0, help="fraction of the steps")
    p.add_argument("--label-smoothing", type=fraction, default=0.0)
    p.add_argument("--no-augment", action="store_true", help="cifar10 only: no crop+flip augmentation")
    p.add_argument("--tta-flip", action="store_true", help="evaluate on each image and its mirror image")
    p.add_argument("--eval-every", type=count, default=None, help="steps between evaluations (0: only at the end)")
    p.add_argument("--seed", type=count, default=0)
    p.add_argument("--no-fast", action="store_true", help="the standard loop even on a GPU")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda:LOCAL_RANK if available)")
    p.add_argument("--log-dir", default=None, help="TensorBoard log folder")
    p.add_argument("--save", default=None, help="save the weights to this new file ({rank} in the name: one file "
                   "per rank)")
    p.add_argument("--overwrite", action="store_true", help="let --save replace an existing file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


if __name__ == "__main__":
    raise SystemExit(main())
