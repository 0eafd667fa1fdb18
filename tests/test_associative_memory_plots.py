"""Lesson 05's builders: banded curves, the signed memory heatmap, item bars, strengths."""

import numpy as np
import pytest

from attnviz import plots


def test_band_curves_show_a_subset_with_bands_labels_and_a_marker():
    curves = plots.BandCurves(["a", "b", "c"], dashed=("b",))
    x = np.arange(3.0)
    curves.update({"b": (x, 2 * x), "a": (x, x, x - 1, x + 1)}, labels={"a": "measured"})
    shown = curves.shown()
    assert list(shown) == ["a", "b"]  # in the order of the names
    data = curves.source.data
    assert data["label"] == ["measured", "b"]  # the legend's entries
    np.testing.assert_array_equal(shown["a"]["high"], x + 1)
    np.testing.assert_array_equal(shown["a"]["low"], x - 1)
    np.testing.assert_array_equal(shown["b"]["low"], 2 * x)  # no band: zero width
    assert data["dash"] == ["solid", "dashed"]
    curves.update({"c": (x, x)}, highlight="c")
    assert list(curves.shown()) == ["c"] and curves.source.data["width"] == [4]
    curves.update({"a": (x, x), "c": (x, x)}, highlight="c")
    assert curves.source.data["width"] == [2, 4]
    assert curves.source.data["color"][0] != curves.source.data["color"][1]
    curves.mark(2.5)
    assert curves.marker.visible and curves.marker.location == 2.5
    curves.mark(None)
    assert not curves.marker.visible
    with pytest.raises(ValueError, match="unknown series"):
        curves.update({"d": (x, x)})


def test_signed_heatmap_is_centred_at_zero():
    view = plots.SignedHeatmap(np.array([[1.0, -3.0], [0.5, 0.0]]))
    assert (view.mapper.low, view.mapper.high) == (-3.0, 3.0)
    np.testing.assert_array_equal(view.cells.data["value"], [1.0, -3.0, 0.5, 0.0])
    np.testing.assert_array_equal(view.cells.data["x"], [0, 1, 0, 1])
    view.update(np.zeros((3, 4)), limit=2.0)
    assert (view.mapper.low, view.mapper.high) == (-2.0, 2.0)
    assert view.figure.x_range.end == 3.5 and view.figure.y_range.start == 2.5
    view.update(np.zeros((1, 1)))  # all zero: a scale of ±1, not ±0
    assert view.mapper.high == 1.0
    with pytest.raises(ValueError, match="2-D"):
        view.update(np.zeros(3))


def test_item_bars_fill_slots_and_highlight_one():
    view = plots.ItemBars()
    view.update(np.array([0.5, 0.25]), n_slots=4, highlight=1)
    assert list(view.source.data["top"]) == [0.5, 0.25]
    assert view.source.data["color"][1] == plots.SELECTED_COLOR
    assert list(view.slots.data["x"]) == [2, 3] and view.figure.x_range.end == 3.5
    with pytest.raises(ValueError, match="n_slots"):
        view.update(np.ones(5), n_slots=4)


def test_strength_curves_colour_by_stimulus_and_dash_by_group():
    view = plots.StrengthCurves()
    curves = [("experimental", "B", [0, 0.1]), ("control", "B", [0, 0.5]), ("control", "A", [0, 1])]
    view.update(curves, stimuli=("A", "B"), groups=("experimental", "control"), phases=[(0, "p")])
    data = view.source.data
    colors = plots.stimulus_colors(("A", "B"))
    assert data["color"] == [colors["B"], colors["B"], colors["A"]]
    assert data["dash"] == ["solid", "dashed", "dashed"]
    assert data["label"] == ["B (experimental)", "B (control)", "A (control)"]
    assert list(view.phases.data["x"]) == [0.0] and view.phases.data["y"][0] > 1.0
    view.update([("only", "A", [0, 1])], stimuli=("A",), groups=("only",))
    assert view.source.data["label"] == ["A"]  # one group: not named
