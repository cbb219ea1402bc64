"""resnet_edu.lessons.lesson08_train_cifar10 (lesson 08): the gradient recorder equals p.grad.norm(), works without
host syncs and with a
frozen step (CUDA-graph replay), refuses bad arguments; checkpoints round-trip; the pair trains on the digits and on a
fake CIFAR-10 at the GPU recipe; plots, confusion matrix, TensorBoard logs."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import resnet_edu as edu
from resnet_edu import data, nets, train
from resnet_edu.gradients import weight_layers
from resnet_edu.lessons import lesson08_train_cifar10 as dynamics

TINY = edu.recipes.with_recipe(dynamics.DYNAMICS_CPU, steps=12, batch_size=32, width=4, last=4)


def small_net(residual=True, depth=8):
    torch.manual_seed(0)
    return nets.cifar_net(depth, residual=residual, width=4, in_channels=1)


def batches(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)) for _ in range(n)]


def backward(model, x, y):
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()


def direct_norms(model):
    return [float(m.weight.grad.norm()) for _, m in weight_layers(model)]


@pytest.mark.parametrize("every", [1, 2, 3])
def test_recorder_equals_direct_grad_norms(every):
    model = small_net()
    recorder = dynamics.GradientRecorder(model, steps=5, every=every)
    expected = []
    for step, (x, y) in enumerate(batches(5)):
        backward(model, x, y)
        recorder(step)
        if step % every == 0:
            expected.append(direct_norms(model))
    history = recorder.history()
    assert history.names == [n for n, _ in weight_layers(model)]
    assert history.names[0] == "conv1" and history.names[-1] == "fc"  # input side first, classifier last
    assert history.steps == list(range(0, 5, every))
    np.testing.assert_allclose(history.norms, np.array(expected), rtol=1e-5)
    assert recorder.calls == 5


def test_recorder_ignores_steps_beyond_its_length():
    model = small_net()
    recorder = dynamics.GradientRecorder(model, steps=3, every=2)
    for step, (x, y) in enumerate(batches(6)):
        backward(model, x, y)
        if step == 2:
            third = direct_norms(model)
        recorder(step)
    history = recorder.history()
    assert history.steps == [0, 2]
    np.testing.assert_allclose(history.norms[1], third, rtol=1e-5)


def test_recorder_counts_on_the_device_so_a_replayed_graph_records_every_step(monkeypatch):
    """Inside a CUDA graph the hook runs once, at capture, and only its device ops replay: the row must come from
    the device counter. Imitated on the CPU: eager steps 0-1 (the trainer's warm-up), then calls that believe they
    are being captured, all with the capture-time step 2, stand for the replays of steps 2, 3, 4."""
    model = small_net()
    by_step = dynamics.GradientRecorder(model, steps=5, every=2)
    replayed = dynamics.GradientRecorder(model, steps=5, every=2)
    for step, (x, y) in enumerate(batches(5)):
        backward(model, x, y)
        by_step(step)
        if step < 2:
            replayed(step)
        else:
            monkeypatch.setattr(dynamics, "_capturing", lambda tensor: True)
            replayed(2)
            monkeypatch.undo()
    assert replayed.calls == by_step.calls == 5
    np.testing.assert_array_equal(by_step.history().norms, replayed.history().norms)


def test_recorder_restarted_from_step_0_overwrites_the_first_attempt():
    model = small_net()
    recorder = dynamics.GradientRecorder(model, steps=4)
    for step, (x, y) in enumerate(batches(3, seed=1)):  # a first attempt that is abandoned (e.g. a failed capture)
        backward(model, x, y)
        recorder(step)
    expected = []
    for step, (x, y) in enumerate(batches(4)):
        backward(model, x, y)
        recorder(step)
        expected.append(direct_norms(model))
    np.testing.assert_allclose(recorder.history().norms, np.array(expected), rtol=1e-5)


class SyncSpy(TorchDispatchMode):
    """Collects every aten op; a host read of a tensor value (.item(), float(), bool(), .tolist()) goes through
    ``aten._local_scalar_dense``, a copy to another device through ``_to_copy``/``copy_`` across devices."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func.overloadpacket.__name__))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("captured", [False, True])
def test_recording_a_step_reads_nothing_back_to_the_host(captured, monkeypatch):
    model = small_net()
    recorder = dynamics.GradientRecorder(model, steps=4, every=2)
    x, y = batches(1)[0]
    backward(model, x, y)
    recorder(0)  # first call allocates the buffer
    if captured:
        monkeypatch.setattr(dynamics, "_capturing", lambda tensor: True)
    with SyncSpy() as spy:
        for step in (1, 2, 3):
            recorder(step)
    assert spy.ops, "the spy saw no ops"
    assert "_local_scalar_dense" not in spy.ops and "_to_copy" not in spy.ops and "item" not in spy.ops, spy.ops
    assert spy.ops.count("_foreach_norm") == (3 if captured else 1)  # one fused norm over all layers per step
    monkeypatch.undo()
    with SyncSpy() as spy:
        recorder.history()
    assert "_local_scalar_dense" in spy.ops  # reading is where the (single) sync happens


def test_recorder_with_fit_every_n_steps():
    tr = data.digits(8, 1)
    model = small_net(residual=False)
    recorder = dynamics.GradientRecorder(model, steps=10, every=3)
    train.fit(model, tr, train.TrainConfig(steps=10, batch_size=32), progress=False, after_backward=recorder)
    history = recorder.history()
    assert history.steps == [0, 3, 6, 9] and history.norms.shape == (4, len(weight_layers(model)))
    assert np.isfinite(history.norms).all() and (history.norms > 0).all()


def test_after_backward_sees_the_gradients_before_the_optimizer_step():
    tr = data.digits(8, 1)
    model = small_net()
    seen = []

    def hook(step):
        seen.append((step, model.fc.weight.grad is not None, model.fc.weight.detach().clone()))

    train.fit(model, tr, train.TrainConfig(steps=3, batch_size=32), progress=False, after_backward=hook)
    assert [s for s, _, _ in seen] == [0, 1, 2] and all(has for _, has, _ in seen)
    assert not torch.equal(seen[0][2], seen[1][2])  # the weights changed between calls: the step came after


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        (dict(model="net", steps=5), TypeError, "model must be an nn.Module; got 'net' (str)"),
        (dict(steps=0), ValueError, "steps must be an integer >= 1; got 0"),
        (dict(steps=2.5), TypeError, "steps must be an integer; got 2.5"),
        (dict(steps=5, every=0), ValueError, "every must be an integer >= 1; got 0"),
        (dict(steps=5, every=True), TypeError, "every must be an integer; got True"),
        (dict(model=torch.nn.ReLU(), steps=5), ValueError, "no Conv2d or Linear layers"),
    ],
)
def test_recorder_bad_arguments(kwargs, error, message):
    kwargs = {"model": small_net(), **kwargs}
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        dynamics.GradientRecorder(**kwargs)


def test_recorder_before_backward_and_before_recording():
    model = small_net()
    recorder = dynamics.GradientRecorder(model, steps=3)
    with pytest.raises(RuntimeError, match="nothing recorded yet"):
        recorder.history()
    with pytest.raises(RuntimeError, match=r"no gradient for conv1.*after loss.backward\(\)"):
        recorder(0)


def test_history_layers_and_bad_names():
    h = dynamics.GradientHistory(["a", "b", "c"], [0, 1], np.array([[4.0, 2.0, 1.0], [1.0, 2.0, 8.0]]))
    assert h.layer("first").tolist() == [4.0, 1.0] and h.layer("middle").tolist() == [2.0, 2.0]
    assert h.layer("c").tolist() == h.layer("last").tolist() == h.layer(-1).tolist() == [1.0, 8.0]
    assert h.ratio().tolist() == [4.0, 0.125] and h.largest(0) == "a" and h.largest(1) == "c"
    with pytest.raises(ValueError, match="layer must be 'first', 'middle', 'last'.*got 'z'"):
        h.layer("z")
    with pytest.raises(ValueError, match="must have shape"):
        dynamics.GradientHistory(["a"], [0, 1], np.ones((1, 1)))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("tb")
    return dynamics.train_pair(depth=8, recipe=TINY, every=2, log_dir=log_dir, progress=False)


def test_train_pair_records_both_nets_with_one_recipe(pair):
    assert set(pair.runs) == {"plain", "residual"} and pair.dataset.startswith("digits")
    for kind, run in pair.runs.items():
        assert run.fit.steps == 12 and run.history.steps == list(range(0, 12, 2))
        assert run.history.names[0] == "conv1" and run.history.names[-1] == "fc"
        assert 0 <= run.test_acc <= 1 and run.images_per_second > 0
        assert f"{kind}-8: " in run.throughput() and "img/s" in run.throughput()
        assert len(run.fit.evals) >= 10
    assert "plain-8" in pair.table() and "residual-8" in pair.table()
    assert math.isfinite(pair.ratio_at_start("plain")) and math.isfinite(pair.ratio_during_training("residual"))


def test_tensorboard_logs_scalars_and_histograms(pair):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(pair.log_dir + "/plain-8")).Reload()
    tags = acc.Tags()
    assert {"train/loss", "eval/acc", "grad_norm/first", "grad_norm/last"} <= set(tags["scalars"])
    assert "grad_norm/layers" in tags["histograms"]
    assert [e.step for e in acc.Scalars("grad_norm/first")] == [1, 3, 5, 7, 9, 11]


def test_plots_have_titles_and_labels(pair):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = pair.plot_heatmaps()
    assert len(fig.axes) == 3 and all(ax.get_title() for ax in fig.axes[:2])
    mesh = [ax.collections[0] for ax in fig.axes[:2]]
    assert mesh[0].norm is mesh[1].norm  # one colour scale for both nets
    assert type(mesh[0].norm).__name__ == "LogNorm"
    ax = pair.plot_layers()
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 6 and ax.get_legend() is not None
    ax = pair.plot_accuracy()
    assert ax.get_xlabel() and ax.get_ylabel() == "accuracy" and ax.get_legend() is not None
    plt.close("all")


def test_confusion_matrix_and_prediction_grid(pair):
    import matplotlib.pyplot as plt

    test = data.digits(8, 1, train=False)
    model = pair.runs["residual"].model
    conf = dynamics.confusion_matrix(model, test, label="residual-8")
    assert conf.matrix.shape == (10, 10) and conf.matrix.sum() == len(test)
    predicted = dynamics.predict(model, test)
    assert conf.accuracy == pytest.approx(float((predicted == test.y).float().mean()))
    assert conf.accuracy == pytest.approx(train.evaluate(model, test)["acc"])
    true, guess, count = conf.most_confused()
    assert true != guess and count >= 0
    assert "accuracy" in conf.plot().get_title()
    fig = dynamics.prediction_grid(model, test, n=10)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 10 and all("(" in t for t in titles)
    with pytest.raises(ValueError, match="n must be at most 64"):
        dynamics.prediction_grid(model, test, n=100)
    plt.close("all")


def test_checkpoint_round_trip_gives_the_same_test_accuracy(pair, tmp_path):
    test = data.digits(8, 1, train=False)
    model = pair.runs["plain"].model
    path = train.save_checkpoint(model, tmp_path / "ckpt" / "plain-8.pt")
    saved = torch.load(path, weights_only=True)  # plain tensors and numbers only
    assert saved["shape"] == {"depth": 8, "residual": False, "width": 4, "in_channels": 1, "num_classes": 10,
                              "projection": False, "batch_norm": True}
    loaded = train.load_checkpoint(path, device="cpu")
    assert not loaded.training and isinstance(loaded, nets.CifarResNet)
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a.cpu(), b), k
    assert train.evaluate(loaded, test)["acc"] == train.evaluate(model, test)["acc"]


def test_checkpoint_errors(tmp_path):
    with pytest.raises(TypeError, match="CIFAR net"):
        train.save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x.pt")
    with pytest.raises(FileNotFoundError, match="save one first"):
        train.load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint written by"):
        train.load_checkpoint(tmp_path / "other.pt")


def test_save_checkpoint_never_overwrites_without_being_asked(tmp_path, capsys):
    """Issue 22: a second save onto the same path refused unless overwrite=True, which says that it replaced it."""
    first, second = nets.cifar_net(8, width=4, in_channels=1), nets.cifar_net(8, width=4, in_channels=1)
    torch.nn.init.constant_(second.fc.bias, 1.0)
    path = train.save_checkpoint(first, tmp_path / "net.pt")
    with pytest.raises(FileExistsError, match="net.pt already exists; pass overwrite=True to replace it"):
        train.save_checkpoint(second, path)
    assert torch.equal(train.load_checkpoint(path, device="cpu").fc.bias, first.fc.bias)  # the first is intact
    assert capsys.readouterr().out == ""
    train.save_checkpoint(second, path, overwrite=True)
    assert f"Overwrote the checkpoint at {path}" in capsys.readouterr().out
    assert torch.equal(train.load_checkpoint(path, device="cpu").fc.bias, second.fc.bias)
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        train.save_checkpoint(second, path, overwrite="yes")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        train.save_checkpoint(second, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pt"]  # written beside it, then renamed into place


@pytest.mark.parametrize("kind", ["garbage", "truncated", "pickled object", "wrong shape entries", "empty"])
def test_a_checkpoint_that_does_not_read_names_the_file_and_what_to_do(tmp_path, kind):
    path = train.save_checkpoint(nets.cifar_net(8, width=4), tmp_path / "net.pt")
    if kind == "garbage":
        path.write_bytes(b"\x00garbage" * 50)
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "pickled object":
        torch.save({"shape": {k: 1 for k in train.checkpoint.SHAPE_KEYS}, "state_dict": {}, "x": _Pickled()}, path)
    elif kind == "wrong shape entries":
        torch.save({"shape": {k: 1 for k in train.checkpoint.SHAPE_KEYS}, "state_dict": {}}, path)
    else:
        path.write_bytes(b"")
    with pytest.raises(ValueError) as info:
        train.load_checkpoint(path, device="cpu")
    message = str(info.value)
    assert str(path) in message and "Delete it and save the net again" in message
    assert "weights_only=False" not in message and "pickle" not in message.lower() and info.value.__cause__ is None


def test_train_pair_bad_arguments():
    with pytest.raises(ValueError, match="depth must be 6n\\+2"):
        dynamics.train_pair(depth=10)
    with pytest.raises(TypeError, match="recipe must be a resnet_edu.recipes.Recipe"):
        dynamics.train_pair(recipe={"steps": 3})
    with pytest.raises(ValueError, match="scale must be one of"):
        dynamics.train_pair(scale="tpu")
    with pytest.raises(TypeError, match="progress must be True or False"):
        dynamics.train_pair(progress="yes")


def test_gpu_recipe_code_path_on_a_fake_cifar(fake_cifar):
    """Lesson 08's GPU recipe (SGD, augmentation, epochs) at toy size on a fake CIFAR-10, so the path executes."""
    recipe = edu.recipes.with_recipe(dynamics.DYNAMICS_GPU, epochs=2, batch_size=16, width=4)
    result = dynamics.train_pair(depth=8, scale="gpu", recipe=recipe, progress=False)
    assert result.dataset == "CIFAR-10" and result.recipe == recipe
    run = result.runs["residual"]
    assert run.fit.steps == 2 * (64 // 16) and run.history.norms.shape[0] == 8
    assert dynamics.confusion_matrix(run.model, fake_cifar(train=False)).matrix.sum() == 20
    g, t = dynamics.DYNAMICS_GPU, dynamics.DYNAMICS_GPU.train
    assert (g.dataset, t.optimizer, t.augment, t.schedule) == ("cifar10", "sgd", True, "onecycle")


def test_scale_picks_the_recipe(monkeypatch):
    pick = edu.recipes.pick
    assert pick(dynamics.DYNAMICS, "cpu") is dynamics.DYNAMICS_CPU
    assert pick(dynamics.DYNAMICS, "gpu") is dynamics.DYNAMICS_GPU
    monkeypatch.setenv("RESNET_EDU_SCALE", "gpu")
    assert pick(dynamics.DYNAMICS) is dynamics.DYNAMICS_GPU
    monkeypatch.setenv("RESNET_EDU_SCALE", "paper")
    assert pick(dynamics.DYNAMICS) is dynamics.DYNAMICS_PAPER
    assert (dynamics.DYNAMICS_PAPER.train.epochs, dynamics.DYNAMICS_GPU.train.epochs) == (40, 7)


@pytest.mark.parametrize("bad", [None, ..., "input", 3, float("nan"), 1e308, [1, 2], {"plain": 1}, {"x": "y"}])
def test_exercise_checkers_never_raise(pair, bad, capsys):
    from resnet_edu import exercises

    run = pair.runs["residual"]
    assert exercises.check_largest_gradient(bad, pair) is False
    assert exercises.check_gradient_ratio(bad, pair) is False
    assert exercises.check_images_per_second(bad, run) is False
    out = capsys.readouterr().out
    if bad is None or bad is ...:
        assert out.count("No answer yet") == 3 and "❌" not in out
    else:
        assert out.count("❌") == 3


def test_exercise_checkers_accept_the_measured_answers(pair, capsys):
    from resnet_edu import exercises

    run = pair.runs["residual"]
    assert exercises.check_largest_gradient(exercises.solution_largest_gradient(pair), pair) is True
    assert exercises.check_gradient_ratio(exercises.solution_gradient_ratio(pair), pair) is True
    assert exercises.check_images_per_second(exercises.solution_images_per_second(run), run) is True
    assert exercises.check_gradient_ratio(1 / exercises.solution_gradient_ratio(pair), pair) is False
    assert "last over first" in capsys.readouterr().out
    assert exercises.check_images_per_second(run.fit.steps / run.fit.wall_time, run) is False
    assert "steps per second" in capsys.readouterr().out
    assert exercises.check_largest_gradient({"plain": "input", "residual": "input"}, "not a result") is False
    assert "second argument" in capsys.readouterr().out
    right = exercises.solution_largest_gradient(pair)
    flipped = {k: ("output" if v != "output" else "input") for k, v in right.items()}
    assert exercises.check_largest_gradient(flipped, pair) is False
    assert "Your run measured" in capsys.readouterr().out


def test_recorder_call_needs_a_step_index():
    model = small_net()
    backward(model, *batches(1)[0])
    recorder = dynamics.GradientRecorder(model, steps=3)
    with pytest.raises(ValueError, match="step must be an integer >= 0; got -1"):
        recorder(-1)
    with pytest.raises(TypeError, match=r"step must be an integer \(write 1 without quotes\); got '1'"):
        recorder("1")


def test_runs_dir_lives_under_the_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_EDU_DATA", str(tmp_path))
    assert dynamics.runs_dir() == tmp_path / "runs" / "08_train_cifar10"
    with pytest.raises(ValueError, match="plain folder name"):
        dynamics.runs_dir("../x")


class _Pickled:  # a class torch.load(weights_only=True) refuses
    pass


def test_recorder_measures_the_relative_update_of_every_layer():
    """‖ΔW‖/‖W‖ per step, per layer: what the optimizer did between two recorded steps, divided by the interval."""
    model = small_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    recorder = dynamics.GradientRecorder(model, steps=6, every=2)
    snapshots = []
    for step, (x, y) in enumerate(batches(6)):
        backward(model, x, y)
        recorder(step)
        if step % 2 == 0:
            snapshots.append([m.weight.detach().clone() for _, m in weight_layers(model)])
        opt.step()
    updates = recorder.history().updates
    assert updates.shape == (3, len(snapshots[0])) and np.isnan(updates[0]).all()  # nothing before step 0
    for row in (1, 2):
        expected = [float((w - v).norm() / v.norm() / 2) for w, v in zip(snapshots[row], snapshots[row - 1])]
        np.testing.assert_allclose(updates[row], expected, rtol=1e-4)


def test_comparison_reports_relative_updates(pair):
    for kind in ("plain", "residual"):
        assert 0 < pair.relative_update(kind, "first") < 1 and 0 < pair.relative_update(kind, "last") < 1
    assert pair.plot_updates().get_yscale() == "log"
    with pytest.raises(ValueError, match="which must be 'first', 'middle' or 'last'; got 'top'"):
        pair.relative_update("plain", "top")


def test_find_tensorboard_sets_the_binary_when_bin_is_not_on_path(monkeypatch, tmp_path):
    """Issue 20: under `make lab` without an activated venv, %tensorboard printed "Could not find `tensorboard`"."""
    import sys

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    program = fake_bin / "tensorboard"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake_bin / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("TENSORBOARD_BINARY", raising=False)
    import os

    assert dynamics.find_tensorboard() == str(program)
    assert os.environ["TENSORBOARD_BINARY"] == str(program)
    assert os.environ["PATH"].split(os.pathsep)[0] == str(fake_bin)
    program.unlink()
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("TENSORBOARD_BINARY")
    assert dynamics.find_tensorboard() is None and "TENSORBOARD_BINARY" not in os.environ


def test_make_lab_puts_the_venv_bin_first_on_path():
    """The kernel inherits the Jupyter server's PATH: `make lab` must put the venv's bin/ (tensorboard) on it."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shown = subprocess.run(["make", "-n", "-o", "setup", "-o", "graphviz", "lab"], cwd=root, capture_output=True,
                           text=True, check=True).stdout
    line = next(row for row in shown.splitlines() if "jupyter lab" in row)
    assert line.startswith(f'PATH="{root / ".venv" / "bin"}:'), line


@pytest.mark.parametrize(("answer", "says"), [
    ("1511", "without quotes"), (10**400, "too large"), (True, "bool"), ("0.5", "without quotes"),
    (float("inf"), "infinite"), ([1.0], "collection"),
])
def test_lesson08_checkers_read_numbers_like_06_07_09(pair, answer, says, capsys):
    from resnet_edu import exercises

    run = pair.runs["residual"]
    assert exercises.check_gradient_ratio(answer, pair) is False
    assert says in capsys.readouterr().out
    assert exercises.check_images_per_second(answer, run) is False
    assert says in capsys.readouterr().out


def test_images_per_second_with_a_zero_wall_time_never_raises(pair, capsys):
    """Issue 22: a run too short to time has wall_time 0; the checker explains instead of dividing by zero."""
    import copy
    import dataclasses

    from resnet_edu import exercises

    run = copy.copy(pair.runs["residual"])
    run.fit = dataclasses.replace(run.fit, wall_time=0.0)
    assert math.isnan(exercises.solution_images_per_second(run))
    assert exercises.check_images_per_second(100.0, run) is False
    assert "too short to time" in capsys.readouterr().out


def test_explosion_prediction_quotes_the_run(pair, capsys):
    from resnet_edu import exercises

    start, during = pair.ratio_at_start("plain"), pair.ratio_during_training("plain")
    truth = "collapse" if during < start / 100 else "last"
    other = "last" if truth == "collapse" else "collapse"
    assert exercises.check_explosion_prediction(truth, pair) is True
    assert f"{start:,.0f} at step 0" in capsys.readouterr().out
    assert exercises.check_explosion_prediction(other, pair) is False
    assert exercises.check_explosion_prediction(None, pair) is False and "No prediction" in capsys.readouterr().out
    assert exercises.check_explosion_prediction("maybe", pair) is False
    assert exercises.check_explosion_prediction("collapse", "not a result") is False
    assert "second argument" in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(6))
def test_plain_explodes_far_more_than_residual_at_step_0(seed):
    """Lesson 08's step-0 bound, moved out of its check cell: at initialisation the plain-56's first/last gradient
    ratio is ≥ 30× the ResNet-56's (the notebook's recipe and data, a batch of 64 digits)."""
    recipe = dynamics.DYNAMICS_CPU
    train_data, _, _ = edu.recipes.load_data(recipe)
    pick = torch.randperm(len(train_data), generator=torch.Generator().manual_seed(seed))[:64]
    ratios = {}
    for kind in nets.KINDS:
        model = edu.recipes.build(kind, 56, seed, recipe, train_data)
        recorder = dynamics.GradientRecorder(model, steps=1)
        F.cross_entropy(model(train_data.x[pick]), train_data.y[pick]).backward()
        recorder(0)
        ratios[kind] = float(recorder.history().ratio()[0])
    assert ratios["plain"] / ratios["residual"] >= 30, ratios
