"""Lesson 09, resnet_edu.lessons.lesson09_ensembles_paths (Veit et al. 2016): paths, deleting blocks, the lesion study,
gradients by path
length, the lesion app, and the lesson's exercise checkers."""

import copy
import math

import matplotlib
import pytest
import torch
from torch import nn

import resnet_edu as edu
from resnet_edu.lessons import lesson09_ensembles_paths as E

matplotlib.use("Agg")

TINY = edu.recipes.with_recipe(edu.recipes.DEGRADATION_CPU, steps=3)


@pytest.fixture(scope="module")
def nets():
    return E.train_nets((("plain", 14), ("residual", 14)), recipe=TINY, progress=False)


# -- counting paths ----------------------------------------------------------------------------------------------
def test_path_counts_are_binomial():
    assert E.path_counts(4) == [1, 4, 6, 4, 1]
    assert E.path_counts(0) == [1]
    assert sum(E.path_counts(27)) == 2**27 and E.path_counts(27)[10] == math.comb(27, 10)
    dist = E.path_length_distribution(9)
    assert math.isclose(sum(dist), 1.0) and dist[0] == 1 / 512 and max(dist) == dist[4] == dist[5]


@pytest.mark.parametrize(("n", "error", "message"), [(-1, ValueError, "n must be an integer >= 0"),
                                                      (2.5, TypeError, "n must be an integer"),
                                                      ("3", TypeError, "n must be an integer")])
def test_path_counts_refuse_bad_n(n, error, message):
    with pytest.raises(error, match=message):
        E.path_counts(n)


# -- blocks and deleting them ------------------------------------------------------------------------------------
@pytest.mark.parametrize("residual", [True, False])
def test_deletable_blocks_skip_the_downsampling_ones(residual):
    model = edu.nets.cifar_net(20, residual=residual, width=4, in_channels=1)
    assert len(E.blocks(model)) == 9
    assert E.deletable_blocks(model) == [0, 1, 2, 4, 5, 7, 8]
    option_b = edu.nets.cifar_net(20, shortcut="B", width=4, in_channels=1)
    assert E.deletable_blocks(option_b) == [0, 1, 2, 4, 5, 7, 8]


def test_blocks_needs_building_blocks():
    with pytest.raises(ValueError, match="no residual/plain building blocks.*Sequential"):
        E.blocks(nn.Sequential(nn.Linear(2, 2)))


def test_without_blocks_replaces_by_identity_and_restores():
    torch.manual_seed(0)
    model = edu.nets.cifar_net(20, width=4, in_channels=1).eval()
    x = torch.randn(3, 1, 8, 8)
    before, originals = model(x), E.blocks(model)
    with E.without_blocks(model, [1, 4]) as inside:
        assert inside is model and len(E.blocks(model)) == 7
        assert isinstance(model.layer1[1], nn.Identity) and isinstance(model.layer2[1], nn.Identity)
        assert not torch.allclose(model(x), before)
    assert E.blocks(model) == originals and torch.equal(model(x), before)
    with pytest.raises(RuntimeError, match="boom"), E.without_blocks(model, [0]):
        raise RuntimeError("boom")
    assert E.blocks(model) == originals, "restored after an error too"


def test_deleting_a_residual_block_leaves_its_shortcut():
    torch.manual_seed(0)
    model = edu.nets.cifar_net(14, width=4, in_channels=1).eval()
    x = torch.randn(2, 1, 8, 8)
    stem = model.relu(model.bn1(model.conv1(x)))
    with E.without_blocks(model, [0]):
        assert torch.equal(model.layer1(stem), model.layer1[1](stem))  # block 0 now passes its input through


@pytest.mark.parametrize(("drop", "error", "message"), [([3], ValueError, r"deletable block indices \[0, 1, 2, 4, "
                                                                           r"5, 7, 8\].*downsampling.*got 3"),
                                                         ([1, 1], ValueError, "must not repeat"),
                                                         (1, TypeError, "list or tuple"),
                                                         ([True], ValueError, "got True")])
def test_without_blocks_refuses_bad_drops(drop, error, message):
    model = edu.nets.cifar_net(20, width=4, in_channels=1)
    with pytest.raises(error, match=message), E.without_blocks(model, drop):
        pass


# -- training and the lesion study ------------------------------------------------------------------------------
def test_train_nets_gives_trained_eval_mode_nets(nets):
    assert list(nets.models) == ["plain-14", "residual-14"]
    assert all(not m.training for m in nets.models.values())
    assert nets.fits["plain-14"].steps == 3 and nets.fits["plain-14"].evals[-1]["acc"] == nets.accuracy("plain-14")
    assert "plain-14" in str(nets) and "3 steps" in str(nets)
    assert nets.pair == ("plain-14", "residual-14")
    lonely = edu.recipes.Family(nets.recipe, nets.train, nets.test,
                                {k: v for k, v in nets.runs.items() if k[0] == "residual"})
    with pytest.raises(ValueError, match="no plain net and ResNet of the same depth.*residual-14"):
        _ = lonely.pair
    with pytest.raises(KeyError, match="no net 'residual-56' was trained; the trained nets are plain-14, residual"):
        _ = nets["residual-56"]


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(nets=[("plain", 21)]), ValueError, r"6n\+2"),
    (dict(nets=[("resnet", 20)]), ValueError, "kind must be 'plain'"),
    (dict(nets=["plain-20"]), ValueError, r"\(kind, depth\) pairs"),
    (dict(nets=[]), ValueError, "nets must hold at least 1 value"),
    (dict(scale="tpu"), ValueError, "scale must be one of 'cpu', 'gpu', 'paper'"),
    (dict(recipe="fast"), TypeError, "recipe must be a resnet_edu.recipes.Recipe"),
    (dict(seed=-1), ValueError, "seed must be an integer >= 0"),
])
def test_train_nets_refuses_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        E.train_nets(**kwargs, progress=False)


def test_lesion_study_shapes_values_and_determinism(nets):
    result = E.lesion_study(nets, samples=3, progress=False)
    assert result.deletable == {"plain-14": [0, 1, 3, 5], "residual-14": [0, 1, 3, 5]}
    for name in nets.models:
        assert len(result.single[name]) == 4 and sorted(result.random[name]) == [0, 1, 2, 3, 4]
        assert result.baseline[name] == nets.accuracy(name)
        assert len(result.random[name][0]) == len(result.random[name][4]) == 1 and len(result.random[name][2]) == 3
        assert result.single[name][1] == E.accuracy_without(nets[name], nets.test, [1])
        assert result.drop(name)[1] == pytest.approx(result.baseline[name] - result.single[name][1])
        assert all(0 <= a <= 1 for a in result.single[name])
    assert result.random["residual-14"][4] == [E.accuracy_without(nets["residual-14"], nets.test, [0, 1, 3, 5])]
    again = E.lesion_study(nets, samples=3, progress=False)
    assert again.random == result.random and again.single == result.single
    assert "plain-14" in result.table() and len(result.plot().axes) == 2


def test_lesion_study_thins_out_k_for_deep_nets():
    generator = torch.Generator().manual_seed(0)
    sets = E._random_sets(list(range(25)), samples=2, points=10, generator=generator)
    assert sorted(sets)[0] == 0 and sorted(sets)[-1] == 25 and len(sets) == 10
    assert all(len(s) == k for k, drops in sets.items() for s in drops)


def test_lesion_study_refuses_bad_arguments(nets):
    with pytest.raises(TypeError, match="nets must be the trained nets that train_nets"):
        E.lesion_study({"plain": nn.Linear(1, 1)})
    with pytest.raises(ValueError, match="samples must be an integer >= 1"):
        E.lesion_study(nets, samples=0)
    with pytest.raises(KeyError, match="no net 'plain-20'"):
        E.lesion_study(nets, names=["plain-20"])
    result = E.lesion_study(nets, names=["residual-14"], samples=1, progress=False)
    with pytest.raises(ValueError, match="net must be one of the studied nets 'residual-14'"):
        result.mean_random("plain-14", 1)
    with pytest.raises(ValueError, match="k must be one of the measured 0 … 4"):
        result.mean_random("residual-14", 9)


# -- gradients by path length -----------------------------------------------------------------------------------
def test_routed_block_keeps_the_value_and_splits_the_gradient():
    torch.manual_seed(0)
    block = edu.nets.cifar_net(8, width=4, in_channels=1).eval().layer1[0]
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    full = block(x)
    grads = {}
    for route in ("branch", "shortcut"):
        out = E._Routed(block, route)(x)
        assert torch.equal(out, full)
        (grads[route],) = torch.autograd.grad(out.sum(), x)
    (total,) = torch.autograd.grad(block(x).sum(), x)
    assert torch.allclose(grads["branch"] + grads["shortcut"], total, atol=1e-6)  # the two summands of the gradient
    mask = (block.residual(x) + x > 0).float()
    assert torch.equal(grads["shortcut"], mask)  # identity shortcut: only the final ReLU's mask


def test_path_gradients_shapes_values_determinism(nets):
    model = nets["residual-14"]
    result = E.path_gradients(model, nets.train, samples=2, batch_size=8, progress=False)
    assert result.n == 6 and result.counts == [1, 6, 15, 20, 15, 6, 1]
    assert len(result.per_path) == 7 and all(len(v) == 2 for v in result.measured)
    assert result.total == [g * c for g, c in zip(result.per_path, result.counts)]
    assert result.share(6) == pytest.approx(1.0) and 0 <= result.peak_length <= 6 and result.mean_length == 3
    assert not model.training, "the model stays in eval mode"
    again = E.path_gradients(model, nets.train, samples=2, batch_size=8, progress=False)
    assert again.per_path == result.per_path
    assert "6 blocks, 64 paths" in str(result) and len(result.plot().axes) == 3


def test_path_gradients_needs_a_residual_cifar_net(nets):
    with pytest.raises(TypeError, match=r"residual resnet_edu.nets.CifarResNet.*got CifarResNet \(plain\)"):
        E.path_gradients(nets["plain-14"], nets.train)
    with pytest.raises(TypeError, match="got Linear"):
        E.path_gradients(nn.Linear(2, 2), nets.train)
    with pytest.raises(ValueError, match=r"batch_size must be at most the number of images in data \(1438\)"):
        E.path_gradients(nets["residual-14"], nets.train, batch_size=10**6)


# -- the interactive lesion -------------------------------------------------------------------------------------
def test_lesion_explorer_deletes_ticked_blocks(nets, capsys):
    app = E.lesion_explorer(nets)
    assert list(app.controls) == ["block0", "block1", "block3", "block5"]
    seconds = app.update(block1=True, block3=True)
    assert seconds > 0 and app.last_marker == "rendered deleted=[1, 3]"
    assert "rendered deleted=[1, 3]" in capsys.readouterr().out
    assert app.accuracies([1, 3])["plain-14"] == E.accuracy_without(nets["plain-14"], nets.test, [1, 3])
    assert E.blocks(nets["plain-14"]) and len(E.blocks(nets["plain-14"])) == 6, "the nets are restored"


def test_lesion_explorer_pixels_and_numbers_stay_those_of_a_fresh_draw(nets):
    """Issue 33: the PNG cache, the states drawn ahead and the single layout pass show what a fresh figure with the
    old double draw shows, with the same accuracies."""
    import io

    from matplotlib.layout_engine import PlaceHolderLayoutEngine
    from PIL import Image

    def pixels(fig, old=False):
        if old:  # what fig.tight_layout() alone left behind: every savefig laid out and drew twice
            fig.set_layout_engine(PlaceHolderLayoutEngine(adjust_compatible=True, colorbar_gridspec=True))
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        return Image.open(io.BytesIO(buffer.getvalue())).tobytes()

    app = E.lesion_explorer(nets)
    assert app.precompute == len(app.controls) == 4
    app.update()
    assert app.prefetch() == 4, "each box flipped is drawn ahead"
    for ticked in ((), ("block1",), ("block1", "block5")):
        values = {name: name in ticked for name in app.controls}
        app.update(**values)
        shown = Image.open(io.BytesIO(app._images[tuple(values.items())])).tobytes()
        assert shown == pixels(app.render_lesion(**values), old=True), f"{ticked}: the picture changed"
        drop = app.dropped(values)
        assert app.accuracies(drop) == {n: E.accuracy_without(nets[n], nets.test, drop) for n in app.names}


def test_lesion_explorer_refuses_bad_arguments(nets):
    with pytest.raises(TypeError, match="nets must be the trained nets"):
        E.lesion_explorer("nets")
    extra = edu.recipes.Trained("residual", 20, 0, edu.nets.cifar_net(20, width=8, in_channels=1),
                                nets.fits["residual-14"])
    deeper = edu.recipes.Family(nets.recipe, nets.train, nets.test, {**nets.runs, ("residual", 20, 0): extra})
    with pytest.raises(ValueError, match="same blocks"):
        E.lesion_explorer(deeper, names=["plain-14", "residual-20"])


# -- exercises ---------------------------------------------------------------------------------------------------
def test_exercise_paths_of_length(capsys):
    X = edu.exercises
    assert X.check_paths_of_length(None) is False and "No answer yet" in capsys.readouterr().out
    assert X.check_paths_of_length(X.solution_paths_of_length()) is True
    assert X.solution_paths_of_length() == math.comb(27, 10) == 8436285
    assert X.check_paths_of_length(8436285.0) is True
    assert X.check_paths_of_length(2**27) is False and "all paths" in capsys.readouterr().out
    assert X.check_paths_of_length(math.perm(27, 10)) is False and "divide by 10!" in capsys.readouterr().out
    for bad in (float("nan"), float("inf"), "84", [1, 2], True, 10**400, -3):
        assert X.check_paths_of_length(bad) is False
    assert "❌" in capsys.readouterr().out


def test_exercise_plain_deletion(nets, capsys):
    X = edu.exercises
    assert X.check_plain_deletion(None) is False and "No answer yet" in capsys.readouterr().out
    assert X.check_plain_deletion(X.solution_plain_deletion()) is True
    assert X.check_plain_deletion(" Chance ") is True
    assert X.check_plain_deletion("intact") is False and "shortcut" in capsys.readouterr().out
    for bad in (3, ["chance"], float("nan"), "maybe"):
        assert X.check_plain_deletion(bad) is False
    fake = E.LesionResult({"plain-20": [0]}, {"plain-20": 0.7}, {"plain-20": [0.69]}, {"plain-20": {0: [0.7]}})
    assert X.check_plain_deletion("intact", fake) is True and "keeps 69.0%" in capsys.readouterr().out
    assert X.check_plain_deletion("chance", fake) is False
    assert X.check_plain_deletion("chance", "not a result") is True  # unusable result: judged by the principle


def test_gpu_scale_without_cifar_trains_the_cpu_nets(monkeypatch, capsys):
    train, test = edu.data.digits(size=8), edu.data.digits(size=8, train=False)
    monkeypatch.setattr(E._recipes, "load_data", lambda recipe: (train, test, TINY))  # CIFAR-10 missing
    monkeypatch.setattr(E, "CPU_NETS", (("plain", 8), ("residual", 8)))
    nets = E.train_nets(scale="gpu", progress=False)
    assert list(nets.models) == ["plain-8", "residual-8"] and nets.recipe is TINY
    assert "the CPU scale's nets are trained instead: plain-8, residual-8" in capsys.readouterr().out



# -- lesson 09's own exercise: the learner writes the lesion (issue 20 item 4) ----------------------------------
def _in_place(model, stage, index):
    getattr(model, stage)[index] = nn.Identity()
    return model


def _off_by_one(model, stage, index):
    model = copy.deepcopy(model)
    getattr(model, stage)[index - 1] = nn.Identity()
    return model


def _branch_only(model, stage, index):
    model = copy.deepcopy(model)
    block = getattr(model, stage)[index]
    block.conv1 = block.bn1 = block.conv2 = block.bn2 = nn.Identity()
    return model


def _zero_weights(model, stage, index):
    model = copy.deepcopy(model)
    with torch.no_grad():
        for m in getattr(model, stage)[index].modules():
            if isinstance(m, nn.Conv2d):
                m.weight.zero_()
    return model


def _nothing(model, stage, index):
    return copy.deepcopy(model)


def _no_return(model, stage, index):
    copy.deepcopy(model)


def _not_a_net(model, stage, index):
    return getattr(model, stage)


def _crash(model, stage, index):
    return model.no_such_stage[index]


def _unfinished(model, stage, index):
    raise NotImplementedError


def _del_block(model, stage, index):
    model = copy.deepcopy(model)
    del getattr(model, stage)[index]
    return model


@pytest.mark.parametrize(("fn", "says"), [
    (_in_place, "changed the trained net itself"),
    (_off_by_one, "deleted layer1[0] instead of layer1[1]"),
    (_branch_only, "y = relu(x + x)"),
    (_zero_weights, "zeroing the conv weights"),
    (_nothing, "no block was deleted"),
    (_no_return, "returned None"),
    (_not_a_net, "the returned net raised RuntimeError"),
    (_crash, "raised AttributeError"),
    ("delete_block", "Pass your function itself"),
    (nn.Identity, "Pass your function itself"),
])
def test_exercise_lesion_rejects_each_mistake_with_its_sentence(fn, says, capsys):
    assert edu.exercises.check_lesion(fn) is False
    assert says in capsys.readouterr().out


@pytest.mark.parametrize("fn", [edu.exercises.solution_lesion, _del_block])
def test_exercise_lesion_accepts_right_versions(fn, capsys):
    assert edu.exercises.check_lesion(fn) is True and "✅" in capsys.readouterr().out


def test_exercise_lesion_unanswered(capsys):
    assert edu.exercises.check_lesion(None) is False and "No answer yet" in capsys.readouterr().out
    assert edu.exercises.check_lesion(_unfinished) is False and "not finished" in capsys.readouterr().out


def test_solution_lesion_reproduces_the_study(nets):
    res = nets["residual-14"]
    study = E.lesion_study(nets, samples=1, points=2, progress=False)
    j = study.deletable["residual-14"].index(1)
    mine = edu.train.evaluate(edu.exercises.solution_lesion(res, "layer1", 1), nets.test)["acc"]
    assert mine == study.single["residual-14"][j]


def test_lesion_summaries(nets):
    study = E.lesion_study(nets, samples=1, points=2, progress=False)
    for name in nets.models:
        accs = study.single[name]
        assert study.median_single(name) == sorted(accs)[len(accs) // 2]
        assert study.single[name][study.deletable[name].index(study.worst_block(name))] == min(accs)
    assert nets.deepest == "residual-14"


def test_path_peak_prediction_quotes_the_run(capsys):
    fake = E.PathGradients(4, [1.0, 0.5, 0.1, 0.01, 0.001], [[1.0], [0.5], [0.1], [0.01], [0.001]])
    assert fake.peak_length == 1
    assert edu.exercises.check_path_peak_prediction("below", fake) is True
    assert "length 1 carry the most" in capsys.readouterr().out
    assert edu.exercises.check_path_peak_prediction("at", fake) is False
    assert edu.exercises.check_path_peak_prediction("middle", fake) is False
    assert edu.exercises.check_path_peak_prediction("below", "not paths") is False
    assert "second argument" in capsys.readouterr().out


# -- stochastic depth: the lesion during training (Huang et al. 2016) ------------------------------------------
def test_linear_decay_sets_survival_from_one_to_p_last():
    model = edu.nets.cifar_net(20, width=4, in_channels=1, block=E.StochasticDepthBlock)
    survival = E.linear_decay(model)
    assert len(survival) == 9 and survival[-1] == pytest.approx(0.5) and survival[0] == pytest.approx(1 - 0.5 / 9)
    assert all(a > b for a, b in zip(survival, survival[1:]))
    assert [b.survival for b in E.blocks(model)] == survival
    assert E.linear_decay(model, p_last=1.0) == [1.0] * 9
    with pytest.raises(ValueError, match="p_last"):
        E.linear_decay(model, p_last=0)


def test_stochastic_depth_block_drops_in_training_and_scales_at_test():
    torch.manual_seed(0)
    model = edu.nets.cifar_net(20, width=4, in_channels=1, block=E.StochasticDepthBlock)
    plain_forward = edu.nets.cifar_net(20, width=4, in_channels=1)
    plain_forward.load_state_dict(model.state_dict())  # the same weights, the ordinary block
    x = torch.randn(4, 1, 8, 8)
    model.eval(), plain_forward.eval()
    assert torch.allclose(model(x), plain_forward(x)), "p_l = 1: the ordinary ResNet"
    block = E.blocks(model)[1]
    h = torch.relu(torch.randn(4, 4, 8, 8))
    block.survival = 0.25
    assert torch.allclose(block(h), torch.relu(0.25 * block.residual(h) + h)), "test time: p_l · F(x) + x"
    block.train()
    block.survival = 0.0
    assert torch.equal(block(h), h), "always deleted in training: y = x"
    block.survival = 1.0
    assert torch.allclose(block(h), torch.relu(block.residual(h) + h))


def test_train_stochastic_depth_trains_one_resnet_of_the_pair(nets):
    sd = E.train_stochastic_depth(nets, seed=0, progress=False)
    assert list(sd.models) == ["residual-14"] and sd.recipe is nets.recipe
    model = sd["residual-14"]
    assert not model.training and all(isinstance(b, E.StochasticDepthBlock) for b in E.blocks(model))
    assert E.blocks(model)[-1].survival == pytest.approx(0.5)
    again = E.train_stochastic_depth(nets, seed=0, progress=False)["residual-14"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    lesion = E.lesion_study(sd, progress=False)
    assert 0 < lesion.kept("residual-14") <= 1.5
    with pytest.raises(TypeError, match="nets must be the trained nets"):
        E.train_stochastic_depth("nets")
    with pytest.raises(TypeError, match="survival must be a function"):
        E.train_stochastic_depth(nets, survival=0.5)
    with pytest.raises(ValueError, match="p_last"):
        E.train_stochastic_depth(nets, p_last=1.5)
