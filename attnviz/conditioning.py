"""Pavlovian conditioning: Rescorla–Wagner, and the same experiments in a linear-attention memory.

Lesson 05 explains this module. Rescorla & Wagner (1972) model how an animal learns that
conditioned stimuli (CS: a tone A, a light B, ...) predict an unconditioned stimulus (US:
food). On every trial, each CS ``X`` that is present changes its associative strength by

    ΔV_X = α_X β (λ − Σ_{present} V)

where ``α_X ∈ (0, 1]`` is the salience of X, ``β ∈ (0, 1]`` the learning rate of the US,
``λ`` the US magnitude on a US trial (``0`` on a no-US trial) and ``λ − Σ V`` the
*prediction error*: learning happens only where the US is a surprise. With a presence
vector ``x ∈ {0, 1}^n`` this is the Widrow–Hoff LMS rule (Widrow & Hoff 1960), a step of
gradient descent on ``½ (λ − wᵀx)²`` with per-input rates ``β α``:
``Δw = β diag(α) x (λ − wᵀx)``.

**The same experiments in a linear-attention memory** (Qiao 2025, arXiv 2508.08289, reads
attention as conditioning: key = CS, value = US, query = test stimulus). Stimulus X has the
key ``k_X = √α_X e_X`` (``e_X`` the one-hot basis vector), a compound trial's key is the
sum of its stimuli's keys, ``k = Σ_{present} k_X = diag(√α) x``, and the value is the US,
``v = λ`` (``d_v = 1``). The memory ``S`` (``d_v × d_k``, here ``1 × n``) is written once
per trial by ``attnviz.kernels.linear.write``, with one of two rules:

* Hebbian (linear attention):  ``S ← S + β v kᵀ``
* delta (DeltaNet, Yang et al. 2024, arXiv 2406.06484):  ``S ← S + β (v − S k) kᵀ``

The associative strength of X is the memory's read-out when X alone is the test stimulus,
i.e. the query is X's own key: ``V_X = S k_X = √α_X S_X``.

*Why √α makes the delta rule equal Rescorla–Wagner exactly.* The memory's prediction on a
trial is ``S k = Σ_{present} √α_X S_X = Σ_{present} V_X``, the RW sum. The delta update
changes entry X by ``ΔS_X = β (λ − S k) √α_X x_X``, so ``ΔV_X = √α_X ΔS_X = α_X β
(λ − Σ V) x_X``: the RW update, trial by trial. The salience enters twice, once in the
write and once in the read, hence its square root in the key. (Reading with the bare
basis vector, ``S e_X = V_X / √α_X``, agrees only when ``α_X = 1``; unscaled keys
``k = x`` would give every stimulus the same rate ``β``.) The Hebbian memory with the
same keys gives ``ΔV_X = α_X β λ x_X``: no prediction error, so associations only grow
(while the US is present) and never stop; hence no blocking, no extinction, no
overexpectation and no conditioned inhibition.

**Stability.** Repeating one compound multiplies the error by ``1 − β Σ_{present} α`` per
trial: it shrinks monotonically while ``β Σ α ≤ 1``, overshoots and oscillates (but
still converges) for ``1 < β Σ α < 2``, and diverges for ``β Σ α ≥ 2``. Each argument is
checked on its own (``α, β ∈ (0, 1]``); large compounds with large rates are allowed, and
show the oscillation. ``largest_rate`` gives a run's largest ``β Σ α``, to compare with
``DIVERGENT_RATE`` (2).

**Schedules are data.** A ``Trial`` is a set of stimuli and whether the US comes; a
``Phase`` is a block of trials repeated ``repeats`` times, in order (``Phase(("A+",
"AX-"), 50)`` interleaves A+ and AX− fifty times); a schedule is a tuple of phases. The
text form, which ``parse_schedule`` reads and ``format_schedule`` writes::

    pretraining: 20 A+ | compound: 20 AB+

Phases are separated by ``|``; each is an optional ``name:``, a repeat count (1 if left
out) and its trials. A trial is stimulus names run together, then ``+`` (US) or ``-`` (no
US). A stimulus name is an uppercase letter followed by lowercase letters or digits, so
``AB+`` is A and B with the US and ``ToneLight-`` is Tone and Light without it.

=======================  =================================================  ==============
experiment               experimental group (control group)                 shows
=======================  =================================================  ==============
acquisition              20 A+                                              V_A → λ
extinction               20 A+ | 20 A-                                      V_A → 0
blocking                 20 A+ | 20 AB+   (control: 20 AB+)                 V_B ≈ 0
overshadowing            20 AB+, α_A > α_B   (control: 20 B+)               V_A > V_B
conditioned_inhibition   100 A+ AX-                                         V_X → −λ
overexpectation          20 A+ B+ | 20 AB+                                  V_A, V_B fall
=======================  =================================================  ==============

Closed forms (each equals the simulator to rounding; see ``compound_curve`` for the
derivation): ``acquisition_curve``, ``extinction_curve``, ``overshadowing_curve``,
``compound_curve``, ``blocking_control_limit``, ``conditioned_inhibition_limit``.

Sources: Rescorla & Wagner (1972), "A theory of Pavlovian conditioning: variations in the
effectiveness of reinforcement and nonreinforcement"; Widrow & Hoff (1960), "Adaptive
switching circuits" (LMS); Yang, Wang, Zhang, Shen & Kim (2024), "Parallelizing linear
transformers with the delta rule over sequence length", arXiv 2406.06484 (DeltaNet); Qiao
(2025), "Understanding transformers through the lens of Pavlovian conditioning", arXiv
2508.08289. PAPERS.md §1 has the digest.

Example:
    >>> from attnviz.conditioning import run
    >>> result = run("blocking")
    >>> result.final(3)
    {'experimental': {'A': 0.994, 'B': 0.006}, 'control': {'A': 0.5, 'B': 0.5}}
    >>> run("blocking", rule="hebbian").final(3)
    {'experimental': {'A': 8.0, 'B': 4.0}, 'control': {'A': 4.0, 'B': 4.0}}
    >>> run("10 A+", saliences={"A": 0.5}, beta=0.2).final(3)
    {'A': 0.651}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attnviz.kernels.linear import _write as write_unchecked  # run() checks at the door
from attnviz.validation import check_choice, check_int, check_real, check_text, finite_result

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_LAM",
    "DEFAULT_SALIENCE",
    "DIVERGENT_RATE",
    "EXPERIMENTS",
    "MAX_TRIALS",
    "RULES",
    "ConditioningResult",
    "Experiment",
    "ExperimentResult",
    "Phase",
    "Trial",
    "acquisition_curve",
    "as_schedule",
    "blocking_control_limit",
    "compound_curve",
    "conditioned_inhibition_limit",
    "expand_schedule",
    "extinction_curve",
    "format_schedule",
    "largest_rate",
    "overshadowing_curve",
    "parse_schedule",
    "run",
]

RULES = ("rescorla_wagner", "delta", "hebbian")
DEFAULT_SALIENCE = 0.5  # α of every stimulus of a bare schedule run without saliences
DEFAULT_BETA = 0.2  # with α = 0.5, αβ = 0.1: the textbook acquisition curve
DEFAULT_LAM = 1.0
MAX_TRIALS = 100_000  # a schedule longer than this is refused (the dashboard stays fast)
DIVERGENT_RATE = 2.0  # β Σ_present α from which a repeated compound makes the delta rule diverge

_NAME = re.compile(r"[A-Z][a-z0-9]*")
_TRIAL = re.compile(r"((?:[A-Z][a-z0-9]*)+)([+-])")
_MAX_NAME = 16
_NAME_RULE = "an uppercase letter followed by lowercase letters or digits (e.g. 'A', 'X', 'Tone')"
_TRIAL_RULE = (
    "stimulus names run together, then '+' (US) or '-' (no US), e.g. 'A+', 'AX-', 'ToneLight+'"
)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _stimulus_name(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a stimulus name ({_NAME_RULE}), got {_show(value)}")
    if not _NAME.fullmatch(value) or len(value) > _MAX_NAME:
        raise ValueError(
            f"{name} must be a stimulus name ({_NAME_RULE}, at most {_MAX_NAME} characters),"
            f" got {value!r}"
        )
    return value


def _split_names(name: str, text: str) -> list[str]:
    """'AB' -> ['A', 'B']; 'ToneLight' -> ['Tone', 'Light']."""
    names = _NAME.findall(text)
    if "".join(names) != text:
        raise ValueError(f"{name} must be stimulus names ({_NAME_RULE}) run together, got {text!r}")
    return [_stimulus_name(name, n) for n in names]


# ---------------------------------------------------------------------------------------
# Schedules: trials, phases, and their text form
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One conditioning trial: the stimuli presented together, and whether the US comes (lesson 05).

    ``stimuli`` may be given as a string of names run together (``"AB"``) or any iterable
    of names; it is stored as a ``frozenset``. ``str(Trial.parse("BA+")) == "AB+"``.
    """

    stimuli: frozenset[str]
    us: bool

    def __post_init__(self) -> None:
        stimuli = self.stimuli
        if isinstance(stimuli, str):
            names = _split_names("stimuli", stimuli)
        elif isinstance(stimuli, Iterable):
            names = [_stimulus_name("stimuli", s) for s in stimuli]
        else:
            raise TypeError(
                f"stimuli must be a string like 'AB' or a set of stimulus names,"
                f" got {_show(stimuli)}"
            )
        if not names:
            raise ValueError(
                f"stimuli must name at least one stimulus (an empty trial teaches nothing),"
                f" got {_show(stimuli)}"
            )
        if not isinstance(self.us, bool | np.bool_):
            raise TypeError(f"us must be True or False, got {_show(self.us)}")
        object.__setattr__(self, "stimuli", frozenset(names))
        object.__setattr__(self, "us", bool(self.us))

    @classmethod
    def parse(cls, text: str) -> Trial:
        """Read a trial like ``"AB+"`` (A and B, then the US) or ``"AX-"`` (lesson 05)."""
        if not isinstance(text, str):
            raise TypeError(f"trial must be a string ({_TRIAL_RULE}), got {_show(text)}")
        match = _TRIAL.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"trial must be {_TRIAL_RULE}; got {text!r}")
        return cls(match.group(1), match.group(2) == "+")

    def __str__(self) -> str:
        return "".join(sorted(self.stimuli)) + ("+" if self.us else "-")


def _as_trial(name: str, value: Any) -> Trial:
    if isinstance(value, Trial):
        return value
    if isinstance(value, str):
        return Trial.parse(value)
    if isinstance(value, tuple) and len(value) == 2:
        return Trial(value[0], value[1])
    raise TypeError(
        f"{name} must be a Trial, a string like 'AB+', or a pair like ('AB', True),"
        f" got {_show(value)}"
    )


@dataclass(frozen=True)
class Phase:
    """A block of trials presented in order, ``repeats`` times (lesson 05).

    ``trials`` accepts ``Trial`` objects, strings like ``"AB+"``, pairs like
    ``("AB", True)``, or one string of trials separated by spaces (``"A+ AX-"``); it is
    stored as a tuple of ``Trial``. ``Phase("A+ AX-", 50)`` is 100 trials: A+, AX−, A+, ...
    """

    trials: tuple[Trial, ...]
    repeats: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        trials = self.trials
        if isinstance(trials, str):
            trials = trials.split()
        elif isinstance(trials, Trial):
            trials = (trials,)
        if not isinstance(trials, Iterable):
            raise TypeError(f"trials must be a sequence of trials, got {_show(self.trials)}")
        trials = tuple(_as_trial("trials", t) for t in trials)
        if not trials:
            raise ValueError(
                "trials must hold at least one trial (e.g. ('A+',) or 'A+ AX-'), got none"
            )
        repeats = check_int("repeats", self.repeats, low=1, high=MAX_TRIALS)
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {_show(self.name)}")
        name = self.name.strip()
        if any(c in name for c in "|:\n"):
            raise ValueError(f"name must not contain '|', ':' or a newline, got {self.name!r}")
        object.__setattr__(self, "trials", trials)
        object.__setattr__(self, "repeats", repeats)
        object.__setattr__(self, "name", name)

    @property
    def n_trials(self) -> int:
        """Trials in the phase: ``len(trials) * repeats`` (lesson 05)."""
        return len(self.trials) * self.repeats

    def __str__(self) -> str:
        head = f"{self.name}: " if self.name else ""
        return head + f"{self.repeats} " + " ".join(str(t) for t in self.trials)


Schedule = tuple[Phase, ...]


def parse_schedule(text: str) -> Schedule:
    """Read a schedule like ``"pretraining: 20 A+ | compound: 20 AB+"`` (lesson 05).

    Phases are separated by ``|``. Each phase is an optional ``name:``, a repeat count
    (1 if left out) and one or more trials, repeated as a block in order. A trial is
    stimulus names run together then ``+`` (US) or ``-`` (no US). ``format_schedule``
    writes the canonical form back: ``parse_schedule(format_schedule(s)) == s``.

    Args:
        text: the schedule.

    Returns:
        A tuple of ``Phase``.
    """
    if not isinstance(text, str):
        raise TypeError(f"schedule must be a string like '20 A+ | 20 AB+', got {_show(text)}")
    if not text.strip():
        raise ValueError("schedule must hold at least one phase, like '20 A+ | 20 AB+'; got ''")
    phases = []
    for i, part in enumerate(text.split("|")):
        name, _, body = part.rpartition(":")
        tokens = body.split()
        if not tokens:
            raise ValueError(
                f"schedule phase {i + 1} must hold trials (like '20 A+ AX-'), got {part!r}"
                f" in {text!r}"
            )
        repeats = 1
        if re.fullmatch(r"[+-]?\d+", tokens[0]):
            repeats = int(tokens[0])
            tokens = tokens[1:]
        if repeats < 1:
            raise ValueError(
                f"repeats must be a positive integer, got {repeats} in phase {i + 1} of {text!r}"
            )
        try:
            phases.append(Phase(tuple(tokens), repeats, name))
        except ValueError as error:
            raise ValueError(f"{error} (schedule phase {i + 1} of {text!r})") from None
    return _check_length(tuple(phases))


def format_schedule(schedule: Schedule | Phase | Sequence[Phase] | str) -> str:
    """Write a schedule in its canonical text form (lesson 05).

    ``format_schedule(parse_schedule("20 A+|AB+"))`` is ``"20 A+ | 1 AB+"``.
    """
    return " | ".join(str(p) for p in as_schedule(schedule))


def _check_length(schedule: Schedule) -> Schedule:
    n = sum(p.n_trials for p in schedule)
    if n > MAX_TRIALS:
        raise ValueError(f"schedule must have at most {MAX_TRIALS} trials, got {n}")
    return schedule


def as_schedule(schedule: Any, name: str = "schedule") -> Schedule:
    """A schedule from its text, one ``Phase``, or a sequence of phases (lesson 05)."""
    name = check_text("name", name)
    if isinstance(schedule, str):
        if name == "schedule":
            return parse_schedule(schedule)
        try:
            return parse_schedule(schedule)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{name}: {error}") from None
    if isinstance(schedule, Phase):
        return (schedule,)
    if isinstance(schedule, Sequence) and all(isinstance(p, Phase) for p in schedule):
        if not schedule:
            raise ValueError(f"{name} must hold at least one phase, got none")
        return _check_length(tuple(schedule))
    raise TypeError(
        f"{name} must be a schedule string like '20 A+ | 20 AB+', a Phase or a sequence of"
        f" Phase, got {_show(schedule)}"
    )


def expand_schedule(schedule: Schedule | Phase | Sequence[Phase] | str) -> tuple[Trial, ...]:
    """Every trial of a schedule, in the order presented (lesson 05)."""
    return tuple(t for p in as_schedule(schedule) for _ in range(p.repeats) for t in p.trials)


def _schedule_stimuli(schedule: Schedule) -> list[str]:
    return sorted({s for p in schedule for t in p.trials for s in t.stimuli})


# ---------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------


def _check_beta(beta: Any) -> float:
    # β = 0 would learn nothing at all, so the interval is open at 0.
    return check_real("beta", beta, low=0.0, high=1.0, low_open=True)


def _check_lam(lam: Any) -> float:
    return check_real("lam", lam)


def _check_saliences(saliences: Any) -> dict[str, float]:
    if not isinstance(saliences, Mapping):
        raise TypeError(
            f"saliences must be a dict from stimulus name to α in (0, 1], like"
            f" {{'A': 0.5, 'B': 0.5}}, or one number for every stimulus, got {_show(saliences)}"
        )
    if not saliences:
        raise ValueError("saliences must name at least one stimulus, got {}")
    return {
        _stimulus_name("saliences key", k): check_real(
            f"saliences[{k!r}]", a, low=0.0, high=1.0, low_open=True
        )
        for k, a in saliences.items()
    }


def _check_known(schedule: Schedule, saliences: Mapping[str, float], name: str) -> None:
    unknown = [s for s in _schedule_stimuli(schedule) if s not in saliences]
    if unknown:
        raise ValueError(
            f"{name} presents stimulus {unknown[0]!r}, which saliences does not name;"
            f" allowed stimuli are {tuple(saliences)} (add {unknown[0]!r} to saliences)"
        )


# ---------------------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Experiment:
    """A named conditioning design: its groups, default parameters, and what it shows.

    ``groups`` maps a group name (``"experimental"``, ``"control"``) to its schedule,
    given as text or phases and stored as phases. ``focus`` is the stimulus the claim is
    about. Build your own and pass it to ``run`` (lesson 05).
    """

    name: str
    claim: str
    groups: dict[str, Schedule]
    saliences: dict[str, float]
    beta: float = DEFAULT_BETA
    lam: float = DEFAULT_LAM
    focus: str = "A"

    def __post_init__(self) -> None:
        check_text("name", self.name)
        check_text("claim", self.claim, empty=True)
        if not isinstance(self.groups, Mapping) or not self.groups:
            raise ValueError(f"groups must map group names to schedules, got {_show(self.groups)}")
        groups = {str(g): as_schedule(s, f"groups[{g!r}]") for g, s in self.groups.items()}
        saliences = _check_saliences(self.saliences)
        for g, schedule in groups.items():
            _check_known(schedule, saliences, f"groups[{g!r}]")
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "saliences", saliences)
        object.__setattr__(self, "beta", _check_beta(self.beta))
        object.__setattr__(self, "lam", _check_lam(self.lam))
        if self.focus not in saliences:
            raise ValueError(
                f"focus must be one of the stimuli {tuple(saliences)}, got {self.focus!r}"
            )

    @property
    def schedules(self) -> dict[str, str]:
        """Each group's schedule in text form (lesson 05)."""
        return {g: format_schedule(s) for g, s in self.groups.items()}


def _experiment(name, claim, groups, saliences, beta, focus):
    return Experiment(name, claim, groups, saliences, beta, DEFAULT_LAM, focus)


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        _experiment(
            "acquisition",
            "Repeated A+ trials raise V_A towards λ, fast at first, then slower as the"
            " prediction error shrinks.",
            {"experimental": "acquisition: 20 A+"},
            {"A": 0.5},
            0.4,
            "A",
        ),
        _experiment(
            "extinction",
            "After acquisition, A- trials (no US) drive V_A back towards 0.",
            {"experimental": "acquisition: 20 A+ | extinction: 20 A-"},
            {"A": 0.5},
            0.4,
            "A",
        ),
        _experiment(
            "blocking",
            "A pretrained to predict the US blocks B: with no prediction error left on AB+"
            " trials, B learns almost nothing, while the control group learns B.",
            {
                "experimental": "pretraining: 20 A+ | compound: 20 AB+",
                "control": "compound: 20 AB+",
            },
            {"A": 0.5, "B": 0.5},
            0.4,
            "B",
        ),
        _experiment(
            "overshadowing",
            "Trained together, the more salient A takes the larger share of λ"
            " (α_A/(α_A+α_B)) and overshadows B, which alone (control) would learn far more.",
            {"experimental": "compound: 20 AB+", "control": "alone: 20 B+"},
            {"A": 0.8, "B": 0.2},
            0.4,
            "B",
        ),
        _experiment(
            "conditioned_inhibition",
            "A+ trials interleaved with AX- trials make X a conditioned inhibitor: V_X → −λ,"
            " cancelling A's prediction.",
            {"experimental": "interleaved: 100 A+ AX-"},
            {"A": 0.5, "X": 0.5},
            0.4,
            "X",
        ),
        _experiment(
            "overexpectation",
            "A and B, each trained to predict λ alone, predict 2λ together; AB+ trials then"
            " lower both V_A and V_B although every trial is reinforced.",
            {"experimental": "separate: 20 A+ B+ | compound: 20 AB+"},
            {"A": 0.5, "B": 0.5},
            0.4,
            "A",
        ),
    )
}


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ConditioningResult:
    """Associative strengths over one schedule (lesson 05).

    Attributes:
        rule: ``"rescorla_wagner"``, ``"delta"`` or ``"hebbian"``.
        stimuli: stimulus names, the columns of ``strengths`` (the saliences' order).
        strengths: ``(n_trials + 1, n_stimuli)``; row 0 is before any trial, row t after
            trial t.
        errors: ``(n_trials,)`` prediction error λ_t − Σ_{present} V before each trial
            (computed for the Hebbian memory too, which does not use it).
        us: ``(n_trials,)`` the US magnitude of each trial (λ or 0).
        presence: ``(n_trials, n_stimuli)`` 1.0 where the stimulus is present.
        trials: every trial, in order.
        schedule: the phases; ``phase_starts[i]`` is the index of phase i's first trial,
            and ``phase_starts[-1] == n_trials``.
        memory: ``(n_trials + 1, n_stimuli)`` the memory ``S`` (``1 × d_k``) after each
            trial for the memory rules, ``None`` for ``rescorla_wagner``.
        saliences, beta, lam: the parameters used.
    """

    rule: str
    stimuli: tuple[str, ...]
    strengths: np.ndarray = field(repr=False)
    errors: np.ndarray = field(repr=False)
    us: np.ndarray = field(repr=False)
    presence: np.ndarray = field(repr=False)
    trials: tuple[Trial, ...] = field(repr=False)
    schedule: Schedule = field(repr=False)
    phase_starts: tuple[int, ...] = field(repr=False)
    saliences: dict[str, float] = field(repr=False)
    beta: float = field(repr=False)
    lam: float = field(repr=False)
    memory: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_trials(self) -> int:
        """Number of trials run (lesson 05)."""
        return len(self.trials)

    def strength(self, stimulus: str) -> np.ndarray:
        """V of one stimulus before and after each trial, ``(n_trials + 1,)`` (lesson 05)."""
        stimulus = check_choice("stimulus", stimulus, self.stimuli)
        return self.strengths[:, self.stimuli.index(stimulus)]

    def final(self, decimals: int | None = None) -> dict[str, float]:
        """V of each stimulus after the last trial, rounded to ``decimals`` if given (lesson 05)."""
        return self.at(self.n_trials, decimals)

    def at(self, trial: int, decimals: int | None = None) -> dict[str, float]:
        """V of each stimulus after ``trial`` trials, 0 = before any (lesson 05)."""
        trial = check_int("trial", trial, low=0, high=self.n_trials)
        row = self.strengths[trial]
        if decimals is not None:
            decimals = check_int("decimals", decimals, low=0, high=15)
            row = np.round(row, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
        return {s: float(v) for s, v in zip(self.stimuli, row, strict=True)}

    def phase_end(self, phase: int) -> dict[str, float]:
        """V of each stimulus at the end of phase ``phase``, 0-based (lesson 05)."""
        phase = check_int("phase", phase, low=0, high=len(self.schedule) - 1)
        return self.at(self.phase_starts[phase + 1])

    def __repr__(self) -> str:
        return (
            f"ConditioningResult(rule={self.rule!r}, schedule={format_schedule(self.schedule)!r},"
            f" final={self.final(3)})"
        )


@dataclass(frozen=True, eq=False)
class ExperimentResult:
    """One named experiment run under one rule: a ``ConditioningResult`` per group (lesson 05)."""

    experiment: Experiment
    rule: str
    groups: dict[str, ConditioningResult]

    def __getitem__(self, group: str) -> ConditioningResult:
        return self.groups[check_choice("group", group, tuple(self.groups))]

    def final(self, decimals: int | None = None) -> dict[str, dict[str, float]]:
        """Each group's final V per stimulus (lesson 05)."""
        return {g: r.final(decimals) for g, r in self.groups.items()}

    def __repr__(self) -> str:
        return (
            f"ExperimentResult(experiment={self.experiment.name!r}, rule={self.rule!r},"
            f" final={self.final(3)})"
        )


def largest_rate(result: ConditioningResult | ExperimentResult) -> float:
    """The largest β Σ_present α of a run's trials (of every group's, for an experiment):
    at ``DIVERGENT_RATE`` (2) or more the delta rule diverges (lesson 05).

    Repeating one compound multiplies the prediction error by 1 − β Σ_present α per trial,
    so this is the stability check of the module's **Stability** paragraph: below 1 the
    error shrinks monotonically, between 1 and 2 it oscillates and still converges.
    """
    if isinstance(result, ExperimentResult):
        return max(largest_rate(group) for group in result.groups.values())
    if not isinstance(result, ConditioningResult):
        raise TypeError(
            "result must be a ConditioningResult or an ExperimentResult (what run returns),"
            f" got {_show(result)}"
        )
    alpha = np.array([result.saliences[s] for s in result.stimuli])
    return float(result.beta * (result.presence @ alpha).max(initial=0.0))


# ---------------------------------------------------------------------------------------
# The learning rules
# ---------------------------------------------------------------------------------------


def _rescorla_wagner(presence, us, alpha, beta):
    """ΔV = α β (λ − Σ_present V) x, one trial at a time."""
    n_trials, n_stim = presence.shape
    strengths = np.zeros((n_trials + 1, n_stim))  # (T + 1, n)
    errors = np.empty(n_trials)
    rate = beta * alpha  # (n,)
    v = np.zeros(n_stim)
    for t in range(n_trials):
        x = presence[t]  # (n,)
        error = us[t] - v @ x
        v = v + rate * x * error
        errors[t] = error
        strengths[t + 1] = v
    return strengths, errors, None


def _memory_run(presence, us, alpha, beta, rule):
    """Run the trials through a 1 × n memory: keys diag(√α) x, value λ; read V_X = S k_X."""
    n_trials, n_stim = presence.shape
    scale = np.sqrt(alpha)  # k_X = √α_X e_X
    keys = presence * scale  # (T, n): a compound's key is the sum of its stimuli's keys
    state = np.zeros((1, n_stim))  # (d_v = 1, d_k = n)
    memory = np.zeros((n_trials + 1, n_stim))
    errors = np.empty(n_trials)
    for t in range(n_trials):
        value = us[t : t + 1]  # (1,)
        errors[t] = us[t] - (state @ keys[t])[0]
        # hebbian: S + β v kᵀ (linear attention); delta: S + β (v − S k) kᵀ (DeltaNet)
        state = write_unchecked(state, keys[t], value, rule, beta, 1.0)  # (d_v, d_k)
        memory[t + 1] = state[0]
    strengths = memory * scale  # V_X = S k_X = √α_X S_X, the read-out for X alone
    return strengths, errors, memory


_RUNNERS = {
    "rescorla_wagner": _rescorla_wagner,
    "delta": lambda p, u, a, b: _memory_run(p, u, a, b, "delta"),
    "hebbian": lambda p, u, a, b: _memory_run(p, u, a, b, "hebbian"),
}


def _run_schedule(schedule, rule, saliences, beta, lam, name) -> ConditioningResult:
    _check_known(schedule, saliences, name)
    stimuli = tuple(saliences)
    trials = expand_schedule(schedule)
    column = {s: i for i, s in enumerate(stimuli)}
    presence = np.zeros((len(trials), len(stimuli)))
    for t, trial in enumerate(trials):
        presence[t, [column[s] for s in trial.stimuli]] = 1.0
    us = np.array([lam if trial.us else 0.0 for trial in trials])
    alpha = np.array([saliences[s] for s in stimuli])
    with np.errstate(over="ignore", invalid="ignore"):
        strengths, errors, memory = _RUNNERS[rule](presence, us, alpha, beta)
    finite_result(f"the strengths V of {name}", strengths, hint=_DIVERGES)
    starts = np.cumsum([0] + [p.n_trials for p in schedule])
    return ConditioningResult(
        rule=rule,
        stimuli=stimuli,
        strengths=strengths,
        errors=errors,
        us=us,
        presence=presence,
        trials=trials,
        schedule=schedule,
        phase_starts=tuple(int(s) for s in starts),
        saliences=dict(saliences),
        beta=beta,
        lam=lam,
        memory=memory,
    )


_DIVERGES = (
    "a compound with β Σ α >= 2 (DIVERGENT_RATE) makes the delta rule diverge, and a huge λ "
    "overflows; use smaller saliences, beta or lam"
)


def _looks_like_name(text: str) -> bool:
    return re.fullmatch(r"\s*[a-z_][a-z0-9_ ]*\s*", text) is not None


def run(
    schedule_or_experiment: str | Experiment | Phase | Sequence[Phase],
    *,
    rule: str = "rescorla_wagner",
    saliences: Mapping[str, float] | float | None = None,
    beta: float | None = None,
    lam: float | None = None,
) -> ConditioningResult | ExperimentResult:
    """Run a schedule or a named experiment under one learning rule (lesson 05).

    Args:
        schedule_or_experiment: a name in ``EXPERIMENTS`` (``"blocking"``), an
            ``Experiment``, a schedule string (``"20 A+ | 20 AB+"``), a ``Phase`` or a
            sequence of phases.
        rule: ``"rescorla_wagner"`` (the classical model), ``"delta"`` (a DeltaNet memory,
            equal to RW trial by trial) or ``"hebbian"`` (a linear-attention memory).
        saliences: α per stimulus, each in (0, 1]; or one number for every stimulus. For
            an experiment these override its defaults stimulus by stimulus; for a bare
            schedule every presented stimulus must be named (``None``: α =
            ``DEFAULT_SALIENCE`` for each). The result's columns follow this order.
        beta: the US learning rate β in (0, 1] (``None``: the experiment's, or
            ``DEFAULT_BETA``).
        lam: the US magnitude λ on US trials, any finite number (``None``: 1.0).

    Returns:
        A ``ConditioningResult`` for a schedule; an ``ExperimentResult`` (one
        ``ConditioningResult`` per group) for an experiment.
    """
    rule = check_choice("rule", rule, RULES)
    target = schedule_or_experiment
    if isinstance(target, str) and _looks_like_name(target):
        target = EXPERIMENTS.get(target.strip(), target)
        if isinstance(target, str):
            raise ValueError(
                f"schedule_or_experiment must be one of the experiments {tuple(EXPERIMENTS)}"
                f" or a schedule like '20 A+ | 20 AB+', got {schedule_or_experiment!r}"
            )
    if isinstance(target, Experiment):
        merged: dict[str, Any] = dict(target.saliences)
        if isinstance(saliences, Mapping):
            merged.update(saliences)
        elif saliences is not None:
            merged = dict.fromkeys(merged, saliences)
        merged = _check_saliences(merged)
        beta = _check_beta(target.beta if beta is None else beta)
        lam = _check_lam(target.lam if lam is None else lam)
        groups = {
            g: _run_schedule(s, rule, merged, beta, lam, f"groups[{g!r}]")
            for g, s in target.groups.items()
        }
        return ExperimentResult(target, rule, groups)
    schedule = as_schedule(target, "schedule_or_experiment")
    if saliences is None or not isinstance(saliences, Mapping):
        alpha = DEFAULT_SALIENCE if saliences is None else saliences
        saliences = dict.fromkeys(_schedule_stimuli(schedule), alpha)
    saliences = _check_saliences(saliences)
    beta = _check_beta(DEFAULT_BETA if beta is None else beta)
    lam = _check_lam(DEFAULT_LAM if lam is None else lam)
    return _run_schedule(schedule, rule, saliences, beta, lam, "schedule_or_experiment")


# ---------------------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------------------


def compound_curve(
    n_trials: int,
    saliences: Mapping[str, float],
    beta: float,
    lam: float = DEFAULT_LAM,
    start: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Closed form of Rescorla–Wagner for one compound repeated ``n_trials`` times (lesson 05).

    Let ``P = Σ V`` over the compound and ``A = Σ α``. Summing the RW update over the
    compound gives ``ΔP = β A (λ − P)``, so ``λ − P_n = (λ − P_0)(1 − β A)^n``; each V_X
    takes the share ``α_X / A`` of every change of P, so

        V_X(n) = V_X(0) + (α_X / A) (λ − P_0) (1 − (1 − β A)^n)

    Acquisition, extinction, overshadowing, blocking's phase 2 and overexpectation's
    phase 2 are all this formula with different starts and λ.

    Args:
        n_trials: number of trials, ≥ 0.
        saliences: α of each stimulus of the compound, in (0, 1].
        beta: β in (0, 1].
        lam: λ of the trials (0 for no-US trials).
        start: V of each stimulus before the first trial (default 0).

    Returns:
        ``(n_trials + 1, n_stimuli)``, columns in the order of ``saliences``.
    """
    n_trials = check_int("n_trials", n_trials, low=0, high=MAX_TRIALS)
    saliences = _check_saliences(saliences)
    beta = _check_beta(beta)
    lam = _check_lam(lam)
    start = {} if start is None else start
    if not isinstance(start, Mapping):
        raise TypeError(f"start must be a dict from stimulus name to V, got {_show(start)}")
    for s in start:
        if s not in saliences:
            raise ValueError(f"start names {s!r}, which is not in saliences {tuple(saliences)}")
    alpha = np.array(list(saliences.values()))  # (n,)
    v0 = np.array([check_real(f"start[{s!r}]", start.get(s, 0.0)) for s in saliences])
    total = alpha.sum()
    n = np.arange(n_trials + 1)[:, None]  # (T + 1, 1)
    with np.errstate(over="ignore", invalid="ignore"):
        curve = v0 + (alpha / total) * (lam - v0.sum()) * (1.0 - (1.0 - beta * total) ** n)
    return finite_result("compound_curve", curve, hint=_DIVERGES)


def acquisition_curve(
    n_trials: int, *, alpha: float, beta: float, lam: float = DEFAULT_LAM
) -> np.ndarray:
    """``V_n = λ (1 − (1 − αβ)^n)`` for n = 0 .. n_trials of A+ (lesson 05).

    With αβ = 0.1 and λ = 1, V_10 = 0.651.
    """
    return compound_curve(n_trials, {"A": alpha}, beta, lam)[:, 0]


def extinction_curve(n_trials: int, *, v0: float, alpha: float, beta: float) -> np.ndarray:
    """``V_n = V_0 (1 − αβ)^n`` for n = 0 .. n_trials of A- (lesson 05)."""
    v0 = check_real("v0", v0)
    return compound_curve(n_trials, {"A": alpha}, beta, 0.0, start={"A": v0})[:, 0]


def overshadowing_curve(
    n_trials: int, *, alpha_a: float, alpha_b: float, beta: float, lam: float = DEFAULT_LAM
) -> np.ndarray:
    """V_A and V_B over AB+ trials from scratch, ``(n_trials + 1, 2)`` (lesson 05).

    ``V_X(n) = [α_X / (α_A + α_B)] λ (1 − (1 − β (α_A + α_B))^n)``: the more salient cue
    takes the larger share.
    """
    alpha_a = check_real("alpha_a", alpha_a, low=0.0, high=1.0, low_open=True)
    alpha_b = check_real("alpha_b", alpha_b, low=0.0, high=1.0, low_open=True)
    return compound_curve(n_trials, {"A": alpha_a, "B": alpha_b}, beta, lam)


def blocking_control_limit(alpha_a: float, alpha_b: float, lam: float = DEFAULT_LAM) -> float:
    """Where V_B ends in blocking's control group (AB+ only): ``λ α_B / (α_A + α_B)``.

    (lesson 05) Requires ``0 < β (α_A + α_B) < 2`` for the trials to converge.
    """
    alpha_a = check_real("alpha_a", alpha_a, low=0.0, high=1.0, low_open=True)
    alpha_b = check_real("alpha_b", alpha_b, low=0.0, high=1.0, low_open=True)
    return _check_lam(lam) * alpha_b / (alpha_a + alpha_b)


def conditioned_inhibition_limit(lam: float = DEFAULT_LAM) -> dict[str, float]:
    """The fixed point of interleaved A+ / AX− trials: ``V_A = λ``, ``V_X = −λ`` (lesson 05).

    A+ trials stop changing only when V_A = λ, AX− trials only when V_A + V_X = 0.
    """
    lam = _check_lam(lam)
    return {"A": lam, "X": -lam}
