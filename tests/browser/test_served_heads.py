"""Lessons 02 and 03 served, in a real browser: follow each link from the index,
tap a thumbnail or a head, move a control, train live, and see the figures change.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_heads.py``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_served_app import open_from_index, settled_pixels, wait_for_new_pixels

pytestmark = pytest.mark.browser

LESSON_02, LESSON_03 = "attention_maps", "head_jobs"
# The Bokeh figures of each dashboard, in the order they are laid out (and in the DOM).
GRID, OVERVIEW, ZOOM, ENTROPY, SINK = range(5)
SCORES, ABLATION, TRAINING, AT_STEP = range(4)
TRAINING_TIMEOUT_MS = 120_000  # a live run on a busy 2-core machine


def canvas(page, index: int):
    return page.locator(".bk-Canvas").nth(index)


def knock_out_box(page, head: str):
    """The knock-out checkbox of a head ("L1H0"); boxes run L0H0, L0H1, L1H0, L1H1."""
    layer, index = (int(n) for n in re.fullmatch(r"L(\d)H(\d)", head).groups())
    return page.locator("input[type=checkbox]").nth(2 * layer + index)


def tap(locator, x: float, y: float) -> None:
    """Click at a fraction (x, y) of an element's box."""
    box = locator.bounding_box()
    assert box, "the figure is not on screen"
    locator.click(position={"x": box["width"] * x, "y": box["height"] * y})


# -- lesson 02 --------------------------------------------------------------------------


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


# -- lesson 03 --------------------------------------------------------------------------


def test_lesson03_tap_a_head_knocks_it_out_and_the_loss_changes(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_03, 4)
    knocked = page.locator("p", has_text="knocked out")
    expect(knocked).to_contain_text("no head knocked out")
    scores = settled_pixels(canvas(page, SCORES))

    # the score heatmap: 2 layers x 2 heads; the bottom-left cell is layer 1, head 0
    tap(canvas(page, SCORES), 0.31, 0.62)

    expect(knocked).to_contain_text("L1H0 knocked out")
    expect(knock_out_box(page, "L1H0")).to_be_checked()
    wait_for_new_pixels(canvas(page, SCORES), scores)  # the cross over L1H0
    text = knocked.inner_text()
    assert re.search(r"repeated-half loss [+-]\d\.\d{3}", text), text

    knock_out_box(page, "L0H0").check()
    expect(knocked).to_contain_text("L0H0, L1H0 knocked out")
    expect(knocked).not_to_have_text(text)
    watched.assert_clean()


def test_lesson03_step_slider_and_train_live_redraw_the_training_chart(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_03, 4)
    training = settled_pixels(canvas(page, TRAINING))
    at_step = settled_pixels(canvas(page, AT_STEP))
    steps = page.locator("p", has_text="held-out loss")
    expect(steps).to_contain_text("step 400")

    handle = page.locator(".noUi-handle")  # the training-step slider, the page's only one
    expect(handle).to_have_count(1)
    handle.focus()
    for _ in range(40):
        page.keyboard.press("ArrowLeft")
    expect(steps).not_to_contain_text("step 400")
    training = wait_for_new_pixels(canvas(page, TRAINING), training)  # the step line moved
    wait_for_new_pixels(canvas(page, AT_STEP), at_step)

    page.get_by_role("button", name="train live").click()
    expect(page.get_by_role("button", name="train live")).to_be_disabled()
    expect(page.get_by_role("button", name="stop")).to_be_enabled()
    progress = page.locator("p", has_text="training: step")
    expect(progress).to_be_visible(timeout=TRAINING_TIMEOUT_MS)  # records stream in

    page.get_by_role("button", name="stop").click()
    done = page.locator("p", has_text="trained live")
    expect(done).to_contain_text("stopped early", timeout=TRAINING_TIMEOUT_MS)
    expect(page.get_by_role("button", name="train live")).to_be_enabled()
    wait_for_new_pixels(canvas(page, TRAINING), training)  # this run's (shorter) curves
    watched.assert_clean()
