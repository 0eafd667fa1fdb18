"""Lesson 04 served, in a real browser: follow the link from the index, pick another
pattern, move the layer slider, switch the log axes, and see the figures change.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_receptive_fields.py``.
"""

from __future__ import annotations

import pytest
from pages import open_from_index, settled_pixels, wait_for_new_pixels
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LESSON_04 = "receptive_fields"
# The Bokeh figures, in the order they are laid out (and in the DOM): the reach map, the
# last query's strip, the coverage curves (linear axes; the log-log twin is hidden).
REACH, STRIP, COVERAGE, LOG_COVERAGE = range(4)


def canvas(page, index: int):
    return page.locator(".bk-Canvas").nth(index)


def test_lesson04_pick_a_pattern_move_layers_and_log_axes(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_04, 3)  # the log-log twin hidden
    readout = page.locator("p", has_text="the last query sees")
    expect(readout).to_contain_text("power_attention")
    expect(readout).to_contain_text("512 tokens")
    table = page.locator("table")
    expect(table).to_contain_text("layers to see everything")
    reach = settled_pixels(canvas(page, REACH))
    strip = settled_pixels(canvas(page, STRIP))
    coverage = settled_pixels(canvas(page, COVERAGE))

    # another pattern: its own sliders appear, the map, the strip and the curves redraw
    page.locator("select").first.select_option("dilated")
    expect(readout).to_contain_text("dilated")
    expect(page.locator(".bk-Slider", has_text="rate (dilation)")).to_be_visible()
    expect(page.locator(".bk-Slider", has_text="block size")).to_be_hidden()
    reach = wait_for_new_pixels(canvas(page, REACH), reach)
    strip = wait_for_new_pixels(canvas(page, STRIP), strip)
    coverage = wait_for_new_pixels(canvas(page, COVERAGE), coverage)

    # the most layers: a keyboard End on the layer slider
    handle = page.locator(".bk-Slider", has_text="layers").first.locator(".noUi-handle")
    handle.focus()
    page.keyboard.press("End")
    expect(readout).to_contain_text("after 32 layers")
    reach = wait_for_new_pixels(canvas(page, REACH), reach)

    # the pattern's own slider: a rate of 1 reaches every distance
    rate = page.locator(".bk-Slider", has_text="rate (dilation)").locator(".noUi-handle")
    rate.focus()
    page.keyboard.press("Home")
    expect(readout).to_contain_text("rate 1")
    expect(readout).to_contain_text("no holes")
    wait_for_new_pixels(canvas(page, STRIP), strip)

    # log axes: the log-log twin takes the linear figure's place
    log_axes = page.locator("input[type=checkbox]").last  # after the pattern's sink box
    log_axes.check()
    expect(log_axes).to_be_checked()
    expect(canvas(page, LOG_COVERAGE)).to_be_visible()
    expect(canvas(page, COVERAGE)).to_be_hidden()
    wait_for_new_pixels(canvas(page, LOG_COVERAGE), coverage)
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()
