"""Lesson 07 served, in a real browser: follow the link from the index, step online softmax
one key block on, pick another query row and turn causal off, open the chunks' tab (built
when first opened) and move the chunk shown, open the cost tab, and see the figures change.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_fast_kernels.py``.
"""

from __future__ import annotations

import pytest
from pages import (
    open_from_index,
    settled_pixels,
    slider,
    visible_canvases,
    wait_for_new_pixels,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LESSON_07 = "fast_kernels"


def test_lesson07_steps_blocks_toggles_causal_and_opens_the_chunks(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_07, 3)  # scores, m and ℓ, the output so far
    readout = page.locator("p", has_text="Query row i = 31")
    expect(readout).to_contain_text("key block 1 of 4")
    scores = visible_canvases(page).nth(0)
    pixels = settled_pixels(scores)

    # one step forward: the next key block is read, the block highlighted moves
    page.locator("button.next").click()
    expect(readout).to_contain_text("key block 2 of 4")
    pixels = wait_for_new_pixels(scores, pixels)

    # query row 30: under the causal mask it cannot see key 31
    query = slider(page, "query row i").first
    query.focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("p", has_text="Query row i = 30")).to_be_visible()
    pixels = wait_for_new_pixels(scores, pixels)

    # causal off: the score the mask hid (key 31) is drawn now
    causal = page.locator(".bk-Checkbox", has_text="causal").locator("input[type=checkbox]")
    causal.uncheck()
    expect(causal).not_to_be_checked()
    wait_for_new_pixels(scores, pixels)

    # the chunks' tab is built when opened; moving the chunk shown redraws the map
    page.get_by_role("button", name="chunkwise linear attention").click()
    expect(visible_canvases(page)).to_have_count(2)  # the chunk map, the parts per token
    text = page.locator("p", has_text="whatever T is")
    expect(text).to_contain_text("Chunk 1 of 4")
    chunks = visible_canvases(page).nth(0)
    chunk_pixels = settled_pixels(chunks)
    chunk = slider(page, "its chunk is shown").first
    chunk.focus()
    page.keyboard.press("ArrowRight")
    expect(text).to_contain_text("Chunk 2 of 4")
    wait_for_new_pixels(chunks, chunk_pixels)

    # the cost tab: the chart and the button, nothing measured until it is pressed
    page.get_by_role("button", name="cost against length").click()
    expect(visible_canvases(page)).to_have_count(1)
    expect(page.get_by_role("button", name="measure on this machine")).to_be_visible()
    expect(page.locator(".alert")).to_be_hidden()
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()
