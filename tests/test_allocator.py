"""The allocator's settings, which let a classroom server give freed memory back (issue #13;
the load test measures their effect: see benchmarks/README.md)."""

import pytest

from attnviz import allocator


@pytest.mark.skipif(allocator._glibc() is None, reason="the settings are glibc's")
def test_glibc_takes_the_fixed_mmap_threshold_and_trims():
    assert allocator.tune_allocator() and allocator.tune_allocator()  # idempotent
    assert allocator.release_memory() in (True, False)  # False: nothing was free to return


def test_without_glibc_both_do_nothing(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    assert allocator.tune_allocator() is False and allocator.release_memory() is False
