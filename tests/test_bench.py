"""bench: drives every control across its range and reports percentiles."""

import panel as pn

from attnviz.bench import bench_dashboard, control_values, format_table
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


def test_bench_dashboard_times_every_control():
    rows = bench_dashboard(get("soft_lookup"), n=3)
    dashboard = get("soft_lookup").factory()
    assert [row["control"] for row in rows] == ["(first render)", *dashboard.controls]
    for row in rows:
        assert row["n"] >= 1 and 0 < row["p50_ms"] <= row["p95_ms"]
    table = format_table(rows)
    assert table.splitlines()[0].split() == ["dashboard", "control", "n", "p50", "ms", "p95", "ms"]
