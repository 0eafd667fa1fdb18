"""Predict, then reveal: short exercises whose answers are computed, never stored.

A lesson asks a question in a markdown cell; the learner writes a prediction and
runs ``check(exercise_id, my_answer)``. The feedback is computed on the spot from
the same library code the lessons and dashboards use (``attnviz.lookup``), so
the numbers in it are the numbers the learner can reproduce, and changing the
data changes the answer. ``reveal(exercise_id)`` shows the answer and why.

Each exercise is a solver function registered with ``@exercise(...)``: it
receives the exercise's parameters (data size, seed, query ...) and returns a
``Solution``: the answer, the tolerance, an explanation with measured numbers,
and the tempting wrong answers with what each one misses. Lessons 00 and 01
explain how to use them; each lesson's exercises live in their own module
(``attnviz.exercises.soft_lookup`` ..., by stem: ``attnviz.lessons``), registered
with the same decorator.

Example:
    >>> from attnviz.exercises import check
    >>> check("01-boxcar-count", 4).correct
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal

ANSWER_KINDS = ("number", "integer", "choice")
Answer = float | int | str


@dataclass(frozen=True)
class Solution:
    """What a solver computes: the answer, how close counts, and why it is so."""

    answer: Answer
    explanation: str  # why, with the computed numbers; markdown that also reads as plain text
    tolerance: float = 0.0  # for numbers: |answer - expected| <= tolerance counts as right
    # tempting wrong answers: (the answer, what it misses); numbers match within tolerance.
    # The answer is judged first, so a "mistake" that equals it for some parameters is unused.
    mistakes: tuple[tuple[Answer, str], ...] = ()


@dataclass(frozen=True)
class Feedback:
    """What ``check`` and ``reveal`` return; it prints (and renders) as its message."""

    exercise_id: str
    status: Literal["predict", "correct", "wrong", "revealed"]
    title: str
    body: str

    @property
    def correct(self) -> bool | None:
        """True or False once there is an answer to judge; None before a prediction."""
        return {"correct": True, "wrong": False}.get(self.status)

    @property
    def message(self) -> str:
        return f"{self.title}\n\n{self.body}"

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        return f"**{self.title}**\n\n{self.body}"


def _format(value: Answer) -> str:
    """A computed answer: strings quoted, integers as they are, other numbers to 3 decimals."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Integral):
        return str(int(value))
    return f"{float(value):.3f}"


def _format_given(value: Any) -> str:
    """A learner's answer, as they wrote it (up to 6 significant digits)."""
    if isinstance(value, Real) and not isinstance(value, Integral):
        return f"{float(value):.6g}"
    return _format(value)


@dataclass(frozen=True)
class Exercise:
    """One question: its id, its lesson, its answer kind, and the solver that answers it."""

    id: str
    lesson: str  # e.g. "01"
    question: str  # may use {param} placeholders, filled from params
    kind: Literal["number", "integer", "choice"]
    solver: Callable[..., Solution]
    params: Mapping[str, Any] = field(default_factory=dict)
    choices: Mapping[str, str] = field(default_factory=dict)  # letter -> text (kind "choice")

    def prompt(self, **overrides: Any) -> str:
        """The question, with its parameters (and choices) filled in."""
        text = self.question.format(**self._params(overrides))
        if self.choices:
            text += "\n\n" + "\n".join(f"- ({key}) {val}" for key, val in self.choices.items())
        return text

    def solution(self, **overrides: Any) -> Solution:
        """Compute the answer, optionally for other parameters than the lesson's."""
        return self.solver(**self._params(overrides))

    def grade(self, answer: Any, **overrides: Any) -> Feedback:
        """Judge a prediction: None asks for one; otherwise right or wrong, and why."""
        if answer is None:
            return Feedback(
                self.id,
                "predict",
                f"Predict first ({self.id}).",
                f"{self.prompt(**overrides)}\n\n"
                "Write your prediction in the cell, for example `my_answer = "
                f"{self._example()}`, and run it again. To skip to the answer, run "
                f"`reveal({self.id!r})`.",
            )
        given, answer = answer, self._check_answer(answer)
        solution = self.solution(**overrides)
        if self._matches(answer, solution.answer, solution.tolerance):
            return Feedback(
                self.id,
                "correct",
                f"Correct: {_format_given(given)} ({self.id}).",
                solution.explanation,
            )
        body = [f"The computed answer is {_format(solution.answer)}."]
        for tempting, why in solution.mistakes:
            if self._matches(answer, tempting, solution.tolerance):
                body.append(why)
                break
        body.append(solution.explanation)
        return Feedback(
            self.id,
            "wrong",
            f"Not quite: you said {_format_given(given)} ({self.id}).",
            "\n\n".join(body),
        )

    def reveal(self, **overrides: Any) -> Feedback:
        """The answer and the explanation, without a prediction."""
        solution = self.solution(**overrides)
        return Feedback(
            self.id,
            "revealed",
            f"Answer: {_format(solution.answer)} ({self.id}).",
            f"{self.prompt(**overrides)}\n\n{solution.explanation}",
        )

    # -- helpers -----------------------------------------------------------------------
    def _params(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(overrides) - set(self.params))
        if unknown:
            raise ValueError(
                f"exercise {self.id!r} has no parameter(s) {', '.join(map(repr, unknown))}; "
                f"its parameters are {sorted(self.params)}"
            )
        return {**self.params, **overrides}

    def _example(self) -> str:
        return {"number": "1.5", "integer": "3", "choice": repr(next(iter(self.choices), "a"))}[
            self.kind
        ]

    def _check_answer(self, answer: Any) -> Answer:
        if self.kind == "choice":
            allowed = ", ".join(map(repr, self.choices))
            if not isinstance(answer, str):
                raise TypeError(
                    f"answer to {self.id!r} must be one of the letters {allowed} (a str), "
                    f"got {answer!r} ({type(answer).__name__})"
                )
            letter = answer.strip().strip("()").strip().lower()
            if letter not in self.choices:
                raise ValueError(
                    f"answer to {self.id!r} must be one of the letters {allowed}, got {answer!r}"
                )
            return letter
        if self.kind == "integer":
            if isinstance(answer, bool) or not isinstance(answer, Integral):
                raise TypeError(
                    f"answer to {self.id!r} must be an integer (a count), "
                    f"got {answer!r} ({type(answer).__name__})"
                )
            return int(answer)
        if isinstance(answer, bool) or not isinstance(answer, Real):
            raise TypeError(
                f"answer to {self.id!r} must be a number (int or float), "
                f"got {answer!r} ({type(answer).__name__})"
            )
        if not math.isfinite(float(answer)):
            raise ValueError(f"answer to {self.id!r} must be a finite number, got {answer!r}")
        return float(answer)

    def _matches(self, answer: Answer, expected: Answer, tolerance: float) -> bool:
        if self.kind == "choice":
            return answer == expected
        return abs(float(answer) - float(expected)) <= tolerance


_REGISTRY: dict[str, Exercise] = {}


def register(item: Exercise) -> Exercise:
    """Add an exercise to the registry that ``check`` and ``reveal`` read."""
    if not isinstance(item, Exercise):
        raise TypeError(f"item must be an Exercise, got {type(item).__name__}")
    if item.kind not in ANSWER_KINDS:
        raise ValueError(f"kind must be one of {ANSWER_KINDS}, got {item.kind!r}")
    if item.kind == "choice" and not item.choices:
        raise ValueError(f"exercise {item.id!r} is multiple choice but lists no choices")
    if item.id in _REGISTRY and _REGISTRY[item.id] is not item:
        raise ValueError(f"exercise id {item.id!r} is already registered")
    _REGISTRY[item.id] = item
    return item


def exercise(
    *,
    id: str,
    lesson: str,
    question: str,
    kind: Literal["number", "integer", "choice"],
    choices: Mapping[str, str] | None = None,
    **params: Any,
) -> Callable[[Callable[..., Solution]], Exercise]:
    """Decorator: register a solver ``f(**params) -> Solution`` as an exercise."""

    def decorate(solver: Callable[..., Solution]) -> Exercise:
        return register(Exercise(id, lesson, question, kind, solver, params, dict(choices or {})))

    return decorate


def exercises(lesson: str | None = None) -> list[Exercise]:
    """Every registered exercise (of one lesson, if given), in id order."""
    return sorted(
        (ex for ex in _REGISTRY.values() if lesson is None or ex.lesson == lesson),
        key=lambda ex: ex.id,
    )


def get(exercise_id: str) -> Exercise:
    """The exercise with this id; ValueError lists the known ids otherwise."""
    if not isinstance(exercise_id, str):
        raise TypeError(
            f"exercise_id must be a str such as '01-boxcar-count', "
            f"got {exercise_id!r} ({type(exercise_id).__name__})"
        )
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"no exercise with id {exercise_id!r}; known ids: {known}") from None


def check(exercise_id: str, answer: Any = None) -> Feedback:
    """Judge your prediction for an exercise; None reminds you to predict first."""
    return get(exercise_id).grade(answer)


def reveal(exercise_id: str) -> Feedback:
    """Show an exercise's answer and the computation behind it."""
    return get(exercise_id).reveal()
