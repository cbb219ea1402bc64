"""Checkpoints: a CIFAR net saved as its ``state_dict`` plus the numbers that rebuild it, reloaded with
``torch.load(..., weights_only=True)`` (no pickled code is executed).

* :func:`save_checkpoint` / :func:`load_checkpoint` — the net (lesson 08, ``python -m resnet_edu.train --save``);
* :func:`write_then_rename` — the step every file written here goes through: written beside its path under a
  ``.partial`` name and renamed into place in one step, so a reader never sees half a file and an interrupted write
  leaves the old one intact.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .. import _checks
from .. import nets as _nets
from .. import runtime as _runtime

_SHAPE_KEYS = ("depth", "residual", "width", "in_channels", "num_classes")
_FIX = "Delete it and save the net again with resnet_edu.train.save_checkpoint(model, path)."


def write_then_rename(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(partial)`` on a file beside ``path`` and rename it onto ``path`` in one step (``os.replace``).

    The folder is made if it is missing. If ``write`` raises, the partial file is removed and ``path`` is untouched.
    Returns ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write(partial)
        os.replace(partial, path)  # all at once: an interrupted save never leaves a half-written file behind
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(model: nn.Module, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Save a CIFAR net (:func:`resnet_edu.nets.cifar_net`) as its ``state_dict`` plus the numbers that rebuild it:
    only tensors, ints and bools, so :func:`load_checkpoint` can use ``torch.load(..., weights_only=True)``.

    A file already at ``path`` is kept (``FileExistsError``) unless ``overwrite=True``, which replaces it and says so.
    The file is written beside ``path`` and renamed into place, so a reader never sees half a checkpoint.
    """
    if not isinstance(model, _nets.CifarResNet):
        raise TypeError(f"model must be a CIFAR net from resnet_edu.nets.cifar_net; got {type(model).__name__}")
    _checks.flag("overwrite", overwrite)
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise TypeError(f"path must be a file path (a string or pathlib.Path); got {path!r}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file path such as {path / 'model.pt'}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it, or choose another path")
    shape = {"depth": model.depth, "residual": bool(model.has_shortcuts), "width": model.conv1.out_channels,
             "in_channels": model.conv1.in_channels, "num_classes": model.fc.out_features}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    replacing = path.exists()
    write_then_rename(path, lambda partial: torch.save({"shape": shape, "state_dict": state}, partial))
    if replacing:
        print(f"Overwrote the checkpoint at {path} (overwrite=True).")
    return path


def load_checkpoint(path: str | os.PathLike[str], device: torch.device | str | None = None) -> nn.Module:
    """Rebuild the net saved by :func:`save_checkpoint` with ``torch.load(..., weights_only=True)`` (which refuses
    to run pickled code) and return it in eval mode on ``device`` (default: the best available)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: save one first with save_checkpoint(model, path)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)  # never runs pickled code
    except Exception as err:  # garbage, truncated, or pickled objects weights_only refuses: torch's text advises
        raise ValueError(f"{path} does not read as a checkpoint ({type(err).__name__}): it is damaged, cut short, "
                         f"or not a resnet_edu checkpoint. {_FIX}") from None  # weights_only=False; we never do
    if (not isinstance(saved, dict) or set(saved) != {"shape", "state_dict"} or not isinstance(saved["shape"], dict)
            or set(saved["shape"]) != set(_SHAPE_KEYS) or not isinstance(saved["state_dict"], dict)):
        raise ValueError(f"{path} is not a checkpoint written by resnet_edu.train.save_checkpoint. {_FIX}")
    shape = saved["shape"]
    try:
        model = _nets.cifar_net(shape["depth"], residual=shape["residual"], width=shape["width"],
                                in_channels=shape["in_channels"], num_classes=shape["num_classes"])
        model.load_state_dict(saved["state_dict"])
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path} holds a net that does not rebuild ({type(err).__name__}: "
                         f"{str(err).splitlines()[0]}). {_FIX}") from None
    dev = _runtime.device() if device is None else _checks.device(device)
    model.to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)  # as the trainer left it, so the same kernels run
    return model.eval()
