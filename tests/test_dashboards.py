"""Every dashboard at once: the registry, every control across its range, the download
button. Each lesson's own dashboard tests are in tests/test_<stem>_dashboard.py."""

import re

import pytest
from attached import attached, drawn
from panel.io.state import set_curdoc

from attnviz.bench import control_values
from attnviz.dashboards import (
    AttentionMapsDashboard,
    HeadJobsDashboard,
    SoftLookupDashboard,
    entries,
    get,
    register,
)


def test_registry_lists_lesson_01():
    (entry,) = [e for e in entries() if e.slug == "soft_lookup"]
    assert entry.factory is SoftLookupDashboard and entry.lesson == "01_attention_is_lookup"
    assert get("soft_lookup") is entry
    with pytest.raises(
        ValueError, match="no dashboard with slug 'nope'; known slugs: .*soft_lookup"
    ):
        get("nope")


def test_register_rejects_bad_and_duplicate_slugs():
    with pytest.raises(ValueError, match="slug must be lowercase"):
        register(slug="Bad Slug", title="t", description="d", lesson="x")
    with pytest.raises(ValueError, match="already registered"):
        register(slug="soft_lookup", title="t", description="d", lesson="x")(object)


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e.slug)
def test_every_control_across_its_range_changes_the_figures(entry):
    dashboard, document = attached(entry.factory)
    with set_curdoc(document):
        for title in dashboard.tab_titles:  # tabs are built when first opened: open them all
            dashboard.show_tab(title)
        for name, widget in dashboard.controls.items():
            before = drawn(dashboard)
            changed = False
            initial = widget.value
            for value in control_values(widget, 9):  # ends of every range included
                widget.value = value
                after = drawn(dashboard)
                changed = changed or after != before
            assert changed, f"moving {name!r} never changed a figure"
            widget.value = initial  # as attnviz bench does: each control from the defaults


EXTERNAL_SCRIPT = re.compile(r"<script[^>]+src=[\"']?(https?:)?//", re.IGNORECASE)


def test_lessons_02_and_03_are_registered():
    by_slug = {entry.slug: entry for entry in entries()}
    assert by_slug["attention_maps"].factory is AttentionMapsDashboard
    assert by_slug["attention_maps"].lesson == "02_reading_attention_maps"
    assert by_slug["head_jobs"].factory is HeadJobsDashboard
    assert by_slug["head_jobs"].lesson == "03_heads_with_jobs"


@pytest.mark.parametrize("slug", ["attention_maps", "head_jobs"])
def test_every_control_across_its_range_redraws_and_never_fails(slug):
    dashboard, document = attached(get(slug).factory)
    with set_curdoc(document):
        for name, widget in dashboard.controls.items():
            before = drawn(dashboard)
            changed = False
            for value in control_values(widget, 9):
                widget.value = value
                assert not dashboard._status.visible or "Could not" not in str(
                    dashboard._status.object
                ), f"{name}={value!r}: {dashboard._status.object}"
                changed = changed or drawn(dashboard) != before
            assert changed, f"moving {name!r} never changed a figure"


@pytest.mark.parametrize("factory", [AttentionMapsDashboard, HeadJobsDashboard])
def test_download_button_gives_standalone_html_of_the_figures(factory):
    dashboard, _ = attached(factory)
    html = dashboard._download.callback().getvalue().decode("utf-8")
    assert not EXTERNAL_SCRIPT.search(html)
    assert html.count('data-root-id="') == len(dashboard.figures)
    assert f"<h1>{dashboard.title}</h1>" in html


def test_clamp_params_moves_any_number_into_range_and_refuses_wrong_types():
    import numpy as np

    from attnviz.dashboards.base import clamp_params
    from attnviz.dashboards.soft_lookup import SoftLookupDashboard

    params, notes = clamp_params(
        SoftLookupDashboard,
        {"n_points": 10**400, "bandwidth": -(10**400), "noise": float("nan"), "d_k": np.int64(8)},
    )
    assert params == {"n_points": 200, "bandwidth": 0.05, "noise": 0.5, "d_k": 8}
    assert len(notes) == 3 and "n_points = an integer of 401 digits" in notes[0]
    for bad in ({"n_points": None}, {"n_points": "3"}, {"n_points": 2.5}, {"scaled": 1}):
        with pytest.raises(TypeError, match=next(iter(bad))):
            clamp_params(SoftLookupDashboard, bad)
