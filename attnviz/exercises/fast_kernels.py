"""Lesson 07's exercises: what makes attention fast, and what keeps it exact.

Every answer is computed with ``attnviz.kernels`` on the exercise's own numbers, the same
calls the lesson makes. Nothing is stored: change a parameter and the answer follows.
"""

from __future__ import annotations

import math

import torch

from attnviz.exercises.core import Solution, exercise
from attnviz.kernels.chunkwise import chunkwise_linear_attention
from attnviz.kernels.masks import make_mask
from attnviz.kernels.online_softmax import online_softmax_steps
from attnviz.kernels.scan import attention_rnn, attention_scan
from attnviz.kernels.softmax import softmax_weights
from attnviz.memory_budget import tensor_bytes
from attnviz.validation import check_int, check_real, short_repr


@exercise(
    id="07-shifted-scores",
    lesson="07",
    question="A query scores {n_keys} keys {offset:g}, {offset:g} + {gap:g}, … (each "
    "{gap:g} more than the last), in float32. Computed as written, exp({offset:g}) "
    "overflows to infinity and exp(s) / Σ exp(s) is inf / inf = NaN. What weight does "
    "softmax, computed without overflowing, give the last key?",
    kind="number",
    n_keys=3,
    offset=1000.0,
    gap=1.0,
)
def _shifted_scores(n_keys: int, offset: float, gap: float) -> Solution:
    n_keys = check_int("n_keys", n_keys, low=2, high=64)
    offset = check_real("offset", offset, low=100.0, high=1e4)  # exp(offset) overflows
    gap = check_real("gap", gap, low=0.0, high=50.0)
    scores = offset + gap * torch.arange(n_keys, dtype=torch.float32)  # (n_keys,)
    naive = torch.exp(scores) / torch.exp(scores).sum()
    weights = softmax_weights(scores)  # subtracts the largest score first
    shifted = softmax_weights(scores - offset)
    return Solution(
        hint=(
            "softmax(s) = softmax(s − c) for every constant c. Subtract the largest score from "
            f"every score, so the exponents become 0, −{gap:g}, −{2 * gap:g}, …, and compute "
            "the last key's share."
        ),
        answer=float(weights[-1]),
        tolerance=0.005,
        explanation=(
            f"In float32 exp({offset:g}) is {torch.exp(scores[0]).item()}, so the formula "
            f"as written gives {naive[-1].item()}. But softmax depends only on differences "
            "between scores: exp(s_i − c) / Σ_j exp(s_j − c) is the same for every c. "
            f"Subtracting the largest score, {scores[-1].item():g}, makes every exponent "
            f"≤ 0, and the last key gets {weights[-1].item():.3f}; with the scores shifted "
            f"down by {offset:g} instead it is {shifted[-1].item():.3f}. A fast kernel "
            "keeps this running maximum while it streams the keys block by block (online "
            "softmax), and rescales what it has summed so far when the maximum grows."
        ),
        mistakes=(
            (
                1.0,
                "That is the largest score taking everything (argmax). The gaps are "
                "small, so the other keys keep some weight.",
            ),
            (1.0 / n_keys, "That is an even split; the scores differ, so the weights do."),
        ),
    )


def _scores(name: str, value) -> torch.Tensor:
    """A short tuple of finite scores, as a float64 tensor."""
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 64:
        raise TypeError(f"{name} must be a tuple of 1 to 64 scores, got {short_repr(value)}")
    return torch.tensor([check_real(f"each of {name}", s, low=-1e4, high=1e4) for s in value],
                        dtype=torch.float64)  # fmt: skip


@exercise(
    id="07-rescale",
    lesson="07",
    question="Online softmax reads one query's keys in blocks of {block_size}. After the "
    "first block, whose scores are {first}, the running maximum is m = {first_max:g} and "
    "the running sum is ℓ = Σ exp(s − m). The second block's scores are {second}. By "
    "what factor must ℓ (and the unnormalised output) be multiplied before the second "
    "block's terms are added?",
    kind="number",
    first=(1.0, 2.0),
    second=(0.5, 5.0),
    first_max=2.0,
    block_size=2,
)
def _rescale(first, second, first_max: float, block_size: int) -> Solution:
    first, second = _scores("first", first), _scores("second", second)
    block_size = check_int("block_size", block_size, low=1, high=64)
    if first.numel() != block_size or second.numel() != block_size:
        raise ValueError(
            f"first and second must hold block_size={block_size} scores each, got "
            f"{first.numel()} and {second.numel()}"
        )
    first_max = check_real("first_max", first_max)
    if first_max != float(first.max()):
        raise ValueError(f"first_max must be the largest of first, {float(first.max())}")
    # one query, d_k = 1 and q = 1, so each key's score is the key itself (scale 1)
    k = torch.cat([first, second])[:, None]  # (T, 1)
    q = torch.ones(1, 1, dtype=torch.float64)
    v = torch.eye(k.shape[0], dtype=torch.float64)  # output = the weights themselves
    steps = online_softmax_steps(q, k, v, scale=1.0, block_size=block_size)
    step = steps[1]
    rescale = float(step.rescale[0])
    m_after = float(step.m_after[0])
    exact = softmax_weights(k[:, 0])
    gap = (steps[-1].output[0] - exact).abs().max().item()
    return Solution(
        hint=(
            f"Every term in ℓ was taken as exp(s − m) with m = {first_max:g}. The second "
            f"block moves the maximum to m′ = {m_after:g}, and each term must become "
            "exp(s − m′). What factor turns the one into the other?"
        ),
        answer=rescale,
        tolerance=max(0.002, 0.02 * rescale),
        explanation=(
            f"The second block's largest score, {float(second.max()):g}, is above the running "
            f"maximum, so the maximum moves from m = {first_max:g} to m′ = {m_after:g}. "
            f"Every term already in ℓ was exp(s − {first_max:g}); it must become "
            f"exp(s − {m_after:g}), which is the old term times e^(m − m′) = "
            f"e^({first_max:g} − {m_after:g}) = {rescale:.4f}. The kernel multiplies ℓ and the "
            f"output by that factor, adds the new block's terms, and ends with weights that "
            f"differ from softmax over all the keys by {gap:.1e}. If the new block's maximum "
            "had been lower, m would not move and the factor would be e^0 = 1."
        ),
        mistakes=(
            (
                1.0,
                "That keeps the old terms as they are; but the maximum moved, and they "
                "were taken relative to the old maximum.",
            ),
            (
                math.exp(m_after - first_max),
                "That is e^(m′ − m), the inverse: the old terms "
                "must shrink, since they were divided by a smaller e^m than the new ones.",
            ),
        ),  # fmt: skip
    )


@exercise(
    id="07-window-blocks",
    lesson="07",
    question="A causal sliding-window mask lets each of {seq_len:,} tokens attend to the "
    "last {window} tokens. FlexAttention splits the {seq_len:,} × {seq_len:,} score matrix "
    "into blocks of {block_size} × {block_size} and skips every block the mask leaves "
    "empty. What fraction of all the blocks does it compute?",
    kind="number",
    seq_len=4096,
    window=256,
    block_size=128,
)
def _window_blocks(seq_len: int, window: int, block_size: int) -> Solution:
    seq_len = check_int("seq_len", seq_len, low=16, high=16384)
    window = check_int("window", window, low=1, high=seq_len)
    block_size = check_int("block_size", block_size, low=16, high=seq_len)
    pattern = make_mask("sliding_window", window=window)
    computed = pattern.block_mask(seq_len, block_size).to_dense()  # (1, 1, blocks, blocks)
    n_blocks = computed.shape[-1]
    fraction = computed.double().mean().item()
    token_density = float(pattern.dense(seq_len).mean()) if seq_len <= 4096 else None
    tokens = (
        ""
        if token_density is None
        else f" Of the {seq_len * seq_len:,} (query, key) pairs the mask allows "
        f"{token_density:.4f}: a block is computed when any pair in it is allowed, so the "
        "blocks the window's edge cuts through are computed whole, the mask zeroing part of each."
    )
    return Solution(
        hint=(
            f"The matrix is {n_blocks} × {n_blocks} blocks. A query block of {block_size} "
            f"tokens reaches {window} keys back: how many key blocks does that touch, its own "
            "diagonal block included? Divide by the blocks in a row."
        ),
        answer=fraction,
        tolerance=0.003,
        explanation=(
            f"The {seq_len:,} tokens make {n_blocks} blocks a side, {n_blocks * n_blocks:,} "
            f"blocks in all. A query block's window of {window} keys reaches back over "
            f"{-(-window // block_size)} earlier blocks, and its own diagonal block, so about "
            f"{-(-window // block_size) + 1} blocks per row of blocks are computed: "
            f"{int(computed.sum())} of {n_blocks * n_blocks:,}, a fraction of {fraction:.4f}."
            f"{tokens} The work, and so the time, scales with the blocks computed: about "
            f"{1 / fraction:.0f} times fewer than dense attention, growing linearly with the "
            "length instead of quadratically."
        ),
        mistakes=(
            (
                0.5,
                "That is the causal mask, half of the matrix: the window removes most "
                "of that half too.",
            ),
            (
                window / seq_len,
                "That is the window over the length, the fraction of keys one "
                "query sees; whole blocks are computed, so the edge blocks count in full.",
            ),
        ),  # fmt: skip
    )


@exercise(
    id="07-scan-rounds",
    lesson="07",
    question="Attention as a scan: every key becomes a triple (m, u, w), and an associative "
    "operator ⊕ merges two runs of keys. A Hillis–Steele scan over {seq_len:,} keys works "
    "in rounds: in round r, every position t merges in the run ending at t − 2^r, all "
    "positions at once. How many rounds until every position holds the summary of all "
    "the keys up to it, and so its attention output?",
    kind="integer",
    seq_len=1000,
)
def _scan_rounds(seq_len: int) -> Solution:
    seq_len = check_int("seq_len", seq_len, low=2, high=1_000_000)
    # follow the schedule: first[t] is the earliest key position t has merged in so far
    first, rounds, offset = torch.arange(seq_len), 0, 1
    while bool((first > 0).any()):
        first = torch.cat([first[:offset], first[:-offset]])  # t takes over t − offset's run
        rounds, offset = rounds + 1, offset * 2
    # the kernel runs the same schedule: equal to the one-key-at-a-time recurrence
    n = min(seq_len, 4096)
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(8, generator=generator, dtype=torch.float64)
    k = torch.randn(n, 8, generator=generator, dtype=torch.float64)
    v = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    gap = (attention_scan(q, k, v) - attention_rnn(q, k, v)).abs().max().item()
    return Solution(
        hint=(
            "Follow one position: after each round the run of keys it holds doubles (2, then "
            f"4, …). How many doublings until it covers all {seq_len:,} keys?"
        ),
        answer=rounds,
        explanation=(
            f"After round r each position holds the run of the last 2^(r+1) keys (or all "
            f"of them, near the start): 2, 4, 8, … keys. {seq_len:,} keys are covered once "
            f"2^rounds ≥ {seq_len:,}, after ceil(log2 {seq_len:,}) = {rounds} rounds. The "
            f"recurrence (the RNN view) needs {seq_len:,} steps one after another; the scan "
            f"needs {rounds}, each of them parallel over all positions, because ⊕ is "
            "associative and the runs can be merged in any grouping. `attention_scan` runs "
            f"this schedule; on {n:,} keys it agrees with `attention_rnn` to {gap:.1e}."
        ),
        mistakes=(
            (seq_len, "That is the recurrence, one key per step; the scan merges whole runs."),
            (seq_len - 1, "That is one merge per key, one after another: the recurrence."),
            (rounds - 1, "One round short: 2^(rounds − 1) is still below the number of keys."),
        ),
    )


@exercise(
    id="07-chunk-state",
    lesson="07",
    question="Chunkwise linear attention carries a state from chunk to chunk (one head, "
    "d_k = {d_k}, d_v = {d_v}, float32). At {seq_len:,} tokens, how many KiB does that "
    "state take?",
    kind="number",
    seq_len=65536,
    d_k=64,
    d_v=64,
)
def _chunk_state(seq_len: int, d_k: int, d_v: int) -> Solution:
    seq_len = check_int("seq_len", seq_len, low=16, high=2**20)
    d_k = check_int("d_k", d_k, low=1, high=512)
    d_v = check_int("d_v", d_v, low=1, high=512)
    # the state's shape comes from the kernel itself, on a short input: it does not grow
    generator = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 1, 128, d_k, generator=generator)
    v = torch.randn(1, 128, d_v, generator=generator)
    state = chunkwise_linear_attention(
        q, k, v, decay=0.99, chunk_size=64, return_state=True
    ).state  # (1, d_v, d_k)
    state_bytes = state.numel() * state.element_size()
    matrix = tensor_bytes(seq_len, seq_len, dtype=torch.float32)
    keys_values = tensor_bytes(seq_len, d_k + d_v, dtype=torch.float32)
    kib = state_bytes / 1024
    return Solution(
        hint=(
            "The state is one d_v × d_k matrix, whatever the length, in float32 (4 bytes a "
            "number); 1 KiB is 1024 bytes."
        ),
        answer=kib,
        tolerance=0.01 * kib,
        explanation=(
            f"The state is S = Σ_s λ^(t−s) v_s k_sᵀ, a {d_v} × {d_k} matrix "
            f"(`chunkwise_linear_attention(..., return_state=True)` returns it with shape "
            f"{tuple(state.shape)}): {state.numel():,} numbers × 4 bytes = {kib:g} KiB, at "
            f"any length. The (T, T) matrix at {seq_len:,} tokens is {matrix / 2**30:g} GiB, "
            f"{matrix / state_bytes:,.0f} times more. Each chunk still forms a small "
            "(chunk, chunk) masked matrix inside itself, so the memory is linear in T for "
            "the inputs and outputs and constant for what is carried."
        ),
        mistakes=(
            (
                matrix / 1024,
                "That is the (T, T) matrix of the parallel form, which the "
                "chunkwise form never builds.",
            ),
            (
                keys_values / 1024,
                "That is every key and value kept (a KV cache); the "
                "state folds them into one matrix.",
            ),
        ),  # fmt: skip
    )
