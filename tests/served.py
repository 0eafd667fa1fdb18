"""A real ``attnviz serve`` for the tests, and browser-free sessions against it.

``running(*args)`` starts ``python -m attnviz serve --port P *args`` in its own process
group and waits (bounded) until ``/health`` answers; at the end the whole group is
stopped, workers included. ``open_sessions`` does what a browser tab does at the
protocol level: GET the page, open the websocket with the page's session token and pull
the document; the connections stay open until ``close_sessions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from own_loop import run_on_own_loop

from attnviz.serve import free_port

START_TIMEOUT = 90  # seconds until /health must answer (imports torch and Panel)
PULL_TIMEOUT = 60  # seconds for one session's page + websocket + document


@dataclass
class Served:
    process: subprocess.Popen
    port: int
    prefix: str
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def health(self, timeout: float = 10) -> dict:
        with urllib.request.urlopen(self.base + "/health", timeout=timeout) as response:
            assert response.headers["Content-Type"].startswith("application/json")
            return json.loads(response.read())


def _stop(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            # the leader is gone: end any worker it left in its group
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def wait_for_health(served: Served, timeout: float = START_TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(
                f"attnviz serve exited ({served.process.returncode}):\n{served.output()[-4000:]}"
            )
        try:
            return served.health(timeout=5)
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise AssertionError(f"/health did not answer within {timeout} s:\n{served.output()[-4000:]}")


@contextlib.contextmanager
def running(*args: str, prefix: str = "", port: int | None = None):
    """``attnviz serve`` on a free port (or ``port``) with ``args``; yields a Served."""
    port = port or free_port()
    log = Path(tempfile.mkstemp(prefix="attnviz-serve-", suffix=".log")[1])
    command = [sys.executable, "-m", "attnviz", "serve", "--port", str(port), *args]
    if prefix:
        command += ["--prefix", prefix]
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    served = Served(process, port, prefix.rstrip("/"), log)
    try:
        wait_for_health(served)
        yield served
    finally:
        _stop(process)
        log.unlink(missing_ok=True)


def get_page(url: str, timeout: float = PULL_TIMEOUT) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def session_token(page: str) -> str:
    tokens = re.findall(r'"token":\s*"([^"]+)"', page)
    if len(tokens) != 1:
        raise AssertionError(f"expected one Bokeh session token in the page, found {len(tokens)}")
    return tokens[0]


async def _read_message(connection) -> dict:
    """One Bokeh protocol message: header, metadata, content (+ binary buffers)."""
    frames = []
    for _ in range(3):
        frame = await asyncio.wait_for(connection.read_message(), timeout=PULL_TIMEOUT)
        if frame is None:
            raise AssertionError("the server closed the websocket")
        frames.append(json.loads(frame))
    header = frames[0]
    for _ in range(header.get("num_buffers", 0)):
        await asyncio.wait_for(connection.read_message(), timeout=PULL_TIMEOUT)
    return {"header": header, "metadata": frames[1], "content": frames[2]}


async def connect(ws_url: str, page: str, origin: str | None = None):
    """The websocket of the session named in ``page``, acknowledged (ACK read)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"Origin": origin} if origin else {}
    request = HTTPRequest(ws_url, headers=headers, connect_timeout=30, request_timeout=60)
    connection = await websocket_connect(request, subprotocols=["bokeh", session_token(page)])
    ack = await _read_message(connection)
    assert ack["header"]["msgtype"] == "ACK", ack["header"]
    return connection


async def pull_document(connection) -> dict:
    """Ask for the session's document as BokehJS does; the reply's content."""
    for frame in ({"msgid": "attnviz-test-1", "msgtype": "PULL-DOC-REQ"}, {}, {}):
        await connection.write_message(json.dumps(frame))
    while True:  # the server may send other messages (patches) first
        message = await _read_message(connection)
        if message["header"]["msgtype"] == "PULL-DOC-REPLY":
            return message["content"]


def ws_url(base: str, slug: str) -> str:
    return base.replace("http://", "ws://", 1) + f"/{slug}/ws"


def open_sessions(
    served_base: str, slug: str, n: int, *, origin: str | None = None, query: str = ""
):
    """Open ``n`` sessions of ``slug`` (its page asked with ``?query``, if given) one after
    another; returns (loop, thread, connections).

    The connections live on an event loop in a thread of its own, so they stay open
    while the test goes on; pass the result to ``close_sessions``.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sessions-loop", daemon=True)
    thread.start()

    async def open_all():
        connections = []
        for _ in range(n):
            url = f"{served_base}/{slug}" + (f"?{query}" if query else "")
            page = await asyncio.to_thread(get_page, url)
            connection = await connect(ws_url(served_base, slug), page, origin)
            content = await pull_document(connection)
            assert content["doc"]["roots"], "the pulled document has no roots"
            connections.append(connection)
        return connections

    future = asyncio.run_coroutine_threadsafe(open_all(), loop)
    try:
        connections = future.result(timeout=PULL_TIMEOUT * max(n, 1))
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        raise
    return loop, thread, connections


def close_sessions(opened) -> None:
    loop, thread, connections = opened

    async def close_all():
        for connection in connections:
            connection.close()
        await asyncio.sleep(0.2)

    asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)


def handshake(served_base: str, slug: str, origin: str | None) -> str:
    """GET the page, then open its websocket with ``origin``: "ok" or the HTTP error code."""
    from tornado.httpclient import HTTPClientError
    from tornado.websocket import WebSocketClosedError

    page = get_page(f"{served_base}/{slug}")

    async def attempt() -> str:
        try:
            connection = await connect(ws_url(served_base, slug), page, origin)
        except HTTPClientError as error:
            return str(error.code)
        except WebSocketClosedError:
            return "closed"
        connection.close()
        return "ok"

    return run_on_own_loop(attempt)


def wait_until(condition, what: str, timeout: float, every: float = 0.5):
    """Poll ``condition()`` until it returns a truthy value; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
