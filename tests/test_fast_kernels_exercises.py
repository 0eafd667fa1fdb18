"""Lesson 07's exercises: the claims they ask about hold, computed on their own numbers."""

import math

import pytest
import torch
from verdict import verdict

from attnviz import exercises
from attnviz.exercises import get
from attnviz.kernels.masks import make_mask


def test_lesson_07_registers_its_exercises():
    assert {ex.id for ex in exercises.exercises("07")} == {
        "07-shifted-scores",
        "07-rescale",
        "07-window-blocks",
        "07-chunk-state",
        "07-scan-rounds",
    }


def test_shifted_scores_overflow_as_written_but_not_after_subtracting_the_maximum():
    scores = 1000.0 + torch.arange(3, dtype=torch.float32)
    assert torch.isnan(torch.exp(scores) / torch.exp(scores).sum()).all()  # inf / inf
    expected = math.exp(2) / (1 + math.e + math.exp(2))  # the same scores minus 1000
    solution = get("07-shifted-scores").solution()
    assert solution.answer == pytest.approx(expected, abs=1e-6)
    assert verdict("07-shifted-scores", 0.665).correct is True
    argmax = verdict("07-shifted-scores", 1.0)
    assert argmax.correct is False and "argmax" in argmax.body
    assert "gives nan" in solution.explanation


def test_only_the_gaps_matter():
    wide = get("07-shifted-scores").solution(n_keys=4, offset=5000.0, gap=2.0)
    near = get("07-shifted-scores").solution(n_keys=4, offset=200.0, gap=2.0)
    assert wide.answer == pytest.approx(near.answer, abs=1e-6)
    assert wide.answer == pytest.approx(math.exp(6) / sum(math.exp(2 * i) for i in range(4)))
    with pytest.raises(ValueError, match="offset"):
        get("07-shifted-scores").solution(offset=10.0)  # exp(10) does not overflow


def test_rescale_is_e_to_the_old_max_minus_the_new():
    solution = get("07-rescale").solution()
    assert solution.answer == pytest.approx(math.exp(2.0 - 5.0), rel=1e-12)
    assert verdict("07-rescale", 0.05).correct is True
    inverse = verdict("07-rescale", math.exp(3.0))
    assert inverse.correct is False and "inverse" in inverse.body
    assert verdict("07-rescale", 1.0).correct is False


def test_no_rescale_when_the_new_block_stays_below_the_maximum():
    solution = get("07-rescale").solution(second=(0.5, 1.5))
    assert solution.answer == pytest.approx(1.0)
    with pytest.raises(ValueError, match="first_max"):
        get("07-rescale").solution(first_max=3.0)
    with pytest.raises(ValueError, match="block_size"):
        get("07-rescale").solution(second=(1.0, 2.0, 3.0))


def test_window_blocks_count_whole_blocks_not_tokens():
    solution = get("07-window-blocks").solution()
    # 32 block rows: the first sees 1 block, the second 2, every other one 3 (own + 2 back)
    assert solution.answer == pytest.approx((1 + 2 + 30 * 3) / 32**2)
    tokens = make_mask("sliding_window", window=256).dense(4096).mean()
    assert tokens < solution.answer  # edge blocks are computed whole
    assert verdict("07-window-blocks", 0.091).correct is True
    assert verdict("07-window-blocks", 256 / 4096).correct is False
    assert verdict("07-window-blocks", 0.5).correct is False


def test_window_blocks_fall_with_length():
    short = get("07-window-blocks").solution(seq_len=1024).answer
    long = get("07-window-blocks").solution(seq_len=8192).answer
    assert long < short / 4  # the computed blocks grow like T, all blocks like T²
