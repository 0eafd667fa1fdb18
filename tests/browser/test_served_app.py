"""The served app in a real browser: the index lists every lesson's dashboard and asks
no host but this server.

Needs Chromium at /usr/bin/chromium (see conftest.py). Run just these with
``python -m pytest tests/browser -m browser``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from attnviz.dashboards import entries

pytestmark = pytest.mark.browser


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
