"""Selective state-space models: S6 (Mamba) and its scalar-decay variant SSD (Mamba-2).

Both are diagonal linear time-varying systems, the DSF form of lesson 06
(PAPERS.md §2): h_i = Λ_i h_{i-1} + B_i u_i, y_i = C_i h_i + D u_i.

==============  ================================================================
operator        one step, per channel c and state s
==============  ================================================================
selective_scan  h_i[c, s] = exp(Δ_i[c] A[c, s]) h_{i-1}[c, s] + Δ_i[c] B_i[s] u_i[c]
                y_i[c] = Σ_s C_i[s] h_i[c, s] + D[c] u_i[c]                   (S6)
ssd_scan        h_i[p, s] = exp(Δ_i A) h_{i-1}[p, s] + Δ_i B_i[s] u_i[p]
                y_i[p] = Σ_s C_i[s] h_i[p, s] + D u_i[p]          (SSD, one head)
==============  ================================================================

The discretisation is Mamba's: zero-order hold for A, Ā_i = exp(Δ_i ⊗ A), and the
simplified Euler step B̄_i = Δ_i B_i for the input (Gu & Dao 2023, §3.2 and the
reference ``selective_scan_ref`` of state-spaces/mamba). SSD ties A to one scalar per
head, so Λ_i = exp(Δ_i A)·I (Dao & Gu 2024, §6).

Two forms compute the same numbers:

* ``"recurrent"``: the definition above, one step per token;
* ``"parallel"``: unroll the recurrence into the implicit attention matrix (the DSF's
  Φ, lesson 06) and multiply. With the segment sums
  Σ[c, i, j] = Δ_{j+1}[c] + ... + Δ_i[c] (j <= i),

      K[c, i, j] = Σ_s C_i[s] exp(A[c, s] Σ[c, i, j]) Δ_j[c] B_j[s]   (j <= i, else 0)
      y[:, c]    = K[c] u[:, c] + D[c] u[:, c].

  For SSD the decay does not depend on s, and K = L ⊙ (C Bᵀ) diag(Δ) with the
  1-semiseparable mask L[i, j] = exp(A Σ[i, j]): Mamba-2's "masked attention".

The segment sums are summed per segment (Mamba-2's ``segsum``), never as differences
of cumulative sums, and exponentiated only on the causal part: A Σ <= 0 there, so
exp never overflows, even where exp(A Δ_1 + ... + A Δ_i) underflows to 0.

Sources: Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
Spaces" (arXiv 2312.00752, Algorithm 2); Dao & Gu 2024, "Transformers are SSMs"
(arXiv 2405.21060, §§5–6, ``ssd_minimal``); Sieber et al. 2024, "Understanding the
differences in Foundation Models" (the DSF, arXiv 2405.15731).

Shapes: u and Δ are (..., T, d) for S6; B and C are (..., T, n) (shared by every
channel); A is (d, n); D is (d,) or None. For SSD, a head's channels u are
(..., T, p) and its step Δ is (..., T); A and D are numbers or tensors broadcastable
to the leading dimensions (e.g. (H,) for (batch, H, T, p) inputs). Leading
dimensions broadcast.

Example:
    >>> import torch
    >>> u, delta = torch.randn(2, 16, 4), torch.rand(2, 16, 4)
    >>> A, B, C = -torch.rand(4, 3), torch.randn(2, 16, 3), torch.randn(2, 16, 3)
    >>> out, state = selective_scan(u, delta, A, B, C, return_state=True)
    >>> out.shape, state.shape
    (torch.Size([2, 16, 4]), torch.Size([2, 4, 3]))
    >>> K = selective_scan_kernel(delta, A, B, C)  # (..., d, T, T), y[..., c] = K[c] u[..., c]
    >>> torch.allclose(torch.einsum("...cij,...jc->...ic", K, u), out, atol=1e-5)
    True
"""

from __future__ import annotations

from numbers import Real
from typing import Any, NamedTuple

import numpy as np
import torch

from attnviz.kernels.softmax import broadcast_shapes
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import (
    as_tensor,
    check_bool,
    check_choice,
    check_int,
    check_real,
    check_sign,
    finite_result,
)

__all__ = [
    "FORMS",
    "ScanResult",
    "causal_mask",
    "segment_sums",
    "selective_scan",
    "selective_scan_kernel",
    "ssd_mask",
    "ssd_scan",
    "ssd_scan_kernel",
    "suffix_sums",
]

FORMS = ("parallel", "recurrent")
_OVERFLOW_HINT = "scale the inputs (u, B, C, the state) down, or pass float64 tensors"


class ScanResult(NamedTuple):
    """What a scan returns: the outputs and, if asked, the state after the last token."""

    output: torch.Tensor  # (..., T, d)
    state: torch.Tensor | None  # (..., d, n) for S6, (..., p, n) for SSD, or None


# ---------------------------------------------------------------------------- checks


def as_finite(name: str, value: Any, *, min_dim: int = 0) -> torch.Tensor:
    """A floating tensor of finite numbers (a real number too, when ``min_dim`` is 0)."""
    if min_dim == 0 and not isinstance(value, torch.Tensor | np.ndarray):
        if isinstance(value, bool) or not isinstance(value, Real | np.generic):
            raise TypeError(
                f"{name} must be a real number or a tensor, got {value!r:.60} "
                f"({type(value).__name__})"
            )
        value = torch.tensor(check_real(name, value), dtype=torch.get_default_dtype())
    return as_tensor(name, value, min_dim=min_dim, finite=True)


def check_kernel_size(what: str, *shape: int, dtype: torch.dtype, copies: int, instead: str):
    """Refuse a (..., T, T) object (``copies`` of it at once) past the memory budget."""
    check_bytes(f"{what} of shape {tuple(shape)}", tensor_bytes(*shape, copies, dtype=dtype),
                instead=instead)  # fmt: skip


def expand_to(name: str, x: torch.Tensor, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """``x`` broadcast to ``shape``, or a ValueError naming ``name`` and both shapes."""
    try:
        return x.expand(shape)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(x.shape)} does not broadcast to {tuple(shape)} {what}"
        ) from None


def lead_shape(**tensors: tuple[torch.Tensor, int]) -> torch.Size:
    """The broadcast of the leading dimensions (all but the last ``k``) of each tensor."""
    shapes = {name: tuple(x.shape[: x.dim() - k]) for name, (x, k) in tensors.items()}
    try:
        return broadcast_shapes(*shapes.values())
    except RuntimeError:
        listed = ", ".join(f"{name} {tuple(x.shape)}" for name, (x, _) in tensors.items())
        raise ValueError(
            f"{', '.join(shapes)} must have broadcastable leading dimensions: got {listed}"
        ) from None


def check_lengths(**tensors: tuple[torch.Tensor, int]) -> int:
    """All tensors share the sequence length T (at dimension ``axis``); return T."""
    lengths = {name: x.shape[axis] for name, (x, axis) in tensors.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} {tuple(x.shape)}" for name, (x, _) in tensors.items())
        raise ValueError(f"{', '.join(lengths)} must share the sequence length T: got {listed}")
    return next(iter(lengths.values()))


# ------------------------------------------------------------------- segment sums


def segment_sums(x: torch.Tensor) -> torch.Tensor:
    """(..., T) -> (..., T, T): Σ_{k=j+1..i} x_k for j <= i (0 on the diagonal), 0 above.

    Summed per segment (Mamba-2's ``segsum``), not as cumsum_i - cumsum_j, so no
    cancellation between two large cumulative sums. ``x`` holds finite numbers (or
    -inf, a log-decay of 0); the (..., T, T) result must fit the memory budget.
    """
    x = as_tensor("x", x)
    if bool((torch.isnan(x) | torch.isposinf(x)).any()):
        raise ValueError("x must not contain NaN or +inf (-inf is a log-decay of 0)")
    return _segment_sums(x)


def _segment_sums(x: torch.Tensor) -> torch.Tensor:
    size = x.shape[-1]
    check_kernel_size("the segment sums", *x.shape, size, dtype=x.dtype, copies=1,
                      instead="use a shorter sequence, or a recurrent form")  # fmt: skip
    after = torch.ones(size, size, dtype=torch.bool, device=x.device).triu(1)  # k > j
    cols = x[..., None, :].expand(*x.shape[:-1], size, size)  # cols[..., j, k] = x_k
    # summed along the last (contiguous) dimension, in place, then transposed (a view)
    return torch.where(after, cols, 0.0).cumsum_(dim=-1).mT  # (..., T, T)


def suffix_sums(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Σ_{k=j+1..T} x_k along ``dim``: what is still to come after step j (0 at the end).

    ``x`` holds finite numbers (or -inf); ``dim`` is one of its dimensions.
    """
    x = as_tensor("x", x)
    if bool((torch.isnan(x) | torch.isposinf(x)).any()):
        raise ValueError("x must not contain NaN or +inf (-inf is a log-decay of 0)")
    dim = check_int("dim", dim, low=-x.dim(), high=x.dim() - 1)
    return _suffix_sums(x, dim)


def _suffix_sums(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    if x.shape[dim] == 0:
        return x.clone()
    total = x.flip(dim).cumsum(dim).flip(dim)  # Σ_{k=j..T}
    zero = torch.zeros_like(x.narrow(dim, 0, 1))
    return torch.cat([total.narrow(dim, 1, x.shape[dim] - 1), zero], dim=dim)


#: The longest sequence ``causal_mask`` describes (its (T, T) mask must also fit the budget).
MAX_LEN = 1 << 20


def causal_mask(size: int, device: torch.device | None = None) -> torch.Tensor:
    """The (size, size) boolean mask, True where j <= i; size in [1, MAX_LEN], and the
    mask must fit the memory budget."""
    size = check_int("size", size, low=1, high=MAX_LEN)
    check_bytes(f"the (size, size) = ({size}, {size}) causal mask", size * size,
                instead="use a shorter sequence")  # fmt: skip
    if device is not None and not isinstance(device, torch.device | str):
        raise TypeError(f"device must be None or a torch.device, got {type(device).__name__}")
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()  # j <= i


def needs_grad(*tensors: torch.Tensor | None) -> bool:
    """Whether autograd records these tensors: if not, the (..., d, T, T) kernels are built
    in place, which saves allocating (and page-faulting) a fresh buffer per operation."""
    return torch.is_grad_enabled() and any(x is not None and x.requires_grad for x in tensors)


def _result(output: torch.Tensor, final: torch.Tensor, return_state: bool) -> ScanResult:
    """A scan's exit: finite outputs and state from finite inputs, or a ValueError."""
    finite_result("the scan's output", output, hint=_OVERFLOW_HINT)
    finite_result("the scan's state", final, hint=_OVERFLOW_HINT)
    return ScanResult(output, final if return_state else None)


# ----------------------------------------------------------------------------- S6


def _prepare_s6(u, delta, A, B, C, D, initial_state):
    delta = as_finite("delta", delta, min_dim=2)
    A = as_finite("A", A, min_dim=2)
    B = as_finite("B", B, min_dim=2)
    C = as_finite("C", C, min_dim=2)
    if A.dim() != 2:
        raise ValueError(f"A must have shape (d, n), got shape {tuple(A.shape)}")
    d, n = A.shape
    named = {} if u is NO_INPUT else {"u": as_finite("u", u, min_dim=2)}
    named["delta"] = delta
    for name, x, size, what in (
        *((name, x, d, "d, the channels of A (d, n)") for name, x in named.items()),
        ("B", B, n, "n, the states of A (d, n)"),
        ("C", C, n, "n, the states of A (d, n)"),
    ):
        if x.shape[-1] != size:
            raise ValueError(
                f"{name} must have last dimension {what} = {size}, got shape {tuple(x.shape)}"
            )
    check_sign("delta", delta, nonpositive=False, why="a step size; Mamba uses softplus")
    check_sign("A", A, nonpositive=True, why="a decay rate; exp(Δ A) must stay <= 1")
    t = check_lengths(**{name: (x, -2) for name, x in named.items()}, B=(B, -2), C=(C, -2))
    lead = lead_shape(**{name: (x, 2) for name, x in named.items()}, B=(B, 2), C=(C, 2))
    tensors = [*named.values(), A, B, C]
    if D is not None:
        D = as_finite("D", D, min_dim=1)
        if D.shape != (d,):
            raise ValueError(f"D must have shape (d,) = ({d},) or be None, got {tuple(D.shape)}")
        tensors.append(D)
    dtype = tensors[0].dtype
    for x in tensors[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    out = {name: x.to(dtype).expand(*lead, t, d) for name, x in named.items()}  # (..., T, d)
    B = B.to(dtype).expand(*lead, t, n)  # (..., T, n)
    C = C.to(dtype).expand(*lead, t, n)  # (..., T, n)
    D = None if D is None else D.to(dtype)
    if initial_state is None:
        state = None
    else:
        state = as_finite("initial_state", initial_state).to(dtype)
        state = expand_to("initial_state", state, (*lead, d, n), "(..., d, n)")
    return out.get("u"), out["delta"], A.to(dtype), B, C, D, state


NO_INPUT = object()  # what the kernels pass as u: they take no input (None is refused)


def _s6_recurrent(u, delta, A, B, C, state):
    """The definition, one token at a time."""
    outputs = []
    for i in range(u.shape[-2]):
        step = delta[..., i, :, None]  # Δ_i, (..., d, 1)
        write = step * u[..., i, :, None] * B[..., i, None, :]  # B̄_i u_i, (..., d, n)
        state = torch.exp(step * A) * state + write  # Ā_i ⊙ h_{i-1} + B̄_i u_i, (..., d, n)
        outputs.append((state * C[..., i, None, :]).sum(-1))  # C_i · h_i, (..., d)
    return torch.stack(outputs, dim=-2), state  # (..., T, d), (..., d, n)


_PARALLEL_INSTEAD = "use form='recurrent' (no (T, T) matrix) or a shorter sequence"


def _s6_kernel(delta, A, B, C):
    """K[..., c, i, j] (without D): C_i · (Π_{k=j+1..i} Ā_k[c]) ⊙ B̄_j[c]."""
    t = delta.shape[-2]
    check_kernel_size("S6's (..., d, T, T) kernel", *delta.shape[:-2], delta.shape[-1], t, t,
                      dtype=delta.dtype, copies=4, instead=_PARALLEL_INSTEAD)  # fmt: skip
    sums = _segment_sums(delta.mT)  # Σ[c, i, j], (..., d, T, T), 0 above the diagonal
    causal = causal_mask(delta.shape[-2], delta.device)
    if needs_grad(delta, A, B, C):
        kernel = torch.zeros_like(sums)
        for s in range(A.shape[-1]):  # one state at a time: (..., d, T, T) in memory, not x n
            cb = C[..., :, None, s] * B[..., None, :, s]  # C_i[s] B_j[s], (..., T, T)
            kernel = kernel + torch.exp(A[:, s, None, None] * sums) * cb[..., None, :, :]
        kernel = kernel * delta.mT[..., None, :]  # Δ_j[c], (..., d, 1, T)
        return kernel.masked_fill(~causal, 0.0)
    kernel, term = torch.zeros_like(sums), torch.empty_like(sums)  # the same sum, in place
    for s in range(A.shape[-1]):
        cb = C[..., :, None, s] * B[..., None, :, s]  # (..., T, T)
        torch.mul(sums, A[:, s, None, None], out=term)
        kernel.add_(term.exp_().mul_(cb[..., None, :, :]))
    return kernel.mul_(delta.mT[..., None, :]).masked_fill_(~causal, 0.0)


def _s6_parallel(u, delta, A, B, C, state):
    kernel = _s6_kernel(delta, A, B, C)  # (..., d, T, T)
    output = torch.einsum("...cij,...jc->...ic", kernel, u)  # (..., T, d)
    later = torch.exp(_suffix_sums(delta, dim=-2)[..., None] * A)  # Π_{k>j} Ā_k, (..., T, d, n)
    final = torch.einsum("...jcs,...jc,...js->...cs", later, delta * u, B)  # (..., d, n)
    if state is not None:  # h_0 decays by Π_{k<=i} Ā_k before C_i reads it
        since = torch.exp(delta.cumsum(-2)[..., None] * A)  # (..., T, d, n)
        output = output + torch.einsum("...is,...ics,...cs->...ic", C, since, state)
        final = final + since[..., -1, :, :] * state
    return output, final


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    *,
    form: str = "parallel",
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> ScanResult:
    """S6, Mamba's selective scan: a decay and a write per channel and state (lesson 06).

    h_i[c, s] = exp(Δ_i[c] A[c, s]) h_{i-1}[c, s] + Δ_i[c] B_i[s] u_i[c],
    y_i[c] = Σ_s C_i[s] h_i[c, s] + D[c] u_i[c]  (Gu & Dao 2023, Algorithm 2). The step
    Δ both sets how much is forgotten (exp(Δ A)) and how much is written (Δ B): Δ -> 0
    keeps the state and ignores the token, a large Δ resets the state to the token.

    Args:
        u: the input, (..., T, d).
        delta: the step Δ >= 0, (..., T, d) (Mamba: softplus of a projection of u).
        A: the decay rates, (d, n), every entry <= 0 (0: no decay).
        B, C: the write and read vectors, (..., T, n), shared by every channel.
        D: an optional skip connection, (d,).
        form: "parallel" (through the (T, T) kernel of each channel) or "recurrent" (the
            definition); both give the same numbers.
        initial_state: optional h_0, broadcastable to (..., d, n).
        return_state: if True, also return h_T, (..., d, n).

    Returns:
        ScanResult(output (..., T, d), state (..., d, n) or None).
    """
    form = check_choice("form", form, FORMS)
    return_state = check_bool("return_state", return_state)
    u, delta, A, B, C, D, state = _prepare_s6(u, delta, A, B, C, D, initial_state)
    h0 = torch.zeros(*u.shape[:-2], *A.shape, dtype=u.dtype) if state is None else state
    if u.shape[-2] == 0:  # no tokens: nothing written, nothing read
        output, final = torch.zeros_like(u), h0
    elif form == "recurrent":
        output, final = _s6_recurrent(u, delta, A, B, C, h0)
    else:
        output, final = _s6_parallel(u, delta, A, B, C, state)
    if D is not None:
        output = output + D * u
    return _result(output, final, return_state)


def selective_scan_kernel(
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
) -> torch.Tensor:
    """S6's implicit attention matrix, one (T, T) matrix per channel: the DSF's Φ (lesson 06).

    K[..., c, i, j] = C_i · (Π_{k=j+1..i} Ā_k[c]) ⊙ B̄_j[c] for j <= i (0 above the
    diagonal), with D[c] added on the diagonal, so that from a zero state
    y[..., :, c] = K[..., c, :, :] @ u[..., :, c], i.e.
    ``y = torch.einsum("...cij,...jc->...ic", K, u)``. Arguments as in
    :func:`selective_scan`.

    Returns:
        K, (..., d, T, T).
    """
    _, delta, A, B, C, D, _ = _prepare_s6(NO_INPUT, delta, A, B, C, D, None)
    kernel = _s6_kernel(delta, A, B, C)  # (..., d, T, T)
    if D is not None:
        kernel = kernel + torch.diag_embed(D[:, None].expand(*A.shape[:1], delta.shape[-2]))
    return finite_result("selective_scan_kernel", kernel, hint=_OVERFLOW_HINT)


# ---------------------------------------------------------------------------- SSD


def _prepare_ssd(u, delta, A, B, C, D, initial_state):
    delta = as_finite("delta", delta, min_dim=1)
    B = as_finite("B", B, min_dim=2)
    C = as_finite("C", C, min_dim=2)
    A = as_finite("A", A)
    if B.shape[-1] != C.shape[-1]:
        raise ValueError(
            "B and C must share the state size n (last dimension): B has shape "
            f"{tuple(B.shape)}, C has shape {tuple(C.shape)}"
        )
    check_sign("delta", delta, nonpositive=False, why="a step size; Mamba uses softplus")
    check_sign("A", A, nonpositive=True, why="a decay rate; exp(Δ A) must stay <= 1")
    named = {} if u is NO_INPUT else {"u": (as_finite("u", u, min_dim=2), -2)}  # (x, T axis)
    named["delta"] = (delta, -1)
    t = check_lengths(**named, B=(B, -2), C=(C, -2))
    lead = lead_shape(**{k: (x, -a) for k, (x, a) in named.items()}, B=(B, 2), C=(C, 2))
    tensors = [x for x, _ in named.values()] + [A, B, C]
    if D is not None:
        D = as_finite("D", D)
        tensors.append(D)
    dtype = tensors[0].dtype
    for x in tensors[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    n = B.shape[-1]
    A = expand_to("A", A.to(dtype), tuple(lead), "(...), one decay rate per head")
    if D is not None:
        D = expand_to("D", D.to(dtype), tuple(lead), "(...), one skip weight per head")
    delta = delta.to(dtype).expand(*lead, t)  # (..., T)
    B = B.to(dtype).expand(*lead, t, n)  # (..., T, n)
    C = C.to(dtype).expand(*lead, t, n)  # (..., T, n)
    if u is NO_INPUT:
        u = None
    else:
        u = named["u"][0]
        u = u.to(dtype).expand(*lead, *u.shape[-2:])  # (..., T, p)
    state = None
    if initial_state is not None:
        p = u.shape[-1]
        state = as_finite("initial_state", initial_state).to(dtype)
        state = expand_to("initial_state", state, (*lead, p, n), "(..., p, n)")
    return u, delta, A, B, C, D, state


def _ssd_recurrent(u, delta, A, B, C, state):
    """The definition, one token at a time."""
    outputs = []
    for i in range(u.shape[-2]):
        step = delta[..., i, None, None]  # Δ_i, (..., 1, 1)
        write = step * u[..., i, :, None] * B[..., i, None, :]  # Δ_i u_i B_iᵀ, (..., p, n)
        state = torch.exp(step * A[..., None, None]) * state + write  # (..., p, n)
        outputs.append((state @ C[..., i, :, None])[..., 0])  # h_i C_i, (..., p)
    return torch.stack(outputs, dim=-2), state  # (..., T, p), (..., p, n)


def _ssd_mask(delta, A):
    t = delta.shape[-1]
    check_kernel_size("SSD's (..., T, T) mask", *delta.shape, t, dtype=delta.dtype, copies=4,
                      instead=_PARALLEL_INSTEAD)  # fmt: skip
    sums = _segment_sums(delta)  # (..., T, T), 0 above the diagonal
    mask = torch.exp(A[..., None, None] * sums)  # L[i, j] = Π_{k=j+1..i} exp(Δ_k A)
    return mask.masked_fill(~causal_mask(delta.shape[-1], delta.device), 0.0)


def _ssd_parallel(u, delta, A, B, C, state):
    kernel = _ssd_mask(delta, A) * (C @ B.mT) * delta[..., None, :]  # L ⊙ C Bᵀ diag(Δ)
    output = kernel @ u  # (..., T, p)
    later = torch.exp(A[..., None] * _suffix_sums(delta))  # Π_{k>j} exp(Δ_k A), (..., T)
    final = (later[..., None] * delta[..., None] * u).mT @ B  # (..., p, n)
    if state is not None:  # h_0 decays by Π_{k<=i} exp(Δ_k A) before C_i reads it
        since = torch.exp(A[..., None] * delta.cumsum(-1))[..., None]  # (..., T, 1)
        output = output + since * (C @ state.mT)
        final = final + since[..., -1, :, None] * state
    return output, final


def ssd_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: float | torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: float | torch.Tensor | None = None,
    *,
    form: str = "parallel",
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> ScanResult:
    """SSD (Mamba-2): S6 with one scalar decay per head, Λ_i = exp(Δ_i A)·I (lesson 06).

    h_i = exp(Δ_i A) h_{i-1} + Δ_i u_i B_iᵀ, y_i = h_i C_i + D u_i, with the state
    (p, n) a matrix like linear attention's. Its parallel form is "1-semiseparable
    masked attention", y = (L ⊙ C Bᵀ)(Δ u) + D u, L[i, j] = exp(A(Δ_{j+1} + ... + Δ_i))
    (Dao & Gu 2024, §6): gated linear attention with q = C, k = B, v = Δ u and the
    gate α_i = exp(Δ_i A).

    Args:
        u: the head's channels, (..., T, p); the heads are a leading dimension.
        delta: the step Δ >= 0, one per head and token, (..., T).
        A: the decay rate <= 0, a number or a tensor broadcastable to (...) (e.g. (H,)).
        B, C: (..., T, n).
        D: an optional skip weight, a number or a tensor broadcastable to (...).
        form, initial_state (broadcastable to (..., p, n)), return_state: as in
            :func:`selective_scan`.

    Returns:
        ScanResult(output (..., T, p), state (..., p, n) or None).
    """
    form = check_choice("form", form, FORMS)
    return_state = check_bool("return_state", return_state)
    u, delta, A, B, C, D, state = _prepare_ssd(u, delta, A, B, C, D, initial_state)
    p, n = u.shape[-1], B.shape[-1]
    zero = torch.zeros(*u.shape[:-2], p, n, dtype=u.dtype)
    if u.shape[-2] == 0:
        output, final = torch.zeros_like(u), zero if state is None else state
    elif form == "recurrent":
        output, final = _ssd_recurrent(u, delta, A, B, C, zero if state is None else state)
    else:
        output, final = _ssd_parallel(u, delta, A, B, C, state)
    if D is not None:
        output = output + D[..., None, None] * u
    return _result(output, final, return_state)


def ssd_mask(delta: torch.Tensor, A: float | torch.Tensor) -> torch.Tensor:
    """SSD's 1-semiseparable mask L[i, j] = Π_{k=j+1..i} exp(Δ_k A) (j <= i, else 0).

    Every block of L on or below the diagonal has rank 1 (L[i, j] = γ_i / γ_j with
    γ_i = Π_{k<=i} exp(Δ_k A)). Shapes: delta (..., T), A broadcastable to (...).

    Returns:
        L, (..., T, T).
    """
    delta = as_finite("delta", delta, min_dim=1)
    A = as_finite("A", A)
    check_sign("delta", delta, nonpositive=False, why="a step size; Mamba uses softplus")
    check_sign("A", A, nonpositive=True, why="a decay rate; exp(Δ A) must stay <= 1")
    dtype = torch.promote_types(delta.dtype, A.dtype)
    A = expand_to("A", A.to(dtype), tuple(delta.shape[:-1]), "(...), one decay rate per head")
    return _ssd_mask(delta.to(dtype), A)


def ssd_scan_kernel(
    delta: torch.Tensor,
    A: float | torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """SSD's implicit attention matrix K = L ⊙ C Bᵀ diag(Δ) (+ D on the diagonal).

    The same (T, T) matrix for every channel of a head: from a zero state, y = K @ u.
    Arguments as in :func:`ssd_scan`.

    Returns:
        K, (..., T, T).
    """
    _, delta, A, B, C, D, _ = _prepare_ssd(NO_INPUT, delta, A, B, C, D, None)
    kernel = _ssd_mask(delta, A) * (C @ B.mT) * delta[..., None, :]  # (..., T, T)
    if D is not None:
        kernel = kernel + torch.diag_embed(D[..., None].expand(delta.shape))
    return finite_result("ssd_scan_kernel", kernel, hint=_OVERFLOW_HINT)
