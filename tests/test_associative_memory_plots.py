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


def test_criterion_curves_draw_each_criterion_and_the_tolerance_on_log_axes():
    n = np.array([1.0, 2.0, 4.0, 8.0])
    fig = plots.criterion_curves(
        {"mse": (n, (n - 1) / 8), "coherence": (n, n**2)}, tolerance=0.1, labels={"mse": "avg"}
    )
    assert type(fig.x_scale).__name__ == "LogScale" and type(fig.y_scale).__name__ == "LogScale"
    legend = [item.label.value for item in fig.legend[0].items]
    assert legend == ["avg", "coherence"]
    lines = [r for r in fig.renderers if type(r.glyph).__name__ == "Line"]
    # a zero error (one item, no crosstalk) is left off the log axis
    assert list(lines[0].data_source.data["x"]) == [2.0, 4.0, 8.0]
    assert [s.location for s in fig.center if type(s).__name__ == "Span"] == [0.1]
    with pytest.raises(ValueError, match="must not be empty"):
        plots.criterion_curves({})
    with pytest.raises(ValueError, match="N must be positive"):
        plots.criterion_curves({"mse": (n - 1, n)})
    with pytest.raises(ValueError, match="tolerance"):
        plots.criterion_curves({"mse": (n, n)}, tolerance=-1.0)


def test_experiment_strengths_draws_every_group_and_phase_of_a_run():
    from attnviz import conditioning

    result = conditioning.run("blocking", rule="delta")
    fig = plots.experiment_strengths(result)
    lines = next(r for r in fig.renderers if type(r.glyph).__name__ == "MultiLine")
    data = lines.data_source.data
    assert data["label"] == ["A (experimental)", "B (experimental)", "A (control)",
                             "B (control)"]  # fmt: skip
    experimental_b = np.asarray(data["ys"][1])
    np.testing.assert_array_equal(experimental_b, result["experimental"].strength("B"))
    control_b_x = np.asarray(data["xs"][3])  # the control group's compound phase lines up
    assert control_b_x[-1] == result["experimental"].n_trials
    assert fig.title.text == "blocking, delta"
    with pytest.raises(TypeError, match="ExperimentResult"):
        plots.experiment_strengths(result["experimental"])
