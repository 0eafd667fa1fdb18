"""memory_budget: one budget, refusals that name the size, the estimate and the limit."""

import pytest

from attnviz.memory_budget import (
    check_bytes,
    format_bytes,
    memory_budget,
    memory_budget_of,
    parse_bytes,
    tensor_bytes,
)


def test_sizes_parse_in_decimal_and_binary_units():
    assert parse_bytes("b", "2GB") == 2 * 10**9
    assert parse_bytes("b", "512MiB") == 512 * 2**20
    assert parse_bytes("b", "3e9") == 3 * 10**9
    with pytest.raises(ValueError, match="budget must be a number of bytes or a size like"):
        parse_bytes("budget", "lots")
    with pytest.raises(ValueError, match="budget must be at least 1.05 MB"):
        parse_bytes("budget", 10)
    with pytest.raises(TypeError, match="budget must be a number of bytes"):
        parse_bytes("budget", None)


def test_a_refusal_names_what_the_estimate_and_the_limit():
    with memory_budget_of("1GB"):
        assert memory_budget() == 10**9
        need = tensor_bytes(100_000, 100_000)  # float32 (T, T) weights at T = 100,000
        assert need == 4 * 10**10
        with pytest.raises(
            ValueError,
            match=r"the \(T, T\) weights would need about 40 GB, "
            r"over attnviz's memory budget of 1 GB; use form='recurrent'",
        ):
            check_bytes("the (T, T) weights", need, instead="use form='recurrent'")
        assert check_bytes("small", 10**6) == 10**6
    assert memory_budget() != 10**9


def test_sizes_never_overflow():
    assert tensor_bytes(2**40, 2**40) == 2**82  # Python ints, not int64
    assert format_bytes(2**82) == "about 10^24 bytes"
    assert format_bytes(10**400) == "about 10^400 bytes"  # no OverflowError from a float
    with pytest.raises(ValueError, match="about 10\\^400 bytes"):
        check_bytes("a sweep", 10**400)
