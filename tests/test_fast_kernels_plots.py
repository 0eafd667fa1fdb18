"""Lesson 07's figures draw what they are given: the block read highlighted among the
scores, m and ℓ before and after with the rescale, the chunks split into intra-chunk
triangles and inter-chunk rectangles, measured lines and refusals on log axes."""

import numpy as np
import pytest

from attnviz import plots
from attnviz.plots.fast_kernels import BLOCK_COLOR, INTER_COLOR, INTRA_COLOR, SEEN_COLOR


def test_the_stepper_highlights_the_block_and_draws_m_l_and_the_rescale():
    view = plots.OnlineSoftmaxView()
    scores = np.array([0.5, 2.0, 1.0, 3.0, np.nan, np.nan])  # the last two hidden (causal)
    view.update(scores, (2, 4), m_before=2.0, m_after=3.0, l_before=1.5, l_after=2.0,
                rescale=np.exp(-1.0), output=np.ones(3), final=np.zeros(3))  # fmt: skip
    colors = view.score_source.data["color"]
    assert colors[:2] == [SEEN_COLOR] * 2 and colors[2:4] == [BLOCK_COLOR] * 2
    assert view.state_source.data["value"] == [2.0, 3.0, 1.5, 2.0, np.exp(-1.0)]
    assert (view.m_before.location, view.m_after.location) == (2.0, 3.0)
    assert "keys 2–3" in view.figures["scores"].title.text


def test_before_the_first_block_there_is_no_running_max_to_draw():
    view = plots.OnlineSoftmaxView()
    view.update(np.arange(4.0), (0, 2), m_before=float("-inf"), m_after=1.0, l_before=0.0,
                l_after=1.4, rescale=0.0, output=np.ones(2), final=np.ones(2))  # fmt: skip
    assert view.m_before.visible is False and view.state_source.data["text"][0] == "−∞"
    with pytest.raises(ValueError, match="m_before"):
        view.update(np.arange(4.0), (0, 2), m_before=float("inf"), m_after=1.0, l_before=0.0,
                    l_after=1.4, rescale=0.0, output=np.ones(2), final=np.ones(2))  # fmt: skip
    with pytest.raises(ValueError, match="output and final"):
        view.update(np.arange(4.0), (0, 2), m_before=0.0, m_after=1.0, l_before=0.0,
                    l_after=1.4, rescale=0.0, output=np.ones(2), final=np.ones(3))  # fmt: skip


def test_chunks_are_intra_triangles_and_inter_rectangles():
    view = plots.ChunkView()
    view.update(10, [(0, 4), (4, 8), (8, 10)], 1)
    data = view.source.data
    assert data["color"] == [INTRA_COLOR, INTRA_COLOR, INTER_COLOR, INTRA_COLOR, INTER_COLOR]
    assert data["xs"][2] == [0, 0, 4, 4] and data["ys"][2] == [4, 8, 8, 4]  # rows 4–7, cols 0–3
    strong = [a for a, part in zip(data["alpha"], data["part"], strict=True) if "chunk 1" in part]
    assert strong == [0.9, 0.9] and max(data["alpha"][:1] + data["alpha"][3:]) < 0.9
    assert view.bounds.data["x1"][:2] == [10.0, 10.0]  # a boundary line at 4 and at 8
    with pytest.raises(ValueError, match="tile"):
        view.update(10, [(0, 4), (5, 10)], 0)


def test_cost_chart_draws_measured_lines_and_marks_refusals_at_the_top():
    chart = plots.CostChart(["reference", "chunkwise"])
    measured = {
        "reference": ([256, 512], [0.01, 0.04]),
        "chunkwise": ([256, 512, 1024], [1e-3, 2e-3, 4e-3]),
    }
    chart.update(measured, refused={"reference": [1024]})
    assert list(chart.sources["chunkwise"].data["x"]) == [256, 512, 1024]
    assert list(chart.refused["reference"].data["x"]) == [1024]
    assert list(chart.refused["reference"].data["y"]) == [0.04]  # the largest time measured
    assert chart.figure.x_scale.__class__.__name__ == "LogScale"
    chart.update({})
    assert list(chart.sources["reference"].data["x"]) == []
    with pytest.raises(ValueError, match="positive"):
        chart.update({"reference": ([256], [0.0])})


def test_speedup_scatter_puts_the_ideal_line_at_one_over_density():
    scatter = plots.SpeedupScatter()
    scatter.update(["causal", "window"], [0.5, 0.1], [0.9, 4.0])
    assert scatter.ideal.data == {"x": [0.1, 1.0], "y": [10.0, 1.0]}
    with pytest.raises(ValueError, match="density"):
        scatter.update(["a"], [0.0], [1.0])
