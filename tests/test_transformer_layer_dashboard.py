"""Lesson 01b's dashboard draws what attnviz.transformer_layer computes on the shipped lesson
models, shows RoPE's weights unmoved by an offset and learned ones moved, and survives every
extreme setting."""

import numpy as np
from attached import attached
from panel.io.state import set_curdoc

from attnviz.dashboards import TransformerLayerDashboard
from attnviz.dashboards.transformer_layer import MAX_OFFSET, MODELS, N_TOKENS
from attnviz.lesson_models import load_lesson_model
from attnviz.transformer_layer import LESSON_TOKENS, layer_walkthrough


def test_the_figures_are_the_walkthrough_of_the_chosen_head():
    dashboard, _ = attached(lambda: TransformerLayerDashboard(layer=1, head=1, query=7))
    walk = layer_walkthrough(load_lesson_model(MODELS["learned"]), LESSON_TOKENS, layer=1)
    np.testing.assert_allclose(dashboard._weights.cells.data["weight"], walk.weights[1].ravel())
    scores = dashboard._scores.cells.data["value"]
    upper = np.triu(np.ones((N_TOKENS, N_TOKENS), bool), 1).ravel()
    assert np.all(np.isnan(scores[upper]))  # the mask's −∞, drawn grey
    np.testing.assert_allclose(scores[~upper], walk.scores[1].ravel()[~upper], rtol=1e-6)
    stream = np.asarray(dashboard._stream.cells.data["value"]).reshape(4, -1)
    np.testing.assert_allclose(stream[0] + stream[1] + stream[2], stream[3], atol=1e-5)
    np.testing.assert_allclose(stream[3], walk.block_output[7], rtol=1e-6)
    assert "on **8** of 12 keys" in dashboard.readout


def test_moving_the_sentence_moves_learned_scores_not_rope_scores():
    learned, _ = attached(lambda: TransformerLayerDashboard(offset=9, query=11))
    rope, _ = attached(lambda: TransformerLayerDashboard(positional="rope", offset=9, query=11))
    for dashboard, moved in ((learned, True), (rope, False)):
        before = dashboard._row.sources["positions 0, 1, …"].data["y"]
        after = dashboard._row.sources["moved by offset"].data["y"]
        assert bool(np.abs(before - after).max() > 0.1) is moved
    assert "RoPE: only m − n counts" in rope.readout


def test_without_the_mask_every_key_is_seen():
    dashboard, _ = attached(lambda: TransformerLayerDashboard(causal=False, query=0))
    assert not np.any(np.isnan(dashboard._scores.cells.data["value"]))
    assert "**no mask**" in dashboard.readout and "on **12** of 12 keys" in dashboard.readout


def test_every_extreme_setting_draws_finite_numbers():
    dashboard, document = attached(TransformerLayerDashboard)
    with set_curdoc(document):
        for positional in MODELS:
            dashboard.positional = positional
            for offset in (0, MAX_OFFSET):
                for query in (0, N_TOKENS - 1):
                    dashboard.param.update(offset=offset, query=query, layer=1, head=1)
                    assert np.all(np.isfinite(dashboard._weights.cells.data["weight"]))
    out_of_range = TransformerLayerDashboard(offset=10**400, query=-5)
    assert (out_of_range.offset, out_of_range.query) == (MAX_OFFSET, 0)
    assert len(out_of_range.preset_notes) == 2
