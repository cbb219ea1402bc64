"""Lesson 03's figure: the Jacobian heat maps of one residual block. It reads the result of
:func:`resnet_edu.lessons.lesson03_gradient_path.jacobian_check` as it is (``check.jacobian``, …); ``check.plot()``
calls the function here.
"""

from __future__ import annotations

from typing import Any


def plot_jacobian(check: Any):  # noqa: ANN201 (matplotlib Figure)
    """Three heat maps: ∂y/∂x, ∂F/∂x, and their difference (≈ I, the identity path)."""
    import matplotlib.pyplot as plt

    fig, panels = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
    maps = (("∂y/∂x (autograd)", check.jacobian), ("∂F/∂x", check.jacobian_f),
            ("∂y/∂x − D·∂F/∂x  (= D·I)", check.identity_part))
    for ax, (title, m) in zip(panels, maps):
        im = ax.imshow(m.numpy(), cmap="RdBu_r", vmin=-1.5, vmax=1.5)
        ax.set_title(title)
        ax.set_xlabel("input coordinate j")
    panels[0].set_ylabel("output coordinate i")
    fig.colorbar(im, ax=panels, shrink=0.8)
    fig.suptitle(f"Jacobian of one residual block ({check.block})")
    return fig

