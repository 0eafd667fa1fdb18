"""Lesson 03's exercises: heads with jobs, and whether they matter.

Every answer is measured on what the lesson shows: the shipped models
(``attnviz.models.load_lesson_model``) on the sequences their training held out
(the first ``eval_size`` of the recipe's task, ``attnviz.models.LESSON_MODELS``),
scored and knocked out with the functions of ``attnviz.maps``. Nothing is stored:
retrain a model or change a parameter and the answers follow.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import torch

from attnviz import maps, models, tasks, training
from attnviz.exercises.core import Solution, exercise
from attnviz.validation import check_choice, check_int

# the three outcomes a knock-out can have, shared by two exercises
_LOSS_LEVELS = {
    "a": "it stays close to the intact model's loss",
    "b": "it rises to about the 1-layer model's loss",
    "c": "it rises to chance, ln 47 ≈ 3.85 nats (a uniform guess), or beyond",
}


# --- what the lesson measures ----------------------------------------------------------


@lru_cache(maxsize=4)
def held_out(model: str) -> tasks.TaskData:
    """The sequences a lesson model's training held out: its recipe's first ``eval_size``."""
    check_choice("model", model, tuple(models.LESSON_MODELS))
    return models.lesson_held_out(model)


def _losses(model: str) -> dict[str, float]:
    """Loss, accuracy and the loss on each half, on the held-out sequences."""
    return training.evaluate(models.load_lesson_model(model), held_out(model))


def _chance(model: str) -> float:
    """The loss of a uniform guess over the task's tokens (BOS is never a target)."""
    return math.log(held_out(model).vocab_size - 1)


@lru_cache(maxsize=4)
def _scores(model: str) -> dict[str, np.ndarray]:
    """Every map-only head score, (L, H) each, averaged over the held-out sequences.

    Cached per model name: the shipped weights do not change while Python runs.
    """
    net, data = models.load_lesson_model(model), held_out(model)
    per_row = [maps.head_scores(maps.capture(net, ids)) for ids in data.input_ids]
    scores = {name: np.mean([s[name] for s in per_row], axis=0) for name in per_row[0]}
    for values in scores.values():
        values.setflags(write=False)
    return scores


def _knock_out(model: str, heads: list[tuple[int, int]]) -> tuple[float, float]:
    """Repeated-half loss of the intact model, and with ``heads`` zero-ablated together."""
    net, data = models.load_lesson_model(model), held_out(model)
    clean = _losses(model)["repeated_half"]
    mask = data.masks["repeated_half"]
    return clean, clean + maps.ablate(net, data.input_ids, data.targets, heads, loss_mask=mask)


def _loss_level(loss: float, clean: float, one_layer: float, chance: float) -> str:
    """Which of ``_LOSS_LEVELS`` a loss is at: nearest on a log scale, chance or beyond is c."""
    if loss >= chance:
        return "c"
    levels = {"a": clean, "b": one_layer, "c": chance}
    return min(levels, key=lambda key: abs(math.log(loss) - math.log(levels[key])))


def _head(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


@contextmanager
def without_bos(net: models.TinyTransformer, layers: list[int]) -> Iterator[None]:
    """Inside the block, ``layers`` may not attend to BOS: its column is zeroed, rows renormalised.

    Query 0 sees only BOS, so it keeps it. A forward hook on ``hook_pattern`` that
    returns a new pattern makes the attention mix the values with that pattern.
    ``net`` is a TinyTransformer with attention blocks; ``layers`` a list of its layer indices.
    """
    if not isinstance(net, models.TinyTransformer):
        raise TypeError(f"net must be a TinyTransformer, got {type(net).__name__}")
    if net.config.mixer != "attention":
        raise ValueError(f"net must have attention blocks, got mixer={net.config.mixer!r}")
    if isinstance(layers, (str, bytes)) or not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a list of layer indices, got {type(layers).__name__}")
    last = net.config.n_layers - 1
    layers = [check_int("layers", layer, low=0, high=last) for layer in layers]

    def move_off_bos(_module, _args, pattern):  # pattern: (B, H, T, T)
        pattern = pattern.clone()
        pattern[..., 1:, 0] = 0.0
        return pattern / pattern.sum(dim=-1, keepdim=True)

    handles = [net.blocks[layer].attn.hook_pattern.register_forward_hook(move_off_bos)
               for layer in layers]  # fmt: skip
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


# --- the exercises ---------------------------------------------------------------------


@exercise(
    id="03-perfect-previous-token",
    lesson="03",
    question="A perfect previous-token head reads {seq_len} tokens: every query puts all its "
    "attention on the token just before it (query 0, which has nothing before it, can only "
    'attend to itself). What is its previous-token score, TransformerLens\' "mul" measure '
    "Σ(A ⊙ P) / ΣA? (A number to 2 decimals.)",
    kind="number",
    seq_len=8,
)
def _perfect_previous_token(seq_len: int) -> Solution:
    seq_len = check_int("seq_len", seq_len, low=2, high=1024)  # a (T, T) map, 8 MB at 1024
    perfect = np.eye(seq_len, k=-1)
    perfect[0, 0] = 1.0  # query 0 has no previous token
    weights = perfect[None, None]  # (L, H, T, T) = (1, 1, T, T)
    score = float(maps.previous_token_score(weights)[0, 0])
    strict = float(maps.previous_token_score(weights, exclude_current_token=True)[0, 0])
    return Solution(
        hint=(
            f"Every one of the {seq_len} rows of A sums to 1, so that is ΣA. P marks the "
            "diagonal just below the main one: how many rows can put their weight there, and "
            "which row cannot, having no token before it?"
        ),
        answer=score,
        tolerance=0.006,
        explanation=(
            "Every row of A sums to 1, so ΣA = T = "
            f"{seq_len}. P has ones on the diagonal just below the main one, where rows 1 to "
            f"T − 1 put all their weight: Σ(A ⊙ P) = T − 1 = {seq_len - 1}. The score is "
            f"(T − 1)/T = {seq_len - 1}/{seq_len} = {score:.3f}. Query 0 must put its weight "
            "somewhere and has no previous key, so even a perfect head falls short of 1 by 1/T. "
            "With `exclude_current_token=True` the diagonal leaves both sums and the score is "
            f"{strict:.3f}. The shortfall shrinks as T grows: at T = 33, the length of the "
            f"lesson's sequences, (T − 1)/T = {32 / 33:.3f}."
        ),
        mistakes=(
            (
                strict,
                "1 is the score with the diagonal excluded (`exclude_current_token=True`). "
                "Counted as it is, query 0's weight sits on the diagonal, not on the pattern.",
            ),
            (
                1 / seq_len,
                "1/T would be one row's worth of weight on the pattern; all rows but the first "
                "put theirs there.",
            ),
        ),
    )


@exercise(
    id="03-one-layer",
    lesson="03",
    question="`{control}` is `{model}` with one layer instead of two: same width, same data, "
    "same 400 training steps. Does it solve the task? Compare its loss on the repeated half "
    "with its loss on the first half (chance: ln 47 ≈ 3.85 nats).",
    kind="choice",
    choices={
        "a": "yes: its repeated-half loss falls close to 0, like the 2-layer model's",
        "b": "no, but it beats chance: its repeated-half loss falls well below its first-half "
        "loss and stays far above 0",
        "c": "no, and it learns nothing there: its repeated-half loss stays at chance, like its "
        "first-half loss",
    },
    model="induction_2l",
    control="induction_1l",
)
def _one_layer(model: str, control: str) -> Solution:
    two, one = _losses(model), _losses(control)
    first, repeated = one["first_half"], one["repeated_half"]
    if repeated < 0.1 * first:  # the loss ratio of training.induction_head_formed
        answer = "a"
    elif repeated < 0.8 * first:
        answer = "b"
    else:
        answer = "c"
    chance = _chance(control)
    data = held_out(control)
    # a guess spread evenly over the distinct tokens already seen (BOS left out)
    seen = [
        math.log(len(set(ids[1 : position + 1])))
        for ids, mask in zip(data.input_ids.tolist(), data.masks["repeated_half"].tolist(),
                             strict=True)
        for position, scored in enumerate(mask)
        if scored
    ]  # fmt: skip
    induction = float(_scores(control)["induction"].max())
    return Solution(
        hint=(
            "In a 1-layer model a key knows only its own token and position. Can a query then "
            "find 'the key that came right after my token'? If not, is there anything cheaper "
            "it can still learn from a repeated sequence? Compare both halves' losses with "
            f"chance, {chance:.3f} nats."
        ),
        answer=answer,
        explanation=(
            f"On the {len(data)} held-out sequences `{control}` loses {first:.3f} nats per "
            f"token on the first half and {repeated:.3f} on the repeated half; `{model}` "
            f"loses {two['first_half']:.3f} and {two['repeated_half']:.3f} (chance: "
            f"{chance:.3f}). One layer cannot find *which* earlier token comes next: that "
            "needs a key that knows the token before it, and only an earlier layer can write "
            "that into the key. What one layer can learn is that the next token is one of "
            "those already seen. A guess spread evenly over the distinct tokens seen so far "
            f"would lose {float(np.mean(seen)):.3f} on the repeated half, close to what "
            f"`{control}` reaches. Its best induction score is {induction:.3f}."
        ),
        mistakes=(
            (
                "a",
                'Copying the right token takes two steps, "find the key that came after my '
                'token" and "read it", and the first needs a key that already knows its '
                "previous token.",
            ),
            (
                "c",
                "One layer can still use the repetition a little: it learns that the next "
                "token is one it has already seen, just not which one.",
            ),
        ),
    )


@exercise(
    id="03-knock-out-induction-head",
    lesson="03",
    question="Knock out the strongest induction head of `{model}` (the layer-1 head with the "
    "highest induction score) alone, by zero-ablation, and measure the loss on the repeated "
    "half of the held-out sequences. What becomes of that loss?",
    kind="choice",
    choices=_LOSS_LEVELS,
    model="induction_2l",
    control="induction_1l",
)
def _knock_out_induction_head(model: str, control: str) -> Solution:
    scores = _scores(model)["induction"]
    layer = 1
    head = int(scores[layer].argmax())
    twins = [(layer, h) for h in range(scores.shape[1])]
    clean, alone = _knock_out(model, [(layer, head)])
    _, together = _knock_out(model, twins)
    one_layer, chance = _losses(control)["repeated_half"], _chance(model)
    shown = ", ".join(f"{_head(layer, h)} {scores[layer, h]:.3f}" for h in range(scores.shape[1]))
    return Solution(
        hint=(
            f"Layer {layer}'s induction scores: {shown}. Is the strongest head the only one "
            "doing the job? Then place the loss on the three levels on a log scale."
        ),
        answer=_loss_level(alone, clean, one_layer, chance),
        explanation=(
            f"The strongest induction head is {_head(layer, head)} (layer {layer}: {shown}). "
            f"Knocked out alone, the repeated-half loss goes from {clean:.3f} to {alone:.3f} "
            f"nats per token ({alone / clean:.1f} times as much, but still tiny; the 1-layer "
            f"model loses {one_layer:.3f}, chance is {chance:.3f}). Knock out all of layer "
            f"{layer}'s heads together and it becomes {together:.3f}. Both heads of layer "
            f"{layer} learned the same job: when one is gone, the other still copies. "
            "Knocking out one head at a time underrates heads that have a twin."
        ),
        mistakes=(
            (
                "c",
                f"That is what knocking out *both* layer-{layer} heads does (loss "
                f"{together:.3f}); one of them alone still copies.",
            ),
            (
                "b",
                "The 1-layer model has no induction head at all; this model keeps one even "
                "with the strongest knocked out.",
            ),
        ),
    )


@exercise(
    id="03-k-composition",
    lesson="03",
    question="Both heads of layer 0 score low as induction heads (under {low:g}). Knock out "
    "both of them together, by zero-ablation, and measure the loss on the repeated half. What "
    "becomes of that loss?",
    kind="choice",
    choices=_LOSS_LEVELS,
    model="induction_2l",
    control="induction_1l",
    low=0.1,
)
def _k_composition(model: str, control: str, low: float) -> Solution:
    scores = _scores(model)["induction"]  # the question's "under low": a test checks it
    layer0 = [(0, h) for h in range(scores.shape[1])]
    clean, knocked = _knock_out(model, layer0)
    one_layer, chance = _losses(control)["repeated_half"], _chance(model)
    previous = _scores(model)["previous_token"][0]
    shown = ", ".join(
        f"{_head(0, h)} {scores[0, h]:.3f} / {previous[h]:.3f}" for h in range(scores.shape[1])
    )
    return Solution(
        hint=(
            f"Layer 0's induction / previous-token scores: {shown}. An induction head in "
            "layer 1 looks for the key whose previous token matches its own token: which "
            "heads write that into the keys, and what is left to find once they are gone?"
        ),
        answer=_loss_level(knocked, clean, one_layer, chance),
        explanation=(
            f"Layer 0's induction / previous-token scores: {shown}. Knocked out together, the "
            f"repeated-half loss goes from {clean:.3f} to {knocked:.3f} nats per token (the "
            f"1-layer model loses {one_layer:.3f}, chance is {chance:.3f}). They are not "
            "induction heads, but the induction heads cannot work without them: at the second "
            "copy of token A, an induction head looks for the key whose *previous* token was "
            "A, and a key learns its previous token only from a previous-token head in an "
            "earlier layer. Elhage et al. (2021) call this K-composition. Worse than chance: "
            "without them the model still bets, on the wrong tokens."
        ),
        mistakes=(
            (
                "a",
                "A low induction score does not make a head unimportant: layer 0 writes into "
                "the keys what the induction heads of layer 1 search for.",
            ),
            (
                "b",
                "The 1-layer model learned to do without previous-token heads; this model "
                "learned to rely on them, and with them gone its induction heads look in the "
                "wrong places.",
            ),
        ),
    )


@exercise(
    id="03-no-sink",
    lesson="03",
    question="Where a query has no earlier copy to find, the layer-1 heads of `{model}` park "
    "most of their attention on BOS. Forbid it: remove the BOS column from layer 1's attention "
    "and renormalise each row over the other keys. Which loss rises by more than "
    "{threshold:g} nats per token?",
    kind="choice",
    choices={
        "a": "the loss on the repeated half, where the induction heads do their work",
        "b": "the loss on the first copy, where they had nothing to find",
        "c": "neither: attention parked on BOS carried nothing, so moving it changes nothing",
        "d": "both",
    },
    model="induction_2l",
    threshold=0.05,
)
def _no_sink(model: str, threshold: float) -> Solution:
    net, data = models.load_lesson_model(model), held_out(model)
    intact = training.evaluate(net, data)
    with without_bos(net, [1]), torch.no_grad():
        moved = training.evaluate(net, data)
    rise = {  # to the 3 decimals shown; + 0.0 turns a rounded -0.0 into 0.0
        key: round(moved[key] - intact[key], 3) + 0.0 for key in ("first_half", "repeated_half")
    }
    first, repeated = rise["first_half"] > threshold, rise["repeated_half"] > threshold
    answer = {(False, True): "a", (True, False): "b", (False, False): "c", (True, True): "d"}[
        (first, repeated)
    ]
    chance = _chance(model)
    return Solution(
        hint=(
            "A softmax row still sums to 1 once BOS is gone: the weight moves onto real "
            "tokens, and the head copies them. In the lesson's layer-1 maps, where do the "
            "queries park the most weight on BOS: in the first copy or in the repeated half? "
            "And where would copying an earlier token hurt?"
        ),
        answer=answer,
        explanation=(
            f"First copy: {intact['first_half']:.3f} → {moved['first_half']:.3f} nats per token "
            f"({rise['first_half']:+.3f}; chance is {chance:.3f}). Repeated half: "
            f"{intact['repeated_half']:.3f} → {moved['repeated_half']:.3f} "
            f"({rise['repeated_half']:+.3f}). The attention parked on BOS was doing a job: "
            "nothing, on purpose. Softmax weights must sum to 1, so a head that has nothing to "
            "copy needs a place to put them where they add nothing; taken off BOS, they land "
            "on real tokens and the head copies those. In the first copy every token is new, "
            "so a token already seen is exactly the one that cannot come next. In the repeated "
            "half the heads had left BOS alone, so nothing changes there."
        ),
        mistakes=(
            (
                "a",
                "In the repeated half the induction heads put almost no weight on BOS, so "
                "there is almost nothing to move.",
            ),
            (
                "c",
                "Weights taken off BOS do not vanish: a softmax row still sums to 1, and they "
                "land on tokens the head then copies.",
            ),
        ),
    )
