"""Predict, then reveal: short exercises whose answers are computed, never stored.

A lesson asks a question in a markdown cell; the learner writes a prediction and
runs ``check(exercise_id, my_answer)``. The feedback is computed on the spot from
the same library code the lessons and dashboards use (``attnviz.lookup``), so
the numbers in it are the numbers the learner can reproduce, and changing the
data changes the answer. A wrong prediction first gets a hint and a second try;
only a second wrong prediction shows the answer, with what that wrong answer
misses and why the right one is right (``TRIES``, ``Tries``). ``reveal(exercise_id)``
shows the answer and why at any time.

Each exercise is a solver function registered with ``@exercise(...)``: it
receives the exercise's parameters (data size, seed, query ...) and returns a
``Solution``: the answer, the tolerance, an explanation with measured numbers,
the tempting wrong answers with what each one misses, and a hint that points to the
reasoning without giving the answer. Lessons 00 and 01 explain how to use them; each
lesson's exercises live in their own module (``attnviz.exercises.soft_lookup`` ..., by
stem: ``attnviz.lessons``), registered with the same decorator.

Example:
    >>> from attnviz.exercises import check
    >>> check("01-boxcar-count", 4).correct
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal

from attnviz.validation import check_int, check_real, check_text, plain_number, short_repr

ANSWER_KINDS = ("number", "integer", "choice")
# "hint": a wrong prediction before the last try (the answer stays hidden);
# "wrong": a wrong prediction at the last try (the answer is shown)
FEEDBACK_STATUSES = ("predict", "correct", "hint", "wrong", "revealed")
#: how many predictions an exercise judges before a wrong one shows the answer
TRIES = 2
Answer = float | int | str
# the largest answer (in size) a prediction may be: any count or measure in the course is
# far smaller, and every answer up to it converts to a float without overflow
MAX_ANSWER = 1e15


@dataclass(frozen=True)
class Solution:
    """What a solver computes: the answer, how close counts, and why it is so."""

    answer: Answer
    explanation: str  # why, with the computed numbers; markdown that also reads as plain text
    tolerance: float = 0.0  # for numbers: |answer - expected| <= tolerance counts as right
    # tempting wrong answers: (the answer, what it misses); numbers match within tolerance.
    # The answer is judged first, so a "mistake" that equals it for some parameters is unused.
    mistakes: tuple[tuple[Answer, str], ...] = ()
    # a nudge towards the reasoning, shown after a wrong try; it never states the answer
    hint: str = ""

    def __post_init__(self) -> None:
        _check_answer_value("answer", self.answer)
        check_text("explanation", self.explanation, empty=True)
        check_text("hint", self.hint, empty=True)
        tolerance = check_real("tolerance", self.tolerance, low=0.0)
        object.__setattr__(self, "tolerance", tolerance)
        if not isinstance(self.mistakes, (tuple, list)) or not all(
            isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in self.mistakes
        ):
            raise TypeError(
                f"mistakes must be (answer, why) pairs, got {short_repr(self.mistakes)}"
            )
        for tempting, why in self.mistakes:
            _check_answer_value("mistakes", tempting)
            check_text("mistakes", why)
        object.__setattr__(self, "mistakes", tuple(tuple(pair) for pair in self.mistakes))


@dataclass(frozen=True)
class Feedback:
    """What ``check`` and ``reveal`` return; it prints (and renders) as its message."""

    exercise_id: str
    status: Literal["predict", "correct", "hint", "wrong", "revealed"]
    title: str
    body: str

    def __post_init__(self) -> None:
        check_text("exercise_id", self.exercise_id)
        if self.status not in FEEDBACK_STATUSES:
            raise ValueError(
                f"status must be one of {FEEDBACK_STATUSES}, got {short_repr(self.status)}"
            )
        check_text("title", self.title)
        check_text("body", self.body, empty=True)

    @property
    def correct(self) -> bool | None:
        """True or False once there is an answer to judge; None before a prediction."""
        return {"correct": True, "hint": False, "wrong": False}.get(self.status)

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
    value = plain_number(value)
    if isinstance(value, Integral) and abs(value) >= 10**15:
        return f"{int(value):.6e}" if abs(value) <= MAX_ANSWER else "a huge integer"
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

    def __post_init__(self) -> None:
        for name in ("id", "lesson", "question"):
            check_text(name, getattr(self, name))
        if self.kind not in ANSWER_KINDS:
            raise ValueError(f"kind must be one of {ANSWER_KINDS}, got {short_repr(self.kind)}")
        if not callable(self.solver):
            raise TypeError(f"solver must be callable, got {type(self.solver).__name__}")
        if not isinstance(self.params, Mapping) or not all(isinstance(k, str) for k in self.params):
            raise TypeError(f"params must be a dict with str keys, got {short_repr(self.params)}")
        if not isinstance(self.choices, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in self.choices.items()
        ):
            raise TypeError(
                f"choices must map letters (str) to texts (str), got {short_repr(self.choices)}"
            )

    def prompt(self, **overrides: Any) -> str:
        """The question, with its parameters (and choices) filled in.

        Parameters given here are checked by the solver (which computes the answer to
        them), so a question is never asked about parameters it cannot answer.
        """
        if overrides:
            self.solution(**overrides)
        text = self.question.format(**self._params(overrides))
        if self.choices:
            text += "\n\n" + "\n".join(f"- ({key}) {val}" for key, val in self.choices.items())
        return text

    def solution(self, **overrides: Any) -> Solution:
        """Compute the answer, optionally for other parameters than the lesson's."""
        return self.solver(**self._params(overrides))

    def grade(self, answer: Any, attempt: int = 1, **overrides: Any) -> Feedback:
        """Judge a prediction: None asks for one; otherwise right or wrong, and why.

        ``attempt`` counts the learner's predictions (1 is the first). A wrong one
        before the last of ``TRIES`` gets the hint and keeps the answer hidden
        (status "hint"); from the last try on it shows the answer, what that wrong
        answer misses, and the explanation (status "wrong").
        """
        attempt = check_int("attempt", attempt, low=1, high=1_000_000)
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
        if attempt < TRIES:
            left = TRIES - attempt
            tries = "one more try" if left == 1 else f"{left} more tries"
            hint = solution.hint or "Read the question again, and write down each step."
            return Feedback(
                self.id,
                "hint",
                f"Not yet: you said {_format_given(given)} ({self.id}).",
                f"Hint: {hint}\n\nChange your prediction and run the cell again: you have "
                f"{tries} before the answer is shown. To see it now, run "
                f"`reveal({self.id!r})`.",
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
        answer = plain_number(answer)
        if self.kind == "integer":
            if isinstance(answer, bool) or not isinstance(answer, Integral):
                raise TypeError(
                    f"answer to {self.id!r} must be an integer (a count), "
                    f"got {short_repr(answer)} ({type(answer).__name__})"
                )
            answer = int(answer)
            if abs(answer) > MAX_ANSWER:  # exact: Python compares int and float exactly
                raise ValueError(
                    f"answer to {self.id!r} must be an integer of size at most {MAX_ANSWER:g}, "
                    f"got {_format_given(answer)}"
                )
            return answer
        if isinstance(answer, bool) or not isinstance(answer, Real):
            raise TypeError(
                f"answer to {self.id!r} must be a number (int or float), "
                f"got {short_repr(answer)} ({type(answer).__name__})"
            )
        return check_real(f"answer to {self.id!r}", answer, low=-MAX_ANSWER, high=MAX_ANSWER)

    def _matches(self, answer: Answer, expected: Answer, tolerance: float) -> bool:
        if self.kind == "choice":
            return answer == expected
        if isinstance(expected, str):  # a choice-like mistake of a numeric exercise
            return False
        # ints compare exactly; every answer was checked to fit a float
        if isinstance(answer, int) and isinstance(expected, Integral):
            return abs(answer - int(expected)) <= tolerance
        return abs(float(answer) - float(expected)) <= tolerance


_REGISTRY: dict[str, Exercise] = {}


def _check_answer_value(name: str, value: Any) -> None:
    """A computed answer: a string, or a finite number at most MAX_ANSWER in size."""
    if isinstance(value, str):
        return
    value = plain_number(value)
    if isinstance(value, Integral) and not isinstance(value, bool):
        if abs(value) > MAX_ANSWER:
            raise ValueError(
                f"{name} must be at most {MAX_ANSWER:g} in size, got {short_repr(value)}"
            )
        return
    check_real(name, value, low=-MAX_ANSWER, high=MAX_ANSWER)


def register(item: Exercise) -> Exercise:
    """Add an exercise to the registry that ``check`` and ``reveal`` read."""
    if not isinstance(item, Exercise):
        raise TypeError(f"item must be an Exercise, got {type(item).__name__}")
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
    """Decorator: register a solver ``f(**params) -> Solution`` as an exercise.

    The arguments are checked here, before any solver: ``id``, ``lesson`` and ``question``
    non-empty strings, ``kind`` one of ``ANSWER_KINDS``, ``choices`` (letter -> text) given
    for a multiple-choice exercise, and an ``id`` not yet registered.
    """
    probe = Exercise(id, lesson, question, kind, _no_solver, params, dict(choices or {})
                     if isinstance(choices, Mapping | None) else choices)  # fmt: skip
    if kind == "choice" and not probe.choices:
        raise ValueError(f"exercise {id!r} is multiple choice but lists no choices")
    if id in _REGISTRY:
        raise ValueError(f"exercise id {id!r} is already registered")

    def decorate(solver: Callable[..., Solution]) -> Exercise:
        return register(Exercise(id, lesson, question, kind, solver, params, dict(choices or {})))

    return decorate


def exercises(lesson: str | None = None) -> list[Exercise]:
    """Every registered exercise (of one lesson, if given), in id order."""
    if lesson is not None:
        check_text("lesson", lesson)
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
        raise ValueError(
            f"no exercise with id {short_repr(exercise_id)} (exercise_id must be a known id); "
            f"known ids: {known}"
        ) from None


def _no_solver(**params: Any) -> Solution:
    raise NotImplementedError  # stands in while exercise() checks its arguments


class Tries:
    """One learner's predictions, exercise by exercise: a hint first, the answer after ``TRIES``.

    ``check`` counts the *different* wrong predictions made for each exercise: the
    first gets the hint, the ``TRIES``-th shows the answer. Running the cell again with
    the same wrong prediction repeats the hint and uses no try. A notebook is one
    learner, so the module's ``check`` keeps one ``Tries`` for the Python process; an
    app that serves many learners at once keeps one ``Tries`` per browser session.
    """

    def __init__(self) -> None:
        self._wrong: dict[str, list[Answer]] = {}

    def check(self, exercise_id: str, answer: Any = None) -> Feedback:
        """Judge a prediction as ``grade`` does, at this learner's try for the exercise."""
        item = get(exercise_id)
        if answer is None:
            return item.grade(None)
        judged = item._check_answer(answer)  # refuses bad answers before counting a try
        earlier = self._wrong.get(item.id, [])
        repeated = judged in earlier
        feedback = item.grade(answer, attempt=len(earlier) + (0 if repeated else 1))
        if feedback.status in ("hint", "wrong") and not repeated:
            self._wrong.setdefault(item.id, []).append(judged)
        if feedback.status == "hint" and repeated:
            feedback = Feedback(
                item.id,
                "hint",
                feedback.title,
                "You gave this answer before; the hint is the same.\n\n" + feedback.body,
            )
        return feedback

    def wrong_answers(self, exercise_id: str) -> tuple[Answer, ...]:
        """The different wrong predictions made so far for an exercise, in order."""
        return tuple(self._wrong.get(get(exercise_id).id, ()))

    def reset(self, exercise_id: str | None = None) -> None:
        """Start an exercise over (every exercise, if ``exercise_id`` is None)."""
        if exercise_id is None:
            self._wrong.clear()
        else:
            self._wrong.pop(get(exercise_id).id, None)


# the tries of the one learner a notebook's Python process serves
_TRIES = Tries()


def check(exercise_id: str, answer: Any = None) -> Feedback:
    """Judge your prediction for an exercise; None reminds you to predict first.

    A wrong prediction gets a hint and another try; the second different wrong
    prediction (``TRIES``) shows the answer, what that answer misses, and why. A
    number or a count must be finite and at most ``MAX_ANSWER`` (1e15) in size; a
    choice is one of the exercise's letters. Anything else is refused with a
    ValueError or TypeError that says what the answer must be, and uses no try.
    """
    return _TRIES.check(exercise_id, answer)


def reveal(exercise_id: str) -> Feedback:
    """Show an exercise's answer and the computation behind it, at any time."""
    return get(exercise_id).reveal()
