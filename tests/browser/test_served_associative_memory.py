"""Lesson 05 served, in a real browser: follow the link from the index, switch tabs (each
built when first opened), step the memory player, change the experiment, type a schedule,
and see the figures change.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_associative_memory.py``.
"""

from __future__ import annotations

import re

import pytest
from pages import open_from_index, settled_pixels, visible_canvases, wait_for_new_pixels
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LESSON_05 = "associative_memory"


def open_tab(page, title: str, figures: int) -> None:
    """Click a tab's button: the tab is built (the first time) and shown."""
    page.get_by_role("button", name=title).click()
    expect(visible_canvases(page)).to_have_count(figures)


def test_lesson05_capacity_player_and_conditioning(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_05, 2)  # the capacity tab's two

    # capacity: the delta rule redraws the curve and the readout says so
    readout = page.locator("p", has_text="SNR d_k/(N − 1)")
    expect(readout).to_contain_text("hebbian, random keys")
    capacity = settled_pixels(visible_canvases(page).nth(0))
    page.locator(".bk-btn", has_text="delta").first.click()
    expect(readout).to_contain_text("delta, random keys")
    wait_for_new_pixels(visible_canvases(page).nth(0), capacity)

    # the memory player: one step forward writes one more association
    open_tab(page, "Memory player", 3)
    player_readout = page.locator("p", has_text="written (")
    expect(player_readout).to_contain_text("t = 8 of 24")
    matrix = settled_pixels(visible_canvases(page).nth(0))
    bars = settled_pixels(visible_canvases(page).nth(1))
    page.locator("button.next").click()  # the player's step forward
    expect(player_readout).to_contain_text("t = 9 of 24")
    wait_for_new_pixels(visible_canvases(page).nth(0), matrix)
    wait_for_new_pixels(visible_canvases(page).nth(1), bars)

    # conditioning: another experiment, then a typed schedule, a bad one and a good one
    open_tab(page, "Conditioning", 2)
    table = page.locator("table")
    expect(table).to_contain_text("final V_B")
    delta = settled_pixels(visible_canvases(page).nth(0))
    hebbian = settled_pixels(visible_canvases(page).nth(1))
    page.locator("select").first.select_option("extinction")
    expect(page.locator("p", has_text="extinction:").first).to_be_visible()
    expect(table).not_to_contain_text("final V_B")
    delta = wait_for_new_pixels(visible_canvases(page).nth(0), delta)
    hebbian = wait_for_new_pixels(visible_canvases(page).nth(1), hebbian)

    schedule = page.locator("input[type=text]").first
    expect(schedule).to_have_value("acquisition: 20 A+ | extinction: 20 A-")
    schedule.fill("20 A+ | 5 AQ*")
    schedule.press("Enter")
    expect(page.get_by_text(re.compile("schedule: .*trial must be"))).to_be_visible()
    schedule.fill("30 A+ | 10 A-")
    schedule.press("Enter")
    expect(page.get_by_text(re.compile("schedule: .*trial must be"))).to_be_hidden()
    expect(page.locator("p", has_text="your schedule").first).to_be_visible()
    wait_for_new_pixels(visible_canvases(page).nth(0), delta)
    wait_for_new_pixels(visible_canvases(page).nth(1), hebbian)

    # back to the capacity tab: sent again, as it was left (the delta rule)
    open_tab(page, "Capacity", 2)
    expect(readout).to_contain_text("delta, random keys")
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()
