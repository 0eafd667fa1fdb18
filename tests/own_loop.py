"""Run a coroutine to the end on a loop of its own (shared by the tests that need asyncio)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def run_on_own_loop(make: Callable[[], Awaitable[T]], timeout: float = 150.0) -> T:
    """``asyncio.run(make())`` in a worker thread; its result, or its error re-raised here.

    The calling thread may already run a loop (Playwright's sync API leaves one
    running for the rest of the test session), and ``asyncio.run`` refuses to start
    inside a running loop; a fresh thread has none.
    """
    outcome: dict[str, object] = {}

    def worker() -> None:
        try:
            outcome["value"] = asyncio.run(make())
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=worker, name="own-event-loop", daemon=True)
    thread.start()
    thread.join(timeout=timeout)
    if thread.is_alive():
        raise AssertionError(f"the coroutine did not finish within {timeout:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
