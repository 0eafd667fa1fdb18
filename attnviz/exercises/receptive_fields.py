"""Lesson 04's exercises: how far a token sees after L layers of sparse attention.

Every answer is computed with ``attnviz.receptive.receptive_field`` on a pattern of the
mask zoo (``attnviz.kernels.masks``), the same calls the lesson makes. Nothing is stored:
change a parameter and the answer follows.
"""

from __future__ import annotations

import math

import numpy as np

from attnviz.exercises.core import Solution, exercise
from attnviz.kernels.masks import make_mask
from attnviz.receptive import NEVER, receptive_field
from attnviz.validation import check_int


def _popcount(n: int) -> int:
    return bin(n).count("1")


@exercise(
    id="04-power-sees-1000",
    lesson="04",
    question="Token-level PowerAttention: each layer, a query reads the keys at distances 0, "
    "1, 2, 4, 8, 16, ... back. After how many layers has the last query received information "
    "from *every one* of the {distance:,} tokens before it (distances 1 to {distance:,})?",
    kind="integer",
    distance=1000,
)
def _power_sees(distance: int) -> Solution:
    distance = check_int("distance", distance, low=1, high=1 << 20)
    seq_len = distance + 1  # the last query and the `distance` tokens before it
    field = receptive_field(make_mask("power_attention"), seq_len, distance.bit_length() + 1)
    first = field.by_distance  # first layer per distance 0 .. distance
    answer = int(first.max())
    hardest = np.flatnonzero(first == answer)
    shown = ", ".join(f"{d:,} = {d:b}₂" for d in hardest[:3])
    more = f" and {hardest.size - 3} more" if hardest.size > 3 else ""
    log2 = math.ceil(math.log2(distance))
    return Solution(
        hint=(
            "Write a distance in binary: one hop per 1-bit covers it (hops of 1, 2, 4, … as "
            f"the bits say). Every distance from 1 to {distance:,} must arrive, so look for "
            f"the distance up to {distance:,} with the most 1-bits, not for {distance:,} itself."
        ),
        answer=answer,
        explanation=(
            "A distance n is covered by one hop per 1-bit of n (hop 1, 2, 4, ... as the bits "
            "say), so the first layer that brings distance n is popcount(n), the number of "
            f"1-bits. Up to {distance:,}, the most 1-bits a distance has is {answer}: "
            f"{shown}{more}. So "
            f"after {answer} layers every distance up to {distance:,} has arrived, and "
            f"`receptive_field` agrees: the largest first layer among distances 0 to "
            f"{distance:,} is {answer}. Distance {distance:,} itself ({distance:b}₂) arrives "
            f"at layer {int(first[distance])}."
        ),
        mistakes=(
            (
                log2,
                f"⌈log₂ {distance:,}⌉ = {log2} layers reach every distance below "
                f"2^{log2} = {1 << log2:,}, which is enough, but not the fewest: what counts "
                "is the most 1-bits of any distance up to the target, not its bit length.",
            ),
            (
                _popcount(distance),
                f"{_popcount(distance)} layers bring the key exactly {distance:,} back "
                f"({distance:b}₂ has {_popcount(distance)} ones), but some nearer keys need more "
                "hops.",
            ),
            (
                distance,
                "One hop per token is the previous-token chain; the powers of two jump far "
                "in one hop.",
            ),
        ),
    )


@exercise(
    id="04-dilated-odd",
    lesson="04",
    question="A dilated mask with window {window} and rate {rate}: each layer, a query reads "
    "the keys whose distance back is a multiple of {rate} and below {window}. Stack as many "
    "layers as you like. Does the last query ever receive information from the key "
    "{distance} positions back?",
    kind="choice",
    choices={
        "a": "yes, within 2 layers: two hops span more than the window, so they cover it",
        "b": "yes, but only after more layers, once the reach has grown past it",
        "c": "never, at any depth",
    },
    window=8,
    rate=2,
    distance=7,
)
def _dilated_odd(window: int, rate: int, distance: int) -> Solution:
    window = check_int("window", window, low=1)
    rate = check_int("rate", rate, low=1)
    distance = check_int("distance", distance, low=1, high=4096)
    hop = max(1, (window - 1) // rate * rate)  # the longest single hop
    seq_len = 4 * (distance + window)
    n_layers = seq_len  # more layers than any path could need: each hop moves ≥ 1 back
    field = receptive_field(make_mask("dilated", window=window, rate=rate), seq_len, n_layers)
    first = int(field.by_distance[distance])
    if first == NEVER:
        answer = "c"
    elif first <= 2:
        answer = "a"
    else:
        answer = "b"
    reached = np.flatnonzero(field.by_distance != NEVER)
    step = int(np.gcd.reduce(reached[1:])) if reached.size > 1 else rate
    if first == NEVER:
        why = (
            f"Every hop moves a multiple of {rate} back, so every path does: the distances "
            f"reached are multiples of {step}, and {distance} is not one. With {n_layers} "
            f"layers on {seq_len} tokens, `receptive_field` reaches {reached.size} of the "
            f"{seq_len} distances 0 to {seq_len - 1}, and not distance {distance}: a hole no "
            f"depth fills. Only multiples of {step} ever arrive: {1 - 1 / step:.0%} of all "
            "distances stay dark forever."
        )
    else:
        why = (
            f"Distance {distance} is a sum of hops of {rate}, {2 * rate}, ... up to {hop}: "
            f"`receptive_field` brings it at layer {first}."
        )
    return Solution(
        hint=(
            f"Every hop moves a multiple of {rate} back. What can a sum of multiples of "
            f"{rate} be, however many hops you add? Is {distance} such a sum?"
        ),
        answer=answer,
        explanation=why,
        mistakes=(
            (
                "a",
                f"Two hops can span {2 * hop} positions, but each lands on a multiple of "
                f"{rate}; the sum of two multiples of {rate} is one too.",
            ),
            (
                "b",
                "Depth makes the reach longer, not finer: every path is a sum of hops, and "
                f"every hop is a multiple of {rate}.",
            ),
            (
                "c",
                f"Here the hops of {rate} add up to {distance}: a multiple of the rate is "
                "always reachable, given enough layers.",
            ),
        ),
    )


@exercise(
    id="04-window-4096",
    lesson="04",
    question="A sliding window of {window} keys: each layer, a query reads itself and the "
    "tokens just before it, {window} keys in all. How many layers until, on {seq_len:,} "
    "tokens, every query "
    "has received information from every earlier token (full coverage)?",
    kind="integer",
    window=8,
    seq_len=4096,
)
def _window_layers(window: int, seq_len: int) -> Solution:
    window = check_int("window", window, low=2, high=4096)
    seq_len = check_int("seq_len", seq_len, low=2, high=1 << 16)
    field = receptive_field(make_mask("sliding_window", window=window), seq_len, seq_len)
    answer = field.layers_to_full_coverage
    far = seq_len - 1
    per = window - 1
    return Solution(
        hint=(
            f"A window of {window} keys holds the query itself, so one layer moves information "
            f"{per} tokens back. How far apart are the first and the last of the {seq_len:,} "
            "tokens, and how many such moves cover that distance?"
        ),
        answer=answer,
        explanation=(
            f"A window of {window} keys includes the query itself, so one layer reaches "
            f"{per} tokens further back, and l layers reach exactly l·{per}. The first query "
            f"and the last are {far:,} apart: ⌈{far:,} / {per}⌉ = {-(-far // per)} layers. "
            f"`receptive_field` agrees: full coverage at layer {answer}. Linear growth: "
            "doubling the length doubles the depth."
        ),
        mistakes=(
            (
                -(-seq_len // window),
                f"{seq_len:,} / {window} counts {window} new tokens a layer, but one of the "
                f"{window} keys is the query itself: each layer adds {per}.",
            ),
            (
                math.ceil(math.log2(seq_len)),
                "Logarithmic depth is what PowerAttention's power-of-two hops give; a "
                "window only ever steps to its neighbours.",
            ),
            (
                -(-seq_len // per),
                f"The farthest pair is {far:,} apart, not {seq_len:,}: the query does not need "
                "to reach itself.",
            ),
        ),
    )


@exercise(
    id="04-lag-layers",
    lesson="04",
    question="A TinyTransformer whose every layer has a sliding window of {window} keys "
    "(itself and the tokens just before it) is trained to say, at every position, the token "
    "{lag} places back. What is the fewest layers with which it can learn this?",
    kind="integer",
    window=4,
    lag=6,
)
def _lag_layers(window: int, lag: int) -> Solution:
    window = check_int("window", window, low=2, high=1024)
    lag = check_int("lag", lag, low=1, high=4096)
    field = receptive_field(make_mask("sliding_window", window=window), lag + 1, lag)
    answer = int(field.by_distance[lag])  # the first layer that brings distance `lag`
    per = window - 1
    return Solution(
        hint=(
            f"Each layer's window holds the query and {per} tokens before it, so one layer "
            f"moves information at most {per} tokens. How many such moves travel {lag} tokens?"
        ),
        answer=answer,
        explanation=(
            f"The answer must travel {lag} tokens, and each layer moves information at most "
            f"{per} tokens (the window holds the query and {per} before it): ⌈{lag} / {per}⌉ = "
            f"{answer} layers, and `receptive_field` brings distance {lag} at layer {answer}. "
            "Below that the gradient from the token it needs is exactly zero: no training "
            "can find it. The next cells train both depths and look at the gradient."
        ),
        mistakes=(
            (
                -(-lag // window),
                f"{window} keys a layer, but one of them is the query itself: a layer "
                f"reaches {per} tokens back, not {window}.",
            ),
            (
                lag,
                "One layer per token back is a chain of previous-token hops; each hop "
                f"can jump up to {per} tokens.",
            ),
            (
                1,
                f"One layer sees only {per} tokens back; the token {lag} places back is "
                "outside its mask, so its information cannot arrive.",
            ),
        ),
    )
