"""What the served-app browser tests do with a page: open a dashboard from the
index, find its figures and sliders, and wait (bounded) until a figure is redrawn.
"""

from __future__ import annotations

import io
import re
import time

from PIL import Image, ImageChops
from playwright.sync_api import expect

# Bokeh may redraw an untouched figure with a few anti-aliasing differences; a pixel
# counts as changed only when a channel moves by more than PIXEL_TOLERANCE, and a
# figure counts as redrawn only when more than MIN_CHANGED_PIXELS pixels did.
PIXEL_TOLERANCE = 16
MIN_CHANGED_PIXELS = 100


def wait_for(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def slider(page, title: str):
    """The noUiSlider handle of the Panel slider whose title contains ``title``."""
    return page.locator(".bk-Slider", has_text=title).locator(".noUi-handle")


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


def canvas(page, index: int):
    return page.locator(".bk-Canvas").nth(index)


def tap(locator, x: float, y: float) -> None:
    """Click at a fraction (x, y) of an element's box."""
    box = locator.bounding_box()
    assert box, "the figure is not on screen"
    locator.click(position={"x": box["width"] * x, "y": box["height"] * y})
