"""The residual stream in Transformers: Post-LN against Pre-LN (lesson 12).

Xiong et al. 2020 (§3, Fig. 3): in the original Transformer (Vaswani et al. 2017) every sub-layer is followed by a
LayerNorm *after* the addition, x ← LN(x + F(x)) (Post-LN, lesson 07's post-activation block); at initialisation the
gradients of the layers near the output are the largest, and a large learning rate from the first step makes training
fail, which a learning-rate warm-up prevents. With the norm *inside* the branch, x ← x + F(LN(x)) (Pre-LN, He et al.
2016's identity stream), the per-layer gradients are even and the same learning rate works without warm-up.

The two blocks are written on the notebook's page with the names of PyTorch's ``nn.TransformerEncoderLayer``
(``self_attn``, ``linear1``, ``linear2``, ``norm1``, ``norm2``), so that layer's weights load into them and
:func:`versus_torch` measures the difference of the outputs. This module holds the same classes (a test keeps the
page's equal to them), the small Transformer they are stacked into (:class:`SequenceTransformer`), the task (reversing
a sequence of tokens), the sequence training loop (:func:`fit_sequence`) and the two experiments the page runs:

* :func:`gradient_norms` — the gradient norm of every layer's weights at initialisation;
* :func:`train_arms` — the same stack trained with and without warm-up, at the same learning rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from .. import _checks
from .. import work as _work
from ..nets import count_flops
from ..runtime import device, one_thread, scale, seeded

MAX_LAYERS = 96  # the most blocks a stack may have (a bound that keeps a run finite)
POST, POST_WARM, PRE = "Post-LN", "Post-LN + warm-up", "Pre-LN"  # the arms' names the page and the checkers share


# --- the blocks (the notebook writes the same classes on its page) ---


class PostLNBlock(nn.Module):
    """x ← LN(x + Attn(x)), then x ← LN(x + FFN(x)): the original Transformer's encoder layer (Vaswani et al. 2017,
    §3.1), with the names of ``nn.TransformerEncoderLayer(norm_first=False)`` (no dropout, ReLU)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        return self.self_attn(x, x, x, need_weights=False)[0]

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(torch.relu(self.linear1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attention(x))  # LN(x + F(x)): the norm after the addition
        return self.norm2(x + self.feed_forward(x))


class PreLNBlock(PostLNBlock):
    """x ← x + Attn(LN(x)), then x ← x + FFN(LN(x)): the norm inside the branch, the stream itself never normalised
    (Xiong et al. 2020, Fig. 1; ``nn.TransformerEncoderLayer(norm_first=True)``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))  # x + F(LN(x)): the identity stream of He et al. 2016
        return x + self.feed_forward(self.norm2(x))


# --- the net, the task and the sizes per scale ---


SIZES = {"cpu": {"layers": 6, "d_model": 64, "nhead": 4, "dim_feedforward": 128, "length": 12, "vocab": 16},
         "gpu": {"layers": 12, "d_model": 128, "nhead": 8, "dim_feedforward": 512, "length": 24, "vocab": 32}}


def sizes(scale_: str | None = None) -> dict[str, int]:
    """The stack and the task at this scale (or at ``scale_``): blocks, width, heads, FFN width, sequence length,
    vocabulary; the paper scale keeps the gpu sizes."""
    return dict(SIZES["cpu" if _work.check_scale(scale_) == "cpu" else "gpu"])


class SequenceTransformer(nn.Module):
    """token embedding + learned positions → ``layers`` blocks → LayerNorm → linear head (one logit per token).

    The weight matrices of the blocks are Xavier-initialised, as ``nn.Transformer`` does (its ``_reset_parameters``);
    the final LayerNorm is there for both blocks, as in ``nn.Transformer``'s encoder (a Pre-LN stack needs it, after a
    Post-LN stack it changes nothing at initialisation)."""

    def __init__(self, block: type[nn.Module], layers: int, d_model: int, nhead: int, dim_feedforward: int,
                 vocab: int, length: int) -> None:
        super().__init__()
        if not callable(block):
            raise TypeError(f"block must be a block class taking (d_model, nhead, dim_feedforward); got {block!r}")
        _checks.integer("layers", layers, low=1, high=MAX_LAYERS)
        _checks.integer("d_model", d_model, low=1, high=4096)
        _checks.integer("nhead", nhead, low=1, high=d_model)
        if d_model % nhead:
            raise ValueError(f"d_model must be a multiple of nhead; got d_model={d_model}, nhead={nhead}")
        self.embed = nn.Embedding(_checks.integer("vocab", vocab, low=2, high=100_000), d_model)
        self.pos = nn.Parameter(torch.randn(_checks.integer("length", length, low=1, high=4096), d_model))
        self.blocks = nn.ModuleList([block(d_model, nhead, dim_feedforward) for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)
        for p in self.blocks.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens) + self.pos  # the residual stream starts here
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def build(block: type[nn.Module], seed: int = 0) -> SequenceTransformer:
    """The stack of :func:`sizes` with ``block``, its weights drawn from ``seed`` (the caller's stream left alone)."""
    s = sizes()
    with seeded(_checks.seed(seed)):
        return SequenceTransformer(block, s["layers"], s["d_model"], s["nhead"], s["dim_feedforward"], s["vocab"],
                                   s["length"])


def reversal_batch(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random token sequences of :func:`sizes`' length and vocabulary, and the same sequences reversed (the
    target: every output position must attend to its mirror position)."""
    s = sizes()
    tokens = torch.randint(0, s["vocab"], (_checks.integer("n", n, low=1, high=1 << 20), s["length"]),
                           generator=generator)
    return tokens, tokens.flip(1)


def _loss(net: nn.Module, tokens: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    logits = net(tokens)
    return nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten())


# --- the blocks against PyTorch's own layer ---


def versus_torch(block: type[nn.Module], norm_first: bool, seed: int = 0) -> float:
    """Load the weights of ``nn.TransformerEncoderLayer(norm_first=...)`` (no dropout, ReLU, batch first) into
    ``block`` and return the max-abs difference of the two outputs on a random batch (LayerNorms' γ and β drawn too,
    so that norm1 and norm2 are told apart). A state_dict that does not load raises torch's own error."""
    _checks.flag("norm_first", norm_first)
    s = sizes()
    with seeded(_checks.seed(seed)):
        theirs = nn.TransformerEncoderLayer(s["d_model"], s["nhead"], s["dim_feedforward"], dropout=0.0,
                                            batch_first=True, norm_first=norm_first)
        for norm in (theirs.norm1, theirs.norm2):
            nn.init.normal_(norm.weight, 1.0, 0.2)
            nn.init.normal_(norm.bias, 0.0, 0.2)
        mine = block(s["d_model"], s["nhead"], s["dim_feedforward"])
        x = torch.randn(4, s["length"], s["d_model"])
    mine.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        return float((mine.eval()(x) - theirs.eval()(x)).abs().max())


# --- 1. the gradient norm of every layer at initialisation ---


@dataclass
class GradientNorms:
    """Per arm: the gradient norm of each block's weight matrices (attention's in/out projections, linear1, linear2)
    at initialisation, first block first, for one batch of the task."""

    norms: dict[str, list[float]]

    def _arm(self, arm: str) -> str:
        if arm not in self.norms:
            raise ValueError(f"arm must be one of {', '.join(map(repr, self.norms))}; got {arm!r}")
        return arm

    def rise(self, arm: str) -> float:
        """Last block's gradient norm / first block's: above 1 when the gradients grow toward the output."""
        values = self.norms[self._arm(arm)]
        return values[-1] / values[0]

    def __str__(self) -> str:
        lines = ["gradient norm of each block's weights at initialisation (block 1 = next to the input)"]
        for arm, values in self.norms.items():
            lines.append(f"{arm:>8}: " + " ".join(f"{v:.3f}" for v in values) + f" · last/first {self.rise(arm):.2f}")
        return "\n".join(lines)

    def plot(self):  # noqa: ANN201 (matplotlib Axes)
        """The gradient norm per block, one line per arm (Xiong et al. 2020, Fig. 3)."""
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 3.5))
        for arm, values in self.norms.items():
            ax.plot(range(1, len(values) + 1), values, marker="o", label=arm)
        ax.set(xlabel="block (1 = next to the input)", ylabel="‖∂L/∂W‖ of the block's weights", ylim=(0, None),
               title="Gradient norms at initialisation")
        ax.grid(True, alpha=0.3)
        ax.legend()
        return ax


def _check_arms(arms: object, what: str, example: str) -> dict:
    if not isinstance(arms, Mapping) or not arms or not all(isinstance(k, str) for k in arms):
        raise TypeError(f"arms must be a non-empty dict {{name: {what}}}, e.g. {example}; got {type(arms).__name__}")
    return dict(arms)


def gradient_norms(arms: Mapping[str, type[nn.Module]] | None = None, seed: int = 0,
                   batch: int = 256) -> GradientNorms:
    """Build every arm's stack at initialisation and backpropagate the loss of one batch of reversals through it."""
    arms = {POST: PostLNBlock, PRE: PreLNBlock} if arms is None else _check_arms(
        arms, "block class", "{'Pre-LN': PreLNBlock}")
    _checks.integer("batch", batch, low=1, high=65_536)
    tokens, target = reversal_batch(batch, torch.Generator().manual_seed(_checks.seed(seed) + 1000))
    norms = {}
    with one_thread():
        for name, block in arms.items():
            net = build(block, seed)
            _loss(net, tokens, target).backward()
            norms[name] = [float(torch.cat([p.grad.flatten() for p in b.parameters() if p.dim() > 1]).norm())
                           for b in net.blocks]
    return GradientNorms(norms)


# --- 2. training: the recipe, the loop and the arms ---


@dataclass(frozen=True)
class SequenceRecipe:
    """Adam with the original Transformer's β = (0.9, 0.98), ε = 1e-9 (Vaswani et al. 2017, §5.3) at a constant
    learning rate ``lr``, reached after a linear warm-up of ``warmup`` steps (0: the full rate from the first step)."""

    steps: int
    batch: int
    lr: float
    warmup: int = 0

    def __post_init__(self) -> None:
        _checks.integer("steps", self.steps, low=1, high=10**7)
        _checks.integer("batch", self.batch, low=1, high=65_536)
        _checks.number("lr", self.lr, low=0, low_inclusive=False)
        _checks.integer("warmup", self.warmup, low=0, high=self.steps)

    def rate(self, step: int) -> float:
        """The learning rate at ``step`` (0-based): lr·min(1, (step + 1) / warmup)."""
        return self.lr * min(1.0, (step + 1) / self.warmup) if self.warmup else self.lr

    def describe(self) -> str:
        warm = f"linear warm-up over {self.warmup} steps" if self.warmup else "no warm-up"
        return f"Adam lr {self.lr:g}, {warm}, {self.steps} steps of batch {self.batch}"


RECIPES = {"cpu": SequenceRecipe(steps=150, batch=32, lr=0.01, warmup=50),
           "gpu": SequenceRecipe(steps=1000, batch=128, lr=0.01, warmup=200)}
EVAL_SEQUENCES = 512  # held-out reversals each run is scored on


def recipe(scale_: str | None = None) -> SequenceRecipe:
    """CPU: 150 steps of 32 reversals at lr 0.01 (warm-up arms: 50 steps). GPU: 1,000 steps of 128 at lr 0.01
    (warm-up 200) for the 12-block stack of :func:`sizes` (≈ 2.4 M weights, 24 tokens: ≈ 0.3 ResNet-56 per sequence
    by FLOPs, 3 arms ≈ 0.12 M ResNet-56-equivalent images by :func:`work`; unmeasured on a GPU)."""
    return RECIPES["cpu" if _work.check_scale(scale_) == "cpu" else "gpu"]


def work(scale_: str | None = None) -> _work.Work:
    """What :func:`train_arms` trains at ``scale_`` (the three arms, one held-out pass each), in ResNet-56-equivalent
    images: one sequence counts as one image, at the stack's forward FLOPs on one sequence (benchmarks/work.py)."""
    chosen = _work.check_scale(scale_)
    s, config = sizes(chosen), recipe(chosen)
    with seeded(0):
        net = SequenceTransformer(PreLNBlock, s["layers"], s["d_model"], s["nhead"], s["dim_feedforward"], s["vocab"],
                                  s["length"])
    flops = count_flops(net, torch.zeros(1, s["length"], dtype=torch.long))
    items = [_work.Item(name, flops, config.steps * config.batch, EVAL_SEQUENCES) for name in default_arms()]
    return _work.Work("12", chosen, items, note="sequences of tokens, counted as images")


@dataclass
class SequenceFit:
    """One run of :func:`fit_sequence`: the training loss per step, the token accuracy on held-out reversals, the
    seconds it took, and the step at which the loss became NaN or inf (None if it never did)."""

    loss: list[float]
    accuracy: float
    seconds: float
    diverged_at: int | None = None

    def final_loss(self, last: int = 20) -> float:
        """The mean training loss over the ``last`` steps (inf after a divergence)."""
        return math.inf if self.diverged_at is not None else sum(self.loss[-last:]) / len(self.loss[-last:])


def fit_sequence(net: nn.Module, config: SequenceRecipe, seed: int = 0, progress: bool = True,
                 label: str = "") -> SequenceFit:
    """Train ``net`` on reversals with ``config`` (batches drawn from ``seed``) and measure its token accuracy on
    512 held-out sequences. The lesson's own loop: ``resnet_edu.train.fit`` trains image classifiers."""
    from tqdm.auto import tqdm

    _checks.module("net", net)
    if not isinstance(config, SequenceRecipe):
        raise TypeError(f"config must be a SequenceRecipe (lesson.recipe()); got {type(config).__name__}")
    _checks.flag("progress", progress)
    dev = device()
    net = net.to(dev).train()
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(0.9, 0.98), eps=1e-9)
    generator = torch.Generator().manual_seed(_checks.seed(seed) + 1)
    losses: list[float] = []
    diverged = None
    start = time.perf_counter()
    for step in tqdm(range(config.steps), desc=label or "training", disable=not progress, leave=False):
        for group in opt.param_groups:
            group["lr"] = config.rate(step)
        tokens, target = (t.to(dev) for t in reversal_batch(config.batch, generator))
        loss = _loss(net, tokens, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            diverged = step
            break
    net.eval()
    with torch.no_grad():
        held_out = torch.Generator().manual_seed(seed + 10_000)
        tokens, target = (t.to(dev) for t in reversal_batch(EVAL_SEQUENCES, held_out))
        accuracy = float((net(tokens).argmax(-1) == target).float().mean())
    return SequenceFit(losses, accuracy if diverged is None else 1 / sizes()["vocab"], time.perf_counter() - start,
                       diverged)


@dataclass
class ArmTraining:
    """Per arm, the :class:`SequenceFit` of :func:`train_arms`, and the recipe they shared."""

    results: dict[str, SequenceFit]
    recipe: SequenceRecipe
    chance: float
    accuracy: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        self.accuracy = {name: r.accuracy for name, r in self.results.items()}

    def trained(self, arm: str, low: float = 0.5) -> bool:
        """Whether ``arm`` ends above ``low`` token accuracy on held-out reversals."""
        if arm not in self.results:
            raise ValueError(f"arm must be one of {', '.join(map(repr, self.results))}; got {arm!r}")
        return self.accuracy[arm] > low

    def __str__(self) -> str:
        s = sizes()
        lines = [f"scale {scale()}: {s['layers']} blocks of width {s['d_model']}, reversing {s['length']} tokens; "
                 f"{self.recipe.describe()} (warm-up arms: {self.recipe.warmup} steps); chance {self.chance:.1%}"]
        for name, r in self.results.items():
            state = f"NaN at step {r.diverged_at}" if r.diverged_at is not None else f"loss {r.final_loss():.3f}"
            lines.append(f"{name:>18}: token accuracy {r.accuracy:6.1%} · final training {state} · {r.seconds:.1f} s")
        return "\n".join(lines)

    def plot(self, smooth: int = 5):  # noqa: ANN201 (matplotlib Axes)
        """The training loss of every arm (moving average of ``smooth`` steps, log scale), chance as a line."""
        import matplotlib.pyplot as plt

        from ..viz import moving_average

        _, ax = plt.subplots(figsize=(7, 3.5))
        for name, r in self.results.items():
            ax.plot(range(1, len(r.loss) + 1), moving_average(r.loss, smooth), label=name)
        ax.axhline(math.log(1 / self.chance), color="k", ls=":", label="chance: ln(vocab)")
        ax.axvline(self.recipe.warmup, color="grey", ls="--", lw=0.8, label="end of warm-up")
        ax.set(yscale="log", xlabel="training step", ylabel=f"training loss (moving average of {smooth})",
               title=f"Reversal, the same learning rate {self.recipe.lr:g} for every arm")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        return ax


def default_arms() -> dict[str, tuple[type[nn.Module], bool]]:
    """The three runs the lesson compares: Post-LN without and with warm-up, Pre-LN without."""
    return {POST: (PostLNBlock, False), POST_WARM: (PostLNBlock, True), PRE: (PreLNBlock, False)}


def train_arms(arms: Mapping[str, tuple[type[nn.Module], bool]] | None = None, seed: int = 0, progress: bool = True,
               config: SequenceRecipe | None = None) -> ArmTraining:
    """Train every arm ``{name: (block class, warm-up?)}`` from the same seed (weights and batches) with
    :func:`recipe` (or ``config``): the same learning rate, with the recipe's warm-up or none."""
    arms = default_arms() if arms is None else _check_arms(arms, "(block class, warm-up?)",
                                                           "{'Pre-LN': (PreLNBlock, False)}")
    for name, arm in arms.items():
        if not (isinstance(arm, tuple) and len(arm) == 2 and callable(arm[0]) and isinstance(arm[1], bool)):
            raise TypeError(f"arms[{name!r}] must be a pair (block class, warm-up? True/False); got {arm!r}")
    config = recipe() if config is None else config
    if not isinstance(config, SequenceRecipe):
        raise TypeError(f"config must be a SequenceRecipe or None; got {type(config).__name__}")
    results = {}
    with one_thread():
        for name, (block, warm) in arms.items():
            run = config if warm else replace(config, warmup=0)
            results[name] = fit_sequence(build(block, seed), run, seed, progress, name)
    return ArmTraining(results, config, 1 / sizes()["vocab"])
