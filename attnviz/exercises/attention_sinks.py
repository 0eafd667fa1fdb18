"""Lesson 08's exercises: where a real-text model puts its spare attention, and what a cache
must keep.

Every answer is measured on the shipped real-text models (``attnviz.text_models``) reading
The Tempest, the play their training held out, with the functions the lesson calls:
``attnviz.sinks`` (Gu et al. 2024's sink metric), ``attnviz.streaming`` (StreamingLLM's
caches, Xiao et al. 2024) and ``attnviz.retrieval_heads`` (DuoAttention's mixed cache).
Nothing is stored: retrain a model or change a parameter and the answers follow.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from attnviz import retrieval_heads, sinks, streaming
from attnviz.exercises.core import Solution, exercise
from attnviz.kv_cache import CachePolicy
from attnviz.text_models import TEXT_MODELS, TRAIN_LENGTH, load_text_model
from attnviz.validation import check_choice, check_int, check_real

_TWINS = {"a": "twin_softmax", "b": "twin_sigmoid", "c": "twin_gated"}
_SINK_COUNTS = streaming.SINK_COUNTS  # the sink caches the lesson compares (1, 2, 4, 8)


# --- what the lesson measures (cached: the shipped weights do not change while Python runs)


@lru_cache(maxsize=8)
def _sink_scores(model: str, count: int, length: int) -> np.ndarray:
    """(L, H) α of the first token, on ``count`` held-out passages of ``length`` tokens."""
    scores = sinks.sink_scores(load_text_model(model), sinks.sink_passages(count, length))
    scores.setflags(write=False)
    return scores


@lru_cache(maxsize=4)
def _curves(model: str, length: int, window: int) -> streaming.StreamingCurves:
    """The lesson's StreamingLLM curves: window, window + 1, 2, 4, 8 sinks, full."""
    return streaming.streaming_curves(
        load_text_model(model), length=length, window=window, sinks=_SINK_COUNTS
    )


@lru_cache(maxsize=2)
def _twins(epsilon: float) -> tuple[dict, ...]:
    return tuple(sinks.twin_comparison(epsilon=epsilon))


def _check_model(model: str) -> str:
    return check_choice("model", model, tuple(TEXT_MODELS))


def _check_stream(length: int, window: int) -> tuple[int, int]:
    length = check_int("length", length, low=2 * TRAIN_LENGTH, high=4096)
    window = check_int("window", window, low=8, high=TRAIN_LENGTH)
    return length, window


# --- the exercises ---------------------------------------------------------------------


@exercise(
    id="08-sink-heads",
    lesson="08",
    question="`{model}` reads {count} passages of The Tempest, {length} characters each, "
    "every one starting with the BOS token. For each head, α is the weight its queries put "
    "on that first token, on average (Gu et al.'s importance of token 0). How many of its "
    "heads have α > ε = {epsilon:g}, a first-token sink?",
    kind="integer",
    model="shakespeare",
    count=32,
    length=sinks.SINK_LENGTH,
    epsilon=sinks.SINK_EPSILON,
)
def _sink_heads(model: str, count: int, length: int, epsilon: float) -> Solution:
    model = _check_model(model)
    count = check_int("count", count, low=1, high=256)
    length = check_int("length", length, low=2, high=1024)
    epsilon = check_real("epsilon", epsilon, low=0.0, high=1.0, low_open=True, high_open=True)
    scores = _sink_scores(model, count, length)  # (L, H)
    n_layers, n_heads = scores.shape
    total = n_layers * n_heads
    sinking = int((scores > epsilon).sum())
    by_layer = ", ".join(
        f"layer {layer}: {int((row > epsilon).sum())} of {n_heads}"
        for layer, row in enumerate(scores)
    )
    strongest = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return Solution(
        hint=(
            "A softmax head must give each query's weights a sum of one, even when nothing "
            "in the passage is worth reading. Every sequence the model was trained on "
            "started with the same token, visible from every position: a safe place to "
            "put weight that is not needed."
        ),
        answer=sinking,
        explanation=(
            f"{sinking} of the model's {total} heads {'has' if sinking == 1 else 'have'} "
            f"α > {epsilon:g} ({by_layer}): "
            f"Sink₁^ε = {sinking / total:.0%} (`attnviz.sinks.sink_rate`). The strongest, "
            f"L{strongest[0]}H{strongest[1]}, puts {scores[strongest]:.2f} of its weight on "
            f"the first token on average, where a uniform head would put about "
            f"{np.mean(1.0 / np.arange(1, length + 1)):.2f} there (the mean of 1/(t + 1) over "
            "the queries). BOS carries no information about the next character: the weight "
            "these heads put on it is weight they do not spend on the text. Gu et al. (arXiv "
            "2410.10781) measure Sink₁^ε = 77 % for GPT-2 XL and 99 % for LLaMA3-8B at the "
            f"same ε and T = 64; ours is a {n_layers}-layer model of {total} heads trained "
            "for minutes on characters, far from their scale."
        ),
        mistakes=(
            (
                0,
                "That is what lesson 02 measured on the synthetic models, trained on random "
                "tokens; this one read real text, always after the same first token.",
            ),
            (total, "That is every head; some heads are busy with the characters nearby."),
        ),
    )


STREAM_WINDOW = 16  # the recent tokens of the lesson's streaming caches: BOS's eviction shows


def _past(curves: streaming.StreamingCurves, n_sinks: int) -> float:
    """Mean loss past the training length under ``n_sinks`` sinks + the curves' window."""
    return curves.mean_past_training[CachePolicy(sinks=n_sinks, window=curves.window).label()]


_COLLAPSE = {
    "a": "about the same as with the first token kept too (within 0.05 nats)",
    "b": "higher than with the first token kept, by 0.05 to 0.5 nats per character",
    "c": "far higher: more than 0.5 nats per character above the cache that keeps the first token",
}


def _collapse_level(rise: float) -> str:
    if rise <= 0.05:
        return "a"
    return "b" if rise <= 0.5 else "c"


def _collapse_reading(level: str) -> str:
    """What the measured level means: StreamingLLM's finding, or not on this model."""
    if level == "a":
        return (
            "With this window the first token's eviction costs little: the window holds "
            "enough for the heads that would otherwise park their weight on it."
        )
    return (
        "Without BOS in the cache, the heads that parked their spare weight on it must spread "
        "that weight over the window, mixing into each output characters that training "
        "never put there. This is StreamingLLM's finding (Xiao et al., arXiv 2309.17453), on "
        "a small character model."
    )


@exercise(
    id="08-window-collapse",
    lesson="08",
    question="`{model}` was trained on sequences of 256 tokens. It now reads {length} "
    "characters of The Tempest, but every head's cache keeps only the last {window} tokens "
    "(a sliding window: the first token, BOS, is evicted once the text is longer than the "
    "window). Compare its loss on the characters past position 256 with a cache that keeps "
    "the first token as well as the same window.",
    kind="choice",
    choices=_COLLAPSE,
    model="shakespeare",
    length=1024,
    window=STREAM_WINDOW,
)
def _window_collapse(model: str, length: int, window: int) -> Solution:
    model = _check_model(model)
    length, window = _check_stream(length, window)
    curves = _curves(model, length, window)
    window_loss = curves.mean_past_training[CachePolicy(window=window).label()]
    one_sink = _past(curves, 1)
    rise = window_loss - one_sink
    answer = _collapse_level(rise)
    return Solution(
        hint=(
            "The sliding window still holds the nearest characters, which predict most of "
            "the next one. But think of the heads that put their spare weight on the first "
            "token: once it is evicted, where does that weight go?"
        ),
        answer=answer,
        explanation=(
            f"Past position {curves.train_length}, the window of {window} tokens alone loses "
            f"{window_loss:.3f} nats per character; with the first token kept as well "
            f"(1 sink + window {window}) it loses {one_sink:.3f}, {rise:.3f} less. "
            f"{_collapse_reading(answer)} The larger the window, the less the first token "
            "matters (try `window=64`)."
        ),
        mistakes=(
            (
                "a",
                "The nearest characters are all still there, but the heads that relied on "
                "the first token lost it.",
            ),
        ),
    )


@exercise(
    id="08-full-past-training",
    lesson="08",
    question="The same {length} characters with the full cache: every head keeps every "
    "token, at its true position, up to the last of the {length}. The model was trained on "
    "sequences of 256 tokens, with rotary positions (RoPE), which accept any position. How "
    "does its loss past position 256 compare with its loss before it?",
    kind="choice",
    choices={
        "a": "lower: more characters to read, so better predictions",
        "b": "about the same (within 0.1 nats per character)",
        "c": "higher by 0.1 to 0.5 nats per character",
        "d": "higher by more than 0.5 nats per character: it breaks down",
    },
    model="shakespeare",
    length=1024,
)
def _full_past_training(model: str, length: int) -> Solution:
    model = _check_model(model)
    length, _ = _check_stream(length, STREAM_WINDOW)
    curves = _curves(model, length, STREAM_WINDOW)
    before = float(np.nanmean(curves.losses["full"][curves.positions < curves.train_length]))
    after = curves.mean_past_training["full"]
    one_sink = _past(curves, 1)
    change = after - before
    if change < -0.1:
        answer = "a"
    elif change <= 0.1:
        answer = "b"
    else:
        answer = "c" if change <= 0.5 else "d"
    return Solution(
        hint=(
            "RoPE rotates each query and key by its position, so a score depends on the "
            "distance between them. During training no query ever saw a key further back "
            "than the training length: what do such distances produce?"
        ),
        answer=answer,
        explanation=(
            f"With the full cache the loss is {before:.3f} nats per character before position "
            f"{curves.train_length} and {after:.3f} after it; the cache of 1 sink + "
            f"{STREAM_WINDOW} recent tokens, whose positions never pass {STREAM_WINDOW}, "
            f"loses {one_sink:.3f} there. RoPE accepts any position, but in training no query "
            f"ever saw a key {curves.train_length} or more tokens back, and the model has not "
            "learned what to make of such distances. "
            "StreamingLLM (Xiao et al., arXiv 2309.17453) finds the same for dense attention "
            "past the pre-training length, and keeps a small cache whose positions stay "
            "inside it."
        ),
        mistakes=(
            ("a", "More context would help if the model could read it; past 256 it cannot."),
        ),
    )


@exercise(
    id="08-sinks-to-recover",
    lesson="08",
    question="The same {length} characters, with a cache of the first k tokens (the "
    "sinks) plus the last {window}. StreamingLLM used k = 4 for Llama-2. For `{model}`, "
    "what is the fewest sinks among 1, 2, 4 and 8 whose loss past position 256 is within "
    "{margin:g} nats per character of the best of the four?",
    kind="integer",
    model="shakespeare",
    length=1024,
    window=STREAM_WINDOW,
    margin=0.01,
)
def _sinks_to_recover(model: str, length: int, window: int, margin: float) -> Solution:
    model = _check_model(model)
    length, window = _check_stream(length, window)
    margin = check_real("margin", margin, low=0.0, high=1.0)
    curves = _curves(model, length, window)
    losses = {k: _past(curves, k) for k in _SINK_COUNTS}
    best = min(losses.values())
    answer = min(k for k, loss in losses.items() if loss <= best + margin)
    window_loss = curves.mean_past_training[CachePolicy(window=window).label()]
    listed = ", ".join(f"{k}: {loss:.3f}" for k, loss in losses.items())
    return Solution(
        hint=(
            "A sink is where training taught the heads to park weight. In our training "
            "data, which token was at the start of every sequence, and which tokens after "
            "it were just characters of the play that changed from sequence to sequence?"
        ),
        answer=answer,
        explanation=(
            f"Mean loss past position 256, in nats per character, by number of sinks: "
            f"{listed} (the window alone: {window_loss:.3f}). {_recover_reading(answer)} "
            "StreamingLLM (Xiao et al., arXiv 2309.17453) needed 4 sinks for Llama-2, which "
            "was not trained with one fixed first token, and found that a model pre-trained "
            "with one dedicated sink token needs only that one."
        ),
        mistakes=(
            (
                4,
                "Four is StreamingLLM's choice for Llama-2, whose training did not start "
                "every sequence with the same token; ours did.",
            ),
        ),
    )


def _recover_reading(answer: int) -> str:
    if answer == 1:
        return (
            "Every training sequence began with the same BOS token, so that one token became "
            "the sink; the characters after it changed from sequence to sequence and never "
            "took that role, so keeping them as well does not help."
        )
    return (
        "More than the first token helps here: some heads also lean on the characters just "
        "after BOS, which every training sequence also had near its start."
    )


_TWIN_CHOICES = {
    "a": "the softmax twin",
    "b": "the sigmoid twin (sigmoid attention, no normalisation)",
    "c": "the gated twin (softmax, with a head-wise sigmoid gate on each head's output)",
}


@exercise(
    id="08-twin-sinks",
    lesson="08",
    question="Three twins, the same size, data, steps and seeds, differ only in their "
    "attention: softmax, sigmoid without normalisation, and softmax with a sigmoid output "
    "gate per head. In each, find the head that gives the first token the most weight (its "
    "α₁, with every row rescaled to sum to 1). Which twin's strongest such head gives it the "
    "least?",
    kind="choice",
    choices=_TWIN_CHOICES,
    epsilon=sinks.SINK_EPSILON,
)
def _twin_sinks(epsilon: float) -> Solution:
    epsilon = check_real("epsilon", epsilon, low=0.0, high=1.0, low_open=True, high_open=True)
    rows = {row["name"]: row for row in _twins(epsilon)}
    # Gu et al. compare operators without normalisation by rows rescaled to sum to 1
    strongest = {
        letter: rows[name]["proxy_first_sink_score_max"] for letter, name in _TWINS.items()
    }
    answer = min(strongest, key=strongest.get)
    listed = "; ".join(
        f"{name}: strongest α₁ {rows[name]['proxy_first_sink_score_max']:.2f}, Sink₁^ε "
        f"{rows[name]['proxy_sink_rate']:.0%} at ε = {epsilon:g}, held-out loss "
        f"{rows[name]['held_out_loss']:.3f} nats"
        for name in _TWINS.values()
    )
    return Solution(
        hint=(
            "A softmax head's weights must add up to one, so a head with nothing to read "
            "must still put its weight somewhere. Which of the three lets a head give "
            "every key a small weight instead?"
        ),
        answer=answer,
        explanation=(
            f"{listed}. Sigmoid attention scores each key on its own, so its weights need "
            "not add up to one: a head with nothing to read can give every key a small "
            "weight instead of parking it on one. The gate lets a head switch its output "
            "off, but its weights are still a softmax. The sigmoid twin's rows are rescaled "
            "to sum to 1 before α₁ is taken (Gu et al.'s proxy scores), so all three are "
            "measured on one scale. Gu et al. (arXiv 2410.10781) report 0.44 % sink heads "
            "with sigmoid attention against 18.18 % with softmax at 60M parameters; the "
            "twins are far smaller and trained for minutes: compare the direction, not the "
            "numbers."
        ),
        mistakes=(
            ("a", "Softmax is the one whose weights must add up to one: that is what sinks."),
        ),
    )


@exercise(
    id="08-mixed-cache-memory",
    lesson="08",
    question="DuoAttention's split on `{model}`, on the needle-in-a-haystack tests of section "
    "8: rank its heads by how much the loss on the needle's answer rises when only that head "
    "keeps {n_sinks} sink + the last {window} tokens, then give the full cache back to the "
    "heads at the top of the ranking, one by one, until the answer's loss is within "
    "{tolerance:g} nats of full attention's. What fraction of the full cache's memory does "
    "that mixed cache need?",
    kind="number",
    model="shakespeare",
    n_sinks=1,
    window=STREAM_WINDOW,
    tolerance=0.05,
)
def _mixed_cache_memory(model: str, n_sinks: int, window: int, tolerance: float) -> Solution:
    model = _check_model(model)
    n_sinks = check_int("n_sinks", n_sinks, low=1, high=16)
    window = check_int("window", window, low=1, high=TRAIN_LENGTH)
    tolerance = check_real("tolerance", tolerance, low=0.0, high=1.0, low_open=True)
    curve = _mixed_curve(model, n_sinks, window)
    saved = retrieval_heads.memory_saved_at_equal_loss(curve, tolerance=tolerance)
    fraction = float(saved["memory_fraction"])
    total = len(curve.order)
    streaming_only = curve.cache_floats[0] / curve.cache_floats[-1]
    kept = ", ".join(f"L{layer}H{head}" for layer, head in curve.order[: saved["full_heads"]])
    return Solution(
        hint=(
            "A streaming head holds a fixed number of keys however long the text is; a "
            "full head holds them all. To answer, the model must reach back to the needle, "
            "far outside a window of a few tokens: how many heads do that reaching?"
        ),
        answer=fraction,
        tolerance=0.02,
        explanation=(
            f"With every head streaming the answer's loss is {curve.loss[0]:.3f} nats per "
            f"character against {curve.full_loss:.3f} for full attention. Giving the full "
            f"cache back to {saved['full_heads']} of the {total} heads ({kept or 'none'}), in "
            f"the ranking's order, brings it to {saved['loss']:.3f}, within {tolerance:g} "
            f"nats; that cache holds {fraction:.3f} of the full cache's keys and values (all "
            f"streaming: {streaming_only:.3f}). DuoAttention (arXiv 2410.10819) reports up to "
            "2.55× less memory for multi-head attention models on long contexts: the longer "
            "the text, the more a streaming head saves."
        ),
        mistakes=(
            (
                streaming_only,
                "That is every head streaming: then no head can reach the needle, and the "
                "answer's loss is far above full attention's.",
            ),
            (1.0, "That is the full cache for every head; most heads do not need it."),
        ),
    )


@lru_cache(maxsize=4)
def _mixed_curve(model: str, n_sinks: int, window: int) -> retrieval_heads.MixedCache:
    """DuoAttention's mixed-cache curve on the lesson's needle tests, scored at the answers."""
    net = load_text_model(model)
    tests = retrieval_heads.needle_tests()
    policy = CachePolicy(sinks=n_sinks, window=window)
    ranking = retrieval_heads.streaming_head_ranking(net, tests, policy)
    return retrieval_heads.mixed_cache_curve(net, tests, policy, ranking)
