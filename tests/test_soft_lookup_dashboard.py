"""Lesson 01's dashboard: it draws the real kernel regression and softmax weights,
survives extreme values, a click or drag on the fit moves the query, and a session sends
only its first tab (the other is built, with the current state, when it is opened).
"""

import numpy as np
import pytest
from attached import attached
from bokeh.events import Pan, Tap
from panel.io.state import set_curdoc

from attnviz import bench, lookup
from attnviz.dashboards import SoftLookupDashboard, get
from attnviz.dashboards.soft_lookup import ATTENTION, N_FIT_POINTS, REGRESSION

MAX_SESSION_MODELS = 121  # what a fresh session sends (110 models) + 10%: a regression guard


def test_fit_shows_the_real_kernel_regression():
    dashboard, document = attached(
        lambda: SoftLookupDashboard(kernel="epanechnikov", bandwidth=1.3)
    )
    data = lookup.make_regression_data(dashboard.n_points, noise=dashboard.noise, seed=0)
    grid = np.linspace(data.low, data.high, N_FIT_POINTS)
    expected, _ = lookup.nadaraya_watson(
        grid, data.keys, data.values, kernel="epanechnikov", bandwidth=1.3
    )
    drawn = dashboard._regression_views["curve"].data["fit"]
    np.testing.assert_allclose(drawn, expected, equal_nan=True)


def test_attention_heatmap_shows_real_softmax_weights():
    dashboard, document = attached(
        lambda: SoftLookupDashboard(d_k=16, temperature=0.5, scaled=False)
    )
    with set_curdoc(document):
        dashboard.show_tab(ATTENTION)
    expected = lookup.random_attention(16, temperature=0.5, scaled=False, seed=0)
    heatmap = dashboard._attention_views["heatmap"]
    np.testing.assert_allclose(heatmap.cells.data["weight"], expected.ravel())
    assert f"d_k = 16**: mean row entropy **{lookup.entropy(expected).mean():.3f}" in (
        dashboard._readout.object
    )


def test_extreme_values_never_break_the_dashboard():
    dashboard, document = attached(SoftLookupDashboard)
    with set_curdoc(document):
        dashboard.kernel = "boxcar"
        dashboard.bandwidth = dashboard.param.bandwidth.bounds[0]
        dashboard.n_points = dashboard.param.n_points.bounds[0]
        dashboard.query = dashboard.param.query.bounds[1]
        dashboard.d_k = dashboard.param.d_k.bounds[1]
        dashboard.temperature = dashboard.param.temperature.bounds[0]
        dashboard.scaled = False
    assert "no key within h" in dashboard._readout.object
    weights = dashboard._attention_views["heatmap"].cells.data["weight"]
    assert np.all(np.isfinite(weights))


def test_out_of_range_values_are_refused_by_the_parameter():
    dashboard = SoftLookupDashboard()
    with pytest.raises(ValueError, match="bandwidth"):
        dashboard.bandwidth = 0.0


@pytest.mark.parametrize("event_type", [Tap, Pan])
def test_clicking_or_dragging_on_the_fit_moves_the_query(event_type):
    dashboard, document = attached(SoftLookupDashboard)
    fig = dashboard.figures["fit"]
    with set_curdoc(document):
        fig._trigger_event(event_type(model=fig, x=7.25, y=1.0))
        assert dashboard.query == pytest.approx(7.25)
        fig._trigger_event(event_type(model=fig, x=55.0, y=1.0))  # off the axis: clamped
        assert dashboard.query == dashboard.param.query.bounds[1]
    assert "query x = 10.00" in dashboard._readout.object


def test_a_session_sends_only_the_first_tab():
    cost = bench.session_cost(get("soft_lookup"))
    assert cost["models"] <= MAX_SESSION_MODELS, cost
    dashboard, document = attached(SoftLookupDashboard)
    assert set(dashboard.figures) == {"fit", "nw_weights"}
    assert dashboard._tabs.titles == [REGRESSION, ATTENTION]
    assert dashboard._attention_views is None


def test_the_attention_tab_built_later_draws_the_current_state():
    dashboard, document = attached(
        lambda: SoftLookupDashboard(d_k=256, temperature=0.3, scaled=False)
    )
    assert dashboard._attention_views is None  # not built: only the readout knows
    assert "d_k = 256**" in dashboard._readout.object
    with set_curdoc(document):
        dashboard.show_tab(ATTENTION)
    assert set(dashboard.figures) == {"fit", "nw_weights", "attention", "saturation"}
    expected = lookup.random_attention(256, temperature=0.3, scaled=False, seed=0)
    views = dashboard._attention_views
    np.testing.assert_allclose(views["heatmap"].cells.data["weight"], expected.ravel())
    assert views["marker"].data["x"] == [256]
    np.testing.assert_allclose(views["marker"].data["y"], [lookup.entropy(expected).mean()])
    assert document.get_model_by_id(dashboard.figures["saturation"].id) is not None  # sent


def test_moving_a_control_opens_the_tab_it_changes():
    dashboard, document = attached(SoftLookupDashboard)
    with set_curdoc(document):
        dashboard.temperature = 2.0
        assert dashboard._tabs.active == ATTENTION and "attention" in dashboard.figures
        dashboard.query = 6.5
        assert dashboard._tabs.active == REGRESSION
    assert dashboard._regression_views["query_line"].location == 6.5
