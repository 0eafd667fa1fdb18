"""Lesson 05's exercises: each right answer passes, a tempting wrong one fails with a
reason, and the answers come from attnviz.memory and attnviz.conditioning, not from a
table (other parameters give other answers)."""

from __future__ import annotations

import pytest
from verdict import verdict

from attnviz import exercises
from attnviz.conditioning import run
from attnviz.exercises import get
from attnviz.memory import capacity_sweep

LESSON_05 = ("05-crosstalk", "05-blocking", "05-overwrite", "05-forget-half")


def test_lesson_05_registers_its_exercises():
    registered = {ex.id for ex in exercises.exercises("05")}
    assert set(LESSON_05) <= registered


def test_crosstalk_of_d_k_plus_one_items_is_as_large_as_the_signal():
    assert verdict("05-crosstalk", 1.0).correct is True
    assert verdict("05-crosstalk", 0.95).correct is True  # within the 10% tolerance
    zero = verdict("05-crosstalk", 0)
    assert zero.correct is False and "orthonormal" in zero.body
    assert verdict("05-crosstalk", 1 / 64).correct is False
    ex = get("05-crosstalk")
    assert ex.solution(d_k=32, n_items=9).answer == pytest.approx(0.25)
    assert "(N − 1)/d_k = 8/32" in ex.solution(d_k=32, n_items=9).explanation
    measured = capacity_sweep(64, 65, trials=400).measured[0, 0]
    assert measured == pytest.approx(1.0, rel=0.05)


def test_blocking_the_delta_rule_shows_it_the_hebbian_memory_does_not():
    assert verdict("05-blocking", "b").correct is True
    backwards = verdict("05-blocking", "c")
    assert backwards.correct is False and "no prediction error" in backwards.body
    assert verdict("05-blocking", "a").correct is False
    # a short pretraining does not block: A predicts too little of the US yet
    assert get("05-blocking").solution(pretraining=1).answer == "a"
    blocked = run("pretraining: 20 A+ | compound: 20 AB+", rule="delta", beta=0.4)
    assert blocked.final()["B"] < 0.05


def test_the_delta_rule_overwrites_and_the_hebbian_rule_piles_up():
    assert verdict("05-overwrite", "b").correct is True
    hebbian = verdict("05-overwrite", "a")
    assert hebbian.correct is False and "only adds" in hebbian.body
    assert get("05-overwrite").solution(d_k=2).answer == "b"


def test_forgetting_halves_an_association_after_ln_half_over_ln_alpha_writes():
    assert verdict("05-forget-half", 7).correct is True
    linear = verdict("05-forget-half", 5)
    assert linear.correct is False and "multiplies" in linear.body
    assert verdict("05-forget-half", 6).correct is False
    assert get("05-forget-half").solution(alpha=0.5).answer == 2  # 0.5 is not below half
    assert get("05-forget-half").solution(alpha=0.99).answer == 69  # ln ½ / ln 0.99 = 68.97
