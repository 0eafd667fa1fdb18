"""Lesson 05's exercises: one attention head as an associative (Pavlovian) memory.

Every answer is computed with ``attnviz.memory`` and ``attnviz.conditioning``, the same
calls the lesson makes: crosstalk measured on sampled keys, conditioning run trial by
trial. Nothing is stored: change a parameter and the answer follows.
"""

from __future__ import annotations

import math

import torch

from attnviz.conditioning import EXPERIMENTS, run
from attnviz.exercises.core import Solution, exercise
from attnviz.memory import AssociativeMemory, capacity_sweep
from attnviz.validation import check_int, check_real


@exercise(
    id="05-crosstalk",
    lesson="05",
    question="A Hebbian memory (linear attention, S = Σ v kᵀ) stores N = {n_items} "
    "associations whose keys are random unit vectors in d_k = {d_k} dimensions and whose "
    "values are unit vectors. Reading it with a stored key k_i returns v_i plus crosstalk "
    "from the other items. On average, what is the squared error ‖S k_i − v_i‖² (as a "
    "number; the value itself has size 1)?",
    kind="number",
    d_k=64,
    n_items=65,
)
def _crosstalk(d_k: int, n_items: int) -> Solution:
    d_k = check_int("d_k", d_k, low=1, high=1024)
    n_items = check_int("n_items", n_items, low=2, high=4096)
    predicted = (n_items - 1) / d_k
    trials = 400
    measured = capacity_sweep(d_k, n_items, trials=trials)
    mean, spread = float(measured.measured[0, 0]), float(measured.spread[0, 0])
    return Solution(
        hint=(
            "S k_i = v_i + Σ_(j≠i) (k_jᵀ k_i) v_j. For random unit keys in d_k dimensions, "
            "E[(k_jᵀ k_i)²] = 1/d_k. How many other items add such a term, and do their "
            "squared sizes add?"
        ),
        answer=round(predicted, 3),
        tolerance=max(0.1 * predicted, 0.02),
        explanation=(
            f"S k_i = v_i + Σ_(j≠i) (k_jᵀ k_i) v_j. Each of the {n_items - 1} other items "
            f"adds its value scaled by k_jᵀ k_i, and for random unit keys E[(k_jᵀ k_i)²] = "
            f"1/d_k. Independent values add in square: error ≈ (N − 1)/d_k = "
            f"{n_items - 1}/{d_k} = {predicted:.3f}. Sampled over {trials} memories: "
            f"{mean:.3f} (spread {spread:.3f}). With N ≈ d_k the crosstalk is as large as "
            "the signal: the signal-to-noise ratio d_k/(N − 1) has fallen to 1."
        ),
        mistakes=(
            (0.0, "Zero needs keys that do not overlap: orthonormal keys, at most d_k of them."),
            (
                round(1 / d_k, 3),
                "1/d_k is the crosstalk of one other item; there are N − 1 of them.",
            ),
        ),
    )


@exercise(
    id="05-blocking",
    lesson="05",
    question="Blocking: first {pretraining} trials of A+ (tone, then food), then {compound} "
    "trials of AB+ (tone and light together, then food). Afterwards, is B (the light alone) "
    "associated with food? Answer for a Hebbian memory (linear attention) and for a "
    "delta-rule memory (Rescorla–Wagner, DeltaNet).",
    kind="choice",
    choices={
        "a": "both memories learn B",
        "b": "the Hebbian memory learns B, the delta-rule memory hardly does",
        "c": "the delta-rule memory learns B, the Hebbian memory hardly does",
        "d": "neither learns B",
    },
    pretraining=20,
    compound=20,
)
def _blocking(pretraining: int, compound: int) -> Solution:
    pretraining = check_int("pretraining", pretraining, low=1, high=1000)
    compound = check_int("compound", compound, low=1, high=1000)
    design = EXPERIMENTS["blocking"]
    schedule = f"pretraining: {pretraining} A+ | compound: {compound} AB+"
    control = f"compound: {compound} AB+"
    b = {}
    for rule in ("hebbian", "delta"):
        for group, text in (("blocked", schedule), ("control", control)):
            result = run(text, rule=rule, saliences=design.saliences, beta=design.beta)
            b[rule, group] = float(result.final()["B"])
    learned = {rule: b[rule, "blocked"] > 0.5 * b[rule, "control"] for rule in ("hebbian", "delta")}
    answer = {(True, True): "a", (True, False): "b", (False, True): "c", (False, False): "d"}[
        learned["hebbian"], learned["delta"]
    ]
    return Solution(
        hint=(
            "The delta rule learns from the prediction error λ − Σ V; a Hebbian write adds "
            f"v kᵀ whatever the memory already predicts. After {pretraining} A+ trials, how "
            "much error is left on an AB+ trial for B to learn from, under each rule?"
        ),
        answer=answer,
        explanation=(
            "The delta rule learns from the prediction error λ − Σ V. After pretraining, A "
            f"alone predicts the food, so the AB+ trials hold almost no error and B gains "
            f"almost nothing: V_B = {b['delta', 'blocked']:.3f}, against "
            f"{b['delta', 'control']:.3f} in a control group given only the AB+ trials. "
            "That is blocking (Kamin 1969), the effect that made Rescorla and Wagner write "
            "their rule. The Hebbian memory adds v kᵀ on every trial whatever it already "
            f"predicts: V_B = {b['hebbian', 'blocked']:.3f} after pretraining and "
            f"{b['hebbian', 'control']:.3f} without it. Plain linear attention cannot show "
            "blocking; DeltaNet can."
        ),
        mistakes=(
            ("a", "The delta rule learns only from surprise; A has left none on AB+ trials."),
            ("c", "Backwards: the Hebbian rule has no prediction error, so nothing blocks it."),
            ("d", "The Hebbian memory writes on every AB+ trial, predicted or not."),
        ),
    )


@exercise(
    id="05-overwrite",
    lesson="05",
    question="A memory with d_k = {d_k} and orthonormal keys stores (k₁, v₁), then later "
    "(k₁, v₁′): the same key with a new value. Read it with k₁. What comes back from a "
    "Hebbian memory, and from a delta-rule memory with β = 1?",
    kind="choice",
    choices={
        "a": "Hebbian: v₁′; delta: v₁′",
        "b": "Hebbian: v₁ + v₁′; delta: v₁′",
        "c": "Hebbian: v₁ + v₁′; delta: v₁ + v₁′",
        "d": "Hebbian: (v₁ + v₁′)/2; delta: v₁",
    },
    d_k=8,
)
def _overwrite(d_k: int) -> Solution:
    d_k = check_int("d_k", d_k, low=2, high=512)
    keys = torch.eye(d_k, dtype=torch.float64)
    old, new = torch.zeros(d_k, dtype=torch.float64), torch.zeros(d_k, dtype=torch.float64)
    old[0], new[1] = 1.0, 1.0  # v₁ and v₁′: two orthogonal unit values
    pairs = torch.stack([keys[0], keys[1], keys[0]]), torch.stack([old, keys[1], new])
    reads = {}
    for rule in ("hebbian", "delta"):
        got = AssociativeMemory(d_k, d_k, rule, beta=1.0).write(*pairs).read(keys[0])
        reads[rule] = (round(float(got @ old), 6), round(float(got @ new), 6))  # v₁, v₁′ parts
    outcomes = {  # (Hebbian's read, delta's read) as (v₁, v₁′) components -> the choice
        ((1.0, 0.0), (0.0, 1.0)): "a",
        ((1.0, 1.0), (0.0, 1.0)): "b",
        ((1.0, 1.0), (1.0, 1.0)): "c",
        ((0.5, 0.5), (1.0, 0.0)): "d",
    }
    answer = outcomes[reads["hebbian"], reads["delta"]]
    (h_old, h_new), (d_old, d_new) = reads["hebbian"], reads["delta"]
    return Solution(
        hint=(
            "Write S after the three writes, rule by rule: a Hebbian write adds v kᵀ; a "
            "delta write first reads what the key predicts and adds β (v − prediction) kᵀ. "
            "Then read with k₁ (orthonormal keys: k₁ᵀ k₁ = 1, k₂ᵀ k₁ = 0)."
        ),
        answer=answer,
        explanation=(
            f"Hebbian: S = v₁k₁ᵀ + v₂k₂ᵀ + v₁′k₁ᵀ, so S k₁ = v₁ + v₁′ (measured: {h_old:.2f} "
            f"v₁ + {h_new:.2f} v₁′): the memory only adds. Delta rule: the third write "
            "first reads what k₁ predicts, v₁, and corrects it towards v₁′: "
            f"S ← S + β (v₁′ − v₁) k₁ᵀ, so with β = 1, S k₁ = {d_old:.2f} v₁ + "
            f"{d_new:.2f} v₁′. The delta rule overwrites; a Hebbian head can only pile up "
            "associations, which is why it needs forgetting (α) to stay useful."
        ),
        mistakes=(
            ("a", "A Hebbian write never removes anything: S += v kᵀ only adds."),
            ("c", "The delta rule subtracts what the key already predicted before it writes."),
            ("d", "Nothing averages here: writes add (Hebbian) or correct (delta)."),
        ),
    )


@exercise(
    id="05-forget-half",
    lesson="05",
    question="A Hebbian memory with forgetting, S ← α S + v kᵀ, with α = {alpha}. After how "
    "many further writes has an association's strength fallen below half of what it was "
    "when written?",
    kind="integer",
    alpha=0.9,
)
def _forget_half(alpha: float) -> Solution:
    alpha = check_real("alpha", alpha, low=0.01, high=0.999)
    d_k = 64
    keys = torch.eye(d_k, dtype=torch.float64)
    memory = AssociativeMemory(d_k, 1, "hebbian_forget", alpha=alpha)
    memory.write(keys[0], torch.ones(1, dtype=torch.float64))
    writes = 0
    while float(memory.read(keys[0])[0]) >= 0.5:
        writes += 1
        memory.write(keys[writes % (d_k - 1) + 1], torch.zeros(1, dtype=torch.float64))
    half_life = math.log(0.5) / math.log(alpha)
    return Solution(
        hint=(
            f"Each later write multiplies what is stored by α = {alpha:g}, so after n writes "
            "an association keeps α^n of its strength. Find the first whole n with α^n < 1/2 "
            "(take logarithms)."
        ),
        answer=writes,
        explanation=(
            f"Each write multiplies everything already stored by α = {alpha:g}, so after n "
            f"writes an association keeps α^n. α^n < 1/2 when n > ln ½ / ln α = "
            f"{half_life:.2f}: {writes} writes (α^{writes} = {alpha**writes:.3f}). "
            "The memory now favours the recent past, a half-life set by α: what gated "
            "linear attention, RetNet and Mamba-2 learn to tune."
        ),
        mistakes=(
            (
                round(0.5 / (1 - alpha)),
                "Forgetting multiplies: α^n, not a fixed 1 − α taken off per write.",
            ),
            (math.floor(half_life), "Round up: the first whole count past ln ½ / ln α."),
        ),
    )
