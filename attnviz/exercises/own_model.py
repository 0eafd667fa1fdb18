"""The appendix's exercises (use attnviz on your own model): what a long map costs.

``maps.capture`` holds every weight of a map; ``maps.streamed.stream_capture`` keeps only
each head's queries and keys and recomputes any tile on demand (FlashAttention's trick,
lesson 07). These exercises ask what each costs in memory, computed by
``attnviz.memory_budget.tensor_bytes``.
"""

from __future__ import annotations

import torch

from attnviz.exercises.core import Solution, exercise
from attnviz.memory_budget import tensor_bytes

MIB = 2**20


@exercise(
    id="appendix-map-mib",
    lesson="appendix",
    question="`maps.capture` keeps every attention weight. One head of a causal model reads "
    "T = {seq_len:,} tokens: its map is a T × T matrix of float32 numbers (4 bytes each). "
    "How many MiB does that one head's map take? (1 MiB = 2²⁰ bytes.)",
    kind="number",
    seq_len=16_384,
)
def _map_mib(seq_len: int) -> Solution:
    mib = tensor_bytes(seq_len, seq_len, dtype=torch.float32) / MIB
    return Solution(
        hint=(
            "Count the weights first: one for every pair of a query and a key. Then turn "
            "the count into bytes, and the bytes into MiB by dividing by 2 to the power 20."
        ),
        answer=mib,
        tolerance=0.01 * mib,
        explanation=(
            f"The map has T² = {seq_len:,}² = {seq_len * seq_len:,} weights of 4 bytes: "
            f"{4 * seq_len * seq_len:,} bytes = {mib:,.0f} MiB, for one head. The weights "
            "above the diagonal are 0 but are stored all the same; a model of L layers and "
            "H heads holds L·H such maps. Doubling T multiplies it by four."
        ),
        mistakes=(
            (
                seq_len * seq_len / MIB,
                "That counts the weights, not the bytes: each float32 weight takes 4 bytes.",
            ),
            (
                tensor_bytes(seq_len, dtype=torch.float32) / MIB,
                "That is one row of the map; there is a row for every query.",
            ),
        ),
    )


@exercise(
    id="appendix-streamed-mib",
    lesson="appendix",
    question="`stream_capture` never holds a map: for each head it keeps the queries and the "
    "keys, two (T, d_head) matrices of float32, and recomputes any tile of weights from them. "
    "For one head with d_head = {d_head} over T = {seq_len:,} tokens, how many MiB do its "
    "queries and keys take together?",
    kind="number",
    seq_len=16_384,
    d_head=32,
)
def _streamed_mib(seq_len: int, d_head: int) -> Solution:
    mib = 2 * tensor_bytes(seq_len, d_head, dtype=torch.float32) / MIB
    full = tensor_bytes(seq_len, seq_len, dtype=torch.float32) / MIB
    return Solution(
        hint=(
            "Each of the two matrices has one row per token and one column per channel of "
            "the head; every entry is a float32. Add the two, then convert bytes to MiB."
        ),
        answer=mib,
        tolerance=0.01 * mib,
        explanation=(
            f"q and k are 2 × {seq_len:,} × {d_head} float32 numbers: 2 × {seq_len:,} × "
            f"{d_head} × 4 bytes = {mib:g} MiB, against {full:,.0f} MiB for the map itself. "
            "They grow with T, the map with T²: that is why a streamed view can go to "
            "65,536 tokens while a held map stops at a few thousand. A tile of weights is "
            "exp(q·k/√d_head − lse) of its rows (lesson 07), so any window is exact."
        ),
        mistakes=(
            (
                tensor_bytes(seq_len, d_head, dtype=torch.float32) / MIB,
                "That is the queries alone; the keys take as much again.",
            ),
        ),
    )
