"""Lesson 07's exercises: what makes attention fast, and what keeps it exact.

Every answer is computed with ``attnviz.kernels`` on the exercise's own numbers, the same
calls the lesson makes. Nothing is stored: change a parameter and the answer follows.
"""

from __future__ import annotations

import torch

from attnviz.exercises.core import Solution, exercise
from attnviz.kernels.softmax import softmax_weights
from attnviz.validation import check_int, check_real


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
