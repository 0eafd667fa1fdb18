"""Lesson 01's exercises: attention is a soft lookup."""

from __future__ import annotations

import math

import numpy as np
import torch

from attnviz import lookup
from attnviz.exercises.core import Solution, exercise
from attnviz.kernels.softmax import scaled_dot_product_attention


@exercise(
    id="01-wide-bandwidth",
    lesson="01",
    question="Nadaraya-Watson regression with the Gaussian kernel on "
    "`make_regression_data({n_points}, seed={seed})`, with a huge bandwidth h = {bandwidth:g}. "
    "What does it predict at the query x = {query:g}? (A number to 2 decimals; you may "
    "compute with `data.values`.)",
    kind="number",
    n_points=40,
    seed=0,
    bandwidth=1000.0,
    query=2.0,
)
def _wide_bandwidth(n_points: int, seed: int, bandwidth: float, query: float) -> Solution:
    data = lookup.make_regression_data(n_points, seed=seed)
    queries = np.array([query])
    (wide,), (weights,) = lookup.nadaraya_watson(
        queries, data.keys, data.values, kernel="gaussian", bandwidth=bandwidth
    )
    (narrow,), _ = lookup.nadaraya_watson(
        queries, data.keys, data.values, kernel="gaussian", bandwidth=0.5
    )
    mean = float(data.values.mean())
    truth = float(data.truth(queries)[0])
    nearest = float(data.values[np.abs(data.keys - query).argmin()])
    reach = float(np.abs(data.keys - query).max() / bandwidth)
    return Solution(
        hint=(
            f"Work out the Gaussian weight of the farthest key: with h = {bandwidth:g} it is "
            f"only {reach:.3f} bandwidths from x = {query:g}, where exp(−u²/2) is nearly flat. "
            f"If all {n_points} weights are about the same, what does a weighted average of "
            "`data.values` become?"
        ),
        answer=float(wide),
        tolerance=0.01,
        explanation=(
            f"With h = {bandwidth:g}, the farthest key is only {reach:.3f} bandwidths from "
            f"x = {query:g}, where the Gaussian is still flat: the {n_points} weights lie "
            f"between {weights.min():.3f} and {weights.max():.3f} (uniform is 1/{n_points} = "
            f"{1 / n_points:.3f}). So the prediction, {wide:.3f}, is the plain mean of the "
            f"values, {mean:.3f}, at every query. A narrow kernel (h = 0.5) predicts "
            f"{narrow:.3f} here: it averages only the keys near x = {query:g}, so it follows "
            f"the data's local shape (the noiseless truth there is f({query:g}) = {truth:.3f})."
        ),
        mistakes=(
            (
                truth,
                "That is the true f(x) at the query; a huge bandwidth cannot see where "
                "the query is.",
            ),
            (narrow, "That is what a narrow bandwidth (h = 0.5) predicts."),
            (nearest, "That is the value of the nearest key: the limit h → 0, not h → ∞."),
        ),
    )


@exercise(
    id="01-dot-product-std",
    lesson="01",
    question="q and k are vectors of d_k = {d_k} independent N(0, 1) entries. "
    "What is the standard deviation of the score q·k?",
    kind="number",
    d_k=64,
    n_samples=4096,
    seed=0,
)
def _dot_product_std(d_k: int, n_samples: int, seed: int) -> Solution:
    n_keys = 16
    study = lookup.softmax_saturation((d_k,), n_keys=n_keys, n_samples=n_samples, seed=seed)
    expected = math.sqrt(d_k)
    return Solution(
        hint=(
            f"q·k = Σ_i q_i k_i is a sum of {d_k} independent products. Find the mean and the "
            "variance of one product q_i k_i; variances of independent terms add, and the "
            "standard deviation is the square root of the variance."
        ),
        answer=expected,
        tolerance=0.05 * expected,
        explanation=(
            f"q·k = Σ_i q_i k_i is a sum of d_k = {d_k} independent products, each with mean 0 "
            "and variance E[q_i²] E[k_i²] = 1. Variances of independent terms add, so "
            f"Var(q·k) = {d_k} and the standard deviation is √{d_k} = {expected:.3f}. "
            f"Measured on {n_samples * n_keys:,} random pairs (seed {seed}): "
            f"{study.score_std_unscaled[0]:.3f}. Divided by √d_k the scores have standard "
            f"deviation {study.score_std_scaled[0]:.3f}. That is why attention divides by √d_k: "
            f"over {n_keys} keys the unscaled softmax puts on average "
            f"{study.max_weight_unscaled[0]:.3f} of its weight on one key (entropy "
            f"{study.entropy_unscaled[0]:.3f} nats), the scaled one "
            f"{study.max_weight_scaled[0]:.3f} (entropy {study.entropy_scaled[0]:.3f} nats; "
            f"uniform is ln {n_keys} = {math.log(n_keys):.3f})."
        ),
        mistakes=(
            (
                float(d_k),
                f"{d_k} is the variance of q·k; the standard deviation is its square root.",
            ),
            (1.0, "1 is the standard deviation after dividing by √d_k, not before."),
            (0.0, "0 is the mean of q·k; its spread grows with d_k."),
        ),
    )


@exercise(
    id="01-zero-temperature",
    lesson="01",
    question="Attention weights are softmax(q·k / (τ √d_k)). What do the weights of one query "
    "become as the temperature τ goes to 0?",
    kind="choice",
    choices={
        "a": "uniform: every key gets 1/n",
        "b": "one-hot: all the weight on the key with the largest score",
        "c": "proportional to the scores q·k",
        "d": "unchanged: τ rescales every score alike, and softmax does not notice",
    },
    d_k=16,
    n_keys=8,
    seed=0,
)
def _zero_temperature(d_k: int, n_keys: int, seed: int) -> Solution:
    temperatures = (1.0, 0.1, 0.01)
    rows = {
        t: lookup.random_attention(d_k, n_queries=1, n_keys=n_keys, temperature=t, seed=seed)[0]
        for t in (*temperatures, 100.0)
    }
    top = int(rows[1.0].argmax())
    steps = ", ".join(
        f"{rows[t].max():.3f} at τ = {t:g} (entropy {float(lookup.entropy(rows[t])):.3f} nats)"
        for t in temperatures
    )
    hot = rows[100.0]
    return Solution(
        hint=(
            f"At τ = 1 the largest weight of a random query is {rows[1.0].max():.3f}. Dividing "
            "the scores by τ multiplies every gap between two scores by 1/τ, and softmax turns "
            "a gap into a ratio of weights exp(gap). What happens to those ratios as 1/τ "
            "grows without bound?"
        ),
        answer="b",
        explanation=(
            "Divide the top term out of the softmax: key i gets "
            "exp((s_i − s_max)/τ) / Σ_j exp((s_j − s_max)/τ). Every gap s_i − s_max < 0 is "
            "stretched by 1/τ towards −∞, so every other weight goes to 0 and the top key's "
            f"to 1. Measured on a random query and {n_keys} keys (d_k = {d_k}, seed {seed}): "
            f"the largest weight, always on key k{top}, is {steps}. The opposite limit, "
            f"τ → ∞, is uniform: at τ = 100 the weights lie between {hot.min():.3f} and "
            f"{hot.max():.3f} (1/{n_keys} = {1 / n_keys:.3f})."
        ),
        mistakes=(
            ("a", "Uniform weights are the limit τ → ∞, when every score is squashed to 0."),
            (
                "c",
                "softmax exponentiates the scores, so weights are never proportional to "
                "them (scores can be negative, weights cannot).",
            ),
            (
                "d",
                "softmax ignores adding a constant to every score, not multiplying them: "
                "dividing by τ stretches the gaps between scores.",
            ),
        ),
    )


@exercise(
    id="01-boxcar-count",
    lesson="01",
    question="On `make_regression_data({n_points}, seed={seed})`, with the boxcar kernel and "
    "bandwidth h = {bandwidth:g}, how many keys get a nonzero weight at the query "
    "x = {query:g}? (Look at `data.keys`.)",
    kind="integer",
    n_points=40,
    seed=0,
    bandwidth=0.5,
    query=5.0,
)
def _boxcar_count(n_points: int, seed: int, bandwidth: float, query: float) -> Solution:
    data = lookup.make_regression_data(n_points, seed=seed)
    (prediction,), (weights,) = lookup.nadaraya_watson(
        np.array([query]), data.keys, data.values, kernel="boxcar", bandwidth=bandwidth
    )
    inside = data.keys[weights > 0]
    count = int(inside.size)
    window = f"[{query - bandwidth:.3f}, {query + bandwidth:.3f}]"
    if count:
        keys = ", ".join(f"{x:.3f}" for x in inside)
        found = (
            f"{count} of the {n_points} keys lie there ({keys}). Each gets the same weight "
            f"1/{count} = {1 / count:.3f}, so the prediction {prediction:.3f} is the mean of "
            "their values."
        )
    else:
        found = "None of the keys lies there, so the prediction is undefined (NaN)."
    half = int((np.abs(data.keys - query) <= bandwidth / 2).sum())
    double = int((np.abs(data.keys - query) <= 2 * bandwidth).sum())
    return Solution(
        hint=(
            "The boxcar gives a key weight only when |x − x_i| ≤ h: write down that window "
            f"around the query, from {query - bandwidth:g} to {query + bandwidth:g}, and count "
            "the keys of `data.keys` inside it."
        ),
        answer=count,
        explanation=(
            "The boxcar kernel gives a key weight only when |x − x_i| ≤ h, that is when "
            f"x_i lies in {window}. {found}"
        ),
        mistakes=(
            (
                half,
                f"{half} keys lie within h/2 of the query; the boxcar reaches a full h on "
                "each side (its window is 2h wide).",
            ),
            (
                double,
                f"{double} keys lie within 2h of the query; the boxcar reaches only h on "
                "each side.",
            ),
        ),
    )


@exercise(
    id="01-key-bias",
    lesson="01",
    question="`gaussian_as_dot_product` writes the Gaussian kernel as a dot product: the "
    "query is q = (x, 1), a key is k = (x_i, b_i), and the scores are scaled by 1/h². "
    "For the key x_i = {key:g}, what is b_i?",
    kind="number",
    key=3.0,
)
def _key_bias(key: float) -> Solution:
    _, k, _ = lookup.gaussian_as_dot_product(np.array([0.0]), np.array([key]), 1.0)
    bias = float(k[0, 1])
    # the check: a query against three keys, as kernel regression and as attention
    queries, keys, values = np.array([2.0]), np.array([1.0, key, 4.0]), np.array([0.0, 1.0, 2.0])
    q, k3, scale = lookup.gaussian_as_dot_product(queries, keys, 1.0)
    attention = scaled_dot_product_attention(q, k3, torch.from_numpy(values[:, None]), scale=scale)
    kernel = lookup.nadaraya_watson_weights(queries, keys, kernel="gaussian", bandwidth=1.0)
    agree = bool(np.abs(attention.weights.numpy() - kernel).max() < 1e-12)
    shown = ", ".join(f"{w:.3f}" for w in kernel[0])
    return Solution(
        hint=(
            "Expand the Gaussian's exponent −(x − x_i)²/2 into three terms. One does not depend "
            "on the key, and softmax ignores a constant added to every score; one is the dot "
            "product x·x_i. The term left over depends on the key alone: that is b_i."
        ),
        answer=bias,
        tolerance=0.001,
        explanation=(
            "Expand the Gaussian's exponent: −(x − x_i)²/2 = x·x_i − x_i²/2 − x²/2. The last "
            "term is the same for every key, and softmax ignores a constant added to every "
            "score, so what is left is the dot product of q = (x, 1) with k = (x_i, −x_i²/2). "
            f"For x_i = {key:g}: b_i = −x_i²/2 = {bias:.3f}. The bias penalises keys far from "
            f"0, which a plain dot product would favour. Check: for the query x = 2 and keys "
            f"(1, {key:g}, 4) with h = 1, attention and kernel regression give the same weights, "
            f"({shown}); largest difference below 1e-12: {agree}."
        ),
        mistakes=(
            (-bias, "Mind the sign: the bias lowers the score of keys far from 0."),
            (2 * bias, "You forgot the 1/2: the Gaussian's exponent is −u²/2."),
        ),
    )
