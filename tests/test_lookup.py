"""lookup: lesson 01's claims — kernel regression is attention, and why 1/sqrt(d_k)."""

import numpy as np
import pytest
import torch

from attnviz import lookup
from attnviz.kernels.softmax import scaled_dot_product_attention


@pytest.fixture
def data():
    return lookup.make_regression_data(40, noise=0.5, seed=0)


def test_regression_data_is_seeded_and_sorted(data):
    again = lookup.make_regression_data(40, noise=0.5, seed=0)
    np.testing.assert_array_equal(data.keys, again.keys)
    np.testing.assert_array_equal(data.values, again.values)
    assert np.all(np.diff(data.keys) >= 0)
    other = lookup.make_regression_data(40, noise=0.5, seed=1)
    assert not np.array_equal(data.keys, other.keys)


@pytest.mark.parametrize("kernel", lookup.SMOOTHING_KERNELS)
def test_smoothing_kernels_are_densities(kernel):
    u = np.linspace(-8, 8, 160_001)
    area = np.trapezoid(lookup.smoothing_kernel(u, kernel), u)
    assert area == pytest.approx(1.0, abs=1e-4)


def test_compact_kernels_vanish_outside_the_bandwidth():
    u = np.array([-1.5, -1.0, 0.0, 1.0, 1.5])
    np.testing.assert_allclose(lookup.smoothing_kernel(u, "boxcar"), [0, 0.5, 0.5, 0.5, 0])
    np.testing.assert_allclose(lookup.smoothing_kernel(u, "epanechnikov"), [0, 0, 0.75, 0, 0])


@pytest.mark.parametrize("kernel", lookup.SMOOTHING_KERNELS)
def test_weights_are_normalised_kernel_values(data, kernel):
    queries = np.linspace(0, 10, 11)
    weights = lookup.nadaraya_watson_weights(queries, data.keys, kernel=kernel, bandwidth=0.8)
    raw = lookup.smoothing_kernel((queries[:, None] - data.keys) / 0.8, kernel)
    np.testing.assert_allclose(weights, raw / raw.sum(axis=1, keepdims=True), atol=1e-12)


def test_prediction_is_the_weighted_average_of_values(data):
    queries = np.array([2.5, 7.0])
    predictions, weights = lookup.nadaraya_watson(queries, data.keys, data.values, bandwidth=0.5)
    np.testing.assert_allclose(predictions, weights @ data.values)


def test_gaussian_kernel_regression_is_dot_product_attention(data):
    queries = np.linspace(-1, 11, 25)
    for bandwidth in (0.1, 0.5, 3.0):
        expected = lookup.nadaraya_watson_weights(queries, data.keys, bandwidth=bandwidth)
        q, k, scale = lookup.gaussian_as_dot_product(queries, data.keys, bandwidth)
        v = torch.from_numpy(data.values)[:, None]
        result = scaled_dot_product_attention(q, k, v, scale=scale)
        np.testing.assert_allclose(result.weights.numpy(), expected, atol=1e-10)
        predictions, _ = lookup.nadaraya_watson(
            queries, data.keys, data.values, bandwidth=bandwidth
        )
        np.testing.assert_allclose(result.output.numpy()[:, 0], predictions, atol=1e-10)


def test_huge_bandwidth_predicts_the_mean_and_tiny_one_the_nearest_value(data):
    wide, _ = lookup.nadaraya_watson(np.array([3.0]), data.keys, data.values, bandwidth=1e4)
    assert wide[0] == pytest.approx(data.values.mean(), abs=1e-6)
    nearest = np.abs(data.keys - 3.0).argmin()
    narrow, _ = lookup.nadaraya_watson(np.array([3.0]), data.keys, data.values, bandwidth=1e-3)
    assert narrow[0] == pytest.approx(data.values[nearest])


def test_compact_kernel_with_no_key_in_reach_predicts_nan_not_an_error(data):
    far = np.array([100.0])
    prediction, weights = lookup.nadaraya_watson(far, data.keys, data.values, kernel="boxcar")
    assert np.isnan(prediction[0]) and np.all(weights == 0)
    # the Gaussian never runs dry: a stable softmax always finds the nearest key
    prediction, weights = lookup.nadaraya_watson(far, data.keys, data.values, bandwidth=0.05)
    assert np.isfinite(prediction[0]) and weights.sum() == pytest.approx(1.0)


def test_entropy_of_uniform_and_one_hot_rows():
    assert lookup.entropy(np.full(8, 1 / 8)) == pytest.approx(np.log(8))
    assert lookup.entropy(np.eye(4)).tolist() == [0.0] * 4
    assert lookup.entropy(torch.full((2, 5), 0.2)) == pytest.approx([np.log(5)] * 2)


def test_unscaled_scores_spread_as_sqrt_d_k_and_scaled_ones_do_not():
    study = lookup.softmax_saturation((1, 16, 256), n_keys=16, n_samples=2000, seed=0)
    np.testing.assert_allclose(study.score_std_unscaled, np.sqrt([1, 16, 256]), rtol=0.05)
    np.testing.assert_allclose(study.score_std_scaled, [1, 1, 1], rtol=0.05)


def test_softmax_saturates_without_scaling_and_keeps_its_entropy_with_it():
    study = lookup.softmax_saturation((1, 4, 16, 64, 256), n_keys=16, n_samples=500, seed=0)
    assert np.all(np.diff(study.entropy_unscaled) < 0)  # falls with every step in d_k
    assert study.entropy_unscaled[-1] < 0.35  # close to one-hot at d_k = 256
    assert study.max_weight_unscaled[-1] > 0.85
    spread = study.entropy_scaled.max() - study.entropy_scaled.min()
    assert spread < 0.1  # flat: the scaled softmax looks the same at every d_k


def test_random_attention_and_temperature():
    sharp = lookup.random_attention(64, temperature=1e-3, seed=0)
    flat = lookup.random_attention(64, temperature=1000.0, seed=0)
    assert sharp.max(axis=1).min() > 0.99  # τ → 0: one-hot on the largest score
    np.testing.assert_allclose(flat, 1 / 8, atol=1e-3)  # τ → ∞: uniform
    np.testing.assert_allclose(sharp.sum(axis=1), 1.0)


def test_attention_scale_factor():
    assert lookup.attention_temperature_scale(64) == pytest.approx(1 / 8)
    assert lookup.attention_temperature_scale(64, 2.0, scaled=False) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (
            lambda: lookup.smoothing_kernel(np.zeros(2), "cosine"),
            ValueError,
            "kernel must be one of",
        ),
        (
            lambda: lookup.nadaraya_watson_weights([0.0], [1.0], bandwidth=0),
            ValueError,
            r"bandwidth must be in \(0, inf\], got 0",
        ),
        (
            lambda: lookup.nadaraya_watson_weights([0.0], [], bandwidth=1),
            ValueError,
            "keys must hold at least one key",
        ),
        (
            lambda: lookup.nadaraya_watson([0.0], [1.0, 2.0], [1.0]),
            ValueError,
            "2 keys and 1 values",
        ),
        (
            lambda: lookup.nadaraya_watson_weights([[0.0]], [1.0]),
            ValueError,
            "queries must be 1-dimensional",
        ),
        (
            lambda: lookup.nadaraya_watson_weights([np.nan], [1.0]),
            ValueError,
            "queries must contain only finite numbers",
        ),
        (lambda: lookup.make_regression_data(0), ValueError, r"n_points must be an integer in \[1"),
        (
            lambda: lookup.make_regression_data(5, low=3, high=1),
            ValueError,
            "high must be greater than low",
        ),
        (lambda: lookup.random_attention(0), ValueError, r"d_k must be an integer in \[1"),
        (lambda: lookup.random_attention(8, temperature=-1), ValueError, "temperature must be in"),
        (lambda: lookup.random_attention(8.5), TypeError, "d_k must be an integer, got 8.5"),
        (lambda: lookup.softmax_saturation(()), ValueError, "d_ks must list at least one"),
    ],
)
def test_bad_input_gets_clear_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# ------------------------------------------------------------------ the argument promise


def test_nadaraya_watson_stays_finite_for_a_tiny_bandwidth():
    predictions, weights = lookup.nadaraya_watson([0.5], [0.0, 1.0], [1.0, 2.0], bandwidth=1e-160)
    np.testing.assert_allclose(weights, [[0.5, 0.5]])  # a tie: both keys are nearest
    np.testing.assert_allclose(predictions, [1.5])
    predictions, weights = lookup.nadaraya_watson([0.2], [0.0, 1.0], [1.0, 2.0], bandwidth=1e-160)
    np.testing.assert_allclose(weights, [[1.0, 0.0]])  # the nearest key takes it all
    _, weights = lookup.nadaraya_watson([1e300], [-1e300, 1e300], [1.0, 2.0])
    assert np.isfinite(weights).all() and weights.sum() == 1.0


def test_gaussian_as_dot_product_refuses_a_scale_that_overflows():
    with pytest.raises(ValueError, match="overflowed.*bandwidth"):
        lookup.gaussian_as_dot_product([0.0], [1.0], bandwidth=1e-200)
    assert lookup.gaussian_as_dot_product([0.0], [1.0], bandwidth=1e300)[2] == 0.0


def test_entropy_checks_its_weights_and_axis():
    with pytest.raises(ValueError, match="weights must be >= 0"):
        lookup.entropy([0.5, -0.5])
    with pytest.raises(ValueError, match="axis"):
        lookup.entropy([0.5, 0.5], axis=1)
    with pytest.raises(TypeError, match="weights"):
        lookup.entropy(None)
