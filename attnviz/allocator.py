"""How a server process gives memory back to the operating system once a room has left.

Python frees a closed session's objects (``attnviz.sessions``), but its allocator, glibc's
``malloc``, keeps freed memory for reuse instead of returning it, in two ways that matter
for a classroom server (issue #13: RSS back to idle plus the bounded caches):

- **Big buffers stay on the heap.** glibc serves a request of more than its *mmap
  threshold* with its own mapping, returned the moment it is freed; but each such free
  raises the threshold (up to 32 MB), so after a few sessions every array of a few MB (a
  dashboard's matrices, Bokeh's encoded messages) comes from the heap, where a single live
  block above it keeps the whole top of the heap in RSS. ``tune_allocator`` fixes the
  threshold at ``MMAP_THRESHOLD`` bytes, so big buffers always come and go as mappings.
- **Freed heap pages are kept.** ``release_memory`` asks glibc to hand back every free
  page it holds (``malloc_trim``); ``attnviz serve`` calls it after a session ends, once
  Panel has collected the session's garbage.

On a system without glibc (macOS, musl, Windows) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_MMAP_THRESHOLD = -3  # mallopt's parameter numbers, from glibc's malloc.h
MMAP_THRESHOLD = 256 * 1024  # bytes: anything larger is its own mapping, freed at once


@functools.cache
def _glibc():
    """glibc, if this process's C library is glibc with mallopt and malloc_trim; else None."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both must exist
    except (OSError, AttributeError):
        return None
    return libc


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD`` for this process (and the workers
    it forks). Returns whether it was set."""
    libc = _glibc()
    return bool(libc and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def release_memory() -> bool:
    """Return the free pages glibc holds to the operating system. Returns whether any were."""
    libc = _glibc()
    return bool(libc and libc.malloc_trim(0))


__all__ = ["MMAP_THRESHOLD", "release_memory", "tune_allocator"]
