"""Deep links in a real browser: a URL sets lesson 04's controls, the address bar follows
a moved control, a bad link still opens the dashboard (with a note and a corrected URL),
and a second tab of the same dashboard loads nothing from elsewhere.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser/test_served_deep_links.py``.
"""

from __future__ import annotations

import re

import pytest
from pages import visible_canvases
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SLUG = "receptive_fields"


def _open(page, url: str) -> None:
    with page.expect_console_message(
        lambda message: "document idle" in message.text, timeout=30_000
    ):
        page.goto(url)
    # the reach map and its strip; or, with log axes asked for, the coverage curves' tab
    expect(visible_canvases(page).first).to_be_visible(timeout=30_000)


def _layers_handle(page):
    return page.locator(".bk-Slider", has_text="layers").first.locator(".noUi-handle")


def test_a_link_sets_the_controls_and_the_url_follows_them(served_app, open_page):
    watched = open_page()
    page = watched.page
    _open(page, f"{served_app}/{SLUG}?pattern=dilated&layers=4&log_axes=true")
    readout = page.locator("p", has_text="the last query sees")
    expect(readout).to_contain_text("dilated")
    expect(readout).to_contain_text("after 4 layers")
    expect(page.locator("select").first).to_have_value("dilated")
    expect(_layers_handle(page)).to_have_attribute("aria-valuenow", re.compile(r"^4(\.0)?$"))
    expect(page.locator("input[type=checkbox]").last).to_be_checked()

    handle = _layers_handle(page)
    handle.focus()
    page.keyboard.press("ArrowRight")
    expect(readout).to_contain_text("after 5 layers")
    expect(page).to_have_url(re.compile(r"[?&]layers=5(&|$)"))
    assert "pattern=dilated" in page.url and "log_axes=true" in page.url, page.url

    page.locator("select").first.select_option("causal")
    expect(page).to_have_url(re.compile(r"[?&]pattern=causal(&|$)"))
    assert not watched.external_requests(), "\n".join(watched.external_requests())
    watched.assert_clean()


def test_a_bad_link_opens_the_dashboard_with_a_note(served_app, open_page):
    watched = open_page()
    page = watched.page
    _open(page, f"{served_app}/{SLUG}?layers=99&pattern=nope&layrs=2")
    note = page.locator(".alert", has_text="This link asked for")
    expect(note).to_be_visible()
    expect(note).to_contain_text("layers = 99 is out of range: using 32")
    expect(note).to_contain_text("pattern = 'nope' is not one of")
    expect(note).to_contain_text("'layrs' is not a control")
    readout = page.locator("p", has_text="the last query sees")
    expect(readout).to_contain_text("power_attention")  # the default pattern
    expect(readout).to_contain_text("after 32 layers")
    # the address bar shows what the dashboard shows
    expect(page).to_have_url(re.compile(r"[?&]layers=32(&|$)"))
    assert "nope" not in page.url and "layrs" not in page.url, page.url
    watched.assert_clean()


def test_a_second_tab_of_a_dashboard_loads_nothing_from_elsewhere(served_app, open_page):
    # The first visit's session is the page template; a later one is built for its
    # websocket, where Panel would point the stylesheets at its CDN (serve.py).
    for _ in range(2):
        watched = open_page()
        _open(watched.page, f"{served_app}/{SLUG}")
        watched.page.wait_for_load_state("networkidle", timeout=15_000)
        assert not watched.external_requests(), "\n".join(watched.external_requests())
        watched.assert_clean()
