"""Deep links: a URL's query sets a dashboard's controls; bad and extreme values never
stop a dashboard from opening, and the URL follows the controls."""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qsl

import param
import pytest
from panel.io.location import Location

from attnviz import deep_links
from attnviz.dashboards import entries, get

RECEPTIVE = get("receptive_fields").factory
SOFT = get("soft_lookup").factory
DASHBOARDS = [entry.slug for entry in entries()]


def test_a_query_sets_controls_of_every_kind():
    values, pending, notes = deep_links.from_query(
        RECEPTIVE,
        {
            "pattern": [b"sliding_window"],
            "layers": [b"4"],
            "seq_len": ["1024"],
            "log_axes": "true",
            "compare": '["full", "causal"]',
        },
    )
    assert values == {
        "pattern": "sliding_window",
        "layers": 4,
        "seq_len": 1024,
        "log_axes": True,
        "compare": ["full", "causal"],
    }
    assert (pending, notes) == ({}, [])
    assert deep_links.from_query(RECEPTIVE, {"compare": "full,causal"})[0] == {
        "compare": ["full", "causal"]
    }


def test_out_of_range_numbers_are_clamped_with_a_note():
    values, _, notes = deep_links.from_query(SOFT, {"d_k": "100000", "temperature": "-3"})
    assert values == {"d_k": 512, "temperature": 0.05}
    assert "d_k = 100000 is out of range: using 512." in notes
    values, _, notes = deep_links.from_query(SOFT, {"noise": "nan", "n_points": "inf"})
    assert values == {"noise": SOFT.param.noise.default, "n_points": SOFT.param.n_points.default}
    assert len(notes) == 2


def test_fractions_for_whole_numbers_are_rounded_with_a_note():
    values, _, notes = deep_links.from_query(SOFT, {"n_points": "12.6"})
    assert values == {"n_points": 13}
    assert notes == ["n_points = 12.6 is not a whole number: using 13."]


def test_bad_values_and_unknown_names_are_ignored_with_a_note():
    values, pending, notes = deep_links.from_query(
        RECEPTIVE,
        {
            "layers": "four",
            "log_axes": "maybe",
            "compare": "nope,zilch",
            "layrs": "4",
            "theme": "dark",  # Panel's own: neither applied nor reported
        },
    )
    assert values == {}
    assert pending == {}
    text = " ".join(notes)
    for part in ("'four' is not a number", "'maybe' is not true or false", "'layrs' is not a"):
        assert part in text, text
    assert "compare = 'nope,zilch' names none of" in text
    assert "theme" not in text


def test_an_unknown_option_waits_for_the_built_dashboard():
    values, pending, notes = deep_links.from_query(RECEPTIVE, {"pattern": "nope"})
    assert (values, pending, notes) == ({}, {"pattern": "nope"}, [])
    dashboard = RECEPTIVE()
    assert deep_links.apply_pending(dashboard, pending) == [
        "pattern = 'nope' is not one of full, causal, sliding_window, dilated, strided, "
        "fixed, longformer, bigbird, longnet, stride_slash, power_attention: ignored."
    ]
    assert dashboard.pattern == RECEPTIVE.param.pattern.default


def test_an_option_the_dashboard_adds_as_it_builds_is_taken():
    factory = get("head_jobs").factory  # its training steps are known once its model is
    steps = factory().param.step.objects
    assert len(steps) > 2
    dashboard, notes = deep_links.build(factory, {"step": str(steps[1])})
    assert (dashboard.step, notes) == (steps[1], [])


def test_the_last_of_a_repeated_argument_counts():
    assert deep_links.from_query(SOFT, {"d_k": [b"8", b"16"]})[0] == {"d_k": 16}


def test_query_must_be_a_dict():
    with pytest.raises(TypeError, match="query must be a dict"):
        deep_links.from_query(SOFT, "d_k=8")


def test_a_factory_that_is_not_a_dashboard_takes_no_link():
    assert deep_links.link_params(lambda: None) == []
    built, notes = deep_links.build(lambda: "a pane", {"anything": "x"})
    assert (built, notes) == ("a pane", [])


# -- every dashboard, every control: a bad value and the extremes ------------------------


def _bad(parameter) -> str:
    if isinstance(parameter, param.Boolean):
        return "maybe"
    if isinstance(parameter, param.Number):
        return "lots"
    return "no-such-option"


def _extreme(parameter, end: int) -> str:
    """The far end of a control: ±1e308 for numbers, the first or last option."""
    if isinstance(parameter, param.Boolean):
        return ["false", "true"][end]
    if isinstance(parameter, param.Number):
        return ["-1e308", "1e308"][end]
    objects = list(parameter.objects)
    if isinstance(parameter, param.ListSelector):
        return json.dumps([str(option) for option in objects]) if end else "[]"
    return str(objects[-1] if end else objects[0])


def _expected(parameter, end: int):
    if isinstance(parameter, param.Boolean):
        return bool(end)
    if isinstance(parameter, param.Number):
        return parameter.bounds[end]
    objects = list(parameter.objects)
    if isinstance(parameter, param.ListSelector):
        return objects if end else []
    return objects[-1] if end else objects[0]


@pytest.mark.parametrize("slug", DASHBOARDS)
def test_every_control_survives_a_bad_value(slug):
    factory = get(slug).factory
    names = deep_links.link_params(factory)
    assert names, f"{slug} has no control a link can set"
    query = {name: _bad(factory.param[name]) for name in names}
    dashboard, notes = deep_links.build(factory, query)
    plain = factory()  # what the dashboard shows with no link
    for name in names:  # every control shows what it shows without a link; a note says why
        assert getattr(dashboard, name) == getattr(plain, name), name
        assert any(f"{name} = " in note for note in notes), (name, notes)


@pytest.mark.parametrize("end", [0, 1], ids=["low", "high"])
@pytest.mark.parametrize("slug", DASHBOARDS)
def test_every_control_takes_its_extremes(slug, end):
    factory = get(slug).factory
    names = deep_links.link_params(factory)
    query = {name: _extreme(factory.param[name], end) for name in names}
    values, pending, notes = deep_links.from_query(factory, query)
    for name in values:
        expected = _expected(factory.param[name], end)
        assert values[name] == expected or math.isclose(values[name], expected), name
    dashboard, notes = deep_links.build(factory, query)
    refused = [note for note in notes if "could not be used together" in note]
    assert not refused, notes
    for name in values:
        assert getattr(dashboard, name) == values[name], name


# -- the URL follows the controls -------------------------------------------------------


def _linked(factory=RECEPTIVE, search: str = ""):
    dashboard = factory()
    location = Location(search=search)
    deep_links.link_dashboard(dashboard, location, deep_links.link_params(dashboard))
    return dashboard, location


def test_a_moved_control_is_written_into_the_url():
    dashboard, location = _linked()
    assert location.search == ""  # all defaults: a plain URL
    dashboard.layers = 4
    assert location.search == "?layers=4"
    dashboard.log_axes = True
    dashboard.compare = ["full"]
    assert location.query_params == {"layers": 4, "log_axes": True, "compare": ["full"]}
    dashboard.layers = RECEPTIVE.param.layers.default
    assert "layers" not in location.query_params  # back at its default: gone from the URL


@pytest.mark.parametrize("slug", DASHBOARDS)
def test_a_dashboard_opened_plainly_keeps_a_plain_url(slug):
    assert _linked(get(slug).factory)[1].search == ""


def test_a_control_the_dashboard_sets_as_it_builds_keeps_a_plain_url():
    dashboard, location = _linked(get("head_jobs").factory)  # shows its last training step
    assert dashboard.step != dashboard.param.step.default
    assert location.search == ""
    first = dashboard.param.step.objects[0]
    dashboard.step = first
    assert location.query_params == {"step": first}


def test_a_bad_url_is_rewritten_to_what_the_dashboard_shows():
    query = {"layers": "99", "pattern": "nope", "layrs": "4", "theme": "dark"}
    dashboard, notes = deep_links.build(RECEPTIVE, query)
    location = Location()
    names = deep_links.link_params(dashboard)
    deep_links.link_dashboard(dashboard, location, names, asked=set(query))
    # the browser reports its own URL once connected
    location.search = "?layers=99&pattern=nope&layrs=4&theme=dark"
    assert location.query_params == {"theme": "dark", "layers": 32}
    assert dashboard.layers == 32 and dashboard.pattern == RECEPTIVE.param.pattern.default


def test_a_link_and_its_url_round_trip():
    first = RECEPTIVE(layers=5, log_axes=True, compare=["full", "causal"], seq_len=1024)
    search = deep_links.search_for(first, deep_links.link_params(first), "")
    again, notes = deep_links.build(RECEPTIVE, dict(parse_qsl(search[1:])))
    assert notes == []
    for name in deep_links.link_params(first):
        assert getattr(again, name) == getattr(first, name), name
