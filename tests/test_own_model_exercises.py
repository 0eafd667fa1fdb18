"""The appendix's exercises: a held map grows with T², what streaming keeps with T."""

from __future__ import annotations

import pytest

from attnviz.exercises import check, get


def test_a_held_map_of_16k_tokens_is_a_gibibyte_per_head():
    assert check("appendix-map-mib", 1024).correct is True
    assert check("appendix-map-mib", 256).correct is False  # weights, not bytes
    solver = get("appendix-map-mib").solution
    assert solver(seq_len=32_768).answer == pytest.approx(4 * solver(seq_len=16_384).answer)


def test_streamed_queries_and_keys_grow_linearly_and_are_far_smaller():
    assert check("appendix-streamed-mib", 4).correct is True
    assert check("appendix-streamed-mib", 2).correct is False  # the queries alone
    streamed = get("appendix-streamed-mib").solution
    assert streamed(seq_len=32_768, d_head=32).answer == pytest.approx(
        2 * streamed(seq_len=16_384, d_head=32).answer
    )
    held = get("appendix-map-mib").solution(seq_len=16_384).answer
    assert streamed(seq_len=16_384, d_head=32).answer * 256 == pytest.approx(held)
