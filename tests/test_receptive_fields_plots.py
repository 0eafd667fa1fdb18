"""The receptive-field builders: the reach map, the strip and the per-pattern curves."""

import numpy as np
import pytest

from attnviz import plots


def test_reach_map_draws_first_layers_never_and_the_future():
    first = np.array([[0, -1, -1], [1, 0, -1], [3, 2, 0]])
    view = plots.ReachMap()
    view.update(first, 3, 2, causal=True)
    image = view.source.data["image"][0]
    expected = np.array([[0, np.nan, np.nan], [1, 0, np.nan], [-1, 2, 0]])  # 3 > 2 layers
    np.testing.assert_array_equal(image, expected)
    assert view.source.data["dw"] == [3] and view.source.data["dh"] == [3]
    assert len(view.mapper.palette) == 3 and view.mapper.low_color == plots.NEVER_COLOR
    # not causal: keys after the query keep their layers
    view.update(np.array([[0, 1], [1, 0]]), 2, 4, causal=False)
    np.testing.assert_array_equal(view.source.data["image"][0], [[0, 1], [1, 0]])
    assert len(view.mapper.palette) == 5
    with pytest.raises(ValueError, match="2-D"):
        view.update(np.zeros(3), 3, 1, causal=True)


def test_reach_strip_spans_the_keys_it_covers():
    view = plots.ReachStrip()
    view.update(np.array([2, -1, 1, 0]), 4096, 1)
    np.testing.assert_array_equal(view.source.data["image"][0], [[-1, -1, 1, 0]])
    assert view.source.data["dw"] == [4096] and view.figure.x_range.end == 4096


def test_pattern_curves_show_a_subset_and_switch_to_log_axes():
    curves = plots.PatternCurves(["a", "b", "c"])
    x = np.arange(4)
    curves.update({"b": (x, [0.25, 0.5, 1.0, 1.0]), "a": (x, [0.25, 0.3, 0.4, 0.5])}, highlight="b")
    for log in (False, True):
        assert [curves.lines[log][n].visible for n in "abc"] == [True, True, False]
        assert [curves._items[log][n].visible for n in "abc"] == [True, True, False]
    assert curves.lines[False]["b"].glyph.line_width > curves.lines[False]["a"].glyph.line_width
    assert list(curves.sources[False]["b"].data["x"]) == [0, 1, 2, 3]
    assert list(curves.sources[True]["b"].data["x"]) == [1, 2, 3]  # no layer 0 on a log axis
    curves.mark(2)
    assert curves.dots[False].data["y"] == [1.0, 0.4] and curves.dots[False].data["x"] == [2, 2]
    assert curves.figure is curves.figures[False]
    curves.set_log(True)
    assert curves.figure is curves.figures[True] and not curves.figures[False].visible
    curves.update({"c": (x, [0.1, 0.2, 0.3, 0.4])})
    assert [curves.lines[True][n].visible for n in "abc"] == [False, False, True]
    assert list(curves.sources[False]["a"].data["x"]) == []
    assert curves.dots[True].data["name"] == ["c"]
    with pytest.raises(ValueError, match="unknown series"):
        curves.update({"d": (x, x)})
