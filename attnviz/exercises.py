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
explain how to use them; later lessons add their own with the same decorator.

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

import numpy as np
import torch

from attnviz import lookup
from attnviz.kernels.softmax import scaled_dot_product_attention, softmax_weights

ANSWER_KINDS = ("number", "integer", "choice")
Answer = float | int | str


@dataclass(frozen=True)
class Solution:
    """What a solver computes: the answer, how close counts, and why it is so."""

    answer: Answer
    explanation: str  # why, with the computed numbers; markdown that also reads as plain text
    tolerance: float = 0.0  # for numbers: |answer - expected| <= tolerance counts as right
    # tempting wrong answers: (the answer, what it misses); numbers match within tolerance
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


# -- lesson 00 -------------------------------------------------------------------------


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


# -- lesson 01 -------------------------------------------------------------------------


@exercise(
    id="01-wide-bandwidth",
    lesson="01",
    question="Nadaraya-Watson regression with the Gaussian kernel on "
    "`make_regression_data({n_points}, seed={seed})`, with a huge bandwidth h = {bandwidth:g}. "
    "What does it predict at the query x = {query:g}? (A number to 2 decimals; you may "
    "compute with `data.values`.)",
    kind="number",
    n_points=40,
    seed=0,
    bandwidth=1000.0,
    query=2.0,
)
def _wide_bandwidth(n_points: int, seed: int, bandwidth: float, query: float) -> Solution:
    data = lookup.make_regression_data(n_points, seed=seed)
    queries = np.array([query])
    (wide,), (weights,) = lookup.nadaraya_watson(
        queries, data.keys, data.values, kernel="gaussian", bandwidth=bandwidth
    )
    (narrow,), _ = lookup.nadaraya_watson(
        queries, data.keys, data.values, kernel="gaussian", bandwidth=0.5
    )
    mean = float(data.values.mean())
    truth = float(data.truth(queries)[0])
    nearest = float(data.values[np.abs(data.keys - query).argmin()])
    reach = float(np.abs(data.keys - query).max() / bandwidth)
    return Solution(
        answer=float(wide),
        tolerance=0.01,
        explanation=(
            f"With h = {bandwidth:g}, the farthest key is only {reach:.3f} bandwidths from "
            f"x = {query:g}, where the Gaussian is still flat: the {n_points} weights lie "
            f"between {weights.min():.3f} and {weights.max():.3f} (uniform is 1/{n_points} = "
            f"{1 / n_points:.3f}). So the prediction, {wide:.3f}, is the plain mean of the "
            f"values, {mean:.3f}, at every query. A narrow kernel (h = 0.5) predicts "
            f"{narrow:.3f} here: it averages only the keys near x = {query:g}, so it follows "
            f"the data's local shape (the noiseless truth there is f({query:g}) = {truth:.3f})."
        ),
        mistakes=(
            (
                truth,
                "That is the true f(x) at the query; a huge bandwidth cannot see where "
                "the query is.",
            ),
            (narrow, "That is what a narrow bandwidth (h = 0.5) predicts."),
            (nearest, "That is the value of the nearest key: the limit h → 0, not h → ∞."),
        ),
    )


@exercise(
    id="01-dot-product-std",
    lesson="01",
    question="q and k are vectors of d_k = {d_k} independent N(0, 1) entries. "
    "What is the standard deviation of the score q·k?",
    kind="number",
    d_k=64,
    n_samples=4096,
    seed=0,
)
def _dot_product_std(d_k: int, n_samples: int, seed: int) -> Solution:
    n_keys = 16
    study = lookup.softmax_saturation((d_k,), n_keys=n_keys, n_samples=n_samples, seed=seed)
    expected = math.sqrt(d_k)
    return Solution(
        answer=expected,
        tolerance=0.05 * expected,
        explanation=(
            f"q·k = Σ_i q_i k_i is a sum of d_k = {d_k} independent products, each with mean 0 "
            "and variance E[q_i²] E[k_i²] = 1. Variances of independent terms add, so "
            f"Var(q·k) = {d_k} and the standard deviation is √{d_k} = {expected:.3f}. "
            f"Measured on {n_samples * n_keys:,} random pairs (seed {seed}): "
            f"{study.score_std_unscaled[0]:.3f}. Divided by √d_k the scores have standard "
            f"deviation {study.score_std_scaled[0]:.3f}. That is why attention divides by √d_k: "
            f"over {n_keys} keys the unscaled softmax puts on average "
            f"{study.max_weight_unscaled[0]:.3f} of its weight on one key (entropy "
            f"{study.entropy_unscaled[0]:.3f} nats), the scaled one "
            f"{study.max_weight_scaled[0]:.3f} (entropy {study.entropy_scaled[0]:.3f} nats; "
            f"uniform is ln {n_keys} = {math.log(n_keys):.3f})."
        ),
        mistakes=(
            (
                float(d_k),
                f"{d_k} is the variance of q·k; the standard deviation is its square root.",
            ),
            (1.0, "1 is the standard deviation after dividing by √d_k, not before."),
            (0.0, "0 is the mean of q·k; its spread grows with d_k."),
        ),
    )


@exercise(
    id="01-zero-temperature",
    lesson="01",
    question="Attention weights are softmax(q·k / (τ √d_k)). What do the weights of one query "
    "become as the temperature τ goes to 0?",
    kind="choice",
    choices={
        "a": "uniform: every key gets 1/n",
        "b": "one-hot: all the weight on the key with the largest score",
        "c": "proportional to the scores q·k",
        "d": "unchanged: τ rescales every score alike, and softmax does not notice",
    },
    d_k=16,
    n_keys=8,
    seed=0,
)
def _zero_temperature(d_k: int, n_keys: int, seed: int) -> Solution:
    temperatures = (1.0, 0.1, 0.01)
    rows = {
        t: lookup.random_attention(d_k, n_queries=1, n_keys=n_keys, temperature=t, seed=seed)[0]
        for t in (*temperatures, 100.0)
    }
    top = int(rows[1.0].argmax())
    steps = ", ".join(
        f"{rows[t].max():.3f} at τ = {t:g} (entropy {float(lookup.entropy(rows[t])):.3f} nats)"
        for t in temperatures
    )
    hot = rows[100.0]
    return Solution(
        answer="b",
        explanation=(
            "Divide the top term out of the softmax: key i gets "
            "exp((s_i − s_max)/τ) / Σ_j exp((s_j − s_max)/τ). Every gap s_i − s_max < 0 is "
            "stretched by 1/τ towards −∞, so every other weight goes to 0 and the top key's "
            f"to 1. Measured on a random query and {n_keys} keys (d_k = {d_k}, seed {seed}): "
            f"the largest weight, always on key k{top}, is {steps}. The opposite limit, "
            f"τ → ∞, is uniform: at τ = 100 the weights lie between {hot.min():.3f} and "
            f"{hot.max():.3f} (1/{n_keys} = {1 / n_keys:.3f})."
        ),
        mistakes=(
            ("a", "Uniform weights are the limit τ → ∞, when every score is squashed to 0."),
            (
                "c",
                "softmax exponentiates the scores, so weights are never proportional to "
                "them (scores can be negative, weights cannot).",
            ),
            (
                "d",
                "softmax ignores adding a constant to every score, not multiplying them: "
                "dividing by τ stretches the gaps between scores.",
            ),
        ),
    )


@exercise(
    id="01-boxcar-count",
    lesson="01",
    question="On `make_regression_data({n_points}, seed={seed})`, with the boxcar kernel and "
    "bandwidth h = {bandwidth:g}, how many keys get a nonzero weight at the query "
    "x = {query:g}? (Look at `data.keys`.)",
    kind="integer",
    n_points=40,
    seed=0,
    bandwidth=0.5,
    query=5.0,
)
def _boxcar_count(n_points: int, seed: int, bandwidth: float, query: float) -> Solution:
    data = lookup.make_regression_data(n_points, seed=seed)
    (prediction,), (weights,) = lookup.nadaraya_watson(
        np.array([query]), data.keys, data.values, kernel="boxcar", bandwidth=bandwidth
    )
    inside = data.keys[weights > 0]
    count = int(inside.size)
    window = f"[{query - bandwidth:.3f}, {query + bandwidth:.3f}]"
    if count:
        keys = ", ".join(f"{x:.3f}" for x in inside)
        found = (
            f"{count} of the {n_points} keys lie there ({keys}). Each gets the same weight "
            f"1/{count} = {1 / count:.3f}, so the prediction {prediction:.3f} is the mean of "
            "their values."
        )
    else:
        found = "None of the keys lies there, so the prediction is undefined (NaN)."
    half = int((np.abs(data.keys - query) <= bandwidth / 2).sum())
    double = int((np.abs(data.keys - query) <= 2 * bandwidth).sum())
    return Solution(
        answer=count,
        explanation=(
            "The boxcar kernel gives a key weight only when |x − x_i| ≤ h, that is when "
            f"x_i lies in {window}. {found}"
        ),
        mistakes=(
            (
                half,
                f"{half} keys lie within h/2 of the query; the boxcar reaches a full h on "
                "each side (its window is 2h wide).",
            ),
            (
                double,
                f"{double} keys lie within 2h of the query; the boxcar reaches only h on "
                "each side.",
            ),
        ),
    )


@exercise(
    id="01-key-bias",
    lesson="01",
    question="`gaussian_as_dot_product` writes the Gaussian kernel as a dot product: the "
    "query is q = (x, 1), a key is k = (x_i, b_i), and the scores are scaled by 1/h². "
    "For the key x_i = {key:g}, what is b_i?",
    kind="number",
    key=3.0,
)
def _key_bias(key: float) -> Solution:
    _, k, _ = lookup.gaussian_as_dot_product(np.array([0.0]), np.array([key]), 1.0)
    bias = float(k[0, 1])
    # the check: a query against three keys, as kernel regression and as attention
    queries, keys, values = np.array([2.0]), np.array([1.0, key, 4.0]), np.array([0.0, 1.0, 2.0])
    q, k3, scale = lookup.gaussian_as_dot_product(queries, keys, 1.0)
    attention = scaled_dot_product_attention(q, k3, torch.from_numpy(values[:, None]), scale=scale)
    kernel = lookup.nadaraya_watson_weights(queries, keys, kernel="gaussian", bandwidth=1.0)
    agree = bool(np.abs(attention.weights.numpy() - kernel).max() < 1e-12)
    shown = ", ".join(f"{w:.3f}" for w in kernel[0])
    return Solution(
        answer=bias,
        tolerance=0.001,
        explanation=(
            "Expand the Gaussian's exponent: −(x − x_i)²/2 = x·x_i − x_i²/2 − x²/2. The last "
            "term is the same for every key, and softmax ignores a constant added to every "
            "score, so what is left is the dot product of q = (x, 1) with k = (x_i, −x_i²/2). "
            f"For x_i = {key:g}: b_i = −x_i²/2 = {bias:.3f}. The bias penalises keys far from "
            f"0, which a plain dot product would favour. Check: for the query x = 2 and keys "
            f"(1, {key:g}, 4) with h = 1, attention and kernel regression give the same weights, "
            f"({shown}); largest difference below 1e-12: {agree}."
        ),
        mistakes=(
            (-bias, "Mind the sign: the bias lowers the score of keys far from 0."),
            (2 * bias, "You forgot the 1/2: the Gaussian's exponent is −u²/2."),
        ),
    )


__all__ = [
    "ANSWER_KINDS",
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
