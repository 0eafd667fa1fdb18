"""Lesson 08 served, in a real browser: follow the link from the index, evict the sink and
see the map and the loss readout change, shrink the window, open the loss-by-position tab
(built when first opened) and hide a policy's line, open the heads tab; no request leaves
the machine.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_attention_sinks.py``.
"""

from __future__ import annotations

import pytest
from pages import open_from_index, settled_pixels, visible_canvases, wait_for_new_pixels
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LESSON_08 = "attention_sinks"


def test_lesson08_toggles_the_sink_moves_the_window_and_opens_the_tabs(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_08, 1)  # the head's map on held-out text
    readout = page.locator("p", has_text="Mean loss on")
    expect(readout).to_contain_text("Cache: 1 sink + window 16")
    expect(readout).to_contain_text("Without the sink")
    map_canvas = visible_canvases(page).nth(0)
    pixels = settled_pixels(map_canvas)

    # evict the first token: the cache is a window alone, the readout says so
    sink = page.locator(".bk-Checkbox", has_text="keep the first token").locator(
        "input[type=checkbox]"
    )
    sink.uncheck()
    expect(sink).not_to_be_checked()
    expect(readout).to_contain_text("Cache: window 16")
    expect(readout).to_contain_text("With the sink")
    pixels = wait_for_new_pixels(map_canvas, pixels)

    # a smaller window: more of the map is grey (dropped keys)
    page.get_by_role("button", name="4", exact=True).click()
    expect(readout).to_contain_text("Cache: window 4")
    wait_for_new_pixels(map_canvas, pixels)

    # loss by position: one figure; hiding the full cache's line redraws it
    page.get_by_role("button", name="loss by position").click()
    expect(visible_canvases(page)).to_have_count(1)
    expect(page.locator("p", has_text="past the training length")).to_be_visible()
    curves = visible_canvases(page).nth(0)
    curve_pixels = settled_pixels(curves)
    page.get_by_role("button", name="full", exact=True).click()
    wait_for_new_pixels(curves, curve_pixels)

    # the heads: the sink scores, DuoAttention's ranking, the mixed cache
    page.get_by_role("button", name="heads", exact=True).click()
    expect(visible_canvases(page)).to_have_count(3)
    expect(page.locator("p", has_text="Heads with α₁ > ε")).to_be_visible()
    expect(page.locator(".alert")).to_be_hidden()
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()
