"""Lesson 04's exercises: each right answer passes, a tempting wrong one fails with a
reason, reveal shows the computation, and the answers come from attnviz.receptive on the
mask zoo, not from a table (other parameters give other answers)."""

from __future__ import annotations

import pytest
from verdict import verdict

from attnviz import exercises
from attnviz.exercises import get
from attnviz.kernels.masks import make_mask
from attnviz.receptive import NEVER, receptive_field

LESSON_04 = ("04-power-sees-1000", "04-dilated-odd", "04-window-4096", "04-lag-layers")


def test_lesson_04_registers_its_exercises():
    registered = {ex.id for ex in exercises.exercises("04")}
    assert set(LESSON_04) <= registered
    assert all(get(i).lesson == "04" for i in LESSON_04)


# -- one claim per exercise ---------------------------------------------------------------


def test_power_attention_sees_1000_tokens_after_9_layers():
    assert verdict("04-power-sees-1000", 9).correct is True
    log2 = verdict("04-power-sees-1000", 10)
    assert log2.correct is False and "1-bits" in log2.body and "2^10 = 1,024" in log2.body
    exact = verdict("04-power-sees-1000", 6)
    assert exact.correct is False and "nearer keys need more" in exact.body
    chain = verdict("04-power-sees-1000", 1000)
    assert chain.correct is False and "previous-token chain" in chain.body
    # 9 layers leave none of the 1,000 keys out; 8 do
    field = receptive_field(make_mask("power_attention"), 1001, 9)
    assert field.reach_of_last(9).size == 1001 and field.reach_of_last(8).size < 1001
    # computed, not stored: 1,023 = 1111111111₂ needs 10 layers, 1,024 needs 10 too
    assert get("04-power-sees-1000").solution(distance=1023).answer == 10
    assert get("04-power-sees-1000").solution(distance=1024).answer == 10
    assert get("04-power-sees-1000").solution(distance=511).answer == 9
    assert get("04-power-sees-1000").solution(distance=510).answer == 8


def test_dilated_rate_2_never_sees_distance_7():
    assert verdict("04-dilated-odd", "c").correct is True
    assert verdict("04-dilated-odd", "(C)").correct is True
    deep = verdict("04-dilated-odd", "b")
    assert deep.correct is False and "longer, not finer" in deep.body
    two = verdict("04-dilated-odd", "a")
    assert two.correct is False and "multiple of 2" in two.body
    assert "50%" in get("04-dilated-odd").solution().explanation
    # an even distance is reachable: within 2 hops, or only deeper
    ex = get("04-dilated-odd")
    assert ex.solution(distance=6).answer == "a"  # one hop
    assert ex.solution(distance=12).answer == "a"  # 6 + 6
    assert ex.solution(distance=14).answer == "b"  # 6 + 6 + 2
    assert ex.solution(rate=1, distance=7).answer == "a"  # a plain window
    assert ex.solution(rate=3, window=10, distance=7).answer == "c"
    field = receptive_field(make_mask("dilated", window=8, rate=2), 64, 64)
    assert (field.by_distance[1::2] == NEVER).all()


def test_window_of_8_needs_585_layers_for_4096_tokens():
    assert verdict("04-window-4096", 585).correct is True
    per_window = verdict("04-window-4096", 512)
    assert per_window.correct is False and "the query itself" in per_window.body
    log = verdict("04-window-4096", 12)
    assert log.correct is False and "PowerAttention" in log.body
    off_by_one = verdict("04-window-4096", 586)
    assert off_by_one.correct is False and "4,095 apart" in off_by_one.body
    ex = get("04-window-4096")
    assert ex.solution(window=8, seq_len=1024).answer == 147  # ⌈1023 / 7⌉
    assert ex.solution(window=2, seq_len=100).answer == 99  # previous token only
    assert ex.solution(window=5, seq_len=4096).answer == 1024  # 4095 / 4 → 1024


def test_bad_parameters_name_the_argument():
    with pytest.raises(ValueError, match="window"):
        get("04-window-4096").solution(window=1)
    with pytest.raises(ValueError, match="distance"):
        get("04-power-sees-1000").solution(distance=0)
    with pytest.raises(ValueError, match="no parameter"):
        get("04-dilated-odd").solution(length=3)
    with pytest.raises(TypeError, match="integer"):
        verdict("04-window-4096", 585.0)


def test_a_window_of_4_needs_2_layers_to_look_6_back():
    assert verdict("04-lag-layers", 2).correct is True
    one = verdict("04-lag-layers", 1)
    assert one.correct is False and "outside its mask" in one.body
    chain = verdict("04-lag-layers", 6)
    assert chain.correct is False and "jump up to 3" in chain.body
    ex = get("04-lag-layers")
    assert ex.solution(lag=7).answer == 3  # 7 = 3 + 3 + 1
    assert ex.solution(lag=7).answer != -(-7 // 4)  # ⌈7 / 4⌉ = 2 counts the query as a step
    assert ex.solution(window=2, lag=5).answer == 5  # a previous-token chain
    field = receptive_field(make_mask("sliding_window", window=4), 7, 2)
    assert field.by_distance[6] == 2 and field.reach_of_last(1).size == 4
