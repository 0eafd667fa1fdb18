"""Online softmax attention: softmax(q kᵀ · scale) v without the (T_q, T_k) scores.

FlashAttention (Dao et al. 2022, arXiv 2205.14135, Algorithm 1) streams the keys in
blocks and keeps, for every query row, a running max m, a running denominator ℓ and
the output so far; FlashAttention-2 (Dao 2023, arXiv 2307.08691) keeps that output
unnormalised and divides once at the end. For each key block j, with S = q Kⱼᵀ · scale::

    m' = max(m, rowmax(S))
    ℓ  ← e^{m − m'} ℓ + rowsum(exp(S − m'))
    O  ← e^{m − m'} O + exp(S − m') Vⱼ
    m  ← m'

and at the end output = O / ℓ, lse = m + log ℓ (the natural log-sum-exp of the scaled
scores of each row). The factor e^{m − m'} rescales what was summed under the old max
to the new one, so the result is the softmax of the whole row, exactly, whatever the
block size. Only one (block_size, block_size) tile of scores exists at a time (per batch
and head): memory O(T · d), not O(T²).

With the lse, any tile of the attention map is recomputed from Q and K alone
(:func:`attention_tile`): weights = exp(q kᵀ · scale − lse). That is how the backward
pass of FlashAttention works, and how lesson 02 draws a 65,536-token map.

``causal`` uses PyTorch's top-left convention (``is_causal=True`` of
``torch.nn.functional.scaled_dot_product_attention``, and ``kernels.softmax``): query i
sees keys 0..i. Every query so sees key 0, so no row is ever empty (T_k >= 1 is
required). Key blocks wholly after a query block's last row are never scored.

:func:`online_softmax_steps` records each key block's update for a few query rows, for
lesson 07's dashboard; ``kernels.softmax.scaled_dot_product_attention`` is the naive
reference that the tests hold these to.

Example:
    >>> import torch
    >>> q, k, v = torch.randn(10, 8), torch.randn(10, 8), torch.randn(10, 3)
    >>> result = online_softmax_attention(q, k, v, causal=True, block_size=4)
    >>> result.output.shape, result.lse.shape
    (torch.Size([10, 3]), torch.Size([10]))
    >>> tile = attention_tile(q, k, result.lse, rows=(4, 8), cols=(0, 4), causal=True)
    >>> tile.shape
    torch.Size([4, 4])
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from attnviz.kernels.softmax import broadcast_shapes, check_attention_args
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import (
    as_tensor,
    check_bool,
    check_int,
    check_real,
    finite_result,
    short_repr,
)

__all__ = [
    "OnlineSoftmaxResult",
    "OnlineSoftmaxStep",
    "attention_tile",
    "online_softmax_attention",
    "online_softmax_steps",
]

MAX_BLOCK_SIZE = 2**20
_OVERFLOW_HINT = "scale q and k (or scale) down, or pass float64 tensors"


class OnlineSoftmaxResult(NamedTuple):
    """The attention output and, per query row, the log-sum-exp of its scaled scores."""

    output: torch.Tensor  # (..., T_q, d_v)
    lse: torch.Tensor  # (..., T_q): log Σ_j exp(q·k_j · scale) over the keys it may see


class OnlineSoftmaxStep(NamedTuple):
    """One key block's update of the running statistics, for the rows of a few queries."""

    block: int  # index of the key block
    keys: tuple[int, int]  # the block's keys, [start, stop)
    scores: torch.Tensor  # (T_q, stop - start) scaled scores; -inf where causal forbids
    m_before: torch.Tensor  # (T_q,) running max before the block (-inf before the first)
    m_after: torch.Tensor  # (T_q,) running max after it
    rescale: torch.Tensor  # (T_q,) exp(m_before − m_after): what the old sums are scaled by
    l_before: torch.Tensor  # (T_q,) running denominator ℓ before the block
    l_after: torch.Tensor  # (T_q,) ℓ after it
    unnormalised: torch.Tensor  # (T_q, d_v) O after the block (not yet divided by ℓ)
    output: torch.Tensor  # (T_q, d_v) O / ℓ: attention over the keys seen so far


def _check_inputs(q, k, v, scale, causal, block_size):
    q, k, v, scale, lead = check_attention_args(q, k, v, scale, causal)
    block_size = check_int("block_size", block_size, low=1, high=MAX_BLOCK_SIZE)
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    return q.to(dtype), k.to(dtype), v.to(dtype), scale, lead, block_size


def _causal_fill(scores: torch.Tensor, q_start: int, k_start: int) -> torch.Tensor:
    """-inf where key k_start + j lies after query q_start + i (top-left aligned)."""
    rows = torch.arange(q_start, q_start + scores.shape[-2], device=scores.device)
    cols = torch.arange(k_start, k_start + scores.shape[-1], device=scores.device)
    return scores.masked_fill(cols[None, :] > rows[:, None], float("-inf"))


def _block_scores(q_block, k_block, scale, causal, q_start, k_start):
    scores = torch.matmul(q_block, k_block.transpose(-2, -1)) * scale
    # an overflow to -inf would read as a masked key, to +inf as NaN: refuse both
    finite_result("the scores q kᵀ · scale", scores, hint=_OVERFLOW_HINT)
    if causal and k_start + scores.shape[-1] - 1 > q_start:  # the block crosses the diagonal
        scores = _causal_fill(scores, q_start, k_start)
    return scores


def _update(m, denom, o, scores, v_block):
    """One step of the recurrence: the new (m, ℓ, O) and the rescale e^{m − m'}."""
    m_new = torch.maximum(m, scores.amax(dim=-1))
    # a row whose keys are all masked so far keeps m = -inf; exp(-inf - 0) = 0 keeps it empty
    m_safe = torch.where(torch.isfinite(m_new), m_new, torch.zeros_like(m_new))
    rescale = torch.exp(m - m_safe)
    p = torch.exp(scores - m_safe[..., None])
    denom_new = rescale * denom + p.sum(dim=-1)
    o_new = rescale[..., None] * o + torch.matmul(p, v_block)
    return m_new, denom_new, o_new, rescale


@torch.no_grad()
def online_softmax_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    block_size: int = 128,
) -> OnlineSoftmaxResult:
    """Softmax attention streamed in (block_size × block_size) tiles (FlashAttention-2).

    Args:
        q, k, v: (..., T_q, d_k), (..., T_k, d_k), (..., T_k, d_v); leading (batch,
            head) dimensions broadcast, dtypes promote; float16 and bfloat16 are
            computed in float32.
        scale: multiplies the scores; default 1/sqrt(d_k).
        causal: query i sees keys 0..i (top-left aligned, as PyTorch's ``is_causal``).
        block_size: rows of a query block and keys of a key block, in [1, 2**20].

    Returns:
        OnlineSoftmaxResult(output (..., T_q, d_v), lse (..., T_q)), the same numbers as
        ``kernels.softmax.scaled_dot_product_attention`` to float rounding.

    Raises:
        ValueError: no key; q, k, v of shapes that do not fit; the O(T · d) operands
            past the memory budget; scores that overflow.
    """
    q, k, v, scale, lead, block_size = _check_inputs(q, k, v, scale, causal, block_size)
    t_q, d_k = q.shape[-2:]
    t_k, d_v = v.shape[-2:]
    n = math.prod(lead)
    check_bytes(
        f"the O(T·d) operands, output and one ({block_size}, {block_size}) score tile of "
        f"online_softmax_attention for leading dimensions {tuple(lead)}",
        tensor_bytes(n, t_q * (d_k + 2 * d_v + 2) + t_k * (d_k + d_v), dtype=q.dtype)
        + tensor_bytes(n, 2 * block_size * (block_size + d_v + 2), dtype=q.dtype),
        instead="use shorter inputs or a smaller block_size",
    )
    qs = q.expand(*lead, t_q, d_k).reshape(n, t_q, d_k)
    ks = k.expand(*lead, t_k, d_k).reshape(n, t_k, d_k)
    vs = v.expand(*lead, t_k, d_v).reshape(n, t_k, d_v)
    output = torch.empty(n, t_q, d_v, dtype=q.dtype, device=q.device)
    lse = torch.empty(n, t_q, dtype=q.dtype, device=q.device)
    for q_start in range(0, t_q, block_size):
        q_stop = min(q_start + block_size, t_q)
        rows = q_stop - q_start
        m = torch.full((n, rows), float("-inf"), dtype=q.dtype, device=q.device)
        denom = torch.zeros(n, rows, dtype=q.dtype, device=q.device)  # the paper's ℓ
        o = torch.zeros(n, rows, d_v, dtype=q.dtype, device=q.device)
        last_key = min(t_k, q_stop) if causal else t_k  # later keys: no row of the block sees
        for k_start in range(0, last_key, block_size):
            k_stop = min(k_start + block_size, last_key)
            scores = _block_scores(
                qs[:, q_start:q_stop], ks[:, k_start:k_stop], scale, causal, q_start, k_start
            )
            m, denom, o, _ = _update(m, denom, o, scores, vs[:, k_start:k_stop])
        output[:, q_start:q_stop] = o / denom[..., None]  # the one division
        lse[:, q_start:q_stop] = m + torch.log(denom)
    finite_result("online_softmax_attention", output, hint=_OVERFLOW_HINT)
    return OnlineSoftmaxResult(output.view(*lead, t_q, d_v), lse.view(*lead, t_q))


def _span(name: str, span, length: int, axis: str) -> tuple[int, int]:
    """``span`` as (start, stop) with 0 <= start < stop <= length, or None for all of it."""
    if span is None:
        return 0, length
    if isinstance(span, (str, bytes)) or not isinstance(span, (tuple, list)) or len(span) != 2:
        raise TypeError(f"{name} must be a pair (start, stop) of {axis} indices, got "
                        f"{short_repr(span)}")  # fmt: skip
    start = check_int(f"{name}[0] (start)", span[0], low=0, high=max(length - 1, 0))
    stop = check_int(f"{name}[1] (stop)", span[1], low=start + 1, high=length)
    return start, stop


@torch.no_grad()
def attention_tile(
    q: torch.Tensor,
    k: torch.Tensor,
    lse: torch.Tensor,
    *,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
    scale: float | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """Exact attention weights of one tile of the map, from Q, K and the lse alone.

    weights[i, j] = exp(q_i · k_j · scale − lse_i) for query rows ``rows`` = (start,
    stop) and keys ``cols`` = (start, stop) (None: all of them); 0 where ``causal``
    forbids key j (j > i). With the lse of :func:`online_softmax_attention` (same
    scale and causal) this is that tile of softmax(q kᵀ · scale), to float rounding.

    Args:
        q: (..., T_q, d_k); k: (..., T_k, d_k); lse: (..., T_q), finite; leading
            dimensions broadcast.

    Returns:
        (..., stop − start of rows, stop − start of cols) weights.
    """
    q = as_tensor("q", q, min_dim=2, finite=True, layout="(..., T_q, d_k)")
    k = as_tensor("k", k, min_dim=2, finite=True, layout="(..., T_k, d_k)")
    lse = as_tensor("lse", lse, min_dim=1, finite=True, layout="(..., T_q)")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must share the last dimension d_k: q has shape {tuple(q.shape)}, "
            f"k has shape {tuple(k.shape)}"
        )
    if lse.shape[-1] != q.shape[-2]:
        raise ValueError(
            f"lse must hold one number per query row (..., T_q = {q.shape[-2]}), got shape "
            f"{tuple(lse.shape)}"
        )
    try:
        lead = broadcast_shapes(q.shape[:-2], k.shape[:-2], lse.shape[:-1])
    except RuntimeError:
        raise ValueError(
            f"q, k and lse must have broadcastable leading dimensions: got q {tuple(q.shape)}, "
            f"k {tuple(k.shape)}, lse {tuple(lse.shape)}"
        ) from None
    r0, r1 = _span("rows", rows, q.shape[-2], "query")
    c0, c1 = _span("cols", cols, k.shape[-2], "key")
    scale = 1.0 / math.sqrt(max(q.shape[-1], 1)) if scale is None else check_real("scale", scale)
    check_bool("causal", causal)
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), lse.dtype)
    check_bytes(
        f"the ({r1 - r0}, {c1 - c0}) attention tile for leading dimensions {tuple(lead)}",
        tensor_bytes(*lead, r1 - r0, c1 - c0, 2, dtype=dtype),
        instead="ask for a smaller tile (rows, cols)",
    )
    q, k, lse = q.to(dtype), k.to(dtype), lse.to(dtype)
    scores = torch.matmul(q[..., r0:r1, :], k[..., c0:c1, :].transpose(-2, -1)) * scale
    finite_result("the scores q kᵀ · scale", scores, hint=_OVERFLOW_HINT)
    if causal:
        scores = _causal_fill(scores, r0, c0)
    weights = torch.exp(scores - lse[..., r0:r1, None])
    return finite_result(
        "attention_tile", weights, hint="pass the lse computed with the same scale and causal"
    )


MAX_STEP_ROWS = 64  # query rows a dashboard shows


@torch.no_grad()
def online_softmax_steps(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    block_size: int = 4,
) -> list[OnlineSoftmaxStep]:
    """The online recurrence for a few query rows, one record per key block.

    The query rows are one block (as :func:`online_softmax_attention` treats a
    query block), streamed over key blocks of ``block_size``; each record holds the
    block's scores and the running m, ℓ and O before and after it. The last
    record's ``output`` is softmax attention of the rows over all their keys.

    Args:
        q: (T_q, d_k) with 1 <= T_q <= 64; k: (T_k, d_k); v: (T_k, d_v); no leading
            dimensions (one head).
        scale, causal: as :func:`online_softmax_attention`.
        block_size: keys per block, >= 1.
    """
    q = as_tensor("q", q, ndim=2, finite=True, layout="(T_q, d_k)")
    k = as_tensor("k", k, ndim=2, finite=True, layout="(T_k, d_k)")
    v = as_tensor("v", v, ndim=2, finite=True, layout="(T_k, d_v)")
    if not 1 <= q.shape[0] <= MAX_STEP_ROWS:
        raise ValueError(
            f"q must hold 1 to {MAX_STEP_ROWS} query rows to step through, got shape "
            f"{tuple(q.shape)} (use online_softmax_attention for more)"
        )
    q, k, v, scale, _, block_size = _check_inputs(q, k, v, scale, causal, block_size)
    t_q, t_k, d_v = q.shape[0], k.shape[0], v.shape[1]
    last_key = min(t_k, t_q) if causal else t_k
    n_steps = -(-last_key // block_size)
    check_bytes(
        f"{n_steps} step records of online_softmax_steps",
        tensor_bytes(n_steps, t_q, 2 * d_v + min(block_size, last_key) + 6, dtype=q.dtype),
        instead="use fewer keys or a larger block_size",
    )
    m = torch.full((t_q,), float("-inf"), dtype=q.dtype)
    denom = torch.zeros(t_q, dtype=q.dtype)  # the paper's ℓ
    o = torch.zeros(t_q, d_v, dtype=q.dtype)
    steps = []
    for index, k_start in enumerate(range(0, last_key, block_size)):
        k_stop = min(k_start + block_size, last_key)
        scores = _block_scores(q, k[k_start:k_stop], scale, causal, 0, k_start)
        m_new, l_new, o_new, rescale = _update(m, denom, o, scores, v[k_start:k_stop])
        seen = l_new > 0  # rows with no key yet (causal, a later row's block) show 0
        so_far = torch.where(seen[:, None], o_new / l_new.clamp_min(1e-300)[:, None], 0.0)
        steps.append(OnlineSoftmaxStep(
            index, (k_start, k_stop), scores, m, m_new, rescale, denom, l_new, o_new, so_far
        ))  # fmt: skip
        m, denom, o = m_new, l_new, o_new
    return steps
