"""The receptive-field builders: the reach map, the strip and the per-pattern curves."""

import numpy as np
import pytest

from attnviz import plots
from attnviz.plots.receptive_fields import first_layers, layer_hover, layer_mapper


def test_reach_map_draws_first_layers_never_and_the_future():
    first = np.array([[0, -1, -1], [1, 0, -1], [3, 2, 0]])
    view = plots.ReachMap()
    view.update(first, 3, 2, causal=True)
    image = view.source.data["image"][0]
    assert image.dtype == np.int8  # a quarter of float32's bytes per cell
    expected = np.array([[0, np.nan, np.nan], [1, 0, np.nan], [-1, 2, 0]])  # 3 > 2 layers
    np.testing.assert_array_equal(first_layers(image), expected)
    assert image[0, 2] > view.mapper.high  # the future: above the scale, drawn white
    assert view.mapper.high_color == plots.FUTURE_COLOR
    assert view.source.data["dw"] == [3] and view.source.data["dh"] == [3]
    assert len(view.mapper.palette) == 3 and view.mapper.low_color == plots.NEVER_COLOR
    # not causal: keys after the query keep their layers
    view.update(np.array([[0, 1], [1, 0]]), 2, 4, causal=False)
    np.testing.assert_array_equal(view.source.data["image"][0], [[0, 1], [1, 0]])
    assert len(view.mapper.palette) == 5
    # more layers than int8 holds: int16, the same reading
    view.update(np.array([[0, -1], [150, 0]]), 2, 200, causal=True)
    image = view.source.data["image"][0]
    assert image.dtype == np.int16
    np.testing.assert_array_equal(first_layers(image), [[0, np.nan], [150, 0]])
    with pytest.raises(ValueError, match="2-D"):
        view.update(np.zeros(3), 3, 1, causal=True)


def test_reach_strip_spans_the_keys_it_covers():
    view = plots.ReachStrip()
    view.update(np.array([2, -1, 1, 0]), 4096, 1)
    np.testing.assert_array_equal(view.source.data["image"][0], [[-1, -1, 1, 0]])
    assert view.source.data["dw"] == [4096] and view.figure.x_range.end == 4096


def test_map_and_strip_can_share_one_scale():
    mapper = layer_mapper()
    hover = layer_hover(mapper)
    reach, strip = plots.ReachMap(mapper=mapper, hover=hover), plots.ReachStrip(mapper=mapper)
    assert reach.mapper is strip.mapper is mapper
    strip.update(np.array([0, 1, 5]), 3, 5)
    assert len(reach.mapper.palette) == 6  # one colour per layer 0..5, for both


def test_pattern_curves_show_a_subset_and_switch_to_log_axes():
    curves = plots.PatternCurves(["a", "b", "c"])
    assert list(curves.figures) == [False]  # the log-log twin waits until it is asked for
    x = np.arange(4)
    curves.update({"b": (x, [0.25, 0.5, 1.0, 1.0]), "a": (x, [0.25, 0.3, 0.4, 0.5])}, highlight="b")
    shown = curves.shown()
    assert list(shown) == ["a", "b"]  # in the order of the names, the legend too
    assert list(shown["b"][0]) == [0, 1, 2, 3]
    data = curves.sources[False].data
    assert data["width"] == [2, 4]  # the highlighted one thicker
    assert data["color"][0] != data["color"][1]
    curves.mark(2)
    assert curves.dots[False].data["y"] == [0.4, 1.0] and curves.dots[False].data["x"] == [2, 2]
    assert curves.figure is curves.figures[False]
    curves.set_log(True)  # built now, from the series kept
    assert curves.figure is curves.figures[True] and not curves.figures[False].visible
    assert list(curves.shown(log=True)["b"][0]) == [1, 2, 3]  # no layer 0 on a log axis
    assert curves.dots[True].data["y"] == [0.4, 1.0]
    curves.update({"c": (x, [0.1, 0.2, 0.3, 0.4])})
    assert list(curves.shown(True)) == ["c"] and list(curves.shown(False)) == ["c"]
    assert curves.dots[True].data["name"] == ["c"]
    curves.set_log(False)
    assert curves.figures[False].visible and not curves.figures[True].visible
    assert len(curves.figures) == 2  # switching back and forth builds nothing new
    with pytest.raises(ValueError, match="unknown series"):
        curves.update({"d": (x, x)})
