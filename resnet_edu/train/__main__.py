"""``python -m resnet_edu.train``: the lessons' trainer from the shell, also under ``torchrun`` (see :func:`main`).

Every value is checked before training starts: a wrong one gets the usage line, one sentence and exit status 2,
never a traceback; ``--save`` never overwrites a file unless ``--overwrite`` says so, and a ``--save`` that could not
be written fails before training starts. ``--arch`` names any net of the block catalogue
(:data:`resnet_edu.zoo.ARCHS`); ``--save`` writes a run checkpoint that ``--resume`` continues exactly."""

from __future__ import annotations

import argparse
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from .. import _checks
from . import checkpoint, distributed
from .config import _LIFT, MAX_STEPS, OPTIMIZERS, SCHEDULES, TrainConfig
from .loop import fit

DATASETS = ("cifar10", "mnist", "fashion-mnist", "digits", "folder")
# (channels, classes) of each dataset whose shape is known without reading it (what --list-archs counts for)
_SHAPES = {"cifar10": (3, 10), "mnist": (1, 10), "fashion-mnist": (1, 10), "digits": (1, 10)}
# the arguments that do not change what a run computes: they may differ between a run and its --resume
_FREE = ("data", "download", "device", "log_dir", "save", "overwrite", "quiet", "resume", "stop_after",
         "list_archs", "eval_every")
_FLOAT32_MAX = float(torch.finfo(torch.float32).max)  # the optimizer computes in float32: a larger lr overflows

EXAMPLES = """examples:
  ResNet-18 (CIFAR stem) on CIFAR-10, saved to continue later:
    python -m resnet_edu.train --arch resnet18_cifar --dataset cifar10 --epochs 30 --schedule onecycle \\
        --batch-size 512 --lr 0.2 --weight-decay 5e-4 --save r18.pt --log-dir runs/r18
  ResNet-20 on MNIST (28x28 digits padded to 32x32):
    python -m resnet_edu.train --arch resnet20 --dataset mnist --download --epochs 2
  your own images, root/{train,test}/<class>/*.png, resized to 32x32:
    python -m resnet_edu.train --arch resnet18_cifar --dataset folder --data ~/pets --image-size 32 --epochs 10
  continue a stopped run (same arguments, plus --resume; --stop-after N stops one at step N):
    python -m resnet_edu.train --arch resnet20 --dataset mnist --epochs 2 --resume r20.pt --save r20b.pt
  every net and its parameter count for the data:  python -m resnet_edu.train --list-archs --dataset mnist
"""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m resnet_edu.train --arch resnet18_cifar --dataset cifar10 --epochs 30``: train any net of the
    collection (the CIFAR ResNets of He et al. 2015, §4.2 and the block catalogue's) with :func:`fit` from the shell.
    Under ``torchrun --nproc_per_node N`` every process trains its shard with DistributedDataParallel (NCCL on GPUs,
    gloo on CPUs) and the command checks that all ranks end with identical weights."""
    from .. import zoo

    parser = _parser()
    args = parser.parse_args(argv)
    rank, world = _torchrun_environment(parser)
    _check_flags(parser, args, world)
    if args.list_archs:
        return _list_archs(parser, args)
    saved = _resumed(parser, args, world) if args.resume is not None else None
    arch = None if args.arch is None else zoo.arch(args.arch)
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
        train_data, test_data, note = _load(parser, args, arch)
        if args.batch_size > len(train_data):  # was a traceback from DeviceLoader, after the model was built
            parser.error(f"--batch-size {args.batch_size} is larger than the training set ({len(train_data):,} "
                         f"images of {train_data.name}); give at most {len(train_data)}")
        if saved is not None:
            _check_same_data(parser, args, saved, train_data)
        try:
            torch.manual_seed(args.seed)  # the same initial weights on every rank (DDP broadcasts rank 0's anyway)
            model = _build(args, arch, train_data)
            if saved is not None:
                model.load_state_dict(saved["model"])
        except (TypeError, ValueError, RuntimeError) as err:
            parser.error(str(err).splitlines()[0])
        name = arch.name if arch is not None else f"{'plain' if args.plain else 'ResNet'}-{args.depth or 20}"
        say(f"{name} on {train_data.name}, {config.describe()}, device {dev}"
            + (f", {world} processes (DistributedDataParallel)" if world > 1 else ""))
        if note:
            say(f"data: {note}")
        state = None
        if args.save is not None or saved is not None:
            state = checkpoint.TrainState(saved, args.stop_after)
            if saved is not None:
                say(f"resuming {args.resume} at step {saved['step']:,} of {saved['total']:,}")
        result = fit(model, train_data, config, eval_data=test_data, progress=not args.quiet and rank == 0,
                     device=dev, label=name, log_dir=args.log_dir, state=state)
        final = result.evals[-1] if result.evals else {"acc": float("nan")}
        images = result.steps * config.batch_size
        say(f"{result.steps} steps in {result.wall_time:.1f} s ({result.precision}, "
            + (f"captured CUDA graph, capture {result.capture_time:.1f} s" if result.fast else "standard loop")
            + f", {images / max(result.wall_time, 1e-9):,.0f} img/s); final training loss "
            + f"{result.final_loss(10):.4f}; test accuracy {final['acc']:.2%}")
        if world > 1:
            same, gap = distributed.weights_agree(model)
            say(f"{world} ranks: weights identical on every rank: {same} (max |difference| {gap:g})")
        if args.save is not None and ("{rank}" in args.save or rank == 0):
            about = {"arguments": _arguments(args), "data": _data_about(train_data), "world": world}
            path = checkpoint.save_run(_save_path(args.save, rank), model, state, about, args.overwrite)
            stopped = state.step < state.total
            say(f"saved the run at step {state.step:,} of {state.total:,} to {path}"
                + (f" (continue it with --resume {path})" if stopped else ""))
        return 0 if not result.diverged else 1
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


def _torchrun_environment(parser: argparse.ArgumentParser) -> tuple[int, int]:
    """(rank, world size) from torchrun's RANK and WORLD_SIZE: both unset is one process; one of them alone (left
    over in a shell), a world of 0 or a rank outside it is refused — never trained as a rank whose files no one
    writes."""
    env = {name: os.environ.get(name) for name in ("RANK", "WORLD_SIZE")}
    if all(value is None for value in env.values()):
        return 0, 1
    if any(value is None for value in env.values()):
        given, missing = sorted(env, key=lambda name: env[name] is None)
        parser.error(f"{given}={env[given]} is set but {missing} is not: a half-set torchrun environment "
                     f"(left over from another run?). Start the command with torchrun --nproc_per_node N, or unset "
                     f"{given} to train as one process")
    values = {}
    for name, text in env.items():
        try:
            values[name] = int(text)
        except ValueError:
            parser.error(f"{name} must be a whole number (torchrun sets it); got {text!r}")
    if values["WORLD_SIZE"] < 1:
        parser.error(f"WORLD_SIZE must be >= 1 (the number of processes; torchrun sets it); got {values['WORLD_SIZE']}")
    if not 0 <= values["RANK"] < values["WORLD_SIZE"]:
        parser.error(f"RANK must lie in 0..{values['WORLD_SIZE'] - 1} for WORLD_SIZE={values['WORLD_SIZE']}; got "
                     f"{values['RANK']}")
    return values["RANK"], values["WORLD_SIZE"]


def _save_path(pattern: str, rank: int) -> Path:
    return Path(pattern.replace("{rank}", str(rank))).expanduser()


def _check_flags(parser: argparse.ArgumentParser, args: argparse.Namespace, world: int) -> None:
    """Refuse, before anything runs, flags that do not apply to the chosen data or arch and a ``--save`` that would
    fail or overwrite. Every process checks every rank's file, so that all of them stop (or go on) together."""
    ds = args.dataset
    if args.arch is not None:
        given = [flag for flag, value in (("--depth", args.depth), ("--width", args.width),
                                          ("--plain", args.plain or None)) if value is not None]
        if given:
            parser.error(f"{given[0]} builds the CIFAR ResNet without --arch; --arch {args.arch} fixes the net "
                         f"(for a plain net use --arch plain20, for another depth --arch resnet56)")
    if args.image_size is not None and ds not in ("digits", "folder"):
        why = "CIFAR-10 images are 32x32" if ds == "cifar10" else "its 28x28 images are padded to 32x32"
        parser.error(f"--image-size applies to --dataset digits only, and folder ({why})")
    if ds == "folder" and args.data is None:
        parser.error("--dataset folder needs --data ROOT, the folder that holds train/<class>/* and test/<class>/*")
    if ds == "digits" and args.data is not None:
        parser.error("--data applies to --dataset cifar10 only, and mnist, fashion-mnist, folder (the digits come "
                     "with scikit-learn)")
    if ds != "cifar10" and args.no_augment:
        parser.error(f"--no-augment applies to --dataset cifar10 only (the {ds} images are never augmented)")
    if ds in ("digits", "folder") and args.download:
        parser.error(f"--download applies to --dataset cifar10 only, and mnist, fashion-mnist (the {ds} images "
                     "cannot be downloaded)")
    if args.overwrite and args.save is None:
        parser.error("--overwrite applies to --save only (it lets --save replace a file); add --save FILE or drop it")
    if args.stop_after is not None and args.save is None:
        parser.error("--stop-after needs --save FILE, or the stopped run would be lost")
    if world > 1 and (args.resume is not None or args.stop_after is not None):
        parser.error("--resume and --stop-after run in one process only (a checkpoint holds one rank's batch order)")
    if args.log_dir is not None:
        if not args.log_dir.strip():
            parser.error("--log-dir needs a folder name, e.g. --log-dir runs/r20; got an empty one")
        if Path(args.log_dir).expanduser().is_file():
            parser.error(f"--log-dir {args.log_dir} is a file; give a folder for the TensorBoard logs")
    if args.save is None:
        return
    if not args.save.strip():
        parser.error("--save needs a file name, e.g. --save resnet20.pt; got an empty one")
    for r in range(world) if "{rank}" in args.save else [0]:
        _check_writable(parser, _save_path(args.save, r), args.overwrite)


def _check_writable(parser: argparse.ArgumentParser, path: Path, overwrite: bool) -> None:
    """``--save path`` will be written after training: refuse now what would fail then (a folder, a missing or
    unwritable folder, an existing file without --overwrite, a read-only file, a name too long)."""
    if path.is_dir():
        parser.error(f"--save {path} is a folder; give a file name inside it, e.g. {path / 'weights.pt'}")
    if not path.parent.is_dir():
        parser.error(f"--save {path}: the folder {path.parent} does not exist; create it first (mkdir -p "
                     f"{path.parent}) so that the weights are not lost after training")
    if path.exists() and not overwrite:
        parser.error(f"--save {path}: the file exists; add --overwrite to replace it, or choose another name")
    if path.exists() and not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        parser.error(f"--save {path}: the file is read-only; make it writable (chmod u+w {path}) or choose another "
                     "name")
    try:
        checkpoint.save_path(path, overwrite=True)  # a name longer than the file system takes
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".resnet_edu-save-check-"):
            pass  # the folder takes a new file: the checkpoint is written beside and renamed, like this one
    except (OSError, ValueError) as err:
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        parser.error(f"--save {path}: the folder {path.parent} cannot be written ({why}); choose a folder you can "
                     "write to, so that the weights are not lost after training")


def _number(kind: type, low: float | None = None, high: float | None = None, high_open: bool = False,
            low_open: bool = False, ceiling: float | None = None) -> Callable[[str], float]:
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
        if ceiling is not None and value > ceiling:  # the largest float32: the optimizer computes in float32
            raise argparse.ArgumentTypeError(f"it must be at most {ceiling:.6g} (the largest float32, what the "
                                             f"optimizer computes in); got {text}")
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


def _steps(text: str) -> int:
    """--steps: at least 1, at most :data:`~resnet_edu.train.config.MAX_STEPS` (10**9 is a typo, said now)."""
    value = _number(int, low=1)(text)
    try:
        return _checks.integer("steps", value, high=MAX_STEPS, lift=_LIFT["MAX_STEPS"])
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _arch(text: str) -> str:
    from .. import zoo

    if text not in zoo.ARCHS:
        close = [name for name in zoo.ARCHS if name.startswith(text.rstrip("0123456789_")[:5])] or list(zoo.ARCHS)
        raise argparse.ArgumentTypeError(f"unknown arch {text!r}; --list-archs lists all {len(zoo.ARCHS)} (e.g. "
                                         f"{', '.join(close[:6])})")
    return text


def _parser() -> argparse.ArgumentParser:
    positive, count = _number(int, low=1), _number(int, low=0)
    fraction = _number(float, low=0, high=1, high_open=True)
    p = argparse.ArgumentParser(prog="python -m resnet_edu.train", description=main.__doc__.split("\n\n")[0],
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", type=_arch, default=None, help="a net of the collection by name, e.g. resnet20, "
                   "preact_resnet56, resnet18_cifar, small_se, convnext_tiny (--list-archs lists them)")
    p.add_argument("--list-archs", action="store_true", help="print every --arch with its parameter count for "
                   "--dataset, and stop")
    p.add_argument("--depth", type=_depth, default=None, help="without --arch: 6n+2: 20, 32, 44, 56, 110 "
                   "(default 20)")
    p.add_argument("--plain", action="store_true", help="without --arch: the plain twin, without shortcuts")
    p.add_argument("--width", type=positive, default=None, help="without --arch: channels of the first stage "
                   "(paper: 16)")
    p.add_argument("--dataset", choices=DATASETS, default="cifar10")
    p.add_argument("--data", default=None, help="cifar10, mnist, fashion-mnist: the data root (default: "
                   "$RESNET_EDU_DATA or ~/.cache/resnet_edu); folder: the folder with train/ and test/")
    p.add_argument("--download", action="store_true", help="cifar10 (170 MB), mnist, fashion-mnist (30 MB): download "
                   "it into the data root when it is missing (default: say where to put it and stop)")
    p.add_argument("--image-size", type=_number(int, low=1, high=1024), default=None,
                   help="digits (default 8, or the arch's smallest) and folder (default: as stored): resize to this")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=positive, default=None, help="passes over the data (default 1)")
    length.add_argument("--steps", type=_steps, default=None,
                        help="optimizer steps instead of epochs")
    p.add_argument("--batch-size", type=positive, default=128, help="global batch (split among torchrun processes)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    p.add_argument("--lr", type=_number(float, low=0, low_open=True, ceiling=_FLOAT32_MAX), default=None,
                   help="default 0.1 (SGD) or 1e-3 (Adam)")
    p.add_argument("--momentum", type=fraction, default=0.9)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--weight-decay", type=_number(float, low=0, ceiling=_FLOAT32_MAX), default=1e-4,
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
    p.add_argument("--save", default=None, help="save the run (weights, optimizer, schedule, batch order, random "
                   "state, arguments) to this new file ({rank} in the name: one file per rank)")
    p.add_argument("--overwrite", action="store_true", help="let --save replace an existing file")
    p.add_argument("--resume", default=None, help="continue the run saved in this file (the same arguments)")
    p.add_argument("--stop-after", type=positive, default=None, help="stop after this many steps of the whole "
                   "schedule and save the run (with --save), to continue it later with --resume")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _list_archs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Every --arch with its parameter count for the chosen data (counted on the meta device: nothing allocated)."""
    from .. import zoo

    if args.dataset in _SHAPES:
        (channels, classes), what = _SHAPES[args.dataset], args.dataset
    else:
        train, _, _ = _load(parser, args, None, test=False)
        channels, classes, what = train.in_channels, train.num_classes, train.name
    print(f"--arch for {what} ({channels} channel(s), {classes} classes): parameters, source")
    for a in zoo.ARCHS.values():
        grey = " (grey images repeated to 3 channels)" if a.rgb_only and channels != 3 else ""
        print(f"  {a.name:<18} {zoo.count_parameters_of(a, channels, classes):>12,}  {a.paper}{grey}")
    return 0


def _load(parser: argparse.ArgumentParser, args: argparse.Namespace, arch: object, test: bool = True) -> tuple:
    """(train, test, note): the data, grey and size made to fit the arch; ``note`` says once what was done."""
    from .. import data as _data

    ds, notes = args.dataset, []
    smallest = 8 if arch is None else arch.min_size
    try:
        if ds == "cifar10":
            splits = [_data.cifar10(root=args.data, train=t, download=args.download)
                      for t in (True, False)[: 1 + test]]
        elif ds in ("mnist", "fashion-mnist"):
            load = _data.mnist if ds == "mnist" else _data.fashion_mnist
            splits = [load(args.data, train=t, download=args.download) for t in (True, False)[: 1 + test]]
        elif ds == "digits":
            size = args.image_size or max(8, smallest)
            if args.image_size is None and size != 8:
                notes.append(f"the 8x8 digits resized to {size}x{size}, the smallest {arch.name} takes")
            splits = [_data.digits(size, train=t) for t in (True, False)[: 1 + test]]
        else:
            splits = [_data.image_folder(args.data, train=t, size=args.image_size) for t in (True, False)[: 1 + test]]
    except (TypeError, ValueError, _data.DatasetUnavailable) as err:
        parser.error(str(err))
    size = splits[0].x.shape[-1]
    if ds in ("mnist", "fashion-mnist"):
        # the background (0 before standardising) is each image's darkest value: pad with it to 32x32
        background = float(splits[0].x.amin())
        splits = [_data.ImageData(torch.nn.functional.pad(d.x, (2, 2, 2, 2), value=background), d.y, d.name,
                                  d.classes) for d in splits]
        notes.append(f"the {size}x{size} images padded to 32x32 with their background (the CIFAR nets' size)")
        size = 32
    if size < smallest or splits[0].x.shape[-2] < smallest:
        parser.error(f"{args.arch} takes images of at least {smallest}x{smallest} (its stride-2 steps); these are "
                     f"{splits[0].x.shape[-1]}x{splits[0].x.shape[-2]}: add --image-size {smallest} or choose "
                     "another --arch")
    if arch is not None and arch.rgb_only and splits[0].in_channels == 1:
        splits = [_data.ImageData(d.x.repeat(1, 3, 1, 1), d.y, d.name, d.classes) for d in splits]
        notes.append(f"grey images repeated to 3 channels ({arch.name}'s stem takes RGB)")
    elif splits[0].in_channels == 1:
        notes.append("grey images, 1 channel (the net's first convolution is built for it)")
    return splits[0], (splits[1] if test else None), "; ".join(notes)


def _build(args: argparse.Namespace, arch: object, data: object) -> torch.nn.Module:
    from .. import nets as _nets

    if arch is not None:
        return arch.build(3 if arch.rgb_only else data.in_channels, data.num_classes)
    return _nets.cifar_net(args.depth or 20, residual=not args.plain, width=args.width or 16,
                           in_channels=data.in_channels, num_classes=data.num_classes)


def _arguments(args: argparse.Namespace) -> dict:
    return {k: v for k, v in sorted(vars(args).items()) if k not in _FREE}


def _data_about(data: object) -> dict:
    return {"name": data.name, "images": len(data), "shape": list(data.x.shape[1:]), "classes": list(data.classes)}


def _resumed(parser: argparse.ArgumentParser, args: argparse.Namespace, world: int) -> dict:
    """The checkpoint ``--resume`` names, refused with a sentence when it is of another run (arch, data, recipe)."""
    try:
        saved = checkpoint.load_run(args.resume)
    except (TypeError, ValueError, FileNotFoundError) as err:
        parser.error(f"--resume: {err}")
    then, now = saved["about"]["arguments"], _arguments(args)
    for key in sorted(set(then) | set(now)):
        if then.get(key) != now.get(key):
            flag = "--" + key.replace("_", "-")
            parser.error(f"--resume {args.resume} is a checkpoint of another run: it trained with {flag} "
                         f"{then.get(key)}, this command says {flag} {now.get(key)}. Give the arguments it was "
                         "started with (a resumed run continues exactly that run), or start a new run without "
                         "--resume")
    if saved["step"] >= saved["total"]:
        parser.error(f"--resume {args.resume}: that run is complete ({saved['total']:,} of {saved['total']:,} "
                     "steps); there is nothing to continue")
    if args.stop_after is not None and args.stop_after <= saved["step"]:
        parser.error(f"--stop-after {args.stop_after}: the run resumes at step {saved['step']:,}; give a later step")
    return saved


def _check_same_data(parser: argparse.ArgumentParser, args: argparse.Namespace, saved: dict, data: object) -> None:
    then, now = saved["about"]["data"], _data_about(data)
    if then != now:
        key = next(k for k in then if then[k] != now.get(k))
        parser.error(f"--resume {args.resume} trained on other data: its {key} was {then[key]}, this data's is "
                     f"{now.get(key)}; resume on the data it started with")


if __name__ == "__main__":
    raise SystemExit(main())
