"""Serve every registered lesson dashboard, with an index page, on one port.

``attnviz serve`` calls ``serve``; tests and Binder's proxy start the same command. Each
browser session gets its own dashboard instance, so a room full of students can move
sliders independently. ``docs/teaching.md`` is the guide for a class.

What the server does beyond Panel's defaults, and why:

- **Several processes** (``num_procs``): Bokeh binds the port and forks workers that
  share it (``attnviz.processes``). A dashboard's page and its websocket are two
  connections, and may reach two workers. Bokeh builds a session when the page is
  requested and, if the websocket lands elsewhere, builds it *again* there; measured
  with 2 workers, 10 sessions cost 15 dashboard builds, the page's copy then sitting
  unused for 15 s. With Panel's ``reuse_sessions`` a worker renders every page of a
  dashboard from one session it keeps (a "page template"), and the student's session is
  built once, by the worker that gets the websocket: 10 sessions, 11 builds (the extra
  one a template no student connected to: at most one per dashboard per worker; in one
  process the first student's session is the template). The page HTML is the same for
  every student (the content arrives over the websocket), so nothing is lost. (Panel
  leaves such a session's stylesheets on its CDN: ``_local_stylesheets`` keeps them here.)
- **Sessions that end** when their tab closes, their dashboards freed
  (``attnviz.sessions``); ``/health`` reports both (``attnviz.health``).
- **Deep links**: a URL's query sets the controls and follows them (``attnviz.deep_links``).
- **Explicit websocket origins** on ``0.0.0.0`` (``attnviz.origins``).
"""

from __future__ import annotations

import atexit
import logging
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import panel as pn
from panel.io.resources import LOCAL_DIST
from tornado import process

from attnviz import allocator, deep_links, health, origins, sessions
from attnviz.dashboards import entries, get
from attnviz.index_page import render_index_template
from attnviz.processes import check_num_procs, prepare_workers
from attnviz.validation import check_int

log = logging.getLogger(__name__)


def _build(entry) -> tuple[object, list[str]]:
    """The session's dashboard, with the controls its URL asks for; notes on the rest."""
    query = pn.state.session_args or {}
    dashboard, notes = deep_links.build(entry.factory, query)
    sessions.track(dashboard)
    if pn.state.location is not None:
        names = deep_links.link_params(dashboard)
        deep_links.link_dashboard(dashboard, pn.state.location, names, asked=set(query))
    if notes:
        log.warning("/%s: %s", entry.slug, " ".join(notes))
    return dashboard, notes


def _note(notes: list[str]) -> pn.pane.Alert:
    text = "**This link asked for something the dashboard cannot show:**\n\n" + "\n".join(
        f"- {note}" for note in notes
    )
    return pn.pane.Alert(text, alert_type="warning", margin=(5, 10), max_width=900)


def _local_stylesheets() -> None:
    """Point this session's stylesheets at this server, as Panel does for a page it renders.

    With ``reuse_sessions`` a student's session is built for the websocket, never for a
    page, and Panel would leave its widgets' stylesheets on its CDN: no style offline.
    """
    document = pn.state.curdoc
    if document is None or "dist_url" in document.template_variables:
        return
    rel_path = pn.state.rel_path
    document.template_variables["dist_url"] = f"{rel_path}/{LOCAL_DIST}" if rel_path else LOCAL_DIST


def _session_app(entry):
    def app():
        _local_stylesheets()
        back = pn.pane.HTML(
            '<a href="./" style="font-family: system-ui, sans-serif; font-size: 14px;">'
            "← all lessons</a>",
            margin=(5, 10),
        )
        dashboard, notes = _build(entry)
        return pn.Column(back, *([_note(notes)] if notes else []), dashboard)

    app.__name__ = entry.slug
    return app


def _write_index(selected) -> str:
    folder = Path(tempfile.mkdtemp(prefix="attnviz-index-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "index.html"
    path.write_text(render_index_template(selected), encoding="utf-8")
    return str(path)


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``address`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def _announce(*, address, port, prefix, num_procs, selected, websocket_origin) -> None:
    workers = "1 process" if num_procs == 1 else f"{num_procs} worker processes"
    urls = origins.student_urls(address, port, prefix)
    local = "127.0.0.1" if address in origins.ANY_ADDRESSES else address
    lines = [
        f"attnviz serve: {len(selected)} dashboards, {workers}, listening on {address}:{port}",
        f"  students open: {urls[0]}" + (f"  (or {', '.join(urls[1:])})" if urls[1:] else ""),
        f"  websocket origins allowed: {', '.join(websocket_origin)}",
        f"  health: http://{local}:{port}{prefix}/health",
        "  Ctrl-C stops the server.",
    ]
    print("\n".join(lines), flush=True)


def serve(
    *,
    port: int = 5006,
    address: str = "127.0.0.1",
    show: bool = False,
    prefix: str = "",
    allow_websocket_origin: list[str] | None = None,
    slugs: list[str] | None = None,
    start: bool = True,
    num_procs: int = 1,
):
    """Start the dashboard server and block until it is stopped (Ctrl-C).

    Args:
        port: TCP port; 0 picks a free one.
        address: interface to listen on; "0.0.0.0" to let a classroom connect.
        show: open the index in a browser.
        prefix: URL prefix when served behind a proxy (Binder, JupyterHub).
        allow_websocket_origin: hosts whose pages may open the websocket (default: this
            machine's names and addresses with the port, see ``attnviz.origins``); "*"
            allows any, as behind a proxy.
        slugs: serve only these dashboards.
        start: False returns the server unstarted (one process only).
        num_procs: worker processes sharing the port (``attnviz serve`` defaults to one
            per core); each holds its own sessions, so a busy one delays only its own.
    """
    port = check_int("port", port, low=0, high=65535) or free_port(address)
    num_procs = check_num_procs(num_procs)
    if num_procs > 1 and not start:
        raise ValueError("start=False needs num_procs=1: the workers start as they are forked")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string such as '/attnviz', got {prefix!r}")
    if prefix and not prefix.startswith("/"):
        raise ValueError(
            f"prefix must be empty or start with '/', such as '/attnviz', got {prefix!r}"
        )
    prefix = prefix.rstrip("/")
    selected = entries() if not slugs else [get(slug) for slug in slugs]
    apps = {entry.slug: _session_app(entry) for entry in selected}
    websocket_origin = origins.websocket_origins(address, port, allow_websocket_origin)
    # render pages from one kept session per dashboard: see the module's docstring
    pn.config.reuse_sessions = True
    allocator.tune_allocator()  # big buffers as their own mappings: see attnviz.allocator
    if num_procs > 1:
        prepare_workers()
    server = pn.serve(
        apps,
        port=port,
        address=address,
        show=False,  # below, by one process only
        start=False,  # with num_procs > 1 this returns in each worker, after the fork
        title={entry.slug: entry.title for entry in selected},
        websocket_origin=websocket_origin,
        prefix=prefix,
        index=_write_index(selected),
        redirect_root=False,  # always show the index, even with one dashboard
        verbose=False,  # _announce says more, once
        threaded=False,
        num_procs=num_procs,
        extra_patterns=[health.route([entry.slug for entry in selected])],
        **sessions.server_settings(),
    )
    if process.task_id() in (None, 0):  # the only process, or the first worker
        _announce(
            address=address,
            port=port,
            prefix=prefix,
            num_procs=num_procs,
            selected=selected,
            websocket_origin=websocket_origin,
        )
        if show:
            server.io_loop.add_callback(server.show, "/")
    if not start:
        return server
    server.start()
    try:
        server.io_loop.start()
    except RuntimeError:  # the loop was already running (started elsewhere)
        pass
    finally:
        sys.stdout.flush()
    return server
