"""Predict, then reveal: short exercises whose answers are computed, never stored.

``check(exercise_id, my_answer)`` judges a prediction; ``reveal(exercise_id)``
shows the answer and the computation behind it. The machinery is in
``attnviz.exercises.core``; each lesson's exercises are in their own module
(``lesson_00``, ``lesson_01`` ...), imported here so that every id is known.

Example:
    >>> from attnviz.exercises import check
    >>> check("01-boxcar-count", 4).correct
    True
"""

# each lesson's module registers its exercises when imported
from attnviz.exercises import (  # noqa: F401
    lesson_00,
    lesson_01,
    lesson_02,
    lesson_03,
    lesson_04,
    lesson_05,
    lesson_06,
)
from attnviz.exercises.core import (
    ANSWER_KINDS,
    Answer,
    Exercise,
    Feedback,
    Solution,
    check,
    exercise,
    exercises,
    get,
    register,
    reveal,
)

__all__ = [
    "ANSWER_KINDS",
    "Answer",
    "Exercise",
    "Feedback",
    "Solution",
    "check",
    "exercise",
    "exercises",
    "get",
    "register",
    "reveal",
]
