"""Issue 18's GPU-only bugs, each proven on the CPU: through the captured step run eagerly (``capture=False``), a
capture that is made to fail or to "succeed" on the CPU, a fake device count, or two gloo processes."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from test_train import small_net  # one tiny net for both files (digits8 is in conftest.py)

from resnet_edu import data, train
from resnet_edu.lessons import lesson07_variants as variants
from resnet_edu.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def test_fp16_overflow_on_the_first_step_leaves_momentum_at_zero(digits8):
    """Fused SGD skips the whole update while found_inf is set; its momentum buffers must start at zero, not as
    uninitialised memory that step 1 then reads. The captured step, run eagerly in its fp16 set-up with an overflow
    forced on step 0, must end where plain SGD ends after skipping step 0."""
    tr, _ = digits8
    config = TrainConfig(steps=6, batch_size=32, lr=0.05, weight_decay=1e-4)
    batches = list(data.DeviceLoader(tr, 32, shuffle=True, seed=3))[:6]
    for attempt in range(3):  # uninitialised memory is sometimes zero by luck: any attempt may show garbage
        model = small_net(batch_norm=False)
        overflow = []  # the step's found_inf, set by hand on step 0 as a real fp16 overflow would set it
        stepper = train.graphed.CapturedStep(model, config, torch.device("cpu"), "fp16", *batches[0],
                                       after_backward=lambda step, o=overflow: step == 0 and o[0].fill_(1))
        overflow.append(stepper.loss_scale.found_inf)
        assert stepper.loss_scale is not None  # the fp16 set-up: loss scale and found_inf wired into fused SGD
        torch.randn(10_000)  # leave some freed memory behind for empty_like to pick up
        for step, (x, y) in enumerate(batches):
            stepper.load(x, y, 0.05)
            stepper.opt.zero_grad(set_to_none=True)
            stepper.run(step)
        reference = small_net(batch_norm=False)
        opt = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
        for x, y in batches[1:]:  # step 0 was skipped (overflow): plain SGD starts at step 1
            opt.zero_grad()
            torch.nn.functional.cross_entropy(reference(x), y).backward()
            opt.step()
        for (name, p), q in zip(model.named_parameters(), reference.parameters()):
            assert torch.allclose(p, q, rtol=1e-4, atol=1e-6), (
                f"attempt {attempt}: {name} differs from plain SGD after a skipped first step "
                f"(max |difference| {float((p - q).abs().max()):g})")


def _fake_capture(self, step):
    """A "capture" that succeeds on the CPU: replay runs the step eagerly."""
    def replay():
        self.opt.zero_grad(set_to_none=True)
        self.run(step)
    self.graph = SimpleNamespace(replay=replay, reset=lambda: None)


def test_a_failed_capture_falls_back_and_trains_like_fast_false(digits8, monkeypatch, capsys):
    tr, _ = digits8
    monkeypatch.setattr(train.loop, "fast_path_problem", lambda *a, **k: None)

    def broken(self, step):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(train.graphed.CapturedStep, "capture", broken)
    config = TrainConfig(steps=12, batch_size=32, seed=4)
    result = train.fit(small_net(), tr, config, progress=False, device="cpu")
    out = capsys.readouterr().out
    assert "capture failed (RuntimeError: operation not permitted" in out and not result.fast
    reference = train.fit(small_net(), tr, config.replace(fast=False), progress=False, device="cpu")
    assert result.loss == reference.loss and result.steps == 12


def test_an_error_after_the_capture_propagates_instead_of_restarting(digits8, monkeypatch, capsys):
    """An out-of-memory error in an evaluation long after the capture is not a capture failure."""
    tr, te = digits8
    monkeypatch.setattr(train.loop, "fast_path_problem", lambda *a, **k: None)
    monkeypatch.setattr(train.graphed.CapturedStep, "capture", _fake_capture)
    calls = []
    real = train.evaluate

    def evaluate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("CUDA out of memory (a stand-in)")
        return real(*args, **kwargs)

    monkeypatch.setattr(train.run, "evaluate", evaluate)
    with pytest.raises(RuntimeError, match="out of memory"):
        train.fit(small_net(), tr, TrainConfig(steps=12, batch_size=32, eval_every=2), eval_data=te,
                  progress=False, device="cpu")
    assert "capture failed" not in capsys.readouterr().out and len(calls) == 3


def test_variants_compare_reports_steady_state_ms_per_step(monkeypatch):
    clock = [(1, 5.0), (2, 5.1), (3, 5.2)]  # 5 s of warm-up/capture, then 100 ms per step
    fake = train.FitResult(loss=[1.0, 1.0, 1.0], acc=[0.5] * 3, evals=[{"step": 3, "loss": 1.0, "acc": 0.5}],
                           wall_time=5.2, clock=clock)
    monkeypatch.setattr(variants, "_fit", lambda *a, **k: fake)
    cmp = variants.compare(("resnet",), width=4, steps=3, progress=False)
    assert cmp.row("resnet").ms_per_step == pytest.approx(fake.ms_per_step()) == pytest.approx(100.0)


POISONED = textwrap.dedent("""
    import datetime
    import torch
    from resnet_edu import data, nets, train
    torch.distributed.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))  # a hang ends in an error
    rank = torch.distributed.get_rank()

    class Poisoned(torch.nn.Module):  # rank 1 alone sees a NaN loss at its third step
        def __init__(self):
            super().__init__()
            self.body, self.calls = nets.cifar_net(8, width=4, in_channels=1), 0

        def forward(self, x):
            self.calls += self.training  # training steps only (fit first checks the outputs in eval mode)
            out = self.body(x)
            return out * float("nan") if rank == 1 and self.calls == 3 else out

    torch.manual_seed(0)
    result = train.fit(Poisoned(), data.digits(8, 1), train.TrainConfig(steps=8, batch_size=32), progress=False,
                       device="cpu")
    print(f"rank {rank} stopped: diverged={result.diverged} at step {result.diverged_at}", flush=True)
    torch.distributed.destroy_process_group()
""")


def test_ranks_stop_together_when_one_rank_diverges(tmp_path):
    script = tmp_path / "poisoned.py"
    script.write_text(POISONED)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=tmp_path, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # torchrun passes it on to its workers (each in a session of its own)
        out, _ = proc.communicate(timeout=60)
    assert "Timed out" not in out and "timed out" not in out, (
        "the ranks hung: one stopped on divergence while the other waited in an all-reduce\n" + out)
    assert proc.returncode == 0, out
    for rank in (0, 1):
        assert f"rank {rank} stopped: diverged=True at step 3" in out, out
    assert out.count("Training diverged at step 3") == 2, out
