"""Attention sinks: how much every head attends to the first token, and why (lesson 08).

Gu et al., "When Attention Sink Emerges in Language Models: An Empirical View" (ICLR 2025,
arXiv 2410.10781; PAPERS.md §6) measure a head's importance of token k as the mean
weight the later queries give it,

    α_k = 1/(T − k) · Σ_{t ≥ k} A[t, k]      (k counted from 0; 1/T ≤ α_0 ≤ 1 for softmax),

call a head a *first-token sink* when α_0 > ε, and report a model's
Sink₁^ε = the share of its heads that are sinks, with ε = 0.3 and T = 64. They find the
first token's key acting as a bias (a key the queries all point at), and that sigmoid
attention without normalisation (and, per Qiu et al.'s Gated Attention, a head-wise output
gate) removes the sinks. This module measures all of it on the course's real-text models
(``attnviz.text_models``), reading the attention weights through each layer's
``hook_pattern`` and the queries and keys from each layer's input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from attnviz.maps.attention_maps import as_ids
from attnviz.maps.model_io import check_token_ids
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.mixers import apply_rope
from attnviz.models import TinyTransformer
from attnviz.shakespeare import encode, held_out_text
from attnviz.text_models import (
    TRAIN_LENGTH,
    held_out_batches,
    held_out_loss,
    load_text_model,
    text_model_card,
)
from attnviz.validation import check_bool, check_int, check_real

SINK_EPSILON = 0.3  # Gu et al.'s threshold ε on α_0
SINK_LENGTH = 64  # Gu et al.'s fixed sequence length T for the metric
MAX_PASSAGES = 4096  # the most passages sink_passages draws
TWINS = ("twin_softmax", "twin_sigmoid", "twin_gated")
TWIN_ATTENTION = {
    "twin_softmax": "softmax",
    "twin_sigmoid": "sigmoid, no normalisation",
    "twin_gated": "softmax + head-wise output gate",
}
TWIN_LOSS_ROWS = 16  # held-out rows of TRAIN_LENGTH tokens twin_comparison measures the loss on


def _run_hooked(model: TinyTransformer, ids: torch.Tensor, handles: list) -> None:
    """One forward pass of ``model`` on ``ids`` with these hooks in place, then remove them."""
    try:
        with torch.inference_mode():
            model(ids)
    finally:
        for handle in handles:
            handle.remove()


def sink_passages(count: int = 32, length: int = SINK_LENGTH, *, seed: int = 0) -> torch.Tensor:
    """(count, length) ids: ``BOS`` + length − 1 characters of the held-out play each.

    The passages start at offsets drawn from a generator seeded with ``seed``, so a
    seed names the same passages on every machine. *The Tempest* is never trained on.
    """
    text = held_out_text()
    count = check_int("count", count, low=1, high=MAX_PASSAGES)
    length = check_int("length", length, low=2, high=len(text) + 1)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    check_bytes(
        f"{count} passages of {length} token ids",
        2 * tensor_bytes(count, length, dtype=torch.long),
        instead="ask for fewer or shorter passages",
    )
    span = length - 1
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(text) - span + 1, (count,), generator=generator).tolist()
    return torch.stack([encode(text[s : s + span]) for s in starts])  # (count, length)


def token_importance(model: TinyTransformer, ids: Any, *, proxy: bool = False) -> np.ndarray:
    """(L, H, T): α_k = 1/(T − k) Σ_{t ≥ k} A[t, k] of every head, mean over the batch.

    ``ids`` are (T,) or (B, T) token ids. The weights A are what each layer's
    ``hook_pattern`` sees. Sigmoid attention's weights are not normalised (a row need not
    sum to 1): by default α is computed from them as they are, so it reads "the mean weight
    the later queries give token k" (each in [0, 1]), but 1/T ≤ α_0 holds only for softmax.
    ``proxy=True`` first rescales every row to sum to 1: our reading of the "proxy attention
    scores" Gu et al. 2024 (§7.4) report Sink₁^ε with for operators without normalisation.
    For softmax it changes nothing.
    """
    model = _check_model(model)
    ids = _check_ids(model, ids)
    proxy = check_bool("proxy", proxy)
    batch, seq_len = ids.shape
    sums: list[torch.Tensor] = []

    def keep_column_sums(_module, _inputs, pattern):
        weights = pattern.double()  # (B, H, T, T)
        if proxy:
            weights = weights / weights.sum(dim=-1, keepdim=True).clamp_min(1e-300)
        sums.append(weights.sum(dim=-2).mean(dim=0))  # (H, T): Σ_t A[t, k]

    _run_hooked(model, ids, [block.attn.hook_pattern.register_forward_hook(keep_column_sums)
                             for block in model.blocks])  # fmt: skip
    later = torch.arange(seq_len, 0, -1, dtype=torch.float64)  # T − k queries read token k
    return (torch.stack(sums) / later).numpy()  # (L, H, T)


def sink_scores(model: TinyTransformer, ids: Any, *, proxy: bool = False) -> np.ndarray:
    """(L, H): α_0, the importance of the first token (``BOS``) to every head (Gu et al.).

    ``proxy``: as in ``token_importance`` (rows rescaled to sum to 1 first).
    """
    return token_importance(model, ids, proxy=proxy)[:, :, 0]


def sink_rate(
    model: TinyTransformer, ids: Any, epsilon: float = SINK_EPSILON, *, proxy: bool = False
) -> float:
    """Sink₁^ε: the share of the model's heads whose α_0 exceeds ``epsilon`` (Gu et al.).

    Gu et al. 2024 use ε = 0.3 on passages of T = 64 tokens (``sink_passages()``);
    ``proxy``: as in ``token_importance``.
    """
    epsilon = check_real("epsilon", epsilon, low=0.0, high=1.0)
    return float((sink_scores(model, ids, proxy=proxy) > epsilon).mean())


@dataclass(frozen=True)
class KeyBias:
    """The first token's key against the others', per head (each an (L, H) array).

    ``first_key_norm``: mean ‖k_0‖ over the batch; ``other_key_norm``: mean ‖k_s‖, s ≥ 1.
    ``first_key_cosine``: mean cos(q_t, k_0) over every query t (all may read token 0);
    ``other_key_cosine``: mean cos(q_t, k_s) over the causal pairs 1 ≤ s ≤ t. Keys and
    queries are taken after RoPE, as the scores see them.
    """

    first_key_norm: np.ndarray
    other_key_norm: np.ndarray
    first_key_cosine: np.ndarray
    other_key_cosine: np.ndarray


def first_key_bias(model: TinyTransformer, ids: Any) -> KeyBias:
    """The first token's key as a bias: its norm and its cosine with the queries (lesson 08).

    Gu et al. 2024 (arXiv 2410.10781) find the first token's key small and pointing where
    the queries point, so a sink head's scores put it first whatever the query. This reads
    each layer's q and k from its input (``attn.qkv``, split into heads, rotated by RoPE
    when the model uses it) and compares token 0's key with the others'. ``ids``: (T,) or
    (B, T) with T ≥ 2. On the shipped ``shakespeare`` model the sink heads show the high
    cosine; the small norm shows only in layer 0, and the deeper sink heads' first key is
    longer than the others' (``tests/test_sinks.py`` holds the numbers).
    """
    model = _check_model(model)
    ids = _check_ids(model, ids, min_length=2)
    seq_len = ids.shape[1]
    rows: list[tuple[torch.Tensor, ...]] = []

    def measure(attn, inputs):
        q, k = _queries_and_keys(attn, inputs[0])  # (B, H, T, d) each
        key_norm = k.norm(dim=-1)  # (B, H, T)
        qn = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        kn = k / key_norm[..., None].clamp_min(1e-12)
        cosine = qn @ kn.mT  # (B, H, T, T)
        causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=q.device).tril()
        causal[:, 0] = False  # the pairs with s ≥ 1
        others = (cosine * causal).sum(dim=(-2, -1)) / causal.sum()  # (B, H)
        rows.append((key_norm[..., 0].mean(0), key_norm[..., 1:].mean(dim=(0, 2)),
                     cosine[..., 0].mean(dim=(0, 2)), others.mean(0)))  # fmt: skip

    _run_hooked(model, ids, [block.attn.register_forward_pre_hook(measure)
                             for block in model.blocks])  # fmt: skip
    columns = [torch.stack(column).double().numpy() for column in zip(*rows, strict=True)]
    return KeyBias(*columns)


def twin_comparison(ids: Any = None, *, epsilon: float = SINK_EPSILON) -> list[dict[str, Any]]:
    """One row per twin (softmax, sigmoid, gated): its sinks and its held-out loss.

    Each row: ``name``, ``attention`` (how its heads turn scores into weights),
    ``sink_rate`` (Sink₁^ε on ``ids``, default ``sink_passages()``),
    ``first_sink_score_max`` and ``first_sink_score_mean`` (α_0 over its heads),
    ``proxy_sink_rate`` and ``proxy_first_sink_score_max`` (the same from rows rescaled to
    sum to 1, Gu et al.'s proxy scores: what they compare sigmoid attention by),
    ``held_out_loss`` (nats per character, measured now on 16 held-out rows of 256 tokens)
    and ``card_held_out_loss`` (the loss its training recorded on the whole held-out play).
    The twins share data, size, steps and seeds (``attnviz.text_models``). Gu et al. 2024
    find that sigmoid attention without normalisation removes the first-token sink (at 60M
    and 1B parameters), Qiu et al. 2025 that a head-wise output gate mitigates it (1.7B
    dense, 15B MoE); each twin here has 0.16M parameters.
    """
    epsilon = check_real("epsilon", epsilon, low=0.0, high=1.0)
    if ids is None:
        ids = sink_passages()
    inputs, targets = _loss_rows()
    rows = []
    for name in TWINS:
        model = load_text_model(name)
        scores = sink_scores(model, ids)
        proxy = sink_scores(model, ids, proxy=True)
        curve = text_model_card(name)["curve"]
        rows.append({
            "name": name,
            "attention": TWIN_ATTENTION[name],
            "sink_rate": float((scores > epsilon).mean()),
            "first_sink_score_max": float(scores.max()),
            "first_sink_score_mean": float(scores.mean()),
            "proxy_sink_rate": float((proxy > epsilon).mean()),
            "proxy_first_sink_score_max": float(proxy.max()),
            "held_out_loss": held_out_loss(model, inputs, targets),
            "card_held_out_loss": float(curve["held_out_loss"][-1]),
        })  # fmt: skip
    return rows


def _loss_rows() -> tuple[torch.Tensor, torch.Tensor]:
    """16 rows of TRAIN_LENGTH held-out tokens, evenly spread over the play."""
    inputs, targets = held_out_batches(encode(held_out_text(), bos=False), TRAIN_LENGTH)
    picked = torch.linspace(0, len(inputs) - 1, TWIN_LOSS_ROWS).round().long()
    return inputs[picked], targets[picked]


def _queries_and_keys(attn: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """q and k (B, H, T, d_head) of one attention layer's input x, after RoPE if it has one."""
    batch, seq_len, d_model = x.shape
    q, k, _ = attn.qkv(x).split(d_model, dim=-1)
    q, k = (t.view(batch, seq_len, attn.n_heads, attn.d_head).transpose(1, 2) for t in (q, k))
    if attn.rope:
        cos, sin = attn.rope_cos[:seq_len], attn.rope_sin[:seq_len]
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    return q, k


def _check_model(model: Any) -> TinyTransformer:
    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    if model.config.mixer != "attention":
        raise ValueError(
            f"model must use attention (mixer='attention') to have attention weights, "
            f"got mixer={model.config.mixer!r}"
        )
    if not model.config.causal:
        raise ValueError(
            "model must be causal (an autoregressive language model, where token k is read "
            "by the queries t >= k), got causal=False"
        )
    return model


def _check_ids(
    model: TinyTransformer, ids: Any, *, min_length: int = 1, name: str = "ids", rows: bool = True
) -> torch.Tensor:
    """``name`` (T,), or (B, T) if ``rows``, of integer tokens in the model's vocabulary
    -> (B, T) long."""
    ids = as_ids(name, ids)
    shapes = (1, 2) if rows else (1,)
    if ids.dim() not in shapes or 0 in ids.shape:
        allowed = "(T,) or (B, T)" if rows else "(T,)"
        raise ValueError(f"{name} must have shape {allowed}, got shape {tuple(ids.shape)}")
    ids = ids.reshape(-1, ids.shape[-1])
    seq_len, context = ids.shape[1], model.config.context
    if not min_length <= seq_len <= context:
        raise ValueError(
            f"{name} must be {min_length} to {context} tokens long (the model's context), "
            f"got {seq_len}"
        )
    check_token_ids(name, ids, model.config.vocab_size)
    return ids


__all__ = [
    "SINK_EPSILON",
    "SINK_LENGTH",
    "KeyBias",
    "first_key_bias",
    "sink_passages",
    "sink_rate",
    "sink_scores",
    "token_importance",
    "twin_comparison",
]
