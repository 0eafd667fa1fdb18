"""Lesson 06 served, in a real browser: follow the link from the index, change the classes
shown, step the recurrence, normalise linear attention, and see the figures change.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_dsf.py``.
"""

from __future__ import annotations

import pytest
from pages import open_from_index, settled_pixels, visible_canvases, wait_for_new_pixels
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LESSON_06 = "dsf"
SHOWN = 6  # the classes shown at first: a Φ each, then decay profiles, build-up, MQAR recall


def test_lesson06_classes_step_and_normalisation(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_06, SHOWN + 3)
    table = page.locator("table")
    expect(table).to_contain_text("softmax attention")
    expect(table).not_to_contain_text("SSD (Mamba-2)")

    # the classes: take softmax off, put SSD on; the table and the heatmaps follow
    chip = page.locator(".choices__item", has_text="softmax attention").first
    chip.locator(".choices__button").click()
    expect(visible_canvases(page)).to_have_count(SHOWN + 2)
    expect(table).not_to_contain_text("softmax attention")
    page.locator(".choices__input--cloned").first.click()  # opens the list of the others
    page.locator(".choices__item--choice", has_text="SSD (Mamba-2)").first.click()
    expect(visible_canvases(page)).to_have_count(SHOWN + 3)
    expect(table).to_contain_text("SSD (Mamba-2)")
    page.keyboard.press("Escape")

    # one step forward: row i moves on every Φ, y_i is built up again
    # visible now: linear attention, GLA, S6, SSD, qLSTM, RG-LRU, decay (log), build-up, recall
    linear, build_up = visible_canvases(page).nth(0), visible_canvases(page).nth(SHOWN + 1)
    expect(page.locator("p", has_text="channel c = 0")).to_contain_text("step i = 8")
    linear_pixels = settled_pixels(linear)
    build_up_pixels = settled_pixels(build_up)
    page.locator("button.next").click()  # the player's step forward
    expect(page.locator("p", has_text="channel c = 0")).to_contain_text("step i = 9")
    linear_pixels = wait_for_new_pixels(linear, linear_pixels)
    wait_for_new_pixels(build_up, build_up_pixels)

    # normalisation: linear attention's Φ becomes row-normalised weights times W_v
    normalise = page.locator(".bk-Checkbox", has_text="normalise linear attention").locator(
        "input[type=checkbox]"
    )
    normalise.check()
    expect(normalise).to_be_checked()
    expect(table).to_contain_text("linear attention (normalised)")
    wait_for_new_pixels(linear, linear_pixels)
    expect(page.locator(".alert")).to_be_hidden()
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()
