"""Retrieval heads and streaming heads on the real-text model (lesson 08).

Two ways to find the few heads that need the whole past:

- **Retrieval score** (Wu et al., "Retrieval Head Mechanistically Explains Long-Context
  Factuality", arXiv 2404.15574; PAPERS.md §6): hide a needle sentence in a haystack of
  real text, ask for it at the end, decode greedily, and count how often each head's
  strongest attention sits on the very needle character the model is writing.
- **DuoAttention's split** (Xiao et al., arXiv 2410.10819): switch one head at a time to
  a streaming cache (a few sink tokens + a recent window, ``attnviz.kv_cache``) and
  measure how much the loss rises. Heads whose loss cost is small can stream; the rest
  keep the full cache. ``evicted_attention`` shows why: how much of each head's weight
  sits on the tokens the cache would evict. ``mixed_cache_curve`` keeps the k most
  costly heads full and ``memory_saved_at_equal_loss`` reads off the cache memory a
  mixed cache saves.

A head can only retrieve what the model learnt to copy: a model without induction heads
(one that reads a passage no better the second time) scores 0 on every head, whatever
its size, and its streaming costs come from heads that read far back for other reasons.
The shipped ``shakespeare`` model was trained with a copying curriculum
(``attnviz.text_models``) and does copy: one of its 16 heads is a retrieval head, the
needle is found by greedy decoding, and on the needle tests that head is by far the
costliest to stream; on plain text its cost depends on the passage
(``tests/test_retrieval_heads.py`` holds the numbers).

The haystack is *The Tempest*, held out of training (``attnviz.shakespeare``); the model
reads characters, so the needle's answer is a word spelled one character at a time and
copied by induction-like heads.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from attnviz.kv_cache import FULL, CachePolicy, cache_policies
from attnviz.maps.attention_maps import as_ids, check_span
from attnviz.maps.forward import run
from attnviz.maps.model_io import check_token_ids
from attnviz.shakespeare import decode, encode, held_out_text
from attnviz.streaming import WINDOW
from attnviz.validation import as_array, check_int, check_real, short_repr

NEEDLE_PREFIX = "The secret word is "  # the needle before its answer; the prompt repeats it
NEEDLE_LENGTHS = (128, 256)  # tokens per test, BOS and prompt included: within training (256)
NEEDLE_DEPTHS = (0.1, 0.3, 0.5, 0.7, 0.9)  # where in the haystack the needle sits
MIN_NEEDLE_LENGTH = 64  # the shortest test: at least 14 characters of real text
MAX_NEEDLE_LENGTH = 4096  # the real-text models' context
MAX_NEEDLES = 64
MAX_TESTS = 512
# DuoAttention's streaming cache for the 256-token inputs the model was trained on: the
# first token (the one sink this model needs, lesson 08: past the training length 1 sink +
# a window of 16 costs 1.555 nats per character on 2 passages of 512 tokens, 4 sinks 1.550,
# the window alone 5.229) and StreamingLLM's window, short enough that streaming a head
# that reads far back shows
DUO_POLICY = CachePolicy(sinks=1, window=WINDOW)
RETRIEVAL_THRESHOLD = 0.1  # Wu et al.: a head scoring at least this is a retrieval head
ANSWER_WORD = re.compile(r"\b[a-z]{5,8}\b")  # answers: lower-case words of the play, 5-8 letters


@dataclass(frozen=True)
class NeedleTest:
    """One needle in a haystack: ``ids`` ends just before the answer the model must copy.

    ``ids`` (T,) is BOS, held-out text with the needle line "The secret word is
    <answer>." inserted at ``depth``, and the prompt "The secret word is ";
    ``needle`` the ``[start, end)`` positions of the answer's characters inside ``ids``.
    """

    ids: torch.Tensor
    needle: tuple[int, int]
    answer: str
    depth: float
    length: int

    def __post_init__(self) -> None:
        ids = self.ids
        if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.dtype != torch.long:
            raise TypeError(f"ids must be a (T,) tensor of token ids, got {short_repr(ids)}")
        start, end = check_span("needle", self.needle, len(ids))
        if not isinstance(self.answer, str) or len(self.answer) != end - start:
            raise ValueError(
                f"answer must be the {end - start} characters of the needle span, got "
                f"{short_repr(self.answer)}"
            )
        object.__setattr__(self, "needle", (start, end))
        object.__setattr__(self, "depth", check_real("depth", self.depth, low=0.0, high=1.0))
        object.__setattr__(self, "length", check_int("length", self.length, low=1))

    @property
    def text(self) -> str:
        """The test as text (BOS shown as ⟨bos⟩)."""
        return decode(self.ids)


@lru_cache(maxsize=1)
def _answer_words() -> tuple[str, ...]:
    words = set(ANSWER_WORD.findall(held_out_text()))
    words -= {"secret", "which", "there", "their", "these", "where"}
    return tuple(sorted(words))


def needle_tests(
    lengths: Sequence[int] = NEEDLE_LENGTHS,
    depths: Sequence[float] = NEEDLE_DEPTHS,
    *,
    needles: int = 3,
    seed: int = 0,
) -> list[NeedleTest]:
    """Needle-in-a-haystack tests on held-out text, one per (needle, length, depth).

    Each of ``needles`` needles draws (seeded) an answer word from *The Tempest* and a
    place in the play; for each length the haystack is the text from there, with the
    line "The secret word is <answer>." inserted at the line start nearest ``depth``
    (0: first, 1: last), and the test ends with a new line "The secret word is " (Wu et
    al. 2404.15574's setup, in characters). ``lengths`` count every token, BOS and prompt
    included; the real-text models were trained on 256.
    """
    lengths = _check_sequence("lengths", lengths)
    depths = _check_sequence("depths", depths)
    low, high = MIN_NEEDLE_LENGTH, MAX_NEEDLE_LENGTH
    lengths = [check_int("lengths item", n, low=low, high=high) for n in lengths]
    depths = [check_real("depths item", d, low=0.0, high=1.0) for d in depths]
    needles = check_int("needles", needles, low=1, high=MAX_NEEDLES)
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    if needles * len(lengths) * len(depths) > MAX_TESTS:
        raise ValueError(
            f"needles × lengths × depths must be at most {MAX_TESTS} tests, got "
            f"{needles} × {len(lengths)} × {len(depths)}"
        )
    text, words = held_out_text(), _answer_words()
    rng = random.Random(seed)
    tests = []
    for _ in range(needles):
        answer = rng.choice(words)
        start = rng.randrange(0, len(text) - max(lengths))
        for length in lengths:
            for depth in depths:
                tests.append(_needle_test(text, start, answer, length, depth))
    return tests


def _needle_test(text: str, start: int, answer: str, length: int, depth: float) -> NeedleTest:
    needle_line = f"{NEEDLE_PREFIX}{answer}.\n"
    prompt = f"\n{NEEDLE_PREFIX}"
    span = length - 1 - len(needle_line) - len(prompt)  # haystack characters
    haystack = text[start : start + span]
    at = _line_start_near(haystack, round(depth * len(haystack)))
    body = haystack[:at] + needle_line + haystack[at:] + prompt
    ids = encode(body)
    first = 1 + at + len(NEEDLE_PREFIX)  # BOS, haystack, the needle's prefix
    return NeedleTest(ids, (first, first + len(answer)), answer, float(depth), int(length))


def _line_start_near(haystack: str, point: int) -> int:
    """The position just after a newline (or 0, or the end) nearest ``point``."""
    starts = [0, len(haystack)] + [i + 1 for i, ch in enumerate(haystack) if ch == "\n"]
    return min(starts, key=lambda s: (abs(s - point), s))


def _check_sequence(name: str, value: Any) -> list:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return list(value)


def _check_tests(tests: Any) -> list[NeedleTest]:
    if isinstance(tests, NeedleTest):
        return [tests]
    if isinstance(tests, (str, bytes)) or not isinstance(tests, Sequence):
        raise TypeError(
            f"tests must be a list of NeedleTest (see needle_tests), got {type(tests).__name__}"
        )
    if not tests:
        raise ValueError("tests must hold at least one NeedleTest, got an empty list")
    if len(tests) > MAX_TESTS:
        raise ValueError(f"tests must hold at most {MAX_TESTS} NeedleTests, got {len(tests)}")
    for test in tests:
        if not isinstance(test, NeedleTest):
            raise TypeError(f"tests must hold only NeedleTest items, got {type(test).__name__}")
    return list(tests)


def _check_model(model: Any, vocab_needed: int = 0, seq_len: int = 1) -> nn.Module:
    blocks = getattr(model, "blocks", None)
    if (
        not isinstance(model, nn.Module)
        or blocks is None
        or not all(hasattr(getattr(b, "attn", None), "cache_policy") for b in blocks)
    ):
        raise TypeError(
            "model must be a TinyTransformer with softmax-family attention (for example "
            f"attnviz.text_models.load_text_model()), got {type(model).__name__}"
        )
    vocab = model.config.vocab_size
    if vocab_needed > vocab:
        raise ValueError(
            f"model reads {vocab} token ids, but the inputs use ids up to {vocab_needed - 1}: "
            "use a real-text model (attnviz.text_models)"
        )
    if seq_len > model.config.context:
        raise ValueError(
            f"the inputs must be at most the model's context ({model.config.context}) tokens "
            f"long, got {seq_len}: use shorter needle tests"
        )
    return model


def _check_model_for(model: Any, tests: list[NeedleTest]) -> nn.Module:
    vocab_needed = max(int(t.ids.max()) for t in tests) + 1
    longest = max(len(t.ids) + len(t.answer) for t in tests)
    return _check_model(model, vocab_needed, longest)


def _shape(model: nn.Module) -> tuple[int, int, int]:
    attn = model.blocks[0].attn
    return len(model.blocks), attn.n_heads, attn.d_head


def _groups(tests: list[NeedleTest], *, with_answer: bool = False) -> dict[int, list[int]]:
    """Test indices by sequence length (with the answer appended, or not): tests of one
    length run as one batch."""
    groups: dict[int, list[int]] = {}
    for i, test in enumerate(tests):
        groups.setdefault(len(test.ids) + (len(test.answer) if with_answer else 0), []).append(i)
    return groups


@torch.no_grad()
def _decode(model: nn.Module, tests: list[NeedleTest]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Greedy decoding of each test's answer: per test the generated ids (n,) and the
    argmax key position of every head at every step (n, L, H)."""
    n_layers, _, _ = _shape(model)
    generated: list[np.ndarray] = [np.empty(0)] * len(tests)
    argmax: list[np.ndarray] = [np.empty(0)] * len(tests)
    last_rows: dict[int, torch.Tensor] = {}

    def keep(layer: int):
        def hook(module, args, output):
            last_rows[layer] = output[:, :, -1, :]  # (B, H, T): what the last query reads

        return hook

    handles = [block.attn.hook_pattern.register_forward_hook(keep(layer))
               for layer, block in enumerate(model.blocks)]  # fmt: skip
    was_training = model.training
    model.eval()
    try:
        for indices in _groups(tests).values():
            steps = max(len(tests[i].answer) for i in indices)
            current = torch.stack([tests[i].ids for i in indices])  # (B, T)
            tokens, positions = [], []
            for _ in range(steps):
                logits = model(current)  # (B, T, vocab)
                token = logits[:, -1].argmax(dim=-1)  # (B,)
                rows = torch.stack([last_rows[layer] for layer in range(n_layers)], dim=1)
                positions.append(rows.argmax(dim=-1))  # (B, L, H)
                tokens.append(token)
                current = torch.cat([current, token[:, None]], dim=1)
            tokens_arr = torch.stack(tokens, dim=1).numpy()  # (B, steps)
            positions_arr = torch.stack(positions, dim=1).numpy()  # (B, steps, L, H)
            for row, i in enumerate(indices):
                n = len(tests[i].answer)
                generated[i], argmax[i] = tokens_arr[row, :n], positions_arr[row, :n]
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return generated, argmax


def _copy_counts(
    ids: np.ndarray, generated: np.ndarray, argmax: np.ndarray, needle: tuple[int, int]
) -> np.ndarray:
    """(L, H) how many answer characters each head copy-pasted (Wu et al.'s g_h ∩ k).

    At step i the model wrote ``generated[i]``; head h copy-pastes it when it is the
    answer's next character ``ids[needle[0] + i]`` and the head's strongest key
    ``argmax[i, l, h]`` lies in the answer span and holds that character.
    """
    start, end = needle
    answer = np.asarray(ids)[start:end]
    counts = np.zeros(argmax.shape[1:], dtype=np.int64)
    for step, token in enumerate(np.asarray(generated)[: end - start]):
        if token != answer[step]:
            continue
        where = argmax[step]  # (L, H)
        inside = (where >= start) & (where < end)
        holds = np.asarray(ids)[np.clip(where, 0, len(ids) - 1)] == token
        counts += inside & holds
    return counts


def retrieval_scores(model: nn.Module, tests: Sequence[NeedleTest]) -> np.ndarray:
    """(L, H) retrieval score per head, in [0, 1] (lesson 08).

    Wu et al. 2404.15574, adapted to characters: decode the answer greedily, one
    character per step; at each step head h copy-pastes when the generated character w
    is the answer's next character and the key position the head attends to most lies
    inside the needle's answer and holds w. score_h = characters copy-pasted / answer
    length, averaged over the tests. A head scoring ≥ ``RETRIEVAL_THRESHOLD`` (0.1) is a
    retrieval head. (The paper counts tokens of a 1K-50K haystack with a word-piece
    model; here a token is a character and the haystack at most the model's context.)
    """
    tests = _check_tests(tests)
    _check_model_for(model, tests)
    generated, argmax = _decode(model, tests)
    scores = [_copy_counts(t.ids.numpy(), g, a, t.needle) / len(t.answer)
              for t, g, a in zip(tests, generated, argmax, strict=True)]  # fmt: skip
    return np.mean(scores, axis=0)


def needle_accuracy(model: nn.Module, tests: Sequence[NeedleTest]) -> float:
    """Share of answer characters greedy decoding gets right, over all tests, in [0, 1]."""
    tests = _check_tests(tests)
    _check_model_for(model, tests)
    generated, _ = _decode(model, tests)
    right = sum(int((g == encode(t.answer, bos=False).numpy()).sum())
                for t, g in zip(tests, generated, strict=True))  # fmt: skip
    return right / sum(len(t.answer) for t in tests)


# ----------------------------------------------------------------- DuoAttention's split


def _is_needle_list(ids: Any) -> bool:
    return isinstance(ids, NeedleTest) or (
        isinstance(ids, Sequence) and len(ids) > 0 and isinstance(ids[0], NeedleTest)
    )


def _scored_batches(
    ids: Any, policy: CachePolicy
) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], int]:
    """(inputs, targets-mask) batches to score and the longest sequence length.

    A list of NeedleTests: each test followed by its answer, scored at the answer's
    characters (DuoAttention's objective sits at the passkey positions). Token ids (T,)
    or (B, T): every prediction from a position the policy's cache no longer holds all of.
    """
    if _is_needle_list(ids):
        tests = _check_tests(ids)
        batches = []
        for indices in _groups(tests, with_answer=True).values():
            full = torch.stack([torch.cat([tests[i].ids, encode(tests[i].answer, bos=False)])
                                for i in indices])  # fmt: skip  # (B, T + answer)
            scored = torch.zeros(full.shape[0], full.shape[1] - 1, dtype=torch.bool)
            for row, i in enumerate(indices):
                start = len(tests[i].ids) - 1  # predicts the answer's first character
                scored[row, start : start + len(tests[i].answer)] = True
            batches.append((full, scored))
        return batches, max(b[0].shape[1] for b in batches)
    ids = as_ids("ids", ids)
    if ids.dim() not in (1, 2) or 0 in ids.shape:
        raise ValueError(f"ids must have shape (T,) or (B, T), got shape {tuple(ids.shape)}")
    batch = ids.long().reshape(-1, ids.shape[-1])  # (B, T)
    seq_len = batch.shape[1]
    reach = policy.sinks + policy.window  # query t reads a cut cache once t >= reach
    if seq_len <= reach + 1:
        raise ValueError(
            f"ids of {seq_len} tokens are all within the policy's cache ({policy.label()}): "
            "streaming changes nothing; use longer ids or a shorter window"
        )
    scored = torch.zeros(batch.shape[0], seq_len - 1, dtype=torch.bool)
    scored[:, reach:] = True
    return [(batch, scored)], seq_len


@torch.no_grad()
def _loss(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    total, count = 0.0, 0
    for full, scored in batches:
        logits = model(full[:, :-1])  # (B, T − 1, vocab)
        losses = F.cross_entropy(logits.transpose(1, 2), full[:, 1:], reduction="none")
        total += float(losses[scored].sum())
        count += int(scored.sum())
    return total / count


def _check_policy(policy: Any) -> CachePolicy:
    if not isinstance(policy, CachePolicy):
        raise TypeError(f"policy must be a CachePolicy, got {type(policy).__name__}")
    if policy.full:
        raise ValueError("policy must be a streaming cache (a window), got the full cache")
    return policy


def _prepare(model: Any, ids: Any, policy: Any):
    policy = _check_policy(policy)
    model = _check_model(model)
    batches, seq_len = _scored_batches(ids, policy)
    for full, _ in batches:
        check_token_ids("ids", full, model.config.vocab_size)
    _check_model(model, seq_len=seq_len)
    return model, batches, seq_len, policy


def streaming_head_ranking(model: nn.Module, ids: Any, policy: CachePolicy) -> np.ndarray:
    """(L, H) how much the loss rises when only that head streams (DuoAttention's split).

    Each head alone is switched to ``policy`` (sinks + a recent window) while every other
    head keeps its full cache; the entry is that loss minus the all-full loss, in nats
    per character. Large: the head needs the whole past (a retrieval head); near 0: it
    can stream. Xiao et al. 2410.10819 learn a gate per head from the error at passkey
    answers; one forward pass per head gives the same ranking's idea directly.

    ``ids``: a list of NeedleTests (scored at their answers, DuoAttention's objective) or
    token ids (T,) / (B, T) of real text (scored wherever the cache cuts the past).
    """
    model, batches, _, policy = _prepare(model, ids, policy)
    n_layers, n_heads, _ = _shape(model)
    was_training = model.training
    model.eval()
    try:
        base = _loss(model, batches)
        ranking = np.zeros((n_layers, n_heads))
        for layer, head in np.ndindex(n_layers, n_heads):
            with cache_policies(model, {(layer, head): policy}):
                ranking[layer, head] = _loss(model, batches) - base
    finally:
        model.train(was_training)
    return ranking


@torch.no_grad()
def evicted_attention(model: nn.Module, ids: Any, policy: CachePolicy) -> np.ndarray:
    """(L, H) the attention each head gives, under the full cache, to the keys ``policy``
    would evict: past the sinks and outside the recent window, mean over the queries
    whose cache is cut (t ≥ sinks + window) and over the batch.

    What a streaming head loses: a head whose weight sits on the sinks and the recent
    tokens can stream at little cost (DuoAttention, Xiao et al. 2410.10819).
    ``ids``: token ids (T,) or (B, T) with T > sinks + window + 1.
    """
    if _is_needle_list(ids):
        raise TypeError("ids must be token ids (T,) or (B, T), got a list of NeedleTest")
    model, batches, seq_len, policy = _prepare(model, ids, policy)
    batch = batches[0][0]  # (B, T)
    reach = policy.sinks + policy.window
    evicted = torch.ones(seq_len, seq_len, dtype=torch.bool).tril() & ~policy.keeps(seq_len)
    layers, _ = run(model, batch, "hook_pattern")  # (B, H, T, T) each, full cache
    shares = [(w * evicted).sum(-1)[:, :, reach:].mean(dim=(0, 2)) for w in layers]  # (H,)
    return torch.stack(shares).double().numpy()


@dataclass(frozen=True)
class MixedCache:
    """A mixed cache's loss and size as more heads keep the full cache (DuoAttention).

    Entry k keeps ``order[:k]`` full and lets every other head stream; ``cache_floats``
    counts the keys and values all heads hold for one sequence of the longest length.
    """

    full_heads: list[int]
    loss: list[float]
    cache_floats: list[int]
    full_loss: float
    order: list[tuple[int, int]]


def mixed_cache_curve(
    model: nn.Module, ids: Any, policy: CachePolicy, ranking: np.ndarray | None = None
) -> MixedCache:
    """Loss and KV-cache floats for k = 0 … L·H heads kept full, the rest under ``policy``.

    Heads are kept full in the order of ``ranking`` (largest first; default
    :func:`streaming_head_ranking` on the same ids). A full head holds T keys and T
    values of d_head floats, a streaming head ``policy.cache_size(T)`` of each
    (DuoAttention, Xiao et al. 2410.10819, §3.3).
    """
    model, batches, seq_len, policy = _prepare(model, ids, policy)
    n_layers, n_heads, d_head = _shape(model)
    if ranking is None:
        ranking = streaming_head_ranking(model, ids, policy)
    ranking = as_array("ranking", ranking, ndim=2)
    if ranking.shape != (n_layers, n_heads):
        raise ValueError(
            f"ranking must have the model's (layers, heads) shape {(n_layers, n_heads)}, "
            f"got {ranking.shape}"
        )
    flat = np.argsort(-ranking, axis=None, kind="stable")
    order = [(int(i // n_heads), int(i % n_heads)) for i in flat]
    full_floats, stream_floats = 2 * d_head * seq_len, 2 * d_head * policy.cache_size(seq_len)
    was_training = model.training
    model.eval()
    losses, floats = [], []
    try:
        for k in range(len(order) + 1):
            keep = set(order[:k])
            plan = {head: FULL if head in keep else policy for head in order}
            with cache_policies(model, plan):
                losses.append(_loss(model, batches))
            floats.append(k * full_floats + (len(order) - k) * stream_floats)
    finally:
        model.train(was_training)
    return MixedCache(list(range(len(order) + 1)), losses, floats, losses[-1], order)


def memory_saved_at_equal_loss(curve: MixedCache, tolerance: float = 0.01) -> dict:
    """The fewest full heads whose mixed cache loses at most ``tolerance`` nats per
    character against the all-full cache, and the cache memory it saves.

    Returns {"full_heads": k, "loss": its loss, "memory_fraction": its cache floats /
    the full cache's, "saved": 1 − memory_fraction}.
    """
    if not isinstance(curve, MixedCache):
        raise TypeError(
            f"curve must be a MixedCache (see mixed_cache_curve), got {type(curve).__name__}"
        )
    tolerance = check_real("tolerance", tolerance, low=0.0, high=10.0)
    losses = as_array("curve.loss", curve.loss, ndim=1)
    if not len(losses) == len(curve.cache_floats) == len(curve.full_heads) >= 1:
        raise ValueError(
            "curve must hold one loss, cache size and head count per step, got "
            f"{len(losses)}, {len(curve.cache_floats)} and {len(curve.full_heads)}"
        )
    if not curve.cache_floats[-1] > 0 or not losses[-1] == curve.full_loss:
        raise ValueError("curve must end with every head full (see mixed_cache_curve)")
    k = next(i for i, loss in enumerate(curve.loss) if loss <= curve.full_loss + tolerance)
    fraction = curve.cache_floats[k] / curve.cache_floats[-1]
    return {"full_heads": curve.full_heads[k], "loss": curve.loss[k],
            "memory_fraction": fraction, "saved": 1.0 - fraction}  # fmt: skip


__all__ = [
    "DUO_POLICY",
    "evicted_attention",
    "NEEDLE_DEPTHS",
    "NEEDLE_LENGTHS",
    "NEEDLE_PREFIX",
    "RETRIEVAL_THRESHOLD",
    "MixedCache",
    "NeedleTest",
    "memory_saved_at_equal_loss",
    "mixed_cache_curve",
    "needle_accuracy",
    "needle_tests",
    "retrieval_scores",
    "streaming_head_ranking",
]
