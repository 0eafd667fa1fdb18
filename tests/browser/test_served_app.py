"""The served app in a real browser: the index, lesson 01's dashboard, and a user's
mouse and keyboard moving its controls.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser -m browser``.
"""

from __future__ import annotations

import io
import re
import time

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import expect

from attnviz.dashboards import entries

pytestmark = pytest.mark.browser

LESSON_01 = "soft_lookup"
# The four Bokeh figures of SoftLookup, in the order they are laid out (and in the DOM).
FIT, NW_WEIGHTS, ATTENTION, SATURATION = range(4)
# Bokeh may redraw an untouched figure with a few anti-aliasing differences; a pixel
# counts as changed only when a channel moves by more than PIXEL_TOLERANCE, and a
# figure counts as redrawn only when more than MIN_CHANGED_PIXELS pixels did.
PIXEL_TOLERANCE = 16
MIN_CHANGED_PIXELS = 100
QUERY_READOUT = re.compile(r"query x = (-?[\d.]+)")
D_K_READOUT = re.compile(r"d_k = (\d+)")


# -- helpers ----------------------------------------------------------------------------


def wait_for(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def readout(page):
    """The dashboard's Markdown readout (a <p> inside Panel's shadow DOM)."""
    return page.locator("p", has_text="query x =")


def readout_number(page, pattern: re.Pattern) -> float:
    text = readout(page).inner_text()
    match = pattern.search(text)
    assert match, f"{pattern.pattern!r} not found in the readout {text!r}"
    return float(match.group(1))


def slider(page, title: str):
    """The noUiSlider handle of the Panel slider whose title contains ``title``."""
    return page.locator(".bk-Slider", has_text=title).locator(".noUi-handle")


def figure(page, index: int):
    return page.locator(".bk-Canvas").nth(index)


def changed_pixels(before: bytes, after: bytes) -> int:
    """How many pixels differ by more than PIXEL_TOLERANCE between two PNG screenshots."""
    first = Image.open(io.BytesIO(before)).convert("RGB")
    second = Image.open(io.BytesIO(after)).convert("RGB")
    if first.size != second.size:
        return max(first.width * first.height, second.width * second.height)
    difference = ImageChops.difference(first, second).convert("L")
    return sum(difference.histogram()[PIXEL_TOLERANCE + 1 :])


def settled_pixels(locator, timeout: float = 10.0) -> bytes:
    """A screenshot of ``locator`` once two consecutive shots agree (drawing done)."""
    deadline = time.monotonic() + timeout
    previous = locator.screenshot(animations="disabled")
    while time.monotonic() < deadline:
        time.sleep(0.15)
        current = locator.screenshot(animations="disabled")
        if current == previous:
            return current
        previous = current
    raise AssertionError(f"the figure kept changing for {timeout} s")


def wait_for_new_pixels(locator, before: bytes, timeout: float = 10.0) -> bytes:
    """Wait (bounded) until ``locator`` is visibly redrawn, then let it settle."""
    deadline = time.monotonic() + timeout
    changed = 0
    while time.monotonic() < deadline:
        changed = changed_pixels(before, locator.screenshot(animations="disabled"))
        if changed > MIN_CHANGED_PIXELS:
            return settled_pixels(locator)
        time.sleep(0.15)
    raise AssertionError(
        f"the figure was not redrawn within {timeout} s ({changed} pixels changed, "
        f"more than {MIN_CHANGED_PIXELS} needed)"
    )


def visible_canvases(page):
    """The Bokeh canvases shown now (those of hidden tabs and hidden twin figures left out)."""
    return page.locator(".bk-Canvas:visible")


def open_from_index(page, base: str, slug: str, n_visible: int) -> None:
    """Click the dashboard's card on the index; wait until ``n_visible`` figures are drawn."""
    page.goto(base + "/")
    with page.expect_console_message(
        lambda message: "document idle" in message.text, timeout=30_000
    ):
        page.locator(f"#link-{slug}").click()
    expect(page).to_have_url(re.compile(rf"/{slug}/?$"))
    expect(visible_canvases(page)).to_have_count(n_visible, timeout=30_000)


def open_dashboard(page, url: str) -> None:
    """Go to a dashboard and wait until Bokeh has drawn it and the server is idle."""
    with page.expect_console_message(
        lambda message: "document idle" in message.text, timeout=30_000
    ):
        page.goto(url)
    wait_until_drawn(page)


def wait_until_drawn(page) -> None:
    expect(page.locator(".bk-Canvas")).to_have_count(4, timeout=30_000)
    for index in range(4):
        expect(figure(page, index)).to_be_visible()
    expect(readout(page)).to_be_visible()


def drag_handle(page, handle, dx: float) -> None:
    """Press the mouse on a slider handle, move it ``dx`` pixels in steps, release."""
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    assert box, "slider handle is not on screen"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=12)
    page.mouse.up()


# -- the index --------------------------------------------------------------------------


def test_index_lists_every_dashboard_and_stays_offline(served_app, open_page):
    watched = open_page()
    page = watched.page
    page.goto(served_app + "/", wait_until="load")
    expect(page).to_have_title(re.compile("attnviz"))
    registered = entries()
    assert registered, "no dashboards are registered"
    expect(page.locator("#dashboards li")).to_have_count(len(registered))
    for entry in registered:
        card = page.locator(f"#link-{entry.slug}")
        expect(card).to_be_visible()
        expect(card.locator("h2")).to_have_text(entry.title)
        assert card.get_attribute("href").rstrip("/").endswith("/" + entry.slug)
    page.wait_for_load_state("networkidle", timeout=15_000)
    assert watched.requests, "recorded no requests at all"
    assert not watched.external_requests(), (
        "the index asked hosts other than this server:\n" + "\n".join(watched.external_requests())
    )
    watched.assert_clean()


# -- lesson 01 --------------------------------------------------------------------------


def test_lesson01_from_index_slider_drag_redraws_figure(served_app, open_page):
    watched = open_page()
    page = watched.page
    page.goto(served_app + "/")
    with page.expect_console_message(
        lambda message: "document idle" in message.text, timeout=30_000
    ):
        page.locator(f"#link-{LESSON_01}").click()
    expect(page).to_have_url(re.compile(rf"/{LESSON_01}/?$"))
    wait_until_drawn(page)

    handle = slider(page, "query x")
    expect(handle).to_have_attribute("aria-valuenow", "4.0")
    query_before = readout_number(page, QUERY_READOUT)
    text_before = readout(page).inner_text()
    fit_before = settled_pixels(figure(page, FIT))
    weights_before = settled_pixels(figure(page, NW_WEIGHTS))

    drag_handle(page, handle, dx=60)  # to the right: a larger query x

    expect(readout(page)).not_to_have_text(text_before, timeout=10_000)
    # the server answers each step of the drag; wait until it has caught up with the handle
    wait_for(
        lambda: (
            abs(readout_number(page, QUERY_READOUT) - float(handle.get_attribute("aria-valuenow")))
            <= 0.051
        ),
        "the readout's query x to match the slider handle",
    )
    query_after = readout_number(page, QUERY_READOUT)
    assert query_after > query_before + 0.5, (query_before, query_after)
    wait_for_new_pixels(figure(page, FIT), fit_before)  # the query line and the dots moved
    wait_for_new_pixels(figure(page, NW_WEIGHTS), weights_before)  # the marked row moved

    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()


def test_lesson01_keyboard_on_d_k_slider_redraws_attention(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_dashboard(page, f"{served_app}/{LESSON_01}")

    handle = slider(page, "d_k")
    d_k_before = readout_number(page, D_K_READOUT)
    attention_before = settled_pixels(figure(page, ATTENTION))
    saturation_before = settled_pixels(figure(page, SATURATION))
    fit_before = settled_pixels(figure(page, FIT))

    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")

    expect(readout(page)).to_contain_text(f"d_k = {int(d_k_before) - 3}", timeout=10_000)
    expect(handle).to_have_attribute("aria-valuenow", f"{int(d_k_before) - 3}.0")
    wait_for_new_pixels(figure(page, ATTENTION), attention_before)
    wait_for_new_pixels(figure(page, SATURATION), saturation_before)  # the marker moved
    changed = changed_pixels(fit_before, settled_pixels(figure(page, FIT)))
    assert changed < MIN_CHANGED_PIXELS, f"d_k must not redraw the fit ({changed} pixels changed)"
    watched.assert_clean()


def test_lesson01_click_on_fit_moves_query(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_dashboard(page, f"{served_app}/{LESSON_01}")

    query_before = readout_number(page, QUERY_READOUT)
    fit = figure(page, FIT)
    fit_before = settled_pixels(fit)
    box = fit.bounding_box()
    # x runs 0..10 left to right; a fifth of the way in is well left of the query at 4
    fit.click(position={"x": box["width"] * 0.2, "y": box["height"] * 0.5})

    expect(readout(page)).not_to_have_text(re.compile(rf"query x = {query_before:.2f}"))
    query_after = readout_number(page, QUERY_READOUT)
    assert 0.0 <= query_after < query_before - 1.0, (query_before, query_after)
    # the slider follows the click
    expect(slider(page, "query x")).to_have_attribute("aria-valuenow", re.compile(r"^[0-3]\."))
    wait_for_new_pixels(fit, fit_before)
    watched.assert_clean()


def test_back_link_returns_to_index(served_app, open_page):
    watched = open_page()
    page = watched.page
    open_dashboard(page, f"{served_app}/{LESSON_01}")
    page.get_by_role("link", name="← all lessons").click()
    expect(page).to_have_url(served_app + "/")
    expect(page.locator(f"#link-{LESSON_01}")).to_be_visible()
    watched.assert_clean()
