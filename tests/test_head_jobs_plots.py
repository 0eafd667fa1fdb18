"""Lesson 03's figures: head scores with roles and ablation marks, training curves."""

import numpy as np
import pytest
from bokeh.events import Tap

from attnviz import plots


def test_score_heatmap_writes_each_role_and_colours_by_the_chosen_score():
    scores = {
        "induction": np.array([[0.1, 0.9], [0.0, 0.2]]),
        "sink": np.array([[0.8, 0.0], [0.1, 0.3]]),
    }
    roles = np.array([["sink", "induction"], ["", ""]], dtype=object)
    heat = plots.ScoreHeatmap(scores, "induction", roles, high=1.0)
    assert list(heat.cells.data["value"]) == [0.1, 0.9, 0.0, 0.2]
    assert heat.text.data["text"][:3] == ["sink\n0.10", "induction\n0.90", "0.00"]
    assert heat.cells.data["role"] == ["sink", "induction", "—", "—"]
    # light cells get dark text, dark cells white text
    assert list(heat.text.data["color"][:2]) == [plots.ROLE_TEXT_DARK, plots.ROLE_TEXT_LIGHT]
    assert ("sink", "@s1{0.000}") in heat.hover.tooltips
    heat.update(scores, "sink", roles)
    assert list(heat.cells.data["value"]) == [0.8, 0.0, 0.1, 0.3]
    assert heat.mapper.high == 0.8 and heat.color_bar.title == "sink"
    with pytest.raises(ValueError, match="value must be one of"):
        heat.update(scores, "entropy")


def test_score_heatmap_marks_ablated_heads_and_reports_taps():
    heat = plots.ScoreHeatmap({"s": np.zeros((2, 4))}, "s")
    heat.mark([(1, 3), (0, 2)])
    assert heat.marked == [(0, 2), (1, 3)]
    # a cross over cells 2 (layer 0, head 2) and 7 (layer 1, head 3), drawn from the cells
    assert list(heat.cells.data["mark"]) == [0, 0, 0.9, 0, 0, 0, 0, 0.9]
    heat.update({"s": np.ones((2, 4))}, "s")  # new scores keep the crosses
    assert list(heat.cells.data["mark"]) == [0, 0, 0.9, 0, 0, 0, 0, 0.9]
    heat.mark([])
    assert heat.marked == [] and not any(heat.cells.data["mark"])
    tapped = []
    heat.on_tap(lambda layer, head: tapped.append((layer, head)))
    heat.figure._trigger_event(Tap(model=heat.figure, x=2.8, y=1.2))
    heat.figure._trigger_event(Tap(model=heat.figure, x=9.0, y=0.0))  # off the grid
    assert tapped == [(1, 3)]


def test_training_curves_set_a_history_and_stream_new_steps():
    curves = plots.TrainingCurves(["induction", "previous-token"])
    curves.set([0, 10], {"loss": [3.0, 2.0], "induction": [0.0, 0.1], "previous-token": [0.2, 0.5]})
    assert curves.source.data[curves.column("loss")].tolist() == [3.0, 2.0]
    curves.stream(20, {"loss": 1.0, "induction": 0.7, "previous-token": 0.6})
    curves.stream(
        [30, 40], {"loss": [0.5, 0.4], "induction": [0.8, 0.9], "previous-token": [0.6, 0.6]}
    )
    data = curves.source.data
    assert list(data["step"]) == [0, 10, 20, 30, 40]
    assert list(data[curves.column("induction")]) == [0.0, 0.1, 0.7, 0.8, 0.9]
    curves.mark_step(20)
    assert curves.step_marker.visible and curves.step_marker.location == 20
    curves.mark_step(None)
    assert not curves.step_marker.visible
    curves.clear()
    assert len(curves.source.data["step"]) == 0
    with pytest.raises(ValueError, match=r"values is missing \['previous-token'\]"):
        curves.stream(50, {"loss": 0.3, "induction": 1.0})


def test_training_curves_draw_several_losses_and_scores_on_their_own_axis():
    curves = plots.TrainingCurves(["induction"], loss_names=["loss", "repeated half"])
    score_range = curves.figure.extra_y_ranges["score"]
    assert (score_range.start, score_range.end) == (0.0, 1.05)
    labels = [item.label["value"] for item in curves.figure.legend[0].items]
    assert labels == ["loss", "repeated half", "induction"]
    # the loss axis fits the losses only, not the 0-1 scores
    assert len(curves.figure.y_range.renderers) == 2
    with pytest.raises(ValueError, match="loss_names must be non-empty"):
        plots.TrainingCurves(["loss"])


def test_score_heatmap_refuses_an_empty_mapping_by_name():
    with pytest.raises(ValueError, match="scores must not be empty"):
        plots.ScoreHeatmap({}, "x")
    with pytest.raises(ValueError, match="value must be one of"):
        plots.ScoreHeatmap({"induction": np.ones((1, 2))}, "x")
