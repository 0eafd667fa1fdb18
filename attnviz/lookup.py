"""Attention as a soft lookup: Nadaraya-Watson kernel regression → dot-product attention.

Lesson 01 explains this module. Nadaraya (1964) and Watson (1964) predict at a
query x by averaging the training values y_i with weights that fall off with
distance:

    f(x) = Σ_i  K((x - x_i)/h) y_i / Σ_j K((x - x_j)/h)

The query is x, the keys are the x_i, the values are the y_i, and the normalised
kernel weights are attention weights. With the Gaussian kernel the weights are
exactly a softmax of the scores -(x - x_i)² / (2h²), which is dot-product
attention with a query (x/h², 1) and keys (x_i, -x_i²/2): see
``gaussian_as_dot_product``. The second half of the lesson asks why
Transformers divide q·k by sqrt(d_k): ``softmax_saturation`` measures it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from attnviz.kernels.softmax import scaled_dot_product_attention
from attnviz.memory_budget import check_bytes
from attnviz.validation import (
    as_array,
    check_bool,
    check_choice,
    check_int,
    check_real,
    finite_result,
)

SMOOTHING_KERNELS = ("gaussian", "boxcar", "epanechnikov")


def smoothing_kernel(u: np.ndarray, kernel: str = "gaussian") -> np.ndarray:
    """Evaluate a smoothing kernel K(u) at scaled distances u = (x - x_i)/h.

    gaussian: exp(-u²/2); boxcar: 1 if |u| <= 1 else 0;
    epanechnikov: 3/4 (1 - u²) if |u| <= 1 else 0.
    Constant factors cancel in the normalised weights but are kept so K is a density.
    """
    kernel = check_choice("kernel", kernel, SMOOTHING_KERNELS)
    u = as_array("u", u)
    inside = np.abs(u) <= 1.0
    if kernel == "gaussian":
        # |u| past ~40 underflows to 0 either way; clipping keeps u² from overflowing
        return np.exp(-0.5 * np.clip(u, -1e3, 1e3) ** 2) / np.sqrt(2 * np.pi)
    if kernel == "boxcar":
        return 0.5 * inside.astype(np.float64)
    return 0.75 * np.where(inside, 1.0 - np.where(inside, u, 0.0) ** 2, 0.0)


def nadaraya_watson_weights(
    queries: np.ndarray, keys: np.ndarray, *, kernel: str = "gaussian", bandwidth: float = 1.0
) -> np.ndarray:
    """Attention weights of Nadaraya-Watson regression, shape (n_queries, n_keys).

    Each row sums to 1. A query with no key inside a compact kernel's support
    (boxcar, Epanechnikov) gets a row of zeros: it has nothing to look up.
    The Gaussian weights are computed as a stable softmax, so they never
    underflow to an empty row, even for tiny bandwidths.
    """
    queries = as_array("queries", queries, ndim=1)
    keys = as_array("keys", keys, ndim=1)
    bandwidth = check_real("bandwidth", bandwidth, low=0.0, low_open=True)
    kernel = check_choice("kernel", kernel, SMOOTHING_KERNELS)
    if keys.size == 0:
        raise ValueError("keys must hold at least one key, got an empty array")
    check_bytes(
        f"the ({queries.size:,}, {keys.size:,}) kernel weights",
        queries.size * keys.size * 8 * 4,
        instead="use fewer queries or keys",
    )
    # distances in units of the largest coordinate, so no difference or square overflows
    # (1e300 - -1e300) and no tiny bandwidth turns a zero distance into 0/0
    scale = max(float(np.abs(queries).max(initial=0.0)), float(np.abs(keys).max()), 1.0)
    d = queries[:, None] / scale - keys[None, :] / scale  # (n_queries, n_keys), |d| <= 2
    with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
        reach = bandwidth / scale  # the bandwidth in the same units (may underflow to 0)
        if kernel == "gaussian":
            # softmax of -u²/2 with the nearest key at 0: -(d² - min d²) / (2 reach²),
            # computed as a difference first so a tiny bandwidth gives -inf (weight 0),
            # never inf - inf
            d2 = d * d
            excess = d2 - d2.min(axis=1, keepdims=True)  # >= 0, 0 at the nearest keys
            factor = 0.5 / (reach * reach) if reach * reach > 0 else np.inf
            scores = np.where(excess > 0, -excess * factor, 0.0)
            weights = np.exp(scores)
        else:
            u = np.where(d == 0, 0.0, d / reach if reach > 0 else np.copysign(np.inf, d))
            weights = smoothing_kernel(u, kernel)
    total = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)


def nadaraya_watson(
    queries: np.ndarray,
    keys: np.ndarray,
    values: np.ndarray,
    *,
    kernel: str = "gaussian",
    bandwidth: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Predict at each query by a kernel-weighted average of the values.

    Returns (predictions (n_queries,), weights (n_queries, n_keys)). A query with
    no key inside the kernel's support predicts NaN (shown as a gap in plots).
    """
    values = as_array("values", values, ndim=1)
    weights = nadaraya_watson_weights(queries, keys, kernel=kernel, bandwidth=bandwidth)
    if values.shape[0] != weights.shape[1]:
        raise ValueError(
            f"keys and values must have the same length, got {weights.shape[1]} keys "
            f"and {values.shape[0]} values"
        )
    # in units of the largest value, so a weighted mean of values near 1e308 cannot overflow
    scale = max(float(np.abs(values).max(initial=0.0)), 1.0)
    predictions = (weights @ (values / scale)) * scale
    predictions[weights.sum(axis=1) == 0] = np.nan
    return predictions, weights


def gaussian_as_dot_product(
    queries: np.ndarray, keys: np.ndarray, bandwidth: float
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Rewrite Gaussian kernel regression as dot-product attention.

    -(x - x_i)²/(2h²) = x·x_i/h² - x_i²/(2h²) - x²/(2h²); the last term is the same
    for every key and cancels in the softmax. So the weights equal
    softmax(q·k) with q = (x, 1) and k = (x_i, -x_i²/2), scaled by 1/h².

    Returns (q (n_queries, 2), k (n_keys, 2), scale) for
    ``scaled_dot_product_attention(q, k, v, scale=scale)``.
    """
    queries = as_array("queries", queries, ndim=1)
    keys = as_array("keys", keys, ndim=1)
    bandwidth = check_real("bandwidth", bandwidth, low=0.0, low_open=True)
    hint = "keep |keys| below 1e154 and bandwidth above 1e-154 (their squares must be finite)"
    with np.errstate(over="ignore"):
        q = torch.from_numpy(np.stack([queries, np.ones_like(queries)], axis=1))  # (n_q, 2)
        k = torch.from_numpy(np.stack([keys, -0.5 * keys**2], axis=1))  # (n_k, 2)
        scale = (1.0 / bandwidth) ** 2 if bandwidth > 1e-154 else float("inf")
    finite_result("gaussian_as_dot_product's keys (x_i, -x_i²/2)", k, hint=hint)
    finite_result("gaussian_as_dot_product's scale 1/h²", scale, hint=hint)
    return q, k, scale


@dataclass(frozen=True)
class RegressionData:
    """A 1-D regression problem: noisy samples of a smooth function."""

    keys: np.ndarray  # x_i, sorted, shape (n,)
    values: np.ndarray  # y_i = f(x_i) + noise, shape (n,)
    low: float
    high: float

    @staticmethod
    def truth(x: np.ndarray) -> np.ndarray:
        """The function the samples come from: f(x) = 2 sin(x) + x/2."""
        x = as_array("x", x)
        return 2.0 * np.sin(x) + 0.5 * x


def make_regression_data(
    n_points: int = 40, *, noise: float = 0.5, seed: int = 0, low: float = 0.0, high: float = 10.0
) -> RegressionData:
    """Seeded noisy samples of ``RegressionData.truth`` on [low, high] (d2l.ai's toy task).

    ``n_points`` is at most 100,000; ``noise`` at most 1e6 and ``low``, ``high`` within
    [-1e6, 1e6] (a plot's range: far past it, sin(x) is only rounding noise)."""
    n_points = check_int("n_points", n_points, low=1, high=100_000)
    noise = check_real("noise", noise, low=0.0, high=1e6)
    low = check_real("low", low, low=-1e6, high=1e6)
    high = check_real("high", high, low=-1e6, high=1e6)
    if high <= low:
        raise ValueError(f"high must be greater than low, got low={low:g}, high={high:g}")
    rng = np.random.default_rng(check_int("seed", seed, low=0, high=2**63 - 1))
    keys = np.sort(rng.uniform(low, high, n_points))
    values = RegressionData.truth(keys) + noise * rng.standard_normal(n_points)
    return RegressionData(keys, values, low, high)


def entropy(weights: np.ndarray | torch.Tensor, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) of attention rows: ln n for uniform, 0 for one-hot.

    ``weights`` are finite and non-negative (rows of probabilities); ``axis`` is one of
    its axes."""
    weights = as_array("weights", weights)
    if weights.ndim == 0:
        raise ValueError("weights must have at least one axis (a row of probabilities)")
    axis = check_int("axis", axis, low=-weights.ndim, high=weights.ndim - 1)
    if np.any(weights < 0):
        raise ValueError(f"weights must be >= 0 (probabilities), got {weights.min():g}")
    with np.errstate(over="ignore", under="ignore"):
        logs = np.log(np.where(weights > 0, weights, 1.0))
        # in units of the largest weight, so w ln w of weights near 1e308 cannot overflow
        top = max(float(weights.max(initial=0.0)), 1.0)
        out = -((weights / top) * logs).sum(axis=axis) * top
    return finite_result("entropy", out, hint="weights should be probabilities in [0, 1]")


def attention_temperature_scale(d_k: int, temperature: float = 1.0, scaled: bool = True) -> float:
    """The factor multiplying q·k: 1/(τ sqrt(d_k)) when scaled, else 1/τ.

    ``d_k`` is at most 2**53; ``temperature`` τ in [1e-6, 1e6] (a sharpening or a
    flattening of a million), so the factor is a finite, non-zero number."""
    d_k = check_int("d_k", d_k, low=1, high=2**53)
    temperature = check_real("temperature", temperature, low=1e-6, high=1e6)
    scaled = check_bool("scaled", scaled)
    return float(1.0 / (temperature * (np.sqrt(d_k) if scaled else 1.0)))


def random_attention(
    d_k: int,
    *,
    n_queries: int = 8,
    n_keys: int = 8,
    temperature: float = 1.0,
    scaled: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """Softmax attention weights of seeded random q, k with i.i.d. N(0, 1) entries.

    Returns weights of shape (n_queries, n_keys). The same seed and sizes give the
    same vectors' first coordinates for every d_k, so growing d_k adds dimensions.
    """
    d_k = check_int("d_k", d_k, low=1, high=65_536)
    n_queries = check_int("n_queries", n_queries, low=1, high=4096)
    n_keys = check_int("n_keys", n_keys, low=1, high=4096)
    scale = attention_temperature_scale(d_k, temperature, scaled)
    generator = torch.Generator().manual_seed(check_int("seed", seed, low=0, high=2**63 - 1))
    q = torch.randn(n_queries, d_k, generator=generator, dtype=torch.float64)
    k = torch.randn(n_keys, d_k, generator=generator, dtype=torch.float64)
    v = torch.zeros(n_keys, 1, dtype=torch.float64)
    return scaled_dot_product_attention(q, k, v, scale=scale).weights.numpy()


@dataclass(frozen=True)
class SaturationStudy:
    """How peaked softmax(q·k · scale) gets as d_k grows, with and without 1/sqrt(d_k)."""

    d_ks: np.ndarray  # (n_d,)
    n_keys: int
    score_std_unscaled: np.ndarray  # measured std of q·k, ≈ sqrt(d_k)
    score_std_scaled: np.ndarray  # measured std of q·k/sqrt(d_k), ≈ 1
    entropy_unscaled: np.ndarray  # mean row entropy, nats
    entropy_scaled: np.ndarray
    max_weight_unscaled: np.ndarray  # mean largest weight in a row
    max_weight_scaled: np.ndarray


def softmax_saturation(
    d_ks=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    *,
    n_keys: int = 16,
    n_samples: int = 256,
    seed: int = 0,
) -> SaturationStudy:
    """Measure on random vectors why scores are divided by sqrt(d_k).

    With q, k having i.i.d. unit-variance entries, q·k is a sum of d_k unit-variance
    products, so its variance is d_k. Unscaled, the scores spread out as sqrt(d_k),
    the softmax saturates to one-hot (entropy → 0, largest weight → 1) and its
    gradients vanish. Divided by sqrt(d_k), the scores keep unit variance and the
    entropy stays put, whatever d_k is.
    """
    if isinstance(d_ks, str) or not isinstance(d_ks, (Sequence, np.ndarray, range)):
        raise TypeError(f"d_ks must be a sequence of dimensions, got {type(d_ks).__name__}")
    if len(d_ks) > 64:
        raise ValueError(f"d_ks must list at most 64 dimensions, got {len(d_ks)}")
    d_ks = np.array([check_int("d_ks[i]", d, low=1, high=65_536) for d in d_ks], dtype=np.int64)
    if d_ks.size == 0:
        raise ValueError("d_ks must list at least one dimension")
    n_keys = check_int("n_keys", n_keys, low=2, high=4096)
    n_samples = check_int("n_samples", n_samples, low=1, high=100_000)
    check_bytes(
        f"softmax_saturation(n_samples={n_samples:,}, n_keys={n_keys:,}, d_ks up to "
        f"{int(d_ks.max()):,})",
        n_samples * (n_keys + 1) * int(d_ks.max()) * 8 * 2 + n_samples * n_keys * 8 * 8,
        instead="use fewer n_samples or n_keys, or smaller d_ks",
    )
    generator = torch.Generator().manual_seed(check_int("seed", seed, low=0, high=2**63 - 1))
    rows: dict[str, list[float]] = {key: [] for key in ("su", "ss", "eu", "es", "mu", "ms")}
    for d_k in d_ks:
        q = torch.randn(n_samples, 1, int(d_k), generator=generator, dtype=torch.float64)
        k = torch.randn(n_samples, n_keys, int(d_k), generator=generator, dtype=torch.float64)
        v = torch.zeros(n_samples, n_keys, 1, dtype=torch.float64)
        scores = (q @ k.transpose(-2, -1)).squeeze(1)  # (n_samples, n_keys)
        for tag, scale in (("u", 1.0), ("s", 1.0 / np.sqrt(d_k))):
            weights = scaled_dot_product_attention(q, k, v, scale=scale).weights.squeeze(1)
            rows["s" + tag].append(float((scores * scale).std()))
            rows["e" + tag].append(float(entropy(weights).mean()))
            rows["m" + tag].append(float(weights.max(dim=-1).values.mean()))
    return SaturationStudy(
        d_ks=d_ks,
        n_keys=n_keys,
        score_std_unscaled=np.array(rows["su"]),
        score_std_scaled=np.array(rows["ss"]),
        entropy_unscaled=np.array(rows["eu"]),
        entropy_scaled=np.array(rows["es"]),
        max_weight_unscaled=np.array(rows["mu"]),
        max_weight_scaled=np.array(rows["ms"]),
    )
