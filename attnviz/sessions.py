"""How long a served session lives, and what it lets go of when its tab closes.

Each browser tab is one Bokeh session holding one dashboard (its model, figures and
caches). A closed tab's websocket closes; a tab that vanished without closing (a laptop
that slept, Wi-Fi that dropped) stops answering Tornado's pings and its websocket is
closed after ``PING_TIMEOUT_S``. Either way the session is then unused, and Bokeh
discards it once it has been unused for ``UNUSED_SESSION_LIFETIME_MS`` (checked every
``CHECK_UNUSED_SESSIONS_MS``): a tab that reconnects within that time (a network blip)
finds its session still there. Discarding runs the session's destroy callbacks: the one
registered here calls the dashboard's ``close()`` if it has one (to stop a background
computation), and Panel then frees the document and schedules a garbage collection (the
document, its widgets and param watchers form reference cycles); a moment later this
module collects once more and gives the freed memory back to the system
(``attnviz.allocator``), so RSS falls when a room leaves.

``built()`` and ``alive()`` count dashboards per process, for ``/health``: ``alive``
falls back once closed sessions are collected, which is how the tests see memory return.
"""

from __future__ import annotations

import gc
import logging
import weakref

import panel as pn
from tornado.ioloop import IOLoop

from attnviz import allocator

UNUSED_SESSION_LIFETIME_MS = 15_000  # an unused session is discarded after this ...
CHECK_UNUSED_SESSIONS_MS = 5_000  # ... at the next check, made this often
PING_INTERVAL_S = 20  # websocket pings: keep proxies from closing idle connections ...
PING_TIMEOUT_S = 60  # ... and close those whose browser stopped answering
RELEASE_DELAY_S = 2.0  # after a session ends, when its memory is collected and given back

log = logging.getLogger(__name__)
_alive: weakref.WeakSet = weakref.WeakSet()
_built = 0


def server_settings() -> dict:
    """Keyword arguments for ``pn.serve`` (Bokeh's server and Tornado's application)."""
    return {
        "unused_session_lifetime_milliseconds": UNUSED_SESSION_LIFETIME_MS,
        "check_unused_sessions_milliseconds": CHECK_UNUSED_SESSIONS_MS,
        # Tornado's pings keep the connection alive and find dead ones; Bokeh's own
        # keep-alive ping (which checks no answer) would only repeat them
        "keep_alive_milliseconds": 0,
        "websocket_ping_interval": PING_INTERVAL_S,
        "websocket_ping_timeout": PING_TIMEOUT_S,
    }


def track(dashboard) -> None:
    """Count a dashboard built for a session, and let it go when the session ends."""
    global _built
    _built += 1
    try:
        _alive.add(dashboard)
    except TypeError:  # a registered factory may return something that takes no weakref
        return
    reference = weakref.ref(dashboard)  # the callback must not keep the dashboard alive

    def destroyed(session_context) -> None:
        dashboard = reference()
        close = getattr(dashboard, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # a failing close must not stop Bokeh's clean-up
                log.exception("closing %s failed", type(dashboard).__name__)
        _release_soon()

    pn.state.on_session_destroyed(destroyed)


_release_pending = False


def _release_soon() -> None:
    """Once the sessions ending now are freed, give their memory back to the system
    (``attnviz.allocator``): one collection and trim for all that end together."""
    global _release_pending
    if _release_pending:
        return
    _release_pending = True

    def release() -> None:
        global _release_pending
        _release_pending = False
        gc.collect()  # the documents, widgets and watchers of the ended sessions: cycles
        allocator.release_memory()

    IOLoop.current().call_later(RELEASE_DELAY_S, release)


def built() -> int:
    """Dashboards this process has built since it started."""
    return _built


def alive() -> int:
    """Dashboards of this process still in memory (not yet garbage collected)."""
    return len(_alive)
