"""Shared caches: one result serves every session, and a cache never holds more than its
bounds, in entries or in bytes (issue #13: memory that comes back)."""

import numpy as np
import pytest
import torch

from attnviz import shared_cache as sc


def test_a_result_is_computed_once_and_shared():
    calls = []

    @sc.shared_cache(max_entries=4, max_megabytes=1)
    def square(n):
        calls.append(n)
        return np.full(10, n * n)

    assert square(3) is square(3)
    assert calls == [3]
    info = square.cache_info()
    assert (info.hits, info.misses, info.currsize) == (1, 1, 1)
    assert info.nbytes == 80
    assert sc.caches()[square.name]["entries"] == 1


def test_the_least_recently_used_go_first_to_keep_both_bounds():
    @sc.shared_cache(max_entries=3, max_megabytes=0.002)  # 2,000 bytes
    def block(n, size=100):
        return np.zeros(size)  # 800 bytes each (float64)

    block(1), block(2)
    block(1)  # 1 is now the most recently used
    block(3)  # 2,400 bytes would break the byte bound: 2 goes
    assert block.cache_info().currsize == 2 and block.cache_info().nbytes == 1600
    hits = block.cache_info().hits
    block(1), block(3)
    assert block.cache_info().hits == hits + 2  # both kept
    block(2)
    assert block.cache_info().misses == 4  # 2 had gone
    block(9, size=1000)  # 8,000 bytes: over the whole bound, returned but never kept
    assert block.cache_info().nbytes <= 2000 and block.cache_info().currsize <= 3
    block.cache_clear()
    assert block.cache_info() == sc.CacheInfo(0, 0, 3, 0, 0, 2000)


def test_nbytes_counts_arrays_and_tensors_inside_containers_and_objects_once():
    array = np.zeros(100, dtype=np.float32)
    tensor = torch.zeros(50, dtype=torch.float64)

    class Holder:
        def __init__(self):
            self.a, self.t, self.again = array, tensor, array

    assert sc.nbytes(array) == 400 and sc.nbytes(tensor) == 400
    assert sc.nbytes({"x": (array, [tensor])}) >= 800
    assert 800 <= sc.nbytes(Holder()) < 800 + 200  # the shared array counted once


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(max_entries=0, max_megabytes=1), "max_entries must be a positive integer"),
        (dict(max_entries=2.5, max_megabytes=1), "max_entries"),
        (dict(max_entries=2, max_megabytes=0), r"max_megabytes must be a number in \(0, 4096\]"),
        (dict(max_entries=2, max_megabytes="big"), "max_megabytes"),
    ],
)
def test_bad_bounds_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sc.shared_cache(**kwargs)


def test_lesson_06s_views_are_shared_and_bounded():
    from attnviz import dsf_views, model_classes

    settings = model_classes.settings_of("s6", 4, "elu_plus_one", False, 2.0)
    first = dsf_views.class_view("s6", 32, 8, 0, settings)
    assert dsf_views.class_view("s6", 32, 8, 0, settings) is first
    report = sc.caches()["attnviz.dsf_views.class_view"]
    assert report["max_megabytes"] <= 64 and 0 < report["megabytes"] <= report["max_megabytes"]
    assert sc.bound_megabytes() >= report["max_megabytes"]


def test_the_bounds_are_checked_and_capped():
    for bad in (0, True, 10**400, 2.5, None):
        with pytest.raises(ValueError, match="max_entries"):
            sc.shared_cache(max_entries=bad, max_megabytes=1)
    for bad in (0, True, float("nan"), 10**400, 5000):
        with pytest.raises(ValueError, match="max_megabytes"):
            sc.shared_cache(max_entries=1, max_megabytes=bad)
    with pytest.raises(TypeError, match="function"):
        sc.SharedCache(None, 1, 10)
