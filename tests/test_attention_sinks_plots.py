"""Lesson 08's figures draw what they are given: a head's map with a character per row and
column (the dropped keys grey), every head's value with the heads over ε outlined, loss by
position per cache policy with the training length marked and lines shown on request, one
bar per head, the mixed cache's loss against memory, the twins side by side; bad input is
refused naming the argument."""

import numpy as np
import pytest

from attnviz import plots
from attnviz.plots.attention_sinks import BAR_COLOR, SINK_LINE_COLOR


def test_the_passage_map_labels_every_character_and_keeps_dropped_keys_grey():
    view = plots.PassageMap()
    weights = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    weights[3, 1] = np.nan  # a key the cache dropped
    labels = ["⟨bos⟩", "T", "o", " "]
    view.update(weights, labels, title="L0H1, cache: 1 sink + window 2")
    cells = view.heatmap.cells.data
    assert len(cells["weight"]) == 16 and np.isnan(cells["weight"][13])
    assert cells["key"][0] == "⟨bos⟩" and cells["query"][-1] == " "
    assert view.figure.xaxis[0].major_label_overrides[0] == "⟨bos⟩"
    assert view.figure.title.text == "L0H1, cache: 1 sink + window 2"
    view.update(weights * 0.5, labels)  # the same passage: new weights, the labels kept
    assert cells["key"][0] == "⟨bos⟩" and view.heatmap.cells.data["weight"][0] == 0.5
    assert view.heatmap.mapper.high == 0.5 and view.figure.title.text == "attention of one head"
    view.update(np.eye(2), ["x", "y"])  # another passage
    assert view.heatmap.cells.data["key"] == ["x", "y", "x", "y"]
    with pytest.raises(ValueError, match="square"):
        view.update(np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="labels"):
        view.update(np.ones((2, 2)), ["a"])


def test_the_head_grid_writes_each_value_and_outlines_heads_over_the_threshold():
    grid = plots.HeadValueGrid()
    values = np.array([[0.9, 0.1, 0.5], [0.0, 0.31, 0.29]])
    grid.update(values, threshold=0.3)
    data = grid.source.data
    assert data["text"] == ["0.90", "0.10", "0.50", "0.00", "0.31", "0.29"]
    assert data["head"][4] == "L1H1"
    assert data["text_color"][0] != data["text_color"][3]  # 0.9 on light yellow, 0 on purple
    over = [line == SINK_LINE_COLOR for line in data["line"]]
    assert over == [True, False, True, False, True, False]
    grid.mark((1, 2))
    assert grid.source.data["line"][5] == "#000000" and grid.source.data["line_width"][5] == 4
    assert grid.figure.x_range.end == 2.5 and grid.figure.y_range.start == 1.5
    with pytest.raises(ValueError, match="head"):
        grid.mark((1, 3))
    with pytest.raises(ValueError, match="values"):
        grid.update(np.ones(3))


def test_policy_curves_draw_each_policy_mark_the_training_length_and_hide_on_request():
    curves = plots.PolicyCurves(["window 64", "1 sink + window 64", "full"], train_length=256)
    assert curves.train_length.location == 256
    curves.update([32.0, 96.0], {"window 64": [1.9, 3.5], "full": [1.9, np.nan]})
    assert list(curves.sources["window 64"].data["y"]) == [1.9, 3.5]
    assert list(curves.sources["1 sink + window 64"].data["x"]) == []  # not given: empty
    curves.show(["full"])
    assert list(curves.sources["window 64"].data["x"]) == []
    assert list(curves.sources["full"].data["x"]) == [32.0, 96.0]
    curves.show(["full", "window 64"])
    assert list(curves.sources["window 64"].data["y"]) == [1.9, 3.5]
    with pytest.raises(ValueError, match="not drawn"):
        curves.update([1.0], {"window 8": [1.0]})
    with pytest.raises(ValueError, match="one loss per position"):
        curves.update([1.0, 2.0], {"full": [1.0]})
    with pytest.raises(ValueError, match="labels"):
        curves.show(["window 8"])


def test_the_ranking_draws_a_bar_per_head_in_layer_order_the_marked_one_vermillion():
    ranking = plots.HeadRanking()
    ranking.update(np.array([[0.1, 0.4], [0.0, 0.2]]), marked=[(1, 0)])
    data = ranking.source.data
    assert data["head"] == ["L0H0", "L0H1", "L1H0", "L1H1"]
    assert list(data["value"]) == [0.1, 0.4, 0.0, 0.2]
    assert data["color"] == [BAR_COLOR, BAR_COLOR, plots.SELECTED_COLOR, BAR_COLOR]
    with pytest.raises(TypeError, match="marked"):
        ranking.update(np.ones((1, 1)), marked=["L0H0"])


def test_the_mixed_cache_curve_rings_the_chosen_point_and_draws_the_full_loss():
    curve = plots.MixedCacheCurve()
    curve.update([0, 4, 16], [0.3, 0.5, 1.0], [2.5, 2.0, 1.9], full_loss=1.9, chosen=1)
    assert curve.full_loss.location == 1.9
    assert curve.chosen.data == {"x": [0.5], "y": [2.0]}
    assert curve.source.data["heads"] == [0, 4, 16]
    with pytest.raises(ValueError, match="one length"):
        curve.update([0, 1], [0.5], [1.0, 2.0], full_loss=1.0)
    with pytest.raises(ValueError, match="chosen"):
        curve.update([0], [0.5], [1.0], full_loss=1.0, chosen=3)


def test_twin_bars_draw_sink_rates_and_losses_side_by_side():
    bars = plots.TwinBars()
    bars.update(["softmax", "sigmoid", "gated"], [0.5, 0.0, 0.08], [1.6, 1.7, 1.6])
    assert list(bars.figures["sink_rate"].x_range.factors) == ["softmax", "sigmoid", "gated"]
    assert list(bars.source.data["sink_rate"]) == [0.5, 0.0, 0.08]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bars.update(["a"], [1.5], [1.0])
    with pytest.raises(ValueError, match="one length"):
        bars.update(["a", "b"], [0.5], [1.0])
