"""One attention layer of a real TinyTransformer, opened up step by step (lesson 01b).

Lesson 01 ends with q, k and v given; lesson 02 opens on a trained two-layer, two-head
model. This module is the bridge: it runs one layer of a ``TinyTransformer`` (the model
lessons 02 and 03 read) with the model's own weights and the same operators its
``Attention`` uses (``kernels.attention.split_heads``, ``multi_head_attention``,
``merge_heads``, ``mixers.apply_rope``), and keeps every intermediate:

    x (T, d_model)                      the residual stream entering the layer
    LN(x) @ W_Q, W_K, W_V               the projections, (T, d_model) each
    split into H heads                  (H, T, d_head), d_head = d_model / H
    RoPE (if the model has it)          q and k rotated by their positions
    scores = q kᵀ / √d_head             (H, T, T), −∞ above the diagonal (causal mask)
    weights = softmax(scores)           (H, T, T)
    z = weights @ v                     (H, T, d_head), one output per head
    merge + W_O                         (T, d_model) = Σ_h z_h W_O[h-th block of rows]
    output = x + attention + MLP        the residual stream leaving the layer

Sources: "Attention Is All You Need" (Vaswani et al. 2017, arXiv:1706.03762, §3.2: scaled
dot-product and multi-head attention, the causal mask of the decoder); "RoFormer: Enhanced
Transformer with Rotary Position Embedding" (Su et al. 2021, arXiv:2104.09864, §3.4: the
rotated q·k depends on positions only through m − n); "A Mathematical Framework for
Transformer Circuits" (Elhage et al. 2021, transformer-circuits.pub): each head reads
from and writes into a residual stream, and the writes add up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from attnviz.kernels.attention import merge_heads, multi_head_attention, split_heads
from attnviz.mixers import Attention, apply_rope
from attnviz.models import TinyTransformer
from attnviz.validation import as_tensor, check_bool, check_int, short_repr

__all__ = [
    "LESSON_TOKENS",
    "LayerWalkthrough",
    "diagonal_spread",
    "head_writes",
    "layer_walkthrough",
    "position_scores",
    "shift_change",
]

#: the sequence lesson 01b walks through: six tokens, then the same six again (the
#: lesson models were trained on repeats, so the second half shows their induction head)
LESSON_TOKENS = (5, 17, 3, 29, 11, 40, 5, 17, 3, 29, 11, 40)


@dataclass(frozen=True)
class LayerWalkthrough:
    """Every intermediate of one attention layer on one sequence (``layer_walkthrough``).

    T tokens, H heads, d = d_model, d_head = d / H; the projections act on rows
    (``q = normed @ w_q``), as in the lesson's formulas.
    """

    tokens: np.ndarray  # (T,) token ids
    positions: np.ndarray  # (T,) the positions they sit at: offset, offset + 1, ...
    layer: int
    positional: str  # "learned", "rope" or "none": the model's positions
    causal: bool
    x: np.ndarray  # (T, d) the residual stream entering the layer
    normed: np.ndarray  # (T, d) LN(x), what the projections read
    w_q: np.ndarray  # (d, d)
    w_k: np.ndarray  # (d, d)
    w_v: np.ndarray  # (d, d)
    w_o: np.ndarray  # (d, d): attention_out = merged @ w_o
    q: np.ndarray  # (H, T, d_head), rotated by position under RoPE
    k: np.ndarray  # (H, T, d_head), rotated by position under RoPE
    v: np.ndarray  # (H, T, d_head)
    scores: np.ndarray  # (H, T, T) q·k / √d_head, −inf where the causal mask hides a key
    weights: np.ndarray  # (H, T, T) softmax of each row of scores
    z: np.ndarray  # (H, T, d_head) weights @ v: each head's output
    merged: np.ndarray  # (T, d) the heads side by side (merge_heads)
    head_writes: np.ndarray  # (H, T, d) what each head adds to the residual stream
    attention_out: np.ndarray  # (T, d) merged @ w_o, the sum of the head writes
    mlp_out: np.ndarray  # (T, d) the MLP's write (zeros in an attention-only model)
    output: np.ndarray  # (T, d) x + attention_out + mlp_out
    # the real Block.forward on x (the model's own code), where the walkthrough's settings
    # are the model's (its causal mask; offset 0 under RoPE); None otherwise
    block_output: np.ndarray | None

    @property
    def n_heads(self) -> int:
        """H, the number of heads."""
        return int(self.q.shape[0])

    @property
    def d_head(self) -> int:
        """d_head = d_model / H, the width of one head's q, k and v."""
        return int(self.q.shape[-1])

    @property
    def decomposition_gap(self) -> float:
        """max |x + Σ_h head_writes[h] + mlp_out − the layer's output|: rounding only. The
        output is the model's own ``block_output`` where there is one, else ``output``."""
        target = self.output if self.block_output is None else self.block_output
        rebuilt = self.x + self.head_writes.sum(axis=0) + self.mlp_out
        return float(np.abs(rebuilt - target).max())

    @property
    def has_mlp(self) -> bool:
        """Whether the layer has an MLP (the lesson models are attention-only)."""
        return bool(np.any(self.mlp_out))


def _check_model(model: Any) -> TinyTransformer:
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {short_repr(model)}")
    config = model.config
    if config.mixer != "attention" or config.operator != "softmax":
        raise ValueError(
            "model must use softmax attention (mixer='attention', operator='softmax'), got "
            f"mixer={config.mixer!r}, operator={config.operator!r}"
        )
    if config.mask is not None or config.short_conv:
        raise ValueError(
            "model must have no sparse mask and no short convolution (the walkthrough shows "
            f"plain causal attention), got mask={config.mask!r}, short_conv={config.short_conv}"
        )
    return model


def _check_tokens(tokens: Any, vocab_size: int, longest: int) -> torch.Tensor:
    """Token ids, a 1-D sequence of ints in [0, vocab_size), 1 to ``longest`` of them."""
    if isinstance(tokens, torch.Tensor | np.ndarray):
        array = tokens.detach().cpu().numpy() if isinstance(tokens, torch.Tensor) else tokens
        if array.dtype.kind not in "iu" or array.ndim != 1:
            raise TypeError(
                f"tokens must be a 1-D sequence of integer token ids, got an array of dtype "
                f"{array.dtype} and shape {array.shape}"
            )
        ids = [int(t) for t in array]
    elif isinstance(tokens, Sequence) and not isinstance(tokens, str | bytes):
        ids = [check_int(f"tokens[{i}]", t) for i, t in enumerate(tokens)]
    else:
        raise TypeError(f"tokens must be a sequence of integer token ids, got {short_repr(tokens)}")
    if not 1 <= len(ids) <= longest:
        raise ValueError(f"tokens must hold 1 to {longest} token ids, got {len(ids)}")
    if min(ids) < 0 or max(ids) >= vocab_size:
        raise ValueError(
            f"tokens must be ids in [0, {vocab_size - 1}] (the model's vocab_size = "
            f"{vocab_size}), got values in [{min(ids)}, {max(ids)}]"
        )
    return torch.tensor(ids, dtype=torch.long)


def _embed(model: TinyTransformer, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """The residual stream entering layer 0: token embedding (+ learned position), (T, d)."""
    x = model.embed(ids)  # (T, d_model)
    if model.pos_embed is not None:
        x = x + model.pos_embed.weight[positions]  # (T, d_model)
    return x


def _rotate(attn: Attention, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """q or k (..., T, d_head) rotated by RoPE at ``positions``: the model's own tables."""
    return apply_rope(x, attn.rope_cos[positions], attn.rope_sin[positions])


def _projections(attn: Attention) -> tuple[torch.Tensor, ...]:
    """W_Q, W_K, W_V and W_O as (d, d) matrices acting on rows (x @ W)."""
    d = attn.d_model
    w_qkv = attn.qkv.weight  # (3d, d): nn.Linear computes x @ weight.T
    return w_qkv[:d].T, w_qkv[d : 2 * d].T, w_qkv[2 * d :].T, attn.out.weight.T


def head_writes(z: Any, w_o: Any) -> torch.Tensor:
    """What each head writes into the residual stream: z_h @ W_O[h·d_head : (h+1)·d_head].

    ``z`` holds the heads' outputs (..., H, T, d_head), ``w_o`` the output projection
    (H·d_head, d_model), acting on rows. Returns (..., H, T, d_model); their sum over heads
    is ``merge_heads(z) @ w_o``, the concatenate-then-project of "Attention Is All You
    Need" (arXiv:1706.03762, §3.2.2), because W_O's rows split into one block per head
    (lesson 01b).
    """
    z = as_tensor("z", z, min_dim=3, finite=True, layout="(..., H, T, d_head)")
    w_o = as_tensor("w_o", w_o, ndim=2, finite=True, layout="(H·d_head, d_model)")
    n_heads, d_head = z.shape[-3], z.shape[-1]
    if w_o.shape[0] != n_heads * d_head:
        raise ValueError(
            f"w_o must have H·d_head = {n_heads}·{d_head} = {n_heads * d_head} rows for z of "
            f"shape {tuple(z.shape)}, got shape {tuple(w_o.shape)}"
        )
    dtype = torch.promote_types(z.dtype, w_o.dtype)
    blocks = w_o.to(dtype).reshape(n_heads, d_head, w_o.shape[1])  # (H, d_head, d_model)
    return torch.einsum("...htd,hde->...hte", z.to(dtype), blocks)  # (..., H, T, d_model)


@torch.no_grad()
def layer_walkthrough(
    model: TinyTransformer,
    tokens: Sequence[int],
    *,
    layer: int = 0,
    offset: int = 0,
    causal: bool | None = None,
) -> LayerWalkthrough:
    """Run one layer of ``model`` on ``tokens`` step by step and keep every intermediate.

    ``model``: a softmax-attention ``TinyTransformer`` without a sparse mask (the lesson
    models of ``attnviz.lesson_models``); ``tokens``: 1-D token ids; ``layer``: which block
    (the residual stream entering it is computed by the blocks before it); ``offset``:
    the tokens sit at positions offset, offset + 1, ... (offset + T at most the model's
    context); ``causal``: the mask (None: the model's own). The computation uses the
    model's weights and the operators its ``Attention.forward`` uses, so ``output`` equals
    ``block_output``, what the model's own ``Block`` computes (lesson 01b).
    """
    model = _check_model(model)
    config = model.config
    ids = _check_tokens(tokens, config.vocab_size, config.context)
    layer = check_int("layer", layer, low=0, high=config.n_layers - 1)
    offset = check_int("offset", offset, low=0, high=config.context - len(ids))
    causal = config.causal if causal is None else check_bool("causal", causal)
    seq_len = len(ids)
    positions = torch.arange(offset, offset + seq_len)  # (T,)
    rope = config.positional == "rope"

    x = _embed(model, ids, positions)[None]  # (1, T, d_model)
    for block in model.blocks[:layer]:
        if rope and offset:  # earlier layers must see the same shifted positions
            x = _walk(block, x, positions, causal=config.causal)["output"]
        else:
            x = block(x)  # (1, T, d_model)
    block = model.blocks[layer]
    steps = _walk(block, x, positions, causal=causal)
    own = causal == config.causal and (not rope or offset == 0)
    block_output = block(x)[0].numpy() if own else None  # the model's own code
    w_q, w_k, w_v, w_o = (w.numpy() for w in _projections(block.attn))
    return LayerWalkthrough(
        tokens=ids.numpy(),
        positions=positions.numpy(),
        layer=layer,
        positional=config.positional,
        causal=causal,
        **{name: value[0].numpy() for name, value in steps.items()},
        w_q=w_q,
        w_k=w_k,
        w_v=w_v,
        w_o=w_o,
        block_output=block_output,
    )


def _walk(block: Any, x: torch.Tensor, positions: torch.Tensor, *, causal: bool) -> dict:
    """One block on x (1, T, d_model), step by step: every intermediate, batch first."""
    attn = block.attn
    w_q, w_k, w_v, w_o = _projections(attn)
    normed = block.ln_attn(x)  # (1, T, d_model)
    q, k, v = (split_heads(normed @ w, attn.n_heads) for w in (w_q, w_k, w_v))  # (1, H, T, d_head)
    if attn.rope:
        q, k = _rotate(attn, q, positions), _rotate(attn, k, positions)
    z, weights = multi_head_attention(q, k, v, causal=causal)  # (1, H, T, d_head), (1, H, T, T)
    scores = q @ k.mT / math.sqrt(attn.d_head)  # (1, H, T, T)
    if causal:
        seq_len = x.shape[1]
        future = torch.ones(seq_len, seq_len, dtype=torch.bool).triu(1)  # key after query
        scores = scores.masked_fill(future, float("-inf"))
    merged = merge_heads(z)  # (1, T, d_model)
    attention_out = merged @ w_o  # (1, T, d_model)
    after_attention = x + attention_out
    mlp_out = (
        block.mlp(block.ln_mlp(after_attention))
        if block.mlp is not None
        else torch.zeros_like(after_attention)
    )  # (1, T, d_model)
    return dict(
        x=x,
        normed=normed,
        q=q,
        k=k,
        v=v,
        scores=scores,
        weights=weights,
        z=z,
        merged=merged,
        head_writes=head_writes(z, w_o),  # (1, H, T, d_model)
        attention_out=attention_out,
        mlp_out=mlp_out,
        output=after_attention + mlp_out,
    )


@torch.no_grad()
def position_scores(
    model: TinyTransformer,
    query_token: int,
    key_token: int,
    *,
    head: int = 0,
    n_positions: int = 16,
) -> np.ndarray:
    """Layer 0's score of one token pair placed at every pair of positions (lesson 01b).

    Returns S (n_positions, n_positions): S[m, n] = q·k / √d_head of head ``head`` in the
    first layer, with ``query_token`` at position m and ``key_token`` at position n,
    before any mask. Under RoPE the rotated q_m·k_n depends on m and n only through
    m − n (RoFormer, arXiv:2104.09864, §3.4), so S is constant along every diagonal
    (``diagonal_spread`` ≈ 0); with learned absolute positions, p_m and p_n enter q and k
    and S changes along a diagonal. ``n_positions`` is at most the model's context.
    """
    model = _check_model(model)
    config = model.config
    vocab = config.vocab_size
    query_token = check_int("query_token", query_token, low=0, high=vocab - 1)
    key_token = check_int("key_token", key_token, low=0, high=vocab - 1)
    head = check_int("head", head, low=0, high=config.n_heads - 1)
    n_positions = check_int("n_positions", n_positions, low=1, high=min(config.context, 4096))
    positions = torch.arange(n_positions)  # (P,)
    block = model.blocks[0]
    attn = block.attn
    w_q, w_k, _, _ = _projections(attn)
    columns = slice(head * attn.d_head, (head + 1) * attn.d_head)
    rows = {}
    for name, token, w in (("q", query_token, w_q), ("k", key_token, w_k)):
        x = _embed(model, torch.full((n_positions,), token), positions)  # (P, d_model)
        rows[name] = block.ln_attn(x) @ w[:, columns]  # (P, d_head)
        if attn.rope:
            rows[name] = _rotate(attn, rows[name], positions)
    return (rows["q"] @ rows["k"].T / math.sqrt(attn.d_head)).numpy()  # (P, P)


def shift_change(
    model: TinyTransformer,
    tokens: Sequence[int],
    *,
    offset: int,
    layer: int = 0,
    causal: bool | None = None,
) -> float:
    """How much moving ``tokens`` ``offset`` positions later changes a layer's weights.

    The largest |weight at positions offset, offset + 1, ... − weight at 0, 1, ...| over
    every head, query and key of layer ``layer`` (``layer_walkthrough``'s arguments):
    rounding only under RoPE, whose scores depend on m − n alone (RoFormer,
    arXiv:2104.09864); large with learned absolute positions (lesson 01b).
    """
    start = layer_walkthrough(model, tokens, layer=layer, causal=causal)
    moved = layer_walkthrough(model, tokens, layer=layer, offset=offset, causal=causal)
    return float(np.abs(moved.weights - start.weights).max())


def diagonal_spread(scores: Any) -> float:
    """How far a square score matrix is from depending on m − n only (lesson 01b).

    The largest range (max − min) of the entries along any one diagonal m − n = const of
    ``scores`` (P, P): 0 for a matrix that is constant along its diagonals (a Toeplitz
    matrix, what RoPE gives: ``position_scores``).
    """
    scores = as_tensor("scores", scores, ndim=2, finite=True, nonempty=True, layout="(P, P)")
    size = scores.shape[0]
    if scores.shape[1] != size:
        raise ValueError(f"scores must be square (P, P), got shape {tuple(scores.shape)}")
    spread = 0.0
    for shift in range(-size + 1, size):
        diagonal = torch.diagonal(scores, offset=shift)
        spread = max(spread, float(diagonal.max() - diagonal.min()))
    return spread
