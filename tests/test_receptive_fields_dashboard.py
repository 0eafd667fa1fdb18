"""Lesson 04's dashboard: every control survives its range and changes what is drawn, the
reach map and the table are the computation's numbers, bad values are clamped."""

import math

import numpy as np
import pytest
from attached import attached, drawn
from panel.io.state import set_curdoc

from attnviz.bench import control_values
from attnviz.dashboards import ReceptiveFieldsDashboard, entries, get
from attnviz.dashboards import receptive_fields as lesson04
from attnviz.kernels.masks import PATTERNS, make_mask
from attnviz.plots.receptive_fields import first_layers
from attnviz.receptive import NEVER, receptive_field

SESSION_MODELS = 94  # a fresh session's document: 85 models (issue #13), and 10% to spare


def _row(dashboard, pattern: str) -> dict:
    (row,) = [row for row in dashboard.table_rows if row["pattern"] == pattern]
    return row


def _image(dashboard) -> np.ndarray:
    """The reach map's first layers (NaN: the future of a causal query)."""
    return first_layers(dashboard._reach.source.data["image"][0])


def test_lesson_04_is_registered():
    entry = get("receptive_fields")
    assert entry.factory is ReceptiveFieldsDashboard and entry.lesson == "04_receptive_fields"
    assert entry.title == "04 · Receptive fields"
    assert entry in entries()


def test_every_control_across_its_range_changes_the_figures():
    dashboard, document = attached(ReceptiveFieldsDashboard)
    with set_curdoc(document):
        dashboard.show_tab(lesson04.COVERAGE_TAB)  # every figure built
        for name, widget in dashboard.controls.items():
            before = drawn(dashboard)
            changed = False
            for value in control_values(widget, 9):  # ends of every range included
                widget.value = value
                changed = changed or drawn(dashboard) != before
            assert changed, f"moving {name!r} never changed a figure"
            assert "Could not" not in dashboard._status.object, dashboard._status.object


@pytest.mark.parametrize("pattern", [p for p in PATTERNS if lesson04.PATTERN_PARAMETERS[p]])
def test_every_pattern_parameter_across_its_range_changes_the_figures(pattern):
    dashboard, document = attached(lambda: ReceptiveFieldsDashboard(pattern=pattern, seq_len=256))
    with set_curdoc(document):
        own = {k: w for k, w in dashboard.controls.items() if k.startswith(pattern + ".")}
        assert set(own) == {f"{pattern}.{arg}" for arg in lesson04.PATTERN_PARAMETERS[pattern]}
        for name, widget in own.items():
            before = drawn(dashboard)
            changed = False
            initial = widget.value
            for value in control_values(widget, 7):
                widget.value = value
                changed = changed or drawn(dashboard) != before
            widget.value = initial  # as attnviz bench does: each slider from the defaults
            assert changed, f"moving {name!r} never changed a figure"
            assert "Could not" not in dashboard._status.object, dashboard._status.object


def test_compare_shows_the_chosen_patterns_and_always_the_inspected_one():
    dashboard, document = attached(ReceptiveFieldsDashboard)
    with set_curdoc(document):
        dashboard.show_tab(lesson04.COVERAGE_TAB)
        curves = dashboard._curves
        for chosen in ([], list(PATTERNS), ["longnet", "bigbird"], ["dilated"]):
            dashboard.compare = chosen
            shown = [dashboard.pattern, *(p for p in chosen if p != dashboard.pattern)]
            assert list(dashboard.fields) == shown
            assert [row["pattern"] for row in dashboard.table_rows] == shown
            assert set(curves.shown()) == set(shown)
            assert list(curves.shown()) == [p for p in PATTERNS if p in shown]  # legend order
    assert "Could not" not in dashboard._status.object


def test_reach_map_is_the_first_layer_matrix_for_a_small_case():
    t = 64
    dashboard, _ = attached(
        lambda: ReceptiveFieldsDashboard(
            pattern="sliding_window",
            seq_len=t,
            layers=lesson04.MAX_LAYERS,
            pattern_params={"sliding_window": {"window": 5}},
        )
    )
    first = receptive_field(make_mask("sliding_window", window=5), t, lesson04.MAX_LAYERS)
    expected = np.where(np.tri(t, dtype=bool), first.first_layer, np.nan)
    np.testing.assert_array_equal(_image(dashboard), expected)
    np.testing.assert_array_equal(dashboard._strip.source.data["image"][0][0], first.last_row)
    # fewer layers: the pairs reached later are drawn as never
    dashboard.layers = 3
    capped = np.where(first.first_layer > 3, NEVER, first.first_layer)
    np.testing.assert_array_equal(
        _image(dashboard), np.where(np.tri(t, dtype=bool), capped, np.nan)
    )


def test_a_bitset_pattern_draws_its_exact_matrix_too():
    t = 128
    dashboard, _ = attached(
        lambda: ReceptiveFieldsDashboard(pattern="longnet", seq_len=t, layers=lesson04.MAX_LAYERS)
    )
    mask = make_mask("longnet", segment_lengths=[16, 32, 64], dilations=[1, 2, 4])
    first = receptive_field(mask, t, lesson04.MAX_LAYERS).first_layer
    expected = np.where(np.tri(t, dtype=bool), first, np.nan)
    np.testing.assert_array_equal(_image(dashboard), expected)
    row = _row(dashboard, "longnet")
    assert row["layers_text"] == "never" and row["gaps"] > 0


def test_long_sequences_draw_an_overview():
    t = 1 << 16
    dashboard, _ = attached(lambda: ReceptiveFieldsDashboard(seq_len=t, layers=lesson04.MAX_LAYERS))
    field = receptive_field(make_mask("power_attention"), t, lesson04.MAX_LAYERS)
    overview = field.first_layer_overview(lesson04.OVERVIEW, "min").astype(float)
    side = lesson04.OVERVIEW
    np.testing.assert_array_equal(
        _image(dashboard), np.where(np.tri(side, dtype=bool), overview, np.nan)
    )
    assert dashboard._reach.source.data["dw"] == [t]
    assert dashboard._strip.source.data["image"][0].shape == (1, lesson04.STRIP_BINS)


@pytest.mark.parametrize("t", [64, 512, 4096])
def test_table_power_attention_sees_everything_after_ceil_log2_t_layers(t):
    dashboard, _ = attached(lambda: ReceptiveFieldsDashboard(seq_len=t))
    row = _row(dashboard, "power_attention")
    assert row["layers_to_full"] == math.ceil(math.log2(t))
    assert row["layers_text"] == str(math.ceil(math.log2(t))) and row["holes"] == 0
    field = receptive_field(make_mask("power_attention"), t, lesson04.MAX_LAYERS)
    assert row["alpha_1"] == field.theoretical_accuracy(1)
    assert row["coverage"] == field.coverage[dashboard.layers]
    assert f"| **power_attention** | sink_block no, window_blocks 1, block_size 1 | {t:,} |" in (
        dashboard._table.object
    )


@pytest.mark.parametrize(("t", "w"), [(64, 3), (256, 16), (512, 32), (256, 9)])
def test_table_sliding_window_sees_everything_after_ceil_t_minus_1_over_w_minus_1(t, w):
    dashboard, _ = attached(
        lambda: ReceptiveFieldsDashboard(
            seq_len=t, pattern_params={"sliding_window": {"window": w}}
        )
    )
    row = _row(dashboard, "sliding_window")
    assert row["layers_to_full"] == math.ceil((t - 1) / (w - 1))
    assert row["holes"] == 0 and row["gaps"] == 0


def test_table_says_still_growing_or_never():
    dashboard, _ = attached(lambda: ReceptiveFieldsDashboard(seq_len=512))
    sliding, dilated = _row(dashboard, "sliding_window"), _row(dashboard, "dilated")
    # a window of 16 needs ceil(511 / 15) = 35 layers
    assert sliding["layers_to_full"] is None and sliding["layers_text"] == "> 32"
    assert sliding["gaps"] == 0 and sliding["holes"] > 0  # not grown far enough yet
    assert dilated["layers_text"] == "never"  # rate 2: odd distances never
    assert dilated["holes"] == 512 // 2 and dilated["gaps"] == 512 // 2 - 1
    assert "everything after **9** layers; no holes" in dashboard._readout.object


def test_moving_the_layer_slider_computes_nothing_new():
    dashboard, document = attached(ReceptiveFieldsDashboard)
    misses = lesson04.field_of.cache_info().misses
    with set_curdoc(document):
        for layers in (1, 32, 5, 17):
            dashboard.layers = layers
            assert f"after **{layers}** layers" in dashboard._readout.object
    assert lesson04.field_of.cache_info().misses == misses


def test_extreme_values_are_clamped_and_never_break_the_dashboard():
    dashboard, document = attached(
        lambda: ReceptiveFieldsDashboard(
            pattern="fixed",
            seq_len=lesson04.MAX_TOKENS,
            compare=list(PATTERNS),
            pattern_params={
                "fixed": {"block": 4, "c": 10_000},
                "sliding_window": {"window": -5},
                "bigbird": {"random_keys": 10**6},
            },
        )
    )
    assert dashboard.pattern_values("sliding_window")["window"] == 1
    assert dashboard.pattern_values("bigbird")["random_keys"] == 16
    assert dashboard.controls["fixed.c"].value == 256  # the inspected pattern's slider
    with set_curdoc(document):
        dashboard.pattern = "bigbird"  # its sliders, built now, show the clamped preset
    assert dashboard.controls["bigbird.random_keys"].value == 16
    with set_curdoc(document):
        dashboard.pattern = "fixed"
    assert _row(dashboard, "fixed")["parameters"] == "block 4, c 4"  # c kept within its block
    # masks without an offset form are computed at the general cap, and the status says so
    assert _row(dashboard, "fixed")["tokens"] == lesson04.MAX_GENERAL_TOKENS
    assert _row(dashboard, "sliding_window")["tokens"] == lesson04.MAX_TOKENS
    assert "fixed has no offset form" in dashboard._status.object
    assert dashboard._status.visible and "Could not" not in dashboard._status.object
    with set_curdoc(document):
        dashboard.seq_len = 64
    assert not dashboard._status.visible


def test_out_of_range_values_are_refused_by_the_parameter():
    dashboard = ReceptiveFieldsDashboard()
    with pytest.raises(ValueError, match="layers"):
        dashboard.layers = 0
    with pytest.raises(ValueError, match="seq_len"):
        dashboard.seq_len = 1000
    with pytest.raises(ValueError, match="unknown patterns"):
        ReceptiveFieldsDashboard(pattern_params={"nope": {}})
    with pytest.raises(ValueError, match=r"pattern_params\['dilated'\] has no \['stride'\]"):
        ReceptiveFieldsDashboard(pattern_params={"dilated": {"stride": 3}})


def test_log_axes_switch_figures_and_leave_out_layer_zero():
    dashboard, document = attached(ReceptiveFieldsDashboard)
    with set_curdoc(document):
        dashboard.show_tab(lesson04.COVERAGE_TAB)
        linear = dashboard.figures["coverage"]
        dashboard.log_axes = True
    log = dashboard.figures["coverage"]
    assert log is not linear and log.visible and not linear.visible
    x, _ = dashboard._curves.shown(log=True)["power_attention"]
    assert x.min() == 1 and x.max() == lesson04.MAX_LAYERS


def test_a_fresh_session_sends_few_models_and_a_small_map():
    dashboard, document = attached(ReceptiveFieldsDashboard)
    assert len(document.models) <= SESSION_MODELS
    assert set(dashboard.figures) == {"reach", "strip"}  # the coverage tab waits to be opened
    assert dashboard._reach.source.data["image"][0].dtype == np.int8  # 256 kB, not 1 MB
    # only the inspected pattern's sliders are built
    assert set(dashboard._pattern_widgets) == {dashboard.pattern}


def test_the_coverage_tab_built_later_draws_the_current_state():
    dashboard, document = attached(ReceptiveFieldsDashboard)
    with set_curdoc(document):
        dashboard.compare = ["longnet", "strided"]
        dashboard.seq_len = 1024
        dashboard.layers = 5
        dashboard.controls["power_attention.window_blocks"].value = 3
        assert dashboard._curves is None  # nothing drawn for a tab not built
        dashboard.show_tab(lesson04.COVERAGE_TAB)
    shown = dashboard._curves.shown()
    assert list(shown) == ["strided", "longnet", "power_attention"]
    for name, field in dashboard.fields.items():
        params = tuple(sorted(dashboard.pattern_values(name).items()))
        assert field.seq_len == lesson04._effective_length(name, params, 1024)
        np.testing.assert_array_equal(shown[name][1], field.coverage)
    assert dashboard.pattern_values("power_attention")["window_blocks"] == 3
    expected = receptive_field(make_mask("power_attention", window_blocks=3), 1024, 32)
    np.testing.assert_array_equal(shown["power_attention"][1], expected.coverage)
    assert dashboard._curves.markers[False].location == 5
    assert dashboard._curves.sources[False].data["width"][-1] == 4  # the inspected one


def test_log_axes_open_the_coverage_tab_on_log_axes():
    dashboard, document = attached(ReceptiveFieldsDashboard)
    with set_curdoc(document):
        dashboard.log_axes = True
    assert dashboard._tabs.active == lesson04.COVERAGE_TAB
    assert dashboard.figures["coverage"] is dashboard._curves.figures[True]
    assert dashboard.figures["coverage"].visible
    with set_curdoc(document):
        dashboard.show_tab(lesson04.REACH_TAB)
        dashboard.log_axes = False
    assert dashboard._tabs.active == lesson04.COVERAGE_TAB
    assert dashboard.figures["coverage"] is dashboard._curves.figures[False]


def test_a_preset_length_moves_to_the_nearest_length_offered():
    assert ReceptiveFieldsDashboard(seq_len=1000).seq_len == 1024
    dashboard = ReceptiveFieldsDashboard(seq_len=10**400)
    assert dashboard.seq_len == 262144
    assert "seq_len = an integer of 401 digits" in dashboard.preset_notes[0]
    assert ReceptiveFieldsDashboard(seq_len=float("nan")).seq_len == 512  # the default
    with pytest.raises(TypeError, match="seq_len"):
        ReceptiveFieldsDashboard(seq_len="512")
