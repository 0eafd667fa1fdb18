"""Gated linear RNNs: the DSF paper's quasi-LSTM and Griffin's RG-LRU.

Both are diagonal linear systems with one state per channel (state expansion n = 1,
PAPERS.md §2): gates are computed from the input only, never from h, so the
recurrence stays linear and unrolls into a (T, T) matrix per channel (lesson 06).

=======  ======================================================================
operator one step, per channel (all products elementwise)
=======  ======================================================================
qlstm    h_i = α_i h_{i-1} + σ(i_i) u_i,   y_i = σ(o_i) h_i  (or y_i = h_i)
         α_i = σ(f_i), or with ``reversed_decay=a``: α_i = σ(-f_i)^relu(a)
rg_lru   h_i = a_i h_{i-1} + √(1 - a_i²) (σ(i_i) u_i),   y_i = h_i
         a_i = a^(c σ(r_i)),  a = exp(log_a) in (0, 1]
=======  ======================================================================

Both read as h_i = λ_i h_{i-1} + w_i u_i, y_i = ρ_i h_i with a decay λ, a write gate
w and a read gate ρ; unrolled, y[:, c] = K[c] u[:, c] with the implicit kernel

    K[c, i, j] = ρ_i[c] (λ_{j+1}[c] ⋯ λ_i[c]) w_j[c]   (j <= i, else 0),

the DSF's Φ for a diagonal system. Two forms compute the same numbers: ``"recurrent"``
(the definition, one step per token) and ``"parallel"`` (K from segment sums of
log λ, exponentiated only on the causal part, then multiplied).

The qLSTM is the LSTM of Hochreiter & Schmidhuber 1997 with the gates' h-dependence
and the input's tanh removed, as the DSF paper trains it (Sieber et al. 2024,
arXiv 2405.15731; code: IntelligentControlSystems/dsf-mqar, zoology/mixers/lstm.py).
Its reversed-sigmoid transition σ(-f)^a = exp(-softplus(f)·a) is S6's exp(Δ A) with
Δ = softplus(f) and A = -a (see ``attnviz.kernels.ssm``). The RG-LRU is the recurrence
of Hawk and Griffin (De et al. 2024, arXiv 2402.19427, §2.4), without the reset of
the normalisation at document boundaries.

Shapes: u and every logit tensor are (..., T, d), leading dimensions broadcast;
``reversed_decay`` and ``log_a`` are numbers or tensors broadcastable to (..., T, d)
(typically (d,), one per channel); the state is (..., d).

Example:
    >>> import torch
    >>> u, f, i = torch.randn(2, 16, 4), torch.randn(2, 16, 4), torch.randn(2, 16, 4)
    >>> out, state = qlstm(u, f, i, return_state=True)
    >>> out.shape, state.shape
    (torch.Size([2, 16, 4]), torch.Size([2, 4]))
    >>> K = qlstm_kernel(f, i)  # (..., d, T, T): y[..., c] = K[c] u[..., c]
    >>> torch.allclose(torch.einsum("...cij,...jc->...ic", K, u), out, atol=1e-5)
    True
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from attnviz.kernels.ssm import (
    FORMS,
    NO_INPUT,
    ScanResult,
    _segment_sums,
    _suffix_sums,
    as_finite,
    causal_mask,
    check_kernel_size,
    check_lengths,
    expand_to,
    lead_shape,
    needs_grad,
)
from attnviz.validation import check_bool, check_choice, check_real, check_sign, finite_result

__all__ = ["qlstm", "qlstm_kernel", "qlstm_transition", "rg_lru", "rg_lru_kernel",
           "rg_lru_transition"]  # fmt: skip

#: The largest temperature c of the RG-LRU (Griffin uses 8; past this a_i is 0 or 1 anyway).
MAX_C = 1e4

_OVERFLOW_HINT = "scale u (or the initial state) down, or pass float64 tensors"

# ------------------------------------------------------------------ diagonal systems


def _diagonal_recurrent(log_decay, write, read, u, state):
    """The definition, h_i = λ_i h_{i-1} + w_i u_i, y_i = ρ_i h_i, one token at a time."""
    outputs = []
    for i in range(u.shape[-2]):
        state = torch.exp(log_decay[..., i, :]) * state + write[..., i, :] * u[..., i, :]
        outputs.append(state if read is None else read[..., i, :] * state)  # (..., d)
    return torch.stack(outputs, dim=-2), state  # (..., T, d), (..., d)


def _diagonal_kernel(log_decay, write, read):
    """K[..., c, i, j] = ρ_i[c] (λ_{j+1}[c] ⋯ λ_i[c]) w_j[c] for j <= i, else 0."""
    t = log_decay.shape[-2]
    check_kernel_size(
        "the (..., d, T, T) kernel",
        *log_decay.shape[:-2],
        log_decay.shape[-1],
        t,
        t,
        dtype=log_decay.dtype,
        copies=3 if needs_grad(log_decay, write, read) else 1,  # in place without autograd
        instead="use form='recurrent' (no (T, T) matrix) or a shorter sequence",
    )
    sums = _segment_sums(log_decay.mT)  # (..., d, T, T), log λ <= 0: exp never overflows
    causal = causal_mask(log_decay.shape[-2], log_decay.device)
    if needs_grad(log_decay, write, read):
        kernel = torch.exp(sums) * write.mT[..., None, :]  # w_j, (..., d, 1, T)
        if read is not None:
            kernel = kernel * read.mT[..., :, None]  # ρ_i, (..., d, T, 1)
        return kernel.masked_fill(~causal, 0.0)
    kernel = sums.exp_().mul_(write.mT[..., None, :])  # the same, in place
    if read is not None:
        kernel.mul_(read.mT[..., :, None])
    return kernel.masked_fill_(~causal, 0.0)


def _diagonal_parallel(log_decay, write, read, u, state):
    kernel = _diagonal_kernel(log_decay, write, read)  # (..., d, T, T)
    output = torch.einsum("...cij,...jc->...ic", kernel, u)  # (..., T, d)
    later = torch.exp(_suffix_sums(log_decay, dim=-2))  # λ_{j+1} ⋯ λ_T, (..., T, d)
    final = (later * write * u).sum(-2)  # (..., d)
    if state is not None:  # h_0 decays by λ_1 ⋯ λ_i before it is read
        since = torch.exp(log_decay.cumsum(-2)) * state[..., None, :]  # (..., T, d)
        output = output + (since if read is None else read * since)
        final = final + since[..., -1, :]
    return output, final


def _run(log_decay, write, read, u, state, form):
    output, final = _run_form(log_decay, write, read, u, state, form)
    finite_result("the recurrence's output", output, hint=_OVERFLOW_HINT)
    finite_result("the recurrence's state", final, hint=_OVERFLOW_HINT)
    return output, final


def _run_form(log_decay, write, read, u, state, form):
    h0 = u.new_zeros(*u.shape[:-2], u.shape[-1]) if state is None else state  # (..., d)
    if u.shape[-2] == 0:  # no tokens: nothing written, nothing read
        return torch.zeros_like(u), h0
    if form == "recurrent":
        return _diagonal_recurrent(log_decay, write, read, u, h0)
    return _diagonal_parallel(log_decay, write, read, u, state)


def _prepare(tensors: dict[str, Any], extras: dict[str, Any], initial_state: Any):
    """Check the (..., T, d) tensors, broadcast them and the per-channel extras together.

    Every tensor in ``tensors`` is required (None is refused by name); an optional one
    that is None is left out by the caller, as are extras that are None.
    """
    tensors = {k: as_finite(k, x, min_dim=2) for k, x in tensors.items()}
    first, *_ = tensors
    d = tensors[first].shape[-1]
    for name, x in tensors.items():
        if x.shape[-1] != d:
            raise ValueError(
                f"{name} must have last dimension d = {d} (that of {first}), got shape "
                f"{tuple(x.shape)}"
            )
    t = check_lengths(**{k: (x, -2) for k, x in tensors.items()})
    lead = lead_shape(**{k: (x, 2) for k, x in tensors.items()})
    extras = {k: as_finite(k, x) for k, x in extras.items() if x is not None}
    dtype = torch.get_default_dtype() if not tensors else next(iter(tensors.values())).dtype
    for x in (*tensors.values(), *extras.values()):
        dtype = torch.promote_types(dtype, x.dtype)
    shape = (*lead, t, d)
    out = {k: x.to(dtype).expand(shape) for k, x in tensors.items()}  # (..., T, d)
    for name, x in extras.items():
        out[name] = expand_to(name, x.to(dtype), shape, "(..., T, d)")
    state = None
    if initial_state is not None:
        state = as_finite("initial_state", initial_state).to(dtype)
        state = expand_to("initial_state", state, (*lead, d), "(..., d)")
    return out, state


# -------------------------------------------------------------------------- qLSTM


def _qlstm_parts(forget_logits, input_logits, output_logits, reversed_decay, u, state):
    names = {"forget_logits": forget_logits, "input_logits": input_logits}
    if output_logits is not None:  # documented optional: None reads h_i itself
        names["output_logits"] = output_logits
    x, state = _prepare(
        {"u": u, **names} if u is not NO_INPUT else names,
        {"reversed_decay": reversed_decay},
        state,
    )
    f = x["forget_logits"]
    if "reversed_decay" in x:  # σ(-f)^relu(a) = exp(relu(a) log σ(-f)) = exp(-relu(a) softplus(f))
        log_decay = torch.relu(x["reversed_decay"]) * F.logsigmoid(-f)  # (..., T, d)
    else:
        log_decay = F.logsigmoid(f)  # log σ(f), finite for finite f
    write = torch.sigmoid(x["input_logits"])
    read = torch.sigmoid(x["output_logits"]) if "output_logits" in x else None
    return x.get("u"), log_decay, write, read, state


def qlstm(
    u: torch.Tensor,
    forget_logits: torch.Tensor,
    input_logits: torch.Tensor,
    output_logits: torch.Tensor | None = None,
    *,
    reversed_decay: float | torch.Tensor | None = None,
    form: str = "parallel",
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> ScanResult:
    """The DSF paper's quasi-LSTM: h_i = α_i h_{i-1} + σ(i_i) u_i, y_i = σ(o_i) h_i (lesson 06).

    An LSTM whose gates see only the input and whose input skips the tanh, so the
    recurrence is linear, a diagonal DSF with Λ_i = diag(α_i), B_i = diag(σ(i_i)),
    C_i = diag(σ(o_i)) and state expansion n = 1 (Sieber et al. 2024).

    Args:
        u: the input, (..., T, d).
        forget_logits: f, (..., T, d); the transition is α_i = σ(f_i).
        input_logits: i, (..., T, d); the write gate is σ(i_i).
        output_logits: o, (..., T, d), the read gate σ(o_i); None reads h_i itself.
        reversed_decay: a, None or a number or tensor broadcastable to (..., T, d). If
            given, the transition is the DSF code's reversed sigmoid
            α_i = σ(-f_i)^relu(a) = exp(-relu(a) softplus(f_i)), S6's exp(Δ A) with
            Δ = softplus(f), A = -relu(a). a <= 0 gives α = 1 (no forgetting).
        form: "parallel" (through each channel's (T, T) kernel) or "recurrent" (the
            definition); both give the same numbers.
        initial_state: optional h_0, broadcastable to (..., d).
        return_state: if True, also return h_T, (..., d).

    Returns:
        ScanResult(output (..., T, d), state (..., d) or None).
    """
    form = check_choice("form", form, FORMS)
    return_state = check_bool("return_state", return_state)
    u, log_decay, write, read, state = _qlstm_parts(
        forget_logits, input_logits, output_logits, reversed_decay, u, initial_state
    )
    output, final = _run(log_decay, write, read, u, state, form)
    return ScanResult(output, final if return_state else None)


def qlstm_transition(
    forget_logits: torch.Tensor, *, reversed_decay: float | torch.Tensor | None = None
) -> torch.Tensor:
    """The qLSTM's decay α_i (the diagonal of Λ_i), (..., T, d), in (0, 1]."""
    _, log_decay, _, _, _ = _qlstm_parts(
        forget_logits, forget_logits, None, reversed_decay, NO_INPUT, None
    )
    return torch.exp(log_decay)


def qlstm_kernel(
    forget_logits: torch.Tensor,
    input_logits: torch.Tensor,
    output_logits: torch.Tensor | None = None,
    *,
    reversed_decay: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """The qLSTM's implicit attention matrix, one (T, T) matrix per channel (the DSF's Φ).

    K[..., c, i, j] = σ(o_i[c]) α_{j+1}[c] ⋯ α_i[c] σ(i_j[c]) for j <= i, else 0, so that
    from a zero state ``y = torch.einsum("...cij,...jc->...ic", K, u)``. Arguments as
    in :func:`qlstm`.

    Returns:
        K, (..., d, T, T).
    """
    _, log_decay, write, read, _ = _qlstm_parts(
        forget_logits, input_logits, output_logits, reversed_decay, NO_INPUT, None
    )
    return _diagonal_kernel(log_decay, write, read)


# ------------------------------------------------------------------------- RG-LRU


def _rg_lru_parts(r_logits, i_logits, log_a, c, u, state):
    c = check_real("c", c, low=0.0, high=MAX_C, low_open=True)
    if log_a is None:
        raise TypeError("log_a must be a number or a tensor (log a <= 0), got None")
    names = {"r_logits": r_logits, "i_logits": i_logits}
    x, state = _prepare({"u": u, **names} if u is not NO_INPUT else names, {"log_a": log_a}, state)
    check_sign("log_a", x["log_a"], nonpositive=True, why="log a for a decay a in (0, 1]")
    log_decay = c * torch.sigmoid(x["r_logits"]) * x["log_a"]  # log a_i = c r_i log a
    # √(1 - a_i²) = √(-expm1(2 log a_i)): accurate when a_i is close to 1
    write = torch.sqrt(-torch.expm1(2 * log_decay)) * torch.sigmoid(x["i_logits"])
    return x.get("u"), log_decay, write, state


def rg_lru(
    u: torch.Tensor,
    r_logits: torch.Tensor,
    i_logits: torch.Tensor,
    log_a: float | torch.Tensor,
    *,
    c: float = 8.0,
    form: str = "parallel",
    initial_state: torch.Tensor | None = None,
    return_state: bool = False,
) -> ScanResult:
    """Griffin's RG-LRU: h_i = a_i h_{i-1} + √(1 - a_i²) (σ(i_i) u_i), y_i = h_i (lesson 06).

    The decay a_i = a^(c r_i), r_i = σ(r_logits_i), is a learned base a in (0, 1]
    raised to an input-dependent power; √(1 - a_i²) keeps the state's scale: with unit
    input gates, each row of the kernel has squared norm 1 - (a_1 ⋯ a_i)² <= 1
    (De et al. 2024, Eqs. 4–6).

    ``log_a`` is log a itself (every entry <= 0), so a_i = exp(c r_i log_a). Griffin
    writes a = σ(Λ) for a learned Λ: pass ``log_a = F.logsigmoid(Λ)``; the
    recurrentgemma code stores ``a_param`` with a = σ(-a_param): pass
    ``log_a = -F.softplus(a_param)``. log_a = 0 (a = 1) freezes the state and
    writes nothing.

    Args:
        u: the input, (..., T, d).
        r_logits: the recurrence gate's logits, (..., T, d).
        i_logits: the input gate's logits, (..., T, d).
        log_a: log a <= 0, a number or tensor broadcastable to (..., T, d), e.g. (d,).
        c: the temperature of the power, in (0, MAX_C] (Griffin: 8).
        form: "parallel" or "recurrent" (the definition); both give the same numbers.
        initial_state: optional h_0, broadcastable to (..., d).
        return_state: if True, also return h_T, (..., d).

    Returns:
        ScanResult(output (..., T, d), state (..., d) or None).
    """
    form = check_choice("form", form, FORMS)
    return_state = check_bool("return_state", return_state)
    u, log_decay, write, state = _rg_lru_parts(r_logits, i_logits, log_a, c, u, initial_state)
    output, final = _run(log_decay, write, None, u, state, form)
    return ScanResult(output, final if return_state else None)


def rg_lru_transition(
    r_logits: torch.Tensor, log_a: float | torch.Tensor, *, c: float = 8.0
) -> torch.Tensor:
    """The RG-LRU's decay a_i = a^(c σ(r_i)) (the diagonal of Λ_i), (..., T, d), in (0, 1]."""
    _, log_decay, _, _ = _rg_lru_parts(r_logits, r_logits, log_a, c, NO_INPUT, None)
    return torch.exp(log_decay)


def rg_lru_kernel(
    r_logits: torch.Tensor,
    i_logits: torch.Tensor,
    log_a: float | torch.Tensor,
    *,
    c: float = 8.0,
) -> torch.Tensor:
    """The RG-LRU's implicit attention matrix, one (T, T) matrix per channel (the DSF's Φ).

    K[..., c, i, j] = a_{j+1}[c] ⋯ a_i[c] √(1 - a_j[c]²) σ(i_j[c]) for j <= i, else 0,
    so that from a zero state ``y = torch.einsum("...cij,...jc->...ic", K, u)``.
    Arguments as in :func:`rg_lru`.

    Returns:
        K, (..., d, T, T).
    """
    _, log_decay, write, _ = _rg_lru_parts(r_logits, i_logits, log_a, c, NO_INPUT, None)
    return _diagonal_kernel(log_decay, write, None)
