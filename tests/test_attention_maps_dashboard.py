"""Lesson 02's dashboard: what it draws is what the model computes, its inputs come in
every length asked for, long inputs get a pooled overview and an exact zoom, and a session
sends only the maps (the per-head numbers are built, with the current input, when their
tab is opened; the overview with the first input longer than the zoom).
"""

import numpy as np
import pytest
import torch
from attached import attached
from bokeh.events import Tap
from panel.io.state import set_curdoc

from attnviz import bench, maps, models
from attnviz.dashboards import AttentionMapsDashboard, get
from attnviz.dashboards import attention_maps as lesson02

MAX_SESSION_MODELS = 105  # what a fresh session sends (95 models) + 10%: a regression guard


def _long_model(context: int = 4096) -> models.TinyTransformer:
    """A small model that reads long inputs (rotary positions), untrained but real."""
    config = models.TinyConfig(
        n_layers=2, n_heads=2, d_model=32, vocab_size=48, context=context, positional="rope"
    )
    return models.TinyTransformer(config, seed=0)


def test_repeated_tokens_repeat_again_and_again_on_long_inputs():
    # a block of distinct tokens fits once in 2 * 47 + 1 tokens; longer inputs repeat all
    # 47 tokens until full, so an induction head has an earlier copy to find everywhere
    short, _ = maps.preset_input("repeated tokens", 95, 48, 0)
    assert len(set(short[1:48].tolist())) == 47 and (short[48:] == short[1:48]).all()
    ids, labels = maps.preset_input("repeated tokens", 4096, 48, 0)
    assert len(ids) == len(labels) == 4096 and ids[0] == 0 and labels[0] == "BOS"
    block = ids[1:48]
    assert sorted(block.tolist()) == list(range(1, 48))
    np.testing.assert_array_equal(ids[48:], np.resize(block, 4096 - 48))


def test_model_view_and_head_view_show_the_captured_weights():
    dashboard, _ = attached(lambda: AttentionMapsDashboard(head="L0H1", seed=3))
    model = models.load_lesson_model("induction_2l")
    ids, labels = maps.preset_input("repeated tokens", 33, 48, 3)
    captured = maps.capture(model, torch.as_tensor(ids), tokens=labels)
    # one thumbnail per head, each the head's full 33 x 33 map (short inputs are not pooled)
    images = dashboard._grid.images.data["image"]
    assert len(images) == captured.n_layers * captured.n_heads
    np.testing.assert_allclose(images[1], captured.head(0, 1), rtol=1e-6)
    # the zoom shows every token, exact weights, labelled "position token"
    cells = dashboard._head_view.zoom.cells.data
    np.testing.assert_allclose(cells["weight"], captured.head(0, 1).ravel(), rtol=1e-6)
    assert cells["query"][0] == "0 BOS" and cells["key"][1] == f"1 {labels[1]}"
    # per-head numbers are the maps module's (on the second tab, built when opened)
    dashboard.show_tab(lesson02.NUMBERS)
    numbers = dashboard._numbers.source.data
    np.testing.assert_allclose(numbers["sink"], maps.sink_score(captured).ravel())
    np.testing.assert_allclose(numbers["entropy"], maps.entropy(captured, normalize=True).ravel())
    assert numbers["label"] == ["L0H0", "L0H1", "L1H0", "L1H1"]
    assert dashboard._grid.selected == (0, 1)
    sink = maps.sink_score(captured)[0, 1]
    assert f"sink α₁ **{sink:.3f}**" in dashboard._readout.object


def test_tapping_a_thumbnail_enlarges_that_head():
    dashboard, document = attached(AttentionMapsDashboard)
    with set_curdoc(document):
        dashboard._grid.boxes.selected.indices = [0]  # what a tap in the browser sends
    assert dashboard.head == "L0H0"
    assert dashboard.controls["head"].value == "L0H0"
    assert "**L0H0**" in dashboard._readout.object


def test_typed_words_repeat_their_ids_and_label_the_axes():
    ids, labels = maps.preset_input("your tokens", 64, 48, 0, "a cat a cat dog")
    assert labels == ["BOS", "a", "cat", "a", "cat", "dog"]
    assert ids.tolist() == [0, 1, 2, 1, 2, 3]
    ids, labels = maps.preset_input("your tokens", 64, 48, 0, "5 7 50")
    assert ids.tolist() == [0, 5, 7, 2]  # ids wrap into the vocabulary
    with pytest.raises(ValueError, match="type at least one word"):
        maps.preset_input("your tokens", 64, 48, 0, "   ")
    dashboard, document = attached(lambda: AttentionMapsDashboard(preset="your tokens"))
    with set_curdoc(document):
        dashboard.text = "the dog saw the dog"
    assert dashboard._head_view.zoom.cells.data["query"][-1] == "5 dog"


@pytest.mark.parametrize("preset", list(maps.INPUT_PRESETS))
@pytest.mark.parametrize("length", [2, 3, 33, 4096])
def test_every_preset_gives_the_length_asked_for_or_says_why(preset, length):
    ids, labels = maps.preset_input(preset, length, 48, 1, "one two three")
    assert 1 <= len(ids) <= length and len(labels) == len(ids)
    assert ids.min() >= 0 and ids.max() < 48
    if preset in ("repeated tokens", "random tokens", "needle in a haystack"):
        assert len(ids) == length


def test_lengths_beyond_the_model_are_clamped_with_a_message():
    dashboard, document = attached(AttentionMapsDashboard)
    with set_curdoc(document):
        dashboard.seq_len = 4096
    assert dashboard._analysis.maps.seq_len == 33
    assert dashboard._status.visible
    assert "reads at most 33 tokens: showing 33" in dashboard._status.object


def test_a_4096_token_input_shows_a_pooled_overview_and_an_exact_zoom():
    model = _long_model()
    dashboard, document = attached(
        lambda: AttentionMapsDashboard(extra_models={"long": model}, seq_len=4096, head="L1H1")
    )
    analysis = dashboard._analysis
    assert analysis.maps.seq_len == 4096 and not dashboard._status.visible
    assert analysis.thumbnails.shape == (2, 2, lesson02.THUMBNAIL, lesson02.THUMBNAIL)
    image = dashboard._head_view.image.data["image"][0]
    assert image.shape == (lesson02.OVERVIEW, lesson02.OVERVIEW)
    assert dashboard._head_view.image.data["dw"][0] == 4096
    # the zoom sliders appear (and count as controls) only for inputs longer than the zoom
    assert {"zoom_query", "zoom_key"} <= set(dashboard.controls)
    # tapping the overview centres the exact zoom window there
    fig = dashboard.figures["overview"]
    with set_curdoc(document):
        fig._trigger_event(Tap(model=fig, x=1000.5, y=3000.5))
    assert (dashboard.zoom_query, dashboard.zoom_key) == (2980, 980)
    cells = dashboard._head_view.zoom.cells.data
    weights = analysis.maps.head(1, 1)[2980:3020, 980:1020]
    np.testing.assert_allclose(cells["weight"], weights.ravel(), rtol=1e-6)
    assert cells["query"][0].startswith("2980 ")


def test_long_inputs_compute_in_a_worker_thread_when_served(monkeypatch):
    model = _long_model(context=1024)
    dashboard, document = attached(lambda: AttentionMapsDashboard(extra_models={"long": model}))
    finished = []
    monkeypatch.setattr(AttentionMapsDashboard, "_served", lambda self: True)
    monkeypatch.setattr(document, "add_next_tick_callback", lambda fn: finished.append(fn))
    with set_curdoc(document):
        dashboard.seq_len = 1024
        assert dashboard._status.visible and "computing the maps of 1,024 tokens" in (
            dashboard._status.object
        )
        assert dashboard._analysis.maps.seq_len == 33  # still the old input meanwhile
        dashboard.wait()
        for callback in finished:  # what the server runs on its next tick
            callback()
    assert dashboard._analysis.maps.seq_len == 1024 and not dashboard._status.visible


def test_a_failing_input_shows_a_message_instead_of_raising():
    dashboard, document = attached(lambda: AttentionMapsDashboard(preset="your tokens"))
    with set_curdoc(document):
        dashboard.text = ""
    assert dashboard._status.visible and "type at least one word" in dashboard._status.object
    with set_curdoc(document):
        dashboard.text = "back to words"
    assert not dashboard._status.visible


def test_a_session_sends_the_maps_only_and_a_tab_built_later_draws_the_current_input():
    cost = bench.session_cost(get("attention_maps"))
    assert cost["models"] <= MAX_SESSION_MODELS, cost
    dashboard, document = attached(AttentionMapsDashboard)
    # 33 tokens fit the zoom: it shows the whole map, and no overview is built
    assert set(dashboard.figures) == {"heads", "zoom"}
    assert dashboard._numbers is None
    with set_curdoc(document):
        dashboard.param.update(preset="random tokens", seed=7)  # while the bars are not built
        dashboard.show_tab(lesson02.NUMBERS)
    assert set(dashboard.figures) == {"heads", "zoom", "numbers"}
    model = models.load_lesson_model("induction_2l")
    ids, labels = maps.preset_input("random tokens", 33, 48, 7)
    captured = maps.capture(model, torch.as_tensor(ids), tokens=labels)
    numbers = dashboard._numbers.source.data
    np.testing.assert_allclose(numbers["sink"], maps.sink_score(captured).ravel(), rtol=1e-6)
    assert document.get_model_by_id(dashboard.figures["numbers"].id) is not None  # sent
    with set_curdoc(document):
        dashboard.seed = 8  # drawn at once now that the bars are built
        dashboard.show_tab(lesson02.MAPS)
    ids, labels = maps.preset_input("random tokens", 33, 48, 8)
    captured = maps.capture(model, torch.as_tensor(ids), tokens=labels)
    sink = dashboard._numbers.source.data["sink"]
    np.testing.assert_allclose(sink, maps.sink_score(captured).ravel(), rtol=1e-6)


def test_the_overview_and_zoom_sliders_come_with_the_first_long_input():
    model = _long_model(context=256)
    dashboard, document = attached(lambda: AttentionMapsDashboard(extra_models={"long": model}))
    assert not dashboard._head_view.overview_built and not dashboard._zoom_box.objects
    with set_curdoc(document):
        dashboard.head = "L1H1"
        dashboard.seq_len = 200  # computed now: not served, and under SYNC_TOKENS
    assert set(dashboard.figures) == {"heads", "overview", "zoom"}
    overview = dashboard.figures["overview"]
    assert document.get_model_by_id(overview.id) is not None
    assert overview.title.text == "L1H1 over the whole input"
    assert dashboard._head_view.image.data["dw"] == [200]
    assert len(dashboard._zoom_box.objects) == 2
    with set_curdoc(document):
        dashboard.seq_len = 30  # short again: the zoom shows it all, the overview goes
    assert document.get_model_by_id(overview.id) is None
    assert not dashboard._zoom_box.objects and "overview" in dashboard.figures  # kept, built


def test_the_readings_kept_are_bounded_in_bytes_too(monkeypatch):
    """A 4,096-token reading holds about 269 MB: a session keeps at most CACHE_MEGABYTES of
    readings (the newest always), not CACHE_SIZE of them (issue #13: memory comes back)."""
    from attnviz.shared_cache import nbytes

    dashboard, document = attached(lambda: AttentionMapsDashboard(seq_len=24))
    one = nbytes(next(iter(dashboard._cache.values())))
    monkeypatch.setattr(lesson02, "CACHE_MEGABYTES", 2.5 * one / 1e6)  # room for two
    with set_curdoc(document):
        for seed in range(1, 5):
            dashboard.seed = seed
    assert len(dashboard._cache) == 2 and sum(dashboard._sizes.values()) <= 2.5 * one
    assert list(dashboard._cache)[-1] == dashboard._input_key()[0]  # the one shown is kept
    monkeypatch.setattr(lesson02, "CACHE_MEGABYTES", one / 1e7)  # smaller than any reading
    with set_curdoc(document):
        dashboard.seed = 9
    assert len(dashboard._cache) == 1  # the newest stays, whatever its size


def test_a_bare_multihead_attention_is_read_through_the_dashboards_embedding():
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(8, 2)
    dashboard = AttentionMapsDashboard(extra_models={"mha": mha})
    assert dashboard.model == "mha" and not dashboard._status.visible
    assert dashboard.param.head.objects == ["L0H0", "L0H1"]
    ids, labels = maps.preset_input(dashboard.preset, 33, lesson02.EMBEDDING_VOCAB, 0)
    expected = maps.capture(mha, lesson02._model_input(mha, ids), tokens=labels)
    np.testing.assert_allclose(dashboard._analysis.maps.weights, expected.weights, atol=1e-6)
    assert dashboard.shown_tokens == 33


def test_extra_models_of_the_wrong_kind_are_refused_by_name():
    with pytest.raises(TypeError, match="extra_models"):
        AttentionMapsDashboard(extra_models=["mha"])
    with pytest.raises(TypeError, match=r"extra_models\['linear'\]"):
        AttentionMapsDashboard(extra_models={"linear": torch.nn.Linear(2, 2)})


def test_a_stale_head_from_the_browser_moves_to_a_head_there_is():
    dashboard = AttentionMapsDashboard(head="L1H1")
    dashboard.model = "induction_1l"  # one layer: L1H1 is gone
    select = dashboard.controls["head"]
    select.value = "L1H1"  # what a browser still showing the old options sends: never raises
    assert dashboard.head in ("L0H0", "L0H1")
    assert dashboard.param.head.objects == ["L0H0", "L0H1"]
    select.value = "L0H1"
    assert dashboard.head == "L0H1"


def test_past_its_context_a_rope_model_is_streamed_and_its_map_never_held():
    # context 256: a 600-token input is past it, so the dashboard streams the maps (q, k
    # and the log-sum-exp) instead of clamping; the same weights with a longer context
    # hold the whole map, which the streamed views must equal
    model, whole = _long_model(context=256), _long_model(context=1024)
    dashboard, document = attached(
        lambda: AttentionMapsDashboard(extra_models={"long": model}, head="L1H1")
    )
    with set_curdoc(document):
        dashboard.seq_len = 600
    analysis = dashboard._analysis
    assert isinstance(analysis, maps.LongReading) and dashboard.shown_tokens == 600
    assert not dashboard._status.visible  # no "reads at most" note: nothing was clamped
    ids, labels = maps.preset_input("repeated tokens", 600, 48, 0)
    held = maps.read_heads(whole, torch.as_tensor(ids), labels, thumbnail=lesson02.THUMBNAIL)
    np.testing.assert_allclose(analysis.sink, held.sink, atol=1e-6)
    np.testing.assert_allclose(analysis.entropy, held.entropy, atol=1e-5)
    image = dashboard._head_view.image.data["image"][0]
    expected = maps.downsample(held.maps.head(1, 1), lesson02.OVERVIEW, reduce="max").values
    np.testing.assert_allclose(image, expected, atol=2e-5)
    assert dashboard._head_view.image.data["dw"][0] == 600
    with set_curdoc(document):
        dashboard.param.update(zoom_query=300, zoom_key=250)  # one window recomputed
    cells = dashboard._head_view.zoom.cells.data
    weights = held.maps.head(1, 1)[300:340, 250:290]
    np.testing.assert_allclose(cells["weight"], weights.ravel(), atol=2e-5)
    assert "600 tokens" in dashboard._readout.object


def test_the_long_view_offers_65536_tokens_only_to_models_that_can_read_them():
    assert lesson02._readable(models.load_lesson_model("induction_rope")) == 65_536
    assert lesson02._readable(models.load_lesson_model("induction_2l")) == 33  # learned positions
    assert lesson02.AttentionMapsDashboard.param.seq_len.bounds == (2, 65_536)


def test_a_streamed_reading_is_computed_off_the_event_loop_and_cached(monkeypatch):
    model = _long_model(context=256)
    dashboard, document = attached(lambda: AttentionMapsDashboard(extra_models={"long": model}))
    finished = []
    monkeypatch.setattr(AttentionMapsDashboard, "_served", lambda self: True)
    monkeypatch.setattr(document, "add_next_tick_callback", lambda fn: finished.append(fn))
    with set_curdoc(document):
        dashboard.seq_len = 700  # past the context: streamed, in the worker thread
        assert "computing the maps of 700 tokens" in dashboard._status.object
        dashboard.wait()
        for callback in finished:
            callback()
    analysis = dashboard._analysis
    assert isinstance(analysis, maps.LongReading) and analysis.maps.seq_len == 700
    with set_curdoc(document):
        dashboard.seq_len = 33
        dashboard.seq_len = 700  # from the cache: shown at once, no second computation
    assert dashboard._analysis is analysis and not dashboard._status.visible
