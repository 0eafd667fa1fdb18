"""Lesson 02 served, in a real browser: follow its link from the index, tap a
thumbnail, type words, read 4,096 tokens, and see the figures change.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_attention_maps.py``.
"""

from __future__ import annotations

import pytest
from pages import canvas, open_from_index, settled_pixels, tap, wait_for_new_pixels
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


LESSON_02 = "attention_maps"
# The Bokeh figures of the dashboard, in the order they are laid out (and in the DOM).
GRID, OVERVIEW, ZOOM, ENTROPY, SINK = range(5)


def test_lesson02_tap_a_thumbnail_enlarges_that_head(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_02, 5)
    readout = page.locator("p", has_text="the last query")
    expect(readout).to_contain_text("L1H0: entropy")
    head_select = page.locator("select").nth(2)
    expect(head_select).to_have_value("L1H0")
    overview = settled_pixels(canvas(page, OVERVIEW))
    zoom = settled_pixels(canvas(page, ZOOM))

    # the model view: 2 x 2 thumbnails; the top-right one is layer 0, head 1
    tap(canvas(page, GRID), 0.77, 0.29)

    expect(readout).to_contain_text("L0H1: entropy")
    expect(head_select).to_have_value("L0H1")  # the control follows the tap
    wait_for_new_pixels(canvas(page, OVERVIEW), overview)
    wait_for_new_pixels(canvas(page, ZOOM), zoom)
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()


def test_lesson02_new_input_and_typed_words_redraw_every_head(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_02, 5)
    readout = page.locator("p", has_text="the last query")
    grid = settled_pixels(canvas(page, GRID))
    sink = settled_pixels(canvas(page, SINK))

    page.locator("select").nth(1).select_option("needle in a haystack")

    expect(readout).to_contain_text("needle in a haystack")
    grid = wait_for_new_pixels(canvas(page, GRID), grid)
    wait_for_new_pixels(canvas(page, SINK), sink)

    page.locator("select").nth(1).select_option("your tokens")
    words = page.locator("textarea")
    expect(words).to_be_visible()
    words.fill("red blue green red blue green red blue green")
    words.press("Tab")  # the box sends its text when it loses focus
    expect(readout).to_contain_text("10 tokens")  # BOS and nine words
    expect(readout).to_contain_text("(‘green’)")
    wait_for_new_pixels(canvas(page, GRID), grid)
    watched.assert_clean()


def test_lesson02_reads_4096_tokens_with_the_long_model_and_taps_the_overview(
    served_app, open_page
):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_02, 5)
    readout = page.locator("p", has_text="the last query")
    page.locator("select").nth(0).select_option("induction_rope")
    expect(readout).to_contain_text("induction_rope")
    overview = settled_pixels(canvas(page, OVERVIEW))

    # the longest input: a keyboard End on the length slider
    handle = page.locator(".bk-Slider", has_text="length").first.locator(".noUi-handle")
    handle.focus()
    page.keyboard.press("End")

    expect(readout).to_contain_text("4096 tokens", timeout=30_000)
    overview = wait_for_new_pixels(canvas(page, OVERVIEW), overview)
    # long inputs get the zoom sliders; a tap on the overview moves the zoom there
    first_query = page.locator(".bk-Slider", has_text="zoom: first query")
    expect(first_query).to_contain_text("zoom: first query: 0")
    zoom = settled_pixels(canvas(page, ZOOM))
    tap(canvas(page, OVERVIEW), 0.5, 0.75)
    expect(first_query).not_to_contain_text("zoom: first query: 0", timeout=15_000)
    wait_for_new_pixels(canvas(page, ZOOM), zoom)
    watched.assert_clean()
