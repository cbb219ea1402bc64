"""Training throughput on a GPU (issue 8, item 2): the standard PyTorch recipe vs ``fit`` with its fast path off and
on, for ResNet-20 and ResNet-56 (He et al. 2015, §4.2, option A) at batch 128, side by side in one run.

* **standard**: written as a user would — a torchvision-style Dataset of uint8 images (``torchvision.datasets.CIFAR10``
  when its files are there, otherwise the same ``__getitem__`` over the image-folder copy's arrays), PIL
  RandomCrop(32, 4) + RandomHorizontalFlip + ToTensor + Normalize in 4 DataLoader workers, fp32, ``loss.item()``
  every step;
* **fit, fast off**: ``resnet_edu.train.fit`` with ``TrainConfig(fast=False)`` (data and augmentation on the GPU,
  bf16 autocast, channels-last, loss read every 50 steps);
* **fit, fast on**: the same with the whole step captured in a CUDA graph.

ms/step and img/s are steady state (after ``--skip`` steps); "one-off" is what the first ``--skip`` steps cost beyond
steady state (DataLoader workers, cuDNN autotuning, warm-up and capture); "5 epochs" projects 5 × 390 steps plus the
one-off cost. Targets for ResNet-56 on one H100: ≥ 3× the standard recipe's img/s in steady state, ≥ 2× over 5 epochs.

    python benchmarks/gpu_throughput.py [--depths 20 56] [--steps 400] [--json out.json]
    python benchmarks/gpu_throughput.py --dry-run      # tiny fake data on the CPU: checks that the script runs
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from resnet_edu import data, nets, runtime, train

EPOCH_STEPS = 50_000 // 128  # 390 full batches of 128 per CIFAR-10 epoch


class ArrayCIFAR(torch.utils.data.Dataset):
    """What ``torchvision.datasets.CIFAR10`` does per item: uint8 HWC array → PIL image → transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:  # noqa: ANN001
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):  # noqa: ANN204
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def standard_recipe(depth: int, images: np.ndarray, labels: np.ndarray, steps: int, skip: int, batch: int,
                    device: torch.device, workers: int) -> dict:
    """The textbook loop; returns seconds for the first ``skip`` steps and for the ``steps`` after them."""
    import torchvision.transforms as T

    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize(data.CIFAR10_MEAN, data.CIFAR10_STD)])
    loader = torch.utils.data.DataLoader(ArrayCIFAR(images, labels, transform), batch_size=batch, shuffle=True,
                                         num_workers=workers, pin_memory=device.type == "cuda", drop_last=True,
                                         persistent_workers=workers > 0)
    torch.manual_seed(0)
    model = nets.cifar_net(depth).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    model.train()
    marks, step, running = [], 0, 0.0
    start = time.perf_counter()
    while step < skip + steps:
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()  # what most training scripts do: one host sync per step
            step += 1
            if step in (skip, skip + steps):
                marks.append(time.perf_counter() - start)
            if step == skip + steps:
                break
    return {"first": marks[0], "steady": marks[1] - marks[0]}


def fit_run(depth: int, train_data: data.ImageData, steps: int, skip: int, batch: int, device: torch.device,
            fast: bool) -> tuple[dict, train.FitResult]:
    torch.manual_seed(0)
    model = nets.cifar_net(depth, in_channels=train_data.in_channels)
    sync = min(50, skip)
    config = train.TrainConfig(steps=skip + steps, batch_size=batch, lr=0.1, momentum=0.9, weight_decay=1e-4,
                               augment=True, fast=fast, sync_every=sync)
    result = train.fit(model, train_data, config, progress=False, device=device, label=f"ResNet-{depth}")
    (s0, first), (s1, last) = next((s, t) for s, t in result.clock if s >= skip), result.clock[-1]
    return {"first": first * skip / s0, "steady": (last - first) * steps / (s1 - s0)}, result


def row(name: str, timing: dict, steps: int, skip: int, batch: int, capture: float | None = None) -> dict:
    ms = 1000 * timing["steady"] / steps
    one_off = max(0.0, timing["first"] - skip * ms / 1000)
    return {"loop": name, "ms_per_step": ms, "img_per_s": batch * 1000 / ms, "one_off_s": one_off,
            "capture_s": capture, "five_epochs_s": one_off + 5 * EPOCH_STEPS * ms / 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[20, 56])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=400, help="timed steady-state steps")
    parser.add_argument("--skip", type=int, default=100, help="steps before timing starts (multiple of 50)")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers of the standard recipe")
    parser.add_argument("--data", default=None, help="data root (default $RESNET_EDU_DATA)")
    parser.add_argument("--download", action="store_true",
                        help="download CIFAR-10 (170 MB) into the data root when it is not there")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--dry-run", action="store_true", help="tiny random data on the CPU, ResNet-8, a few steps")
    args = parser.parse_args()
    if args.dry_run:
        device, depths, batch, steps, skip, workers = torch.device("cpu"), [8], 16, 6, 3, 0
        rng = np.random.default_rng(0)
        images, labels = rng.integers(0, 256, (96, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 96)
        source = "random uint8 images (dry run)"
    else:
        device, depths, batch, steps, skip, workers = runtime.device(), args.depths, args.batch, args.steps, \
            args.skip, args.workers
        images, labels, source = data.cifar10_arrays(args.data, train=True, download=args.download)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    x = (x - torch.tensor(data.CIFAR10_MEAN).view(1, 3, 1, 1)) / torch.tensor(data.CIFAR10_STD).view(1, 3, 1, 1)
    train_data = data.ImageData(x.contiguous(), torch.from_numpy(np.asarray(labels)).long(), "CIFAR-10 (train)",
                                data.CIFAR10_CLASSES)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {name} · torch {torch.__version__} · data: {source} · batch {batch} · {steps} timed steps "
          f"after {skip}")
    figures = {"device": name, "torch": torch.__version__, "batch": batch, "rows": []}
    for depth in depths:
        std = row("standard (DataLoader, fp32, .item())", standard_recipe(depth, images, labels, steps, skip, batch,
                                                                           device, workers), steps, skip, batch)
        off_t, _ = fit_run(depth, train_data, steps, skip, batch, device, fast=False)
        on_t, on = fit_run(depth, train_data, steps, skip, batch, device, fast=True)
        rows = [std, row("fit, fast off", off_t, steps, skip, batch),
                row("fit, fast on" + ("" if on.fast else " (did not run: standard loop)"), on_t, steps, skip, batch,
                    on.capture_time if on.fast else None)]
        print(f"\nResNet-{depth} ({on.precision} in fit)")
        print(f"{'loop':<44} {'ms/step':>8} {'img/s':>9} {'vs std':>7} {'one-off s':>9} {'capture s':>9} "
              f"{'5 epochs s':>10} {'vs std':>7}")
        for r in rows:
            r.update(depth=depth, ratio=r["img_per_s"] / std["img_per_s"],
                     five_epoch_ratio=std["five_epochs_s"] / r["five_epochs_s"])
            capture = "—" if r["capture_s"] is None else f"{r['capture_s']:.2f}"
            print(f"{r['loop']:<44} {r['ms_per_step']:8.2f} {r['img_per_s']:9,.0f} {r['ratio']:6.2f}× "
                  f"{r['one_off_s']:9.2f} {capture:>9} {r['five_epochs_s']:10.1f} {r['five_epoch_ratio']:6.2f}×")
        figures["rows"] += rows
        if depth == 56 and device.type == "cuda":
            fast = rows[2]
            print(f"targets (ResNet-56, one H100): steady ≥ 3× → {fast['ratio']:.2f}× "
                  f"{'met' if fast['ratio'] >= 3 else 'NOT met'}; 5 epochs incl. one-off ≥ 2× → "
                  f"{fast['five_epoch_ratio']:.2f}× {'met' if fast['five_epoch_ratio'] >= 2 else 'NOT met'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
