"""Lesson 02's figures: the model view grid and the long head view (an overview, a window)."""

import numpy as np
import pytest
from bokeh.events import Tap
from bokeh.models import HoverTool, TapTool

from attnviz import plots
from attnviz.plots.attention_maps import HeadBars


def _causal_uniform(n: int) -> np.ndarray:
    """Each query spreads its weight evenly over itself and every earlier key."""
    weights = np.tril(np.ones((n, n), dtype=np.float32))
    return weights / weights.sum(axis=1, keepdims=True)


def _block_means(weights: np.ndarray, size: int) -> np.ndarray:
    n = weights.shape[0]
    return weights.reshape(size, n // size, size, n // size).mean(axis=(1, 3))


def test_head_grid_draws_one_thumbnail_per_head_in_its_cell():
    thumbnails = np.random.default_rng(0).random((2, 3, 8, 8))
    grid = plots.HeadGrid(thumbnails, {"entropy": np.arange(6.0).reshape(2, 3)})
    images = grid.images.data
    assert len(images["image"]) == 6
    # layer 1, head 1, sent as float32 (half the bytes; weights need no more digits)
    assert images["image"][4].dtype == np.float32
    np.testing.assert_allclose(images["image"][4], thumbnails[1, 1], rtol=1e-6)
    assert images["x"][4] == pytest.approx(1 + grid.GAP / 2)
    assert images["y"][4] == pytest.approx(1 + grid.GAP / 2)
    assert grid.boxes.data["label"] == ["L0H0", "L0H1", "L0H2", "L1H0", "L1H1", "L1H2"]
    assert list(grid.boxes.data["entropy"]) == [0, 1, 2, 3, 4, 5]
    assert grid.shape == (2, 3)
    assert grid.figure.yaxis[0].major_label_overrides == {0.5: "L0", 1.5: "L1"}
    (hover,) = grid.figure.select(HoverTool)
    assert ("entropy", "@{entropy}{0.000}") in hover.tooltips
    assert grid.figure.select_one(TapTool).renderers == [grid.box_renderer]


def test_tapping_a_thumbnail_selects_that_head_and_calls_back():
    grid = plots.HeadGrid(np.zeros((2, 4, 4, 4)))
    chosen = []
    grid.on_select(lambda layer, head: chosen.append((layer, head)))
    assert grid.selected is None
    grid.boxes.selected.indices = [6]  # what a tap in the browser sends back
    assert grid.selected == (1, 2) and chosen == [(1, 2)]
    grid.select(0, 3)
    assert grid.boxes.selected.indices == [3] and chosen[-1] == (0, 3)
    grid.select(None)
    assert grid.selected is None
    with pytest.raises(ValueError, match=r"\(layer, head\) must be within \(2, 4\)"):
        grid.select(2, 0)


def test_head_grid_update_resizes_and_drops_a_selection_that_no_longer_exists():
    grid = plots.HeadGrid(np.zeros((4, 4, 2, 2)))
    grid.select(3, 3)
    grid.update(np.ones((2, 2, 2, 2)), high=0.5)
    assert grid.shape == (2, 2) and grid.selected is None
    assert grid.mapper.high == 0.5
    assert len(grid.boxes.data["label"]) == 4
    with pytest.raises(ValueError, match="thumbnails must have shape"):
        grid.update(np.zeros((2, 2, 2)))


def test_head_grid_refuses_scores_it_was_not_built_with():
    grid = plots.HeadGrid(np.zeros((1, 2, 2, 2)), {"sink": np.zeros((1, 2))})
    with pytest.raises(ValueError, match=r"scores must name \['sink'\]"):
        grid.update(np.zeros((1, 2, 2, 2)), {"entropy": np.zeros((1, 2))})


def test_head_view_of_4096_tokens_builds_from_an_overview_and_a_window():
    n, window = 4096, 64
    weights = _causal_uniform(n)
    overview = _block_means(weights, 256)
    tokens = [f"t{i}" for i in range(n)]
    q0, k0 = 2000, 1990
    view = plots.LongHeadView(
        overview,
        n,
        n,
        weights[q0 : q0 + window, k0 : k0 + window],
        (q0, k0),
        tokens[q0 : q0 + window],
        tokens[k0 : k0 + window],
    )
    # the overview is one 256 x 256 image stretched over all 4096 positions
    assert view.image.data["image"][0].shape == (256, 256)
    assert (view.image.data["dw"][0], view.image.data["dh"][0]) == (n, n)
    assert (view.figure.y_range.start, view.figure.y_range.end) == (n, 0)  # query 0 on top
    # the zoom draws the exact window cell by cell, with positions and tokens
    cells = view.zoom.cells.data
    assert len(cells["weight"]) == window * window
    assert cells["query"][0] == "2000 t2000" and cells["key"][1] == "1991 t1991"
    np.testing.assert_allclose(cells["weight"][:2], 1 / 2001)
    box = view.window_box
    assert (box.left, box.right, box.top, box.bottom) == (k0, k0 + window, q0, q0 + window)
    assert set(view.figures) == {"overview", "zoom"}


def test_head_view_hover_names_query_key_and_weight():
    view = plots.LongHeadView(np.eye(2), 4, 4, np.eye(2))
    tooltips = [tool.tooltips for tool in view.zoom.figure.select(HoverTool)]
    assert [("query", "@query"), ("key", "@key"), ("weight", "@weight{0.000}")] in tooltips
    (overview_hover,) = view.figure.select(HoverTool)
    assert ("mean weight in block", "@image{0.0000}") in overview_hover.tooltips


def test_tapping_the_overview_reports_token_positions():
    view = plots.LongHeadView(np.eye(4), 4096, 4096, np.eye(8))
    picked = []
    view.on_pick(lambda query, key: picked.append((query, key)))
    view.figure._trigger_event(Tap(model=view.figure, x=1234.7, y=3000.2))
    view.figure._trigger_event(Tap(model=view.figure, x=float("nan"), y=1.0))  # ignored
    assert picked == [(3000, 1234)]


def test_head_view_window_update_moves_only_the_window():
    view = plots.LongHeadView(np.eye(4), 100, 100, np.eye(8))
    image = view.image.data["image"][0]
    view.update_window(np.full((8, 8), 0.125), (50, 40), list("abcdefgh"), list("abcdefgh"))
    assert view.image.data["image"][0] is image
    assert view.window_start == (50, 40)
    assert view.zoom.cells.data["query"][0] == "50 a"
    view.update_overview(np.full((2, 2), 0.3), 10, 20, high=0.1)
    assert view.mapper.high == 0.1 and view.figure.x_range.end == 20
    with pytest.raises(ValueError, match="overview must be a 2-D array"):
        view.update_overview(np.zeros(3), 3, 3)


def test_cross_hairs_mark_a_window_smaller_than_the_map_only():
    view = plots.LongHeadView(np.eye(4), 4096, 4096, np.eye(40), (1000, 2000))
    assert [span.location for span in view.crosshair] == [1020, 2020]
    assert all(span.visible for span in view.crosshair)
    view.update(np.eye(3), 3, 3, np.eye(3))
    assert not any(span.visible for span in view.crosshair)


def test_head_view_builds_its_overview_the_first_time_it_is_read():
    view = plots.LongHeadView(np.eye(4), 4, 4, np.eye(4))
    picked = []
    view.on_pick(lambda query, key: picked.append((query, key)))  # before the overview
    view.overview_title = "L1H0 over the whole input"
    view.update(np.full((2, 2), 0.5), 300, 200, np.eye(8), (10, 20))
    assert not view.overview_built  # a dashboard showing a short input never builds it
    fig = view.figure  # built now, drawing what was given last
    assert view.overview_built and view.figure is fig
    assert fig.title.text == "L1H0 over the whole input"
    assert (fig.x_range.end, fig.y_range.start) == (200, 300)
    assert view.image.data["image"][0].dtype == np.float32
    assert (view.window_box.left, view.window_box.top) == (20, 10)
    fig._trigger_event(Tap(model=fig, x=12.5, y=250.5))
    assert picked == [(250, 12)]
    view.overview_title = "L0H1 over the whole input"
    assert fig.title.text == "L0H1 over the whole input"


def test_head_bars_draw_entropy_and_sink_side_by_side_on_one_figure():
    bars = HeadBars(eps=0.3)
    entropy, sink = np.array([[0.7, 0.6], [0.2, 0.25]]), np.array([[0.1, 0.05], [0.4, 0.2]])
    bars.update(entropy, sink)
    data = bars.source.data
    assert data["label"] == ["L0H0", "L0H1", "L1H0", "L1H1"]
    np.testing.assert_allclose(data["entropy"], entropy.ravel())
    np.testing.assert_allclose(data["sink"], sink.ravel())
    np.testing.assert_allclose(data["left"], np.arange(4) - HeadBars.OFFSET)
    np.testing.assert_allclose(data["right"], np.arange(4) + HeadBars.OFFSET)
    # both series read the one source through one view: one renderer's models more
    assert [bar.data_source for bar in bars.bars] == [bars.source] * 2
    assert bars.bars[0].view is bars.bars[1].view
    assert bars.threshold.location == 0.3
    (hover,) = bars.figure.select(HoverTool)
    assert ("sink α₁", "@sink{0.000}") in hover.tooltips
    assert bars.figure.xaxis[0].major_label_overrides == {
        0: "L0H0",
        1: "L0H1",
        2: "L1H0",
        3: "L1H1",
    }
    with pytest.raises(ValueError, match="entropy and sink must be"):
        bars.update(np.zeros((2, 2)), np.zeros((2, 3)))
