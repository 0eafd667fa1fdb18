"""What a served session lets go of when it ends: its dashboard's close() is called,
a failing close() is logged and never stops Bokeh's clean-up, and the session's callback
does not keep the dashboard alive."""

from __future__ import annotations

import gc
import logging

from bokeh.document import Document
from panel.io.state import set_curdoc

from attnviz import sessions


class Closable:
    def __init__(self, fail: bool = False):
        self.closed = 0
        self.fail = fail

    def close(self):
        self.closed += 1
        if self.fail:
            raise RuntimeError("cannot close")


def _tracked(dashboard) -> Document:
    document = Document()
    with set_curdoc(document):
        sessions.track(dashboard)
    return document


def _destroy(document: Document) -> None:
    for callback in list(document.session_destroyed_callbacks):
        callback(None)


def test_a_tracked_dashboard_is_counted_and_closed_when_its_session_ends():
    built, alive = sessions.built(), sessions.alive()
    dashboard = Closable()
    document = _tracked(dashboard)
    assert (sessions.built(), sessions.alive()) == (built + 1, alive + 1)
    _destroy(document)
    assert dashboard.closed == 1
    del dashboard
    gc.collect()
    assert sessions.alive() == alive  # the destroy callback held no reference


def test_a_failing_close_is_logged_not_raised(caplog):
    dashboard = Closable(fail=True)
    document = _tracked(dashboard)
    with caplog.at_level(logging.ERROR, logger="attnviz.sessions"):
        _destroy(document)
    assert dashboard.closed == 1
    assert "closing Closable failed" in caplog.text


def test_something_without_close_or_weakrefs_is_only_counted():
    built = sessions.built()
    _destroy(_tracked("a pane given as a string"))  # takes no weakref: counted, no callback
    _destroy(_tracked(object.__new__(type("NoClose", (), {}))))
    assert sessions.built() == built + 2


def test_server_settings_end_unused_sessions_and_ping_browsers():
    settings = sessions.server_settings()
    assert settings["unused_session_lifetime_milliseconds"] == 15_000
    assert settings["check_unused_sessions_milliseconds"] == 5_000
    assert settings["websocket_ping_interval"] < settings["websocket_ping_timeout"]
