"""Exercise checkers for lesson 12 (the residual stream in Transformers: Post-LN against Pre-LN; Xiong et al. 2020).

The block checker loads the weights of PyTorch's ``nn.TransformerEncoderLayer(norm_first=True, activation="gelu")``
into the learner's class and compares the outputs; when they differ, it computes, with the same weights, the outputs
of the usual mistakes (the norm after the addition, the stream itself normalised, the norms swapped, a sub-layer
without its shortcut, ...) and names the one the learner's block matches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from . import _core
from ._core import numbers, predicted, verdict
from ._structure import UNFINISHED, build, not_a_class, run

__all__ = [
    "check_norm_count", "check_gradient_prediction", "check_warmup_prediction", "check_pre_ln_block",
    "solution_norm_count", "solution_pre_ln_block", "SolutionPreLNBlock",
]

BLOCKS = 6
D_MODEL, NHEAD, FFN = 16, 2, 32


# --- exercise 1: how many LayerNorms lie on the stream? ---


def solution_norm_count() -> tuple[int, int]:
    """(Post-LN, Pre-LN): a Post-LN block puts two norms on the stream (one after each sub-layer's addition), a Pre-LN
    block none (its norms sit in the branches): 6 blocks → (12, 0)."""
    return 2 * BLOCKS, 0


_NORM_MISTAKES: list[tuple[tuple[int, int], str]] = [
    ((BLOCKS, 0), "A Post-LN block has two sub-layers, attention and feed-forward, and a norm after each addition: "
                  "two norms per block, not one."),
    ((2 * BLOCKS, 2 * BLOCKS), "Pre-LN has as many norms as Post-LN, but they sit inside the branches, x + F(LN(x)): "
                               "the identity path x → x + … never passes through them."),
    ((0, 2 * BLOCKS), "Swapped: it is Post-LN, x ← LN(x + F(x)), that normalises the stream itself."),
    ((2 * BLOCKS + 1, 1), "That counts the final LayerNorm after the last block; the question asks for the norms "
                          "between the embedding and the last block's output."),
    ((BLOCKS, BLOCKS), "Pre-LN's norms are in the branches, not on the stream; and Post-LN has two per block."),
    ((2, 0), "That is one block; the stack has 6."),
]


def check_norm_count(answer: object) -> bool:
    """Exercise 1: how many LayerNorms does the identity path (embedding → last block's output, through the
    shortcuts only) pass through in a 6-block Post-LN stack and in a 6-block Pre-LN stack? Answer (post, pre)."""
    if _core.missing(answer, "answer with two whole numbers, (Post-LN, Pre-LN), e.g. (3, 3)."):
        return False
    values = numbers(answer, 2, "whole numbers (Post-LN, Pre-LN)", "(3, 3)")
    if values is None:
        return False
    if any(v < 0 or v != int(v) for v in values):
        return verdict(False, "", f"Counts are whole numbers ≥ 0; got {_core.brief(answer)}.")
    given = (int(values[0]), int(values[1]))
    if given == solution_norm_count():
        return verdict(True, "Right: (12, 0). In Post-LN the signal from the embedding to the top is normalised "
                       "twelve times, so no block's input reaches the output unchanged: there is no identity path, "
                       "as in lesson 07's post-activation block. In Pre-LN the stream x₀ + F₁ + F₂ + … is never "
                       "normalised before the final norm: He et al. 2016's identity stream.", "")
    for wrong, why in _NORM_MISTAKES:
        if given == wrong:
            return verdict(False, "", f"Not {given}. {why}")
    return verdict(False, "", f"Not {given}. Follow the shortcut of each sub-layer: in Post-LN the sum x + F(x) goes "
                   "into a LayerNorm, in Pre-LN only the branch's input does. Count per block, then for 6 blocks.")


# --- predictions, checked against the learner's own run ---


def check_gradient_prediction(prediction: object, norms: object) -> bool:
    """Before section 2: at initialisation, from the first block to the last, do a Post-LN stack's gradient norms
    ``"rise"``, stay ``"even"`` or ``"fall"``? Checked against ``norms`` (:class:`~resnet_edu.lessons.
    lesson12_transformer_residual_stream.GradientNorms`)."""
    try:
        rise = norms.rise("Post-LN")  # type: ignore[attr-defined]
        pre = norms.rise("Pre-LN")  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError, ZeroDivisionError):
        print("❌ Pass the result of lesson.gradient_norms(...) (with its 'Post-LN' and 'Pre-LN' arms) as the second "
              "argument.")
        return False
    side = "rise" if rise > 1.15 else "fall" if rise < 1 / 1.15 else "even"
    return predicted(
        prediction, side, ("rise", "even", "fall"),
        f"Post-LN's last block gets {rise:.2f}× the gradient of its first (Pre-LN: {pre:.2f}×)",
        "In Post-LN every norm on the way down divides the gradient by the size of the sum it normalised, so the "
        "blocks near the output get the largest gradients (Xiong et al. 2020, Fig. 3); Pre-LN's gradient reaches "
        "every block through the un-normalised stream.")


def check_warmup_prediction(prediction: object, training: object) -> bool:
    """Before section 3: does the Post-LN stack train at the learning rate Pre-LN takes, with no warm-up, ``"yes"`` or
    ``"no"``? Checked against ``training`` (:class:`~resnet_edu.lessons.lesson12_transformer_residual_stream.
    ArmTraining`)."""
    try:
        post, pre = training.accuracy["Post-LN"], training.accuracy["Pre-LN"]  # type: ignore[attr-defined]
    except (AttributeError, TypeError, KeyError):
        print("❌ Pass the result of lesson.train_arms(...) (with its 'Post-LN' and 'Pre-LN' arms) as the second "
              "argument.")
        return False
    side = "yes" if post > 0.5 else "no"
    return predicted(
        prediction, side, ("yes", "no"),
        f"token accuracy {post:.1%} for Post-LN without warm-up against {pre:.1%} for Pre-LN",
        "The first full-size Adam steps move the top layers, whose gradients are the largest, so far that the "
        "Post-LN stack falls into predicting every token with the same probability and stays there; a warm-up "
        "keeps those first steps small.")


# --- exercise 2: write the Pre-LN block (with GELU) ---


def reference_layer(seed: int = 0) -> nn.TransformerEncoderLayer:
    """PyTorch's Pre-LN layer the block is held to: norm first, GELU, no dropout, batch first; the LayerNorms' γ, β
    drawn at random so that norm1 and norm2 are told apart."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FFN, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        for norm in (layer.norm1, layer.norm2):
            nn.init.normal_(norm.weight, 1.0, 0.3)
            nn.init.normal_(norm.bias, 0.0, 0.3)
    return layer.eval()


def _mistakes(t: nn.TransformerEncoderLayer) -> list[tuple[Callable[[torch.Tensor], torch.Tensor], str]]:
    """The usual wrong Pre-LN blocks, computed with ``t``'s weights, each with the sentence that names it."""
    gelu, relu = nn.functional.gelu, torch.relu

    def attn(q: torch.Tensor, kv: torch.Tensor | None = None) -> torch.Tensor:
        kv = q if kv is None else kv
        return t.self_attn(q, kv, kv, need_weights=False)[0]

    def ffn(x: torch.Tensor, act: Callable = gelu) -> torch.Tensor:
        return t.linear2(act(t.linear1(x)))

    def post(x: torch.Tensor) -> torch.Tensor:
        x = t.norm1(x + attn(x))
        return t.norm2(x + ffn(x))

    def stream_normalised(x: torch.Tensor) -> torch.Tensor:
        h = t.norm1(x)
        x = h + attn(h)
        h = t.norm2(x)
        return h + ffn(h)

    def relu_ffn(x: torch.Tensor) -> torch.Tensor:
        x = x + attn(t.norm1(x))
        return x + ffn(t.norm2(x), relu)

    def swapped(x: torch.Tensor) -> torch.Tensor:
        x = x + attn(t.norm2(x))
        return x + ffn(t.norm1(x))

    def one_norm(x: torch.Tensor) -> torch.Tensor:
        x = x + attn(t.norm1(x))
        return x + ffn(t.norm1(x))

    def no_ffn_shortcut(x: torch.Tensor) -> torch.Tensor:
        x = x + attn(t.norm1(x))
        return ffn(t.norm2(x))

    def no_attn_shortcut(x: torch.Tensor) -> torch.Tensor:
        x = attn(t.norm1(x))
        return x + ffn(t.norm2(x))

    def parallel(x: torch.Tensor) -> torch.Tensor:
        return x + attn(t.norm1(x)) + ffn(t.norm2(x))

    def ffn_first(x: torch.Tensor) -> torch.Tensor:
        x = x + ffn(t.norm2(x))
        return x + attn(t.norm1(x))

    def raw_keys(x: torch.Tensor) -> torch.Tensor:
        x = x + attn(t.norm1(x), x)
        return x + ffn(t.norm2(x))

    def norm_after_too(x: torch.Tensor) -> torch.Tensor:
        x = t.norm1(x + attn(t.norm1(x)))
        return t.norm2(x + ffn(t.norm2(x)))

    return [
        (post, "The norm comes after the addition, LN(x + F(x)): that is the Post-LN block (norm_first=False). "
               "Pre-LN normalises only the branch's input: x + F(LN(x))."),
        (stream_normalised, "You add the branch to LN(x) instead of x: LN(x) + F(LN(x)) normalises the stream at "
                            "every sub-layer, so the identity path is gone. Keep the un-normalised x on the "
                            "shortcut: x + F(LN(x))."),
        (norm_after_too, "Your block normalises twice, inside the branch and after the addition: the norm after "
                         "the sum makes it a Post-LN block again. Return x + F(LN(x)) with nothing after it."),
        (relu_ffn, "The block is right, but the feed-forward uses ReLU: this layer has activation=\"gelu\", so use "
                   "nn.functional.gelu between linear1 and linear2."),
        (swapped, "norm1 and norm2 are swapped: in PyTorch's layer norm1 feeds the attention and norm2 the "
                  "feed-forward."),
        (one_norm, "Both sub-layers read norm1: each sub-layer has its own norm (norm1 before the attention, norm2 "
                   "before the feed-forward)."),
        (no_ffn_shortcut, "The feed-forward sub-layer has no shortcut: it returns FFN(LN(x)) instead of "
                          "x + FFN(LN(x)), so the stream stops there."),
        (no_attn_shortcut, "The attention sub-layer has no shortcut: x ← Attn(LN(x)) throws the stream away; it "
                           "should be x ← x + Attn(LN(x))."),
        (parallel, "Your sub-layers run in parallel, x + Attn(LN(x)) + FFN(LN(x)) (GPT-J's block): in PyTorch's layer "
                   "the feed-forward reads the stream *after* the attention has been added."),
        (ffn_first, "The feed-forward runs before the attention: PyTorch's layer (and the Transformer) attends first, "
                    "then applies the feed-forward."),
        (raw_keys, "The attention's query is normalised but its keys and values are not: the branch is "
                   "Attn(LN(x)), with LN(x) as query, key and value."),
    ]


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5))


def check_pre_ln_block(answer: object) -> bool:
    """Exercise 2: a class ``(d_model, nhead, dim_feedforward)`` computing the Pre-LN block with GELU, with the
    parameter names of ``nn.TransformerEncoderLayer`` so that its weights load."""
    if answer is None or answer is Ellipsis:
        print("✏️  No answer yet: write your class, then answer = MyPreLNBlock and run this cell again.")
        return False
    why = not_a_class(answer, "MyPreLNBlock")
    if why:
        return verdict(False, "", why)
    module, why = build(answer, D_MODEL, NHEAD, FFN)
    if module is None:
        if why.startswith(UNFINISHED):
            print(f"✏️  No answer yet: your class is {why}")
            return False
        return verdict(False, "", f"Your class could not be built: {why}.")
    ref = reference_layer()
    try:
        module.load_state_dict(ref.state_dict())
    except RuntimeError as err:
        first = str(err).split("\n\t", 1)[-1].split("\n")[0][:300]
        return verdict(False, "", "PyTorch's weights do not load into your block: use nn.TransformerEncoderLayer's "
                       "names and shapes, self_attn = nn.MultiheadAttention(d_model, nhead, batch_first=True), "
                       "linear1 = nn.Linear(d_model, dim_feedforward), linear2 = nn.Linear(dim_feedforward, d_model), "
                       f"norm1, norm2 = nn.LayerNorm(d_model) (and nothing else with weights). PyTorch says: {first}")
    x = torch.randn(3, 7, D_MODEL, generator=torch.Generator().manual_seed(1))
    out, why = run(module, x)
    if out is None:
        if why.startswith(UNFINISHED):
            print(f"✏️  No answer yet: your class is {why}")
            return False
        return verdict(False, "", f"Your block {why}: it takes a (batch, tokens, d_model) tensor and returns one.")
    if out.shape != x.shape:
        return verdict(False, "", f"Your block must return a tensor shaped like its input {tuple(x.shape)}; got "
                       f"{tuple(out.shape)}. Is the attention batch_first=True, and does it return [0] of "
                       "self_attn(...)?")
    with torch.no_grad():
        target = ref(x)
        if _close(out, target):
            return verdict(True, "Your block computes what nn.TransformerEncoderLayer(norm_first=True, "
                           f"activation=\"gelu\") computes with the same weights (max |Δ| = "
                           f"{float((out - target).abs().max()):.1e}): the norm inside each branch, the stream "
                           "itself never normalised.", "")
        for mistake, sentence in _mistakes(ref):
            if _close(out, mistake(x)):
                return verdict(False, "", sentence)
    gap = float((out - target).abs().max())
    return verdict(False, "", f"Your block's output differs from PyTorch's Pre-LN layer with the same weights (max "
                   f"|Δ| = {gap:.3g}) in a way none of the usual mistakes explains. Write it as two lines: "
                   "x = x + Attn(norm1(x)), then x + linear2(gelu(linear1(norm2(x)))).")


class SolutionPreLNBlock(nn.Module):
    """Exercise 2's solution: the Pre-LN block with GELU, with nn.TransformerEncoderLayer's names."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h, need_weights=False)[0]  # x + Attn(LN(x))
        return x + self.linear2(nn.functional.gelu(self.linear1(self.norm2(x))))  # x + FFN(LN(x))


def solution_pre_ln_block() -> type[nn.Module]:
    """The class :class:`SolutionPreLNBlock` (print it with ``inspect.getsource``)."""
    return SolutionPreLNBlock
