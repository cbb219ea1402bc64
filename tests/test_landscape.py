"""Lesson 10, resnet_edu.lessons.lesson10_shattered_landscape (Li et al. 2018): filter-normalised directions, the
evaluated slices and grids,
the measurements the lesson asserts on (centre, rise, non-convexity), plots and argument checks."""

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import resnet_edu as edu
from resnet_edu.lessons import lesson10_shattered_landscape as L

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def data():
    return edu.data.digits(size=8, train=True)


def small_net(residual: bool = True, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return edu.nets.cifar_net(8, residual=residual, width=4, in_channels=1).eval()


def test_filter_normalized_direction_matches_filter_norms():
    model = small_net()
    direction = L.filter_normalized_direction(model, torch.Generator().manual_seed(0))
    for p, d in zip(model.parameters(), direction):
        assert d.shape == p.shape
        if p.dim() <= 1:
            assert torch.count_nonzero(d) == 0, "biases and BN parameters are not moved"
        else:
            assert torch.allclose(d.flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1), rtol=1e-5)
    again = L.filter_normalized_direction(model, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(direction, again))
    with pytest.raises(TypeError, match="generator must be a torch.Generator; got int"):
        L.filter_normalized_direction(model, 0)


def test_landscape_values_shapes_and_restored_weights(data):
    models = {"plain-8": small_net(False), "residual-8": small_net(True)}
    before = {n: [p.detach().clone() for p in m.parameters()] for n, m in models.items()}
    land = L.landscape(models, data, span=0.5, points_1d=5, points_2d=3, samples=32, progress=False)
    assert land.alphas == [-0.5, -0.25, 0.0, 0.25, 0.5] and land.grid == [-0.5, 0.0, 0.5]
    for name, model in models.items():
        assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before[name])), "weights restored"
        with torch.no_grad():
            at_theta = float(F.cross_entropy(model(data.x[:32]), data.y[:32]))
        assert land.center(name) == pytest.approx(at_theta, rel=1e-6)
        assert land.surfaces[name].shape == (3, 3)
        assert float(land.surfaces[name][1, 1]) == pytest.approx(at_theta, rel=1e-6)
        assert float(land.surfaces[name][1, 2]) == pytest.approx(land.slices[name][4], rel=1e-6)  # β = 0 row
        assert land.rise(name, 0.5) == pytest.approx((land.slices[name][0] + land.slices[name][4]) / 2 - at_theta)
        assert 0.0 <= land.nonconvexity(name) <= 1.0
    again = L.landscape(models, data, span=0.5, points_1d=5, points_2d=3, samples=32, progress=False)
    assert again.slices == land.slices
    assert "rise at 0.25" in str(land) and "plain-8" in land.table()
    assert len(land.plot().axes) >= 3 and len(land.plot_surface().axes) == 2


def test_nonconvexity_of_known_surfaces():
    g = torch.linspace(-1, 1, 5, dtype=torch.float64)
    b, a = torch.meshgrid(g, g, indexing="ij")
    bowl, saddle = 1 + a**2 + b**2, 3 + a**2 - b**2
    land = L.Landscape([0.0], {"bowl": [1.0], "saddle": [3.0]}, g.tolist(), {"bowl": bowl, "saddle": saddle}, 1)
    assert land.nonconvexity("bowl") == 0.0 and land.nonconvexity("saddle") == 1.0
    with pytest.raises(ValueError, match="net must be one of 'bowl', 'saddle'; got 'ridge'"):
        land.center("ridge")
    with pytest.raises(ValueError, match="distance must be one of the measured"):
        land.rise("bowl", 0.5)
    with pytest.raises(ValueError, match="distance must be > 0"):
        land.rise("bowl", 0)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(models={}), TypeError, "models must be a non-empty dict"),
    (dict(models={"a": 3}), TypeError, r"models\['a'\] must be an nn.Module; got 3 \(int\)"),
    (dict(data="digits"), TypeError, "data must be a resnet_edu.data.ImageData"),
    (dict(span=0), ValueError, "span must be > 0"),
    (dict(points_1d=4), ValueError, "points_1d must be odd"),
    (dict(points_2d=1), ValueError, "points_2d must be an integer >= 3"),
    (dict(points_2d=501), ValueError, "points_2d must be at most 101"),
    (dict(samples=0), ValueError, "samples must be an integer >= 1"),
    (dict(samples=10**5), ValueError, r"samples must be at most the number of images in data \(1438\)"),
    (dict(seed="0"), TypeError, "seed must be an integer"),
])
def test_landscape_refuses_bad_arguments(kwargs, error, message, data):
    args = dict(models={"net": small_net()}, data=data)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        L.landscape(progress=False, **args)


def test_landscape_averages_several_directions(data):
    """Issue 21: one random direction's rise is one draw; the 1-D slices average ``directions`` of them, the first
    being the grid's δ; the table shows absolute rises only (issue 30: a rise divided by a near-zero loss at θ is
    no sharpness)."""
    models = {"plain-8": small_net(False), "residual-8": small_net(True)}
    one = L.landscape(models, data, span=0.5, points_1d=5, points_2d=3, samples=32, progress=False)
    three = L.landscape(models, data, span=0.5, points_1d=5, points_2d=3, samples=32, progress=False, directions=3)
    assert one.directions == 1 and three.directions == 3
    for name in models:
        assert three.each_slice[name][0] == one.slices[name], "direction 0 is the one-direction slice"
        mean = [sum(v) / 3 for v in zip(*three.each_slice[name])]
        assert three.slices[name] == pytest.approx(mean)
        assert torch.equal(three.surfaces[name], one.surfaces[name]), "the grid uses the same δ, η"
        assert three.rise(name, 0.5) == pytest.approx((three.slices[name][0] + three.slices[name][-1]) / 2
                                                      - three.center(name))
    assert three.span == 0.5 and not hasattr(three, "relative_rise")
    assert "3 random direction(s)" in str(three) and "rise at 0.5" in three.table() and "×" not in three.table()
    with pytest.raises(ValueError, match="directions must be an integer >= 1"):
        L.landscape(models, data, directions=0, progress=False)


def test_landscape_prediction_quotes_the_run(data, capsys):
    models = {"plain-8": small_net(False), "residual-8": small_net(True)}
    land = L.landscape(models, data, span=0.5, points_1d=5, points_2d=3, samples=32, progress=False)
    rise = {"plain": land.rise("plain-8", 0.5), "residual": land.rise("residual-8", 0.5)}  # at the span, α = ±0.5
    truth = max(rise, key=rise.get)
    assert edu.exercises.check_landscape_prediction(truth, land, ("plain-8", "residual-8")) is True
    assert "rises by" in capsys.readouterr().out
    other = "plain" if truth == "residual" else "residual"
    assert edu.exercises.check_landscape_prediction(other, land, ("plain-8", "residual-8")) is False
    assert edu.exercises.check_landscape_prediction("flat", land, ("plain-8", "residual-8")) is False
    assert edu.exercises.check_landscape_prediction("plain", "no landscape") is False
    assert "Pass the landscape" in capsys.readouterr().out
