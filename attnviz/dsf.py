"""The Dynamical Systems Framework: every model class as one kind of linear system.

Sieber, Amo Alonso, Didier, Zeilinger, Orvieto 2024, "Understanding the differences in
Foundation Models: Attention, SSMs, and RNNs" (NeurIPS 2024, arXiv 2405.15731; PAPERS.md
§2; lesson 06) write softmax attention, linear attention, selective SSMs and gated RNNs
as one input-dependent (time-varying) linear system on u_i ∈ R^d:

    h_i = Λ_i h_{i-1} + B_i u_i,    y_i = C_i h_i + D u_i,      h_i ∈ R^N, Λ_i diagonal,

and unroll it to y = Φ u with the block lower-triangular *implicit attention matrix*

    Φ_ij = C_i Λ_i Λ_{i-1} ⋯ Λ_{j+1} B_j   (j < i),    Φ_ii = C_i B_i + D,    0 (j > i).

==========================  =========================================  ===========  =========
class (builder)             Λ_i                                        B_i / C_i    N
==========================  =========================================  ===========  =========
linear attention            I (normalised: η_{i-1}/η_i · I)            W_v ⊗ k_i /  n·d
                                                                       I ⊗ q_iᵀ
normalised attention        exp(s_{i-1} - s_i) · I, s_i = f(w_nᵀu_i)   as above     n·d
gated linear attention      σ(w_αᵀu_i + b_α) · I                       as above     n·d
S6 (Mamba)                  diag(exp(Δ_i ⊗ A))                         diag(Δ_i)⊗b_i n·d
                                                                       / I ⊗ c_iᵀ
SSD (Mamba-2)               exp(Δ_{i,h} a_h) per head h                as S6        n·d
qLSTM                       diag(σ(f_i)) or diag(σ(-f_i)^a)            diag(σ(ι_i)) d
                                                                       / diag(σ(o_i))
RG-LRU (Griffin)            diag(a^{c r_i})                            diag(√(1-a_i²)  d
                                                                       ⊙ σ(ι_i)) / I
softmax attention           (no finite state)                          —            ∞
==========================  =========================================  ===========  =========

Weights act like ``torch.nn.Linear.weight``: q_i = W_q u_i, so W_q is (n, d). The
attention classes keep their value map W_v (d, d) apart: their Φ is (T, T) scalar
kernel ⊗ W_v, so :meth:`DSF.phi_kernel` is all that needs computing. The other
classes are *diagonal* (channel-separable): Φ_ij is a diagonal d x d block, and
:meth:`DSF.phi` gives it per channel, (d, T, T), in closed form from cumulative
log-decays (chunked like Mamba-2's SSD algorithm, so nothing overflows and no Python
loop runs over T² blocks). :meth:`DSF.run` is the recurrence itself, the definition.

Derivations checked by tests/test_dsf.py (where PAPERS.md had only a reconstruction):

* Normalised linear attention, h_i = vec(S_i)/η_i with η_i = φ(q_i)ᵀΣ_{j<=i}φ(k_j),
  gives exactly Λ_i = (η_{i-1}/η_i) I, B_i u_i = vec(W_v u_i φ(k_i)ᵀ)/η_i and
  C_i = I ⊗ φ(q_i)ᵀ: the Λ-product telescopes to η_j/η_i and Φ_ij = a_ij W_v with the
  row-normalised weights a_ij. But Λ_i is *not* a decay in (0, 1]: η_{i-1} uses the
  previous query, so Λ_i > 1 whenever φ(q_i)ᵀz_i < φ(q_{i-1})ᵀz_{i-1}. It is in
  (0, 1] only when the normaliser cannot shrink (e.g. a constant query). The same
  holds for the DSF paper's learned normaliser, Λ_i = exp(s_{i-1} - s_i).
* The form is not unique: any h_i → g_i h_i (g_i ≠ 0) rescales Λ_i by g_i/g_{i-1},
  B_i by g_i and C_i by 1/g_i with the same Φ (``kernels.linear.normalized_attention``
  keeps Λ_i = I and puts the scale in C_i).

Computation only: nothing here imports Panel or Bokeh.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> u = torch.randn(6, 4, generator=g, dtype=torch.float64)           # (T, d)
    >>> W = torch.randn(4, 4, generator=g, dtype=torch.float64)
    >>> sys = from_linear_attention(u, W, W, torch.eye(4, dtype=torch.float64),
    ...                             feature_map="elu_plus_one", normalize=True)
    >>> sys.state_size, tuple(sys.phi_kernel().shape)
    (16, (6, 6))
    >>> torch.allclose(sys.run(u), sys.apply(u))          # recurrence == Φ u
    True
    >>> sys.phi_kernel().sum(1).round(decimals=12).tolist()  # rows of weights sum to 1
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F

from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.model_classes import BY_KIND
from attnviz.validation import (
    as_tensor,
    check_bool,
    check_choice,
    check_int,
    check_real,
    check_text,
    finite_result,
)

KINDS = tuple(BY_KIND)  # the classes, listed once in attnviz.model_classes
ATTENTION_KINDS = ("linear_attention", "normalized_attention", "gated_linear_attention")
NORMALIZERS = ("exp", "softplus", "sigmoid", "elu")
CHANNEL_MAPS = ("diagonal", "row_sum")
REDUCTIONS = ("rms", "mean_abs")

# Chunks of at most this many tokens get exact segment sums (see _diagonal_phi).
_LEAF = 8
#: The largest sizes ``nested_weights`` draws at (T, d, n): its draws are cached.
MAX_NESTED_LIMITS = (4096, 256, 256)
_OVERFLOW = (
    "the input or the weights are too large for the arithmetic (q·k, a gate or Δ "
    "overflowed); use smaller inputs or weights"
)


def _finite_system(what: str, *tensors: torch.Tensor | None) -> None:
    """A system's own tensors, made from finite inputs, must be finite."""
    for tensor in tensors:
        if tensor is not None:
            finite_result(what, tensor, hint=_OVERFLOW)


def _check_phi_bytes(what: str, *shape: int, dtype: torch.dtype) -> None:
    check_bytes(
        f"{what} of shape {tuple(shape)}",
        tensor_bytes(*shape, dtype=dtype) * 3,
        instead="use a shorter input u (fewer tokens T) or fewer channels d",
    )


def state_size(kind: str, d: int, n: int = 1) -> int | float:
    """N, the size of the recurrent state of each class for model width d (lesson 06).

    Attention classes keep a d x n matrix (n = the feature dimension / state expansion);
    S6 and SSD keep n states per channel; qLSTM and RG-LRU one per channel; softmax
    attention's exp(qᵀk) needs infinitely many features, so its N is ``math.inf``.

    >>> state_size("s6", 64, 16), state_size("qlstm", 64), state_size("softmax", 64)
    (1024, 64, inf)
    """
    kind = check_choice("kind", kind, KINDS)
    d = check_int("d", d, low=1, high=2**31)
    n = check_int("n", n, low=1, high=2**31)
    if kind == "softmax":
        return math.inf
    if kind in ("qlstm", "rg_lru"):
        return d
    return n * d


# ---------------------------------------------------------------------------- checks


def _finite(name: str, value: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    tensor = as_tensor(name, value)
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must contain only finite numbers (no NaN or inf)")
    return tensor if dtype is None else tensor.to(dtype)


def _input(u: Any) -> torch.Tensor:
    u = _finite("u", as_tensor("u", u, min_dim=2))
    if u.dim() != 2 or u.shape[0] < 1 or u.shape[1] < 1:
        raise ValueError(f"u must have shape (T, d) with T, d >= 1, got {tuple(u.shape)}")
    return u  # (T, d)


def _param(name: str, value: Any, shape: tuple[int | None, ...], like: torch.Tensor, what: str):
    """A finite parameter of the given shape (None: any size), in u's dtype."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and shape == ():
        return torch.tensor(check_real(name, value), dtype=like.dtype)
    tensor = _finite(name, value, like.dtype)
    ok = tensor.dim() == len(shape) and all(
        want is None or got == want for got, want in zip(tensor.shape, shape, strict=False)
    )
    if not ok:
        raise ValueError(f"{name} must have shape {what}, got {tuple(tensor.shape)}")
    return tensor


def _feature(feature_map: Any) -> Callable[[torch.Tensor], torch.Tensor] | None:
    if feature_map is None:
        return None
    if isinstance(feature_map, str):  # the registry of kernels/feature_maps.py
        from attnviz.kernels.feature_maps import resolve_feature_map

        return resolve_feature_map(feature_map)
    if not callable(feature_map):
        raise TypeError(
            "feature_map must be None, a name or a callable tensor -> tensor, got "
            f"{type(feature_map).__name__}"
        )
    return feature_map


def _qkv(u, W_q, W_k, W_v, feature_map):
    """q_i = φ(W_q u_i), k_i = φ(W_k u_i) (T, n) and the value map W_v (d, d)."""
    d = u.shape[1]
    W_q = _param("W_q", W_q, (None, d), u, f"(n, d) with d = u.shape[1] = {d}")
    W_k = _param("W_k", W_k, (W_q.shape[0], d), u, f"(n, d) = {tuple(W_q.shape)}, as W_q")
    W_v = _param("W_v", W_v, (d, d), u, f"(d, d) = ({d}, {d})")
    phi = _feature(feature_map)
    q, k = u @ W_q.T, u @ W_k.T  # (T, n)
    if phi is not None:
        q, k = phi(q), phi(k)  # (T, n')
        for name, x in (("feature_map(q)", q), ("feature_map(k)", k)):
            if not isinstance(x, torch.Tensor) or x.shape[:-1] != u.shape[:1]:
                raise ValueError(f"{name} must return a tensor (T, n), got {type(x).__name__}")
            _finite(name, x)
    return q.to(u.dtype), k.to(u.dtype), W_v


def _gate_logits(name: str, w: Any, bias_name: str, b: Any, u: torch.Tensor) -> torch.Tensor:
    """wᵀu_i + b per token, w (d,) -> (T,), or W u_i + b, W (d, d) -> (T, d)."""
    d = u.shape[1]
    w = _finite(name, w, u.dtype)
    if w.shape not in ((d,), (d, d)):
        raise ValueError(f"{name} must have shape ({d},) or ({d}, {d}), got {tuple(w.shape)}")
    logits = u @ w.T if w.dim() == 2 else u @ w  # (T, d) or (T,)
    shape = tuple(logits.shape[1:])
    bias = _param(bias_name, b, () if _is_number(b) else shape, u, f"a number or {shape}")
    return logits + bias


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ------------------------------------------------------------------ closed-form Φ


def _scalar_kernel(q: torch.Tensor, k: torch.Tensor, log_lam: torch.Tensor) -> torch.Tensor:
    """K_ij = (q_i·k_j) Π_{s=j+1..i} λ_s for j <= i, else 0: (T, n), (T, n), (T,) -> (T, T)."""
    gamma = torch.cumsum(log_lam.double(), 0)  # Γ_i = Σ_{s<=i} log λ_s, (T,)
    lower = torch.ones(q.shape[0], q.shape[0], dtype=torch.bool).tril()
    logs = (gamma[:, None] - gamma[None, :]).masked_fill(~lower, -math.inf)  # (T, T)
    return (q @ k.T) * torch.exp(logs).to(q.dtype)  # (T, T)


def _diagonal_phi(log_lam: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """φ^g_ij = Σ_p c[g,i,p] b[g,j,p] exp(Σ_{s=j+1..i} log λ[g,s,p]) for j <= i, else 0.

    log_lam (G, T, m) with m = n or 1 (one decay for all n states), b, c (G, T, n)
    -> (G, T, T). Mamba-2's chunked SSD algorithm, applied recursively: chunks of
    L ≈ √T tokens; across chunks the decay factors through the chunk boundaries,
    exp(Γ_i - Γ_j) = exp(Γ_i - a_I) exp(a_I - e_J) exp(e_J - Γ_j), with a_I the
    cumulative log-decay before chunk I and e_J at the end of chunk J; each chunk's
    own (L, L) block is the same problem again, down to chunks of 8 done exactly.
    Every exponent is a sum of log λ over a forward span (<= 0 for decays), so
    nothing overflows; no Python loop runs over more than T/L chunks.
    """
    G, T, n = b.shape
    m = log_lam.shape[-1]
    if T <= _LEAF:  # exact segment sums, (G, T, T, m)
        gamma = torch.cumsum(log_lam.double(), 1)  # Γ, (G, T, m)
        lower = torch.ones(T, T, dtype=torch.bool).tril()[:, :, None]
        seg = (gamma[:, :, None] - gamma[:, None, :]).masked_fill(~lower, -math.inf)
        decay = torch.exp(seg.to(b.dtype))  # (G, T, T, m)
        if m == 1:
            return (c @ b.mT) * decay[..., 0]
        return torch.einsum("gip,gijp,gjp->gij", c, decay, b)
    L = _LEAF
    while L * L < T:
        L *= 2
    nb = -(-T // L)
    pad = nb * L - T
    if pad:  # padded tokens: no decay, no input, no read-out
        log_lam, b, c = (F.pad(x, (0, 0, 0, pad)) for x in (log_lam, b, c))
    gamma = torch.cumsum(log_lam.double(), 1).view(G, nb, L, m)  # Γ, (G, nb, L, m)
    ends = gamma[:, :, -1]  # e_J, (G, nb, m)
    starts = torch.cat([torch.zeros_like(ends[:, :1]), ends[:, :-1]], 1)  # a_I, (G, nb, m)
    dtype = b.dtype
    bb, cc = b.view(G, nb, L, n), c.view(G, nb, L, n)
    left = cc * torch.exp((gamma - starts[:, :, None]).to(dtype))  # (G, nb, L, n)
    right = bb * torch.exp((ends[:, :, None] - gamma).to(dtype))  # (G, nb, L, n)
    mid = torch.exp((starts[:, :, None] - ends[:, None, :]).to(dtype))  # J < I used, (G, nb, nb, m)

    out = torch.empty(G, nb * L, nb * L, dtype=dtype)  # each entry written once below
    for k in range(nb):  # chunk I = k's rows against the earlier chunks J < k
        rows = slice(k * L, (k + 1) * L)
        out[:, rows, (k + 1) * L :] = 0.0  # causal: nothing from later chunks
        if k == 0:
            continue
        weighted = (mid[:, k, :k, None, :] * right[:, :k]).reshape(G, k * L, n)  # (G, k·L, n)
        if n == 1:
            out[:, rows, : k * L] = left[:, k] * weighted.mT  # outer product, (G, L, k·L)
        else:
            out[:, rows, : k * L] = left[:, k] @ weighted.mT  # (G, L, k·L)
    local = log_lam.view(G * nb, L, m)
    diagonal = _diagonal_phi(local, bb.reshape(G * nb, L, n), cc.reshape(G * nb, L, n))
    blocks = out.view(G, nb, L, nb, L).diagonal(dim1=1, dim2=3)  # (G, L, L, nb)
    blocks.copy_(diagonal.view(G, nb, L, L).permute(0, 2, 3, 1))
    return out[:, :T, :T] if pad else out


# ------------------------------------------------------------------ the Φ views


class ImplicitAttention:
    """What every class shares: its implicit attention matrix Φ with y = Φ u (lesson 06).

    Subclasses give Φ in one of two factored forms: ``_kernel_form`` (a (T, T) scalar
    kernel times the value map W_v, the attention classes) or ``_channel_form``
    (per-channel (d, T, T), the diagonal classes).
    """

    kind: str

    @property
    def diagonal(self) -> bool:
        """True if the system is channel-separable: every block Φ_ij is diagonal."""
        return self.kind not in ATTENTION_KINDS + ("softmax",)

    @property
    def d(self) -> int:
        raise NotImplementedError

    @property
    def state_size(self) -> int | float:
        raise NotImplementedError

    def _kernel_form(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _channel_form(self) -> torch.Tensor:
        raise NotImplementedError

    def phi_kernel(self) -> torch.Tensor:
        """The attention classes' scalar kernel K (T, T): Φ_ij = K_ij W_v."""
        if self.diagonal:
            raise ValueError(
                f"phi_kernel is defined for {ATTENTION_KINDS + ('softmax',)}; {self.kind!r} is "
                "channel-separable: use phi() for its per-channel (d, T, T) matrices"
            )
        return self._kernel_form()[0]

    def phi(self) -> torch.Tensor:
        """Φ: per channel (d, T, T) for diagonal systems, else the blocks (T, T, d, d).
        (A one-head SSD returns a read-only view: its channels share one (T, T) matrix.)

        The blocks cost T²d² numbers; for large T use :meth:`phi_kernel` (attention)
        or :meth:`phi_channels`.
        """
        return self._channel_form() if self.diagonal else self.phi_blocks()

    def phi_blocks(self) -> torch.Tensor:
        """Φ as (T, T, d, d) blocks Φ_ij for every class (the definition's layout)."""
        d, T = self.d, self._tokens()
        _check_phi_bytes("the blocks of Φ", T, T, d, d, dtype=torch.float64)
        if self.diagonal:
            return torch.diag_embed(self._channel_form().permute(1, 2, 0))  # (T, T, d, d)
        kernel, W_v = self._kernel_form()
        blocks = kernel[:, :, None, None] * W_v  # (T, T, d, d)
        return finite_result("the blocks of Φ", blocks, hint=_OVERFLOW)

    def _tokens(self) -> int:
        return self.T

    def phi_channels(self, channel_map: str = "diagonal") -> torch.Tensor:
        """Per-channel matrices (d, T, T) in one format for every class.

        Diagonal systems: their own φ^c. Attention: channel_map="diagonal" takes the
        blocks' diagonal K W_v[c, c]; "row_sum" the response of output channel c to a
        unit input on every channel, K Σ_e W_v[c, e].
        """
        channel_map = check_choice("channel_map", channel_map, CHANNEL_MAPS)
        if self.diagonal:
            return self._channel_form()
        kernel, W_v = self._kernel_form()
        _check_phi_bytes("the per-channel Φ", self.d, *kernel.shape, dtype=kernel.dtype)
        scale = W_v.diagonal() if channel_map == "diagonal" else W_v.sum(1)  # (d,)
        return finite_result("Φ per channel", scale[:, None, None] * kernel, hint=_OVERFLOW)

    def phi_summary(self, reduce: str = "rms") -> torch.Tensor:
        """One (T, T) picture of Φ for every class: a size of each d x d block.

        reduce="rms": ‖Φ_ij‖_F / √d; "mean_abs": Σ_{c,e} |Φ_ij[c, e]| / d. For a
        diagonal system both are means over channels (of φ^c_ij² under a root, or of
        |φ^c_ij|); for attention with W_v = I both are |K_ij|.
        """
        reduce = check_choice("reduce", reduce, REDUCTIONS)
        if self.diagonal:
            per_channel = self._channel_form()  # (d, T, T)
            top = per_channel.abs().amax().clamp_min(1e-300)  # so the squares cannot overflow
            if reduce == "rms":
                out = (per_channel / top).square().mean(0).sqrt() * top
            else:
                out = per_channel.abs().mean(0)
            return finite_result("phi_summary", out, hint=_OVERFLOW)
        kernel, W_v = self._kernel_form()
        d = W_v.shape[0]
        size = W_v.norm() / math.sqrt(d) if reduce == "rms" else W_v.abs().sum() / d
        return finite_result("phi_summary", kernel.abs() * size, hint=_OVERFLOW)  # (T, T)

    def _factors(self, u: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(u, per-channel Φ (d, T, T), None) or (u, K (T, T), W_v (d, d)), u checked (T, d)."""
        u = _input(u)
        if self.diagonal:
            phi, W_v = self._channel_form(), None  # (d, T, T)
            shape = (phi.shape[1], phi.shape[0])
        else:
            phi, W_v = self._kernel_form()  # (T, T), (d, d)
            shape = (phi.shape[0], W_v.shape[0])
        if u.shape != shape:
            raise ValueError(f"u must have shape {shape}, got {tuple(u.shape)}")
        return u.to(phi.dtype), phi, W_v

    def apply(self, u: Any) -> torch.Tensor:
        """y = Φ u from the closed-form Φ: u (T, d) -> y (T, d)."""
        u, phi, W_v = self._factors(u)
        if W_v is None:
            y = torch.einsum("cij,jc->ic", phi, u)  # (T, d)
        else:
            y = phi @ (u @ W_v.T)  # K (u W_vᵀ), (T, d)
        return finite_result("y = Φ u", y, hint=_OVERFLOW)

    def contributions(self, u: Any) -> torch.Tensor:
        """What each input adds to each output: (Φ_ij u_j)[c] as (d, T, T), u (T, d).

        Row i of channel c sums to y_i[c], so its cumulative sum over j is y_i[c] built
        up input by input (lesson 06's step control). Diagonal systems: φ^c_ij u_j[c];
        attention: K_ij (W_v u_j)[c], every input channel feeding output channel c.
        """
        u, phi, W_v = self._factors(u)
        _check_phi_bytes("the contributions", u.shape[1], u.shape[0], u.shape[0], dtype=phi.dtype)
        if W_v is None:
            out = phi * u.T[:, None, :]  # (d, T, T)
        else:
            out = phi[None] * (u @ W_v.T).T[:, None, :]  # (d, T, T)
        return finite_result("the contributions Φ_ij u_j", out, hint=_OVERFLOW)


@dataclass(frozen=True, eq=False)
class SoftmaxAttention(ImplicitAttention):
    """Causal softmax attention as Φ_ij = a_ij W_v; no finite DSF state (N = ∞)."""

    kind: str
    weights: torch.Tensor  # a_ij, causal softmax weights, (T, T)
    W_v: torch.Tensor  # (d, d)

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, ("softmax",))
        weights = as_tensor("weights", self.weights, ndim=2)
        W_v = as_tensor("W_v", self.W_v, ndim=2)
        if weights.shape[0] != weights.shape[1] or W_v.shape[0] != W_v.shape[1]:
            raise ValueError(
                f"weights must be (T, T) and W_v (d, d), got {tuple(weights.shape)} and "
                f"{tuple(W_v.shape)}"
            )
        _finite_system("softmax attention's weights", weights, W_v)

    @property
    def T(self) -> int:
        return self.weights.shape[0]

    @property
    def d(self) -> int:
        return self.W_v.shape[0]

    @property
    def state_size(self) -> float:
        return math.inf

    def _kernel_form(self):
        return self.weights, self.W_v


@dataclass(frozen=True, eq=False)
class DSF(ImplicitAttention):
    """One class as (Λ_i, B_i, C_i, D) in factored form (lesson 06).

    Attention classes (``kind`` in ATTENTION_KINDS): the state is vec(S_i), S_i (d, n),
    h index c·n + p; Λ_i = λ_i I_N, B_i = W_v ⊗ b_i, C_i = I_d ⊗ c_iᵀ, so
    ``log_lambda`` is (T,), ``b`` and ``c`` are (T, n) and ``W_v`` is (d, d).

    Diagonal classes: state h[c, p] (index c·n + p), Λ_i = diag(λ_i[c, p]),
    B_i[(c, p), e] = δ_ce b_i[c, p], C_i[c, (c', p)] = δ_cc' c_i[c, p]: ``log_lambda``
    is (T, d, n) or (T, d, 1) (one decay shared by a channel's n states), ``b`` and
    ``c`` (T, d, n), ``W_v`` None, ``skip`` the diagonal of D (d,) or None.

    The dense matrices are properties (``Lambda`` (T, N), ``B`` (T, N, d), ``C``
    (T, d, N), ``D`` (d, d) or None), built on demand: they cost T·N·d numbers.
    """

    kind: str
    log_lambda: torch.Tensor
    b: torch.Tensor
    c: torch.Tensor
    W_v: torch.Tensor | None = None
    skip: torch.Tensor | None = None
    label: str = ""
    heads: int | None = None  # SSD: channels of a head share Λ, B, C (Φ computed per head)

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, tuple(k for k in KINDS if k != "softmax"))
        check_text("label", self.label, empty=True)
        for name in ("log_lambda", "b", "c"):
            as_tensor(name, getattr(self, name))
        if self.heads is not None:
            check_int("heads", self.heads, low=1)
        _finite_system(f"the {self.kind} system", self.log_lambda, self.b, self.c, self.W_v,
                       self.skip)  # fmt: skip

    # ---- sizes
    @property
    def T(self) -> int:
        return self.b.shape[0]

    @property
    def n(self) -> int:
        """The state expansion: features per channel."""
        return self.b.shape[-1]

    @property
    def d(self) -> int:
        return self.W_v.shape[0] if self.W_v is not None else self.b.shape[1]

    @property
    def state_size(self) -> int:
        """N = n·d."""
        return self.n * self.d

    # ---- the dense DSF matrices
    @property
    def Lambda(self) -> torch.Tensor:
        """Diagonal of each Λ_i, (T, N)."""
        lam = torch.exp(self.log_lambda)
        if self.diagonal:
            return lam.expand(self.T, self.d, self.n).reshape(self.T, self.state_size)
        return lam[:, None].expand(self.T, self.state_size).clone()

    @property
    def B(self) -> torch.Tensor:
        """(T, N, d)."""
        if self.diagonal:
            eye = torch.eye(self.d, dtype=self.b.dtype)
            return torch.einsum("tcp,ce->tcpe", self.b, eye).reshape(self.T, -1, self.d)
        return torch.einsum("ce,tp->tcpe", self.W_v, self.b).reshape(self.T, -1, self.d)

    @property
    def C(self) -> torch.Tensor:
        """(T, d, N)."""
        eye = torch.eye(self.d, dtype=self.c.dtype)
        if self.diagonal:
            return torch.einsum("tcp,ce->tcep", self.c, eye).reshape(self.T, self.d, -1)
        return torch.einsum("ce,tp->tcep", eye, self.c).reshape(self.T, self.d, -1)

    @property
    def D(self) -> torch.Tensor | None:
        """(d, d) or None."""
        return None if self.skip is None else torch.diag(self.skip)

    # ---- the recurrence, the definition
    def run(self, u: Any) -> torch.Tensor:
        """y_i = C_i h_i + D u_i with h_i = Λ_i h_{i-1} + B_i u_i, h_0 = 0; u (T, d) -> (T, d).

        One token at a time through the dense matrices: the definition Φ is tested
        against, not a fast path.
        """
        u = _input(u).to(self.b.dtype)
        if u.shape != (self.T, self.d):
            raise ValueError(f"u must have shape {(self.T, self.d)}, got {tuple(u.shape)}")
        check_bytes(
            f"the dense DSF matrices B and C of shape {(self.T, self.state_size, self.d)}",
            tensor_bytes(self.T, self.state_size, self.d, dtype=self.b.dtype) * 3,
            instead="use apply(u), which reads Φ in closed form, or a shorter input",
        )
        Lambda, B, C, D = self.Lambda, self.B, self.C, self.D
        h = u.new_zeros(self.state_size)  # (N,)
        outputs = []
        for i in range(self.T):
            h = Lambda[i] * h + B[i] @ u[i]  # (N,)
            y = C[i] @ h  # (d,)
            outputs.append(y if D is None else y + D @ u[i])
        return finite_result("the recurrence's output", torch.stack(outputs), hint=_OVERFLOW)

    # ---- Φ in closed form
    def _kernel_form(self):
        if self.diagonal:
            raise ValueError(f"{self.kind!r} is channel-separable: it has no scalar kernel")
        _check_phi_bytes("the kernel K", self.T, self.T, dtype=self.b.dtype)
        kernel = _scalar_kernel(self.c, self.b, self.log_lambda)
        return finite_result(f"the {self.kind} system's kernel", kernel, hint=_OVERFLOW), self.W_v

    def _channel_form(self) -> torch.Tensor:
        _check_phi_bytes("the per-channel Φ", self.d, self.T, self.T, dtype=self.b.dtype)
        step = 1 if self.heads is None else self.d // self.heads  # channels per group
        log_lam = self.log_lambda[:, ::step].permute(1, 0, 2)  # (G, T, m)
        b, c = self.b[:, ::step].permute(1, 0, 2), self.c[:, ::step].permute(1, 0, 2)  # (G, T, n)
        phi = _diagonal_phi(log_lam.contiguous(), b.contiguous(), c.contiguous())  # (G, T, T)
        if step > 1 and phi.shape[0] == 1 and self.skip is None:
            return phi.expand(self.d, -1, -1)  # one head: every channel shares it (a view)
        if step > 1:
            phi = phi.repeat_interleave(step, 0)  # one copy per channel of the head, (d, T, T)
        if self.skip is not None:
            phi.diagonal(dim1=1, dim2=2).add_(self.skip[:, None])  # Φ_ii += D
        return finite_result(f"the {self.kind} system's Φ", phi, hint=_OVERFLOW)

    # ---- decay
    def spectrum(self) -> torch.Tensor:
        """The eigenvalues of each Λ_i, (T, N) (a scalar system repeats λ_i N times)."""
        return self.Lambda

    def decay_profile(self, per_channel: bool = False) -> torch.Tensor:
        """How the transition's products shrink with lag ℓ = 0..T-1, (T,) or (d, T).

        profile[ℓ] = exp(mean over positions i >= ℓ (and states) of
        log Π_{s=i-ℓ+1..i} λ_s): the geometric-mean factor by which ℓ steps of
        Λ scale the state. 1 at ℓ = 0; flat at 1 for linear attention.
        """
        per_channel = check_bool("per_channel", per_channel)
        log_lam = self.log_lambda.double()
        if not self.diagonal:
            log_lam = log_lam[:, None, None].expand(self.T, self.d, 1)
        log_lam = log_lam.mean(-1).T  # mean over states, (d, T)
        gamma = torch.cumsum(log_lam, 1)  # Γ_i, (d, T)
        prefix = F.pad(torch.cumsum(gamma, 1), (1, 0))  # P_k = Σ_{i<k} Γ_i, (d, T + 1)
        T = self.T
        lags = torch.arange(T)
        # Σ_{i=ℓ}^{T-1} (Γ_i - Γ_{i-ℓ}) = (P_T - P_ℓ) - P_{T-ℓ}
        total = (prefix[:, T : T + 1] - prefix[:, lags]) - prefix[:, T - lags]  # (d, T)
        profile = torch.exp(total / (T - lags)).to(self.b.dtype)  # (d, T)
        profile = profile if per_channel else profile.mean(0).to(self.b.dtype)
        return finite_result("decay_profile", profile, hint=_OVERFLOW)


# ------------------------------------------------------------------- the builders


def from_linear_attention(
    u: Any,
    W_q: Any,
    W_k: Any,
    W_v: Any,
    feature_map: Any = None,
    normalize: bool = False,
    eps: float = 1e-6,
) -> DSF:
    """Causal linear attention y_i = Σ_{j<=i} (φ(q_i)ᵀφ(k_j)) W_v u_j [/ η_i] as a DSF.

    State S_i = Σ_{j<=i} v_j φ(k_j)ᵀ, h_i = vec(S_i): Λ_i = I, B_i = W_v ⊗ φ(k_i),
    C_i = I ⊗ φ(q_i)ᵀ, N = n·d. normalize=True divides by η_i = φ(q_i)ᵀΣ_{j<=i}φ(k_j)
    and takes h_i = vec(S_i)/η_i, so Λ_i = η_{i-1}/η_i (Λ_1 = 1, it meets h_0 = 0) and
    B_i = W_v ⊗ φ(k_i)/η_i; η_i must be > eps (use a positive feature map).

    Args:
        u: the input (T, d).
        W_q, W_k: (n, d); W_v: (d, d).
        feature_map: None (identity), a name in kernels/feature_maps.py, or a callable.
        normalize: divide each row by η_i.
        eps: the smallest η_i accepted.
    """
    u = _input(u)
    normalize = check_bool("normalize", normalize)
    eps = check_real("eps", eps, low=0.0)
    q, k, W_v = _qkv(u, W_q, W_k, W_v, feature_map)
    log_lam = torch.zeros(u.shape[0], dtype=u.dtype)  # Λ_i = I
    if not normalize:
        return DSF("linear_attention", log_lam, k, q, W_v, label="linear attention")
    eta = (q * torch.cumsum(k, 0)).sum(1)  # η_i = φ(q_i)ᵀ z_i, (T,)
    if bool((eta <= eps).any()):
        i = int((eta <= eps).nonzero()[0])
        raise ValueError(
            f"normalize=True needs η_i = φ(q_i)ᵀΣ_(j<=i) φ(k_j) > eps={eps:g}, got "
            f"{eta[i].item():.3g} at token {i}; use a positive feature_map (e.g. "
            "'elu_plus_one') or normalize=False"
        )
    log_eta = torch.log(eta)  # (T,)
    log_lam = torch.cat([log_lam[:1], log_eta[:-1] - log_eta[1:]])  # log η_{i-1}/η_i
    return DSF(
        "linear_attention", log_lam, k / eta[:, None], q, W_v, label="linear attention (normalised)"
    )


def _normalizer(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "exp":
        return torch.exp(z)
    if name == "softplus":
        return F.softplus(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    return F.elu(z)


def from_normalized_attention(
    u: Any,
    W_q: Any,
    W_k: Any,
    W_v: Any,
    w_n: Any,
    b_n: float = 0.0,
    normalizer: str = "exp",
    feature_map: Any = None,
) -> DSF:
    """The DSF paper's normalised attention: y_i = exp(-s_i) Σ_{j<=i} (q_iᵀk_j) W_v u_j.

    s_i = f(w_nᵀu_i + b_n), f = ``normalizer`` (the paper found "exp" best), a learned
    normaliser in place of η_i = Σ_j q_iᵀk_j. With h_i = vec(S_i) e^{-s_i}:
    Λ_i = exp(s_{i-1} - s_i) I (Λ_1 = 1), B_i = W_v ⊗ k_i e^{-s_i}, C_i = I ⊗ q_iᵀ.
    ``kernels.linear.normalized_attention(q, k, v, log_scale=s)`` computes the same.

    Args:
        u: (T, d); W_q, W_k: (n, d); W_v: (d, d); w_n: (d,); b_n: a number.
        normalizer: one of NORMALIZERS.
        feature_map: as in :func:`from_linear_attention`.
    """
    u = _input(u)
    normalizer = check_choice("normalizer", normalizer, NORMALIZERS)
    q, k, W_v = _qkv(u, W_q, W_k, W_v, feature_map)
    s = _normalizer(normalizer, _gate_logits("w_n", w_n, "b_n", b_n, u))  # s_i, (T,)
    if s.dim() != 1:
        raise ValueError(f"w_n must have shape ({u.shape[1]},), got {tuple(w_n.shape)}")
    if not bool(torch.isfinite(s).all()):
        raise ValueError(f"w_n, b_n give a non-finite normaliser s_i = {normalizer}(w_nᵀu_i + b_n)")
    log_lam = torch.cat([torch.zeros_like(s[:1]), s[:-1] - s[1:]])  # (T,)
    return DSF(
        "normalized_attention",
        log_lam,
        k * torch.exp(-s)[:, None],
        q,
        W_v,
        label=f"normalised attention ({normalizer})",
    )


def from_gated_linear_attention(
    u: Any,
    W_q: Any,
    W_k: Any,
    W_v: Any,
    w_alpha: Any,
    b_alpha: float = 0.0,
    feature_map: Any = None,
) -> DSF:
    """Gated linear attention S_i = α_i S_{i-1} + v_i k_iᵀ, y_i = S_i q_i, α_i = σ(w_αᵀu_i + b_α).

    Λ_i = α_i I ∈ (0, 1) (a scalar data-dependent decay, Mamba-2 / RetNet style),
    B_i = W_v ⊗ k_i, C_i = I ⊗ q_iᵀ, N = n·d.

    Args:
        u: (T, d); W_q, W_k: (n, d); W_v: (d, d); w_alpha: (d,); b_alpha: a number.
        feature_map: as in :func:`from_linear_attention`.
    """
    u = _input(u)
    q, k, W_v = _qkv(u, W_q, W_k, W_v, feature_map)
    logits = _gate_logits("w_alpha", w_alpha, "b_alpha", b_alpha, u)
    if logits.dim() != 1:
        raise ValueError(f"w_alpha must have shape ({u.shape[1]},), got a matrix")
    return DSF(
        "gated_linear_attention", F.logsigmoid(logits), k, q, W_v, label="gated linear attention"
    )


def _selective(u, W_delta, b_delta, W_B, W_C, D, heads: int | None):
    """Δ (T, d or H), b_i = W_B u_i, c_i = W_C u_i (T, n), D (d,) or None."""
    T, d = u.shape
    rows = d if heads is None else heads
    W_delta = _param("W_delta", W_delta, (rows, d), u, f"({rows}, {d})")
    b_delta = _param(
        "b_delta", b_delta, () if _is_number(b_delta) else (rows,), u, f"a number or ({rows},)"
    )
    W_B = _param("W_B", W_B, (None, d), u, f"(n, d) with d = {d}")
    W_C = _param("W_C", W_C, (W_B.shape[0], d), u, f"(n, d) = {tuple(W_B.shape)}, as W_B")
    if D is not None:
        D = _param("D", D, (d,), u, f"({d},), one skip weight per channel")
    delta = F.softplus(u @ W_delta.T + b_delta)  # Δ_i > 0, (T, rows)
    return delta, u @ W_B.T, u @ W_C.T, D  # (T, rows), (T, n), (T, n), (d,)


def _nonpositive(name: str, A: torch.Tensor) -> torch.Tensor:
    if bool((A > 0).any()):
        raise ValueError(
            f"{name} must be <= 0 (Λ = exp(Δ A) in (0, 1], a stable state), got "
            f"{A[A > 0].flatten()[0].item():g}"
        )
    return A


def from_s6(
    u: Any,
    W_delta: Any,
    b_delta: Any,
    A: Any,
    W_B: Any,
    W_C: Any,
    D: Any = None,
) -> DSF:
    """Mamba's selective SSM (S6) as a DSF (Gu & Dao 2023, arXiv 2312.00752, Alg. 2).

    Δ_i = softplus(W_Δ u_i + b_Δ) (d,), b_i = W_B u_i, c_i = W_C u_i (n,); per channel c
    and state p: h_i[c, p] = exp(Δ_ic A_cp) h_{i-1}[c, p] + Δ_ic b_i[p] u_ic,
    y_ic = c_iᵀ h_i[c] + D_c u_ic (ZOH for A, Euler for B, as Mamba). So
    Λ_i = diag(exp(Δ_i ⊗ A)), B_i = diag(Δ_i) ⊗ b_i, C_i = I ⊗ c_iᵀ, N = n·d.

    Args:
        u: (T, d); W_delta: (d, d); b_delta: (d,) or a number; A: (d, n) or (n,), <= 0;
        W_B, W_C: (n, d); D: (d,) or None.
    """
    u = _input(u)
    delta, b, c, D = _selective(u, W_delta, b_delta, W_B, W_C, D, None)
    T, d = u.shape
    n = b.shape[1]
    A = _finite("A", A, u.dtype)
    if A.shape not in ((d, n), (n,)):
        raise ValueError(f"A must have shape ({d}, {n}) or ({n},), got {tuple(A.shape)}")
    A = _nonpositive("A", A).expand(d, n)
    log_lam = delta[:, :, None] * A  # log Λ_i = Δ_i ⊗ A, (T, d, n)
    bb = delta[:, :, None] * b[:, None, :]  # Δ_ic b_i, (T, d, n)
    cc = c[:, None, :].expand(T, d, n)  # c_i per channel, (T, d, n)
    return DSF("s6", log_lam, bb, cc, skip=D, label="S6")


def from_ssd(
    u: Any,
    W_delta: Any,
    b_delta: Any,
    A: Any,
    W_B: Any,
    W_C: Any,
    D: Any = None,
) -> DSF:
    """Mamba-2's SSD: S6 with one Δ and one scalar decay per head (Dao & Gu 2024, arXiv 2405.21060).

    With H heads of d/H channels, Δ_i = softplus(W_Δ u_i + b_Δ) (H,), and channel c of
    head h: h_i[c] = exp(Δ_ih a_h) h_{i-1}[c] + Δ_ih b_i u_ic, y_ic = c_iᵀ h_i[c] + D_c u_ic.
    exp(Δ a) = σ(-z)^{-a} for Δ = softplus(z): the "reversed sigmoid" decay.

    Args:
        u: (T, d); W_delta: (H, d); b_delta: (H,) or a number; A: (H,), <= 0, with H
        dividing d; W_B, W_C: (n, d); D: (d,) or None.
    """
    u = _input(u)
    T, d = u.shape
    A = _finite("A", A, u.dtype)
    if A.dim() != 1 or A.shape[0] < 1 or d % A.shape[0]:
        raise ValueError(
            f"A must have shape (H,), one decay per head, with H dividing d = {d}; got "
            f"{tuple(A.shape)}"
        )
    A = _nonpositive("A", A)
    H = A.shape[0]
    delta, b, c, D = _selective(u, W_delta, b_delta, W_B, W_C, D, H)  # Δ (T, H)
    head = torch.arange(d) // (d // H)  # channel -> head, (d,)
    log_lam = (delta * A)[:, head, None]  # one decay per channel, shared by states, (T, d, 1)
    bb = delta[:, head, None] * b[:, None, :]  # (T, d, n)
    cc = c[:, None, :].expand(T, d, b.shape[1])  # (T, d, n)
    return DSF("ssd", log_lam, bb, cc, skip=D, label="SSD", heads=H)


def from_qlstm(
    u: Any,
    W_f: Any,
    W_i: Any,
    W_o: Any,
    b_f: Any = 0.0,
    b_i: Any = 0.0,
    b_o: Any = 0.0,
    reversed_power: float | None = None,
) -> DSF:
    """The DSF paper's quasi-LSTM: gates from the input only, no tanh on the input.

    f_i = W_f u_i + b_f, ι_i = W_i u_i + b_i, o_i = W_o u_i + b_o (d,);
    h_i = λ_i ⊙ h_{i-1} + σ(ι_i) ⊙ u_i, y_i = σ(o_i) ⊙ h_i, with λ_i = σ(f_i), or,
    with ``reversed_power`` a, S6's reversed sigmoid λ_i = σ(-f_i)^{max(a, 0)}.
    Λ_i = diag(λ_i), B_i = diag(σ(ι_i)), C_i = diag(σ(o_i)), N = d.

    Args:
        u: (T, d); W_f, W_i, W_o: (d, d); b_f, b_i, b_o: (d,) or numbers.
        reversed_power: None (the plain forget gate) or the exponent a.
    """
    u = _input(u)
    forget = _gate_logits("W_f", W_f, "b_f", b_f, u)
    gates = [
        forget,
        _gate_logits("W_i", W_i, "b_i", b_i, u),
        _gate_logits("W_o", W_o, "b_o", b_o, u),
    ]
    for name, g in zip(("W_f", "W_i", "W_o"), gates, strict=True):
        if g.dim() != 2:
            raise ValueError(f"{name} must have shape ({u.shape[1]}, {u.shape[1]}), got a vector")
    if reversed_power is None:
        log_lam = F.logsigmoid(forget)  # (T, d)
        label = "qLSTM"
    else:
        a = max(check_real("reversed_power", reversed_power), 0.0)
        log_lam = a * F.logsigmoid(-forget)  # log σ(-f)^a, (T, d)
        label = "qLSTM (reversed sigmoid)"
    b = torch.sigmoid(gates[1])[:, :, None]  # (T, d, 1)
    c = torch.sigmoid(gates[2])[:, :, None]  # (T, d, 1)
    return DSF("qlstm", log_lam[:, :, None], b, c, label=label)


def from_rg_lru(
    u: Any,
    W_r: Any,
    W_i: Any,
    a_logits: Any,
    b_r: Any = 0.0,
    b_i: Any = 0.0,
    c: float = 8.0,
) -> DSF:
    """Griffin's RG-LRU (De et al. 2024, arXiv 2402.19427, §2.4) as a DSF.

    r_i = σ(W_r u_i + b_r), ι_i = σ(W_i u_i + b_i), a = σ(a_logits) (d,),
    a_i = a^{c r_i}; h_i = a_i ⊙ h_{i-1} + √(1 - a_i²) ⊙ ι_i ⊙ u_i, y_i = h_i.
    Λ_i = diag(a_i), B_i = diag(√(1 - a_i²) ⊙ ι_i), C_i = I, N = d.

    Args:
        u: (T, d); W_r, W_i: (d, d); a_logits: (d,); b_r, b_i: (d,) or numbers; c > 0.
    """
    u = _input(u)
    d = u.shape[1]
    c = check_real("c", c, low=0.0, low_open=True)
    r = _gate_logits("W_r", W_r, "b_r", b_r, u)
    i = _gate_logits("W_i", W_i, "b_i", b_i, u)
    for name, g in (("W_r", r), ("W_i", i)):
        if g.dim() != 2:
            raise ValueError(f"{name} must have shape ({d}, {d}), got a vector")
    a_logits = _param("a_logits", a_logits, (d,), u, f"({d},)")
    log_a = c * torch.sigmoid(r) * F.logsigmoid(a_logits)  # log a_i = c r_i log a, (T, d)
    gain = torch.sqrt(-torch.expm1(2 * log_a))  # √(1 - a_i²), (T, d)
    b = (gain * torch.sigmoid(i))[:, :, None]  # (T, d, 1)
    ones = torch.ones_like(b)  # C_i = I
    return DSF("rg_lru", log_a[:, :, None], b, ones, label="RG-LRU")


def softmax_phi(
    u: Any, W_q: Any, W_k: Any, W_v: Any, scale: float | None = None
) -> SoftmaxAttention:
    """Causal softmax attention's Φ from its weights: Φ_ij = a_ij W_v (lesson 06).

    a_ij = softmax_j(q_iᵀk_j · scale) over j <= i, q_i = W_q u_i, k_j = W_k u_j,
    scale 1/√n by default. exp(qᵀk) needs infinitely many features (its Taylor
    series), so there is no finite DSF: ``state_size`` is ``math.inf``.
    """
    u = _input(u)
    q, k, W_v = _qkv(u, W_q, W_k, W_v, None)
    scale = 1.0 / math.sqrt(q.shape[1]) if scale is None else check_real("scale", scale)
    T = u.shape[0]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    scores = (q @ k.T * scale).masked_fill(~causal, -math.inf)  # (T, T)
    return SoftmaxAttention("softmax", torch.softmax(scores, dim=1), W_v)


def random_system(
    kind: str,
    u: Any,
    *,
    n: int = 16,
    seed: int = 0,
    feature_map: Any = None,
    normalize: bool = False,
    gate_bias: float = 2.0,
    heads: int = 1,
) -> ImplicitAttention:
    """One class of ``KINDS`` with seeded random weights, on the input ``u`` (T, d) (lesson 06).

    The same ``seed`` gives every class its weights from one generator, so their Φ can be
    compared on one input. Weights are N(0, 1/d) (so projections of a unit-variance input
    have unit variance); ``n`` is the state expansion (key / feature / SSM state size per
    channel); ``feature_map`` and ``normalize`` apply to linear attention (normalize wants
    a positive map: None then means elu + 1); ``gate_bias`` sets how much the gated
    classes keep: the forget gates are σ(· + gate_bias), S6 and SSD take Δ ≈ softplus(−
    gate_bias) and A = −(1, 2, …, n) as Mamba's S4D-real initialisation; ``heads`` is
    SSD's number of heads (it must divide d).
    """
    kind = check_choice("kind", kind, KINDS)
    u = _input(u)
    n = check_int("n", n, low=1, high=4096)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    gate_bias = check_real("gate_bias", gate_bias)
    normalize = check_bool("normalize", normalize)
    heads = check_int("heads", heads, low=1, high=4096)
    _feature(feature_map)  # checked here: only the attention classes use it
    T, d = u.shape
    check_bytes(
        f"random_system's weights and features (n={n}, u of shape {(T, d)})",
        tensor_bytes(8 * d + 4 * T, n + d, dtype=u.dtype) * 2,
        instead="use a smaller n or a shorter input",
    )
    g = torch.Generator().manual_seed(seed)

    def w(rows: int, cols: int = d) -> torch.Tensor:
        return torch.randn(rows, cols, generator=g, dtype=u.dtype) / math.sqrt(cols)

    W_q, W_k, W_v = w(n), w(n), w(d)  # drawn first, in the same order for every class
    if kind == "softmax":
        return softmax_phi(u, W_q, W_k, W_v)
    if kind == "linear_attention":
        if normalize and feature_map is None:
            feature_map = "elu_plus_one"
        return from_linear_attention(u, W_q, W_k, W_v, feature_map, normalize)
    if kind == "normalized_attention":
        return from_normalized_attention(u, W_q, W_k, W_v, w(1)[0], 0.0, "exp", feature_map)
    if kind == "gated_linear_attention":
        return from_gated_linear_attention(u, W_q, W_k, W_v, w(1)[0], gate_bias, feature_map)
    spread = -torch.arange(1, n + 1, dtype=u.dtype)  # S4D-real: A = -(1, ..., n)
    if kind == "s6":
        return from_s6(u, w(d), -gate_bias, spread.expand(d, n), w(n), w(n))
    if kind == "ssd":
        heads = check_int("heads", heads, low=1, high=d)
        A = -torch.arange(1, heads + 1, dtype=u.dtype)  # one decay per head
        return from_ssd(u, w(heads), -gate_bias, A, w(n), w(n))
    if kind == "qlstm":
        return from_qlstm(u, w(d), w(d), w(d), gate_bias, 0.0, 0.0)
    return from_rg_lru(u, w(d), w(d), torch.full((d,), gate_bias, dtype=u.dtype))


#: (T, d, n): the sizes at which ``nested_weights`` draws; smaller sizes take a corner.
NESTED_LIMITS = (96, 16, 16)
NORMALIZER_BIAS = 0.0  # b_n of the learned normaliser s_i = exp(w_nᵀu_i + b_n)


@lru_cache(maxsize=8)
def _nested_draws(seed: int, limits: tuple[int, int, int]) -> dict[str, torch.Tensor]:
    """Standard normal draws at the largest sizes (read-only: callers slice them)."""
    g = torch.Generator().manual_seed(seed)
    max_t, max_d, max_n = limits
    square = (max_d, max_d)
    shapes = {
        "u": (max_t, max_d),
        **dict.fromkeys(("W_q", "W_k", "W_B", "W_C"), (max_n, max_d)),
        **dict.fromkeys(("W_v", "W_delta", "W_f", "W_i", "W_o", "W_r", "W_g"), square),
        **dict.fromkeys(("w_n", "w_alpha", "b_delta", "D", "a_logits"), (max_d,)),
        "A": (max_d, max_n),
    }
    return {k: torch.randn(*s, generator=g, dtype=torch.float64) for k, s in shapes.items()}


def nested_weights(
    T: int, d: int, n: int, seed: int = 0, *, limits: tuple[int, int, int] = NESTED_LIMITS
) -> dict[str, torch.Tensor]:
    """u (T, d) and every class's weights, seeded, drawn once at ``limits`` = (T, d, n) at
    most: a smaller T, d or n takes a corner of the same draw, so changing one size keeps
    the rest of the input and weights (lesson 06's sliders). Matrices are scaled by 1/√d,
    A = −exp(z/2) < 0 (Mamba's parametrisation), RG-LRU's a = σ(a_logits) around σ(2).
    ``limits`` is at most ``MAX_NESTED_LIMITS``."""
    if not isinstance(limits, tuple | list):
        raise TypeError(f"limits must be a tuple (T, d, n), got {limits!r}")
    if len(limits) != 3:
        raise ValueError(f"limits must be (T, d, n), got {limits!r}")
    limits = tuple(
        check_int("limits", x, low=1, high=top)
        for x, top in zip(limits, MAX_NESTED_LIMITS, strict=True)
    )
    T = check_int("T", T, low=1, high=limits[0])
    d = check_int("d", d, low=1, high=limits[1])
    n = check_int("n", n, low=1, high=limits[2])
    z, s = _nested_draws(check_int("seed", seed, low=0, high=2**63 - 1), limits), 1.0 / math.sqrt(d)
    w = {key: z[key][:n, :d] * s for key in ("W_q", "W_k", "W_B", "W_C")}
    w |= {key: z[key][:d, :d] * s for key in ("W_v", "W_delta", "W_f", "W_i", "W_o", "W_r", "W_g")}
    w |= {key: z[key][:d] * s for key in ("w_n", "w_alpha", "b_delta", "D")}
    w |= {
        "u": z["u"][:T, :d],
        "A": -torch.exp(z["A"][:d, :n] / 2),
        "a_logits": 2 + z["a_logits"][:d],
    }
    return w


def ssd_heads(d: int) -> int:
    """SSD's number of heads in ``nested_system``: 2 when d is even, else 1 (H divides d)."""
    return 2 if check_int("d", d, low=1, high=2**31) % 2 == 0 else 1


def nested_system(
    kind: str,
    T: int,
    d: int,
    seed: int = 0,
    n: int = 1,
    feature_map: Any = "identity",
    normalize: bool = False,
    gate: float = 0.0,
    *,
    limits: tuple[int, int, int] = NESTED_LIMITS,
) -> ImplicitAttention:
    """The class ``kind`` on ``nested_weights``' input and weights (lesson 06's dashboard).

    ``gate`` is the gate bias: larger keeps more of the past (α, the forget gate and a
    up, Δ down); ``feature_map`` and ``normalize`` act on the attention classes.
    """
    kind = check_choice("kind", kind, KINDS)
    gate = check_real("gate", gate)
    normalize = check_bool("normalize", normalize)
    _feature(feature_map)  # checked here: only the attention classes use it
    w = nested_weights(T, d, n, seed, limits=limits)
    u, qkv = w["u"], (w["W_q"], w["W_k"], w["W_v"])
    if kind == "softmax":
        return softmax_phi(u, *qkv)
    if kind == "linear_attention":
        return from_linear_attention(u, *qkv, feature_map=feature_map, normalize=normalize)
    if kind == "normalized_attention":
        return from_normalized_attention(
            u, *qkv, w["w_n"], NORMALIZER_BIAS, feature_map=feature_map
        )
    if kind == "gated_linear_attention":
        return from_gated_linear_attention(u, *qkv, w["w_alpha"], gate, feature_map)
    if kind == "s6":
        return from_s6(u, w["W_delta"], w["b_delta"] - gate, w["A"], w["W_B"], w["W_C"], w["D"])
    if kind == "ssd":
        H = ssd_heads(d)
        A = w["A"][:H, 0]  # one decay per head, (H,)
        return from_ssd(u, w["W_delta"][:H], -gate, A, w["W_B"], w["W_C"], w["D"])
    if kind == "qlstm":
        return from_qlstm(u, w["W_f"], w["W_i"], w["W_o"], b_f=gate)
    return from_rg_lru(u, w["W_r"], w["W_g"], w["a_logits"] + gate)


#: The conditions under which linear attention and S6 have the same Φ (PAPERS.md §2):
#: the transition is the identity (S6's A = 0) and linear attention is not normalised; Δ is
#: the same for every channel and every token, and W_v = Δ·I; the feature maps are the
#: identity, with S6's b_i = W_B u_i playing k_i and c_i = W_C u_i playing q_i.
CONDITIONS = ("transition", "normalization", "delta_channels", "delta_time", "values", "features")


def linear_attention_and_s6(
    u: Any, n: int = 3, *, delta: float = 0.7, broken: str | None = None, seed: int = 0
) -> tuple[DSF, DSF]:
    """Linear attention and S6 built to meet every one of ``CONDITIONS`` but ``broken``
    (lesson 06). With ``broken=None`` their Φ are equal; breaking any one condition makes
    them differ. Inputs should be positive (so that a normaliser, when broken in, is > 0);
    W_q and W_k are seeded positive random (n, d) matrices, and S6 takes W_B = W_k,
    W_C = W_q. ``delta`` is in (0, 700] (softplus⁻¹(Δ) must be finite)."""
    u = _input(u)
    n = check_int("n", n, low=1, high=4096)
    delta = check_real("delta", delta, low=0.0, low_open=True, high=700.0)
    if broken is not None:
        broken = check_choice("broken", broken, CONDITIONS)
    T, d = u.shape
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0, high=2**63 - 1))

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=u.dtype) * 0.5

    W_q, W_k = draw(n, d).abs(), draw(n, d).abs()
    W_delta = torch.zeros(d, d, dtype=u.dtype)
    b_delta = torch.full((d,), math.log(math.expm1(delta)), dtype=u.dtype)  # softplus⁻¹(Δ)
    A = torch.zeros(d, n, dtype=u.dtype)
    W_v = delta * torch.eye(d, dtype=u.dtype)
    feature_map, normalize = None, False
    if broken == "transition":
        A = A - 0.5
    elif broken == "normalization":
        normalize = True
    elif broken == "delta_channels":
        b_delta = b_delta + torch.linspace(-0.5, 0.5, d, dtype=u.dtype)
    elif broken == "delta_time":
        W_delta = draw(d, d)
    elif broken == "values":
        W_v = W_v + 0.3 * draw(d, d)
    elif broken == "features":
        feature_map = "elu_plus_one"
    attention = from_linear_attention(u, W_q, W_k, W_v, feature_map, normalize)
    return attention, from_s6(u, W_delta, b_delta, A, W_k, W_q)
