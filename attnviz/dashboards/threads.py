"""Run a dashboard's small torch computations on one thread.

The lesson models are tiny: a forward pass is a few small matrix products, so
splitting each operation over several threads gains nothing. On a busy machine it
costs a great deal: with two intra-op threads and the other core taken (another
session, a training run, another program), every parallel operation waits for a
descheduled thread, and a 5 ms update becomes a 100 ms one (measured on the
project's 2-core machine). Dashboards therefore compute inside ``one_thread()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one torch intra-op thread, then restore the previous count."""
    previous = torch.get_num_threads()
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
