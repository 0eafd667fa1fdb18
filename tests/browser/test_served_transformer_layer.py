"""Lesson 01b served, in a real browser: follow the link from the index, move the sentence
to later positions, switch from learned positions to RoPE, switch the causal mask off, and
see the readout and the figures follow.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_transformer_layer.py``.
"""

from __future__ import annotations

import pytest
from pages import open_from_index, settled_pixels, slider, visible_canvases, wait_for_new_pixels
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LESSON_01B = "transformer_layer"


def test_lesson01b_offset_positions_and_mask(served_app, open_page):
    watched = open_page()
    page = watched.page
    # weights, scores, query t's row before and after the move, the residual stream
    open_from_index(page, served_app, LESSON_01B, 4)
    readout = page.locator("p", has_text="Query t = 11")
    expect(readout).to_contain_text("induction_2l")
    expect(readout).to_contain_text("by offset 0 changes a weight by at most 0 ")
    weights, scores, row = (visible_canvases(page).nth(i) for i in range(3))
    weight_pixels, score_pixels, row_pixels = (settled_pixels(c) for c in (weights, scores, row))

    # move the sentence 3 positions later: learned positions change the weights
    offset = slider(page, "offset").first
    offset.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(readout).to_contain_text("by offset 3")
    expect(readout).to_contain_text("(learned positions)")
    row_pixels = wait_for_new_pixels(row, row_pixels)
    weight_pixels = wait_for_new_pixels(weights, weight_pixels)

    # RoPE: the other model; its weights do not move with the sentence
    page.get_by_role("button", name="rope").click()
    expect(readout).to_contain_text("induction_rope")
    expect(readout).to_contain_text("RoPE: only m − n counts")
    weight_pixels = wait_for_new_pixels(weights, weight_pixels)

    # the causal mask off: the grey triangle of the scores fills in
    causal = page.locator(".bk-Checkbox", has_text="causal mask").locator("input[type=checkbox]")
    causal.uncheck()
    expect(causal).not_to_be_checked()
    expect(readout).to_contain_text("no mask")
    wait_for_new_pixels(scores, score_pixels)
    expect(page.locator(".alert")).to_be_hidden()
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()
