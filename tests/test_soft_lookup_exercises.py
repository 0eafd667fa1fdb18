"""Lesson 01's exercises: each claim it asks about holds, and its answers are computed
from attnviz.lookup on the exercise's own data, never stored.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from verdict import verdict

from attnviz import exercises, lookup
from attnviz.exercises import get


def test_lesson_01_has_at_least_three_exercises():
    lesson_01 = exercises.exercises("01")
    assert len(lesson_01) >= 3
    assert all(ex.lesson == "01" for ex in lesson_01)
    assert {
        "01-wide-bandwidth",
        "01-dot-product-std",
        "01-zero-temperature",
        "01-boxcar-count",
    } <= {ex.id for ex in lesson_01}


def test_huge_bandwidth_predicts_the_mean_of_the_values():
    data = lookup.make_regression_data(40, seed=0)
    mean = float(data.values.mean())
    feedback = verdict("01-wide-bandwidth", round(mean, 2))
    assert feedback.correct is True
    assert f"{mean:.3f}" in feedback.body
    # the truth at the query is a tempting wrong answer, and the feedback says why
    truth = float(data.truth(np.array([2.0]))[0])
    wrong = verdict("01-wide-bandwidth", truth)
    assert wrong.correct is False
    assert "true f(x)" in wrong.body and f"{mean:.3f}" in wrong.body


def test_dot_product_std_is_sqrt_d_k_and_the_measurement_is_shown():
    assert verdict("01-dot-product-std", 8).correct is True
    assert verdict("01-dot-product-std", 8.1).correct is True
    study = lookup.softmax_saturation((64,), n_keys=16, n_samples=4096, seed=0)
    measured = float(study.score_std_unscaled[0])
    assert abs(measured - 8.0) < 0.4
    assert f"{measured:.3f}" in verdict("01-dot-product-std", 8).body
    variance = verdict("01-dot-product-std", 64)
    assert variance.correct is False and "variance" in variance.body
    scaled = verdict("01-dot-product-std", 1)
    assert scaled.correct is False and "dividing by √d_k" in scaled.body


def test_zero_temperature_makes_the_weights_one_hot():
    assert verdict("01-zero-temperature", "b").correct is True
    assert verdict("01-zero-temperature", " (B) ").correct is True
    uniform = verdict("01-zero-temperature", "a")
    assert uniform.correct is False and "τ → ∞" in uniform.body
    for wrong in ("c", "d"):
        assert verdict("01-zero-temperature", wrong).correct is False
    # the numbers in the explanation are the library's
    weights = lookup.random_attention(16, n_queries=1, n_keys=8, temperature=0.1, seed=0)[0]
    body = verdict("01-zero-temperature", "b").body
    assert f"{weights.max():.3f} at τ = 0.1" in body
    assert f"key k{int(weights.argmax())}" in body


def test_boxcar_counts_the_keys_within_one_bandwidth():
    data = lookup.make_regression_data(40, seed=0)
    count = int((np.abs(data.keys - 5.0) <= 0.5).sum())
    assert verdict("01-boxcar-count", count).correct is True
    assert verdict("01-boxcar-count", np.int64(count)).correct is True
    too_wide = int((np.abs(data.keys - 5.0) <= 1.0).sum())
    assert too_wide != count
    wrong = verdict("01-boxcar-count", too_wide)
    assert wrong.correct is False and "within 2h" in wrong.body
    assert f"The computed answer is {count}." in wrong.body


def test_key_bias_is_minus_half_the_key_squared():
    assert verdict("01-key-bias", -4.5).correct is True
    sign = verdict("01-key-bias", 4.5)
    assert sign.correct is False and "sign" in sign.body
    assert get("01-key-bias").solution(key=2.0).answer == pytest.approx(-2.0)
    assert "True" in verdict("01-key-bias", -4.5).body  # attention = kernel regression


def test_other_data_gives_other_boxcar_counts():
    ex = get("01-boxcar-count")
    counts = {}
    for seed in range(6):
        data = lookup.make_regression_data(40, seed=seed)
        expected = int((np.abs(data.keys - 5.0) <= 0.5).sum())
        counts[seed] = ex.solution(seed=seed).answer
        assert counts[seed] == expected
        assert ex.grade(expected, seed=seed).correct is True
    assert len(set(counts.values())) > 1


def test_other_data_gives_another_mean_for_the_huge_bandwidth():
    ex = get("01-wide-bandwidth")
    for seed in (1, 2):
        mean = float(lookup.make_regression_data(40, seed=seed).values.mean())
        assert ex.solution(seed=seed).answer == pytest.approx(mean, abs=1e-3)
    assert ex.solution(seed=1).answer != pytest.approx(ex.solution(seed=2).answer, abs=0.01)


def test_other_d_k_gives_another_std():
    ex = get("01-dot-product-std")
    for d_k in (1, 16, 256):
        assert ex.solution(d_k=d_k).answer == pytest.approx(math.sqrt(d_k))
        assert ex.grade(math.sqrt(d_k), d_k=d_k).correct is True
    assert ex.grade(8, d_k=16).correct is False


def test_check_recomputes_from_lookup(monkeypatch):
    """Swap the lesson's data for three keys near the query: verdict() follows."""
    near = lookup.RegressionData(
        keys=np.array([4.8, 4.9, 5.0, 5.1, 5.2, 9.0]),
        values=np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        low=0.0,
        high=10.0,
    )
    monkeypatch.setattr(lookup, "make_regression_data", lambda *args, **kwargs: near)
    assert verdict("01-boxcar-count", 5).correct is True
    assert verdict("01-boxcar-count", 4).correct is False
    assert verdict("01-wide-bandwidth", 3.5).correct is True
