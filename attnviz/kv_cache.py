"""What a head keeps of the past: cache policies for long-context inference (lesson 08).

A ``CachePolicy`` says which earlier tokens one head may still read when it scores token
t: all of them (full attention), the last ``window`` (a sliding window), or the first
``sinks`` plus the last ``window`` (StreamingLLM, Xiao et al. ICLR 2024, PAPERS.md §6).
A model runs under policies with ``cache_policies(model, ...)``: one policy for every
head, or one per (layer, head), which is DuoAttention's split of retrieval heads (full
cache) from streaming heads (sinks + window).

One masked pass equals token-by-token decoding with an evicting KV cache: every token's
keys and values at every layer come from the tokens its own cache held, as they would
when it was decoded. Positions follow StreamingLLM: they are counted inside the cache,
keys are cached before rotation and rotated by their cache slot. Under RoPE a score
depends only on the distance between query and key slots, so a window key keeps its true
distance t − s, while a sink key i, held in slot i, is at distance min(t, sinks + window
− 1) − i from the query: the query is scored against the sinks from its cache slot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from attnviz.memory_budget import check_bytes, tensor_bytes
from attnviz.validation import check_int

MAX_CACHE = 2**16  # the longest window or sink span a policy names (a model's longest input)


@dataclass(frozen=True)
class CachePolicy:
    """The past one head keeps: the first ``sinks`` tokens and the last ``window`` ones.

    ``window=None`` keeps every token (full attention; ``sinks`` must then be 0).
    ``CachePolicy(window=64)`` is a sliding window; ``CachePolicy(sinks=4, window=64)``
    StreamingLLM's cache of 4 attention sinks and 64 recent tokens (lesson 08).
    """

    sinks: int = 0
    window: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sinks", check_int("sinks", self.sinks, low=0, high=MAX_CACHE))
        if self.window is None:
            if self.sinks:
                raise ValueError(
                    f"sinks must be 0 when window is None (full attention keeps every token), "
                    f"got sinks={self.sinks}"
                )
            return
        object.__setattr__(self, "window", check_int("window", self.window, low=1, high=MAX_CACHE))

    @property
    def full(self) -> bool:
        """True when the head keeps every token."""
        return self.window is None

    def cache_size(self, seq_len: int) -> int:
        """How many keys (and values) the head holds when it reads token ``seq_len`` − 1."""
        seq_len = check_int("seq_len", seq_len, low=1, high=MAX_CACHE)
        if self.window is None:
            return seq_len
        return min(seq_len, self.sinks + self.window)

    def keeps(self, seq_len: int, device: torch.device | str | None = None) -> torch.Tensor:
        """(T, T) bool: query t may read key s (causal, and kept by the cache)."""
        seq_len = check_int("seq_len", seq_len, low=1, high=MAX_CACHE)
        check_bytes(f"the ({seq_len}, {seq_len}) mask of a cache policy",
                    tensor_bytes(seq_len, seq_len, dtype=torch.bool) * 3,
                    instead="use a shorter seq_len")  # fmt: skip
        t = torch.arange(seq_len, device=device)[:, None]  # (T, 1)
        s = torch.arange(seq_len, device=device)[None, :]  # (1, T)
        causal = s <= t
        if self.window is None:
            return causal
        return causal & ((s > t - self.window) | (s < self.sinks))

    def sink_query_slots(self, seq_len: int) -> torch.Tensor:
        """(T,) long: the cache slot of query t, from which it scores the sink keys."""
        seq_len = check_int("seq_len", seq_len, low=1, high=MAX_CACHE)
        t = torch.arange(seq_len)
        if self.window is None:
            return t
        return t.clamp_max(self.sinks + self.window - 1)

    def label(self) -> str:
        """A short name: "full", "window 64", "4 sinks + window 64"."""
        if self.window is None:
            return "full"
        if not self.sinks:
            return f"window {self.window}"
        return f"{self.sinks} sink{'s' if self.sinks > 1 else ''} + window {self.window}"


FULL = CachePolicy()


def attend_under_policies(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    policies: tuple[CachePolicy, ...],
    *,
    scale: float,
    normalise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    rotate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of every head under its own cache policy: (output, weights).

    ``q``, ``k`` are (B, H, T, d) before any rotation, ``v`` (B, H, T, d_v); ``policies``
    one per head; ``normalise(scores, mask)`` turns masked scores into weights (softmax's or
    sigmoid's); ``rotate(x, positions)`` applies RoPE at the given positions (None: the
    model has no rotary positions, and cache slots change nothing).
    """
    batch, n_heads, seq_len, _ = q.shape
    if len(policies) != n_heads:
        raise ValueError(f"policies must name one policy per head ({n_heads}), got {len(policies)}")
    positions = torch.arange(seq_len, device=q.device)
    q_rot = q if rotate is None else rotate(q, positions)
    k_rot = k if rotate is None else rotate(k, positions)
    scores = (q_rot @ k_rot.mT) * scale  # (B, H, T, T)
    masks = []
    for head, policy in enumerate(policies):
        masks.append(policy.keeps(seq_len, device=q.device))
        if rotate is not None and policy.sinks and policy.window is not None:
            span = min(policy.sinks, seq_len)
            slots = policy.sink_query_slots(seq_len).to(q.device)  # (T,)
            q_slot = rotate(q[:, head : head + 1], slots)  # (B, 1, T, d)
            sink_scores = (q_slot @ k_rot[:, head : head + 1, :span].mT) * scale  # (B, 1, T, span)
            scores[:, head, :, :span] = sink_scores[:, 0]
    mask = torch.stack(masks)  # (H, T, T)
    weights = normalise(scores, mask)  # (B, H, T, T)
    return weights @ v, weights


PolicySpec = CachePolicy | Mapping[tuple[int, int], CachePolicy]


@contextlib.contextmanager
def cache_policies(model: nn.Module, policy: PolicySpec) -> Iterator[nn.Module]:
    """Run ``model`` (a TinyTransformer) with every head, or the named heads, under a policy.

    ``policy`` is a ``CachePolicy`` for every head, or ``{(layer, head): CachePolicy}``
    (heads not named keep the full cache: DuoAttention's mixed cache). Inside the block
    the model's forward pass reads only what each head's cache holds.
    """
    layers = _attention_layers(model)
    if isinstance(policy, CachePolicy):
        plan = {(layer, head): policy for layer, attn in enumerate(layers)
                for head in range(attn.n_heads)}  # fmt: skip
    elif isinstance(policy, Mapping):
        plan = {}
        for key, value in policy.items():
            if not _is_head_key(key):
                raise TypeError(f"policy keys must be (layer, head) pairs of ints, got {key!r}")
            layer, head = key
            if not 0 <= layer < len(layers) or not 0 <= head < layers[layer].n_heads:
                raise ValueError(
                    f"policy names head {key}, but the model has {len(layers)} layers of "
                    f"{layers[0].n_heads} heads"
                )
            if not isinstance(value, CachePolicy):
                raise TypeError(f"policy[{key}] must be a CachePolicy, got {type(value).__name__}")
            plan[key] = value
    else:
        raise TypeError(
            "policy must be a CachePolicy or a {(layer, head): CachePolicy} dict, "
            f"got {type(policy).__name__}"
        )
    before = [attn.cache_policy for attn in layers]
    try:
        for layer, attn in enumerate(layers):
            heads = tuple(plan.get((layer, head), FULL) for head in range(attn.n_heads))
            attn.cache_policy = None if all(p.full for p in heads) else heads
        yield model
    finally:
        for attn, old in zip(layers, before, strict=True):
            attn.cache_policy = old


def _is_head_key(key: object) -> bool:
    return (
        isinstance(key, tuple)
        and len(key) == 2
        and all(isinstance(i, int) and not isinstance(i, bool) for i in key)
    )


def _attention_layers(model: nn.Module) -> list[nn.Module]:
    blocks = getattr(model, "blocks", None)
    layers = [getattr(block, "attn", None) for block in blocks] if blocks is not None else []
    if not layers or not all(hasattr(attn, "cache_policy") for attn in layers):
        raise TypeError(
            "model must be a TinyTransformer whose blocks use softmax-family attention "
            f"(mixer='attention'), got {type(model).__name__}"
        )
    return layers


# attend_under_policies is the Attention block's own step (its caller checks the policies)
__all__ = ["FULL", "CachePolicy", "cache_policies"]
