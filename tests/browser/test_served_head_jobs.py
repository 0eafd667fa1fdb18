"""Lesson 03 served, in a real browser: follow its link from the index, tap a head to
knock it out, open the training tab, move the step slider, train live, and see the
figures change.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_head_jobs.py``.
"""

from __future__ import annotations

import re

import pytest
from pages import open_from_index, settled_pixels, tap, visible_canvases, wait_for_new_pixels
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


LESSON_03 = "head_jobs"
# The two tabs and the figures each shows, in the order laid out (only the open tab is on
# the page; the training tab is built when first opened).
HEADS_TAB, TRAINING_TAB = "heads and knock-outs", "training"
SCORES, ABLATION = range(2)
TRAINING, AT_STEP = range(2)


def canvas(page, index: int):
    """The ``index``-th figure of the tab shown now."""
    return visible_canvases(page).nth(index)


TRAINING_TIMEOUT_MS = 120_000  # a live run on a busy 2-core machine


def knock_out_box(page, head: str):
    """The knock-out checkbox of a head ("L1H0"); boxes run L0H0, L0H1, L1H0, L1H1."""
    layer, index = (int(n) for n in re.fullmatch(r"L(\d)H(\d)", head).groups())
    return page.locator("input[type=checkbox]").nth(2 * layer + index)


def test_lesson03_tap_a_head_knocks_it_out_and_the_loss_changes(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_from_index(page, served_app, LESSON_03, 2)
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
    open_from_index(page, served_app, LESSON_03, 2)
    expect(page.locator(".noUi-handle")).to_have_count(0)  # the step is on the training tab
    page.get_by_role("button", name=TRAINING_TAB).click()
    expect(page.get_by_role("button", name="train live")).to_be_visible()
    expect(visible_canvases(page)).to_have_count(2)
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
