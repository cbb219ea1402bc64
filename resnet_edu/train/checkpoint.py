"""Checkpoints: a CIFAR net saved as its ``state_dict`` plus the numbers that rebuild it, reloaded with
``torch.load(..., weights_only=True)`` (no pickled code is executed).

* :func:`save_checkpoint` / :func:`load_checkpoint` — a CIFAR net and the numbers that rebuild it (lesson 08);
* :func:`save_path` — the checks a path to be written gets before anything is computed: ``~`` expanded, a folder
  (or a path ending in ``/``) refused, an existing file kept unless ``overwrite=True``, a name too long for the
  file system refused;
* :func:`write_then_rename` — the step every file written here goes through: written beside its path under a
  ``.partial`` name and renamed into place in one step, so a reader never sees half a file and an interrupted write
  leaves the old one intact.

A checkpoint stores the numbers that rebuild the net (:data:`SHAPE_KEYS`); :func:`save_checkpoint` refuses a net
that they cannot rebuild (a lesioned net, a swapped layer), so no file is written that only fails on reload.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .. import _checks
from .. import nets as _nets
from .. import runtime as _runtime

SHAPE_KEYS = ("depth", "residual", "width", "in_channels", "num_classes", "projection", "batch_norm")
_OLD_SHAPE_KEYS = SHAPE_KEYS[:5]  # checkpoints written before issue 32: option-A shortcuts and BatchNorm
_FIX = "Delete it and save the net again with resnet_edu.train.save_checkpoint(model, path)."
_NAME_MAX = 255  # bytes in one file name on ext4, XFS, APFS, NTFS; os.pathconf says where it can


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system under ``folder`` (or its nearest existing parent) takes."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            try:
                return int(os.pathconf(parent, "PC_NAME_MAX"))
            except (AttributeError, OSError, ValueError):  # Windows has no pathconf
                return _NAME_MAX
    return _NAME_MAX


def save_path(path: object, overwrite: bool = False, example: str = "model.pt") -> Path:
    """``path`` as the :class:`~pathlib.Path` of a file about to be written, checked before any work is done.

    ``~`` is the home folder; a folder, or a path ending in ``/``, is refused (name the file, e.g.
    ``<folder>/<example>``); a file already there is kept (``FileExistsError``) unless ``overwrite=True``; a file name
    longer than the file system takes is refused by its length.
    """
    _checks.flag("overwrite", overwrite)
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or str(path).strip() == "":
        raise TypeError(f"path must be a file path (a string or pathlib.Path); got {path!r}")
    text = os.fspath(path)
    folder_like = text.endswith(("/", os.sep) + ((os.altsep,) if os.altsep else ()))
    path = Path(text).expanduser()  # "~/c.pt" is in the home folder, not in a new folder named "~"
    longest = _name_max(path.parent)
    if not folder_like and len(os.fsencode(path.name)) > longest:  # before any stat(): it would fail on the name
        raise ValueError(f"the file name {path.name[:40]}… is {len(os.fsencode(path.name))} bytes long; this file "
                         f"system takes at most {longest}: choose a shorter name")
    if folder_like or path.is_dir():
        raise IsADirectoryError(f"{text} is a folder; give a file path such as {path / example}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it, or choose another path")
    return path


def _partial(path: Path) -> Path:
    """The name ``path`` is written under before it is renamed into place: ``.<name>.<pid>.partial``, its name cut
    (and a hash of it added) where the whole would be longer than the file system's longest name."""
    tail = f".{os.getpid()}.partial"
    name = f".{path.name}{tail}"
    longest = _name_max(path.parent)
    if len(os.fsencode(name)) > longest:
        digest = hashlib.sha1(os.fsencode(path.name)).hexdigest()[:12]
        keep = os.fsencode(path.name)[: max(0, longest - len(tail) - len(digest) - 2)].decode(errors="ignore")
        name = f".{keep}.{digest}{tail}"
    return path.with_name(name)


def write_then_rename(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(partial)`` on a file beside ``path`` and rename it onto ``path`` in one step (``os.replace``).

    The folder is made if it is missing. If ``write`` raises, the partial file is removed and ``path`` is untouched.
    The partial name is ``.<name>.<pid>.partial``, shortened where that would pass the file system's longest name.
    Returns ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(path)
    try:
        write(partial)
        os.replace(partial, path)  # all at once: an interrupted save never leaves a half-written file behind
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def _shape(model: _nets.CifarResNet) -> dict[str, int | bool | str]:
    """The numbers :func:`resnet_edu.nets.cifar_net` rebuilds ``model`` from (:data:`SHAPE_KEYS`)."""
    return {"depth": int(model.depth), "residual": bool(model.has_shortcuts), "width": model.conv1.out_channels,
            "in_channels": model.conv1.in_channels, "num_classes": model.fc.out_features,
            "projection": model.shortcut_option == "B", "batch_norm": isinstance(model.bn1, nn.BatchNorm2d)}


def _arguments(shape: dict) -> dict:
    """cifar_net's arguments from a checkpoint's numbers (``projection``: option-B shortcuts, a bool)."""
    option = {True: "B", False: "A"}[shape["projection"]] if isinstance(shape["projection"], bool) else None
    return {"depth": shape["depth"], "residual": shape["residual"], "shortcut": option, "width": shape["width"],
            "in_channels": shape["in_channels"], "num_classes": shape["num_classes"], "batch_norm": shape["batch_norm"]}


def _build(shape: dict) -> _nets.CifarResNet:
    return _nets.cifar_net(**_arguments(shape))


def _layout(model: nn.Module) -> list[tuple[str, str]]:
    """Every module of ``model``: its name and what defines it beyond its weights (class, settings, own forward)."""
    return [(name or "the net", f"{type(m).__name__}({m.extra_repr()})" + (" with its own forward" if "forward" in
                                                                             vars(m) else ""))
            for name, m in model.named_modules()]


def _not_rebuilt(model: _nets.CifarResNet, shape: dict) -> str:
    """Where ``model`` differs from the net its numbers rebuild ("" when it does not)."""
    try:
        with _runtime.seeded(0):  # built on the CPU (a meta build is slower), the caller's random stream untouched
            rebuilt = _build(shape)
    except (TypeError, ValueError) as err:
        return f"its numbers do not build a cifar_net ({err})"
    mine, theirs, net = dict(_layout(model)), dict(_layout(rebuilt)), f"cifar_net({_call(shape)})"
    for name, what in mine.items():
        if name not in theirs:
            return f"{name} is {what}, which {net} does not have"
        if what != theirs[name]:
            return f"{name} is {what}, where {net} has {theirs[name]}"
    for name, what in theirs.items():
        if name not in mine:
            return f"{name} ({what}) is missing, which {net} has"
    want = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if want != have:
        key = next(k for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k))
        return f"its weight {key} has shape {have.get(key)}, where cifar_net({_call(shape)}) has {want.get(key)}"
    return ""


def _call(shape: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in _arguments(shape).items())


def save_checkpoint(model: nn.Module, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Save a CIFAR net (:func:`resnet_edu.nets.cifar_net`) as its ``state_dict`` plus the numbers that rebuild it
    (depth, plain or residual, width, channels, classes, projection shortcuts or not, BatchNorm or not): only
    tensors, ints and bools, so :func:`load_checkpoint` can use ``torch.load(..., weights_only=True)``.

    A net those numbers cannot rebuild — a lesioned net, a layer swapped or changed after building — is refused
    here with the first difference, never written to a file that only fails on reload. ``path`` goes through
    :func:`save_path` (``~`` expanded; a folder refused; a file already there kept, ``FileExistsError``, unless
    ``overwrite=True``, which replaces it and says so). The file is written beside ``path`` and renamed into place,
    so a reader never sees half a checkpoint.
    """
    if not isinstance(model, _nets.CifarResNet):
        raise TypeError(f"model must be a CIFAR net from resnet_edu.nets.cifar_net; got {type(model).__name__}")
    path = save_path(path, overwrite)
    shape = _shape(model)
    problem = _not_rebuilt(model, shape)
    if problem:
        raise ValueError(f"this net cannot be saved as a checkpoint: {problem}. A checkpoint holds the weights and "
                         "the numbers that rebuild the net with cifar_net, so a net changed after it was built (a "
                         "lesion, a swapped layer) would not reload. Save the net before changing it, or keep its "
                         "weights with torch.save(model.state_dict(), path).")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    replacing = path.exists()
    write_then_rename(path, lambda partial: torch.save({"shape": shape, "state_dict": state}, partial))
    if replacing:
        print(f"Overwrote the checkpoint at {path} (overwrite=True).")
    return path


def load_checkpoint(path: str | os.PathLike[str], device: torch.device | str | None = None) -> nn.Module:
    """Rebuild the net saved by :func:`save_checkpoint` with ``torch.load(..., weights_only=True)`` (which refuses
    to run pickled code) and return it in eval mode on ``device`` (default: the best available)."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or str(path).strip() == "":
        raise TypeError(f"path must be the path of a checkpoint file (a string or pathlib.Path); got {path!r}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: save one first with save_checkpoint(model, path)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)  # never runs pickled code
    except Exception as err:  # garbage, truncated, or pickled objects weights_only refuses: torch's text advises
        raise ValueError(f"{path} does not read as a checkpoint ({type(err).__name__}): it is damaged, cut short, "
                         f"or not a resnet_edu checkpoint. {_FIX}") from None  # weights_only=False; we never do
    if (not isinstance(saved, dict) or set(saved) != {"shape", "state_dict"} or not isinstance(saved["shape"], dict)
            or set(saved["shape"]) not in (set(SHAPE_KEYS), set(_OLD_SHAPE_KEYS))
            or not isinstance(saved["state_dict"], dict)):
        raise ValueError(f"{path} is not a checkpoint written by resnet_edu.train.save_checkpoint. {_FIX}")
    shape = {"projection": False, "batch_norm": True, **saved["shape"]}  # what checkpoints before issue 32 held
    try:
        model = _build(shape)
        model.load_state_dict(saved["state_dict"])
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path} holds a net that does not rebuild ({type(err).__name__}: "
                         f"{str(err).splitlines()[0]}). {_FIX}") from None
    dev = _runtime.device() if device is None else _checks.device(device)
    model.to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)  # as the trainer left it, so the same kernels run
    return model.eval()


# --------------------------------------------------------------------------------------------------------------
# A whole run, to be continued: ``python -m resnet_edu.train --save run.pt`` / ``--resume run.pt``
# --------------------------------------------------------------------------------------------------------------

RUN_FORMAT = "resnet_edu.train run, version 1"


class TrainState:
    """What continues a run exactly beside its weights: the optimizer, the schedule's position, the loader's batch
    order and random generator, torch's random streams and the step.

    Pass one to :func:`~resnet_edu.train.fit` (``state=``): empty, it records the run (``stop_after`` ends it after
    that many steps of the whole schedule); from :func:`load_run`, it restores all of that before the first step, so
    that a run stopped at step k and resumed ends with the same weights as one that never stopped (bit for bit on
    the CPU). :meth:`snapshot` is what a checkpoint stores.
    """

    def __init__(self, saved: dict | None = None, stop_after: int | None = None) -> None:
        if stop_after is not None:
            _checks.integer("stop_after", stop_after, low=1)
        self.saved, self.stop_after = saved, stop_after
        self.step, self.total = (0 if saved is None else int(saved["step"])), 0
        self._parts: tuple | None = None

    def begin(self, optimizer: torch.optim.Optimizer, scheduler: object, loader: object, run: object) -> int:
        """Bind the loop's optimizer, scheduler and loader; restore a saved run into them. Returns the first step."""
        self._parts, self.total = (optimizer, scheduler, loader), run.total
        if self.saved is None:
            return 0
        optimizer.load_state_dict(self.saved["optimizer"])
        scheduler.load_state_dict(self.saved["scheduler"])
        loader.load_state_dict(self.saved["loader"])
        torch.set_rng_state(self.saved["rng"]["cpu"])
        if self.saved["rng"].get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(self.saved["rng"]["cuda"])
        if getattr(run, "bar", None) is not None:
            run.bar.update(self.step)
        return self.step

    def stop(self, step: int) -> bool:
        """Record that ``step`` steps are done; True when the run stops here (``stop_after``)."""
        self.step = step
        return self.stop_after is not None and step >= self.stop_after

    def snapshot(self) -> dict:
        """The optimizer, scheduler, loader and random states now, and the step (what :func:`save_run` writes)."""
        if self._parts is None:
            raise ValueError("this TrainState was not used by fit yet: there is no run to save")
        optimizer, scheduler, loader = self._parts
        rng = {"cpu": torch.get_rng_state(),
               "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []}
        return {"step": self.step, "total": self.total, "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "loader": loader.state_dict(), "rng": rng}


def save_run(path: str | os.PathLike[str], model: nn.Module, state: TrainState, about: dict,
             overwrite: bool = False) -> Path:
    """Write a run checkpoint: ``model``'s weights, ``state``'s :meth:`~TrainState.snapshot` and ``about`` (the
    arguments and data that define the run: only strings, numbers, bools, None, lists and dicts of them), checked by
    :func:`save_path` and written beside the file, then renamed into place."""
    path = save_path(path, overwrite, example="run.pt")
    payload = {"format": RUN_FORMAT, "about": about, "model": {k: v.detach().cpu() for k, v in
                                                               model.state_dict().items()}, **state.snapshot()}
    return write_then_rename(path, lambda partial: torch.save(payload, partial))


def load_run(path: str | os.PathLike[str]) -> dict:
    """A checkpoint written by :func:`save_run`, read with ``torch.load(..., weights_only=True)``; anything else
    (garbage, a cut-short file, lesson 08's net checkpoint, a bare state_dict) is refused with a sentence."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or str(path).strip() == "":
        raise TypeError(f"path must be the path of a run checkpoint (a string or pathlib.Path); got {path!r}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: write one with python -m resnet_edu.train … --save {path}")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path} does not read as a checkpoint ({type(err).__name__}): it is damaged or cut short; "
                         "resume from another one, or train again") from None
    keys = {"format", "about", "model", "step", "total", "optimizer", "scheduler", "loader", "rng"}
    if not isinstance(saved, dict) or saved.get("format") != RUN_FORMAT or not keys <= set(saved):
        raise ValueError(f"{path} is not a run checkpoint of python -m resnet_edu.train --save (a net saved with "
                         "save_checkpoint loads with load_checkpoint instead)")
    return saved
