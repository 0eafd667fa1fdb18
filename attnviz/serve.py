"""Serve every registered lesson dashboard, with an index page, on one port.

``attnviz serve`` calls ``serve``; tests and Binder's proxy start the same
command. Each browser session gets its own dashboard instance, so a room full
of students can move sliders independently.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import tempfile
from pathlib import Path

import panel as pn

from attnviz.dashboards import entries, get
from attnviz.index_page import render_index_template
from attnviz.validation import check_int


def _session_app(entry):
    def app():
        back = pn.pane.HTML(
            '<a href="./" style="font-family: system-ui, sans-serif; font-size: 14px;">'
            "← all lessons</a>",
            margin=(5, 10),
        )
        return pn.Column(back, entry.factory())

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


def serve(
    *,
    port: int = 5006,
    address: str = "127.0.0.1",
    show: bool = False,
    prefix: str = "",
    allow_websocket_origin: list[str] | None = None,
    slugs: list[str] | None = None,
    start: bool = True,
):
    """Start the dashboard server and block until it is stopped (Ctrl-C).

    Args:
        port: TCP port; 0 picks a free one.
        address: interface to listen on; "0.0.0.0" to let a classroom connect.
        show: open the index in a browser.
        prefix: URL prefix when served behind a proxy (Binder, JupyterHub).
        allow_websocket_origin: hosts allowed to open the websocket (default: the
            address itself); "*" allows any, as behind a proxy.
        slugs: serve only these dashboards.
    """
    port = check_int("port", port, low=0, high=65535) or free_port(address)
    selected = entries() if not slugs else [get(slug) for slug in slugs]
    apps = {entry.slug: _session_app(entry) for entry in selected}
    origins = allow_websocket_origin or [f"{address}:{port}", f"localhost:{port}"]
    if address in ("0.0.0.0", "::") and not allow_websocket_origin:
        origins = ["*"]
    return pn.serve(
        apps,
        port=port,
        address=address,
        show=show,
        start=start,
        title={entry.slug: entry.title for entry in selected},
        websocket_origin=origins,
        prefix=prefix.rstrip("/"),
        index=_write_index(selected),
        redirect_root=False,  # always show the index, even with one dashboard
        verbose=True,
        threaded=False,
    )
