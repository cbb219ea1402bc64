"""Lesson 12 (the residual stream in Transformers): the blocks on the page are the module's and PyTorch's, the
experiments' numbers, the sequence loop, and the checkers' tables of wrong answers (each rejected with a sentence
naming the mistake)."""

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import resnet_edu as edu
from resnet_edu import exercises
from resnet_edu.lessons import lesson12_transformer_residual_stream as L
from resnet_edu.runtime import seeded

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "12_transformer_residual_stream.ipynb"


def page_namespace() -> dict:
    """Run the notebook's cell that defines the blocks and return its namespace."""
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    namespace: dict = {"edu": edu, "seed": 0}
    exec(next(c for c in cells if "class PostLNBlock" in c), namespace)  # noqa: S102 - the lesson's own cell
    return namespace


@pytest.mark.parametrize("name", ["PostLNBlock", "PreLNBlock"])
def test_the_page_blocks_are_the_modules(name):
    page = page_namespace()
    with seeded(3):
        mine = page[name](16, 2, 32)
    with seeded(3):
        theirs = getattr(L, name)(16, 2, 32)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(mine(x), theirs(x))


@pytest.mark.parametrize("source", ["page", "module"])
def test_blocks_equal_pytorchs_encoder_layer(source):
    """The max-abs difference to nn.TransformerEncoderLayer with the same weights is at float rounding (~1e-6 or
    exactly 0), and the two placements differ by O(1)."""
    blocks = page_namespace() if source == "page" else vars(L)
    post, pre = blocks["PostLNBlock"], blocks["PreLNBlock"]
    for seed in (0, 1):
        assert L.versus_torch(post, norm_first=False, seed=seed) < 1e-5
        assert L.versus_torch(pre, norm_first=True, seed=seed) < 1e-5
    assert L.versus_torch(post, norm_first=True) > 0.1 and L.versus_torch(pre, norm_first=False) > 0.1


def test_the_stack_is_small_and_xavier_initialised():
    net = L.build(L.PreLNBlock, seed=0)
    n = sum(p.numel() for p in net.parameters())
    assert 100_000 < n < 500_000  # "a few hundred thousand parameters"
    w = net.blocks[0].linear1.weight.detach()
    bound = math.sqrt(6 / sum(w.shape))
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.9 * bound  # xavier_uniform_, as nn.Transformer
    tokens, target = L.reversal_batch(4, torch.Generator().manual_seed(0))
    assert torch.equal(target, tokens.flip(1)) and net(tokens).shape == (4, *tokens.shape[1:], L.sizes()["vocab"])
    with pytest.raises(ValueError, match="multiple of nhead"):
        L.SequenceTransformer(L.PreLNBlock, 2, 10, 3, 20, 16, 12)
    with pytest.raises(TypeError, match="block must be a block class"):
        L.SequenceTransformer("Pre-LN", 2, 8, 2, 16, 16, 12)


def test_gradient_norms_show_the_claims_on_seed_0():
    """The notebook's check-cell claims on its default seed (ranges over seeds 0-5 are in the report)."""
    g = L.gradient_norms(seed=0)
    assert g.rise(L.POST) > 1.15 > g.rise(L.PRE)
    assert len(g.norms[L.POST]) == L.sizes()["layers"] and "last/first" in str(g)
    with pytest.raises(ValueError, match="arm must be one of"):
        g.rise("Sandwich-LN")
    with pytest.raises(TypeError, match="arms must be a non-empty dict"):
        L.gradient_norms([L.PreLNBlock])


def test_recipe_warmup_and_bad_inputs():
    r = L.SequenceRecipe(steps=10, batch=4, lr=0.01, warmup=4)
    assert [r.rate(s) for s in range(5)] == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01])
    assert L.SequenceRecipe(steps=3, batch=4, lr=0.01).rate(0) == 0.01
    assert "no warm-up" in L.SequenceRecipe(steps=3, batch=4, lr=0.01).describe()
    assert "50 steps" in L.recipe().describe()
    with pytest.raises(ValueError, match="warmup"):
        L.SequenceRecipe(steps=3, batch=4, lr=0.01, warmup=5)
    with pytest.raises(ValueError, match="lr"):
        L.SequenceRecipe(steps=3, batch=4, lr=0.0)


def test_fit_and_train_arms_tiny(capsys):
    tiny = L.SequenceRecipe(steps=3, batch=4, lr=0.001, warmup=2)
    fit = L.fit_sequence(L.build(L.PreLNBlock), tiny, progress=False)
    assert len(fit.loss) == 3 and fit.diverged_at is None and 0 <= fit.accuracy <= 1
    tr = L.train_arms(config=tiny, progress=False)
    assert set(tr.accuracy) == {L.POST, L.POST_WARM, L.PRE} and "token accuracy" in str(tr)
    assert exercises.check_warmup_prediction("yes" if tr.trained(L.POST) else "no", tr) is True
    assert "token accuracy" in capsys.readouterr().out
    with pytest.raises(TypeError, match="must be a pair"):
        L.train_arms({"Pre-LN": L.PreLNBlock}, config=tiny, progress=False)
    with pytest.raises(TypeError, match="config must be"):
        L.train_arms(config={"steps": 2}, progress=False)
    with pytest.raises(TypeError, match="nn.Module instance"):
        L.fit_sequence(L.PreLNBlock, tiny)


def test_fit_sequence_stops_at_a_nan():
    net = L.build(L.PreLNBlock)
    with torch.no_grad():
        net.head.bias.fill_(math.nan)
    fit = L.fit_sequence(net, L.SequenceRecipe(steps=5, batch=4, lr=0.01), progress=False)
    assert fit.diverged_at == 0 and fit.final_loss() == math.inf and fit.accuracy == 1 / L.sizes()["vocab"]


def test_gradient_prediction_quotes_the_run(capsys):
    g = L.gradient_norms(seed=0, batch=32)
    side = "rise" if g.rise(L.POST) > 1.15 else "fall" if g.rise(L.POST) < 1 / 1.15 else "even"
    assert exercises.check_gradient_prediction(side, g) is True and "Post-LN's last block" in capsys.readouterr().out
    assert exercises.check_gradient_prediction("up", g) is False


# --- exercise 1: LayerNorms on the identity path ---

WRONG_COUNTS = {(6, 0): "two norms per block", (12, 12): "inside the branches", (0, 12): "Swapped",
                (13, 1): "final LayerNorm", (6, 6): "Pre-LN's norms are in the branches", (2, 0): "one block",
                (24, 0): "Follow the shortcut", (12, -1): "whole numbers", (12.5, 0): "whole numbers"}


def test_check_norm_count(capsys, rejected):
    assert exercises.check_norm_count((12, 0)) is True and "(12, 0)" in capsys.readouterr().out
    assert exercises.check_norm_count([12, 0]) is True
    capsys.readouterr()
    for answer, says in WRONG_COUNTS.items():
        rejected(exercises.check_norm_count, answer, says)
    rejected(exercises.check_norm_count, 12, "in a list or tuple")


# --- exercise 2: the Pre-LN block with GELU, right and wrong ---


def _block(mode="right", act="gelu", names=("self_attn", "linear1", "linear2", "norm1", "norm2")):
    """A Pre-LN-like block class with one thing changed (``mode``: where the norms and shortcuts are)."""

    class Block(nn.Module):
        def __init__(self, d_model, nhead, dim_feedforward):
            super().__init__()
            a, l1, l2, n1, n2 = names
            setattr(self, a, nn.MultiheadAttention(d_model, nhead, batch_first=True))
            setattr(self, l1, nn.Linear(d_model, dim_feedforward))
            setattr(self, l2, nn.Linear(dim_feedforward, d_model))
            setattr(self, n1, nn.LayerNorm(d_model))
            setattr(self, n2, nn.LayerNorm(d_model))
            self.names = names

        def forward(self, x):
            a, l1, l2, n1, n2 = (getattr(self, n) for n in self.names)
            f = nn.functional.gelu if act == "gelu" else torch.relu

            def attn(q, kv=None):
                kv = q if kv is None else kv
                return a(q, kv, kv, need_weights=False)[0]

            def ffn(h):
                return l2(f(l1(h)))

            if mode == "right":
                x = x + attn(n1(x))
                return x + ffn(n2(x))
            if mode == "post":
                x = n1(x + attn(x))
                return n2(x + ffn(x))
            if mode == "stream":
                h = n1(x)
                x = h + attn(h)
                h = n2(x)
                return h + ffn(h)
            if mode == "twice":
                x = n1(x + attn(n1(x)))
                return n2(x + ffn(n2(x)))
            if mode == "swapped":
                x = x + attn(n2(x))
                return x + ffn(n1(x))
            if mode == "one norm":
                x = x + attn(n1(x))
                return x + ffn(n1(x))
            if mode == "no ffn shortcut":
                x = x + attn(n1(x))
                return ffn(n2(x))
            if mode == "no attn shortcut":
                x = attn(n1(x))
                return x + ffn(n2(x))
            if mode == "parallel":
                return x + attn(n1(x)) + ffn(n2(x))
            if mode == "ffn first":
                x = x + ffn(n2(x))
                return x + attn(n1(x))
            if mode == "raw keys":
                x = x + attn(n1(x), x)
                return x + ffn(n2(x))
            if mode == "scaled":
                x = x + 0.5 * attn(n1(x))
                return x + ffn(n2(x))
            raise AssertionError(mode)

    return Block


class PageSubclassWithGelu(L.PreLNBlock):
    def feed_forward(self, x):
        return self.linear2(nn.functional.gelu(self.linear1(x)))


RIGHT_PRE_LN = {"the solution": exercises.solution_pre_ln_block(), "a Pre-LN block written out": _block(),
                "the page's PreLNBlock with GELU": PageSubclassWithGelu}
WRONG_PRE_LN = {  # name: (class, what the verdict must name)
    "Post-LN": (_block("post"), "that is the Post-LN block"),
    "the stream normalised (LN(x) on the shortcut)": (_block("stream"), "LN(x) instead of x"),
    "norm inside and after the addition": (_block("twice"), "normalises twice"),
    "ReLU instead of GELU": (_block(act="relu"), "uses ReLU"),
    "the page's PreLNBlock (ReLU)": (L.PreLNBlock, "uses ReLU"),
    "norm1 and norm2 swapped": (_block("swapped"), "norm1 and norm2 are swapped"),
    "one norm for both sub-layers": (_block("one norm"), "Both sub-layers read norm1"),
    "no shortcut around the FFN": (_block("no ffn shortcut"), "feed-forward sub-layer has no shortcut"),
    "no shortcut around the attention": (_block("no attn shortcut"), "attention sub-layer has no shortcut"),
    "parallel sub-layers": (_block("parallel"), "in parallel"),
    "FFN before attention": (_block("ffn first"), "before the attention"),
    "keys and values not normalised": (_block("raw keys"), "keys and values are not"),
    "other names (attn, ff1, ...)": (_block(names=("attn", "ff1", "ff2", "ln1", "ln2")), "do not load"),
    "something else (a scaled branch)": (_block("scaled"), "none of the usual mistakes"),
}


@pytest.mark.parametrize("name", RIGHT_PRE_LN)
def test_check_pre_ln_block_accepts_right_blocks(name, capsys):
    assert exercises.check_pre_ln_block(RIGHT_PRE_LN[name]) is True, capsys.readouterr().out


@pytest.mark.parametrize("name", WRONG_PRE_LN)
def test_check_pre_ln_block_names_each_mistake(name, rejected):
    rejected(exercises.check_pre_ln_block, *WRONG_PRE_LN[name])


def test_check_pre_ln_block_template_and_instances(capsys):
    class MyPreLNBlock(nn.Module):
        def __init__(self, d_model, nhead, dim_feedforward):
            super().__init__()
            raise NotImplementedError("your code here")

    assert exercises.check_pre_ln_block(MyPreLNBlock) is False and "No answer yet" in capsys.readouterr().out
    assert exercises.check_pre_ln_block(L.PreLNBlock(16, 2, 32)) is False
    assert "Pass the class itself" in capsys.readouterr().out
