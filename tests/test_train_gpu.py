"""The fast CUDA path of resnet_edu.train.fit on a real GPU (skipped without CUDA; ``benchmarks/gpu_check.sh quick``
runs them): the captured step trains like the standard loop, ``after_backward``'s device ops replay every step, fp16
loss scaling works inside the graph, and the fallbacks print one line and still train."""

import pytest
import torch

from resnet_edu import data, nets, train
from resnet_edu.train import TrainConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def digits():
    return data.digits(16, 3), data.digits(16, 3, train=False)


def net(depth=8):
    torch.manual_seed(0)
    return nets.cifar_net(depth, width=8)


CONFIG = TrainConfig(steps=120, batch_size=64, lr=0.05, weight_decay=1e-4, schedule="cosine", augment=True,
                     sync_every=20)


def test_captured_step_trains_like_the_standard_loop(digits, capsys):
    tr, te = digits
    fast = train.fit(net(), tr, CONFIG, eval_data=te, progress=False, device="cuda")
    slow = train.fit(net(), tr, CONFIG.replace(fast=False), eval_data=te, progress=False, device="cuda")
    assert fast.fast and not slow.fast and fast.capture_time > 0 and fast.precision == slow.precision
    assert fast.steps == slow.steps == 120 and [s for s, _ in fast.clock][-1] == 120
    assert "fit:" not in capsys.readouterr().out  # no fallback line
    # same data order and recipe; bf16 rounding and fused vs for-each SGD make the curves differ slightly
    assert abs(fast.final_loss(20) - slow.final_loss(20)) < 0.15 * slow.final_loss(20) + 0.05
    assert fast.final_loss(20) < 0.6 * sum(fast.loss[:10]) / 10
    assert abs(fast.evals[-1]["acc"] - slow.evals[-1]["acc"]) < 0.1


def test_after_backward_device_ops_replay_every_step(digits):
    tr, _ = digits
    model = net()
    calls, count, norm = [], torch.zeros((), device="cuda"), torch.zeros((), device="cuda")

    def record(step):
        calls.append(step)
        count.add_(1)  # a device op: replayed by the graph
        norm.add_(model.fc.weight.grad.norm())

    result = train.fit(model, tr, CONFIG.replace(steps=40), progress=False, device="cuda", after_backward=record)
    assert result.fast
    assert calls == list(range(train.WARMUP_STEPS + 1))  # eager warm-up steps, then once during capture
    assert count.item() == 40 and norm.item() > 0


def test_fp16_loss_scaling_inside_the_graph(digits, monkeypatch):
    tr, _ = digits
    monkeypatch.setattr(train, "precision_for", lambda device, capability=None: "fp16" if device.type == "cuda"
                        else "fp32")
    result = train.fit(net(), tr, CONFIG, progress=False, device="cuda")
    assert result.fast and result.precision == "fp16" and not result.diverged
    assert result.final_loss(20) < 0.6 * sum(result.loss[:10]) / 10


def test_fallbacks_print_one_line_and_train(digits, capsys):
    tr, _ = digits
    adam = train.fit(net(), tr, CONFIG.replace(optimizer="adam", lr=1e-3), progress=False, device="cuda")
    out = capsys.readouterr().out
    assert not adam.fast and adam.steps == 120 and out.count("fit: the fast CUDA-graph step is off here") == 1

    class Syncing(torch.nn.Module):  # reads a value on the host inside forward: cannot be captured
        def __init__(self):
            super().__init__()
            self.body = net()

        def forward(self, x):
            out = self.body(x)
            if out.abs().max().item() > 1e9:
                out = out * 0
            return out

    result = train.fit(Syncing(), tr, CONFIG, progress=False, device="cuda")
    out = capsys.readouterr().out
    assert "fit: the CUDA-graph capture failed" in out and "standard loop" in out
    assert not result.fast and result.steps == 120 and not result.diverged
