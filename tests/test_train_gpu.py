"""The fast CUDA path of resnet_edu.train.fit on a real GPU (skipped without CUDA; ``benchmarks/gpu_check.sh``
runs them): captured replays match eager steps in fp32, ``after_backward``'s device ops replay every step, fp16 loss
scaling works inside the graph (also when the first steps overflow), the fallbacks print one line and still train,
and failed captures leave no GPU memory behind."""

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


def test_captured_step_trains_and_prints_no_fallback(digits, capsys):
    tr, te = digits
    fast = train.fit(net(), tr, CONFIG, eval_data=te, progress=False, device="cuda")
    assert fast.fast and fast.capture_time > 0 and fast.steps == 120 and [s for s, _ in fast.clock][-1] == 120
    assert "fit:" not in capsys.readouterr().out  # no fallback line
    assert fast.final_loss(20) < 0.6 * sum(fast.loss[:10]) / 10
    assert fast.ms_per_step(skip=CONFIG.sync_every) > 0
    # the step clock starts after the capture and its first replay (issue 28): ms_per_step never counts them
    assert fast.clock_from == train.WARMUP_STEPS + 1 and fast.clock[0][0] == fast.clock_from
    assert torch.backends.cudnn.benchmark is False  # fit turned it on for its run only


def _fast_run(tr, capture, steps=20):
    """The fast loop in fp32 on the GPU, captured or every step eager, from the same weights and batches."""
    dev = torch.device("cuda")
    config = CONFIG.replace(steps=steps, augment=False, seed=1)
    model = net().to(dev).to(memory_format=torch.channels_last)
    torch.manual_seed(config.seed)
    loader = data.DeviceLoader(tr, config.batch_size, device=dev, seed=config.seed)
    run = train.run._Run(config, steps, dev, train.FitResult(precision="fp32"), None, model, False, None, 5)
    train.graphed.fast_loop(model, loader, config, run, None, capture=capture)
    run.close()
    return model, run.result


def test_captured_replays_match_eager_steps_in_fp32(digits, monkeypatch):
    """Deterministic (replaces two random bf16 runs compared on accuracy): the same 20 fp32 steps, replayed from
    the graph or run eagerly, end with the same parameters. Tolerance 1e-4 relative + 1e-5 absolute: the same
    kernels run in both; only cuDNN's algorithm choice may differ between eager and captured calls."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    tr, _ = digits
    graphed, g = _fast_run(tr, capture=True)
    eager, e = _fast_run(tr, capture=False)
    assert g.steps == e.steps == 20 and g.capture_time > 0
    for (name, p), q in zip(graphed.named_parameters(), eager.parameters()):
        assert torch.allclose(p, q, rtol=1e-4, atol=1e-5), f"{name}: max |difference| {float((p - q).abs().max()):g}"
    assert g.loss == pytest.approx(e.loss, rel=1e-4, abs=1e-5)


def test_failed_captures_do_not_grow_gpu_memory(digits, capsys):
    """A failed capture frees its graph, its memory pool and the gradients: repeated fits in one notebook keep the
    same GPU memory."""
    import gc

    tr, _ = digits
    used = []
    for _ in range(3):
        result = train.fit(Syncing(), tr, CONFIG.replace(steps=30), progress=False, device="cuda")
        assert not result.fast and "capture failed" in capsys.readouterr().out
        gc.collect()
        torch.cuda.synchronize()
        used.append(torch.cuda.memory_allocated())
    assert used[2] <= used[0] + 2**20, f"GPU memory grew over three fits: {used}"


def test_fp16_overflow_at_the_start_skips_steps_without_corrupting_momentum(digits, monkeypatch):
    """Start the loss scale at 2**24: the first steps overflow in fp16 and are skipped until the scale halves to a
    safe value; momentum starts at zero, so the weights stay finite and training goes on."""
    tr, _ = digits
    monkeypatch.setattr(train.loop, "precision_for", lambda device, capability=None: "fp16" if device.type == "cuda"
                        else "fp32")
    monkeypatch.setattr(train.graphed.DeviceLossScale.__init__, "__defaults__", (2.0**24, 2000))
    model = net()
    result = train.fit(model, tr, CONFIG, progress=False, device="cuda")
    assert result.fast and not result.diverged
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert result.final_loss(20) < 0.6 * sum(result.loss[:10]) / 10


class FailsUnderCapture(torch.nn.Module):  # fine eagerly (no host sync), refuses to be captured
    def __init__(self):
        super().__init__()
        self.body = net()

    def forward(self, x):
        if torch.cuda.is_current_stream_capturing():
            raise RuntimeError("boom under capture")
        return self.body(x)


def test_a_failed_capture_gives_its_memory_back_and_restores_the_stream(digits, capsys):
    """Issue 28: capture_end raised before it ended the allocator's capture, so the graph's private pool was never
    released and empty_cache() could not free it. Now the capture goes into an explicit pool that a failure
    releases; the step's own error is what fit reports; the default stream is current again."""
    import gc

    tr, _ = digits
    reserved = []
    for _ in range(3):  # the first fit also creates cuBLAS/cuDNN workspaces that stay; compare the later ones
        result = train.fit(FailsUnderCapture(), tr, CONFIG.replace(steps=30), progress=False, device="cuda")
        out = capsys.readouterr().out
        assert not result.fast and result.steps == 30 and "boom under capture" in out, out
        assert "operation not permitted" not in out  # capture_end's error is not the one reported
        assert torch.cuda.current_stream() == torch.cuda.default_stream()
        del result
        gc.collect()
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        reserved.append(torch.cuda.memory_reserved())
    assert reserved[2] <= reserved[1] <= reserved[0] + 2**21, f"reserved GPU memory after empty_cache: {reserved}"


def test_a_host_sync_fails_in_the_warm_up_not_in_the_capture(digits, capsys):
    """The warm-up steps run with CUDA's sync-debug mode at "error": Syncing's .item() fails there, eagerly, with
    torch's own sentence, and the mode is restored afterwards."""
    tr, _ = digits
    before = torch.cuda.get_sync_debug_mode()
    result = train.fit(Syncing(), tr, CONFIG.replace(steps=30), progress=False, device="cuda")
    out = capsys.readouterr().out
    assert not result.fast and "capture failed" in out and "synchroniz" in out.lower(), out
    assert torch.cuda.get_sync_debug_mode() == before


def test_fp16_starts_at_a_scale_whose_first_step_is_finite(digits, monkeypatch):
    """Issue 28: a loss scale that overflows at step 0 is halved before any step, so the recorder's row 0 (step 0)
    holds finite norms and nothing is skipped."""
    from resnet_edu.lessons.lesson08_train_cifar10 import GradientRecorder

    tr, _ = digits
    monkeypatch.setattr(train.loop, "precision_for", lambda device, capability=None: "fp16" if device.type == "cuda"
                        else "fp32")
    monkeypatch.setattr(train.graphed.DeviceLossScale.__init__, "__defaults__", (2.0**40, 2000))
    model = net()
    recorder = GradientRecorder(model, 40)
    result = train.fit(model, tr, CONFIG.replace(steps=40), progress=False, device="cuda", after_backward=recorder)
    history = recorder.history()
    assert result.fast and result.precision == "fp16" and history.first_row == 0
    assert torch.isfinite(torch.as_tensor(history.norms)).all()


def test_evaluate_on_the_gpu_matches_the_cpu(digits):
    tr, te = digits
    model = net()
    gpu = train.evaluate(model, te, device="cuda")
    cpu = train.evaluate(model, te, device="cpu")
    assert gpu["acc"] == pytest.approx(cpu["acc"], abs=0.02) and gpu["loss"] == pytest.approx(cpu["loss"], rel=0.02)


class Syncing(torch.nn.Module):  # reads a value on the host inside forward: cannot be captured
    def __init__(self):
        super().__init__()
        self.body = net()

    def forward(self, x):
        out = self.body(x)
        if out.abs().max().item() > 1e9:
            out = out * 0
        return out


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
    monkeypatch.setattr(train.loop, "precision_for", lambda device, capability=None: "fp16" if device.type == "cuda"
                        else "fp32")
    result = train.fit(net(), tr, CONFIG, progress=False, device="cuda")
    assert result.fast and result.precision == "fp16" and not result.diverged
    assert result.final_loss(20) < 0.6 * sum(result.loss[:10]) / 10


def test_fallbacks_print_one_line_and_train(digits, capsys):
    tr, _ = digits
    adam = train.fit(net(), tr, CONFIG.replace(optimizer="adam", lr=1e-3), progress=False, device="cuda")
    out = capsys.readouterr().out
    assert not adam.fast and adam.steps == 120 and out.count("fit: the fast CUDA-graph step is off here") == 1

    result = train.fit(Syncing(), tr, CONFIG, progress=False, device="cuda")
    out = capsys.readouterr().out
    assert "fit: the CUDA-graph capture failed" in out and "standard loop" in out
    assert not result.fast and result.steps == 120 and not result.diverged
