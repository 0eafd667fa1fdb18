"""Chunkwise linear attention with decay: Lightning Attention-2's intra/inter-chunk split.

Decayed causal linear attention (RetNet's retention, Lightning Attention) reads

    o_t = Σ_{s<=t} λ^{t−s} (q_t · k_s) v_s = S_t q_t,     S_t = λ S_{t−1} + v_t k_tᵀ,

with a decay λ in (0, 1] (λ = 1: plain linear attention, Katharopoulos et al. 2020;
no feature map, no normalisation). Two naive references sit beside the fast form
(flash-linear-attention's habit):

* :func:`linear_attention_recurrent`, the definition, one token at a time, O(T d²);
* :func:`linear_attention_parallel`, O = ((Q Kᵀ) ⊙ M) V with M_ts = λ^{t−s} (t >= s,
  else 0): one (T, T) matrix, O(T² d).

:func:`chunkwise_linear_attention` is Lightning Attention-2 (Qin et al. 2024, arXiv
2401.04658; PAPERS.md §5). The sequence is cut into chunks of B tokens; inside a chunk
(local positions r, s = 1..b, b = B except maybe the last) with the state S carried in:

    O_intra = ((Q Kᵀ) ⊙ M) V                  the chunk's own keys, a (b, b) matrix
    O_inter = Λ Q Sᵀ,  Λ = diag(λ, …, λ^b)    all earlier keys, through the state
    S ← λ^b S + Vᵀ diag(λ^{b−1}, …, λ, 1) K    (the paper's KV ← λ^B KV + (λ^B Λ⁻¹ K)ᵀ V)

Cost O(T B d + T d²) and memory linear in T: the (T, T) matrix never exists. The
powers are computed as λ^n directly (never λ^B · λ^{−r}), so a small λ underflows to
0 instead of overflowing. A last chunk shorter than B uses its own b.

State convention: as ``kernels/linear.py``, S is (..., d_v, d_k) and y_t = S_t q_t (the
paper's KV is Sᵀ). These are ``linear.gated_linear_attention(q, k, v, alpha=λ)`` with
its default (identity) feature map, which the tests check; this module is the
lesson-07 kernel with the paper's constant decay and a chunk-by-chunk record
(:func:`chunkwise_steps`) for the dashboard.

Shapes: q, k (..., T, d_k), v (..., T, d_v); leading dimensions broadcast; ``decay`` a
number, or a tensor broadcastable to the leading dimensions (one λ per head: shape (H,)
for q of shape (B, H, T, d_k)).

Example:
    >>> import torch
    >>> q, k, v = torch.randn(2, 3, 10, 4), torch.randn(2, 3, 10, 4), torch.randn(2, 3, 10, 5)
    >>> fast = chunkwise_linear_attention(q, k, v, decay=0.9, chunk_size=4)
    >>> slow = linear_attention_recurrent(q, k, v, decay=0.9)
    >>> fast.output.shape, bool(torch.allclose(fast.output, slow.output, atol=1e-4))
    (torch.Size([2, 3, 10, 5]), True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from attnviz.kernels.linear import LinearAttentionResult
from attnviz.kernels.softmax import broadcast_shapes, check_qkv_shapes, qkv_lead_shape
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import as_tensor, check_bool, check_int, check_real, finite_result

__all__ = [
    "ChunkStep",
    "chunkwise_linear_attention",
    "chunkwise_steps",
    "linear_attention_parallel",
    "linear_attention_recurrent",
]

MAX_CHUNK_SIZE = 1 << 20
MAX_STEP_TOKENS = 4096  # tokens a dashboard steps through
_HINT = "scale q, k and v (or the initial state) down, or pass float64 tensors"


class ChunkStep(NamedTuple):
    """One chunk of :func:`chunkwise_steps`: its tokens, its two outputs, the state after."""

    chunk: int  # index of the chunk
    tokens: tuple[int, int]  # [start, stop)
    intra: torch.Tensor  # (stop − start, d_v): ((Q Kᵀ) ⊙ M) V, the chunk's own keys
    inter: torch.Tensor  # (stop − start, d_v): Λ Q Sᵀ, every earlier key via the state
    output: torch.Tensor  # (stop − start, d_v): intra + inter
    state: torch.Tensor  # (d_v, d_k): S after the chunk's last token


# ---------------------------------------------------------------------------- checks


def _check(q, k, v, decay, initial_state, return_state):
    """Checked q, k, v (broadcast, one dtype), log λ (lead-shaped) and the initial state."""
    q = as_tensor("q", q, min_dim=2, finite=True, layout="(..., T, d_k)")
    k = as_tensor("k", k, min_dim=2, finite=True, layout="(..., T, d_k)")
    v = as_tensor("v", v, min_dim=2, finite=True, layout="(..., T, d_v)")
    check_qkv_shapes(q, k, v)
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(
            "causal linear attention reads the state after each key, so q and k need the "
            f"same length T: q has shape {tuple(q.shape)}, k has shape {tuple(k.shape)}"
        )
    check_bool("return_state", return_state)
    lead = qkv_lead_shape(q, k, v)
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    if isinstance(decay, (torch.Tensor, np.ndarray)):
        decay = as_tensor("decay", decay, min_dim=0, finite=True, layout="(...,) one per head")
        if bool(((decay <= 0) | (decay > 1)).any()):
            bad = decay[(decay <= 0) | (decay > 1)].flatten()[0].item()
            raise ValueError(f"decay must be in (0, 1] for every head, got {bad:g}")
        try:
            lead = broadcast_shapes(lead, decay.shape)
        except RuntimeError:
            raise ValueError(
                f"decay of shape {tuple(decay.shape)} must broadcast to the leading "
                f"dimensions {tuple(lead)} of q, k and v (one λ per head)"
            ) from None
        dtype = torch.promote_types(dtype, decay.dtype)
        log_decay = torch.log(decay.to(device=q.device, dtype=dtype)).expand(lead)
    else:
        decay = check_real("decay", decay, low=0.0, low_open=True, high=1.0)
        log_decay = torch.full(lead, float(np.log(decay)), dtype=dtype, device=q.device)
    d_k, d_v = k.shape[-1], v.shape[-1]
    t = k.shape[-2]
    q = q.to(dtype).expand(*lead, t, d_k)
    k = k.to(dtype).expand(*lead, t, d_k)
    v = v.to(dtype).expand(*lead, t, d_v)
    if initial_state is None:
        state = torch.zeros(*lead, d_v, d_k, dtype=dtype, device=q.device)
    else:
        state = as_tensor("initial_state", initial_state, min_dim=2, finite=True,
                          layout="(..., d_v, d_k)")  # fmt: skip
        try:
            state = state.to(dtype).expand(*lead, d_v, d_k)
        except RuntimeError:
            raise ValueError(
                f"initial_state of shape {tuple(state.shape)} does not broadcast to the "
                f"state's shape {(*lead, d_v, d_k)} (..., d_v, d_k)"
            ) from None
    return q, k, v, log_decay, state


def _powers(log_decay: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """λ^n for every head and exponent: (...,) and (*shape) -> (..., *shape)."""
    view = log_decay.reshape((*log_decay.shape, *([1] * exponents.dim())))
    return torch.exp(view * exponents.to(device=log_decay.device, dtype=log_decay.dtype))


def _decay_matrix(log_decay: torch.Tensor, size: int) -> torch.Tensor:
    """M_ts = λ^{t−s} for s <= t, else 0: (..., size, size)."""
    steps = torch.arange(size, dtype=log_decay.dtype, device=log_decay.device)
    gaps = (steps[:, None] - steps[None, :]).clamp_min_(0)  # t − s, 0 above the diagonal
    view = log_decay.reshape(*log_decay.shape, 1, 1)
    return (gaps * view).exp_().tril_()  # two (size, size) buffers at most, then one


def _result(output, state, return_state: bool) -> LinearAttentionResult:
    finite_result("linear attention's output", output, hint=_HINT)
    finite_result("linear attention's state", state, hint=_HINT)
    return LinearAttentionResult(output, state if return_state else None)


# ------------------------------------------------------------------- the references


@torch.no_grad()
def linear_attention_recurrent(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    decay: float | torch.Tensor = 1.0,
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> LinearAttentionResult:
    """The definition, one token at a time: S_t = λ S_{t−1} + v_t k_tᵀ, y_t = S_t q_t.

    Args:
        q, k, v: (..., T, d_k), (..., T, d_k), (..., T, d_v).
        decay: λ in (0, 1], a number or a tensor broadcastable to the leading dims.
        initial_state: S_0, (..., d_v, d_k); default zeros.
        return_state: also return S_T.

    Returns:
        LinearAttentionResult(output (..., T, d_v), S_T (..., d_v, d_k) or None).
    """
    q, k, v, log_decay, state = _check(q, k, v, decay, initial_state, return_state)
    check_bytes(
        f"the output and state of linear_attention_recurrent for v {tuple(v.shape)}",
        tensor_bytes(*v.shape, dtype=v.dtype) + tensor_bytes(*state.shape, 3, dtype=v.dtype),
        instead="use shorter inputs",
    )
    lam = torch.exp(log_decay)[..., None, None]  # (..., 1, 1)
    output = torch.empty_like(v)
    for t in range(k.shape[-2]):
        state = lam * state + v[..., t, :, None] * k[..., t, None, :]  # (..., d_v, d_k)
        output[..., t, :] = (state @ q[..., t, :, None])[..., 0]
    return _result(output, state, return_state)


@torch.no_grad()
def linear_attention_parallel(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    decay: float | torch.Tensor = 1.0,
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> LinearAttentionResult:
    """The whole sequence at once: O = ((Q Kᵀ) ⊙ M) V + Λ Q S_0ᵀ, M_ts = λ^{t−s} (t >= s).

    Holds (T, T) matrices (checked against the memory budget). Arguments and result
    as :func:`linear_attention_recurrent`.
    """
    q, k, v, log_decay, state = _check(q, k, v, decay, initial_state, return_state)
    t = k.shape[-2]
    check_bytes(
        f"the ({t}, {t}) scores and decay matrix of linear_attention_parallel for leading "
        f"dimensions {tuple(log_decay.shape)}",
        tensor_bytes(*log_decay.shape, t, t, 3, dtype=v.dtype),
        instead="use chunkwise_linear_attention (memory linear in T)",
    )
    positions = torch.arange(1, t + 1)
    mask = _decay_matrix(log_decay, t)  # (..., T, T)
    output = ((q @ k.mT) * mask) @ v + _powers(log_decay, positions)[..., None] * (q @ state.mT)
    last = _powers(log_decay, t - positions)[..., None]  # λ^{T−s}, (..., T, 1)
    state = _powers(log_decay, torch.tensor(t))[..., None, None] * state + (last * v).mT @ k
    return _result(output, state, return_state)


# ------------------------------------------------------------------- the fast form


def _chunks(q, k, v, log_decay, state, chunk_size):
    """Yield (start, stop, intra, inter, state after) chunk by chunk (Lightning Attention-2)."""
    t = k.shape[-2]
    size = min(chunk_size, max(t, 1))
    mask = _decay_matrix(log_decay, size)  # (..., B, B), M_rs = λ^{r−s}
    ahead = _powers(log_decay, torch.arange(1, size + 1))[..., None]  # Λ = λ^r, (..., B, 1)
    for start in range(0, t, size):
        stop = min(start + size, t)
        b = stop - start  # the last chunk may be shorter: its own Λ, λ^b and λ^{b−r}
        qc, kc, vc = q[..., start:stop, :], k[..., start:stop, :], v[..., start:stop, :]
        intra = ((qc @ kc.mT) * mask[..., :b, :b]) @ vc
        inter = ahead[..., :b, :] * (qc @ state.mT)
        to_end = _powers(log_decay, torch.arange(b - 1, -1, -1))[..., None]  # λ^{b−r}
        whole = _powers(log_decay, torch.tensor(b))[..., None, None]  # λ^b
        state = whole * state + (to_end * vc).mT @ kc
        yield start, stop, intra, inter, state


@torch.no_grad()
def chunkwise_linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    decay: float | torch.Tensor = 1.0,
    chunk_size: int = 64,
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> LinearAttentionResult:
    """Decayed causal linear attention, chunk by chunk (Lightning Attention-2).

    Same numbers as :func:`linear_attention_recurrent` and
    :func:`linear_attention_parallel` to float rounding, for every chunk size; memory
    linear in T (one (chunk_size, chunk_size) matrix per head at a time).

    Args:
        q, k, v: (..., T, d_k), (..., T, d_k), (..., T, d_v); leading dims broadcast.
        decay: λ in (0, 1], a number or a tensor broadcastable to the leading dims.
        chunk_size: tokens per chunk B, in [1, 2**20]; B >= T is the parallel form.
        initial_state: S_0, (..., d_v, d_k); default zeros.
        return_state: also return the state after the last token.

    Returns:
        LinearAttentionResult(output (..., T, d_v), S_T (..., d_v, d_k) or None).
    """
    chunk_size = check_int("chunk_size", chunk_size, low=1, high=MAX_CHUNK_SIZE)
    q, k, v, log_decay, state = _check(q, k, v, decay, initial_state, return_state)
    size = min(chunk_size, max(k.shape[-2], 1))
    check_bytes(
        f"the ({size}, {size}) chunk matrices and the output of chunkwise_linear_attention "
        f"for v {tuple(v.shape)}",
        tensor_bytes(*log_decay.shape, size, size, 3, dtype=v.dtype)
        + tensor_bytes(*v.shape, 2, dtype=v.dtype),
        instead="use a smaller chunk_size or shorter inputs",
    )
    output = torch.empty_like(v)
    final = state  # no tokens: the state carried in
    for start, stop, intra, inter, after in _chunks(q, k, v, log_decay, state, chunk_size):
        output[..., start:stop, :] = intra + inter
        final = after
    return _result(output, final, return_state)


@torch.no_grad()
def chunkwise_steps(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    decay: float = 1.0,
    chunk_size: int = 4,
) -> list[ChunkStep]:
    """:func:`chunkwise_linear_attention` for one head, one record per chunk (lesson 07).

    Args:
        q, k: (T, d_k) and v: (T, d_v), no leading dimensions, 1 <= T <= 4096.
        decay: λ in (0, 1], a number.
        chunk_size: tokens per chunk, in [1, 2**20].

    Returns:
        One :class:`ChunkStep` per chunk: tokens, intra and inter outputs (their sum
        is that chunk of the output) and the state after it.
    """
    q = as_tensor("q", q, ndim=2, finite=True, layout="(T, d_k)")
    k = as_tensor("k", k, ndim=2, finite=True, layout="(T, d_k)")
    v = as_tensor("v", v, ndim=2, finite=True, layout="(T, d_v)")
    if not 1 <= k.shape[0] <= MAX_STEP_TOKENS:
        raise ValueError(
            f"k must hold 1 to {MAX_STEP_TOKENS} tokens to step through, got shape "
            f"{tuple(k.shape)} (use chunkwise_linear_attention for more)"
        )
    if isinstance(decay, (torch.Tensor, np.ndarray)) and np.ndim(decay) > 0:
        raise TypeError(f"decay must be a number here (one head), got shape {np.shape(decay)}")
    chunk_size = check_int("chunk_size", chunk_size, low=1, high=MAX_CHUNK_SIZE)
    q, k, v, log_decay, state = _check(q, k, v, decay, None, False)
    t, d_v, d_k = k.shape[0], v.shape[1], k.shape[1]
    size = min(chunk_size, t)
    check_bytes(
        f"{-(-t // size)} chunk records of chunkwise_steps",
        tensor_bytes(t, 3 * d_v, dtype=v.dtype)
        + tensor_bytes(-(-t // size), d_v, d_k, dtype=v.dtype)
        + tensor_bytes(size, size, 3, dtype=v.dtype),
        instead="use a larger chunk_size or fewer tokens",
    )
    steps = []
    chunks = _chunks(q, k, v, log_decay, state, chunk_size)
    for index, (start, stop, intra, inter, after) in enumerate(chunks):
        output = finite_result("chunkwise_steps' output", intra + inter, hint=_HINT)
        finite_result("chunkwise_steps' state", after, hint=_HINT)
        steps.append(ChunkStep(index, (start, stop), intra, inter, output, after))
    return steps
