"""Lesson 00's exercise: how the predict-then-reveal cells work."""

from __future__ import annotations

import numpy as np
import torch

from attnviz.exercises.core import Solution, exercise
from attnviz.kernels.softmax import softmax_weights


@exercise(
    id="00-equal-scores",
    lesson="00",
    question="A query scores {n_keys} keys, and every score is the same ({score:g}). "
    "What weight does softmax give each key?",
    kind="number",
    n_keys=4,
    score=2.0,
)
def _equal_scores(n_keys: int, score: float) -> Solution:
    scores = np.full((1, n_keys), score)
    weights = softmax_weights(torch.from_numpy(scores))[0].numpy()
    return Solution(
        hint=(
            "softmax's weights always add up to 1. When every one of the "
            f"{n_keys} scores is the same, how must that total be shared? Does the value of "
            "the score change anything?"
        ),
        answer=float(weights[0]),
        tolerance=0.005,
        explanation=(
            f"softmax gives key i the weight exp(s_i) / Σ_j exp(s_j). With {n_keys} equal "
            f"scores every term is exp({score:g}) = {np.exp(score):.3f}, so each key gets "
            f"1/{n_keys} = {weights[0]:.3f}, whatever the score: only differences between "
            "scores matter."
        ),
        mistakes=((score, "That is the score itself; the weights must add up to 1."),),
    )
