"""Each lesson's work per scale: images, ResNet-56-equivalent training images, estimated T4 and H100 minutes.

    .venv/bin/python benchmarks/work.py            # every lesson with a GPU-scale experiment, every scale

A net's images count in proportion to its FLOPs (``resnet_edu.work``): one forward at 32×32 counted by
torch.utils.flop_counter.FlopCounterMode, a training image as 3 forwards, an evaluated image as 1, divided by
ResNet-56's training FLOPs. The minutes divide the ResNet-56-equivalents by an *assumed* ResNet-56 training rate
(printed with its source): no GPU figure has been measured yet; benchmarks/gpu_check.sh measures one.
"""

from __future__ import annotations

import importlib

import resnet_edu as edu

LESSONS = ("lesson01_degradation", "lesson07_variants", "lesson08_train_cifar10", "lesson09_ensembles_paths",
           "lesson10_shattered_landscape", "lesson11_without_batchnorm", "lesson12_transformer_residual_stream")


def works(scale: str) -> list[edu.work.Work]:
    """The :class:`resnet_edu.work.Work` of every lesson above at ``scale``."""
    return [importlib.import_module(f"resnet_edu.lessons.{name}").work(scale) for name in LESSONS]


def main() -> None:
    rates = edu.work.ASSUMED_RATES
    print(f"ResNet-56 forward: {edu.work.resnet56_flops() / 1e6:.1f} MFLOPs per 32x32 image; training = "
          f"{edu.work.TRAIN_FACTOR}x forward; gpu-scale budget {edu.work.GPU_BUDGET / 1e6:.1f} M per lesson")
    for gpu, (rate, source) in rates.items():
        print(f"  {gpu}: {rate:,.0f} ResNet-56 training img/s ({source})")
    print(f"{'lesson':<7}{'scale':<7}{'images':>12}{'RN56-eq':>12}{'T4 min':>9}{'H100 min':>10}  note")
    for scale in edu.runtime.SCALES:
        for w in works(scale):
            flag = " OVER BUDGET" if scale == "gpu" and w.equivalents > edu.work.GPU_BUDGET else ""
            print(f"{w.lesson:<7}{scale:<7}{w.images:>12,}{w.equivalents:>12,.0f}{w.minutes('T4'):>9.1f}"
                  f"{w.minutes('H100'):>10.1f}  {w.note}{flag}")
    print("lessons 00 and 02-06 have no gpu or paper recipe: they run their CPU-sized experiments at every scale")


if __name__ == "__main__":
    main()
