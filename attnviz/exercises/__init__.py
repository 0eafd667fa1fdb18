"""Predict, then reveal: short exercises whose answers are computed, never stored.

``check(exercise_id, my_answer)`` judges a prediction: a wrong one gets a hint and a
second try, a second wrong one the answer; ``reveal(exercise_id)`` shows the answer and
the computation behind it at any time. The machinery is in
``attnviz.exercises.core``; each lesson's exercises are in the module named by its stem
(``attnviz.exercises.soft_lookup`` ...: ``attnviz.lessons``), imported here, lesson by
lesson of the manifest, so that every id is known.

Example:
    >>> from attnviz.exercises import check
    >>> check("01-boxcar-count", 4).correct
    True
"""

import importlib

from attnviz.exercises.core import (
    ANSWER_KINDS,
    TRIES,
    Answer,
    Exercise,
    Feedback,
    Solution,
    Tries,
    check,
    exercise,
    exercises,
    get,
    register,
    reveal,
)
from attnviz.lessons import LESSONS

# each lesson's module registers its exercises when imported
for _lesson in LESSONS:
    importlib.import_module(f"attnviz.exercises.{_lesson.stem}")
del _lesson

__all__ = [
    "ANSWER_KINDS",
    "Answer",
    "Exercise",
    "Feedback",
    "Solution",
    "TRIES",
    "Tries",
    "check",
    "exercise",
    "exercises",
    "get",
    "register",
    "reveal",
]
