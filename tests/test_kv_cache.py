"""Cache policies (attnviz.kv_cache): one masked pass equals decoding with an evicting cache.

The reference below decodes one token at a time, as an inference server would: every
head of every layer keeps its own KV cache of the first ``sinks`` tokens and the last
``window`` ones, keys stored before rotation; when a token is read, each cached key is
rotated by its slot in the cache and the query by its own slot (StreamingLLM, Xiao et al.
ICLR 2024, PAPERS.md §6). It reuses the model's weights only, never
``attnviz.kv_cache``, and must give the same logits as one forward pass under
``cache_policies``.
"""

from __future__ import annotations

import math

import pytest
import torch

from attnviz.kv_cache import FULL, CachePolicy, cache_policies
from attnviz.mixers import apply_rope
from attnviz.models import TinyConfig, TinyTransformer

VOCAB, T = 11, 12


def _model(**changes) -> TinyTransformer:
    config = dict(n_layers=2, n_heads=3, d_model=12, vocab_size=VOCAB, context=32,
                  positional="rope")  # fmt: skip
    model = TinyTransformer(TinyConfig(**{**config, **changes}), seed=3).double().eval()
    with torch.no_grad():  # larger weights than the init's, so the policies matter
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(2.0)
    return model


def _ids(batch: int = 2, length: int = T) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(1))


def _kept(policy: CachePolicy, t: int) -> list[int]:
    """The tokens a cache under ``policy`` holds after token t was added, in slot order."""
    if policy.window is None:
        return list(range(t + 1))
    return [s for s in range(t + 1) if s < policy.sinks or s > t - policy.window]


@torch.no_grad()
def _decode(model: TinyTransformer, ids: torch.Tensor, policies) -> torch.Tensor:
    """Logits (B, T, vocab) by token-by-token decoding with per-head evicting KV caches."""
    config = model.config
    n_heads, d_head = config.n_heads, config.d_model // config.n_heads
    batch, length = ids.shape
    keys = [[{} for _ in range(n_heads)] for _ in model.blocks]  # token -> unrotated key
    values = [[{} for _ in range(n_heads)] for _ in model.blocks]
    logits = []
    for t in range(length):
        x = model.embed(ids[:, t])  # (B, d_model)
        for layer, block in enumerate(model.blocks):
            attn = block.attn
            h = block.ln_attn(x)
            q, k, v = attn.qkv(h).split(config.d_model, dim=-1)
            q, k, v = (z.view(batch, n_heads, d_head) for z in (q, k, v))
            heads = []
            for head in range(n_heads):
                policy = policies[layer, head]
                keys[layer][head][t], values[layer][head][t] = k[:, head], v[:, head]
                kept = _kept(policy, t)
                for s in list(keys[layer][head]):  # evict
                    if s not in kept:
                        del keys[layer][head][s], values[layer][head][s]
                cached_k = torch.stack([keys[layer][head][s] for s in kept], dim=1)  # (B, C, d)
                cached_v = torch.stack([values[layer][head][s] for s in kept], dim=1)
                slots = torch.arange(len(kept))
                k_rot = apply_rope(cached_k, attn.rope_cos[slots], attn.rope_sin[slots])
                q_slot = slots[-1:]  # the query sits in the last slot: its own token's
                q_rot = apply_rope(q[:, head, None], attn.rope_cos[q_slot], attn.rope_sin[q_slot])
                scores = (q_rot @ k_rot.mT)[:, 0] / math.sqrt(d_head)  # (B, C)
                if config.operator == "sigmoid":
                    weights = torch.sigmoid(scores)
                else:
                    weights = torch.softmax(scores, dim=-1)
                heads.append((weights[:, :, None] * cached_v).sum(dim=1))  # (B, d)
            z = torch.stack(heads, dim=1)  # (B, H, d)
            if attn.gate is not None:
                z = z * torch.sigmoid(attn.gate(h))[:, :, None]
            x = x + attn.out(z.reshape(batch, config.d_model))
            if block.mlp is not None:
                x = x + block.mlp(block.ln_mlp(x))
        logits.append(model.unembed(model.ln_final(x)))
    return torch.stack(logits, dim=1)


def _every_head(model: TinyTransformer, policy: CachePolicy) -> dict:
    return {(layer, head): policy for layer in range(model.config.n_layers)
            for head in range(model.config.n_heads)}  # fmt: skip


POLICIES = [
    CachePolicy(window=1),
    CachePolicy(window=3),
    CachePolicy(sinks=1, window=3),
    CachePolicy(sinks=2, window=4),
    CachePolicy(sinks=4, window=1),
    CachePolicy(sinks=T + 5, window=2),  # more sinks than tokens: the whole past
    CachePolicy(sinks=1, window=T + 5),  # a window longer than the input
]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.label())
@pytest.mark.parametrize("changes", [{}, {"operator": "sigmoid"}, {"output_gate": True}],
                         ids=["softmax", "sigmoid", "gated"])  # fmt: skip
def test_one_masked_pass_equals_decoding_with_an_evicting_cache(policy, changes):
    model, ids = _model(**changes), _ids()
    with torch.no_grad(), cache_policies(model, policy):
        masked = model(ids)
    reference = _decode(model, ids, _every_head(model, policy))
    torch.testing.assert_close(masked, reference, rtol=0, atol=1e-5)


def test_a_sliding_window_changes_the_logits_and_sinks_change_them_again():
    """The comparison above is not vacuous: the policies change what the model says."""
    model, ids = _model(), _ids()
    with torch.no_grad():
        full = model(ids)
        with cache_policies(model, CachePolicy(window=2)):
            window = model(ids)
        with cache_policies(model, CachePolicy(sinks=1, window=2)):
            sink = model(ids)
    assert (full - window).abs().max() > 1e-3
    assert (window - sink).abs().max() > 1e-3
    torch.testing.assert_close(full[:, :2], window[:, :2])  # the first 2 tokens see it all


def test_per_head_policies_equal_decoding_with_per_head_caches():
    """DuoAttention's mixed cache: named heads stream, the others keep everything."""
    model, ids = _model(), _ids()
    plan = {(0, 1): CachePolicy(sinks=1, window=2), (1, 0): CachePolicy(window=3),
            (1, 2): CachePolicy(sinks=3, window=1)}  # fmt: skip
    with torch.no_grad(), cache_policies(model, plan):
        masked = model(ids)
    reference = _decode(model, ids, {**_every_head(model, FULL), **plan})
    torch.testing.assert_close(masked, reference, rtol=0, atol=1e-5)


def test_the_full_policy_is_the_plain_forward_and_the_block_restores_the_model():
    model, ids = _model(), _ids()
    with torch.no_grad():
        plain = model(ids)
        with cache_policies(model, FULL):
            full = model(ids)
        with cache_policies(model, {(0, 0): FULL}):
            named = model(ids)
        with cache_policies(model, CachePolicy(window=2)):
            pass
        after = model(ids)
    assert torch.equal(plain, full) and torch.equal(plain, named) and torch.equal(plain, after)
    torch.testing.assert_close(plain, _decode(model, ids, _every_head(model, FULL)),
                               rtol=0, atol=1e-5)  # fmt: skip
    assert all(block.attn.cache_policy is None for block in model.blocks)


def test_the_policy_is_restored_after_an_error_inside_the_block():
    model = _model()
    with pytest.raises(RuntimeError), cache_policies(model, CachePolicy(window=2)):
        raise RuntimeError("boom")
    assert all(block.attn.cache_policy is None for block in model.blocks)


def test_a_policy_keeps_the_sinks_and_the_window():
    policy = CachePolicy(sinks=2, window=3)
    keeps = policy.keeps(8)
    for t in range(8):
        assert keeps[t].nonzero().flatten().tolist() == _kept(policy, t)
    assert [policy.cache_size(n) for n in (1, 4, 5, 6, 100)] == [1, 4, 5, 5, 5]
    assert policy.sink_query_slots(8).tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    assert FULL.keeps(4).equal(torch.ones(4, 4, dtype=torch.bool).tril())
    assert FULL.cache_size(7) == 7 and FULL.full and not policy.full
    labels = [p.label() for p in (FULL, CachePolicy(window=64), CachePolicy(sinks=1, window=64),
                                  CachePolicy(sinks=4, window=64))]  # fmt: skip
    assert labels == ["full", "window 64", "1 sink + window 64", "4 sinks + window 64"]


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"sinks": -1, "window": 4}, ValueError, "sinks"),
        ({"sinks": 2}, ValueError, "sinks must be 0"),
        ({"window": 0}, ValueError, "window"),
        ({"window": 2.5}, TypeError, "window"),
        ({"sinks": "1", "window": 3}, TypeError, "sinks"),
        ({"window": 2**17}, ValueError, "window"),
    ],
)
def test_a_policy_refuses_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        CachePolicy(**kwargs)


def test_cache_policies_refuses_bad_plans():
    model = _model()
    with pytest.raises(TypeError, match="policy must be"), cache_policies(model, "window"):
        pass
    with pytest.raises(ValueError, match=r"\(2, 0\)"), cache_policies(model, {(2, 0): FULL}):
        pass
    with pytest.raises(TypeError, match="pairs"), cache_policies(model, {0: FULL}):
        pass
    with pytest.raises(TypeError, match=r"policy\[\(0, 0\)\]"), cache_policies(model, {(0, 0): 3}):
        pass
    linear = TinyTransformer(TinyConfig(n_layers=1, d_model=8, vocab_size=VOCAB, context=8,
                                        mixer="linear_attention"), seed=0)  # fmt: skip
    with pytest.raises(TypeError, match="model"), cache_policies(linear, FULL):
        pass
    assert all(block.attn.cache_policy is None for block in model.blocks)


def test_a_policy_refuses_models_it_cannot_cache():
    with pytest.warns(DeprecationWarning):
        config = TinyConfig(n_layers=1, d_model=8, vocab_size=VOCAB, context=8, operator="linear")
    model = TinyTransformer(config, seed=0)
    with pytest.raises(ValueError, match="operator"), cache_policies(model, CachePolicy(window=2)):
        model(_ids(1, 4))
