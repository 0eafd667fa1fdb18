"""Several server processes on one port: how many, and how to fork them safely.

``attnviz serve --num-procs N`` lets Bokeh bind the port, then fork N worker processes
(Tornado's ``fork_processes``) that accept connections from the one socket. Each worker
holds its own sessions, so a student's long computation keeps only that worker's
students waiting. The parent stays behind, waits for its workers and restarts any that
crash. Three things make that safe here:

- **No torch work before the fork.** OpenMP's thread pool does not survive ``fork()``:
  a worker forked after the parent ran a parallel torch operation hangs in its first
  parallel one (reproduced with torch 2.13's CPU wheel, which uses GNU OpenMP). The
  parent only imports (importing starts no OpenMP thread) and builds no dashboard. Each
  worker then computes with one torch thread, which never enters an OpenMP region, so
  it cannot hang even after such a parent; N workers already keep N cores busy.
  ``tests/test_serve_processes.py`` checks all three.
- **Workers end with their parent.** Tornado's parent ends on SIGTERM without ending its
  workers, so a worker polls its parent's pid and ends itself once the parent is gone
  (SIGTERMed, SIGKILLed, stopped by jupyter-server-proxy), instead of serving on.
- **The page and its websocket may reach different workers**: see ``serve.py``.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

MAX_PROCS = 256
ORPHAN_POLL_S = 1.0  # how often a worker checks that its parent is alive
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max ..."


def available_cores() -> int:
    """The cores this process may use: the CPU affinity mask, capped by a cgroup CPU
    quota (a container's ``--cpus``), at least 1. ``os.cpu_count()`` counts the host's."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    try:
        quota, period = _CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def default_num_procs() -> int:
    """One server process per available core; 1 where fork is unavailable (Windows)."""
    return 1 if sys.platform == "win32" else min(available_cores(), MAX_PROCS)


def check_num_procs(num_procs) -> int:
    """``num_procs`` as an int in [1, MAX_PROCS]; ValueError/TypeError otherwise."""
    if isinstance(num_procs, bool) or not isinstance(num_procs, int):
        raise TypeError(f"num_procs must be an integer in [1, {MAX_PROCS}], got {num_procs!r}")
    if not 1 <= num_procs <= MAX_PROCS:
        raise ValueError(f"num_procs must be an integer in [1, {MAX_PROCS}], got {num_procs}")
    if num_procs > 1 and sys.platform == "win32":
        raise ValueError("num_procs > 1 needs fork(), which Windows lacks: use num_procs=1")
    return num_procs


def native_threads() -> int:
    """Threads of this process as the kernel counts them (Python's and native ones:
    OpenBLAS, OpenMP); -1 where /proc is missing."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return -1


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)  # the parent is gone: so is this worker
            return
        time.sleep(ORPHAN_POLL_S)


def _in_worker(parent: int) -> None:
    threading.Thread(
        target=_watch_parent, args=(parent,), name="attnviz-orphan-watch", daemon=True
    ).start()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def prepare_workers() -> None:
    """Before forking: make every worker (a restarted one too) watch its parent and
    compute on one torch thread.

    With one thread torch never enters an OpenMP parallel region, so a worker cannot hang
    even if this process had used the pool before the fork (``serve`` itself does not).
    """
    parent = os.getpid()
    os.register_at_fork(after_in_child=lambda: _in_worker(parent))
