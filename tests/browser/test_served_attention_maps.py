"""Lesson 02 served, in a real browser: follow its link from the index, tap a
thumbnail, type words, open the per-head numbers' tab, read 4,096 tokens, and see the
figures change.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_attention_maps.py``.
"""

from __future__ import annotations

import pytest
from pages import open_from_index, settled_pixels, tap, visible_canvases, wait_for_new_pixels
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


LESSON_02 = "attention_maps"
MAPS_TAB, NUMBERS_TAB = "attention maps", "entropy and sink per head"
# The figures of the maps' tab, in the order laid out: an input that fits the zoom (the
# default, 33 tokens) is shown whole by the zoom; a longer one gets an overview between.
GRID, ZOOM = range(2)
LONG_GRID, LONG_OVERVIEW, LONG_ZOOM = range(3)


def canvas(page, index: int):
    """The ``index``-th figure shown now (only the open tab is on the page)."""
    return visible_canvases(page).nth(index)


def test_lesson02_tap_a_thumbnail_enlarges_that_head(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_02, 2)
    readout = page.locator("p", has_text="the last query")
    expect(readout).to_contain_text("L1H0: entropy")
    head_select = page.locator("select").nth(2)
    expect(head_select).to_have_value("L1H0")
    zoom = settled_pixels(canvas(page, ZOOM))

    # the model view: 2 x 2 thumbnails; the top-right one is layer 0, head 1
    tap(canvas(page, GRID), 0.77, 0.29)

    expect(readout).to_contain_text("L0H1: entropy")
    expect(head_select).to_have_value("L0H1")  # the control follows the tap
    wait_for_new_pixels(canvas(page, ZOOM), zoom)
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()


def test_lesson02_new_input_and_typed_words_redraw_every_head(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_02, 2)
    readout = page.locator("p", has_text="the last query")
    grid = settled_pixels(canvas(page, GRID))

    # the per-head numbers: built when their tab is first opened
    page.get_by_role("button", name=NUMBERS_TAB).click()
    expect(visible_canvases(page)).to_have_count(1)
    bars = settled_pixels(canvas(page, 0))
    page.locator("select").nth(1).select_option("needle in a haystack")
    expect(readout).to_contain_text("needle in a haystack")
    wait_for_new_pixels(canvas(page, 0), bars)

    page.get_by_role("button", name=MAPS_TAB).click()
    expect(visible_canvases(page)).to_have_count(2)
    grid = wait_for_new_pixels(canvas(page, GRID), grid)  # drawn for the new input

    page.locator("select").nth(1).select_option("your tokens")
    words = page.locator("textarea")
    expect(words).to_be_visible()
    words.fill("red blue green red blue green red blue green")
    words.press("Tab")  # the box sends its text when it loses focus
    expect(readout).to_contain_text("10 tokens")  # BOS and nine words
    expect(readout).to_contain_text("(‘green’)")
    wait_for_new_pixels(canvas(page, GRID), grid)
    watched.assert_clean()


def test_lesson02_reads_65536_tokens_with_the_long_model_and_taps_the_overview(
    served_app, open_page
):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_02, 2)
    readout = page.locator("p", has_text="the last query")
    page.locator("select").nth(0).select_option("induction_rope")
    expect(readout).to_contain_text("induction_rope")
    expect(page.locator(".bk-Slider", has_text="zoom: first query")).to_have_count(0)

    # the longest input: a keyboard End on the length slider. The RoPE model reads 65,536
    # tokens, streamed tile by tile (attnviz.maps.streamed, never T x T): computed off the
    # event loop, so the page stays live while it works
    handle = page.locator(".bk-Slider", has_text="length").first.locator(".noUi-handle")
    handle.focus()
    page.keyboard.press("End")

    expect(readout).to_contain_text("65536 tokens", timeout=240_000)
    # longer than the zoom: the overview and the zoom sliders come in
    expect(visible_canvases(page)).to_have_count(3, timeout=30_000)
    overview = settled_pixels(canvas(page, LONG_OVERVIEW))
    first_query = page.locator(".bk-Slider", has_text="zoom: first query")
    expect(first_query).to_contain_text("zoom: first query: 0")
    zoom = settled_pixels(canvas(page, LONG_ZOOM))
    tap(canvas(page, LONG_OVERVIEW), 0.5, 0.75)
    expect(first_query).not_to_contain_text("zoom: first query: 0", timeout=15_000)
    wait_for_new_pixels(canvas(page, LONG_ZOOM), zoom)
    wait_for_new_pixels(canvas(page, LONG_OVERVIEW), overview)  # the window box moved
    watched.assert_clean()
