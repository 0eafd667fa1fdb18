"""``GET /health``: how the server process that answers is doing, as JSON.

    {"status": "ok", "pid": 4242, "sessions": 3, "connected": 2, "rss_mb": 412.5,
     "uptime_s": 3605.2, "dashboards": ["soft_lookup", ...], "built": 7, "alive": 4,
     "page_templates": 1, "caches_mb": 12.4, "caches_bound_mb": 412.0}

``sessions`` are the students' sessions this process holds (a closed tab's stays up to
about 20 s, see ``attnviz.sessions``), ``connected`` those with an open websocket.
``built`` counts dashboards built since start, ``alive`` those still in memory.
``page_templates`` are the sessions Panel keeps, one per dashboard a page was asked for,
to render pages from (see ``serve.py``): the first visitor's session, or, with several
processes, a copy no student connected to. A template counts in ``sessions`` only while
a websocket uses it; its dashboard always counts in ``alive``. ``caches_mb`` is what the
results shared by every session hold now (``attnviz.shared_cache``), ``caches_bound_mb`` the
most they may hold: after a room has left, RSS should come back to idle plus at most that.

With several processes (``--num-procs``) each answers for itself: the pid says which.
Served at ``<prefix>/health``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import panel as pn
from tornado.web import RequestHandler

from attnviz import sessions, shared_cache

_STARTED = time.monotonic()


def _restart_clock() -> None:  # a forked worker's uptime starts at its fork
    global _STARTED
    _STARTED = time.monotonic()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_clock)


def rss_mb() -> float:
    """This process's resident memory in MiB (its peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; bytes on macOS
        return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _templates() -> set[int]:
    # Panel's cache of sessions that pages are rendered from (pn.config.reuse_sessions)
    return {id(session) for session in getattr(pn.state, "_sessions", {}).values()}


def report(tornado_app, slugs: list[str]) -> dict:
    """The health of this process, from the Bokeh server's application contexts."""
    templates = _templates()
    held = [
        session
        for context in tornado_app.applications.values()
        for session in context.sessions
        if id(session) not in templates or session.connection_count > 0
    ]
    return {
        "status": "ok",
        "pid": os.getpid(),
        "sessions": len(held),
        "connected": sum(1 for session in held if session.connection_count > 0),
        "rss_mb": rss_mb(),
        "uptime_s": round(time.monotonic() - _STARTED, 1),
        "dashboards": list(slugs),
        "built": sessions.built(),
        "alive": sessions.alive(),
        "page_templates": len(templates),
        "caches_mb": round(sum(c["megabytes"] for c in shared_cache.caches().values()), 1),
        "caches_bound_mb": shared_cache.bound_megabytes(),
    }


class HealthHandler(RequestHandler):
    """Answers ``GET /health`` with :func:`report`; never cached."""

    def initialize(self, slugs: list[str]) -> None:
        self._slugs = slugs

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps(report(self.application, self._slugs)))


def route(slugs: list[str]) -> tuple:
    """The Tornado route for ``pn.serve(extra_patterns=[...])`` (Bokeh adds the prefix)."""
    return (r"/health", HealthHandler, {"slugs": list(slugs)})
