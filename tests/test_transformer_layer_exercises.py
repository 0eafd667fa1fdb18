"""Lesson 01b's exercises: each claim it asks about holds, and every answer is computed from
the course's trained models with attnviz.transformer_layer, never stored."""

from __future__ import annotations

import numpy as np
import pytest

from attnviz import exercises
from attnviz.exercises import check, get
from attnviz.exercises.transformer_layer import HINTS, MODELS, TOKENS
from attnviz.lesson_models import load_lesson_model
from attnviz.transformer_layer import layer_walkthrough, position_scores

IDS = {
    "01b-head-width",
    "01b-causal-keys",
    "01b-shift-weights",
    "01b-rope-score",
    "01b-residual-terms",
}


def test_lesson_01b_has_its_exercises_and_a_hint_for_each():
    found = {ex.id for ex in exercises.exercises("01b")}
    assert found == IDS and set(HINTS) == IDS
    assert all(ex.lesson == "01b" for ex in exercises.exercises("01b"))
    assert not {ex.id for ex in exercises.exercises("01")} & IDS  # "01" is lesson 01 only


@pytest.fixture(autouse=True)
def fresh_learner(monkeypatch):
    """Each test is a new learner: no wrong tries from an earlier test."""
    monkeypatch.setattr(exercises.core, "_TRIES", exercises.Tries())


def test_the_hints_never_state_the_answer():
    for exercise_id, hint in HINTS.items():
        assert get(exercise_id).solution().hint == hint
        answer = get(exercise_id).solution().answer
        if isinstance(answer, str):
            assert get(exercise_id).choices[answer] not in hint
        else:
            assert f"{answer:g}" not in hint.split(), (exercise_id, hint)


def test_a_head_is_d_model_over_n_heads_wide():
    model = load_lesson_model(MODELS["learned"])
    assert check("01b-head-width", model.config.d_model // model.config.n_heads).correct
    assert check("01b-head-width", 32).correct is True
    assert check("01b-head-width", 64).correct is False
    assert 64 in dict(get("01b-head-width").solution().mistakes)


@pytest.mark.parametrize("t", [0, 4, 11])
def test_the_causal_mask_leaves_a_query_t_plus_one_keys(t):
    solution = get("01b-causal-keys").solution(t=t)
    assert solution.answer == t + 1
    walk = layer_walkthrough(load_lesson_model(MODELS["learned"]), TOKENS)
    assert np.all(walk.weights[:, t, t + 1 :] == 0) and np.all(walk.weights[:, t, : t + 1] > 0)
    assert check("01b-causal-keys", 5).correct is True
    assert check("01b-causal-keys", 12).correct is False


def test_only_rope_keeps_the_weights_when_the_sentence_moves():
    assert get("01b-shift-weights").solution().answer == "b"
    assert check("01b-shift-weights", "b").correct is True
    for wrong in ("a", "c", "d"):
        assert check("01b-shift-weights", wrong).correct is False
    with pytest.raises(ValueError, match="offset"):
        get("01b-shift-weights").solution(offset=40)


def test_a_rope_score_is_the_same_two_positions_later_and_not_in_reverse():
    solution = get("01b-rope-score").solution()
    scores = position_scores(load_lesson_model(MODELS["rope"]), 5, 17, n_positions=14)
    assert solution.answer == pytest.approx(float(scores[3, 1]), abs=1e-4)
    assert check("01b-rope-score", round(float(scores[3, 1]), 2)).correct is True
    reverse = float(scores[1, 3])
    assert abs(reverse - solution.answer) > 0.1  # direction matters: m - n, not |m - n|
    assert check("01b-rope-score", reverse).correct is False


def test_the_residual_stream_is_a_sum_of_one_plus_n_heads_vectors():
    assert get("01b-residual-terms").solution().answer == 3
    assert check("01b-residual-terms", 3).correct is True
    assert check("01b-residual-terms", 2).correct is False
    for layer in (0, 1):
        assert "rebuilds the output" in get("01b-residual-terms").solution(layer=layer).explanation


def test_overrides_out_of_range_are_refused_by_name():
    with pytest.raises(ValueError, match="t must be an integer"):
        get("01b-causal-keys").solution(t=12)
    with pytest.raises(ValueError, match="positional must be one of"):
        get("01b-head-width").solution(positional="none")
    with pytest.raises(ValueError, match="layer must be an integer"):
        get("01b-residual-terms").solution(layer=2)
