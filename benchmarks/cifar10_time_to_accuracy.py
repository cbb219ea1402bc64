"""Time to accuracy on CIFAR-10 (issue 8, item 3): the paper's ResNet-20 and ResNet-56 — architecture exactly He et al.
2015, §4.2 (6n+2 layers, 16/32/64 channels, option-A shortcuts) — trained with a short recipe, with wall time
(capture included) and test accuracy after every epoch, over several seeds.

The recipe (ours, not the paper's 182 epochs): one-cycle learning rate (Smith & Topin 2019: ResNet-56 reaches 92.4 % in
10k iterations instead of 80k), SGD with Nesterov momentum, batch 256 (lr scaled ×2 from the paper's 0.1 at 128),
weight decay 5e-4, label smoothing 0.1 (Szegedy et al. 2016, §7), the paper's crop+flip augmentation, and flip
test-time augmentation. Paper, 182 epochs on the original images: ResNet-20 91.25 %, ResNet-56 93.03 % (Table 6).
Targets on one H100 on the JPEG copy (accuracies there run a little below the original's): ResNet-56 ≥ 92.5 % in
≤ 3 min, ResNet-20 ≥ 90.75 % in ≤ 1.5 min.

    python benchmarks/cifar10_time_to_accuracy.py [--depths 20 56] [--seeds 0 1 2] [--epochs N] [--json out.json]
    python benchmarks/cifar10_time_to_accuracy.py --dry-run     # tiny random data on the CPU: checks that it runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from resnet_edu import data, nets, runtime, train

EPOCHS = {20: 40, 56: 50}  # per depth; --epochs overrides
RECIPE = train.TrainConfig(
    epochs=1, batch_size=256, optimizer="sgd", lr=0.2, momentum=0.9, nesterov=True, weight_decay=5e-4,
    schedule="onecycle", warmup=0.2, augment=True, label_smoothing=0.1, tta_flip=True,
)


def fake(n: int, split: str) -> data.ImageData:
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    return data.ImageData(torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g),
                          f"random CIFAR-shaped ({split})", data.CIFAR10_CLASSES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[20, 56])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help=f"override the epochs per depth {EPOCHS}")
    parser.add_argument("--data", default=None, help="data root (default $RESNET_EDU_DATA)")
    parser.add_argument("--download", action="store_true",
                        help="download CIFAR-10 (170 MB) into the data root when it is not there")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--dry-run", action="store_true", help="tiny random data on the CPU, ResNet-8, 2 epochs")
    args = parser.parse_args()
    if args.dry_run:
        device, depths, seeds = torch.device("cpu"), [8], args.seeds[:1]
        train_data, test_data = fake(128, "train"), fake(64, "test")
        recipe, epochs = RECIPE.replace(batch_size=32), {8: 2}
    else:
        device, depths, seeds = runtime.device(), args.depths, args.seeds
        train_data = data.cifar10(args.data, train=True, download=args.download)
        test_data = data.cifar10(args.data, train=False, download=args.download)
        recipe, epochs = RECIPE, dict(EPOCHS)
    if args.epochs is not None:
        epochs = {d: args.epochs for d in depths}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    figures = {"device": name, "torch": torch.__version__, "runs": []}
    print(f"device {name} · torch {torch.__version__} · {train_data.name} / {test_data.name}")
    for depth in depths:
        config = recipe.replace(epochs=epochs.get(depth, 30), eval_every=len(train_data) // recipe.batch_size)
        print(f"\nResNet-{depth} (He et al. 2015, §4.2, option A) · recipe: {config.describe()}")
        accs, walls = [], []
        for seed in seeds:
            runtime.seed_everything(seed)
            model = nets.cifar_net(depth)
            start = time.perf_counter()
            result = train.fit(model, train_data, config.replace(seed=seed), eval_data=test_data, device=device,
                               label=f"ResNet-{depth} seed {seed}")
            wall = time.perf_counter() - start
            per_epoch = " ".join(f"{e['acc']:.2%}" for e in result.evals)
            print(f"  seed {seed}: test accuracy per epoch {per_epoch}")
            print(f"  seed {seed}: final {result.evals[-1]['acc']:.2%} in {wall:.1f} s wall (capture "
                  f"{result.capture_time:.1f} s, evaluations {result.eval_time:.1f} s, {result.precision}, "
                  f"{'captured graph' if result.fast else 'standard loop'})")
            accs.append(result.evals[-1]["acc"])
            walls.append(wall)
            figures["runs"].append({"depth": depth, "seed": seed, "recipe": config.describe(), "wall_s": wall,
                                    "capture_s": result.capture_time, "eval_s": result.eval_time,
                                    "fast": result.fast, "acc_per_epoch": [e["acc"] for e in result.evals]})
        spread = f" ± {statistics.stdev(accs):.2%}" if len(accs) > 1 else ""
        print(f"ResNet-{depth}: test accuracy {statistics.mean(accs):.2%}{spread} over seeds {seeds}; wall "
              f"{statistics.mean(walls):.1f} s per run (max {max(walls):.1f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
