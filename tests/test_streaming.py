"""attnviz.streaming: StreamingLLM's loss by position under cache policies (lesson 08).

The definitions are checked against the plain forward pass on small seeded models; the
comparison lesson 08 shows is checked on the shipped ``shakespeare`` weights, with
thresholds measured on them and a margin for other CPUs' rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnviz.kv_cache import FULL, CachePolicy
from attnviz.maps import capture
from attnviz.models import TinyConfig, TinyTransformer
from attnviz.shakespeare import VOCAB_SIZE
from attnviz.sinks import sink_passages
from attnviz.streaming import (
    WINDOW,
    StreamingCurves,
    loss_by_position,
    read_under_cache,
    standard_policies,
    streaming_curves,
)
from attnviz.text_models import TRAIN_LENGTH, load_text_model


def _model(operator: str = "softmax", seed: int = 0):
    config = TinyConfig(n_layers=2, n_heads=2, d_model=16, vocab_size=VOCAB_SIZE, context=512,
                        positional="rope", operator=operator)  # fmt: skip
    return TinyTransformer(config, seed=seed)


def test_standard_policies_in_the_lessons_order():
    policies = standard_policies(64)
    assert list(policies) == [
        "window 64", "1 sink + window 64", "2 sinks + window 64", "4 sinks + window 64",
        "8 sinks + window 64", "full",
    ]  # fmt: skip
    assert policies["4 sinks + window 64"] == CachePolicy(sinks=4, window=64)
    assert policies["full"] == FULL
    assert list(standard_policies(8, sinks=())) == ["window 8", "full"]
    assert f"window {WINDOW}" in standard_policies()


@pytest.mark.parametrize("operator", ["softmax", "sigmoid"])
def test_full_policy_is_the_plain_forward_loss(operator):
    model, ids = _model(operator), sink_passages(3, 50, seed=2)
    with torch.no_grad():
        logits = model(ids[:, :-1])
    expected = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none").numpy()
    got = loss_by_position(model, ids)
    assert got.shape == (3, 49)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss_by_position(model, ids[1], FULL), expected[1], rtol=1e-5)


@pytest.mark.parametrize(
    "policy", [CachePolicy(window=49), CachePolicy(window=500), CachePolicy(sinks=9, window=40)]
)
def test_a_cache_that_holds_the_whole_input_is_full_attention(policy):
    model, ids = _model(), sink_passages(2, 50, seed=3)  # the model reads 49 tokens
    np.testing.assert_allclose(
        loss_by_position(model, ids, policy), loss_by_position(model, ids), rtol=1e-5, atol=1e-6
    )


def test_a_short_window_changes_only_the_positions_past_it():
    model, ids = _model(), sink_passages(1, 60, seed=4)[0]
    full, window = loss_by_position(model, ids), loss_by_position(model, ids, CachePolicy(window=8))
    np.testing.assert_allclose(window[:8], full[:8], rtol=1e-5, atol=1e-6)
    assert not np.allclose(window[8:], full[8:])


def test_a_mixed_cache_keeps_the_unnamed_heads_full():
    model, ids = _model(), sink_passages(1, 40, seed=5)[0]
    streaming = {(0, 0): CachePolicy(sinks=1, window=4)}
    mixed = loss_by_position(model, ids, streaming)
    assert not np.allclose(mixed, loss_by_position(model, ids))
    every = {
        (layer, head): CachePolicy(sinks=1, window=4) for layer in range(2) for head in range(2)
    }
    np.testing.assert_allclose(
        loss_by_position(model, ids, every),
        loss_by_position(model, ids, CachePolicy(sinks=1, window=4)),
        rtol=1e-6,
    )


def test_curves_bin_the_per_position_losses_of_the_same_passages():
    model = _model()
    curves = streaming_curves(model, length=300, window=16, sinks=(1, 4), passages=2, bin_size=64)
    assert isinstance(curves, StreamingCurves)
    assert list(curves.losses) == ["window 16", "1 sink + window 16", "4 sinks + window 16", "full"]
    assert (curves.train_length, curves.window, curves.length) == (TRAIN_LENGTH, 16, 300)
    np.testing.assert_allclose(curves.positions, [32.5, 96.5, 160.5, 224.5, 278])
    ids = sink_passages(2, 300, seed=0)
    for label, policy in standard_policies(16, (1, 4)).items():
        rows = loss_by_position(model, ids, policy).mean(axis=0)  # (299,)
        assert curves.losses[label][0] == pytest.approx(rows[:64].mean())
        assert curves.losses[label][-1] == pytest.approx(rows[256:].mean())
        assert curves.mean_past_training[label] == pytest.approx(rows[TRAIN_LENGTH:].mean())


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda: standard_policies(0), "window"),
        (lambda: standard_policies(8, sinks=(0,)), "sinks"),
        (lambda: standard_policies(8, sinks=(2, 2)), "sinks"),
        (lambda: standard_policies(8, sinks="4"), "sinks"),
        (lambda: loss_by_position(_model(), torch.zeros(1, dtype=torch.long)), "ids"),
        (lambda: loss_by_position(_model(), torch.zeros(4, dtype=torch.long), "full"), "policy"),
        (lambda: streaming_curves(_model(), length=100), "length"),
        (lambda: streaming_curves(_model(), length=600), "length"),
        (lambda: streaming_curves(_model(), length=300, passages=0), "passages"),
        (lambda: streaming_curves(_model(), length=300, bin_size=300), "bin_size"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, word):
    with pytest.raises((ValueError, TypeError), match=word):
        call()


# Measured on the shipped shakespeare weights (retrained with the copying curriculum,
# 5edfa4f) with streaming_curves' defaults (window 16, 4 passages of 1024 tokens): past the
# training length the window alone costs 5.383 nats per character, 1 sink + the window
# 1.566, 4 sinks 1.571, full attention 3.499 (it reads RoPE distances it never trained
# on); full attention within the training length: 1.482. The tests use 2 passages of 512
# tokens (measured 5.229 / 1.555 / 1.550 / 2.987; full within the training length 1.519).


@pytest.fixture(scope="module")
def curves():
    return streaming_curves(load_text_model("shakespeare"), length=512, passages=2)


def test_a_sink_recovers_what_the_window_alone_loses(curves):
    past = curves.mean_past_training
    window = past[f"window {WINDOW}"]
    for k in (1, 2, 4, 8):
        label = f"{k} sink{'s' if k > 1 else ''} + window {WINDOW}"
        assert past[label] < window - 2.5  # measured 3.67-3.68
    # one sink does what four do: the model was trained with BOS first (measured 1.555 / 1.550)
    assert abs(past[f"1 sink + window {WINDOW}"] - past[f"4 sinks + window {WINDOW}"]) < 0.03
    # ... back to what full attention reaches where the model was trained (measured 0.031)
    reference = curves.mean_within_training["full"]
    assert abs(past[f"4 sinks + window {WINDOW}"] - reference) < 0.1


def test_full_attention_breaks_past_the_training_length(curves):
    past = curves.mean_past_training
    assert past["full"] > past[f"4 sinks + window {WINDOW}"] + 0.8  # measured 1.44
    assert past["full"] > curves.mean_within_training["full"] + 0.8  # measured 1.47
    # ... yet the window without its sink breaks worse still (measured 5.229 against 2.987)
    assert past[f"window {WINDOW}"] > past["full"] + 1.5
    assert all(np.isfinite(v).all() for v in curves.losses.values())


@pytest.mark.parametrize("policy", [FULL, CachePolicy(window=4), CachePolicy(sinks=1, window=4)])
def test_a_reading_under_a_cache_blanks_exactly_the_evicted_keys(policy):
    model, ids = _model(), sink_passages(3, 24, seed=5)
    reading = read_under_cache(model, ids[0], ids, policy)
    captured = capture(model, ids[0]).weights
    dropped = ~policy.keeps(24).numpy() & np.tri(24, dtype=bool)
    assert reading.policy == policy and reading.weights.shape == captured.shape
    assert np.isnan(reading.weights[..., dropped]).all()
    assert not np.isnan(reading.weights[..., ~dropped]).any()
    if policy == FULL:  # no key dropped: the plain maps
        np.testing.assert_allclose(reading.weights, captured, rtol=1e-5, atol=1e-7)
    kept = reading.weights[..., np.tri(24, dtype=bool) & ~dropped]
    rows = np.nansum(reading.weights, axis=-1)  # softmax over the keys the cache kept
    np.testing.assert_allclose(rows, 1.0, rtol=1e-5)
    assert kept.min() >= 0
    expected = loss_by_position(model, ids, policy).mean(axis=0)
    np.testing.assert_allclose(reading.losses, expected, rtol=1e-6)
    assert reading.loss_after(4) == pytest.approx(float(expected[4:].mean()))
    with pytest.raises(ValueError, match="map_ids must have shape"):
        read_under_cache(model, ids, ids, policy)
    with pytest.raises(ValueError, match="position must be"):
        reading.loss_after(23)
