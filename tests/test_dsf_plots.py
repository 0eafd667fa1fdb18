"""Lesson 06's figures: MQAR recall against state size, every class on one log axis."""

from __future__ import annotations

import pytest

from attnviz import plots
from attnviz.state_size import shipped


def test_recall_vs_state_draws_every_class():
    result = shipped()
    fig = plots.recall_vs_state(result.curves(), chance=0.25)
    assert fig.x_scale.__class__.__name__ == "LogScale"
    legend = [item.label.value for item in fig.legend[0].items]
    assert legend == result.mixers()
    assert fig.xaxis[0].ticker.ticks == [2.0**k for k in range(6, 14)]  # 64 ... 8,192
    with pytest.raises(ValueError, match="curves must name"):
        plots.recall_vs_state({})
    with pytest.raises(ValueError, match="state sizes must be positive"):
        plots.recall_vs_state({"s6": ([0, 4], [0.2, 0.3])})
