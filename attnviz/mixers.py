"""Sequence mixers: the token-mixing layer of a TinyTransformer block, one idea each (lesson 06).

Every mixer maps x (B, T, d_model) -> (B, T, d_model), causally, like the model's
softmax ``Attention`` (here too, the default mixer), and reports ``state_size(seq_len)``:
how many floats per sequence it must keep to generate the next token, the "state" of
the DSF (Sieber et al. 2024, PAPERS.md §2).

====================  ==============================================  =======================
mixer                 one idea                                        state_size(T), floats
====================  ==============================================  =======================
"attention"           softmax attention (``Attention``), with hooks   2·T·d_model (KV cache)
"linear_attention"    S_t = S_{t-1} + v_t φ(k_t)ᵀ, y_t = S_t φ(q_t)   n·d_model (+ n·H for z)
                      (φ = elu + 1, feature dim n per head)
"s6"                  Mamba's selective scan: per-channel, per-state  n·d_inner
                      decay exp(Δ A), write Δ B, read C
"qlstm"               h_t = σ(f_t) h_{t-1} + σ(i_t) u_t,              d_model
                      y_t = σ(o_t) h_t, gates from the input only
====================  ==============================================  =======================

State-size convention: the floats of the recurrent state of one layer, for one
sequence: the read-write memory the layer carries from token to token. For
softmax attention that is the key-value cache, 2·T·d_model, which grows with T
(the DSF's N = ∞); for linear attention the matrix state S (d_head x n per head,
n·d_model in all) plus, when normalised, the key sum z (n per head); for S6 the
(d_inner, n) state; for the qLSTM one float per channel. The DSF code
(dsf-mqar, zoology) reports 2·d_model·d_qk for its attention mixers — it counts
keys and values separately — so its linear-attention numbers are twice ours.

The kernels are ``attnviz.kernels``', tested equal in every form. Linear attention
trains through its parallel form (a (T, T) matrix per head); S6 and the qLSTM through
their recurrent forms, one token at a time: their parallel forms build a (T, T) kernel
per channel (and S6 per state), which under autograd costs 100x more at MQAR's lengths.

``ShortConv`` is the short causal convolution that Mamba, H3 and Based place before
their mixers; ``TinyConfig(short_conv=4)`` puts one before every block's mixer.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from attnviz.kernels.attention import get_operator, merge_heads, multi_head_attention, split_heads
from attnviz.kernels.feature_maps import FEATURE_MAPS
from attnviz.kernels.linear import linear_attention
from attnviz.kernels.rnn import qlstm
from attnviz.kernels.ssm import selective_scan
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import (
    as_tensor,
    check_bool,
    check_choice,
    check_int,
    check_real,
    finite_result,
)

MIXERS = ("attention", "linear_attention", "s6", "qlstm")
# the largest sizes a mixer (and TinyConfig) accepts: far past what the course trains, and
# small enough that the checks' arithmetic stays exact; what fits is the memory budget's call
MAX_D_MODEL = 4096
MAX_HEADS = 64
MAX_STATE_EXPANSION = 1024
MAX_D_INNER = 4 * MAX_D_MODEL
MAX_TAPS = 64  # ShortConv's taps (Mamba, H3 and Based use 4)
MAX_CONTEXT = 2**16  # RoPE tables and a TinyTransformer's context
MAX_STATE_SEQ_LEN = 2**40  # the longest seq_len state_size counts for
# the mixers whose state grows with ``state_expansion`` n
EXPANDABLE = ("linear_attention", "s6")
S6_DEFAULT_STATE = 16  # Mamba's d_state


# --- softmax attention, the default mixer (lessons 02-04) -------------------------------------

# rotary position embedding (Su et al. 2021)


def rope_tables(
    context: int, d_head: int, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles t·θ_i, each (context, d_head / 2) (lesson 02).

    ``context`` is at most ``MAX_CONTEXT``, ``d_head`` an even number at most
    ``MAX_D_MODEL``; ``base`` > 1 (θ_i = base^(-2i/d_head) must fall with i: RoPE's 10000).
    """
    context = check_int("context", context, low=1, high=MAX_CONTEXT)
    d_head = check_int("d_head", d_head, low=2, high=MAX_D_MODEL)
    if d_head % 2:
        raise ValueError(f"d_head must be even (RoPE rotates pairs), got {d_head}")
    base = check_real("base", base, low=1.0, low_open=True)
    # float64 angles, their cos and sin, and the float32 copies
    check_bytes(
        f"RoPE tables for context={context}, d_head={d_head}",
        3 * tensor_bytes(context, d_head // 2, dtype=torch.float64),
        instead="use a shorter context",
    )
    inv_freq = base ** (-torch.arange(0, d_head, 2, dtype=torch.float64) / d_head)  # θ_i
    angles = torch.outer(torch.arange(context, dtype=torch.float64), inv_freq)  # (T, d_head/2)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x_i, x_{i + d/2}) of q or k by its position's angle (lesson 02).

    ``x`` is q or k, (B, H, T, d_head) or any (..., T, d_head), with an even d_head;
    ``cos`` and ``sin`` are
    ``rope_tables``' (T', d_head / 2) with T' >= T (their first T rows are used).
    """
    x = as_tensor("x", x, min_dim=2, finite=True, layout="(..., T, d_head)")
    if x.shape[-1] % 2:
        raise ValueError(
            f"x must have an even d_head (RoPE rotates pairs), got shape {tuple(x.shape)}"
        )
    half, seq_len = x.shape[-1] // 2, x.shape[-2]
    tables = []
    for name, table in (("cos", cos), ("sin", sin)):
        table = as_tensor(name, table, ndim=2, finite=True, layout="(T, d_head / 2)")
        if table.shape[0] < seq_len or table.shape[1] != half:
            raise ValueError(
                f"{name} must have shape (T, d_head / 2) = (at least {seq_len}, {half}) for x of "
                f"shape {tuple(x.shape)}, got shape {tuple(table.shape)}"
            )
        tables.append(table[:seq_len])
    cos, sin = tables
    x1, x2 = x[..., :half], x[..., half:]  # (B, H, T, d_head/2) each
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (B, H, T, d_head)


class Attention(nn.Module):
    """Multi-head self-attention with hook points on the pattern and the head outputs."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        _check_config(config)
        self.n_heads, self.d_head = config.n_heads, config.d_head
        self.d_model, self.context = config.d_model, config.context
        self.causal = config.causal
        self.operator_name = config.operator
        self.operator = get_operator(config.operator)
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.out = nn.Linear(config.d_model, config.d_model, bias=False)
        # Gated Attention (Qiu et al. 2025, PAPERS.md §6): each head's output times a
        # sigmoid gate read from the same input as its query, σ(x W_g + b_g) per head
        self.gate = nn.Linear(config.d_model, config.n_heads) if config.output_gate else None
        # what each head keeps of the past (attnviz.kv_cache): None reads every token
        self.cache_policy: tuple | None = None
        self.hook_pattern = nn.Identity()  # sees the attention weights (B, H, T, T)
        self.hook_z = nn.Identity()  # sees the head outputs (B, H, T, d_head)
        self.pattern = config.mask_pattern()
        self._mask: torch.Tensor | None = None  # (context, context), built on first use
        self.rope = config.positional == "rope"
        if self.rope:
            cos, sin = rope_tables(config.context, config.d_head)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model), T at most the config's context -> (B, T, d_model)."""
        x = _check_x(x, self.d_model, self.qkv.weight.dtype, self.context)
        batch, seq_len, d_model = x.shape  # (B, T, d_model)
        # q, k, v, the scores and the weights (B, H, T, T), kept for the backward pass
        check_bytes(
            f"softmax attention over x of shape {tuple(x.shape)}",
            tensor_bytes(batch, 3 * self.n_heads * seq_len + 8 * d_model, seq_len),
            instead="use a shorter x or a smaller batch",
        )
        q, k, v = self.qkv(x).split(d_model, dim=-1)  # (B, T, d_model) each
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))  # (B, H, T, d_head) each
        if self.cache_policy is not None:
            z, pattern = self._attend_under_policy(q, k, v)
        else:
            if self.rope:
                cos, sin = self.rope_cos[:seq_len], self.rope_sin[:seq_len]  # (T, d_head/2)
                q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            mask = None if self.pattern is None else self._sparse_mask(seq_len, x.device)
            z, pattern = multi_head_attention(
                q, k, v, operator=self.operator, mask=mask, causal=self.causal
            )
        hooked = self.hook_pattern(pattern)  # (B, H, T, T)
        if hooked is not pattern:  # a hook replaced the pattern: mix the values with it
            z = hooked @ v  # (B, H, T, d_head)
        if self.gate is not None:
            z = z * torch.sigmoid(self.gate(x)).transpose(1, 2)[..., None]  # (B, H, T, d_head)
        z = self.hook_z(z)  # (B, H, T, d_head)
        return _finite(self.out(merge_heads(z)))  # (B, T, d_model)

    def _attend_under_policy(self, q, k, v):
        """Each head reads only what its cache policy keeps (lesson 08, ``attnviz.kv_cache``)."""
        from attnviz.kv_cache import attend_under_policies

        if self.operator_name not in _NORMALISERS or self.pattern is not None or not self.causal:
            raise ValueError(
                "cache policies apply to causal softmax or sigmoid attention without a sparse "
                f"mask, got operator={self.operator_name!r}, mask={self.pattern!r}, "
                f"causal={self.causal}"
            )
        rotate = None
        if self.rope:

            def rotate(x, positions):
                return apply_rope(x, self.rope_cos[positions], self.rope_sin[positions])

        return attend_under_policies(
            q, k, v, self.cache_policy, scale=1.0 / math.sqrt(self.d_head),
            normalise=_NORMALISERS[self.operator_name], rotate=rotate,
        )  # fmt: skip

    def state_size(self, seq_len: int) -> int:
        """Floats of state per sequence at ``seq_len`` tokens: the KV cache, 2·T·d_model."""
        return 2 * _check_seq_len(seq_len) * self.n_heads * self.d_head

    def _sparse_mask(self, seq_len: int, device: Any) -> torch.Tensor:
        # every pattern's first T rows and columns are its mask at length T
        if self._mask is None or self._mask.shape[0] < seq_len:
            self._mask = torch.from_numpy(self.pattern.dense(seq_len))
        return self._mask[:seq_len, :seq_len].to(device)  # (T, T)


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def _masked_sigmoid(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(scores).masked_fill(~mask, 0.0)


# how a cache policy's masked scores become weights, by operator name
_NORMALISERS = {"softmax": _masked_softmax, "sigmoid": _masked_sigmoid}


class ShortConv(nn.Module):
    """A causal depthwise convolution over time: y_t[c] = Σ_{s<taps} w[c, s] x_{t-s}[c] + b[c].

    The short convolution Mamba, H3 and Based put before their mixers (4 taps there): each
    channel sees the last few tokens, so a recurrent mixer can write "this key came just
    before this value" without sharp attention, the previous-token step of induction.
    The weights are learned as an offset from the identity (w[c, 0] = 1), like S6's A_log,
    so any small initialisation — TinyTransformer's GPT-2 init — starts near "no convolution".
    """

    def __init__(self, d_model: int, taps: int = 4) -> None:
        super().__init__()
        self.d_model = check_int("d_model", d_model, low=1, high=MAX_D_MODEL)
        self.taps = check_int("taps", taps, low=1, high=MAX_TAPS)
        self.weight = nn.Parameter(torch.zeros(self.d_model, self.taps))  # offset of w[c, s]
        self.bias = nn.Parameter(torch.zeros(self.d_model))
        identity = torch.zeros(self.d_model, self.taps)
        identity[:, 0] = 1.0
        self.register_buffer("identity", identity, persistent=False)

    def taps_weight(self) -> torch.Tensor:
        """w[c, s], (d_model, taps): the weight of channel c's input s tokens back."""
        return self.identity + self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model)."""
        x = _check_x(x, self.d_model, self.weight.dtype)
        batch, seq_len, _ = x.shape
        if seq_len == 0:  # nothing to convolve (conv1d refuses an input shorter than its taps)
            return x.clone()
        check_bytes(
            f"the short convolution of x of shape {tuple(x.shape)}",
            3 * tensor_bytes(batch, seq_len + self.taps, self.d_model),
            instead="use a shorter x or a smaller batch",
        )
        padded = F.pad(x.transpose(1, 2), (self.taps - 1, 0))  # (B, d_model, taps - 1 + T)
        kernel = self.taps_weight().flip(-1)[:, None, :]  # conv1d correlates: oldest tap first
        y = F.conv1d(padded, kernel, self.bias, groups=self.d_model)  # (B, d_model, T)
        return _finite(y.transpose(1, 2))  # (B, T, d_model)


class LinearAttentionMixer(nn.Module):
    """Causal linear attention: S_t = S_{t-1} + v_t φ(k_t)ᵀ, y_t = S_t φ(q_t) (/ z_tᵀφ(q_t)).

    q and k are projected to ``state_expansion`` n features per head, so each head
    keeps a (d_head, n) state: the state grows with n at a fixed d_model (the DSF's
    state expansion; Katharopoulos et al. 2020, with φ = elu + 1 by default).
    ``TinyConfig(mixer="linear_attention")`` builds it, the one way to choose linear
    attention; the deprecated ``TinyConfig(operator="linear")`` is softmax's ``Attention``
    with a linear operator (``TinyConfig`` says how the two differ).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int = 1,
        state_expansion: int | None = None,
        *,
        feature_map: str = "elu_plus_one",
        normalize: bool = True,
    ) -> None:
        super().__init__()
        d_model = check_int("d_model", d_model, low=1, high=MAX_D_MODEL)
        self.n_heads = check_int("n_heads", n_heads, low=1, high=MAX_HEADS)
        if d_model % self.n_heads:
            raise ValueError(f"n_heads must divide d_model = {d_model}, got {n_heads}")
        self.d_model, self.d_head = d_model, d_model // self.n_heads
        n = self.d_head if state_expansion is None else state_expansion
        self.n = check_int("state_expansion", n, low=1, high=MAX_STATE_EXPANSION)
        self.feature_map = check_choice("feature_map", feature_map, tuple(FEATURE_MAPS))
        self.normalize = check_bool("normalize", normalize)
        _check_parameters(
            f"LinearAttentionMixer(d_model={d_model}, state_expansion={self.n})",
            d_model * (2 * self.n_heads * self.n + 2 * d_model),
        )
        self.qk = nn.Linear(d_model, 2 * self.n_heads * self.n, bias=False)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model)."""
        x = _check_x(x, self.d_model, self.v.weight.dtype)
        batch, seq_len, _ = x.shape  # (B, T, d_model)
        features = 1 + self.n + self.n**2 if self.feature_map == "taylor" else 2 * self.n
        # the parallel form's (B, H, T, T) weights, and φ(q), φ(k), v and y
        check_bytes(
            f"linear attention over x of shape {tuple(x.shape)}",
            tensor_bytes(
                batch, self.n_heads, seq_len, 3 * seq_len + 2 * features + 8 * self.d_head
            ),
            instead="use a shorter x or a smaller batch",
        )
        q, k = self.qk(x).view(batch, seq_len, 2, self.n_heads, self.n).unbind(2)  # (B, T, H, n)
        v = self.v(x).view(batch, seq_len, self.n_heads, self.d_head)  # (B, T, H, d_head)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, .)
        y = linear_attention(
            q, k, v, causal=True, normalize=self.normalize, feature_map=self.feature_map
        ).output  # (B, H, T, d_head)
        return _finite(self.out(y.transpose(1, 2).reshape(batch, seq_len, self.d_model)))

    def state_size(self, seq_len: int) -> int:
        """n·d_model floats of S per sequence (+ n per head for z when normalised)."""
        _check_seq_len(seq_len)
        return self.n * self.d_model + (self.n * self.n_heads if self.normalize else 0)


class S6Mixer(nn.Module):
    """Mamba's selective SSM (S6), without its gate and short convolution (Gu & Dao 2023).

    u = W_in x (d_inner channels), Δ = softplus(W_Δ u + b), B = W_B u, C = W_C u
    (``state_expansion`` n states each), A = -exp(A_log) with the S4D-real
    initialisation A[c, s] = -(s + 1), a skip D (init 1), y = W_out (scan + D u).
    The step bias starts where Mamba's does: softplus(b) log-uniform in [0.001, 0.1].

    The initial A_log and step bias are stored as buffers and the parameters learn
    offsets from them (zero at init), so any initialisation of the parameters near
    zero — e.g. TinyTransformer's GPT-2 init — keeps Mamba's starting point.

    Sizes: ``d_model`` <= ``MAX_D_MODEL``, ``d_inner`` <= ``MAX_D_INNER``,
    ``state_expansion`` <= ``MAX_STATE_EXPANSION``; steps ``dt_min`` in (0, 1] and
    ``dt_max`` in [dt_min, 1000]; the parameters must fit the memory budget.
    """

    def __init__(
        self,
        d_model: int,
        state_expansion: int | None = None,
        *,
        d_inner: int | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ) -> None:
        super().__init__()
        self.d_model = check_int("d_model", d_model, low=1, high=MAX_D_MODEL)
        self.d_inner = check_int(
            "d_inner", self.d_model if d_inner is None else d_inner, low=1, high=MAX_D_INNER
        )
        n = S6_DEFAULT_STATE if state_expansion is None else state_expansion
        self.n = check_int("state_expansion", n, low=1, high=MAX_STATE_EXPANSION)
        dt_min = check_real("dt_min", dt_min, low=0.0, low_open=True, high=1.0)
        dt_max = check_real("dt_max", dt_max, low=0.0, low_open=True, high=1e3)
        if dt_max < dt_min:
            raise ValueError(f"dt_max must be at least dt_min = {dt_min:g}, got {dt_max:g}")
        _check_parameters(
            f"S6Mixer(d_model={self.d_model}, d_inner={self.d_inner}, state_expansion={self.n})",
            self.d_inner * (2 * self.d_model + self.d_inner + 4 * self.n + 4),
        )
        self.inp = nn.Linear(self.d_model, self.d_inner, bias=False)
        self.dt = nn.Linear(self.d_inner, self.d_inner)  # W_Δ, b (an offset from dt_bias_init)
        self.bc = nn.Linear(self.d_inner, 2 * self.n, bias=False)  # W_B, W_C
        self.A_log = nn.Parameter(torch.zeros(self.d_inner, self.n))  # offset from A_log_init
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out = nn.Linear(self.d_inner, self.d_model, bias=False)
        a_log = torch.log(torch.arange(1, self.n + 1, dtype=torch.float32)).expand(
            self.d_inner, self.n
        )
        self.register_buffer("A_log_init", a_log.clone(), persistent=False)
        # step sizes log-uniform in [dt_min, dt_max], placed deterministically over the
        # channels; b = softplus⁻¹(dt) = dt + log(1 - exp(-dt))
        grid = torch.linspace(0.0, 1.0, self.d_inner, dtype=torch.float64)
        step = torch.exp(math.log(dt_min) + grid * (math.log(dt_max) - math.log(dt_min)))
        bias = step + torch.log(-torch.expm1(-step))
        self.register_buffer("dt_bias_init", bias.float(), persistent=False)

    def init_weights(self, generator: torch.Generator | None = None) -> None:
        """N(0, 1/fan_in) for the input, step and B/C projections (TinyTransformer calls it
        after its GPT-2 init; ``generator``: a ``torch.Generator`` or None). At GPT-2's 0.02
        the read C_i·B_j starts at about 1e-3 of this scale, a product of two small
        projections, and MQAR never leaves the plateau of "answer some value from the
        context": 0.26 accuracy after 600 steps at L = 32, KV = 4, against 1.00 with this
        init (lesson 06's sweep settings)."""
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator must be a torch.Generator or None, got {type(generator).__name__}"
            )
        for layer in (self.inp, self.dt):
            nn.init.normal_(layer.weight, std=layer.in_features**-0.5, generator=generator)
        # C_i·B_j sums n products: B and C at n^(-1/4) more give it unit variance for every
        # n, as q·k/√d_k does for softmax attention
        std = self.bc.in_features**-0.5 * self.n**-0.25
        nn.init.normal_(self.bc.weight, std=std, generator=generator)

    def A(self) -> torch.Tensor:
        """The decay rates A = -exp(A_log), (d_inner, n), all < 0."""
        return -torch.exp(self.A_log_init + self.A_log)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model)."""
        x = _check_x(x, self.d_model, self.inp.weight.dtype)
        batch, seq_len, _ = x.shape
        # u, Δ, the scan's inputs and output, and the (B, d_inner, n) state
        check_bytes(
            f"the S6 scan of x of shape {tuple(x.shape)}",
            tensor_bytes(batch, seq_len, 8 * self.d_inner + 4 * self.n)
            + 4 * tensor_bytes(batch, self.d_inner, self.n),
            instead="use a shorter x or a smaller batch",
        )
        u = self.inp(x)  # (B, T, d_inner)
        delta = F.softplus(self.dt(u) + self.dt_bias_init)  # (B, T, d_inner)
        b, c = self.bc(u).split(self.n, dim=-1)  # (B, T, n) each
        y = selective_scan(u, delta, self.A(), b, c, self.D, form="recurrent").output
        return _finite(self.out(y))  # (B, T, d_inner) -> (B, T, d_model)

    def state_size(self, seq_len: int) -> int:
        """n·d_inner floats per sequence: the (d_inner, n) state h."""
        _check_seq_len(seq_len)
        return self.n * self.d_inner


class QLSTMMixer(nn.Module):
    """The DSF paper's quasi-LSTM: gates from the input only, one state per channel.

    u = W_u x; f, i, o = W_f x, W_i x, W_o x; h_t = σ(f_t) h_{t-1} + σ(i_t) u_t;
    y = W_out (σ(o_t) h_t). State expansion n = 1: d_model floats of state.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.d_model = check_int("d_model", d_model, low=1, high=MAX_D_MODEL)
        _check_parameters(f"QLSTMMixer(d_model={self.d_model})", 5 * self.d_model**2)
        self.gates = nn.Linear(self.d_model, 4 * self.d_model)  # u, f, i, o
        self.out = nn.Linear(self.d_model, self.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model)."""
        x = _check_x(x, self.d_model, self.out.weight.dtype)
        check_bytes(
            f"the qLSTM of x of shape {tuple(x.shape)}",
            tensor_bytes(*x.shape[:2], 12 * self.d_model),
            instead="use a shorter x or a smaller batch",
        )
        u, f, i, o = self.gates(x).chunk(4, dim=-1)  # (B, T, d_model) each
        return _finite(self.out(qlstm(u, f, i, o, form="recurrent").output))  # (B, T, d_model)

    def state_size(self, seq_len: int) -> int:
        """d_model floats per sequence: h."""
        _check_seq_len(seq_len)
        return self.d_model


def build_mixer(config: Any) -> nn.Module:
    """The mixer a ``TinyConfig`` names (``config.mixer``), for one block."""
    _check_config(config)
    if config.mixer == "attention":
        return Attention(config)
    if config.mixer == "linear_attention":
        return LinearAttentionMixer(config.d_model, config.n_heads, config.state_expansion)
    if config.mixer == "s6":
        return S6Mixer(config.d_model, config.state_expansion)
    if config.mixer == "qlstm":
        return QLSTMMixer(config.d_model)
    raise ValueError(f"mixer must be one of {MIXERS}, got {config.mixer!r}")


def state_size(module: nn.Module, seq_len: int) -> int:
    """Floats of recurrent state per sequence: of one mixer, or summed over a model's blocks.

    ``seq_len`` is at most ``MAX_STATE_SEQ_LEN`` (2**40) tokens.
    """
    seq_len = _check_seq_len(seq_len)
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a mixer or a TinyTransformer, got {type(module).__name__}")
    blocks = getattr(module, "blocks", None)
    if blocks is not None:
        return sum(block.attn.state_size(seq_len) for block in blocks)
    if not hasattr(module, "state_size"):
        raise TypeError(f"module must be a mixer or a TinyTransformer, got {type(module).__name__}")
    return module.state_size(seq_len)


# --- the checks at the door ------------------------------------------------------------------


#: What a mixer reads from its config (models imports this module, so the check reads
#: these fields rather than importing TinyConfig: no import circle).
CONFIG_FIELDS = ("d_model", "n_heads", "d_head", "context", "causal", "mixer", "positional")


def _check_config(config: Any) -> None:
    if not all(hasattr(config, name) for name in CONFIG_FIELDS):
        raise TypeError(
            f"config must be an attnviz.models.TinyConfig (it has {', '.join(CONFIG_FIELDS)}), "
            f"got {type(config).__name__}"
        )


def _check_x(x: Any, d_model: int, dtype: torch.dtype, context: int | None = None) -> torch.Tensor:
    """x as a finite (B, T, d_model) tensor of the module's dtype."""
    x = as_tensor("x", x, ndim=3, finite=True, layout="(B, T, d_model)")
    if x.shape[-1] != d_model:
        raise ValueError(
            f"x must have shape (B, T, d_model) with d_model = {d_model}, "
            f"got shape {tuple(x.shape)}"
        )
    if context is not None and x.shape[1] > context:
        raise ValueError(f"x may be at most context = {context} tokens long, got {x.shape[1]}")
    return x.to(dtype)


def _finite(y: torch.Tensor) -> torch.Tensor:
    return finite_result(
        "the mixer's output", y, hint="x is too large for these weights (scale x down)"
    )


def _check_parameters(what: str, n_parameters: int) -> None:
    """The weights, their gradients and AdamW's two moments: four copies of each parameter."""
    check_bytes(f"the parameters of {what}", 4 * tensor_bytes(n_parameters),
                instead="use a smaller d_model or state_expansion")  # fmt: skip


def _check_seq_len(seq_len: Any) -> int:
    return check_int("seq_len", seq_len, low=0, high=MAX_STATE_SEQ_LEN)


__all__ = [
    "EXPANDABLE",
    "MAX_CONTEXT",
    "MAX_D_INNER",
    "MAX_D_MODEL",
    "MAX_HEADS",
    "MAX_STATE_EXPANSION",
    "MAX_STATE_SEQ_LEN",
    "MAX_TAPS",
    "MIXERS",
    "Attention",
    "LinearAttentionMixer",
    "QLSTMMixer",
    "S6Mixer",
    "ShortConv",
    "apply_rope",
    "build_mixer",
    "rope_tables",
    "state_size",
]
