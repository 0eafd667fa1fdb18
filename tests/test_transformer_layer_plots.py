"""Lesson 01b's figure draws what it is given: signed scores on a scale centred at 0, the
causal mask's −∞ cells grey and named in the hover, and refusals of what it cannot draw."""

import numpy as np
import pytest

from attnviz import plots
from attnviz.plots.transformer_layer import MASKED_COLOR, MAX_CELLS


def test_masked_cells_are_grey_and_say_so():
    scores = np.array([[1.5, -np.inf, -np.inf], [-0.5, 2.0, -np.inf], [0.25, -3.0, 1.0]])
    view = plots.SignedMatrix(scores, ["a", "b", "c"], ["a", "b", "c"], title="scores")
    data = view.cells.data
    assert np.isnan(data["value"][1]) and data["value"][0] == 1.5  # −∞ drawn as "no value"
    assert data["shown"][1] == "masked (−∞)" and data["shown"][3] == "-0.500"
    assert view.mapper.nan_color == MASKED_COLOR
    assert (view.mapper.low, view.mapper.high) == (-3.0, 3.0)  # the largest finite magnitude
    assert data["row"][3] == "b" and data["col"][3] == "a"
    assert view.figure.yaxis[0].major_label_overrides == {0: "a", 1: "b", 2: "c"}


def test_update_swaps_the_numbers_in_place_and_can_fix_the_scale():
    view = plots.SignedMatrix(np.zeros((2, 2)))
    source = view.cells
    view.update(np.arange(12.0).reshape(3, 4) - 6, limit=10.0)
    assert view.cells is source and len(source.data["x"]) == 12
    assert (view.mapper.low, view.mapper.high) == (-10.0, 10.0)
    assert (view.figure.x_range.end, view.figure.y_range.start) == (3.5, 2.5)


def test_it_refuses_what_it_cannot_draw():
    view = plots.SignedMatrix(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"\+inf"):
        view.update(np.array([[np.inf, 0.0]]))
    with pytest.raises(ValueError, match="cells"):
        view.update(np.zeros((1, MAX_CELLS + 1)))
    with pytest.raises(ValueError, match="row_labels must hold 2 labels"):
        view.update(np.ones((2, 2)), ["only one"])
    with pytest.raises(ValueError, match="limit"):
        view.update(np.ones((2, 2)), limit=-1.0)
    with pytest.raises((TypeError, ValueError), match="matrix"):
        view.update("scores")
