"""bench: drives every control across its range and reports percentiles."""

import numpy as np
import panel as pn
import pytest

from attnviz.bench import (
    SESSION_TARGET_MS,
    bench_dashboard,
    bench_session,
    control_values,
    first_render_seconds,
    format_table,
    session_cost,
)
from attnviz.dashboards import get


def test_control_values_span_each_widget_range():
    slider = pn.widgets.FloatSlider(start=0.5, end=2.5, value=1.0)
    values = control_values(slider, 5)
    assert min(values) == 0.5 and max(values) == 2.5 and len(values) == 5
    assert all(a != b for a, b in zip(values, values[1:], strict=False))
    ints = control_values(pn.widgets.IntSlider(start=1, end=512, value=64), 4)
    assert all(isinstance(v, int) for v in ints) and {1, 512} <= set(ints)
    select = control_values(pn.widgets.Select(options=["a", "b", "c"], value="a"), 2)
    assert set(select) == {"a", "b", "c"}
    assert set(control_values(pn.widgets.Checkbox(value=True), 4)) == {True, False}


def test_a_multi_select_is_driven_by_adding_and_removing_options():
    widget = pn.widgets.MultiChoice(options=["a", "b", "c", "d"], value=["a"], max_items=3)
    values = control_values(widget, 8)
    assert values[:6] == [["a"], ["a", "b"], ["a", "b", "c"], ["a", "b"], ["a"], []]
    assert len(values) == 8 and max(len(v) for v in values) == 3


def test_bench_dashboard_times_every_control():
    rows = bench_dashboard(get("soft_lookup"), n=3)
    dashboard = get("soft_lookup").factory()
    tabs = [row for row in rows if row["control"].startswith("(open tab: ")]
    assert [row["control"] for row in tabs] == ["(open tab: dot-product attention, CPU)"]
    rows = [row for row in rows if row not in tabs]  # lesson 01's second tab, built when opened
    assert [row["control"] for row in rows] == ["(first render)", *dashboard.controls]
    for row in rows:
        assert row["n"] >= 1 and 0 < row["p50_ms"] <= row["p95_ms"]
    table = format_table(rows)
    assert table.splitlines()[0].split() == [
        "dashboard",
        "control",
        "n",
        "p50",
        "ms",
        "p95",
        "ms",
        "target",
        "ms",
        "met",
    ]
    assert rows[0]["target_ms"] is None and rows[0]["met"] is None  # first render: no target
    assert all(row["target_ms"] == 50.0 and row["met"] is not None for row in rows[1:])


def test_a_session_row_counts_what_one_served_session_builds_and_sends():
    cost = session_cost(get("dsf"))
    dashboard = get("dsf").factory()
    assert cost["seconds"] > 0 and cost["bytes"] > 10_000
    # the document holds the first tab's figure and none of the tabs not yet opened
    assert 30 < cost["models"] < 200
    assert set(dashboard.figures) == {"phi"}
    row = bench_session(get("dsf"), repeats=2)
    assert row["control"] == "(session: build and send, CPU)" and row["n"] == 2
    assert row["target_ms"] == SESSION_TARGET_MS and row["models"] == cost["models"]
    assert "models," in format_table([row]) and " kB)" in format_table([row])


def test_a_dashboard_with_tabs_gets_a_row_per_tab_opened():
    rows = bench_dashboard(get("dsf"), n=2)
    opened = [row for row in rows if row["control"].startswith("(open tab: ")]
    assert [row["control"] for row in opened] == [
        "(open tab: decay and build-up, CPU)",
        "(open tab: trained on MQAR, CPU)",
    ]
    assert all(row["models"] > 30 and row["target_ms"] == SESSION_TARGET_MS for row in opened)


def test_first_render_takes_preset_parameters():
    assert first_render_seconds("soft_lookup", kernel="boxcar", d_k=512) > 0


def test_targets_rows_report_the_figure_and_whether_it_is_met(monkeypatch):
    from attnviz import bench_targets

    calls = []
    fake = bench_targets.Target("(fake)", "fake", 100.0, lambda: calls.append(1) or 0.2, 0)
    monkeypatch.setattr(bench_targets, "TARGETS", (fake,))
    (row,) = bench_targets.run_targets(n=4)
    assert len(calls) == 4
    assert row == {
        "dashboard": "fake",
        "control": "(fake)",
        "n": 4,
        "p50_ms": 200.0,
        "p95_ms": 200.0,
        "target_ms": 100.0,
        "met": False,
    }
    assert bench_targets.run_targets(names=["other"], n=1) == []
    with pytest.raises(ValueError, match="n must be a positive integer"):
        bench_targets.run_targets(n=0)


@pytest.mark.slow
def test_every_issue_target_can_be_measured():
    from attnviz.bench_targets import run_targets

    rows = run_targets(n=1)
    assert {row["dashboard"] for row in rows} >= {"head_jobs", "attention_maps"}
    for row in rows:
        assert row["n"] == 1 and row["p50_ms"] > 0 and isinstance(row["met"], bool)


def test_the_long_input_target_uses_a_model_that_reads_it_and_fails_loudly_otherwise(
    monkeypatch,
):
    from attnviz import bench_targets, models

    params = bench_targets._long_model_params()
    assert params["model"] == bench_targets.LONG_MODEL
    model = params.get("extra_models", {}).get(params["model"])
    if model is not None:  # until the RoPE lesson model ships: the same model, untrained
        assert model.config.context >= bench_targets.LONG_TOKENS
    monkeypatch.setattr(bench_targets, "LONG_TOKENS", 48)
    assert bench_targets._long_first_render("random tokens")() > 0
    # a model that reads fewer tokens than asked must not pass for a measurement
    short = models.TinyTransformer(models.TinyConfig(context=33, vocab_size=48), seed=0)
    monkeypatch.setattr(
        bench_targets,
        "_long_model_params",
        lambda: {"model": "short", "extra_models": {"short": short}},
    )
    with pytest.raises(RuntimeError, match="drew 33 tokens"):
        bench_targets._long_first_render("random tokens")()


def test_the_reach_targets_measure_the_receptive_field_computations(monkeypatch):
    from attnviz import bench_targets

    names = {t.name for t in bench_targets.TARGETS if t.dashboard == "receptive_fields"}
    assert names == {
        "(exact reach, any mask, 16,384 tokens x 32 layers)",
        "(exact reach, random sparse mask, 16,384 tokens x 32 layers)",
        "(reach by distances, 1,048,576 tokens x 32 layers)",
    }
    monkeypatch.setattr(bench_targets, "REACH_TOKENS", 1024)
    monkeypatch.setattr(bench_targets, "REACH_DISTANCE_TOKENS", 4096)
    rows = bench_targets.run_targets(["receptive_fields"], n=1)
    assert [row["control"] for row in rows] == [
        t.name for t in bench_targets.TARGETS if t.dashboard == "receptive_fields"
    ]
    for row in rows:
        assert row["p50_ms"] > 0 and row["met"] is True
    mask = bench_targets._random_sparse_mask(256)
    assert mask.sum(axis=1).max() <= 10 and (mask.diagonal()).all()
    assert not mask[np.triu_indices(256, 1)].any()  # causal
