"""Lesson 01 served, in a real browser: follow its link from the index, drag and key
its sliders, click on its fit, open its second tab, and see the figures change; its link
back to the index.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_soft_lookup.py``.
"""

from __future__ import annotations

import re

import pytest
from pages import (
    MIN_CHANGED_PIXELS,
    changed_pixels,
    drag_handle,
    settled_pixels,
    slider,
    visible_canvases,
    wait_for,
    wait_for_new_pixels,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


LESSON_01 = "soft_lookup"
# The two tabs of SoftLookupDashboard and the figures each shows, in the order laid out.
REGRESSION_TAB, ATTENTION_TAB = "kernel regression", "dot-product attention"
FIT, NW_WEIGHTS = range(2)  # on the first tab
ATTENTION, SATURATION = range(2)  # on the second
QUERY_READOUT = re.compile(r"query x = (-?[\d.]+)")
D_K_READOUT = re.compile(r"d_k = (\d+)")


def readout(page):
    """The dashboard's Markdown readout (a <p> inside Panel's shadow DOM)."""
    return page.locator("p", has_text="query x =")


def readout_number(page, pattern: re.Pattern) -> float:
    text = readout(page).inner_text()
    match = pattern.search(text)
    assert match, f"{pattern.pattern!r} not found in the readout {text!r}"
    return float(match.group(1))


def open_dashboard(page, url: str) -> None:
    """Go to a dashboard and wait until Bokeh has drawn it and the server is idle."""
    with page.expect_console_message(
        lambda message: "document idle" in message.text, timeout=30_000
    ):
        page.goto(url)
    wait_until_drawn(page)


def canvas(page, index: int):
    """The ``index``-th figure of the tab shown now."""
    return visible_canvases(page).nth(index)


def wait_until_drawn(page) -> None:
    """Both figures of the tab shown are drawn (the other tab is built when opened)."""
    expect(visible_canvases(page)).to_have_count(2, timeout=30_000)
    expect(readout(page)).to_be_visible()


# a slider on each tab: it is on the page only while its tab is shown
TAB_SLIDERS = {REGRESSION_TAB: "query x", ATTENTION_TAB: "d_k"}


def open_tab(page, title: str) -> None:
    """Click a tab's button; wait until its figures replace the other tab's and are drawn."""
    page.get_by_role("button", name=title).click()
    for other, name in TAB_SLIDERS.items():
        expect(slider(page, name)).to_have_count(1 if other == title else 0, timeout=30_000)
    wait_until_drawn(page)


def test_lesson01_from_index_slider_drag_redraws_figure(served_app, open_page):
    watched = open_page()
    page = watched.page
    page.goto(served_app + "/")
    with page.expect_console_message(
        lambda message: "document idle" in message.text, timeout=30_000
    ):
        page.locator(f"#link-{LESSON_01}").click()
    expect(page).to_have_url(re.compile(rf"/{LESSON_01}/?$"))
    wait_until_drawn(page)

    handle = slider(page, "query x")
    expect(handle).to_have_attribute("aria-valuenow", "4.0")
    query_before = readout_number(page, QUERY_READOUT)
    text_before = readout(page).inner_text()
    fit_before = settled_pixels(canvas(page, FIT))
    weights_before = settled_pixels(canvas(page, NW_WEIGHTS))

    drag_handle(page, handle, dx=60)  # to the right: a larger query x

    expect(readout(page)).not_to_have_text(text_before, timeout=10_000)
    # the server answers each step of the drag; wait until it has caught up with the handle
    wait_for(
        lambda: (
            abs(readout_number(page, QUERY_READOUT) - float(handle.get_attribute("aria-valuenow")))
            <= 0.051
        ),
        "the readout's query x to match the slider handle",
    )
    query_after = readout_number(page, QUERY_READOUT)
    assert query_after > query_before + 0.5, (query_before, query_after)
    wait_for_new_pixels(canvas(page, FIT), fit_before)  # the query line and the dots moved
    wait_for_new_pixels(canvas(page, NW_WEIGHTS), weights_before)  # the marked row moved

    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()


def test_lesson01_keyboard_on_d_k_slider_redraws_attention(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_dashboard(page, f"{served_app}/{LESSON_01}")

    fit_before = settled_pixels(canvas(page, FIT))
    expect(slider(page, "d_k")).to_have_count(0)  # the second tab is built when opened
    open_tab(page, ATTENTION_TAB)
    handle = slider(page, "d_k")
    d_k_before = readout_number(page, D_K_READOUT)
    attention_before = settled_pixels(canvas(page, ATTENTION))
    saturation_before = settled_pixels(canvas(page, SATURATION))

    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")

    expect(readout(page)).to_contain_text(f"d_k = {int(d_k_before) - 3}", timeout=10_000)
    expect(handle).to_have_attribute("aria-valuenow", f"{int(d_k_before) - 3}.0")
    wait_for_new_pixels(canvas(page, ATTENTION), attention_before)
    wait_for_new_pixels(canvas(page, SATURATION), saturation_before)  # the marker moved
    open_tab(page, REGRESSION_TAB)
    changed = changed_pixels(fit_before, settled_pixels(canvas(page, FIT)))
    assert changed < MIN_CHANGED_PIXELS, f"d_k must not redraw the fit ({changed} pixels changed)"
    watched.assert_clean()


def test_lesson01_click_on_fit_moves_query(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_dashboard(page, f"{served_app}/{LESSON_01}")

    query_before = readout_number(page, QUERY_READOUT)
    fit = canvas(page, FIT)
    fit_before = settled_pixels(fit)
    box = fit.bounding_box()
    # x runs 0..10 left to right; a fifth of the way in is well left of the query at 4
    fit.click(position={"x": box["width"] * 0.2, "y": box["height"] * 0.5})

    expect(readout(page)).not_to_have_text(re.compile(rf"query x = {query_before:.2f}"))
    query_after = readout_number(page, QUERY_READOUT)
    assert 0.0 <= query_after < query_before - 1.0, (query_before, query_after)
    # the slider follows the click
    expect(slider(page, "query x")).to_have_attribute("aria-valuenow", re.compile(r"^[0-3]\."))
    wait_for_new_pixels(fit, fit_before)
    watched.assert_clean()


def test_back_link_returns_to_index(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_dashboard(page, f"{served_app}/{LESSON_01}")
    page.get_by_role("link", name="← all lessons").click()
    expect(page).to_have_url(served_app + "/")
    expect(page.locator(f"#link-{LESSON_01}")).to_be_visible()
    watched.assert_clean()
