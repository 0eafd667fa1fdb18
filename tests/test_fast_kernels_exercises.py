"""Lesson 07's exercises: the claims they ask about hold, computed on their own numbers."""

import math

import pytest
import torch

from attnviz import exercises
from attnviz.exercises import check, get


def test_lesson_07_registers_its_exercises():
    assert {ex.id for ex in exercises.exercises("07")} == {"07-shifted-scores"}


def test_shifted_scores_overflow_as_written_but_not_after_subtracting_the_maximum():
    scores = 1000.0 + torch.arange(3, dtype=torch.float32)
    assert torch.isnan(torch.exp(scores) / torch.exp(scores).sum()).all()  # inf / inf
    expected = math.exp(2) / (1 + math.e + math.exp(2))  # the same scores minus 1000
    solution = get("07-shifted-scores").solution()
    assert solution.answer == pytest.approx(expected, abs=1e-6)
    assert check("07-shifted-scores", 0.665).correct is True
    argmax = check("07-shifted-scores", 1.0)
    assert argmax.correct is False and "argmax" in argmax.body
    assert "gives nan" in solution.explanation


def test_only_the_gaps_matter():
    wide = get("07-shifted-scores").solution(n_keys=4, offset=5000.0, gap=2.0)
    near = get("07-shifted-scores").solution(n_keys=4, offset=200.0, gap=2.0)
    assert wide.answer == pytest.approx(near.answer, abs=1e-6)
    assert wide.answer == pytest.approx(math.exp(6) / sum(math.exp(2 * i) for i in range(4)))
    with pytest.raises(ValueError, match="offset"):
        get("07-shifted-scores").solution(offset=10.0)  # exp(10) does not overflow
