"""Lesson 06's exercises: softmax attention, linear attention, SSMs and RNNs as one family.

Every answer is computed with ``attnviz.dsf`` (the Dynamical Systems Framework), the same
calls the lesson makes. Nothing is stored: change a parameter and the answer follows.
"""

from __future__ import annotations

import math

import torch

from attnviz import dsf
from attnviz.exercises.core import Solution, exercise
from attnviz.validation import check_int, check_real


@exercise(
    id="06-state-size",
    lesson="06",
    question="One layer, d = {d} channels. An S6 (Mamba) layer keeps n = {n} states per "
    "channel. How many numbers does its recurrent state h_i hold?",
    kind="integer",
    d=64,
    n=16,
)
def _state_size(d: int, n: int) -> Solution:
    d = check_int("d", d, low=1, high=1 << 16)
    n = check_int("n", n, low=1, high=1 << 12)
    answer = dsf.state_size("s6", d, n)
    u = torch.randn(3, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    built = dsf.random_system("s6", u, n=n)
    return Solution(
        hint=(
            f"Each of the {d} channels runs its own system with {n} states. How many numbers "
            "does the layer keep in all?"
        ),
        answer=answer,
        explanation=(
            f"Each of the {d} channels runs its own {n}-state system, h_i[c] ∈ R^{n}: "
            f"N = n·d = {n}·{d} = {answer}, and the DSF built from S6's weights agrees "
            f"(state_size = {built.state_size}). Linear attention with {n} features per "
            f"channel keeps the same N: a {d} x {n} matrix S. A qLSTM keeps one number per "
            f"channel ({dsf.state_size('qlstm', d)}), and softmax attention no fixed state "
            "at all: it keeps every key and value (N = ∞ in the DSF)."
        ),
        mistakes=(
            (n, f"{n} is the state per channel; there are {d} channels."),
            (d, f"{d} is one number per channel: a qLSTM, not S6 with n = {n}."),
            (d * d, "d·d would be a full d x d matrix; S6's state is n per channel."),
        ),
    )


_CHANGES = {
    "a": ("S6 gets a decay: A = −0.5 instead of 0", "transition"),
    "b": ("S6's step Δ differs from channel to channel", "delta_channels"),
    "c": ("both take a larger step: Δ = 2 everywhere, and W_v = 2·I", None),
    "d": ("linear attention divides each row by its normaliser η_i", "normalization"),
}


@exercise(
    id="06-same-phi",
    lesson="06",
    question="Linear attention and S6 have the same implicit attention matrix Φ when S6 "
    "has no decay (A = 0), one constant step Δ for every channel and token with W_v = Δ·I, "
    "linear attention is not normalised, and the feature maps are the identity. Which "
    "single change keeps their Φ equal?",
    kind="choice",
    choices={letter: text for letter, (text, _) in _CHANGES.items()},
)
def _same_phi() -> Solution:
    u = torch.rand(12, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 0.1
    gaps = {}
    for letter, (_, broken) in _CHANGES.items():
        delta = 2.0 if broken is None else 0.7
        attention, s6 = dsf.linear_attention_and_s6(u, 3, delta=delta, broken=broken)
        gaps[letter] = float((attention.phi_blocks() - s6.phi_blocks()).abs().max())
    equal = [letter for letter, gap in gaps.items() if gap < 1e-12]
    answer = equal[0]
    shown = ", ".join(f"({k}) {v:.2g}" for k, v in gaps.items())
    return Solution(
        hint=(
            "For each change, write what it does to Φ_ij of S6 (a product of Λ's times the "
            "step) and to Φ_ij of linear attention (q_iᵀ k_j, divided by η_i if normalised). "
            "A change keeps them equal only if it changes both the same way."
        ),
        answer=answer,
        explanation=(
            "Built with `dsf.linear_attention_and_s6`, the largest difference between the "
            f"two Φ after each change: {shown}. A larger constant step only rescales the "
            "values, in both models alike, so Φ stays equal. A decay makes S6 forget; "
            "different steps per channel give each channel its own input scale and its own "
            "forgetting; the normaliser divides each row of Φ by η_i. Each of these is "
            "something S6 or normalised attention can do and the other cannot."
        ),
        mistakes=(
            ("a", "With A ≠ 0, S6's Λ_i = exp(Δ A) < 1: it forgets, linear attention does not."),
            ("b", "Then S6 scales each channel's input differently, which W_v = Δ·I cannot."),
            ("d", "The normaliser divides row i by η_i, which S6 has no counterpart for."),
        ),
    )


@exercise(
    id="06-normalised-decay",
    lesson="06",
    question="Normalised linear attention (elu + 1 features, rows divided by η_i) written as "
    "a DSF has the transition Λ_i = (η_(i−1) / η_i)·I. On a random input of {seq_len} "
    "tokens, is every Λ_i in (0, 1], a decay like an SSM's?",
    kind="choice",
    choices={
        "a": "yes: η only grows, so Λ_i ≤ 1 at every step",
        "b": "no: some Λ_i are larger than 1",
        "c": "every Λ_i is exactly 1",
    },
    seq_len=64,
)
def _normalised_decay(seq_len: int) -> Solution:
    seq_len = check_int("seq_len", seq_len, low=2, high=4096)
    u = torch.randn(seq_len, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    system = dsf.random_system("linear_attention", u, n=8, normalize=True)
    lam = system.spectrum()[:, 0]  # Λ_i is a multiple of I: one value per step
    above = int((lam > 1 + 1e-12).sum())
    if above:
        answer = "b"
    elif bool(((lam - 1).abs() < 1e-12).all()):
        answer = "c"
    else:
        answer = "a"
    return Solution(
        hint=(
            "Λ_i = η_(i−1)/η_i is above 1 whenever η_i < η_(i−1). With η_i = φ(q_i)ᵀ Σ_(j≤i) "
            "φ(k_j), the sum only grows; is that enough for η_i to grow? Look at what else "
            "changes from one step to the next."
        ),
        answer=answer,
        explanation=(
            f"η_i = φ(q_i)ᵀ Σ_(j≤i) φ(k_j) uses the *current* query, so it need not grow: "
            f"on this input {above} of the {seq_len} steps have Λ_i > 1 (the largest is "
            f"{float(lam.max()):.3g}, the smallest {float(lam.min()):.3g}). The product "
            "Λ_(j+1)⋯Λ_i telescopes to η_j/η_i, so Φ still holds row-normalised weights; "
            "but normalisation is not forgetting. A gated model's Λ_i = σ(·) is a decay."
        ),
        mistakes=(
            ("a", "Σ φ(k_j) only grows, but η_i reads it with a new query every step."),
            ("c", "Λ_i = 1 is unnormalised linear attention, whose state only sums."),
        ),
    )


@exercise(
    id="06-forget-lag",
    lesson="06",
    question="A qLSTM channel whose forget gate stays at σ(f) = {keep} (Λ_i = {keep} "
    "every step). After how many steps has an input's weight in Φ fallen below {below}?",
    kind="integer",
    keep=0.9,
    below=0.1,
)
def _forget_lag(keep: float, below: float) -> Solution:
    keep = check_real("keep", keep, low=0.01, high=0.999)
    below = check_real("below", below, low=1e-6, high=0.999)
    T, d = 400, 1
    u = torch.ones(T, d, dtype=torch.float64)
    logit = math.log(keep / (1 - keep))
    zeros = torch.zeros(d, d, dtype=torch.float64)
    big = torch.full((d,), 40.0, dtype=torch.float64)  # input and output gates open: σ ≈ 1
    system = dsf.from_qlstm(u, zeros, zeros, zeros, logit, big, big)
    profile = system.decay_profile()  # (T,): the Λ-product over each lag
    answer = int(torch.nonzero(profile < below)[0, 0])
    return Solution(
        hint=(
            f"The input j steps back is weighted by {keep}^j. Find the first whole j with "
            f"{keep}^j < {below} (take logarithms)."
        ),
        answer=answer,
        explanation=(
            f"An input j steps back is weighted by Λ_(i-j+1)⋯Λ_i = {keep}^j. It falls below "
            f"{below} when j > ln {below} / ln {keep} = {math.log(below) / math.log(keep):.2f}: "
            f"after {answer} steps ({keep}^{answer} = {keep**answer:.4f}). The DSF's decay "
            f"profile of this qLSTM agrees. A gate of {keep} is a memory of about "
            f"1/(1 − {keep}) = {1 / (1 - keep):.0f} steps; unnormalised linear attention has "
            "Λ_i = 1 and never forgets."
        ),
        mistakes=(
            (
                round((1 - below) / (1 - keep)),
                "The weight is multiplied by the gate each step, not reduced by a fixed amount.",
            ),
            (math.floor(math.log(below) / math.log(keep)), "Round up: the first whole step."),
        ),
    )


_PLATEAU_CHOICES = {
    "a": "about 1: 64 numbers are plenty for 4 pairs",
    "b": "about 1/KV = 0.25: a value from this sequence, but rarely the right one",
    "c": "about 1/32 = 0.03: a guess among all the values of the vocabulary",
    "d": "about 0: it never answers with a value",
}


@exercise(
    id="06-mqar-plateau",
    lesson="06",
    question="In the MQAR sweep each sequence lists KV = 4 key-value pairs (values from 32 "
    "tokens), then asks for each key's value. A 2-layer qLSTM keeps 64 numbers of state per "
    "layer: one per channel, its gates computed from the current token. After training, "
    "its recall is",
    kind="choice",
    choices=_PLATEAU_CHOICES,
)
def _mqar_plateau() -> Solution:
    from attnviz.state_size import shipped

    result = shipped()
    setting = result.settings["per_setting"][0]
    kv, values = setting["num_kv_pairs"], setting["vocab"] // 2
    qlstm = result.accuracy("qlstm")
    levels = {"a": 1.0, "b": 1 / kv, "c": 1 / values, "d": 0.0}
    answer = min(levels, key=lambda letter: abs(levels[letter] - qlstm))
    linear_1 = result.accuracy("linear_attention", 1)
    enough = result.smallest_state("linear_attention", 0.9)
    return Solution(
        hint=(
            "The qLSTM's gates decide what to keep before any query arrives. What can it still "
            "learn about the answer without knowing which key will be asked, and what recall "
            "does that give?"
        ),
        answer=answer,
        explanation=(
            f"The shipped sweep's qLSTM recalls {qlstm:.3f} of the queries (3 seeds), about "
            f"1/{kv}: it learns that the answer is one of the {kv} values it has just read, "
            f"but 64 numbers written by gates that cannot depend on a later query cannot "
            f"say which. Linear attention with the same state (n = 1, 65 numbers) reaches "
            f"{linear_1:.3f}; it needs {enough} numbers for 0.9, while softmax attention "
            f"keeps all 2·L·d = {result.curve('attention')[0][0]} of its keys and values "
            f"and recalls {result.accuracy('attention'):.3f}."
        ),
        mistakes=(
            (
                "a",
                "Room for 4 pairs is not enough: the state must be written so that a "
                "later query can pick one pair out of it.",
            ),  # fmt: skip
            (
                "c",
                f"It does better than chance: {qlstm:.3f} is about 1/{kv}, the share of "
                f"the {kv} values in the context.",
            ),  # fmt: skip
        ),
    )
