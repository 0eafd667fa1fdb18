"""Associative memories: the state of linear attention, written one association at a time.

Lesson 05 reads attention as Pavlovian conditioning (Qiao 2025, "Understanding
Transformers through the Lens of Pavlovian Conditioning", arXiv 2508.08289): the key k
is a conditioned stimulus (CS), the value v an unconditioned stimulus (US), the query
a test stimulus. Writing the pair stores the association in a d_v x d_k matrix S (a
fast weight, Schlag, Irie, Schmidhuber 2021, "Linear Transformers Are Secretly Fast
Weight Programmers", arXiv 2102.11174); reading with q gives S q. The rules
(PAPERS.md §1):

================  ===================================================  ==================
rule              update                                               kernel
================  ===================================================  ==================
hebbian           S += v kᵀ                                            linear_attention
hebbian_forget    S = α S + v kᵀ                                       gated_linear_...
delta             S += β (v - S k) kᵀ  (Rescorla & Wagner 1972)        delta_rule_...
gated_delta       S = α S (I - β k kᵀ) + β v kᵀ                        gated_delta_rule_...
================  ===================================================  ==================

The delta rule is DeltaNet (Yang et al. 2024, arXiv 2406.06484) and the gated delta
rule Gated DeltaNet (Yang, Kautz, Hatamizadeh 2024, arXiv 2412.06464, Eq. 10); the
kernels of ``attnviz.kernels.linear`` compute the same read-outs for a whole sequence,
and every write here is theirs, ``attnviz.kernels.linear.write``.

Capacity (PAPERS.md §1, derivation [D]): with N keys uniform on the unit sphere and
unit values, reading a stored key k_i gives v_i plus crosstalk Σ_{j≠i} (k_jᵀ k_i) v_j,
whose mean squared norm is (N-1)/d_k: the signal-to-noise ratio is d_k/(N-1), and
the average error stays below ε² up to N ≈ ε² d_k (an O(d_k) capacity); a guarantee
for every item and any values follows other laws (O(√d_k) with values aligned against
each item, O(√(d_k / ln N)) from the keys' largest overlap), and top-1 decoding another
(~d_k d_v / 2 ln N).
:func:`capacity_sweep` measures all three, :func:`depth_head_error` how the error
adds up across layers and averages out across heads.

Computation only: nothing here imports Panel or Bokeh.

Example:
    >>> import torch
    >>> memory = AssociativeMemory(d_k=4, d_v=2, rule="delta", beta=1.0)
    >>> keys = torch.eye(4, dtype=torch.float64)[:3]
    >>> values = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    >>> memory.write(keys, values).read(keys[2]).tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from attnviz.kernels.linear import WRITE_OVERFLOW_HINT
from attnviz.kernels.linear import _write as write_unchecked  # checked once, at the door
from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import (
    as_array,
    as_tensor,
    check_choice,
    check_int,
    check_real,
    finite_result,
)

RULES = ("hebbian", "hebbian_forget", "delta", "gated_delta")
SWEEP_RULES = ("hebbian", "delta")
KEY_KINDS = ("random", "orthonormal")
CRITERIA = ("mse", "worst", "top1", "aligned", "coherence")

# Elements of the (trials, N, N) key Gram matrix one batch of trials may hold (256 MB).
_GRAM_ELEMENTS = 1 << 26

#: Documented caps, so every call answers in seconds on a 2-core laptop: a dimension
#: (d_k, d_v), a number of stored items N, and the trials of a sweep.
MAX_DIM = 65_536
MAX_ITEMS = 65_536
MAX_TRIALS = 100_000
#: The most multiply-adds one capacity sweep may take: trials x len(d_k) x (N_max² (d_k +
#: d_v), + N_max³ for the delta rule's solve). About 10 s here; the lesson's largest is 1e11.
MAX_SWEEP_WORK = 1 << 37
#: The same for depth_head_error: L x trials x H x N x d_k² (about 15 s here).
MAX_DEPTH_WORK = 1 << 35


# ------------------------------------------------------------------- one memory


def _finite_tensor(name: str, value: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    tensor = as_tensor(name, value)
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must contain only finite numbers (no NaN or inf)")
    return tensor if dtype is None else tensor.to(dtype)


def _pairs(keys: Any, values: Any, d_k: int, d_v: int, dtype: torch.dtype):
    """keys (d_k,) or (N, d_k), values (d_v,) or (N, d_v) -> (N, d_k), (N, d_v)."""
    k = _finite_tensor("keys", keys, dtype)
    v = _finite_tensor("values", values, dtype)
    k = k[None] if k.dim() == 1 else k  # (N, d_k)
    v = v[None] if v.dim() == 1 else v  # (N, d_v)
    if k.dim() != 2 or k.shape[-1] != d_k:
        raise ValueError(
            f"keys must have shape (d_k,) or (N, d_k) with d_k={d_k}, got {tuple(k.shape)}"
        )
    if v.dim() != 2 or v.shape[-1] != d_v:
        raise ValueError(
            f"values must have shape (d_v,) or (N, d_v) with d_v={d_v}, got {tuple(v.shape)}"
        )
    if k.shape[0] != v.shape[0]:
        raise ValueError(
            f"keys and values must pair up, one value per key: got {k.shape[0]} keys and "
            f"{v.shape[0]} values"
        )
    return k, v


def _gates(name: str, value: Any, n: int, dtype: torch.dtype) -> torch.Tensor:
    """A gate in [0, 1]: a number, or one per write (N,) -> (N,)."""
    if isinstance(value, (Sequence, np.ndarray, torch.Tensor)) and not isinstance(value, str):
        gate = as_array(name, value)
        if gate.ndim == 0:
            gate = np.full(n, float(gate))
        if gate.shape != (n,):
            raise ValueError(
                f"{name} must be a number or one value per write, shape ({n},), got {gate.shape}"
            )
        if np.any((gate < 0) | (gate > 1)):
            bad = gate[(gate < 0) | (gate > 1)][0]
            raise ValueError(f"{name} must be in [0, 1] at every write, got {bad:g}")
        return torch.as_tensor(gate, dtype=dtype)
    return torch.full((n,), check_real(name, value, low=0.0, high=1.0), dtype=dtype)


def _write(state: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rule: str, alpha, beta):
    """One write of the association k -> v into state (d_v, d_k) by ``kernels.linear``'s
    write: a rule of ``RULES`` is its Hebbian or delta write, with the gates the rule has.

    The inputs were checked once at the door, so each step runs the kernel without its
    checks (they tripled a 64-item write); the caller checks the last state is finite."""
    forgets = rule in ("hebbian_forget", "gated_delta")
    alpha = alpha if forgets else 1.0
    if rule in ("hebbian", "hebbian_forget"):
        return write_unchecked(state, k, v, "hebbian", 1.0, alpha)
    return write_unchecked(state, k, v, "delta", beta, alpha)


def write_all(
    keys: Any,
    values: Any,
    rule: str = "hebbian",
    *,
    beta: float | Sequence[float] = 1.0,
    alpha: float | Sequence[float] = 1.0,
    initial_state: Any = None,
) -> torch.Tensor:
    """Write the associations k_t -> v_t in order; return the memory after each (lesson 05).

    ``states[t]`` is the memory after the first t writes, so ``states[0]`` is the
    initial one and ``states[t + 1] @ q`` is what causal linear attention reads at
    step t: a dashboard scrubs through the matrix association by association.

    Args:
        keys: (N, d_k) conditioned stimuli.
        values: (N, d_v) unconditioned stimuli.
        rule: one of ``RULES``: "hebbian", "hebbian_forget", "delta", "gated_delta".
        beta: learning rate in [0, 1] of the delta rules, a number or one per write (N,).
        alpha: forget gate in [0, 1] of the forgetting rules, a number or one per write.
        initial_state: optional (d_v, d_k) memory to start from; default zeros.

    Returns:
        states, (N + 1, d_v, d_k), in the promoted dtype of keys and values.
    """
    rule = check_choice("rule", rule, RULES)
    k = _finite_tensor("keys", keys)
    v = _finite_tensor("values", values)
    if k.dim() != 2 or v.dim() != 2:
        raise ValueError(
            f"keys and values must be 2-D, (N, d_k) and (N, d_v): got {tuple(k.shape)} "
            f"and {tuple(v.shape)}"
        )
    dtype = torch.promote_types(k.dtype, v.dtype)
    k, v = _pairs(k, v, k.shape[-1], v.shape[-1], dtype)
    n, d_k = k.shape
    d_v = v.shape[-1]
    check_bytes(
        f"the {n + 1:,} states of a ({d_v}, {d_k}) memory",
        tensor_bytes(n + 1, d_v, d_k, dtype=dtype) * 2,
        instead="write fewer associations (keys and values with fewer rows)",
    )
    alphas = _gates("alpha", alpha, n, dtype)  # (N,)
    betas = _gates("beta", beta, n, dtype)  # (N,)
    if initial_state is None:
        state = torch.zeros(d_v, d_k, dtype=dtype)
    else:
        state = _finite_tensor("initial_state", initial_state, dtype)
        if tuple(state.shape) != (d_v, d_k):
            raise ValueError(
                f"initial_state must have shape (d_v, d_k) = {(d_v, d_k)}, got {tuple(state.shape)}"
            )
    states = [state]
    for t in range(n):
        state = _write(state, k[t], v[t], rule, alphas[t], betas[t])
        states.append(state)
    _finite_memory(state)
    return torch.stack(states)  # (N + 1, d_v, d_k)


def _finite_memory(state: torch.Tensor) -> torch.Tensor:
    return finite_result("the memory S", state, hint=WRITE_OVERFLOW_HINT)


class AssociativeMemory:
    """A d_v x d_k associative memory written with one of the four rules (lesson 05).

    Args:
        d_k: key (CS) dimension.
        d_v: value (US) dimension.
        rule: one of ``RULES``.
        beta: learning rate in [0, 1]; used by "delta" and "gated_delta".
        alpha: forget gate in [0, 1]; used by "hebbian_forget" and "gated_delta".
        dtype: the state's dtype (float64 by default: lessons compare to closed forms).
    """

    def __init__(
        self,
        d_k: int,
        d_v: int,
        rule: str = "hebbian",
        *,
        beta: float = 1.0,
        alpha: float = 1.0,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        self.d_k = check_int("d_k", d_k, low=1, high=MAX_DIM)
        self.d_v = check_int("d_v", d_v, low=1, high=MAX_DIM)
        self.rule = check_choice("rule", rule, RULES)
        self.beta = check_real("beta", beta, low=0.0, high=1.0)
        self.alpha = check_real("alpha", alpha, low=0.0, high=1.0)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        check_bytes(
            f"a ({self.d_v:,}, {self.d_k:,}) memory",
            tensor_bytes(self.d_v, self.d_k, dtype=dtype) * 2,
            instead="use smaller d_k and d_v",
        )
        self.dtype = dtype
        self._state = torch.zeros(self.d_v, self.d_k, dtype=dtype)  # (d_v, d_k)
        self.n_writes = 0

    @property
    def state(self) -> torch.Tensor:
        """A copy of the memory matrix S, (d_v, d_k)."""
        return self._state.clone()

    def write(self, keys: Any, values: Any) -> AssociativeMemory:
        """Write one pair ((d_k,), (d_v,)) or a batch ((N, d_k), (N, d_v)), in order."""
        k, v = _pairs(keys, values, self.d_k, self.d_v, self.dtype)
        state = self._state
        for k_t, v_t in zip(k, v, strict=True):
            state = _write(state, k_t, v_t, self.rule, self.alpha, self.beta)
        self._state = _finite_memory(state)  # an overflow leaves the memory as it was
        self.n_writes += k.shape[0]
        return self

    def read(self, queries: Any) -> torch.Tensor:
        """Read with one query (d_k,) -> (d_v,), or a batch (N, d_k) -> (N, d_v): S q."""
        q = _finite_tensor("queries", queries, self.dtype)
        if q.dim() not in (1, 2) or q.shape[-1] != self.d_k:
            raise ValueError(
                f"queries must have shape (d_k,) or (N, d_k) with d_k={self.d_k}, "
                f"got {tuple(q.shape)}"
            )
        return q @ self._state.mT  # (N, d_v) or (d_v,)

    def reset(self) -> AssociativeMemory:
        """Forget everything: S = 0."""
        self._state = torch.zeros(self.d_v, self.d_k, dtype=self.dtype)
        self.n_writes = 0
        return self

    def __repr__(self) -> str:
        return (
            f"AssociativeMemory(d_k={self.d_k}, d_v={self.d_v}, rule={self.rule!r}, "
            f"beta={self.beta:g}, alpha={self.alpha:g}, n_writes={self.n_writes})"
        )


def random_pairs(
    n_items: int, d_k: int, d_v: int | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_items`` keys (N, d_k) and values (N, d_v) uniform on their unit spheres, float64,
    from a generator seeded with ``seed`` (lesson 05). d_v defaults to d_k. (Draw the most
    you need once and slice: torch's normal draws of other sizes are not prefixes.)
    ``n_items`` is at most ``MAX_ITEMS``, ``d_k`` and ``d_v`` at most ``MAX_DIM``, and the
    pairs must fit attnviz's memory budget."""
    n_items = check_int("n_items", n_items, low=1, high=MAX_ITEMS)
    d_k = check_int("d_k", d_k, low=1, high=MAX_DIM)
    d_v = d_k if d_v is None else check_int("d_v", d_v, low=1, high=MAX_DIM)
    check_bytes(
        f"random_pairs(n_items={n_items:,}, d_k={d_k:,}, d_v={d_v:,})",
        tensor_bytes(n_items, d_k + d_v, dtype=torch.float64) * 2,
        instead="draw fewer items or smaller dimensions",
    )
    generator = torch.Generator().manual_seed(check_int("seed", seed, low=0, high=2**63 - 1))
    pairs = torch.randn(n_items, d_k + d_v, generator=generator, dtype=torch.float64)
    return _normalized(pairs[:, :d_k]), _normalized(pairs[:, d_k:])


def retrieval_errors(states: Any, keys: Any, values: Any) -> torch.Tensor:
    """``errors[t, i] = ‖S_t k_i − v_i‖``: each stored item read back from each state of
    ``write_all`` (N + 1, d_v, d_k), for keys (N, d_k) and values (N, d_v) (lesson 05)."""
    states = _finite_tensor("states", states)
    keys, values = _finite_tensor("keys", keys), _finite_tensor("values", values)
    if states.dim() != 3 or keys.dim() != 2 or values.dim() != 2:
        raise ValueError(
            "states, keys and values must have shapes (T, d_v, d_k), (N, d_k) and (N, d_v); "
            f"got {tuple(states.shape)}, {tuple(keys.shape)} and {tuple(values.shape)}"
        )
    if states.shape[1:] != (values.shape[1], keys.shape[1]) or len(keys) != len(values):
        raise ValueError(
            f"states {tuple(states.shape)} do not match keys {tuple(keys.shape)} and values "
            f"{tuple(values.shape)}: expected (T, d_v, d_k) with N keys and N values"
        )
    n_states, d_v = states.shape[0], states.shape[1]
    check_bytes(
        f"the read-outs of {keys.shape[0]:,} keys from {n_states:,} states",
        tensor_bytes(n_states, keys.shape[0], d_v, dtype=states.dtype) * 2,
        instead="read fewer states or keys",
    )
    reads = torch.einsum("tvk,ik->tiv", states, keys.to(states.dtype))  # S_t k_i, (T, N, d_v)
    return torch.linalg.vector_norm(reads - values.to(states.dtype), dim=-1)  # (T, N)


def mean_error_of_items_written(errors: Any) -> np.ndarray:
    """``mean[t - 1] = errors[t, :t].mean()``: the mean retrieval error of the t items
    stored after t writes, t = 1 .. N, from the (N + 1, N) ``errors`` of
    :func:`retrieval_errors` (lesson 05): how the error grows as the memory fills."""
    errors = as_array("errors", errors, ndim=2)
    n = errors.shape[1]
    if errors.shape != (n + 1, n):
        raise ValueError(
            "errors must have shape (N + 1, N), a row per state of write_all and a column per "
            f"stored item (retrieval_errors' output), got {errors.shape}"
        )
    return np.array([errors[s, :s].mean() for s in range(1, n + 1)])  # (N,)


# ---------------------------------------------------------------------- capacity


@dataclass(frozen=True)
class CapacityResult:
    """What :func:`capacity_sweep` measured, with the analytic curves to overlay."""

    d_k: np.ndarray  # (D,) key dimensions
    n_items: np.ndarray  # (M,) numbers of stored associations N
    measured: np.ndarray  # (D, M) mean over trials: relative MSE, worst error or top-1 accuracy
    spread: np.ndarray  # (D, M) standard deviation over trials
    criterion: str
    rule: str
    keys: str
    trials: int
    d_v: np.ndarray  # (D,) value dimension used for each d_k

    @property
    def load(self) -> np.ndarray:
        """N / d_k, (D, M): the curves of every d_k collapse against it."""
        return self.n_items[None, :] / self.d_k[:, None]

    @property
    def snr(self) -> np.ndarray:
        """Signal-to-noise ratio d_k / (N - 1), (D, M); inf for N = 1 (no crosstalk)."""
        crosstalk = (self.n_items[None, :] - 1).astype(np.float64)
        with np.errstate(divide="ignore"):
            return np.where(crosstalk > 0, self.d_k[:, None] / crosstalk, np.inf)

    @property
    def predicted_mse(self) -> np.ndarray:
        """The predicted relative MSE of Hebbian storage with random keys, (N - 1) / d_k."""
        return (self.n_items[None, :] - 1) / self.d_k[:, None]

    @property
    def predicted_aligned(self) -> np.ndarray:
        """The predicted "aligned" error of Hebbian storage with random keys, (D, M):
        E[(Σ_{j≠i} |c_j|)²] = (N-1)(N-2) m² + (N-1)/d_k, c_j = k_jᵀ k_i, m = E|c_j|
        (≈ √(2 / (π d_k))): it grows as N² / d_k, so capacity grows as √d_k."""
        d = self.d_k[:, None].astype(np.float64)
        lgamma = np.vectorize(math.lgamma)
        m = np.exp(lgamma(d / 2) - lgamma((d + 1) / 2)) / np.sqrt(np.pi)  # E|x_1| on S^{d-1}
        others = (self.n_items[None, :] - 1).astype(np.float64)
        return others * (others - 1) * m**2 + others / d

    @property
    def predicted_coherence(self) -> np.ndarray:
        """The "coherence" bound's rough size for random keys, (D, M): ((N-1) μ)² with the
        largest of N(N-1)/2 overlaps μ ≈ √(4 ln N / d_k) (PAPERS.md §1; a first-order
        extreme-value estimate, a little high at small N)."""
        n = self.n_items[None, :].astype(np.float64)
        return (n - 1) ** 2 * 4 * np.log(n) / self.d_k[:, None]


def _ints(name: str, value: Any, high: int) -> np.ndarray:
    if isinstance(value, str):
        raise TypeError(f"{name} must be a positive integer or a sequence of them, got {value!r}")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    values = [value] if not isinstance(value, (Sequence, np.ndarray)) else list(value)
    if not values:
        raise ValueError(f"{name} must be a positive integer or a non-empty sequence of them")
    if len(values) > 10_000:
        raise ValueError(f"{name} must list at most 10,000 values, got {len(values):,}")
    return np.array([check_int(name, x, low=1, high=high) for x in values], dtype=np.int64)


def _unit_vectors(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Uniform on the unit sphere: normalized Gaussian vectors along the last axis."""
    x = torch.randn(shape, generator=generator, dtype=torch.float32)
    return x / x.norm(dim=-1, keepdim=True)


def _normalized(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def _draw_keys(kind: str, pool: torch.Tensor, d_k: int, generator: torch.Generator):
    """Keys from the first d_k coordinates of a Gaussian pool (trials, N, d_max)."""
    trials, n, _ = pool.shape
    keys = _normalized(pool[..., :d_k])  # (trials, N, d_k), uniform on the sphere
    if kind == "orthonormal":
        # no d_k-dimensional space holds more than d_k orthonormal keys: the first d_k
        # are a random orthonormal basis, any beyond are uniform on the sphere
        m = min(n, d_k)
        gauss = torch.randn(trials, d_k, m, generator=generator, dtype=torch.float64)
        basis = torch.linalg.qr(gauss)[0]  # (trials, d_k, m), orthonormal columns
        keys[:, :m] = basis.mT.float()
    return keys


def _measure(
    keys: torch.Tensor,
    values: torch.Tensor,
    sizes: np.ndarray,
    criterion: str,
    rule: str,
    beta: float,
) -> np.ndarray:
    """Per-trial criterion for memories holding the first N of the pairs, N in sizes.

    Every memory of the sweep holds a prefix of one draw of keys, so the read-outs
    grow by one block of writes at a time: reading item i from the first N writes is
    Σ_{j<N} (k_jᵀ k_i) u_j, with u_j = v_j (Hebbian) or the delta rule's prediction
    errors, which solve (I + β tril(K Kᵀ, -1)) U = β V at once (the UT transform).
    Only the rows of the items stored so far are read, and the key Gram matrix is
    formed one block of rows at a time (it is symmetric).
    """
    trials, n_max, _ = keys.shape
    gram = None
    writes = values  # (trials, N, d_v)
    if criterion == "aligned":  # depends on the keys only: the values conspire
        return _aligned(keys, sizes)
    if criterion == "coherence":  # the keys only: a bound for every item and any values
        return _coherence(keys, sizes)
    if rule == "delta":
        gram = keys @ keys.mT  # (trials, N, N), k_iᵀ k_j
        system = beta * gram.tril(-1) + torch.eye(n_max)  # (trials, N, N)
        writes = torch.linalg.solve_triangular(
            system, beta * values, upper=False, unitriangular=True
        )  # (trials, N, d_v)
    out = np.empty((trials, len(sizes)))
    d_k, d_v = keys.shape[-1], values.shape[-1]
    # small d_k: read through the memory itself, S = Σ_j u_j k_jᵀ (d_v x d_k), which
    # costs N d_k d_v per size instead of N² (d_k + d_v) for all sizes through K Kᵀ
    through_state = gram is None and 2 * int(sizes.sum()) * d_k * d_v < n_max**2 * (d_k + 2 * d_v)
    if through_state:
        state = torch.zeros(trials, d_v, d_k)  # (trials, d_v, d_k)
        done = 0
        for column, n in enumerate(sizes):
            state.baddbmm_(writes[:, done:n].mT, keys[:, done:n])  # the writes done..n-1
            reads = torch.bmm(keys[:, :n], state.mT)  # S k_i, (trials, n, d_v)
            out[:, column] = _score(reads, values[:, :n], criterion)
            done = n
        return out
    reads = torch.empty_like(values)  # (trials, N, d_v), rows :n hold the read-outs
    done = 0
    for column, n in enumerate(sizes):
        if gram is None:
            block = torch.bmm(keys[:, done:n], keys[:, :n].mT)  # rows done..n-1 of K Kᵀ
        else:
            block = gram[:, done:n, :n]  # (trials, Δ, n)
        if done:  # old items hear the new writes: G[:done, done:n] = block[..., :done]ᵀ
            reads[:, :done].baddbmm_(block[:, :, :done].mT, writes[:, done:n])
        reads[:, done:n] = torch.bmm(block, writes[:, :n])  # the new items hear every write
        out[:, column] = _score(reads[:, :n], values[:, :n], criterion)
        done = n
    return out


def _score(reads: torch.Tensor, values: torch.Tensor, criterion: str) -> np.ndarray:
    """Per-trial criterion of read-outs (trials, n, d_v) against the stored values."""
    if criterion == "top1":
        scores = reads @ values.mT  # (trials, n, n), r_iᵀ v_l
        hits = scores.argmax(dim=-1) == torch.arange(reads.shape[1])  # (trials, n)
        return hits.float().mean(dim=-1).numpy()
    errors = (reads - values).square_().sum(dim=-1)  # ‖r_i - v_i‖², (trials, n)
    return (errors.mean(dim=-1) if criterion == "mse" else errors.amax(dim=-1)).numpy()


def _aligned(keys: torch.Tensor, sizes: np.ndarray) -> np.ndarray:
    """Mean over items of (Σ_{j<N, j≠i} |k_jᵀ k_i|)², per trial, for each N in sizes."""
    overlap = (keys @ keys.mT).abs()  # (trials, N, N), |k_iᵀ k_j|
    overlap.diagonal(dim1=-2, dim2=-1).zero_()
    reach = overlap.cumsum(dim=-1)  # reach[:, i, n - 1] = Σ_{j<n} |k_iᵀ k_j|
    out = np.empty((keys.shape[0], len(sizes)))
    for column, n in enumerate(sizes):
        out[:, column] = reach[:, :n, n - 1].square().mean(dim=-1).numpy()
    return out


def _coherence(keys: torch.Tensor, sizes: np.ndarray) -> np.ndarray:
    """((N - 1) μ_N)² per trial, μ_N = max_{i≠j<N} |k_iᵀ k_j| (the keys' coherence), for
    each N in sizes: ‖Σ_{j≠i} (k_jᵀ k_i) v_j‖ ≤ (N - 1) μ_N for every item and any unit
    values, so this bounds every item's error (PAPERS.md §1, the guaranteed criterion)."""
    overlap = (keys @ keys.mT).abs().tril(-1)  # (trials, N, N), |k_iᵀ k_j| for j < i
    coherence = overlap.amax(dim=-1).cummax(dim=-1).values  # [:, n - 1]: μ of the first n
    out = np.empty((keys.shape[0], len(sizes)))
    for column, n in enumerate(sizes):
        out[:, column] = ((n - 1) * coherence[:, n - 1]).square().numpy()
    return out


@torch.no_grad()
def capacity_sweep(
    d_k: int | Sequence[int],
    n_items: int | Sequence[int],
    trials: int = 50,
    keys: str = "random",
    criterion: str = "mse",
    rule: str = "hebbian",
    d_v: int | None = None,
    seed: int = 0,
    *,
    beta: float = 1.0,
) -> CapacityResult:
    """How well a memory recalls N stored associations, for each d_k and N (lesson 05).

    For every d_k, ``trials`` independent memories store N pairs (k_i, v_i) and are
    read with each stored key; the read-out r_i is compared with v_i. Values are
    uniform on the unit sphere of dimension d_v, so errors are relative.

    Criteria, per trial, then averaged over trials:

    * "mse": mean over items of ‖r_i - v_i‖²; Hebbian with random keys predicts
      (N - 1)/d_k (``result.predicted_mse``): the O(d_k) average-case capacity.
    * "worst": max over items of ‖r_i - v_i‖² for the values drawn: the worst item,
      not the worst values ("aligned" and "coherence" take those).
    * "top1": fraction of items whose read-out is closest (by dot product, which
      is cosine since the values have unit norm) to its own value among the N
      stored values; grows with d_v too (capacity ~ d_k d_v / 2 ln N).
    * "aligned": the largest error any unit values could give, Hebbian: values
      aligned with the signs of the crosstalk, so its terms add up instead of
      averaging out: mean over items of (Σ_{j≠i} |k_jᵀ k_i|)². This is what a
      guarantee for every choice of values must bound: it grows as N²/d_k
      (``result.predicted_aligned``), so a guaranteed capacity grows only as √d_k.
      It is still an average over items.
    * "coherence": ((N - 1) μ)², μ the largest overlap |k_iᵀ k_j| of two stored keys:
      a bound on every item's error for any unit values (the guarantee over random keys
      of PAPERS.md §1). μ ≈ √(4 ln N / d_k), so it grows as 4 N² ln N / d_k
      (``result.predicted_coherence``): the capacity grows as √(d_k / ln N).

    Keys: "random" draws them uniform on the unit sphere; "orthonormal" makes the
    first min(N, d_k) keys a random orthonormal basis: zero crosstalk up to N = d_k.
    Past N = d_k no more orthonormal keys exist, and the keys beyond the first d_k
    are drawn uniform on the sphere, as "random" does (each then collides with the
    whole basis: Σ_j (k_jᵀ k)² = 1).

    Vectorised over trials: one draw of N_max keys per trial and d_k, whose
    prefixes are the memories of the smaller N (float32 batched matmuls).

    Args:
        d_k: a key dimension or a sequence of them (each >= 1).
        n_items: a number of stored pairs N or a sequence of them (each >= 1).
        trials: independent memories per (d_k, N).
        keys: "random" or "orthonormal".
        criterion: "mse", "worst", "top1", "aligned" or "coherence" (the last two read the
            keys only; ``rule`` is ignored).
        rule: "hebbian" (S += v kᵀ) or "delta" (S += β (v - S k) kᵀ, in write order).
        d_v: the value dimension; None uses d_v = d_k.
        seed: seeds the draws.
        beta: the delta rule's learning rate in [0, 1].

    Limits: each d_k and d_v at most ``MAX_DIM``, each N at most ``MAX_ITEMS``, trials
    at most ``MAX_TRIALS``, the whole sweep within ``MAX_SWEEP_WORK`` multiply-adds and a
    batch of memories within attnviz's memory budget; past them a ``ValueError`` says
    what to shrink.

    Returns:
        CapacityResult with ``measured`` and ``spread`` (std over trials) of shape
        (len(d_k), len(n_items)), and ``load``, ``snr``, ``predicted_mse`` to overlay.
    """
    dims = _ints("d_k", d_k, MAX_DIM)
    sizes = _ints("n_items", n_items, MAX_ITEMS)
    trials = check_int("trials", trials, low=1, high=MAX_TRIALS)
    keys = check_choice("keys", keys, KEY_KINDS)
    criterion = check_choice("criterion", criterion, CRITERIA)
    rule = check_choice("rule", rule, SWEEP_RULES)
    value_dims = (
        dims.copy()
        if d_v is None
        else np.full_like(dims, check_int("d_v", d_v, low=1, high=MAX_DIM))
    )
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    beta = check_real("beta", beta, low=0.0, high=1.0)

    order = np.unique(sizes)  # increasing N, each once
    n_max = int(order[-1])
    d_max, dv_max = int(dims.max()), int(value_dims.max())
    cube = n_max**3 if rule == "delta" and criterion not in ("aligned", "coherence") else 0
    work = trials * sum(
        n_max**2 * (int(d) + int(e)) + cube for d, e in zip(dims, value_dims, strict=True)
    )
    if work > MAX_SWEEP_WORK:
        per_trial = max(1, work // trials)
        raise ValueError(
            f"capacity_sweep(trials={trials:,}, n_items up to {n_max:,}, d_k up to {d_max:,}) "
            f"would take about {work:.3g} multiply-adds, past MAX_SWEEP_WORK = "
            f"{MAX_SWEEP_WORK:.3g} (about 10 s); use trials <= "
            f"{max(1, MAX_SWEEP_WORK // per_trial):,}, fewer or smaller n_items, or fewer d_k"
        )
    batch = max(1, _GRAM_ELEMENTS // (n_max * n_max))  # trials per batch: the Gram fits
    count = min(batch, trials)
    gram_copies = 3 if (rule == "delta" or criterion in ("aligned", "coherence", "top1")) else 1
    check_bytes(
        f"a batch of {count:,} memories of capacity_sweep (n_items up to {n_max:,}, d_k up to "
        f"{d_max:,})",
        tensor_bytes(count, n_max, gram_copies * n_max + 3 * (d_max + dv_max), dtype=torch.float32),
        instead="use smaller n_items or d_k",
    )
    generator = torch.Generator().manual_seed(seed)
    measured = np.empty((len(dims), len(sizes)))
    spread = np.empty((len(dims), len(sizes)))
    per_trial = [[] for _ in dims]
    for start in range(0, trials, batch):
        count = min(batch, trials - start)
        # one Gaussian draw per batch, shared by every d_k (its first d_k coordinates,
        # normalized, are uniform on the sphere): the curves of different d_k are
        # correlated, each is exact in distribution
        key_pool = torch.randn(count, n_max, int(dims.max()), generator=generator)
        value_pool = torch.randn(count, n_max, int(value_dims.max()), generator=generator)
        for row, (dim, d_value) in enumerate(zip(dims, value_dims, strict=True)):
            k = _draw_keys(keys, key_pool, int(dim), generator)  # (trials, N, d_k)
            v = _normalized(value_pool[..., : int(d_value)])  # (trials, N, d_v)
            per_trial[row].append(_measure(k, v, order, criterion, rule, beta))
    columns = np.searchsorted(order, sizes)
    for row, parts in enumerate(per_trial):
        values = np.concatenate(parts)[:, columns]  # (trials, M)
        measured[row] = values.mean(axis=0)
        spread[row] = values.std(axis=0)
    return CapacityResult(dims, sizes, measured, spread, criterion, rule, keys, trials, value_dims)


# ------------------------------------------------------------- depth and heads


@dataclass(frozen=True)
class DepthHeadResult:
    """What :func:`depth_head_error` measured, layer by layer."""

    n_layers: int
    n_heads: int
    n_items: int
    d_k: int
    error: np.ndarray  # (L,) mean relative error ‖x_l - v‖² after layer l = 1..L
    spread: np.ndarray  # (L,) standard deviation over trials
    rule_of_thumb: np.ndarray  # (L,) l · N / (H · d_k)
    expected: np.ndarray  # (L,) l · (N - 1) / (H · d_k), this simulation's exact mean


@torch.no_grad()
def depth_head_error(
    n_layers: int,
    n_heads: int,
    n_items: int,
    d_k: int,
    trials: int = 200,
    seed: int = 0,
) -> DepthHeadResult:
    """Noisy retrieval through L layers of H redundant heads, vs L·N/(H·d_k) (lesson 05).

    A unit value v is passed down the layers. In each layer every one of the H heads
    holds its own Hebbian memory of N associations with fresh random keys: the one
    carrying the signal (its value is the previous layer's output x_{l-1}) and N - 1
    unrelated unit values. Each head reads the signal's key and gets x_{l-1} plus
    crosstalk of mean squared norm (N - 1)/d_k; the layer outputs the heads' mean,
    which divides the independent crosstalk by H. Over L layers the crosstalk adds
    up: E‖x_L - v‖² = L (N - 1)/(H d_k), the rule of thumb L·N/(H·d_k) of PAPERS.md §1
    (an abstract-level model, [D]) for N >> 1.

    Caveat: at a fixed model width d_model, more heads means thinner heads,
    d_k = d_model / H, and then L·N/(H·d_k) = L·N/d_model: redundancy only cancels
    the extra noise of the thinner heads. Here d_k is held fixed as H varies.

    Args:
        n_layers: L >= 1.
        n_heads: H >= 1 redundant heads per layer.
        n_items: N >= 1 associations per head's memory.
        d_k: key (and value) dimension of each head.
        trials: independent runs, vectorised.
        seed: seeds the draws.

    Limits: n_layers and n_heads at most 1,024, n_items at most ``MAX_ITEMS``, d_k at most
    ``MAX_DIM``, trials at most ``MAX_TRIALS``, the work within ``MAX_DEPTH_WORK`` and the
    memories within attnviz's memory budget.

    Returns:
        DepthHeadResult with the measured error per layer, its spread, the rule of
        thumb and the exact expectation.
    """
    n_layers = check_int("n_layers", n_layers, low=1, high=1024)
    n_heads = check_int("n_heads", n_heads, low=1, high=1024)
    n_items = check_int("n_items", n_items, low=1, high=MAX_ITEMS)
    d_k = check_int("d_k", d_k, low=1, high=MAX_DIM)
    trials = check_int("trials", trials, low=1, high=MAX_TRIALS)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    work = n_layers * trials * n_heads * (n_items * d_k * d_k + 2 * n_items * d_k)
    if work > MAX_DEPTH_WORK:
        raise ValueError(
            f"depth_head_error(n_layers={n_layers}, n_heads={n_heads}, n_items={n_items}, "
            f"d_k={d_k}, trials={trials}) would take about {work:.3g} multiply-adds, past "
            f"MAX_DEPTH_WORK = {MAX_DEPTH_WORK:.3g} (about 15 s); use fewer trials, layers, "
            "heads or items, or a smaller d_k"
        )
    check_bytes(
        f"the memories of depth_head_error (trials={trials}, n_heads={n_heads}, "
        f"n_items={n_items}, d_k={d_k})",
        tensor_bytes(trials, n_heads, 3 * n_items * d_k + d_k * d_k, dtype=torch.float32),
        instead="use fewer trials, heads or items, or a smaller d_k",
    )
    generator = torch.Generator().manual_seed(seed)
    target = _unit_vectors((trials, d_k), generator)  # v, (trials, d_v)
    signal = target
    errors = np.empty((trials, n_layers))
    for layer in range(n_layers):
        keys = _unit_vectors((trials, n_heads, n_items, d_k), generator)  # (trials, H, N, d_k)
        values = _unit_vectors((trials, n_heads, n_items, d_k), generator)  # (trials, H, N, d_v)
        values[:, :, 0] = signal[:, None]  # item 0 carries the signal in every head
        memory = values.mT @ keys  # S = Σ_j v_j k_jᵀ, (trials, H, d_v, d_k)
        reads = (memory @ keys[:, :, 0, :, None])[..., 0]  # S k_0, (trials, H, d_v)
        signal = reads.mean(dim=1)  # the layer's output, (trials, d_v)
        errors[:, layer] = (signal - target).square().sum(dim=-1).numpy()
    depth = np.arange(1, n_layers + 1)
    per_layer = 1.0 / (n_heads * d_k)
    return DepthHeadResult(
        n_layers,
        n_heads,
        n_items,
        d_k,
        errors.mean(axis=0),
        errors.std(axis=0),
        depth * n_items * per_layer,
        depth * (n_items - 1) * per_layer,
    )
