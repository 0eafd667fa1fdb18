"""Lesson 02's exercises: each right answer passes, a tempting wrong one fails with a
reason, reveal shows the computation, and the answers come from the shipped models
and attnviz.maps, not from a table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from verdict import verdict

from attnviz import exercises, maps, models, tasks
from attnviz.exercises import get, reveal

LESSON_02 = (
    "02-causal-row-keys",
    "02-first-row-entropy",
    "02-uniform-sink",
    "02-induction-circuit",
)


@pytest.fixture(scope="module")
def lesson_maps():
    """What the lesson shows: induction_2l on BOS + 16 random tokens + the same 16."""
    ids = tasks.repeated_tokens(1, 16, 48, seed=0).input_ids[0]
    return maps.capture(models.load_lesson_model("induction_2l"), ids)


def test_lesson_02_registers_at_least_three_exercises():
    registered = {ex.id for ex in exercises.exercises("02")}
    assert len(registered) >= 3
    assert set(LESSON_02) <= registered


# -- one claim per exercise -------------------------------------------------------------


def test_causal_row_t_has_t_plus_one_nonzero_weights(lesson_maps):
    row = lesson_maps.weights[:, :, 10, :]  # (L, H, T)
    assert np.all((row > 0).sum(-1) == 11)
    assert verdict("02-causal-row-keys", 11).correct is True
    assert verdict("02-causal-row-keys", np.int64(11)).correct is True
    # off by one: the query itself counts
    wrong = verdict("02-causal-row-keys", 10)
    assert wrong.correct is False
    assert "The computed answer is 11." in wrong.body and "t + 1 keys" in wrong.body
    bidirectional = verdict("02-causal-row-keys", 33)
    assert bidirectional.correct is False and "bidirectional" in bidirectional.body
    assert get("02-causal-row-keys").solution(query=0).answer == 1
    assert get("02-causal-row-keys").solution(query=32).answer == 33


def test_first_row_of_a_causal_head_is_one_hot_so_its_entropy_is_zero(lesson_maps):
    assert lesson_maps.weights[:, :, 0, 0] == pytest.approx(1.0)
    assert verdict("02-first-row-entropy", 0).correct is True
    assert verdict("02-first-row-entropy", 0.005).correct is True
    weight = verdict("02-first-row-entropy", 1.0)
    assert weight.correct is False and "−1 · ln 1 = 0" in weight.body
    uniform = verdict("02-first-row-entropy", math.log(33))
    assert uniform.correct is False and "only one key" in uniform.body
    # the head's mean entropy, from attnviz.maps, is shown for comparison
    mean = float(maps.entropy(lesson_maps)[1, 0])
    assert f"{mean:.3f} nats" in reveal("02-first-row-entropy").body
    for layer in range(2):
        for head in range(2):
            assert get("02-first-row-entropy").solution(layer=layer, head=head).answer == 0


def test_uniform_causal_sink_score_is_the_harmonic_number_over_t():
    harmonic_64 = sum(1 / k for k in range(1, 65))
    assert get("02-uniform-sink").solution().answer == pytest.approx(harmonic_64 / 64)
    assert verdict("02-uniform-sink", 0.074).correct is True
    last_query = verdict("02-uniform-sink", 1 / 64)
    assert last_query.correct is False and "last query" in last_query.body
    threshold = verdict("02-uniform-sink", 0.3)
    assert threshold.correct is False and "threshold" in threshold.body
    # other lengths: computed, not stored; short inputs pass the sink bar of 0.3
    for seq_len in (1, 2, 9, 10, 128):
        expected = sum(1 / k for k in range(1, seq_len + 1)) / seq_len
        assert get("02-uniform-sink").solution(seq_len=seq_len).answer == pytest.approx(expected)
    assert "at most 9 tokens" in reveal("02-uniform-sink").body


def test_induction_circuit_is_previous_token_in_layer_0_then_induction_in_layer_1(lesson_maps):
    previous = maps.previous_token_score(lesson_maps)
    induction = maps.induction_score(lesson_maps)
    assert previous[0].min() > previous[1].max()
    assert induction[1].min() > induction[0].max()
    assert verdict("02-induction-circuit", "a").correct is True
    assert verdict("02-induction-circuit", "(A)").correct is True
    swapped = verdict("02-induction-circuit", "b")
    assert swapped.correct is False and "earlier layer" in swapped.body
    for wrong in ("c", "d"):
        assert verdict("02-induction-circuit", wrong).correct is False
    body = reveal("02-induction-circuit").body
    assert f"L1H0 {previous[1, 0]:.3f} / {induction[1, 0]:.3f}" in body
    one_layer = maps.capture(models.load_lesson_model("induction_1l"), lesson_maps.input_ids)
    assert f"{float(maps.induction_score(one_layer).max()):.3f}" in body


def test_answers_follow_the_library(monkeypatch):
    """Swap the captured maps for uniform causal ones: verdict() follows."""
    from attnviz.exercises import attention_maps as lesson_02

    def uniform_maps(model, seq_half, vocab, seed):
        seq_len = 2 * seq_half + 1
        weights = np.tril(np.ones((seq_len, seq_len))) / np.arange(1, seq_len + 1)[:, None]
        ids = tasks.repeated_tokens(1, seq_half, vocab, seed).input_ids[0].numpy()
        tokens = [str(i) for i in ids]
        return maps.AttentionMaps(np.tile(weights, (2, 2, 1, 1)), tokens, ids)

    monkeypatch.setattr(lesson_02, "_lesson_maps", uniform_maps)
    assert verdict("02-causal-row-keys", 11).correct is True
    assert verdict("02-first-row-entropy", 0.0).correct is True
    # uniform heads have no jobs: both scores are highest in layer 0 (the first maximum)
    assert get("02-induction-circuit").solution().answer == "c"


def test_bad_parameters_name_the_argument():
    with pytest.raises(ValueError, match="query must be an integer in"):
        get("02-causal-row-keys").solution(query=33)
    with pytest.raises(ValueError, match="layer"):
        get("02-first-row-entropy").solution(layer=2)
    with pytest.raises(ValueError, match="eps must be in"):
        get("02-uniform-sink").solution(eps=2.0)
    with pytest.raises(ValueError, match="model must have 2 layers"):
        get("02-induction-circuit").solution(model="induction_1l")
    with pytest.raises(ValueError, match="one of the letters"):
        verdict("02-induction-circuit", "e")
