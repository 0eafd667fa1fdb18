"""attnviz.sinks: Gu et al.'s sink metric, the first key as a bias, the twins (lesson 08).

The definitions are checked on small seeded models against direct computations; the
claims lesson 08 makes are checked on the shipped real-text weights, with thresholds
measured on them and a margin for other CPUs' rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attnviz.maps import capture
from attnviz.models import TinyConfig, TinyTransformer
from attnviz.shakespeare import BOS, VOCAB_SIZE, decode, held_out_text
from attnviz.sinks import (
    SINK_EPSILON,
    SINK_LENGTH,
    KeyBias,
    _queries_and_keys,
    first_key_bias,
    sink_passages,
    sink_rate,
    sink_scores,
    token_importance,
    twin_comparison,
)
from attnviz.text_models import load_text_model, text_model_card


def _model(operator: str = "softmax", positional: str = "rope", seed: int = 0):
    config = TinyConfig(n_layers=2, n_heads=2, d_model=16, vocab_size=VOCAB_SIZE, context=128,
                        positional=positional, operator=operator)  # fmt: skip
    return TinyTransformer(config, seed=seed)


def _bidirectional():
    config = TinyConfig(n_layers=1, n_heads=2, d_model=8, vocab_size=VOCAB_SIZE, context=16,
                        causal=False)  # fmt: skip
    return TinyTransformer(config, seed=0)


@pytest.fixture(scope="module")
def passages():
    return sink_passages()


# --------------------------------------------------------------------------- passages


def test_passages_are_bos_and_held_out_text_from_seeded_offsets():
    ids = sink_passages(5, 40, seed=3)
    assert ids.shape == (5, 40) and ids.dtype == torch.long
    assert (ids[:, 0] == BOS).all() and (ids[:, 1:] != BOS).all()
    text = held_out_text()
    assert all(decode(row[1:]) in text for row in ids)
    assert torch.equal(ids, sink_passages(5, 40, seed=3))
    assert not torch.equal(ids, sink_passages(5, 40, seed=4))


def test_passages_reach_both_ends_of_the_play():
    whole = sink_passages(1, len(held_out_text()) + 1)
    assert decode(whole[0, 1:]) == held_out_text()


def test_gu_et_al_settings():
    assert SINK_EPSILON == 0.3 and SINK_LENGTH == 64
    assert sink_passages().shape == (32, SINK_LENGTH)


# --------------------------------------------------------------------------- the metric


def test_importance_is_the_mean_later_weight_of_each_token():
    model, ids = _model(), sink_passages(3, 24, seed=1)
    got = token_importance(model, ids)  # (L, H, T)
    expected = np.zeros_like(got)
    for row in ids:  # per row from lesson 02's captured maps, then the batch mean
        weights = capture(model, row).weights.astype(np.float64)  # (L, H, T, T)
        expected += weights.sum(axis=-2) / np.arange(24, 0, -1) / len(ids)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_softmax_first_token_importance_lies_in_one_over_t_to_one(seed):
    ids = sink_passages(4, 30, seed=seed)
    alpha = token_importance(_model(seed=seed), ids)
    first = alpha[:, :, 0]
    assert (first >= 1 / 30 - 1e-9).all() and (first <= 1 + 1e-9).all()
    assert (alpha >= 0).all() and (alpha <= 1 + 1e-9).all()
    np.testing.assert_allclose(sink_scores(_model(seed=seed), ids), first)


def test_sigmoid_weights_are_read_as_they_are_unless_proxy():
    model, ids = _model("sigmoid"), sink_passages(3, 20)
    raw, proxy = token_importance(model, ids), token_importance(model, ids, proxy=True)
    assert not np.allclose(raw, proxy)
    assert (raw >= 0).all() and (raw <= 1).all()
    assert (proxy[:, :, 0] >= 1 / 20 - 1e-9).all()  # normalised rows: softmax's bound again
    softmax = _model()
    np.testing.assert_allclose(
        token_importance(softmax, ids, proxy=True), token_importance(softmax, ids), atol=1e-7
    )


def test_sink_rate_is_the_share_of_heads_past_epsilon_and_falls_with_epsilon(passages):
    model = load_text_model("shakespeare")
    scores = sink_scores(model, passages)
    rates = [sink_rate(model, passages, eps) for eps in np.linspace(0, 1, 11)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))
    assert rates[0] == 1.0 and rates[-1] == 0.0
    assert sink_rate(model, passages) == pytest.approx(float((scores > SINK_EPSILON).mean()))


# --------------------------------------------------------------------------- the first key


@pytest.mark.parametrize("positional", ["rope", "learned"])
def test_queries_and_keys_are_the_ones_the_scores_see(positional):
    model, ids = _model(positional=positional), sink_passages(2, 16)
    inputs = []
    handles = [b.attn.register_forward_pre_hook(lambda m, a: inputs.append(a[0]))
               for b in model.blocks]  # fmt: skip
    try:
        with torch.no_grad():
            model(ids)
    finally:
        for h in handles:
            h.remove()
    causal = torch.ones(16, 16, dtype=torch.bool).tril()
    with torch.no_grad():
        for layer, block in enumerate(model.blocks):
            q, k = _queries_and_keys(block.attn, inputs[layer])
            scores = (q @ k.mT / math.sqrt(block.attn.d_head)).masked_fill(~causal, -math.inf)
            for row in range(2):
                maps = capture(model, ids[row]).weights[layer]
                np.testing.assert_allclose(scores[row].softmax(-1).numpy(), maps, atol=1e-5)
    bias = first_key_bias(model, ids)
    np.testing.assert_allclose(
        bias.first_key_norm[-1], k[:, :, 0].norm(dim=-1).mean(0).numpy(), rtol=1e-5
    )
    np.testing.assert_allclose(
        bias.other_key_norm[-1], k[:, :, 1:].norm(dim=-1).mean((0, 2)).numpy(), rtol=1e-5
    )


def test_key_bias_cosines_are_means_over_causal_pairs():
    model, ids = _model(), sink_passages(3, 12, seed=5)
    bias = first_key_bias(model, ids)
    assert isinstance(bias, KeyBias)
    for field in ("first_key_norm", "other_key_norm", "first_key_cosine", "other_key_cosine"):
        value = getattr(bias, field)
        assert value.shape == (2, 2) and np.isfinite(value).all()
    assert (bias.first_key_norm > 0).all() and (bias.other_key_norm > 0).all()
    assert (np.abs(bias.first_key_cosine) <= 1).all()
    assert (np.abs(bias.other_key_cosine) <= 1).all()


# --------------------------------------------------------------------------- the twins


def test_twin_rows_measure_now_and_quote_the_card():
    rows = twin_comparison(sink_passages(8))
    assert [r["name"] for r in rows] == ["twin_softmax", "twin_sigmoid", "twin_gated"]
    for row in rows:
        assert 0 <= row["sink_rate"] <= 1 and 0 <= row["proxy_sink_rate"] <= 1
        card = text_model_card(row["name"])["curve"]["held_out_loss"][-1]
        assert row["card_held_out_loss"] == pytest.approx(card)
        # 16 rows of the play against the whole play: the same model, close losses
        assert abs(row["held_out_loss"] - card) < 0.15
    softmax = rows[0]
    assert softmax["proxy_sink_rate"] == pytest.approx(softmax["sink_rate"])


# --------------------------------------------------------------------------- the shipped models
# Measured on the shipped weights (retrained with the copying curriculum, 5edfa4f), with
# sink_passages() (32 passages of T = 64, seed 0): shakespeare's α_0 is 0.186–0.940 in seven
# heads (the four of layer 0, (1, 1), (2, 1) and (3, 2), the retrieval head of
# test_retrieval_heads.py, at 0.940) and at most 0.073 in the other nine; a head that spread
# its attention evenly over the causal past would give BOS H_64 / 64 ≈ 0.074.

UNIFORM_FIRST = sum(1 / t for t in range(1, 65)) / 64  # α_0 of a uniform causal head, T = 64
SINK_HEAD = 0.13  # α_0 above this marks a sink head: measured 0.186 and up, or 0.073 and down


@pytest.fixture(scope="module")
def shakespeare_scores(passages):
    return sink_scores(load_text_model("shakespeare"), passages)


def test_shakespeare_has_first_token_sinks(passages, shakespeare_scores):
    model = load_text_model("shakespeare")
    sinks = shakespeare_scores > SINK_HEAD  # measured: 7 of 16 heads, the lowest at 0.186
    assert sinks.sum() >= 6 and (shakespeare_scores[sinks] > 2.2 * UNIFORM_FIRST).all()
    assert (shakespeare_scores[~sinks] < 1.2 * UNIFORM_FIRST).all()  # measured at most 0.073
    assert shakespeare_scores.max() > 0.85  # measured 0.940 (layer 3, head 2)
    assert sinks[0].all()  # every head of layer 0
    # Gu et al.'s Sink₁^0.3: 3 heads of 16 (18.75 %) on these passages, (0, 0) 0.317, (0, 1)
    # 0.356 and (3, 2) 0.940, the next 0.269; their 60M softmax models: 18.18 %
    assert sink_rate(model, passages) == pytest.approx(3 / 16)
    # measured Sink₁^ε: 7/16 at ε 0.1, 6/16 at 0.2 (the lowest past it 0.206), 1/16 at 0.5
    assert sink_rate(model, passages, 0.1) == pytest.approx(7 / 16)
    assert sink_rate(model, passages, 0.5) == pytest.approx(1 / 16)


def test_sink_heads_point_the_queries_at_the_first_key(passages, shakespeare_scores):
    bias = first_key_bias(load_text_model("shakespeare"), passages)
    gap = bias.first_key_cosine - bias.other_key_cosine  # (L, H)
    sinks = shakespeare_scores > SINK_HEAD
    # measured: the sink heads' gap is 0.237–0.659, every other head's at most 0.062
    assert (gap[sinks] > 0.15).all() and (np.abs(gap[~sinks]) < 0.12).all()
    # Gu et al.'s small first key shows only in layer 0, plainly in two heads (measured ratio
    # 0.50 and 0.65; the others 0.77 and 0.97); the deeper sink heads have a first key
    # longer than the others' (measured ratio 1.21–1.48)
    ratio = bias.first_key_norm / bias.other_key_norm
    assert (ratio[0] < 0.7).sum() >= 2 and (ratio[0] < 1.0).all()
    assert (ratio[1:][sinks[1:]] > 1.1).all()


@pytest.fixture(scope="module")
def twins(passages):
    return {row["name"]: row for row in twin_comparison(passages)}


def test_normalisation_makes_the_sink_and_a_gate_weakens_it(twins):
    softmax, sigmoid, gated = twins["twin_softmax"], twins["twin_sigmoid"], twins["twin_gated"]
    # measured largest α_0: softmax 0.301, gated 0.249, sigmoid 0.082 (0.172 from rows
    # rescaled to sum to 1, Gu et al.'s proxy)
    assert softmax["first_sink_score_max"] > gated["first_sink_score_max"] + 0.02
    assert sigmoid["proxy_first_sink_score_max"] < softmax["first_sink_score_max"] - 0.08
    assert sigmoid["first_sink_score_max"] < 0.15 and sigmoid["proxy_sink_rate"] == 0.0
    assert gated["sink_rate"] == 0.0
    assert softmax["first_sink_score_mean"] > gated["first_sink_score_mean"]
    assert gated["first_sink_score_mean"] > sigmoid["first_sink_score_mean"]


def test_the_twins_losses_are_comparable(twins):
    losses = [row["held_out_loss"] for row in twins.values()]
    cards = [row["card_held_out_loss"] for row in twins.values()]
    # measured now 1.740 / 1.802 / 1.777, recorded 1.697 / 1.746 / 1.723 (softmax, sigmoid,
    # gated): within 0.07 nats of each other, far below the bigram baseline (2.515)
    for values in (losses, cards):
        assert max(values) - min(values) < 0.12
    bigram = text_model_card("twin_softmax")["baselines"]["bigram"]
    assert max(losses) < bigram - 0.5


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda: sink_passages(0), "count"),
        (lambda: sink_passages(2, 1), "length"),
        (lambda: sink_passages(2, 10, seed=-1), "seed"),
        (lambda: token_importance(object(), torch.zeros(4, dtype=torch.long)), "model"),
        (lambda: token_importance(_model(), torch.zeros(4)), "ids"),
        (lambda: token_importance(_model(), torch.full((4,), VOCAB_SIZE)), "ids"),
        (lambda: token_importance(_model(), torch.zeros(129, dtype=torch.long)), "ids"),
        (lambda: sink_rate(_model(), torch.zeros(4, dtype=torch.long), 1.5), "epsilon"),
        (lambda: first_key_bias(_model(), torch.zeros(1, dtype=torch.long)), "ids"),
        (lambda: twin_comparison(epsilon=-0.1), "epsilon"),
        (lambda: sink_scores(_bidirectional(), torch.zeros(4, dtype=torch.long)), "model"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, word):
    with pytest.raises((ValueError, TypeError), match=word):
        call()
