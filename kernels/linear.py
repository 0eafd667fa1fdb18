"""Linear attention and its recurrent relatives: a state S written by outer products.

Causal linear attention keeps a d_v x d_k state S_t (a fast-weight memory) and reads
it with the query, y_t = S_t q_t. The four write rules of lesson 05 (PAPERS.md §1):

====================  ===========================================================
rule                  state update
====================  ===========================================================
linear_attention      S_t = S_{t-1} + v_t k_tᵀ                           (Hebbian)
gated_linear_...      S_t = α_t S_{t-1} + v_t k_tᵀ            (Hebbian, forgetting)
delta_rule_...        S_t = S_{t-1} + β_t (v_t - S_{t-1} k_t) k_tᵀ        (DeltaNet)
gated_delta_rule_...  S_t = α_t S_{t-1} (I - β_t k_t k_tᵀ) + β_t v_t k_tᵀ
====================  ===========================================================

``write`` is one step of these rules, for one memory or a batch of them: the recurrent
form below writes with it, and so do ``attnviz.memory`` and ``attnviz.conditioning``.

``normalized_attention`` is the Hebbian rule read out with a per-token scale exp(-s_t),
the normalised attention of the DSF paper (Sieber et al. 2024, PAPERS.md §2). The
feature maps φ that linear attention applies to q and k live in ``feature_maps.py``.

Every operator has three forms that compute the same numbers:

* ``"recurrent"``: the definition, one step per token (the table above, as written);
* ``"parallel"``: the whole sequence at once, through a (T, T) matrix;
* ``"chunkwise"``: the parallel form inside chunks of ``chunk_size`` tokens, the
  recurrence between chunks (what fast kernels run; "parallel" is one chunk).

Inside a chunk, with γ_t = α_1⋯α_t and the decay matrix D[t, j] = α_{j+1}⋯α_t
(j <= t, else 0), the state at the chunk start S_0 and rows u_j of U:

    S_t = γ_t S_0 + Σ_{j<=t} D[t, j] u_j k_jᵀ,    Y = diag(γ) Q S_0ᵀ + (D ⊙ Q Kᵀ) U.

The Hebbian rules write the values themselves, U = V. The delta rules write the
prediction errors u_t = β_t (v_t - α_t S_{t-1} k_t), which depend on each other; they
are the solution of one unit lower-triangular system (the WY / UT transform of
DeltaNet's chunkwise algorithm, Yang et al. 2024):

    (I + tril(diag(β) (D ⊙ K Kᵀ), -1)) U = diag(β) (V - diag(γ) K S_0ᵀ).

Sources: Katharopoulos et al. 2020, "Transformers are RNNs" (arXiv 2006.16236);
Schlag, Irie, Schmidhuber 2021, "Linear Transformers Are Secretly Fast Weight
Programmers" (arXiv 2102.11174); Yang et al. 2024, "Parallelizing Linear Transformers
with the Delta Rule over Sequence Length" (DeltaNet, arXiv 2406.06484); Yang, Kautz,
Hatamizadeh 2024, "Gated Delta Networks" (arXiv 2412.06464, Eq. 10); Qiao 2025,
"Understanding Transformers through the Lens of Pavlovian Conditioning" (arXiv
2508.08289). The layout of naive recurrence beside chunked forms follows
fla-org/flash-linear-attention.

Shapes follow the softmax kernels: q (..., T, d_k), k (..., T, d_k), v (..., T, d_v),
leading dimensions (batch, heads) broadcast; gates α and β are a number or a tensor
broadcastable to (..., T); the state is (..., d_v, d_k).

Example:
    >>> import torch
    >>> q, k, v = torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 3)
    >>> out, state = delta_rule_attention(q, k, v, beta=0.5, return_state=True)
    >>> out.shape, state.shape
    (torch.Size([2, 4, 6, 3]), torch.Size([2, 4, 3, 8]))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

from attnviz.kernels.feature_maps import resolve_feature_map
from attnviz.kernels.softmax import check_qkv_shapes, qkv_lead_shape
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import (
    as_array,
    as_tensor,
    check_bool,
    check_choice,
    check_int,
    check_real,
    finite_result,
)

FORMS = ("parallel", "chunkwise", "recurrent")
WRITE_RULES = ("hebbian", "delta")

FeatureMap = Callable[[torch.Tensor], torch.Tensor]


class LinearAttentionResult(NamedTuple):
    """What a linear-attention operator returns: the read-outs and, if asked, S_T."""

    output: torch.Tensor  # (..., T, d_v)
    state: torch.Tensor | None  # (..., d_v, d_k), the state after the last token, or None


# ---------------------------------------------------------------------------- checks


WRITE_OVERFLOW_HINT = "scale q, k and v (or the initial state) down, or pass float64 tensors"


def _finite(name: str, value: Any) -> torch.Tensor:
    return as_tensor(name, value, min_dim=2, finite=True)


def _prepare(
    q: Any,
    k: Any,
    v: Any,
    feature_map: FeatureMap | str | None,
    initial_state: Any,
    *,
    causal: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check q, k, v and the initial state; return them broadcast, in one dtype."""
    q, k, v = _finite("q", q), _finite("k", k), _finite("v", v)
    feature_map = resolve_feature_map(feature_map)
    if feature_map is not None:
        q, k = feature_map(q), feature_map(k)  # (..., T, n) each
        for name, x in (("feature_map(q)", q), ("feature_map(k)", k)):
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"{name} must return a torch.Tensor, got {type(x).__name__}")
            finite_result(name, x, hint="scale q and k down, or use another feature_map")
    check_qkv_shapes(q, k, v)
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(
            "causal linear attention reads the state after each key, so q and k need the "
            f"same length T: q has shape {tuple(q.shape)}, k has shape {tuple(k.shape)}"
        )
    lead = qkv_lead_shape(q, k, v)
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    d_k, d_v = k.shape[-1], v.shape[-1]
    q = q.to(dtype).expand(*lead, *q.shape[-2:])  # (..., T_q, d_k)
    k = k.to(dtype).expand(*lead, *k.shape[-2:])  # (..., T, d_k)
    v = v.to(dtype).expand(*lead, *v.shape[-2:])  # (..., T, d_v)
    if initial_state is None:
        state = torch.zeros(*lead, d_v, d_k, dtype=dtype, device=k.device)
    else:
        state = as_tensor("initial_state", initial_state, min_dim=2, finite=True)
        try:
            state = state.to(dtype).expand(*lead, d_v, d_k)  # (..., d_v, d_k)
        except RuntimeError:
            raise ValueError(
                f"initial_state of shape {tuple(state.shape)} does not broadcast to the "
                f"state's shape {(*lead, d_v, d_k)} (..., d_v, d_k)"
            ) from None
    return q, k, v, state


def _gate(name: str, value: Any, like: torch.Tensor) -> torch.Tensor:
    """A gate (α or β) in [0, 1] as a tensor of shape (..., T), like k's (..., T, d_k)."""
    shape = like.shape[:-1]
    if isinstance(value, (torch.Tensor, np.ndarray)):
        gate = as_tensor(name, value, min_dim=0, finite=True)
        if bool(((gate < 0) | (gate > 1)).any()):
            bad = gate[(gate < 0) | (gate > 1)].flatten()[0].item()
            raise ValueError(f"{name} must be in [0, 1] at every step, got {bad:g}")
        try:
            return gate.to(like.dtype).expand(shape)  # (..., T)
        except RuntimeError:
            raise ValueError(
                f"{name} of shape {tuple(gate.shape)} does not broadcast to {tuple(shape)} "
                "(..., T), one gate per token"
            ) from None
    value = check_real(name, value, low=0.0, high=1.0)
    return torch.full(shape, value, dtype=like.dtype, device=like.device)  # (..., T)


#: The largest chunk_size (a chunk longer than the sequence is the parallel form).
MAX_CHUNK_SIZE = 1 << 20


def _check_form(form: Any, chunk_size: Any) -> tuple[str, int]:
    chunk_size = check_int("chunk_size", chunk_size, low=1, high=MAX_CHUNK_SIZE)
    return check_choice("form", form, FORMS), chunk_size


def _check_size(form: str, chunk_size: int, q: torch.Tensor, k: torch.Tensor) -> None:
    """The (C, C) matrices of the parallel (C = T) and chunkwise forms fit the budget."""
    if form == "recurrent":
        return
    t = k.shape[-2]
    size = t if form == "parallel" else min(chunk_size, t)
    # decay, scores, the delta rule's system, the segment sums' copies: about 6 at once
    check_bytes(
        f"the ({size}, {size}) matrices of form={form!r} for q {tuple(q.shape)}",
        tensor_bytes(*k.shape[:-2], size, size, 6, dtype=k.dtype),
        instead="use form='recurrent', or form='chunkwise' with a smaller chunk_size",
    )


# -------------------------------------------------------------------------- one write


def write(
    state: torch.Tensor | np.ndarray,
    k: torch.Tensor | np.ndarray,
    v: torch.Tensor | np.ndarray,
    rule: str = "hebbian",
    *,
    beta: float | torch.Tensor | np.ndarray = 1.0,
    alpha: float | torch.Tensor | np.ndarray = 1.0,
) -> torch.Tensor | np.ndarray:
    """One write of the association k -> v into the memory S, the rule as written (lesson 05).

    The memory first forgets, S ← α S, then adds

    * ``"hebbian"``: β v kᵀ, the CS and the US fire together (linear attention: α = β = 1;
      α < 1 is gated linear attention);
    * ``"delta"``: β (v - S k) kᵀ, the prediction error of the decayed memory (DeltaNet,
      Rescorla–Wagner; α < 1 is Gated DeltaNet, α S (I - β k kᵀ) + β v kᵀ).

    It is the one implementation of these rules: the recurrent form of this module's
    operators writes a batch of memories with it, ``attnviz.memory`` one memory, and
    ``attnviz.conditioning`` its 1 × n memory (numpy arrays).

    Args:
        state: S, (..., d_v, d_k): a torch tensor or a numpy array.
        k: the key (CS), (..., d_k), of the state's kind.
        v: the value (US), (..., d_v), of the state's kind.
        rule: one of ``WRITE_RULES``: "hebbian" or "delta".
        beta: the rate of the write in [0, 1]: a number, or an array of the state's kind
            that broadcasts against it (one per memory: (..., 1, 1)).
        alpha: the forget gate in [0, 1], a number or an array like ``beta``.

    Returns:
        The memory after the write, (..., d_v, d_k), of the state's kind.

    Example:
        >>> import numpy as np
        >>> write(np.zeros((1, 2)), np.array([1.0, 0.0]), np.array([2.0]), "delta", beta=0.5)
        array([[1., 0.]])
    """
    rule = check_choice("rule", rule, WRITE_RULES)
    kind = torch.Tensor if isinstance(state, torch.Tensor) else np.ndarray
    checked = {}
    for name, value in (("state", state), ("k", k), ("v", v)):
        if not isinstance(value, kind):
            raise TypeError(
                f"{name} must be a torch.Tensor or a numpy.ndarray, of one kind for state, k "
                f"and v; got {type(value).__name__} (state: {type(state).__name__})"
            )
        if kind is torch.Tensor:
            checked[name] = as_tensor(name, value, min_dim=0, finite=True)
        else:  # checked as float64; a float array keeps its own dtype
            array = as_array(name, value)
            checked[name] = value if value.dtype.kind == "f" else array
    state, k, v = checked["state"], checked["k"], checked["v"]
    if state.ndim < 2 or k.ndim < 1 or v.ndim < 1:
        raise ValueError(
            "state, k and v must have shapes (..., d_v, d_k), (..., d_k) and (..., d_v); got "
            f"{tuple(state.shape)}, {tuple(k.shape)} and {tuple(v.shape)}"
        )
    if k.shape[-1] != state.shape[-1] or v.shape[-1] != state.shape[-2]:
        raise ValueError(
            f"k must end in d_k = {state.shape[-1]} and v in d_v = {state.shape[-2]}, as the "
            f"state (..., d_v, d_k) = {tuple(state.shape)} does; got k {tuple(k.shape)} and "
            f"v {tuple(v.shape)}"
        )
    beta, alpha = _write_gate("beta", beta, kind), _write_gate("alpha", alpha, kind)
    try:
        shape = np.broadcast_shapes(tuple(state.shape), tuple(k.shape[:-1]) + (1, k.shape[-1]))
        shape = np.broadcast_shapes(shape, tuple(v.shape[:-1]) + (v.shape[-1], 1))
    except ValueError:
        raise ValueError(
            f"state {tuple(state.shape)}, k {tuple(k.shape)} and v {tuple(v.shape)} must have "
            "broadcastable leading dimensions"
        ) from None
    return finite_result("write", _write(state, k, v, rule, beta, alpha), hint=WRITE_OVERFLOW_HINT)


def _write(state, k, v, rule: str, beta, alpha):
    """``write`` without its checks (the recurrent form's gates are checked once, by
    ``_gate``): forget, then add β v kᵀ or β (v - S k) kᵀ."""
    state = alpha * state  # forget a little of everything first
    if rule == "delta":  # write the prediction error of the (decayed) memory
        read = state @ k if k.ndim == 1 else (state @ k[..., None])[..., 0]  # S k, (..., d_v)
        v = v - read
    return state + beta * (v[..., :, None] * k[..., None, :])  # β v kᵀ, (..., d_v, d_k)


def _write_gate(name: str, value: Any, kind: type) -> Any:
    """A gate of ``write``: a number in [0, 1], or an array of the state's kind within it."""
    if not isinstance(value, torch.Tensor | np.ndarray):
        return check_real(name, value, low=0.0, high=1.0)
    if not isinstance(value, kind):
        raise TypeError(
            f"{name} must be a number or of the state's kind ({kind.__name__}), "
            f"got {type(value).__name__}"
        )
    value = as_tensor(name, value, min_dim=0) if kind is torch.Tensor else as_array(name, value)
    inside = (value >= 0) & (value <= 1)  # False for NaN too
    if not bool(inside.all()):
        bad = float(value[~inside][0])
        raise ValueError(f"{name} must be in [0, 1] at every write, got {bad:g}")
    return value


# ------------------------------------------------------------------------ the forms


def _recurrent(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor | None,
    state: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The definition, one token at a time: ``write`` k_t -> v_t, read with q_t. beta None:
    the Hebbian write (β = 1)."""
    rule = "hebbian" if beta is None else "delta"
    outputs = []
    for t in range(k.shape[-2]):
        k_t, v_t, q_t = k[..., t, :], v[..., t, :], q[..., t, :]  # (..., d_k|d_v)
        rate = 1.0 if beta is None else beta[..., t, None, None]  # β_t, (..., 1, 1)
        state = _write(state, k_t, v_t, rule, rate, alpha[..., t, None, None])  # S_t
        outputs.append((state @ q_t[..., None])[..., 0])  # y_t = S_t q_t, (..., d_v)
    return torch.stack(outputs, dim=-2), state  # (..., T, d_v), (..., d_v, d_k)


def _segment_sums(log_alpha: torch.Tensor) -> torch.Tensor:
    """(..., C) -> (..., C, C): Σ_{s=j+1..i} log α_s for j <= i, -inf above the diagonal.

    Summed per segment (Mamba-2's ``segsum``), never as a difference of cumulative
    sums, so a gate α_s = 0 (log -inf) gives decay 0 instead of NaN.
    """
    size = log_alpha.shape[-1]
    x = log_alpha[..., :, None].expand(*log_alpha.shape, size)  # x[..., i, j] = log α_i
    lower = torch.ones(size, size, dtype=torch.bool, device=x.device).tril()  # j <= i
    sums = x.masked_fill(~lower.tril(-1), 0.0).cumsum(dim=-2)  # (..., C, C)
    return sums.masked_fill(~lower, float("-inf"))


def _chunkwise(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor | None,
    state: torch.Tensor,
    chunk_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The parallel form inside each chunk, the recurrence between chunks."""
    log_alpha = torch.log(alpha)  # (..., T), -inf where α = 0
    outputs = []
    for start in range(0, k.shape[-2], chunk_size):
        part = slice(start, start + chunk_size)
        qc, kc, vc = q[..., part, :], k[..., part, :], v[..., part, :]  # (..., C, d)
        decay = torch.exp(_segment_sums(log_alpha[..., part]))  # D, (..., C, C)
        gamma = torch.exp(log_alpha[..., part].cumsum(-1))[..., None]  # γ_t, (..., C, 1)
        if beta is None:
            u = vc  # Hebbian: U = V
        else:  # delta rule: (I + tril(diag(β)(D ⊙ K Kᵀ), -1)) U = diag(β)(V - diag(γ) K S_0ᵀ)
            b = beta[..., part, None]  # (..., C, 1)
            system = (b * decay * (kc @ kc.mT)).tril(-1)  # (..., C, C)
            system = system + torch.eye(system.shape[-1], dtype=k.dtype, device=k.device)
            target = b * (vc - gamma * (kc @ state.mT))  # (..., C, d_v)
            u = torch.linalg.solve_triangular(system, target, upper=False, unitriangular=True)
        scores = decay * (qc @ kc.mT)  # (..., C, C), zero above the diagonal
        outputs.append(gamma * (qc @ state.mT) + scores @ u)  # (..., C, d_v)
        last = decay[..., -1, :, None]  # D[C, j], (..., C, 1)
        state = gamma[..., -1:, :] * state + (last * u).mT @ kc  # (..., d_v, d_k)
    return torch.cat(outputs, dim=-2), state


def _run(q, k, v, alpha, beta, state, form, chunk_size):
    _check_size(form, chunk_size, q, k)
    if k.shape[-2] == 0:  # no tokens: nothing written, nothing read
        return v.new_zeros(*q.shape[:-1], v.shape[-1]), state
    if form == "recurrent":
        return _recurrent(q, k, v, alpha, beta, state)
    size = chunk_size if form == "chunkwise" else max(1, k.shape[-2])
    return _chunkwise(q, k, v, alpha, beta, state, size)


# --------------------------------------------------------------------- the operators


def _result(output: torch.Tensor, state: torch.Tensor, return_state: bool):
    """The operators' exit: finite outputs (and state) from finite inputs, or a ValueError."""
    finite_result("linear attention's output", output, hint=WRITE_OVERFLOW_HINT)
    finite_result("linear attention's state", state, hint=WRITE_OVERFLOW_HINT)
    return LinearAttentionResult(output, state if return_state else None)


def linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = True,
    normalize: bool = False,
    feature_map: FeatureMap | str | None = None,
    form: str = "parallel",
    chunk_size: int = 64,
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
    eps: float = 1e-6,
) -> LinearAttentionResult:
    """Linear attention, y_t = S_t q_t with the Hebbian state S_t = Σ_{j<=t} v_j k_jᵀ (lesson 05).

    Each key-value pair is written into S with an outer product (a Hebbian update:
    the conditioned stimulus k and the unconditioned one v fire together); the
    query reads it, y_t = Σ_{j<=t} (k_jᵀ q_t) v_j: softmax attention without the
    softmax, Katharopoulos et al. 2020.

    Args:
        q, k, v: (..., T_q, d_k), (..., T, d_k), (..., T, d_v); leading dims broadcast.
        causal: if True (the recurrence), query t reads the state after key t, and
            T_q must equal T; if False every query reads the whole sum S_T.
        normalize: if True, divide by z_t·q_t with z_t = Σ_{j<=t} k_j (the linear
            analogue of the softmax's denominator). It is meant for positive feature
            maps; with raw q and k the denominator may be ~0 or negative, and a
            ValueError is raised where |z_t·q_t| <= eps. Needs ``initial_state`` None.
        feature_map: optional φ applied to q and k first: a callable, or the name of
            one in ``kernels/feature_maps.py`` (e.g. "elu_plus_one", "taylor").
        form: "parallel" (one (T, T) matrix), "chunkwise" or "recurrent" (the
            definition); all three give the same numbers.
        chunk_size: tokens per chunk for form="chunkwise", in [1, MAX_CHUNK_SIZE].
        initial_state: optional S_0, broadcastable to (..., d_v, d_k).
        return_state: if True, also return S_T, (..., d_v, d_k).
        eps: the smallest |denominator| that ``normalize`` accepts.

    Returns:
        LinearAttentionResult(output (..., T_q, d_v), state (..., d_v, d_k) or None).
    """
    causal = check_bool("causal", causal)
    normalize = check_bool("normalize", normalize)
    return_state = check_bool("return_state", return_state)
    form, chunk_size = _check_form(form, chunk_size)
    eps = check_real("eps", eps, low=0.0)
    if normalize and initial_state is not None:
        raise ValueError(
            "normalize=True needs the key sum z_t, which an initial_state does not carry: "
            "pass initial_state=None"
        )
    q, k, v, state = _prepare(q, k, v, feature_map, initial_state, causal=causal)
    if causal:
        ones = torch.ones(k.shape[:-1], dtype=k.dtype, device=k.device)  # α = 1: no forgetting
        output, state = _run(q, k, v, ones, None, state, form, chunk_size)
        if normalize:  # z_t·q_t is the same operator on values of 1
            unit = torch.ones(*v.shape[:-1], 1, dtype=v.dtype, device=v.device)  # (..., T, 1)
            zero = torch.zeros_like(state[..., :1, :])  # (..., 1, d_k)
            denominator = _run(q, k, unit, ones, None, zero, form, chunk_size)[0]  # (..., T, 1)
    else:
        state = state + v.mT @ k  # S = S_0 + Σ_j v_j k_jᵀ, (..., d_v, d_k)
        output = q @ state.mT  # (..., T_q, d_v)
        if normalize:
            denominator = q @ k.sum(dim=-2)[..., :, None]  # z·q_t, (..., T_q, 1)
    if normalize:
        small = denominator.abs() <= eps
        if bool(small.any()):
            where = tuple(int(i) for i in small.nonzero()[0][:-1])
            raise ValueError(
                f"normalize=True: the denominator z_t·q_t = {denominator[small][0].item():.3g} "
                f"at index {where} (..., t) is within eps={eps:g} of 0; use a positive "
                "feature_map (e.g. 'elu_plus_one') or normalize=False"
            )
        output = output / denominator
    return _result(output, state, return_state)


def normalized_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    log_scale: float | torch.Tensor,
    *,
    feature_map: FeatureMap | str | None = None,
    form: str = "parallel",
    chunk_size: int = 64,
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> LinearAttentionResult:
    """The DSF paper's normalised attention, y_t = exp(-s_t) S_t φ(q_t) (lesson 06).

    Sieber et al. 2024 (the DSF, arXiv 2405.15731; PAPERS.md §2) replace linear
    attention's normaliser η_t = Σ_{j<=t} φ(q_t)ᵀφ(k_j) by a learned, input-dependent
    scalar exp(s_t), s_t = f(w_nᵀu_t + b) with f ∈ {exp, softplus, sigmoid, elu}:

        y_t = exp(-s_t) Σ_{j<=t} (φ(q_t)ᵀφ(k_j)) v_j,   S_t = Σ_{j<=t} v_j φ(k_j)ᵀ.

    The kernel takes the already computed s_t (``log_scale``), so it stays a pure
    operator; s_t = log η_t gives back normalised linear attention. In DSF terms the
    state is unnormalised (Λ_t = I) and the scale sits in the read-out,
    C_t = exp(-s_t) (I ⊗ φ(q_t)ᵀ).

    Args:
        q, k, v: (..., T, d_k), (..., T, d_k), (..., T, d_v); leading dims broadcast.
        log_scale: s_t, a finite number or a tensor broadcastable to (..., T), one
            per query token.
        feature_map, form, chunk_size, initial_state, return_state: as in
            :func:`linear_attention`; the state is S_T, without the scale.

    Returns:
        LinearAttentionResult(output (..., T, d_v), state (..., d_v, n) or None).
    """
    return_state = check_bool("return_state", return_state)
    form, chunk_size = _check_form(form, chunk_size)
    q, k, v, state = _prepare(q, k, v, feature_map, initial_state)
    log_scale = _log_scale(log_scale, k)  # (..., T)
    if form == "recurrent":  # the definition, one token at a time
        outputs = []
        for t in range(k.shape[-2]):
            k_t, v_t, q_t = k[..., t, :], v[..., t, :], q[..., t, :]  # (..., n|d_v)
            state = state + v_t[..., :, None] * k_t[..., None, :]  # S_t, (..., d_v, n)
            read = (state @ q_t[..., None])[..., 0]  # S_t φ(q_t), (..., d_v)
            outputs.append(torch.exp(-log_scale[..., t, None]) * read)  # (..., d_v)
        output = torch.stack(outputs, dim=-2) if outputs else v.new_zeros(v.shape)
    else:  # exp(-s_t) scales query row t: linear attention's rows, rescaled
        ones = torch.ones(k.shape[:-1], dtype=k.dtype, device=k.device)  # Λ_t = I
        output, state = _run(q, k, v, ones, None, state, form, chunk_size)  # (..., T, d_v)
        output = torch.exp(-log_scale)[..., None] * output  # (..., T, d_v)
    return _result(output, state, return_state)


def _log_scale(value: Any, like: torch.Tensor) -> torch.Tensor:
    """The normaliser's log s_t as a finite tensor (..., T), like k's (..., T, d_k)."""
    shape = like.shape[:-1]
    if isinstance(value, (torch.Tensor, np.ndarray)):
        scale = as_tensor("log_scale", value)
        if not bool(torch.isfinite(scale).all()):
            bad = scale[~torch.isfinite(scale)].flatten()[0].item()
            raise ValueError(
                f"log_scale must contain only finite numbers (one log-normaliser per token), "
                f"got {bad}"
            )
        try:
            return scale.to(like.dtype).expand(shape)  # (..., T)
        except RuntimeError:
            raise ValueError(
                f"log_scale of shape {tuple(scale.shape)} does not broadcast to "
                f"{tuple(shape)} (..., T), one per token"
            ) from None
    # beyond |s| = 1e4, exp(-s) is 0 or overflows in every float type: the same numbers,
    # without a float32 tensor that cannot hold 1e300
    value = min(max(check_real("log_scale", value), -1e4), 1e4)
    return torch.full(shape, value, dtype=like.dtype, device=like.device)  # (..., T)


def gated_linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    alpha: float | torch.Tensor,
    *,
    feature_map: FeatureMap | str | None = None,
    form: str = "parallel",
    chunk_size: int = 64,
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> LinearAttentionResult:
    """Hebbian writes with forgetting, S_t = α_t S_{t-1} + v_t k_tᵀ, y_t = S_t q_t (lesson 05).

    A scalar gate per token, as in RetNet (α constant) and Mamba-2 / GLA-style
    data-dependent decay (GLA proper gates each key dimension). The parallel form
    weighs score (t, j) by the decay matrix D[t, j] = α_{j+1}⋯α_t: y = (D ⊙ Q Kᵀ) V.
    Association j written at step j is read at step t scaled by D[t, j]: old
    associations fade.

    Args:
        q, k, v: (..., T, d_k), (..., T, d_k), (..., T, d_v); leading dims broadcast.
        alpha: the forget gate in [0, 1]; a number, or a tensor broadcastable to
            (..., T) (one gate per token, e.g. (B, H, T)). α = 1 is linear attention.
        feature_map, form, chunk_size, initial_state, return_state: as in
            :func:`linear_attention`.

    Returns:
        LinearAttentionResult(output (..., T, d_v), state (..., d_v, d_k) or None).
    """
    return_state = check_bool("return_state", return_state)
    form, chunk_size = _check_form(form, chunk_size)
    q, k, v, state = _prepare(q, k, v, feature_map, initial_state)
    alpha = _gate("alpha", alpha, k)
    output, state = _run(q, k, v, alpha, None, state, form, chunk_size)
    return _result(output, state, return_state)


def delta_rule_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    beta: float | torch.Tensor,
    *,
    feature_map: FeatureMap | str | None = None,
    form: str = "chunkwise",
    chunk_size: int = 64,
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> LinearAttentionResult:
    """DeltaNet: S_t = S_{t-1} + β_t (v_t - S_{t-1} k_t) k_tᵀ, y_t = S_t q_t (lesson 05).

    The memory writes its prediction error, not the value: the Rescorla–Wagner rule
    (1972) and the Widrow–Hoff LMS rule, one SGD step on ½‖S k_t - v_t‖² with rate
    β_t (Schlag et al. 2021; Yang et al. 2024, arXiv 2406.06484). With unit keys and
    β = 1 a write overwrites what the key held: S_t k_t = v_t.

    Args:
        q, k, v: (..., T, d_k), (..., T, d_k), (..., T, d_v); leading dims broadcast.
            The rule is stable for β_t ‖k_t‖² <= 2; DeltaNet L2-normalizes the keys.
        beta: the learning rate in [0, 1]; a number, or a tensor broadcastable to
            (..., T).
        feature_map, form, chunk_size, initial_state, return_state: as in
            :func:`linear_attention`. The "parallel" form solves one (T, T) triangular
            system; "chunkwise" one (C, C) system per chunk (the UT transform).

    Returns:
        LinearAttentionResult(output (..., T, d_v), state (..., d_v, d_k) or None).
    """
    return gated_delta_rule_attention(
        q,
        k,
        v,
        1.0,
        beta,
        feature_map=feature_map,
        form=form,
        chunk_size=chunk_size,
        initial_state=initial_state,
        return_state=return_state,
    )


def gated_delta_rule_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    alpha: float | torch.Tensor,
    beta: float | torch.Tensor,
    *,
    feature_map: FeatureMap | str | None = None,
    form: str = "chunkwise",
    chunk_size: int = 64,
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> LinearAttentionResult:
    """Gated DeltaNet: S_t = α_t S_{t-1} (I - β_t k_t k_tᵀ) + β_t v_t k_tᵀ (lesson 05).

    Eq. 10 of Yang, Kautz, Hatamizadeh 2024 (arXiv 2412.06464): the memory first
    decays by α_t, then writes the prediction error of the decayed memory,
    u_t = β_t (v_t - α_t S_{t-1} k_t). α = 1 is the delta rule; β = 0 only forgets.

    Args:
        q, k, v: (..., T, d_k), (..., T, d_k), (..., T, d_v); leading dims broadcast.
        alpha: the forget gate in [0, 1], a number or a tensor broadcastable to (..., T).
        beta: the learning rate in [0, 1], a number or a tensor broadcastable to (..., T).
        feature_map, form, chunk_size, initial_state, return_state: as in
            :func:`linear_attention`.

    Returns:
        LinearAttentionResult(output (..., T, d_v), state (..., d_v, d_k) or None).
    """
    return_state = check_bool("return_state", return_state)
    form, chunk_size = _check_form(form, chunk_size)
    q, k, v, state = _prepare(q, k, v, feature_map, initial_state)
    alpha = _gate("alpha", alpha, k)
    beta = _gate("beta", beta, k)
    output, state = _run(q, k, v, alpha, beta, state, form, chunk_size)
    return _result(output, state, return_state)
