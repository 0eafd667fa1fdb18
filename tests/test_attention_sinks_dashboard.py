"""Lesson 08's dashboard: what it draws is what the model does under the cache the controls
name. The map is the head's own attention under that cache (dropped keys grey); evicting
the first token raises the loss, as the lesson claims (StreamingLLM); the loss-by-position
tab draws streaming_curves' lines and shows the policies picked; the heads tab draws the
sink scores and DuoAttention's ranking, the picked head marked; extreme values never
break it."""

import numpy as np
import pytest
from attached import attached
from panel.io.state import set_curdoc

from attnviz import maps, retrieval_heads, sinks
from attnviz.dashboards import AttentionSinksDashboard, entries, get
from attnviz.dashboards import attention_sinks as lesson08
from attnviz.kv_cache import cache_policies
from attnviz.text_models import load_text_model


def test_lesson_08_is_registered():
    entry = get("attention_sinks")
    assert entry.factory is AttentionSinksDashboard
    assert entry.lesson == "08_attention_sinks"
    assert entry in entries()


def test_it_opens_on_the_strongest_sink_head_and_sends_only_the_map():
    dashboard, document = attached(AttentionSinksDashboard)
    scores = sinks.sink_scores(load_text_model("shakespeare"), sinks.sink_passages())
    assert scores[dashboard.layer, dashboard.head] == pytest.approx(scores.max(), abs=1e-6)
    assert set(dashboard.figures) == {"map"}
    assert dashboard.tab_titles == [lesson08.MAP_TAB, lesson08.CURVES_TAB, lesson08.HEADS_TAB]
    with set_curdoc(document):
        dashboard.show_tab(lesson08.HEADS_TAB)
    assert {"sink_scores", "duo_ranking", "mixed_cache"} <= set(dashboard.figures)
    assert dashboard.figures["sink_scores"] in set(document.models)


@pytest.mark.parametrize(("window", "sink"), [(4, False), (16, True), (32, False)])
def test_the_map_is_the_heads_attention_under_the_cache_dropped_keys_grey(window, sink):
    dashboard = AttentionSinksDashboard(layer=2, head=1, window=window, sink=sink)
    model, ids = load_text_model("shakespeare"), lesson08._map_ids()
    policy = lesson08.cache_policy(window, sink)
    with cache_policies(model, policy):
        expected = maps.capture(model, ids).weights[2, 1]
    length = ids.shape[-1]
    drawn = np.asarray(dashboard._map.heatmap.cells.data["weight"]).reshape(length, length)
    dropped = ~policy.keeps(length).numpy() & np.tri(length, dtype=bool)
    assert np.isnan(drawn[dropped]).all() and not np.isnan(drawn[~dropped]).any()
    np.testing.assert_allclose(drawn[~dropped], expected[~dropped], atol=1e-5)
    assert np.isnan(drawn[window + 1 :, 0]).all() != sink  # the first key kept iff the sink is
    assert dashboard._map.heatmap.cells.data["key"][0] == "⟨bos⟩"


def test_moving_a_control_changes_what_is_drawn():
    dashboard = AttentionSinksDashboard(layer=0, head=0)
    before = np.asarray(dashboard._map.heatmap.cells.data["weight"]).copy()
    for change in (dict(head=3), dict(layer=3), dict(window=4), dict(sink=False)):
        dashboard.param.update(change)
        after = np.asarray(dashboard._map.heatmap.cells.data["weight"])
        assert not np.array_equal(before, after, equal_nan=True), change
        before = after.copy()
    assert "L3H3" in dashboard._map.figure.title.text and "window 4" in dashboard.readout


@pytest.mark.parametrize("window", lesson08.WINDOWS)
def test_evicting_the_first_token_raises_the_loss_as_the_lesson_claims(window):
    dashboard = AttentionSinksDashboard(window=window, sink=True)
    kept = dashboard.loss()
    dashboard.sink = False
    evicted = dashboard.loss()
    # measured on the shipped weights: evicting the sink costs the most at small windows
    assert evicted > kept + 0.01, (window, kept, evicted)
    assert f"**{evicted:.3f}**" in dashboard.readout and f"{kept:.3f}" in dashboard.readout


def test_the_loss_by_position_tab_draws_the_streaming_curves_and_the_policies_picked():
    dashboard = AttentionSinksDashboard()
    dashboard.show_tab(lesson08.CURVES_TAB)
    curves = lesson08._curves()
    view = dashboard._curves
    assert view.train_length.location == curves.train_length
    for label, losses in curves.losses.items():
        np.testing.assert_array_equal(view.sources[label].data["y"], losses)
    first = next(iter(curves.losses))  # the window alone
    dashboard.policies = [first, "full"]
    drawn = [label for label, source in view.sources.items() if len(source.data["x"])]
    assert drawn == [first, "full"]
    assert "past the training length" in dashboard._curves_readout.object


def test_the_heads_tab_draws_sink_scores_and_the_duoattention_split_the_head_marked():
    dashboard = AttentionSinksDashboard(layer=1, head=2)
    dashboard.show_tab(lesson08.HEADS_TAB)
    scores = sinks.sink_scores(load_text_model("shakespeare"), sinks.sink_passages())
    np.testing.assert_allclose(dashboard._grid.source.data["value"], scores.ravel(), atol=1e-6)
    assert dashboard._grid.threshold == sinks.SINK_EPSILON
    ranking, curve, saved = lesson08._heads()
    assert ranking.shape == scores.shape
    np.testing.assert_array_equal(dashboard._ranking.source.data["value"], ranking.ravel())
    assert dashboard._grid.marked == (1, 2)
    dashboard.param.update(layer=3, head=0)
    assert dashboard._grid.marked == (3, 0)
    colors = dashboard._ranking.source.data["color"]
    assert colors[12] == lesson08.plots.SELECTED_COLOR and colors.count(colors[12]) == 1
    assert isinstance(curve, retrieval_heads.MixedCache)
    # as lesson 08 §8: on the needle tests the retrieval head L3H2 is the one to keep full
    assert curve.order[0] == (3, 2) and saved["full_heads"] == 1
    assert "1 head keeps the full cache" in dashboard._heads_readout.object
    assert "needle-in-a-haystack" in dashboard._heads_readout.object


def test_extreme_values_are_clamped_and_never_break_the_dashboard():
    dashboard = AttentionSinksDashboard(layer=10**400, head=-3)
    assert (dashboard.layer, dashboard.head) == (3, 0)
    assert "layer = an integer of 401 digits is out of range" in dashboard.status
    assert "Could not" not in dashboard.status
    for values in (dict(layer=0, head=3, window=4, sink=False), dict(window=32, policies=[])):
        dashboard.param.update(values)
        assert "Could not" not in dashboard.status, (values, dashboard.status)
        assert np.isfinite(dashboard.loss())
    with pytest.raises(ValueError, match="window"):
        AttentionSinksDashboard(window=5)
    with pytest.raises(TypeError, match="sink"):
        AttentionSinksDashboard(sink="yes")
    with pytest.raises(ValueError, match="layer"):
        dashboard.layer = 4


def test_missing_weights_are_said_on_the_page_and_never_break_it(monkeypatch):
    def missing():
        raise FileNotFoundError("attnviz/weights/shakespeare.safetensors")

    for name in ("_precompute", "_readings", "_curves", "_heads", "_sink_scores"):
        monkeypatch.setattr(lesson08, name, missing)
    dashboard = AttentionSinksDashboard(layer=1, head=1)
    assert "Could not update" in dashboard.status and "shakespeare" in dashboard.status
    dashboard.show_tab(lesson08.CURVES_TAB)
    dashboard.show_tab(lesson08.HEADS_TAB)
    dashboard.sink = False
    assert "Could not" in dashboard.status
