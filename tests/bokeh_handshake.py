"""Open a served dashboard's websocket the way BokehJS does (shared by the Binder tests)."""

from __future__ import annotations

import asyncio
import json
import re
import threading


def bokeh_handshake(ws_url: str, page: str, headers: dict[str, str]) -> str:
    """Connect to ``ws_url`` with the session token found in ``page``; the first message type.

    The coroutine runs on its own event loop in a worker thread: the calling thread may
    already run a loop (Playwright's sync API leaves one running for the whole session),
    and ``asyncio.run`` refuses to start inside a running loop.
    """
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    tokens = re.findall(r'"token":\s*"([^"]+)"', page)
    if len(tokens) != 1:
        raise AssertionError(f"expected one Bokeh session token in the page, found {len(tokens)}")

    async def handshake() -> str:
        request = HTTPRequest(ws_url, headers=headers, connect_timeout=30, request_timeout=60)
        connection = await websocket_connect(request, subprotocols=["bokeh", tokens[0]])
        try:
            header = await asyncio.wait_for(connection.read_message(), timeout=60)
        finally:
            connection.close()
        return json.loads(header)["msgtype"]

    outcome: dict[str, object] = {}

    def worker() -> None:
        try:
            outcome["value"] = asyncio.run(handshake())
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=worker, name="bokeh-handshake", daemon=True)
    thread.start()
    thread.join(timeout=150)
    if thread.is_alive():
        raise AssertionError(f"no answer from {ws_url} within 150 s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
