"""plots, the general figures every lesson uses (Heatmap, Curves, Bars), the theme, and what
several lessons' figures share. Each lesson's own figures: tests/test_<stem>_plots.py."""

import numpy as np
from bokeh.models import ColorBar, FixedTicker, HoverTool

from attnviz import plots


def test_heatmap_draws_every_cell_with_its_labels_and_weight():
    weights = np.array([[0.7, 0.3], [0.1, 0.9], [0.5, 0.5]])
    heat = plots.Heatmap(weights, ["the", "cat", "sat"], ["A", "B"])
    data = heat.cells.data
    assert list(data["weight"]) == weights.ravel().tolist()
    assert list(zip(data["query"], data["key"], strict=True))[:3] == [
        ("the", "A"),
        ("the", "B"),
        ("cat", "A"),
    ]
    assert heat.figure.xaxis[0].major_label_overrides == {0: "A", 1: "B"}
    assert heat.figure.yaxis[0].major_label_overrides == {0: "the", 1: "cat", 2: "sat"}
    assert heat.mapper.high == 0.9
    assert heat.figure.select_one(ColorBar) is not None
    tooltips = [tool.tooltips for tool in heat.figure.select(HoverTool)]
    assert [("query", "@query"), ("key", "@key"), ("weight", "@weight{0.000}")] in tooltips


def test_heatmap_names_its_values_on_the_colour_bar_and_in_the_hover():
    label = "‖∂y/∂x‖, row-scaled"
    heat = plots.Heatmap(np.eye(2), value_label=label)
    assert heat.figure.select_one(ColorBar).title == label
    tooltips = [tool.tooltips for tool in heat.figure.select(HoverTool)]
    assert [("query", "@query"), ("key", "@key"), (label, "@weight{0.000}")] in tooltips


def test_heatmap_update_keeps_its_models_and_thins_long_label_lists():
    heat = plots.Heatmap(np.eye(3))
    ticker = heat.figure.xaxis[0].ticker
    labels = [f"t{i}" for i in range(100)]
    heat.update(np.full((100, 100), 0.01), labels, labels)
    assert heat.figure.xaxis[0].ticker is ticker  # updated in place, not replaced
    assert isinstance(ticker, FixedTicker) and len(ticker.ticks) == 10
    assert heat.figure.xaxis[0].major_label_overrides[10] == "t10"
    # 100 x 100 cells switch to a single image
    assert len(heat.cells.data["x"]) == 0
    assert heat.image.data["image"][0].shape == (100, 100)
    assert (heat.figure.x_range.start, heat.figure.x_range.end) == (-0.5, 99.5)


def test_heatmap_handles_all_zero_weights():
    heat = plots.Heatmap(np.zeros((2, 2)))
    assert heat.mapper.high == 1.0


def test_heatmap_row_marker():
    heat = plots.Heatmap(np.eye(4))
    heat.mark_row(2)
    assert heat.row_marker.visible and heat.row_marker.location == 2
    heat.mark_row(None)
    assert not heat.row_marker.visible


def test_curves_update_and_mark():
    x = np.arange(5.0)
    curves = plots.Curves({"a": (x, x**2), "b": (x, -x)}, title="t", x_label="x", dashed=("b",))
    assert curves.sources["a"].data["y"].tolist() == [0, 1, 4, 9, 16]
    curves.update("a", x, x + 1)
    assert curves.sources["a"].data["y"].tolist() == [1, 2, 3, 4, 5]
    curves.mark("b", 2.0, -2.0)
    assert curves.markers["b"].data == {"x": [2.0], "y": [-2.0]}
    curves.mark("b", None)
    assert curves.markers["b"].data == {"x": [], "y": []}
    assert [item.label["value"] for item in curves.figure.legend[0].items] == ["a", "b"]


def test_bars_default_positions_and_labels():
    bars = plots.Bars(np.array([0.2, 0.8]))
    assert bars.source.data["x"].tolist() == [0, 1]
    assert bars.source.data["label"] == ["0", "1"]
    bars.update(np.array([1.0]), np.array([3.5]), ["k"])
    assert bars.source.data["label"] == ["k"]


def test_one_theme_for_every_figure():
    fig = plots.themed_figure()
    assert fig.toolbar.logo is None and fig.outline_line_color is None
    assert fig.title.text_font == plots.FONT


def test_head_label():
    assert plots.head_label(1, 3) == "L1H3"


def test_grids_resize_to_their_heads_and_bars_can_name_their_items():
    grid = plots.HeadGrid(np.zeros((1, 1, 2, 2)), cell_px=100)
    grid.update(np.zeros((2, 4, 2, 2)))
    assert (grid.figure.width, grid.figure.height) == (70 + 400, 70 + 200)
    heat = plots.ScoreHeatmap({"s": np.zeros((1, 1))}, "s", cell_px=90)
    heat.update({"s": np.zeros((3, 2))}, "s")
    assert (heat.figure.width, heat.figure.height) == (110 + 180, 80 + 270)
    bars = plots.Bars(np.zeros(2), labels=["L0H0", "L0H1"], label_axis=True)
    assert bars.figure.xaxis[0].major_label_overrides == {0: "L0H0", 1: "L0H1"}


def test_heatmap_refuses_labels_that_do_not_match_its_rows():
    import pytest

    with pytest.raises(TypeError, match="query_labels must be a sequence of 5 labels"):
        plots.Heatmap(np.eye(5), "abc")
    with pytest.raises(ValueError, match="key_labels must hold 5 labels"):
        plots.Heatmap(np.eye(5), None, ["a", "b"])
    with pytest.raises(ValueError, match="weights must be 2-D"):
        plots.Heatmap(np.ones(5))
    heatmap = plots.Heatmap(np.eye(2))
    with pytest.raises(ValueError, match="row must be an integer in"):
        heatmap.mark_row(2)


def test_a_heatmap_draws_nan_as_a_cell_with_no_value_and_refuses_inf():
    import pytest

    first = np.ones((3, 3))
    first[0, 2] = np.nan  # a pair never reached (lesson 04): drawn grey
    heatmap = plots.Heatmap(first)
    assert heatmap.mapper.high == 1.0 and np.isnan(heatmap.cells.data["weight"][2])
    with pytest.raises(ValueError, match="weights must not contain inf"):
        heatmap.update(np.full((2, 2), np.inf))
