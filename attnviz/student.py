"""One simulated student: a browser tab's traffic with a served dashboard, timed.

What a tab does, over the same protocol: GET the dashboard's page (the Bokeh server
builds the session then), read the session token from it, open the websocket
``/<slug>/ws`` with the subprotocols ``["bokeh", token]``, wait for ACK, send
PULL-DOC-REQ and receive the document (PULL-DOC-REPLY), then announce it rendered (the
DocumentReady event BokehJS sends, which Panel waits for before it sends any redraw).
Then move a control every 0.5–1.5 s: send a PATCH-DOC with the events BokehJS sends
(``attnviz.moves``) and wait for the server's answer: the first PATCH-DOC that changes
something other than the inputs (a figure, a readout). The server's OK to our PATCH-DOC
is not an answer.

Every wait has a timeout. Many students share one asyncio event loop: no threads.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import count

from attnviz.moves import Control, DocumentModels, locate, patch_content, pick_move, redraws

TOKEN = re.compile(r'"token":\s*"([^"]+)"')  # as BokehJS's page embeds it
ANSWER_TIMEOUT_S = 10.0  # a move with no answer by then is "unanswered"
LATE_ANSWER_S = 30.0  # ... but its student waits this long for it before moving again
QUIET_S, QUIET_MAX_S = 0.2, 3.0  # before choosing a move: the server quiet this long (bounded)
OPEN_TIMEOUT_S = 300.0  # GET to PULL-DOC-REPLY, queueing behind other sessions included
CLOSE_TIMEOUT_S = 10.0
MAX_MESSAGE_BYTES = 256 * 2**20
_ids = count(1)
#: the PATCH-DOC content BokehJS sends once every root is rendered (bokeh.events.DocumentReady)
DOCUMENT_READY = {
    "events": [
        {
            "kind": "MessageSent",
            "msg_type": "bokeh_event",
            "msg_data": {"type": "event", "name": "document_ready", "values": {"type": "map"}},
        }
    ]
}


@dataclass
class StudentRecord:
    """What one student measured."""

    index: int
    slug: str
    open_seconds: float | None = None  # GET to the whole PULL-DOC-REPLY; None: never
    page_seconds: float | None = None  # GET to the page (the session built)
    answers_ms: list[float] = field(default_factory=list)
    moves: int = 0
    unanswered: int = 0  # no answer within ANSWER_TIMEOUT_S
    late_answers_ms: list[float] = field(default_factory=list)  # of those, answered later
    moved: Counter = field(default_factory=Counter)  # moves per control name
    errors: list[str] = field(default_factory=list)  # "kind: detail"
    unanswered_moves: list[str] = field(default_factory=list)
    move_times: list[float] = field(default_factory=list)  # monotonic, when each was sent
    timed: list[tuple] = field(default_factory=list)  # (sent, control, value, answer ms)


class Student:
    """One browser tab on ``/<slug>`` of the server at ``base_url`` (http://host:port)."""

    def __init__(
        self,
        index: int,
        slug: str,
        controls: list[Control],
        base_url: str,
        rng: random.Random,
        *,
        answer_timeout: float = ANSWER_TIMEOUT_S,
        open_timeout: float = OPEN_TIMEOUT_S,
    ):
        self.record = StudentRecord(index, slug)
        self._controls = controls
        self._page_url = f"{base_url}/{slug}"
        self._ws_url = f"{base_url.replace('http', 'ws', 1)}/{slug}/ws"
        self._rng = rng
        self._answer_timeout = answer_timeout
        self._open_timeout = open_timeout
        self._connection = None
        self._reader: asyncio.Task | None = None
        self._replies: dict[str, asyncio.Future] = {}  # by message type: ACK, PULL-DOC-REPLY
        self._waiting: asyncio.Future | None = None  # the answer to the move in flight
        self._closing = False
        self._last_patch_at = 0.0  # when the server last sent a PATCH-DOC (monotonic)
        self.models: DocumentModels | None = None
        self._base: tuple[str, ...] | None = None

    def _error(self, kind: str, detail: object = "") -> None:
        self.record.errors.append(f"{kind}: {detail}"[:300])

    # -- opening the session -------------------------------------------------------------
    async def open(self) -> bool:
        """GET the page, open the websocket, pull the document; whether it all worked."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._open(), self._open_timeout)
        except TimeoutError:
            self._error("timeout", f"session not open after {self._open_timeout:.0f} s")
            return False
        except Exception as error:  # noqa: BLE001 - every failure is counted, none stops the run
            self._error(type(error).__name__, error)
            return False
        if self.models is None:
            return False
        self.record.open_seconds = time.monotonic() - started
        return True

    async def _open(self) -> None:
        from tornado.httpclient import AsyncHTTPClient, HTTPRequest
        from tornado.websocket import websocket_connect

        started = time.monotonic()
        response = await AsyncHTTPClient().fetch(
            HTTPRequest(self._page_url, request_timeout=self._open_timeout), raise_error=False
        )
        self.record.page_seconds = time.monotonic() - started
        if response.code != 200:
            self._error("http", f"GET {self._page_url}: {response.code}")
            return
        tokens = TOKEN.findall(response.body.decode("utf-8", "replace"))
        if len(tokens) != 1:
            self._error("page", f"{len(tokens)} session tokens in {self._page_url}")
            return
        self._connection = await websocket_connect(
            # tornado's default gives the upgrade 20 s: a busy server takes longer, and
            # BokehJS waits (the whole open is bounded by open_timeout all the same)
            HTTPRequest(
                self._ws_url,
                connect_timeout=self._open_timeout,
                request_timeout=self._open_timeout,
            ),
            subprotocols=["bokeh", tokens[0]],
            max_message_size=MAX_MESSAGE_BYTES,
        )
        # as browsers do: without it, Nagle's algorithm holds our PATCH-DOC's later frames
        # until the server's delayed ACK (about 40 ms on Linux), which no browser waits for
        self._connection.protocol.set_nodelay(True)
        loop = asyncio.get_running_loop()
        self._replies = {"ACK": loop.create_future(), "PULL-DOC-REPLY": loop.create_future()}
        self._reader = asyncio.create_task(self._read())
        await self._replies["ACK"]
        await self._send("PULL-DOC-REQ", {})
        content = await self._replies["PULL-DOC-REPLY"]
        # BokehJS announces the rendered document; Panel marks the session connected on it
        # (and runs its onload callbacks). Until then Panel drops the model changes made
        # under hold(), as an unconnected document is sent in full later: without it no
        # figure would ever be redrawn for this student.
        await self._send("PATCH-DOC", DOCUMENT_READY)
        models = DocumentModels(content["doc"])
        self._base = locate(models, self._controls)
        if self._base is None:
            self._error("document", f"the controls of {self.record.slug} are not where expected")
            return
        self.models = models

    # -- the websocket -------------------------------------------------------------------
    async def _send(self, msgtype: str, content: dict) -> None:
        header = {"msgid": f"c{next(_ids)}", "msgtype": msgtype}
        for fragment in (header, {}, content):
            await self._connection.write_message(json.dumps(fragment))

    async def _read(self) -> None:
        """Receive every message until the websocket closes; dispatch each."""
        from bokeh.protocol import Protocol
        from bokeh.protocol.receiver import Receiver

        receiver = Receiver(Protocol())
        try:
            while True:
                fragment = await self._connection.read_message()
                if fragment is None:
                    if not self._closing:
                        code = self._connection.close_code
                        self._error("closed", f"the server closed the websocket ({code})")
                    break
                message = await receiver.consume(fragment)
                if message is not None:
                    self._dispatch(message)
        except Exception as error:  # noqa: BLE001 - counted; the student stops
            if not self._closing:
                self._error(type(error).__name__, error)
        finally:
            for future in [*self._replies.values(), self._waiting]:
                if future is not None and not future.done():
                    future.set_exception(ConnectionError("websocket closed"))

    def _dispatch(self, message) -> None:
        msgtype = message.header["msgtype"]
        if msgtype in self._replies and not self._replies[msgtype].done():
            self._replies[msgtype].set_result(message.content)
        elif msgtype == "PATCH-DOC" and self.models is not None:
            self._last_patch_at = time.monotonic()
            touched = self.models.apply_patch(message.content)
            waiting = self._waiting
            if waiting is not None and not waiting.done() and redraws(self.models, touched):
                waiting.set_result(time.monotonic())
        elif msgtype == "ERROR":
            self._error("server", message.content.get("text", message.content))

    # -- moving controls -----------------------------------------------------------------
    async def move_for(self, seconds: float) -> None:
        """Move a control every 0.5–1.5 s for ``seconds``, each timed to its answer."""
        if self.models is None:
            return
        end = time.monotonic() + seconds
        next_at = time.monotonic() + self._rng.uniform(0.5, 1.5)
        while next_at < end and self._reader is not None and not self._reader.done():
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await self._quiet()
            picked = pick_move(self._rng, self.models, self._base, self._controls)
            if picked is None:
                self._error("stuck", "no control can be moved")
                return
            sent = await self._move(*picked)
            next_at = sent + self._rng.uniform(0.5, 1.5)

    async def _quiet(self) -> None:
        """Wait (at most QUIET_MAX_S) until the server has sent nothing for QUIET_S: the
        rest of a redraw (a select's new options, say) lands before the next choice is
        made from this copy of the document, as a user sees the page settle."""
        deadline = time.monotonic() + QUIET_MAX_S
        while (now := time.monotonic()) < deadline:
            wait = self._last_patch_at + QUIET_S - now
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, deadline - now))

    async def _move(self, control: Control, model_id: str, changes) -> float:
        record = self.record
        content = patch_content(model_id, changes)
        self.models.apply_patch(content)  # our copy takes our move: the server won't echo it
        self._waiting = waiting = asyncio.get_running_loop().create_future()
        sent = time.monotonic()
        record.moves += 1
        record.moved[control.name] += 1
        record.move_times.append(sent)
        try:
            await self._send("PATCH-DOC", content)
            await asyncio.wait([waiting], timeout=self._answer_timeout)
            if not waiting.done():  # unanswered; wait on, so a late answer is not the next's
                record.unanswered += 1
                await asyncio.wait([waiting], timeout=LATE_ANSWER_S - self._answer_timeout)
                late = f" (answered after {time.monotonic() - sent:.1f} s)"
                if not waiting.done():
                    waiting.cancel()
                    held = await self._resync(model_id, changes[0][0])
                    late = f" (no answer in {LATE_ANSWER_S:g} s; the server holds {held})"
                record.unanswered_moves.append(
                    f"student {record.index} ({record.slug}), move {record.moves}: "
                    f"{control.name} -> {changes[0][1]!r}{late}"
                )
            ms = 1000.0 * (waiting.result() - sent)  # ConnectionError if the websocket closed
            record.timed.append((sent, control.name, changes[0][1], ms))
            if ms <= 1000.0 * self._answer_timeout:
                record.answers_ms.append(ms)
            else:
                record.late_answers_ms.append(ms)
        except asyncio.CancelledError:
            if not waiting.cancelled():
                raise
        except ConnectionError:
            pass  # the websocket closed: the reader has counted it
        except Exception as error:  # noqa: BLE001 - counted; the run goes on
            self._error(type(error).__name__, error)
        finally:
            self._waiting = None
        return sent

    async def _resync(self, model_id: str, attr: str) -> str:
        """Pull the whole document again (a never-answered move leaves this copy in doubt):
        what the server holds for ``attr`` of the moved input, and the copy replaced."""
        future = asyncio.get_running_loop().create_future()
        self._replies["PULL-DOC-REPLY"] = future
        try:
            await self._send("PULL-DOC-REQ", {})
            models = DocumentModels((await asyncio.wait_for(future, LATE_ANSWER_S))["doc"])
        except Exception as error:  # noqa: BLE001 - only a diagnosis
            return f"unknown ({type(error).__name__})"
        held = models.get(model_id, attr) if model_id in models else "no such model"
        self.models = models
        return repr(held)

    async def close(self) -> None:
        """Close the websocket as a tab does when it closes; wait for the reader to end."""
        self._closing = True
        if self._connection is not None:
            self._connection.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, CLOSE_TIMEOUT_S)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
