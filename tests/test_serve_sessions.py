"""A served session lives while its tab is open and is discarded after it closes, and
``/health`` says so; measured against a real ``attnviz serve`` with protocol-level
sessions (page GET, websocket, document pull), as a browser tab makes them."""

from __future__ import annotations

import pytest
from served import close_sessions, open_sessions, running, wait_until

from attnviz import sessions
from attnviz.dashboards import entries

pytestmark = pytest.mark.slow

# a closed tab's session goes within lifetime + one check; the rest is a busy machine
LIFETIME_MS = sessions.UNUSED_SESSION_LIFETIME_MS + sessions.CHECK_UNUSED_SESSIONS_MS
DISCARD_TIMEOUT = LIFETIME_MS / 1000 + 30


def test_health_reports_the_process_as_json():
    with running("--num-procs", "1") as served:
        report = served.health()
        started = f"{len(entries())} dashboards, 1 process, listening on 127.0.0.1:{served.port}"
        assert started in served.output()
    assert report["status"] == "ok"
    assert report["pid"] == served.process.pid  # one process: the one started
    assert report["dashboards"] == [entry.slug for entry in entries()]
    assert report["sessions"] == report["connected"] == report["built"] == 0
    assert 50 < report["rss_mb"] < 4000
    assert 0 <= report["uptime_s"] < 600
    # the shared caches: empty before any session, and bounded
    assert report["caches_mb"] == 0 and 0 < report["caches_bound_mb"] < 2000


def test_health_is_served_under_the_prefix_too():
    only = ("--num-procs", "1", "--dashboard", "soft_lookup")
    with running(*only, prefix="/course/attnviz") as served:
        assert served.base.endswith("/course/attnviz")
        assert served.health()["dashboards"] == ["soft_lookup"]


def test_closed_sessions_are_discarded_and_their_dashboards_collected():
    n = 3
    with running("--num-procs", "1", "--dashboard", "soft_lookup") as served:
        opened = open_sessions(served.base, "soft_lookup", n)
        held = served.health()
        assert (held["sessions"], held["connected"]) == (n, n)
        # one build per session: the first session is also the page template (serve.py)
        assert (held["built"], held["alive"], held["page_templates"]) == (n, n, 1)
        assert 0 <= held["caches_mb"] <= held["caches_bound_mb"]
        close_sessions(opened)
        gone = wait_until(
            lambda: (report := served.health())["sessions"] == 0 and report,
            "the closed sessions to be discarded",
            timeout=DISCARD_TIMEOUT,
        )
        assert gone["connected"] == 0
        # the discarded dashboards are garbage collected: only the template's stays
        wait_until(
            lambda: served.health()["alive"] == held["page_templates"],
            "the discarded dashboards to be collected",
            timeout=30,
        )
