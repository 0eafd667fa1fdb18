"""Attention as an RNN: softmax attention of one query as a recurrence and as a prefix scan.

Feng, Tung, Hajimirsadeghi, Ahmed, Bengio, Mori 2024, "Attention as an RNN" (arXiv
2405.13956; PAPERS.md §5). For one query q and keys k_1..k_T with scores
s_i = q · k_i · scale, the output over the first t keys,

    o_t = Σ_{i<=t} exp(s_i) v_i / Σ_{i<=t} exp(s_i),

is computed by a *many-to-one* RNN whose state (m, c, a) has a constant size
(:func:`attention_rnn`, the definition, one key at a time)::

    m_t = max(m_{t−1}, s_t)
    c_t = c_{t−1} e^{m_{t−1} − m_t} + e^{s_t − m_t}
    a_t = a_{t−1} e^{m_{t−1} − m_t} + v_t e^{s_t − m_t}
    o_t = a_t / c_t

(the online softmax of ``online_softmax.py`` with key blocks of one). The same update,
written on triples (m, u, w), is an associative operator :func:`combine`::

    (m_A, u_A, w_A) ⊕ (m_B, u_B, w_B) = (m, u_A e^{m_A − m} + u_B e^{m_B − m},
                                            w_A e^{m_A − m} + w_B e^{m_B − m}),  m = max(m_A, m_B)

so the leaves (s_i, 1, v_i) fold to (max s, Σ e^{s − max}, Σ e^{s − max} v), and every
prefix o_t = w/u comes out of one parallel prefix scan in ceil(log2 T) rounds
(:func:`attention_scan`, Hillis & Steele 1986): the many-to-many view.

Lesson 06's DSF gives causal softmax attention no finite state (N = ∞): every query
reads every earlier key. Seen from a single query it *is* an RNN with state size
d_v + 2; what keeps it from being one RNN over the sequence is that the query changes
at every step (row t of causal attention is the last output of its own RNN over keys
1..t, as the tests check). Feng et al.'s Aaren layer makes the query a learned
constant, not computed from the input: then the whole sequence is one scan, trained in
parallel and updated in O(1) memory per new token.

Shapes: q is (..., d_k), ONE query per sequence; k is (..., T, d_k), v (..., T, d_v);
leading dimensions broadcast. Outputs are (..., T, d_v), o_t for t = 1..T.

Example:
    >>> import torch
    >>> q, k, v = torch.randn(8), torch.randn(5, 8), torch.randn(5, 3)
    >>> scanned, looped = attention_scan(q, k, v), attention_rnn(q, k, v)
    >>> scanned.shape, bool(torch.allclose(scanned, looped, atol=1e-6))
    (torch.Size([5, 3]), True)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from attnviz.kernels.softmax import broadcast_shapes
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import as_tensor, check_real, finite_result, short_repr

__all__ = ["ScanState", "attention_rnn", "attention_scan", "combine"]

_OVERFLOW_HINT = "scale q and k (or scale) down, or pass float64 tensors"


class ScanState(NamedTuple):
    """A summary of a run of keys: max score m, Σ e^{s − m} (u) and Σ e^{s − m} v (w).

    A single key i is the leaf (s_i, 1, v_i); (−inf, 0, 0) is the empty run, the
    identity of :func:`combine`. m and u are (...,), w is (..., d_v).
    """

    m: torch.Tensor
    u: torch.Tensor
    w: torch.Tensor


def _merge(a: ScanState, b: ScanState) -> ScanState:
    """a ⊕ b without checks (both runs may be empty: m = −inf)."""
    m = torch.maximum(a.m, b.m)
    m_safe = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # two empty runs
    scale_a, scale_b = torch.exp(a.m - m_safe), torch.exp(b.m - m_safe)
    u = a.u * scale_a + b.u * scale_b
    w = a.w * scale_a[..., None] + b.w * scale_b[..., None]
    return ScanState(m, u, w)


def _check_state(name: str, state) -> ScanState:
    if not isinstance(state, ScanState):
        raise TypeError(
            f"{name} must be a ScanState(m, u, w), got {short_repr(state)} ({type(state).__name__})"
        )
    m = as_tensor(f"{name}.m", state.m, min_dim=0)
    u = as_tensor(f"{name}.u", state.u, min_dim=0, finite=True)
    w = as_tensor(f"{name}.w", state.w, min_dim=1, finite=True, layout="(..., d_v)")
    if bool((torch.isnan(m) | torch.isposinf(m)).any()):
        raise ValueError(f"{name}.m must hold no NaN or +inf (−inf is an empty run)")
    if bool((u < 0).any()):
        raise ValueError(f"{name}.u must be >= 0 (a sum of exponentials)")
    try:
        broadcast_shapes(m.shape, u.shape, w.shape[:-1])
    except RuntimeError:
        raise ValueError(
            f"{name}'s m {tuple(m.shape)}, u {tuple(u.shape)} and w {tuple(w.shape)} must "
            f"agree: m and u (...,), w (..., d_v)"
        ) from None
    return ScanState(m, u, w)


def combine(a: ScanState, b: ScanState) -> ScanState:
    """Feng et al.'s associative operator: the summary of run a followed by run b.

    (m_A, u_A, w_A) ⊕ (m_B, u_B, w_B) = (m, u_A e^{m_A−m} + u_B e^{m_B−m},
    w_A e^{m_A−m} + w_B e^{m_B−m}) with m = max(m_A, m_B). Associative (and, the
    sums being sums, commutative): any bracketing of a fold gives the same triple, to
    float rounding. The leading dimensions of a and b broadcast; float16 is
    computed in float32.
    """
    a, b = _check_state("a", a), _check_state("b", b)
    if a.w.shape[-1] != b.w.shape[-1]:
        raise ValueError(
            f"a.w and b.w must share d_v: got shapes {tuple(a.w.shape)} and {tuple(b.w.shape)}"
        )
    try:
        broadcast_shapes(a.w.shape, b.w.shape)
    except RuntimeError:
        raise ValueError(
            f"a and b must have broadcastable leading dimensions: got a.w {tuple(a.w.shape)}, "
            f"b.w {tuple(b.w.shape)}"
        ) from None
    dtype = torch.promote_types(a.w.dtype, b.w.dtype)
    dtype = torch.promote_types(dtype, torch.promote_types(a.m.dtype, b.m.dtype))
    a = ScanState(*(x.to(dtype) for x in a))
    b = ScanState(*(x.to(dtype) for x in b))
    merged = _merge(a, b)
    return ScanState(
        merged.m,
        finite_result("combine's u", merged.u, hint="the sums overflowed"),
        finite_result("combine's w", merged.w, hint="the sums overflowed"),
    )


def _leaves(q, k, v, scale, what: str) -> tuple[ScanState, torch.Size]:
    """Checked inputs as leaves (s_i, 1, v_i), each (..., T) / (..., T, d_v)."""
    q = as_tensor("q", q, min_dim=1, finite=True, layout="(..., d_k)")
    k = as_tensor("k", k, min_dim=2, finite=True, layout="(..., T, d_k)")
    v = as_tensor("v", v, min_dim=2, finite=True, layout="(..., T, d_v)")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must share the last dimension d_k: q has shape {tuple(q.shape)}, "
            f"k has shape {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of keys T: k has shape {tuple(k.shape)}, "
            f"v has shape {tuple(v.shape)}"
        )
    try:
        lead = broadcast_shapes(q.shape[:-1], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            "q (..., d_k), k (..., T, d_k) and v (..., T, d_v) must have broadcastable "
            f"leading dimensions: got q {tuple(q.shape)}, k {tuple(k.shape)}, "
            f"v {tuple(v.shape)}"
        ) from None
    scale = 1.0 / math.sqrt(max(q.shape[-1], 1)) if scale is None else check_real("scale", scale)
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    t, d_v = v.shape[-2:]
    check_bytes(
        f"the (m, u, w) states of {what} for {t} keys and leading dimensions {tuple(lead)}",
        tensor_bytes(*lead, t, 3 * (d_v + 2), dtype=dtype),
        instead="use shorter inputs",
    )
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    scores = torch.matmul(k, q[..., :, None])[..., 0] * scale  # (..., T)
    finite_result("the scores q · k · scale", scores, hint=_OVERFLOW_HINT)
    scores = scores.expand(*lead, t)
    return ScanState(scores, torch.ones_like(scores), v.expand(*lead, t, d_v)), lead


@torch.no_grad()
def attention_scan(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, scale: float | None = None
) -> torch.Tensor:
    """Every prefix's attention output for one query, by a Hillis–Steele prefix scan.

    Round r (r = 0, 1, …, ceil(log2 T) − 1) combines each position t with position
    t − 2^r, all positions at once; after the last round position t holds the fold
    of leaves 1..t, and o_t = w_t / u_t.

    Args:
        q: (..., d_k), one query per sequence; k: (..., T, d_k); v: (..., T, d_v);
            leading dimensions broadcast.
        scale: multiplies the scores; default 1/sqrt(d_k).

    Returns:
        (..., T, d_v): row t is softmax attention of q over keys 1..t.
    """
    state, _ = _leaves(q, k, v, scale, "attention_scan")
    t = state.m.shape[-1]
    offset = 1
    while offset < t:  # ceil(log2 T) rounds
        earlier = ScanState(
            state.m[..., :-offset], state.u[..., :-offset], state.w[..., :-offset, :]
        )
        later = ScanState(state.m[..., offset:], state.u[..., offset:], state.w[..., offset:, :])
        merged = _merge(earlier, later)
        state = ScanState(
            torch.cat([state.m[..., :offset], merged.m], dim=-1),
            torch.cat([state.u[..., :offset], merged.u], dim=-1),
            torch.cat([state.w[..., :offset, :], merged.w], dim=-2),
        )
        offset *= 2
    output = state.w / state.u[..., None]
    return finite_result("attention_scan", output, hint=_OVERFLOW_HINT)


@torch.no_grad()
def attention_rnn(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, scale: float | None = None
) -> torch.Tensor:
    """The many-to-one recurrence, one key at a time: the definition the scan must match.

    State (m, c, a), updated per key as in the module docstring; o_t = a_t / c_t.
    Arguments and result as :func:`attention_scan`.
    """
    leaves, lead = _leaves(q, k, v, scale, "attention_rnn")
    t, d_v = leaves.w.shape[-2:]
    m = torch.full(lead, float("-inf"), dtype=leaves.w.dtype)
    c = torch.zeros(lead, dtype=leaves.w.dtype)
    a = torch.zeros(*lead, d_v, dtype=leaves.w.dtype)
    outputs = torch.empty(*lead, t, d_v, dtype=leaves.w.dtype)
    for i in range(t):
        s, v_i = leaves.m[..., i], leaves.w[..., i, :]
        m_new = torch.maximum(m, s)  # s is finite, so m_new is too
        decay, fresh = torch.exp(m - m_new), torch.exp(s - m_new)
        c = c * decay + fresh
        a = a * decay[..., None] + v_i * fresh[..., None]
        m = m_new
        outputs[..., i, :] = a / c[..., None]
    return finite_result("attention_rnn", outputs, hint=_OVERFLOW_HINT)
