"""Which job each head does: roles from its scores, and the knock-out table (lesson 03).

``evaluate_heads`` measures a model on held-out sequences once: every head's scores
(previous-token, duplicate-token, induction, sink, entropy), the roles those scores earn
(``ROLE_RULES``), and the loss change on the repeated half when each head is knocked
out alone. Lesson 03's notebook and its dashboard read the same numbers from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from attnviz.maps.ablation import ablation_table
from attnviz.maps.capturing import capture
from attnviz.maps.focus import entropy
from attnviz.maps.score_table import head_scores
from attnviz.tasks import TaskData
from attnviz.validation import as_array

# A head earns a role when its score reaches the threshold (lesson 03): when at
# least 30% of its attention lands where the job says. Scores are TransformerLens'
# "mul" measure, the share of the head's attention on the job's pattern; on the
# lesson's repeated sequences only the queries after the first copy have an
# earlier copy to find, so a perfect induction head scores below 1 (about 0.7 for
# a period of 8 in 33 tokens), and attention spread evenly over ~16 keys puts
# about 0.06 on any one of them. For the sink, 0.3 is Gu et al.'s epsilon on
# alpha_1 (the mean attention on the first token).
ROLE_RULES: tuple[tuple[str, str, float], ...] = (
    # (role label, score name, threshold)
    ("previous-token", "previous_token", 0.3),
    ("induction", "induction", 0.3),
    ("duplicate", "duplicate_token", 0.3),
    ("sink", "sink", 0.3),
)
SCORED_SEQUENCES = 16  # held-out sequences the head scores average over
ABLATION_MODES = ("zero", "mean")


def _check_task_data(data, mask: str | None = None) -> None:
    if not isinstance(data, TaskData):
        raise TypeError(
            f"data must be an attnviz.tasks.TaskData (e.g. lesson_held_out(name)), "
            f"got {type(data).__name__}"
        )
    if mask is not None and mask not in data.masks:
        raise ValueError(
            f"data must have a {mask!r} mask (repeated_tokens data), got masks {list(data.masks)}"
        )


def head_roles(scores: dict[str, np.ndarray]) -> np.ndarray:
    """The roles each head earns, as an (L, H) array of labels ("" for none) (lesson 03).

    A head gets every role of ``ROLE_RULES`` whose score reaches its threshold,
    strongest first (by score / threshold), one per line. ``scores``: a non-empty dict
    of score name -> (L, H) array of finite numbers, all of one shape (what
    :func:`attnviz.maps.head_scores` returns); names without a rule are ignored.
    """
    if not isinstance(scores, Mapping) or not scores:
        raise TypeError(
            "scores must be a non-empty dict of score name -> (L, H) array, "
            f"got {type(scores).__name__ if not isinstance(scores, Mapping) else 'an empty dict'}"
        )
    scores = {str(name): as_array(f"scores[{name!r}]", value) for name, value in scores.items()}
    shapes = {value.shape for value in scores.values()}
    shape = next(iter(shapes))
    if len(shapes) != 1 or len(shape) != 2:
        raise ValueError(f"scores must all be (L, H) arrays of one shape, got shapes {shapes}")
    roles = np.full(shape, "", dtype=object)
    for index in np.ndindex(shape):
        earned = [
            (scores[name][index] / threshold, label)
            for label, name, threshold in ROLE_RULES
            if name in scores and scores[name][index] >= threshold
        ]
        roles[index] = "\n".join(label for _, label in sorted(earned, reverse=True))
    return roles


@dataclass(frozen=True)
class Evaluation:
    """A model measured on held-out data: head scores, roles, single-head ablations."""

    scores: dict[str, np.ndarray]  # score name -> (L, H)
    roles: np.ndarray  # (L, H) labels
    single_ablation: dict[str, np.ndarray]  # mode -> (L, H) repeated-half loss change


def evaluate_heads(model: torch.nn.Module, data) -> Evaluation:
    """Score every head and knock each out alone, on held-out ``data`` (lesson 03).

    ``data`` is a ``TaskData`` with a ``"repeated_half"`` mask; scores average over its
    first ``SCORED_SEQUENCES`` sequences, knock-outs use all of them.
    """
    _check_task_data(data, mask="repeated_half")
    per_sequence: dict[str, list[np.ndarray]] = {}
    for row in range(min(SCORED_SEQUENCES, len(data))):
        captured = capture(model, data.input_ids[row])
        measured = head_scores(captured)
        measured["entropy"] = entropy(captured, normalize=True)  # 1 = uniform over visible keys
        for key, value in measured.items():
            per_sequence.setdefault(key, []).append(value)
    scores = {key: np.mean(values, axis=0) for key, values in per_sequence.items()}
    targets, repeated = loss_targets(data), data.masks["repeated_half"]
    single = {
        mode: ablation_table(model, data.input_ids, targets, mode=mode, loss_mask=repeated)
        for mode in ABLATION_MODES
    }
    return Evaluation(scores, head_roles(scores), single)


def loss_targets(data) -> torch.Tensor:
    """``data``'s targets with every position valid: positions without a target are
    masked out of the loss, and any valid id stands in for them."""
    _check_task_data(data)
    return data.targets.clamp(min=0)
