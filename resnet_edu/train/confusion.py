"""What a trained classifier predicts: :func:`predict` (the class of every image) and :func:`confusion_matrix` (true ×
predicted counts, a :class:`Confusion` with its plot) — training tools every lesson that trains a net may use
(lesson 08 shows them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import _checks
from .. import data as _data
from .run import _autocast


@torch.no_grad()
def predict(model: nn.Module, data: _data.ImageData, batch_size: int = 1000) -> torch.Tensor:
    """Predicted class of every image of ``data`` (eval mode, restored afterwards), as a CPU tensor."""
    _checks.module("model", model)
    data = _data.image_data("data", data)
    batch_size = _checks.integer("batch_size", batch_size, low=1)  # -1 gave no predictions, 0 and 2.5 range()'s error
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    out = []
    try:
        for start in range(0, len(data), batch_size):
            x = data.x[start:start + batch_size].to(dev)
            with _autocast(dev):
                scores = model(x)
            if scores.dim() != 2 or scores.shape[1] != data.num_classes:
                raise ValueError(f"model gives scores of shape {tuple(scores.shape)}, but data ({data.name}) has "
                                 f"{data.num_classes} classes: the net must output one score per class, (N, "
                                 f"{data.num_classes}); build it with num_classes={data.num_classes}")
            out.append(scores.argmax(1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


@dataclass
class Confusion:
    """``matrix[i, j]``: how many test images of true class i were predicted as class j."""

    matrix: np.ndarray
    classes: tuple[str, ...]
    label: str = ""

    def __post_init__(self) -> None:
        matrix = np.asarray(self.matrix)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
            raise ValueError(f"matrix must be a square table of counts with a row and a column per class (at least "
                             f"2); got shape {matrix.shape}")
        if not np.issubdtype(matrix.dtype, np.integer) or (matrix < 0).any():
            raise ValueError(f"matrix must hold counts (non-negative integers); got {matrix.dtype} values from "
                             f"{matrix.min()} to {matrix.max()}")
        if matrix.sum() == 0:
            raise ValueError("matrix counts no image at all (every entry is 0), so there is no accuracy to show; "
                             "make it from data with at least one image")
        classes = _checks.sequence("classes", self.classes, unique=True)
        if len(classes) != len(matrix):
            raise ValueError(f"classes must name each row of the matrix: {len(matrix)} rows but {len(classes)} "
                             f"names")
        self.matrix, self.classes = matrix, tuple(str(c) for c in classes)

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.matrix) / self.matrix.sum())

    def most_confused(self) -> tuple[str, str, int]:
        """The (true, predicted) pair of different classes that is mistaken most often, and its count."""
        off = self.matrix.copy()
        np.fill_diagonal(off, -1)
        i, j = np.unravel_index(int(np.argmax(off)), off.shape)
        return self.classes[i], self.classes[j], int(self.matrix[i, j])

    def plot(self, ax=None):  # noqa: ANN001, ANN201 (matplotlib Axes)
        """The matrix as an image, counts written in the cells, rows normalised to colour."""
        from ..viz import axes

        ax = axes(ax, figsize=(6, 5.2))
        rows = self.matrix / np.maximum(self.matrix.sum(1, keepdims=True), 1)
        ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
        k = len(self.classes)
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(self.matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if rows[i, j] > 0.5 else "black")
        ax.set_xticks(range(k), self.classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), self.classes, fontsize=8)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(f"Confusion matrix{': ' + self.label if self.label else ''} (accuracy {self.accuracy:.1%})")
        return ax


def confusion_matrix(model: nn.Module, data: _data.ImageData, label: str = "") -> Confusion:
    """Count true × predicted classes of ``model`` on ``data`` (lesson 08). The net must give one score per class of
    ``data`` (a net with more outputs would put predictions outside the table)."""
    predicted = predict(model, data)
    k = data.num_classes
    matrix = torch.bincount(data.y.cpu() * k + predicted, minlength=k * k).view(k, k).numpy()
    return Confusion(matrix, data.classes, label)
