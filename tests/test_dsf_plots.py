"""Lesson 06's figures: every class's Φ in one figure, class curves on linear or log axes,
MQAR recall against state size, every class on one log axis."""

from __future__ import annotations

import numpy as np
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


def test_phi_grid_draws_each_class_on_its_own_scale_in_one_figure():
    rng = np.random.default_rng(0)
    matrices = {"s6": np.tril(rng.normal(size=(5, 5))), "qlstm": 3 * np.tril(rng.random((5, 5)))}
    grid = plots.PhiGrid(columns=1)
    grid.update(matrices, {"s6": "S6", "qlstm": "qLSTM"})
    data = grid.images.data
    assert data["label"] == ["S6", "qLSTM"] and grid.labels.data["text"] == ["S6", "qLSTM"]
    for k, matrix in enumerate(matrices.values()):
        top = np.abs(matrix).max()
        assert data["top"][k] == pytest.approx(top)
        assert data["image"][k].dtype == np.float32  # half the bytes; colours need no more
        np.testing.assert_allclose(data["image"][k] * top, matrix, rtol=1e-6, atol=1e-7)
        assert np.abs(data["image"][k]).max() == pytest.approx(1.0)
    assert data["y"][1] > data["y"][0] + 5  # one column: the second panel under the first
    assert (grid.mapper.low, grid.mapper.high) == (-1.0, 1.0)
    grid.mark_row(2)
    assert [t - y for t, y in zip(grid.rows.data["top"], data["y"], strict=True)] == [2, 2]
    grid.mark_row(None)
    assert grid.rows.data["top"] == []
    with pytest.raises(ValueError, match="square and of one size"):
        grid.update({"s6": np.zeros((4, 4)), "qlstm": np.zeros((5, 5))}, {"s6": "", "qlstm": ""})
    with pytest.raises(ValueError, match="columns"):
        plots.PhiGrid(columns=0)


def test_class_curves_share_one_source_and_build_the_log_figure_when_shown():
    curves = plots.ClassCurves(["s6", "qlstm"], labels={"s6": "S6"})
    assert curves.figures == {}  # nothing built until a figure is asked for
    x = np.arange(4)
    curves.update({"s6": (x, [1.0, 0.5, 0.0, -0.5])})
    linear = curves.figure
    assert list(curves.figures) == [False]
    np.testing.assert_allclose(curves.sources[False].data["s6"], [1.0, 0.5, 0.0, -0.5])
    assert curves.lines[False]["s6"].visible and not curves.lines[False]["qlstm"].visible
    curves.set_log(True)
    assert curves.figure is curves.figures[True] and not linear.visible
    logged = curves.sources[True].data["s6"]  # y <= 0 is left out of the log figure
    assert list(logged[:2]) == [1.0, 0.5] and np.isnan(logged[2:]).all()
    with pytest.raises(ValueError, match="share one x"):
        curves.update({"s6": (x, x), "qlstm": (x + 1, x)})
    with pytest.raises(ValueError, match="unknown series"):
        curves.update({"ssd": (x, x)})


def test_transition_trace_draws_each_class_against_the_step_with_a_line_at_one():
    fig = plots.transition_trace(
        {"linear_attention": [1.0, 0.5, 1.5], "gated_linear_attention": [0.9, 0.8, 0.7]}
    )
    lines = [r for r in fig.renderers if type(r.glyph).__name__ == "Line"]
    assert list(lines[0].data_source.data["x"]) == [1.0, 2.0, 3.0]  # steps count from 1
    assert list(lines[0].data_source.data["y"]) == [1.0, 0.5, 1.5]
    assert [s.location for s in fig.center if type(s).__name__ == "Span"] == [1.0]
    assert len(fig.legend[0].items) == 2
    with pytest.raises(ValueError, match="positive"):
        plots.transition_trace({"s6": [0.5, 0.0]})
    with pytest.raises(ValueError, match="must not be empty"):
        plots.transition_trace({})
