"""Lesson 06 served, in a real browser: follow the link from the index, change the classes
shown, step the recurrence, normalise linear attention, open the curves and the trained
models' tabs (built when first opened), and see the figures change.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_dsf.py``.
"""

from __future__ import annotations

import pytest
from pages import open_from_index, settled_pixels, visible_canvases, wait_for_new_pixels
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LESSON_06 = "dsf"


def test_lesson06_classes_step_normalisation_and_tabs(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_06, 1)  # every class's Φ in one figure
    table = page.locator("table")
    expect(table).to_contain_text("softmax attention")
    expect(table).not_to_contain_text("SSD (Mamba-2)")
    phi = visible_canvases(page).nth(0)
    pixels = settled_pixels(phi)

    # the classes: take softmax off, put SSD on; the table and the panels follow
    chip = page.locator(".choices__item", has_text="softmax attention").first
    chip.locator(".choices__button").click()
    expect(table).not_to_contain_text("softmax attention")
    pixels = wait_for_new_pixels(phi, pixels)
    page.locator(".choices__input--cloned").first.click()  # opens the list of the others
    page.locator(".choices__item--choice", has_text="SSD (Mamba-2)").first.click()
    expect(table).to_contain_text("SSD (Mamba-2)")
    page.keyboard.press("Escape")
    pixels = wait_for_new_pixels(phi, pixels)

    # one step forward: row i moves on every Φ
    expect(page.locator("p", has_text="channel c = 0")).to_contain_text("step i = 8")
    page.locator("button.next").click()  # the player's step forward
    expect(page.locator("p", has_text="channel c = 0")).to_contain_text("step i = 9")
    pixels = wait_for_new_pixels(phi, pixels)

    # normalisation: linear attention's Φ becomes row-normalised weights times W_v
    normalise = page.locator(".bk-Checkbox", has_text="normalise linear attention").locator(
        "input[type=checkbox]"
    )
    normalise.check()
    expect(normalise).to_be_checked()
    expect(table).to_contain_text("linear attention (normalised)")
    wait_for_new_pixels(phi, pixels)

    # the curves' tab is built when opened, at the step chosen: stepping redraws y_i built up
    page.get_by_role("button", name="decay and build-up").click()
    expect(visible_canvases(page)).to_have_count(2)  # decay profiles (log), y_i built up
    build_up = visible_canvases(page).nth(1)
    build_up_pixels = settled_pixels(build_up)
    page.locator("button.next").click()  # step 10: the build-up's title and lines move on
    wait_for_new_pixels(build_up, build_up_pixels)

    # the trained models: the shipped MQAR sweep, one figure
    page.get_by_role("button", name="trained on MQAR").click()
    expect(visible_canvases(page)).to_have_count(1)
    expect(page.get_by_text("Trained models")).to_be_visible()
    expect(page.locator(".alert")).to_be_hidden()
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()
