"""The lesson exercise tests judge a prediction at its last try.

``check`` hides the answer until a learner's second wrong try (``TRIES``), which
tests/test_exercises.py tests for every exercise. The lessons' own tests ask what a
wrong answer is told once it is shown: the answer, the matched mistake, the
explanation. ``verdict`` is that feedback, the same at every call.
"""

from __future__ import annotations

from typing import Any

from attnviz.exercises import TRIES, Feedback, get


def verdict(exercise_id: str, answer: Any) -> Feedback:
    """``check``'s feedback at the last try: a wrong answer shows the answer and why."""
    return get(exercise_id).grade(answer, attempt=TRIES)
