"""Lesson 02's exercises: reading attention maps.

Every answer is measured on the maps the lesson itself shows: a shipped model
(``attnviz.models.load_lesson_model``) reading the lesson's input, BOS followed
by random tokens repeated once (``attnviz.tasks.repeated_tokens``), captured
with ``attnviz.maps.capture`` and scored with the functions of ``attnviz.maps``.
"""

from __future__ import annotations

import math

import numpy as np

from attnviz import maps, models, tasks
from attnviz.exercises.core import Solution, exercise
from attnviz.validation import check_int, check_real

_LESSON_INPUT = "BOS, {seq_half} random tokens, then the same {seq_half} again"


def _lesson_maps(model: str, seq_half: int, vocab: int, seed: int) -> maps.AttentionMaps:
    """The lesson's input, BOS + r₁..r_n + r₁..r_n, read by a shipped model."""
    data = tasks.repeated_tokens(1, seq_half, vocab, seed)
    return maps.capture(models.load_lesson_model(model), data.input_ids[0])


def _uniform_causal(seq_len: int) -> np.ndarray:
    """(T, T) weights of a causal head that spreads each query evenly over what it sees."""
    visible = np.arange(1, seq_len + 1)[:, None]  # query t sees t + 1 keys
    return np.tril(np.ones((seq_len, seq_len))) / visible


@exercise(
    id="02-causal-row-keys",
    lesson="02",
    question="`{model}` reads the lesson's input (" + _LESSON_INPUT + "; "
    "`tasks.repeated_tokens(1, {seq_half}, {vocab}, seed={seed})`). Its attention is causal. "
    "In one head's map, how many keys get a nonzero weight in row {query}? "
    "(Rows and columns count from 0.)",
    kind="integer",
    model="induction_2l",
    seq_half=16,
    vocab=48,
    seed=0,
    query=10,
)
def _causal_row_keys(model: str, seq_half: int, vocab: int, seed: int, query: int) -> Solution:
    captured = _lesson_maps(model, seq_half, vocab, seed)
    seq_len = captured.seq_len
    query = check_int("query", query, low=0, high=seq_len - 1)
    rows = captured.weights[:, :, query, :]  # (L, H, T): row `query` of every head
    counts = (rows > 0).sum(axis=-1)  # (L, H)
    count = int(counts.max())
    n_heads = counts.size
    same = "every one" if counts.min() == counts.max() else "the most of any"
    hidden = seq_len - query - 1
    smallest = float(rows[..., : query + 1].min())
    return Solution(
        hint=(
            "A causal model lets query t look at keys 0, 1, …, t: itself and the past, never "
            f"the future. List them for row {query}, and mind that the count starts at 0."
        ),
        answer=count,
        explanation=(
            f"A causal model lets query t look only at keys 0, 1, …, t: itself and the past. "
            f"So row {query} has {query + 1} keys it can see and {hidden} future keys it cannot. "
            f"Measured on `{model}` ({captured.n_layers} layers × {captured.n_heads} heads, "
            f"{seq_len} tokens): row {query} holds {count} nonzero weights in {same} of its "
            f"{n_heads} heads (the smallest visible weight is {smallest:.1e}, small but not "
            f"0), the other {hidden} are exactly 0, and each row sums to "
            f"{float(rows.sum(axis=-1).mean()):.3f}. That is the lower triangle: the whole map "
            f"has T(T + 1)/2 = {seq_len * (seq_len + 1) // 2} nonzero weights out of "
            f"T² = {seq_len**2}."
        ),
        mistakes=(
            (
                query,
                "Rows count from 0, and a query sees itself too: row t sees keys 0, 1, …, t, "
                "which is t + 1 keys.",
            ),
            (
                seq_len,
                f"All {seq_len} keys would be visible in a bidirectional encoder such as BERT; "
                "a causal (GPT-style) model hides every key after the query.",
            ),
            (
                hidden,
                f"{hidden} is how many keys row {query} cannot see: the future, above the "
                "diagonal.",
            ),
        ),
    )


@exercise(
    id="02-first-row-entropy",
    lesson="02",
    question="What is the entropy, in nats, of the first row (query 0, the BOS token) of "
    "head L{layer}H{head} of `{model}` on the lesson's input (" + _LESSON_INPUT + ")?",
    kind="number",
    model="induction_2l",
    seq_half=16,
    vocab=48,
    seed=0,
    layer=1,
    head=0,
)
def _first_row_entropy(
    model: str, seq_half: int, vocab: int, seed: int, layer: int, head: int
) -> Solution:
    captured = _lesson_maps(model, seq_half, vocab, seed)
    weights = captured.head(layer, head)  # (T, T); checks layer and head
    per_query = maps.entropy(captured, per_query=True) + 0.0  # (L, H, T); + 0.0: no −0
    first = float(per_query[layer, head, 0])
    mean = float(per_query[layer, head].mean())
    seq_len = captured.seq_len
    uniform = math.log(seq_len)
    return Solution(
        hint=(
            "How many keys can the first query (the BOS token) see in a causal model? Then "
            "compute the entropy −Σ a ln a of a row that puts all its weight on one key."
        ),
        answer=first,
        tolerance=0.01,
        explanation=(
            "In a causal model query 0 can see one key only: itself. Its weights are one-hot, "
            f"weight {weights[0, 0]:.3f} on key 0, and the entropy −Σ a ln a of a one-hot row "
            f"is −1 · ln 1 = {first:.3f} nats: nothing is uncertain. The same holds in all "
            f"{captured.n_layers * captured.n_heads} heads (the largest row-0 entropy is "
            f"{float(per_query[..., 0].max()):.3f}). So row 0 tells you nothing about what a "
            "head does; `maps.entropy(..., normalize=True)` leaves such rows out of its mean. "
            f"Over all {seq_len} queries, L{layer}H{head}'s mean entropy is {mean:.3f} nats; "
            f"uniform weights over all {seq_len} keys would have ln {seq_len} = {uniform:.3f}."
        ),
        mistakes=(
            (
                1.0,
                "1 is the weight query 0 gives key 0. Entropy measures how spread the weights "
                "are, and one certain outcome has none: −1 · ln 1 = 0.",
            ),
            (
                uniform,
                f"ln {seq_len} = {uniform:.3f} is the entropy of uniform weights over all "
                f"{seq_len} keys; query 0 sees only one key.",
            ),
            (mean, f"{mean:.3f} is the head's mean entropy over all its queries, not row 0's."),
        ),
    )


@exercise(
    id="02-uniform-sink",
    lesson="02",
    question="A causal head attends uniformly to everything it can see: over T = {seq_len} "
    "tokens, query t gives each of its t + 1 keys the weight 1/(t + 1). What is its "
    "first-token sink score α₁, the mean weight on the first token over the queries "
    "(Gu et al.)? Give 3 decimals.",
    kind="number",
    seq_len=64,
    eps=0.3,
)
def _uniform_sink(seq_len: int, eps: float) -> Solution:
    seq_len = check_int("seq_len", seq_len, low=1)
    eps = check_real("eps", eps, low=0, high=1)
    alpha = float(maps.sink_score(_uniform_causal(seq_len))[0, 0])
    harmonic = float(np.sum(1.0 / np.arange(1, seq_len + 1)))  # H_T
    # the longest input on which a uniform head still counts as a sink: H_t / t falls with t
    ts = np.arange(1, 100_001)
    above = np.cumsum(1.0 / ts) / ts > eps
    longest = int(ts[above].max()) if above.any() else 0
    return Solution(
        hint=(
            "Query t gives the first token 1/(t + 1). Average that over the T = "
            f"{seq_len} queries: (1/T) Σ_t 1/(t + 1). The sum is a harmonic number; "
            "`np.sum(1 / np.arange(1, T + 1))` computes it."
        ),
        answer=alpha,
        tolerance=0.002,
        explanation=(
            "Query t gives the first token 1/(t + 1), so averaged over the T queries "
            f"α₁ = (1/T) Σ_t 1/(t + 1) = H_T / T, the T-th harmonic number over T. For "
            f"T = {seq_len}: H_{seq_len} = {harmonic:.3f}, so α₁ = {harmonic / seq_len:.4f} "
            f"(`maps.sink_score` on the uniform map: {alpha:.4f}). H_T grows like ln T + 0.577, "
            "so a uniform head's α₁ falls like ln T / T. Gu et al. call a head a sink when "
            f"α₁ > ε = {eps:g}, {eps / alpha:.1f} times the uniform value here; a uniform head "
            f"clears that bar only on inputs of at most {longest} tokens, which is one reason "
            "they compare models at a fixed T = 64."
        ),
        mistakes=(
            (
                1 / seq_len,
                f"1/{seq_len} = {1 / seq_len:.4f} is what the last query gives the first token; "
                "earlier queries see fewer keys and give it more (query 0 gives it everything).",
            ),
            (
                eps,
                f"{eps:g} is Gu et al.'s threshold ε for calling a head a sink, not the score "
                "of a uniform head.",
            ),
            (1.0, "α₁ = 1 is a head that puts all its weight on the first token: a pure sink."),
        ),
    )


@exercise(
    id="02-induction-circuit",
    lesson="02",
    question="An induction circuit (Olsson et al. 2022) needs a previous-token head and an "
    "induction head. Where are they in `{model}`, on the lesson's input (" + _LESSON_INPUT + ")?",
    kind="choice",
    choices={
        "a": "the previous-token heads in layer 0, the induction heads in layer 1",
        "b": "the induction heads in layer 0, the previous-token heads in layer 1",
        "c": "both jobs in layer 0; layer 1 has none",
        "d": "both jobs in layer 1; layer 0 has none",
    },
    model="induction_2l",
    control="induction_1l",
    seq_half=16,
    vocab=48,
    seed=0,
)
def _induction_circuit(model: str, control: str, seq_half: int, vocab: int, seed: int) -> Solution:
    captured = _lesson_maps(model, seq_half, vocab, seed)
    if captured.n_layers != 2:
        raise ValueError(f"model must have 2 layers, got {model!r} with {captured.n_layers}")
    previous = maps.previous_token_score(captured)  # (L, H)
    induction = maps.induction_score(captured)  # (L, H)
    prev_layer, prev_head = np.unravel_index(int(previous.argmax()), previous.shape)
    ind_layer, ind_head = np.unravel_index(int(induction.argmax()), induction.shape)
    if prev_layer < ind_layer:
        answer = "a"
    elif prev_layer > ind_layer:
        answer = "b"
    else:
        answer = "c" if prev_layer == 0 else "d"
    table = "; ".join(
        f"L{layer}H{head} {previous[layer, head]:.3f} / {induction[layer, head]:.3f}"
        for layer in range(captured.n_layers)
        for head in range(captured.n_heads)
    )
    one_layer = maps.induction_score(_lesson_maps(control, seq_half, vocab, seed))
    return Solution(
        hint=(
            "At the second copy of a token, an induction head looks for the key whose "
            "*previous* token equals its own. Which head writes 'my previous token' into a "
            "key, and must it run before or after the head that reads it? In the lesson's "
            "maps, a previous-token head is a diagonal just below the main one."
        ),
        answer=answer,
        explanation=(
            f"Scores of `{model}` (previous-token / induction, the share of each head's "
            f"attention on the expected keys): {table}. The best previous-token head is "
            f"L{prev_layer}H{prev_head}, the best induction head L{ind_layer}H{ind_head}. The "
            "order is forced: an induction head at the second copy of a token looks for the key "
            "whose *previous* token equals its own token, and a key learns its previous token "
            "only from a previous-token head in an earlier layer (K-composition). The 1-layer "
            f"control `{control}`, trained on the same data, has no earlier layer: its best "
            f"induction score is {float(one_layer.max()):.3f}."
        ),
        mistakes=(
            (
                "b",
                "The order matters: an induction head's keys must already carry 'the token "
                "before me', which a previous-token head in an earlier layer writes there.",
            ),
            (
                "c",
                "One layer cannot do both: in layer 0 a key knows only its own token and "
                "position, not the token before it, so no layer-0 head can match on it.",
            ),
            (
                "d",
                "Layer 1's keys must already know their previous token; someone in layer 0 has "
                "to write it there. Look at the diagonal just below the main one in layer 0.",
            ),
        ),
    )
