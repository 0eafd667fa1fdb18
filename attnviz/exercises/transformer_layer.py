"""Lesson 01b's exercises: from one head to a transformer layer.

Every answer is computed from the course's trained models (``attnviz.lesson_models``)
with ``attnviz.transformer_layer``, the code the lesson and its dashboard run.
"""

from __future__ import annotations

from functools import lru_cache

from attnviz.exercises.core import Solution, exercise
from attnviz.lesson_models import load_lesson_model
from attnviz.models import TinyTransformer
from attnviz.transformer_layer import LESSON_TOKENS as TOKENS
from attnviz.transformer_layer import layer_walkthrough, position_scores, shift_change
from attnviz.validation import check_choice, check_int

#: the two lesson models that differ only in how they know positions
MODELS = {"learned": "induction_2l", "rope": "induction_rope"}

#: A nudge per exercise, shown after a wrong first try (``Solution.hint``); none of them
#: states the answer.
HINTS = {
    "01b-head-width": "split_heads only reshapes: it cuts each row of d_model numbers into "
    "n_heads equal pieces, one per head. How long is one piece?",
    "01b-causal-keys": "The causal mask lets a query see its own position and every earlier "
    "one. Positions count from 0: list the keys query t may see.",
    "01b-shift-weights": "A learned position embedding p_t is added to the token's vector "
    "before W_Q and W_K; RoPE rotates q and k after them, by an angle proportional to the "
    "position. What does a score depend on in each case when every position grows by the "
    "same amount?",
    "01b-rope-score": "Both positions grow by the same amount. Under RoPE the score q_m·k_n "
    "depends on the positions only through one number made of m and n: which one, and does "
    "it change here?",
    "01b-residual-terms": "The layer adds to the residual stream; it never replaces it. Count "
    "what gets added at one position: the stream that came in, and each head's write.",
}


@lru_cache(maxsize=2)
def _model(positional: str) -> TinyTransformer:
    return load_lesson_model(MODELS[check_choice("positional", positional, tuple(MODELS))])


@exercise(
    id="01b-head-width",
    lesson="01b",
    question="The lesson model with learned positions has d_model = 64 and 2 heads. After "
    "`split_heads`, q has the shape (B, H, T, d_head). What is d_head?",
    kind="integer",
    positional="learned",
)
def _head_width(positional: str) -> Solution:
    model = _model(positional)
    walk = layer_walkthrough(model, TOKENS)
    d_model, n_heads = model.config.d_model, walk.n_heads
    return Solution(
        hint=HINTS["01b-head-width"],
        answer=walk.d_head,
        explanation=(
            f"`split_heads` reshapes q from (B, T, d_model) = (1, {len(TOKENS)}, {d_model}) to "
            f"(B, T, H, d_head) and swaps T and H: (1, {n_heads}, {len(TOKENS)}, "
            f"{walk.d_head}). Each head gets its own {walk.d_head} of the {d_model} columns "
            f"of Q = LN(X) W_Q, so d_head = d_model / H = {d_model} / {n_heads} = "
            f"{walk.d_head}. The heads add no parameters: W_Q stays one "
            f"{walk.w_q.shape[0]} x {walk.w_q.shape[1]} matrix, cut into {n_heads} blocks of "
            "columns."
        ),
        mistakes=(
            (d_model, f"{d_model} is d_model, the width of the whole residual stream."),
            (n_heads, f"{n_heads} is the number of heads H, the second dimension."),
            (2 * d_model, "The heads share the d_model columns; they do not each get all of them."),
        ),
    )


@exercise(
    id="01b-causal-keys",
    lesson="01b",
    question="With the causal mask, the query at position t = {t} of the {n_tokens}-token "
    "sequence (positions count from 0) gets weight on how many keys at most?",
    kind="integer",
    t=4,
    n_tokens=len(TOKENS),
)
def _causal_keys(t: int, n_tokens: int) -> Solution:
    n_tokens = check_int("n_tokens", n_tokens, low=1, high=len(TOKENS))
    t = check_int("t", t, low=0, high=n_tokens - 1)
    walk = layer_walkthrough(_model("learned"), TOKENS[:n_tokens])
    row = walk.weights[:, t]  # (H, T): query t's weights in every head
    seen = int((row > 0).sum(axis=1).max())
    future = float(row[:, t + 1 :].sum()) if t + 1 < n_tokens else 0.0
    return Solution(
        hint=HINTS["01b-causal-keys"],
        answer=seen,
        explanation=(
            f"Before the softmax, every score of a key after the query is set to −∞, and "
            f"exp(−∞) = 0. Query {t} keeps the keys at positions 0 … {t}: {t + 1} of them, "
            f"itself included. In the trained model, query {t}'s weights on later keys add up "
            f"to {future:g} in every head, and its largest weight sits on position "
            f"{int(row[0].argmax())} in head 0. This is what lets the model be trained to "
            "predict every next token of a sequence at once: no position can read the "
            "answer it must predict."
        ),
        mistakes=(
            (t, f"{t} keys leave out the query's own position: it may attend to itself."),
            (n_tokens, f"{n_tokens} is every token: that is attention without the mask."),
            (n_tokens - t, "That counts the keys from t onwards: the mask hides the future."),
        ),
    )


@exercise(
    id="01b-shift-weights",
    lesson="01b",
    question="Put the same {n_tokens} tokens {offset} positions later (positions {offset}, "
    "{offset} + 1, ...). In which lesson model do the first layer's attention weights stay "
    "the same?",
    kind="choice",
    choices={
        "a": "the model with learned absolute positions",
        "b": "the model with RoPE",
        "c": "both: the tokens are the same",
        "d": "neither: every position changed",
    },
    offset=9,
    n_tokens=len(TOKENS),
)
def _shift_weights(offset: int, n_tokens: int) -> Solution:
    n_tokens = check_int("n_tokens", n_tokens, low=1, high=len(TOKENS))
    offset = check_int("offset", offset, low=1, high=_model("learned").config.context - n_tokens)
    change = {
        positional: shift_change(_model(positional), TOKENS[:n_tokens], offset=offset)
        for positional in MODELS
    }
    same = {name for name, gap in change.items() if gap < 1e-4}
    answer = {frozenset(): "d", frozenset({"learned"}): "a", frozenset({"rope"}): "b"}.get(
        frozenset(same), "c"
    )
    return Solution(
        hint=HINTS["01b-shift-weights"],
        answer=answer,
        explanation=(
            f"Largest change of a weight when the tokens move {offset} positions: "
            f"{change['learned']:.3f} with learned positions, {change['rope']:.1e} with RoPE "
            "(rounding). A learned embedding p_t is added to the token before W_Q and W_K, so "
            "new positions give new q and k. RoPE turns each pair of coordinates i of q_m by "
            "m·θ_i and of k_n by n·θ_i after the projections; the score depends on the "
            "difference of those angles, (m − n)·θ_i, which the shift leaves unchanged."
        ),
        mistakes=(
            ("a", "Learned positions are added to the tokens, so moved tokens get new q and k."),
            ("c", "The tokens are the same, but in one model their positions enter q and k."),
            ("d", "RoPE's scores depend on m − n only, and every m − n is unchanged."),
        ),
    )


@exercise(
    id="01b-rope-score",
    lesson="01b",
    question="In the RoPE model, head 0 of the first layer gives query token {query_token} "
    "at position 3 and key token {key_token} at position 1 the score S[3, 1] printed above. "
    "What score does it give the same two tokens at positions 3 + {shift} and 1 + {shift}? "
    "(A number to 2 decimals.)",
    kind="number",
    query_token=5,
    key_token=17,
    shift=10,
)
def _rope_score(query_token: int, key_token: int, shift: int) -> Solution:
    shift = check_int("shift", shift, low=0, high=_model("rope").config.context - 4)
    scores = position_scores(_model("rope"), query_token, key_token, n_positions=4 + shift)
    answer = float(scores[3 + shift, 1 + shift])
    return Solution(
        hint=HINTS["01b-rope-score"],
        answer=answer,
        tolerance=0.01,
        explanation=(
            f"S[3, 1] = {scores[3, 1]:.3f} and S[{3 + shift}, {1 + shift}] = {answer:.3f}: the "
            "same, because both pairs are 2 apart. RoPE turns each pair of coordinates i of q "
            "by 3·θ_i and of k by 1·θ_i; the dot product of two turned pairs depends only on "
            "the difference of their angles, (3 − 1)·θ_i, and a shift by 10 adds 10·θ_i to "
            f"both. The order matters: S[1, 3] = {scores[1, 3]:.3f} (key 2 positions "
            f"after the query) is another number."
        ),
        mistakes=(
            (float(scores[1, 3]), "That is S[1, 3]: the key 2 positions after the query."),
            (0.0, "The score does not fade with position; only the distance m − n enters."),
        ),
    )


@exercise(
    id="01b-residual-terms",
    lesson="01b",
    question="The lesson model's layers have 2 heads and no MLP. The output of a layer at one "
    "position is a sum of how many vectors of width d_model?",
    kind="integer",
    layer=1,
)
def _residual_terms(layer: int) -> Solution:
    walk = layer_walkthrough(_model("learned"), TOKENS, layer=layer)
    terms = 1 + walk.n_heads + int(walk.has_mlp)
    gap = walk.decomposition_gap
    return Solution(
        hint=HINTS["01b-residual-terms"],
        answer=terms,
        explanation=(
            f"output = x + write₀ + write₁: the residual stream x that came in, plus what each "
            f"of the {walk.n_heads} heads writes (z_h times its block of rows of W_O). Summing "
            f"those {terms} vectors rebuilds the output of the model's own layer {layer} to "
            f"{gap:.1e} (rounding). A layer with an MLP adds one more vector, MLP(LN(x + "
            "attention)). Every head reads the stream and writes into it: nothing is "
            "overwritten, so later layers can read what any earlier head wrote."
        ),
        mistakes=(
            (walk.n_heads, "You left out x itself: the layer adds to the stream it reads."),
            (1, "The heads' outputs are added to x, not the only thing in the output."),
        ),
    )
