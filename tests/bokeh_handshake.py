"""Open a served dashboard's websocket the way BokehJS does (shared by the Binder tests)."""

from __future__ import annotations

import asyncio
import json
import re

from own_loop import run_on_own_loop


def bokeh_handshake(ws_url: str, page: str, headers: dict[str, str]) -> str:
    """Connect to ``ws_url`` with the session token found in ``page``; the first message type.

    The coroutine runs on its own event loop (the calling thread may already run one).
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

    return run_on_own_loop(handshake)
