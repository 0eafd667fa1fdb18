"""Lesson 00's exercise: equal scores share the weight equally, for any number of keys."""

from __future__ import annotations

import pytest
from verdict import verdict

from attnviz.exercises import get


def test_equal_scores_share_the_weight_equally():
    assert verdict("00-equal-scores", 0.25).correct is True
    assert verdict("00-equal-scores", 2.0).correct is False
    assert get("00-equal-scores").solution(n_keys=5).answer == pytest.approx(0.2)
