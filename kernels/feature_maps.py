"""Feature maps φ: the similarity kernels of linear attention, (..., d) -> (..., n).

Linear attention replaces softmax's exp(qᵀk) by a separable similarity
ζ(q, k) = φ(q)ᵀφ(k); the state then holds Σ_j v_j φ(k_j)ᵀ, of size d_v x n, and
the feature dimension n is the state expansion of the DSF (PAPERS.md §2, lesson 06):

==================  =======================  ======================  ===========
name                φ(x)                     φ(q)ᵀφ(k)               n
==================  =======================  ======================  ===========
identity            x                        qᵀk                     d
elu_plus_one        elu(x) + 1               > 0                     d
relu                max(x, 0)                >= 0                    d
random_features     exp(Wx - ‖x‖²/2) / √m    ≈ exp(qᵀk) (unbiased)   m
taylor              [1, x, (x ⊗ x) / √2]     1 + qᵀk + (qᵀk)²/2      1 + d + d²
==================  =======================  ======================  ===========

``feature_map(name, **params)`` builds one by name (``FEATURE_MAPS`` lists them);
what it returns is a callable with a ``name``, its ``params`` and ``output_dim(d)``,
and any function in ``kernels/linear.py`` that takes ``feature_map=`` accepts either
that object, its name, or any callable tensor -> tensor.

Example:
    >>> import torch
    >>> phi = feature_map("taylor")
    >>> q, k = torch.randn(3, 4), torch.randn(3, 4)           # (T, d)
    >>> phi(q).shape, phi.output_dim(4)
    (torch.Size([3, 21]), 21)
    >>> s = (q * k).sum(-1)                                    # qᵀk per row, (T,)
    >>> torch.allclose((phi(q) * phi(k)).sum(-1), 1 + s + s**2 / 2)
    True
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import check_bool, check_int, check_text

#: The largest input size d that ``output_dim`` describes.
MAX_INPUT_DIM = 1 << 20
#: The most random features m of ``random_features`` (its W is (m, d) float64).
MAX_RANDOM_FEATURES = 1 << 16


def _same_size(d: int) -> int:
    return d


# --------------------------------------------------------------------- the object


@dataclass(frozen=True)
class NamedFeatureMap:
    """A feature map φ: (..., d) -> (..., n) that knows its name and its n (lesson 06).

    Attributes:
        name: the map's name, a key of ``FEATURE_MAPS``.
        fn: the function itself, tensor (..., d) -> tensor (..., n).
        params: the parameters it was built with, for display.
        dim_rule: d -> n; use :meth:`output_dim`.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    params: dict[str, Any] = field(default_factory=dict)
    dim_rule: Callable[[int], int] = field(default_factory=lambda: _same_size, repr=False)

    def __post_init__(self) -> None:
        check_text("name", self.name)
        for name in ("fn", "dim_rule"):
            if not callable(getattr(self, name)):
                raise TypeError(
                    f"{name} must be a callable, got {type(getattr(self, name)).__name__}"
                )
        if not isinstance(self.params, dict):
            raise TypeError(f"params must be a dict, got {type(self.params).__name__}")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"the {self.name!r} feature map takes a torch.Tensor (..., d), "
                f"got {type(x).__name__}"
            )
        if x.dim() < 1:
            raise ValueError(f"the {self.name!r} feature map takes a tensor (..., d), got a scalar")
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        return self.fn(x)

    def output_dim(self, d: int) -> int:
        """n, the number of features for inputs of size d in [1, MAX_INPUT_DIM]."""
        return self.dim_rule(check_int("d", d, low=1, high=MAX_INPUT_DIM))


# ---------------------------------------------------------------------------- maps


def identity() -> NamedFeatureMap:
    """φ(x) = x: plain linear attention, ζ(q, k) = qᵀk (Katharopoulos et al. 2020, §3.2).

    Not positive: normalised by Σ_j qᵀk_j, the denominator can vanish or change sign.
    """
    return NamedFeatureMap("identity", lambda x: x)  # (..., d)


def elu_plus_one() -> NamedFeatureMap:
    """φ(x) = elu(x) + 1 > 0, the map of "Transformers are RNNs" (Katharopoulos et al.
    2020, arXiv 2006.16236, Eq. 7); also the DSF paper's linear attention (PAPERS.md §2).

    Every feature is strictly positive, so the normalised form is a weighted average.
    """

    def fn(x: torch.Tensor) -> torch.Tensor:
        # elu(x) + 1 is x + 1 for x > 0 and exp(x) otherwise; written so, it stays > 0
        # where elu(x) + 1 rounds to 0 (x < -37 in float64, x < -17 in float32)
        return torch.where(x > 0, x + 1.0, torch.exp(x.clamp_max(0.0)))  # (..., d), > 0

    return NamedFeatureMap("elu_plus_one", fn)


def relu() -> NamedFeatureMap:
    """φ(x) = max(x, 0) >= 0, a common cheap positive map (e.g. Qin et al. 2022,
    "The Devil in Linear Transformer", arXiv 2210.10340, compares it to elu + 1).

    Non-negative but not positive: a query with no positive entry sees nothing.
    """
    return NamedFeatureMap("relu", torch.relu)  # (..., d), >= 0


def random_features(
    num_features: int = 64, *, seed: int = 0, orthogonal: bool = True
) -> NamedFeatureMap:
    """Performer's positive random features, FAVOR+ (Choromanski et al. 2021, "Rethinking
    Attention with Performers", arXiv 2009.14794, Lemma 1 and §2.4):

        φ(x) = exp(W x - ‖x‖² / 2) / √m,   W (m, d) with Gaussian rows w_r ~ N(0, I_d),

    so that E_W[φ(q)ᵀφ(k)] = exp(qᵀk) for every q, k: the softmax kernel, unbiased,
    with every feature positive. ``orthogonal=True`` draws the rows in orthogonal
    blocks of d (rescaled to Gaussian norms), which lowers the variance (§2.4).

    W is drawn from ``seed`` for each input size d, so q and k (and every call) share it.
    No max-subtraction is done: the features are the exact formula, and they
    overflow for large ‖x‖ (Performer scales q, k by d^(-1/4) first).

    Args:
        num_features: m, the number of random features (the state expansion), in
            [1, MAX_RANDOM_FEATURES].
        seed: seeds W, in [0, 2**63 - 1].
        orthogonal: draw W's rows in orthogonal blocks (Performer's default).
    """
    m = check_int("num_features", num_features, low=1, high=MAX_RANDOM_FEATURES)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    orthogonal = check_bool("orthogonal", orthogonal)
    cache: dict[int, torch.Tensor] = {}

    def fn(x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1]
        check_bytes(
            f"random_features' W ({m}, {d}) and its features of inputs {tuple(x.shape)}",
            tensor_bytes(m, max(d, 1) * 3, dtype=torch.float64)
            + tensor_bytes(*x.shape[:-1], m, 2, dtype=x.dtype),
            instead="use fewer num_features or smaller inputs",
        )
        if d not in cache:
            cache[d] = _gaussian_rows(m, d, seed, orthogonal)  # (m, d), float64
        w = cache[d].to(dtype=x.dtype, device=x.device)  # (m, d)
        projected = x @ w.mT  # (..., m)
        half_norm = 0.5 * x.square().sum(-1, keepdim=True)  # ‖x‖²/2, (..., 1)
        return torch.exp(projected - half_norm) / math.sqrt(m)  # (..., m), > 0

    params = {"num_features": m, "seed": seed, "orthogonal": orthogonal}
    return NamedFeatureMap("random_features", fn, params, lambda d: m)


def _gaussian_rows(m: int, d: int, seed: int, orthogonal: bool) -> torch.Tensor:
    """(m, d) rows ~ N(0, I_d); with ``orthogonal`` in blocks of d orthogonal rows."""
    g = torch.Generator().manual_seed(seed)
    if not orthogonal:
        return torch.randn(m, d, generator=g, dtype=torch.float64)  # (m, d)
    n_blocks = -(-m // d)  # ceil(m / d) blocks of d orthonormal rows
    gauss = torch.randn(n_blocks, d, d, generator=g, dtype=torch.float64)
    q, r = torch.linalg.qr(gauss)  # (blocks, d, d) each
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[..., None, :]  # Haar-uniform Q
    rows = q.mT.reshape(n_blocks * d, d)[:m]  # (m, d), unit rows, orthogonal within a block
    # rescale to the norms of Gaussian vectors (chi with d degrees of freedom), so each
    # row is still marginally N(0, I_d) and the estimate stays unbiased
    norms = torch.randn(m, d, generator=g, dtype=torch.float64).norm(dim=-1, keepdim=True)
    return rows * norms  # (m, d)


def taylor() -> NamedFeatureMap:
    """The second-order Taylor map of Based (Arora et al. 2024, "Simple linear attention
    language models balance the recall-throughput tradeoff", arXiv 2402.18668, §3):

        φ(x) = [1, x, vec(x xᵀ) / √2],   φ(q)ᵀφ(k) = 1 + qᵀk + (qᵀk)² / 2  exactly,

    the first three terms of exp(qᵀk). The kernel is >= 1/2 everywhere (it equals
    ((qᵀk + 1)² + 1) / 2), though single features can be negative. Based scales q and k
    by d^(-1/4) beforehand to approximate exp(qᵀk / √d); here that is the caller's choice.
    n = 1 + d + d² (Based keeps the full d², not the d(d+1)/2 distinct products).
    """

    def fn(x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1]
        check_bytes(
            f"the taylor features (1 + d + d² = {1 + d + d * d} per row) of inputs "
            f"{tuple(x.shape)}",
            tensor_bytes(*x.shape[:-1], 1 + d + d * d, 3, dtype=x.dtype),
            instead="use smaller inputs or another feature map",
        )
        ones = torch.ones_like(x[..., :1])  # (..., 1)
        outer = x[..., :, None] * x[..., None, :]  # x xᵀ, (..., d, d)
        second = outer.flatten(-2) / math.sqrt(2.0)  # (..., d²)
        return torch.cat([ones, x, second], dim=-1)  # (..., 1 + d + d²)

    return NamedFeatureMap("taylor", fn, {}, lambda d: 1 + d + d * d)


# ------------------------------------------------------------------------ registry

FEATURE_MAPS: dict[str, Callable[..., NamedFeatureMap]] = {
    "identity": identity,
    "elu_plus_one": elu_plus_one,
    "relu": relu,
    "random_features": random_features,
    "taylor": taylor,
}


def feature_map(name: str, **params: Any) -> NamedFeatureMap:
    """Build the feature map ``name`` (a key of ``FEATURE_MAPS``) with ``params`` (lesson 06).

    Raises:
        ValueError: ``name`` is not registered (the message lists the allowed names).
        TypeError: ``name`` is not a string, or a parameter the map does not take.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"name must be one of {tuple(FEATURE_MAPS)}, got {name!r} ({type(name).__name__})"
        )
    if name not in FEATURE_MAPS:
        raise ValueError(f"feature map name must be one of {tuple(FEATURE_MAPS)}, got {name!r}")
    factory = FEATURE_MAPS[name]
    allowed = tuple(inspect.signature(factory).parameters)
    for key in params:
        if key not in allowed:
            raise TypeError(
                f"{key!r} is not a parameter of the {name!r} feature map; allowed: {allowed}"
            )
    return factory(**params)


def resolve_feature_map(
    value: str | Callable[[torch.Tensor], torch.Tensor] | None,
    *,
    argument: str = "feature_map",
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A feature map given by name, as a callable, or None, checked (lesson 06).

    Names are built with their default parameters; errors name ``argument``.
    """
    argument = check_text("argument", argument)
    if value is None:
        return None
    if isinstance(value, str):
        if value not in FEATURE_MAPS:
            raise ValueError(
                f"{argument} must be a callable, None or one of {tuple(FEATURE_MAPS)}, "
                f"got {value!r}"
            )
        return FEATURE_MAPS[value]()
    if not callable(value):
        raise TypeError(
            f"{argument} must be a callable tensor -> tensor, None or one of "
            f"{tuple(FEATURE_MAPS)}, got {type(value).__name__}"
        )
    return value
