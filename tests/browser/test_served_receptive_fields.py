"""Lesson 04 served, in a real browser: follow the link from the index, pick another
pattern, move the layer slider, open the coverage curves (built when first opened),
switch the log axes, come back to the map, and see the figures change.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_receptive_fields.py``.
"""

from __future__ import annotations

import pytest
from pages import (
    MIN_CHANGED_PIXELS,
    changed_pixels,
    open_from_index,
    settled_pixels,
    visible_canvases,
    wait_for_new_pixels,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LESSON_04 = "receptive_fields"
# The reach-map tab's figures, in the order they are laid out: the map, the last query's
# strip. The coverage tab shows one figure at a time (linear, or its log-log twin).
REACH, STRIP = range(2)


def canvas(page, index: int):
    return visible_canvases(page).nth(index)


def test_lesson04_pick_a_pattern_move_layers_open_the_curves_and_log_axes(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_04, 2)  # the map and the strip; curves unbuilt
    readout = page.locator("p", has_text="the last query sees")
    expect(readout).to_contain_text("power_attention")
    expect(readout).to_contain_text("512 tokens")
    expect(page.locator(".bk-Slider", has_text="sequence length (tokens)")).to_contain_text("512")
    table = page.locator("table")
    expect(table).to_contain_text("layers to see everything")
    reach = settled_pixels(canvas(page, REACH))
    strip = settled_pixels(canvas(page, STRIP))

    # another pattern: its own sliders appear, the map and the strip redraw
    page.locator("select").first.select_option("dilated")
    expect(readout).to_contain_text("dilated")
    expect(page.locator(".bk-Slider", has_text="rate (dilation)")).to_be_visible()
    expect(page.locator(".bk-Slider", has_text="block size")).to_be_hidden()
    reach = wait_for_new_pixels(canvas(page, REACH), reach)
    strip = wait_for_new_pixels(canvas(page, STRIP), strip)

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
    reach = settled_pixels(canvas(page, REACH))

    # the coverage tab, built now: one figure; another compared pattern redraws it
    page.get_by_role("button", name="Coverage curves").click()
    expect(visible_canvases(page)).to_have_count(1)
    coverage = settled_pixels(canvas(page, 0))
    page.locator(".bk-CheckboxGroup label", has_text="longnet").locator("input").check()
    expect(table).to_contain_text("longnet")
    coverage = wait_for_new_pixels(canvas(page, 0), coverage)

    # log axes: the log-log twin takes the linear figure's place
    log_axes = page.locator(".bk-Checkbox", has_text="log axes").locator("input")
    log_axes.check()
    expect(log_axes).to_be_checked()
    expect(visible_canvases(page)).to_have_count(1)
    wait_for_new_pixels(canvas(page, 0), coverage)

    # back to the map: sent again, as it was left
    page.get_by_role("button", name="Reach map").click()
    expect(visible_canvases(page)).to_have_count(2)
    again = settled_pixels(canvas(page, REACH))
    assert changed_pixels(reach, again) <= MIN_CHANGED_PIXELS
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()
