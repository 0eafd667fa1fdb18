"""maps: capture attention from a model, score heads on patterns whose answer is known."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from attnviz.maps import (
    AttentionMaps,
    ablate,
    ablation_table,
    capture,
    detection_pattern,
    downsample,
    duplicate_token_score,
    entropy,
    head_entropy,
    head_scores,
    induction_score,
    pattern_score,
    preset_input,
    previous_token_score,
    read_heads,
    retrieval_score,
    retrieval_trace,
    rollout,
    sink_fraction,
    sink_score,
    token_importance,
    window,
)
from attnviz.models import TinyConfig, TinyTransformer
from attnviz.tasks import needle

# ---------------------------------------------------------------------------
# A stand-in with the hook points of attnviz.models.TinyTransformer
# ---------------------------------------------------------------------------


@dataclass
class StandInConfig:
    n_layers: int = 2
    n_heads: int = 2
    vocab_size: int = 16
    context: int = 32
    d_model: int = 16


class StandInAttention(nn.Module):
    """Causal softmax attention with TinyTransformer's hook_pattern and hook_z."""

    def __init__(self, config: StandInConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.hook_pattern = nn.Identity()
        self.hook_z = nn.Identity()
        self.last_pattern: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (y.view(b, t, self.n_heads, -1).transpose(1, 2) for y in (q, k, v))  # (B,H,T,dh)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, T)
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        pattern = self.hook_pattern(scores.masked_fill(~causal, float("-inf")).softmax(-1))
        self.last_pattern = pattern.detach().clone()
        z = self.hook_z(pattern @ v)  # (B, H, T, dh)
        return self.proj(z.transpose(1, 2).reshape(b, t, d))


class StandInBlock(nn.Module):
    def __init__(self, config: StandInConfig) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(config.d_model)
        self.attn = StandInAttention(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attn(self.ln(x))


class StandInTiny(nn.Module):
    """Attention-only transformer: the TinyTransformer contract, nothing more."""

    def __init__(self, config: StandInConfig | None = None, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.config = config or StandInConfig()
        c = self.config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        self.pos = nn.Embedding(c.context, c.d_model)
        self.blocks = nn.ModuleList(StandInBlock(c) for _ in range(c.n_layers))
        self.dropout = nn.Dropout(0.5)
        self.unembed = nn.Linear(c.d_model, c.vocab_size)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids) + self.pos(torch.arange(input_ids.shape[1]))
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x)
        return self.unembed(x)  # (B, T, vocab)


def _ids(t=10, b=None, seed=0, vocab=16):
    g = torch.Generator().manual_seed(seed)
    shape = (t,) if b is None else (b, t)
    return torch.randint(0, vocab, shape, generator=g)


# ---------------------------------------------------------------------------
# capture
# ---------------------------------------------------------------------------


def test_capture_keeps_every_layer_and_head_of_a_tiny_transformer():
    model = StandInTiny().eval()
    ids = _ids(10)
    maps = capture(model, ids)
    assert (maps.n_layers, maps.n_heads, maps.seq_len) == (2, 2, 10)
    assert maps.weights.shape == (2, 2, 10, 10)
    for layer, block in enumerate(model.blocks):
        np.testing.assert_allclose(maps.layer(layer), block.attn.last_pattern[0].numpy())
    np.testing.assert_allclose(maps.weights.sum(-1), 1, atol=1e-5)
    assert np.all(np.triu(maps.weights, 1) == 0)  # causal
    assert maps.tokens == [str(int(i)) for i in ids]
    np.testing.assert_array_equal(maps.input_ids, ids.numpy())
    assert maps.head(1, 0).shape == (10, 10)
    assert "StandInTiny" in repr(maps)


def test_a_long_capture_keeps_the_maps_the_kernels_wrote_and_equals_the_reference(monkeypatch):
    # from BLOCKED_SCORES on, each layer's blocked attention writes straight into its slice
    # of capture's (L, B, H, T, T) array, which becomes the maps with no stacking copy
    import attnviz.maps.capturing as capturing
    from attnviz.kernels import attention as attention_module

    config = TinyConfig(n_layers=2, n_heads=2, d_model=16, vocab_size=20, context=64)
    model = TinyTransformer(config, seed=3)
    ids = torch.randint(0, 20, (64,), generator=torch.Generator().manual_seed(1))
    reference = capture(model, ids).weights  # 64 x 64 < BLOCKED_SCORES: the reference kernel
    for module in (attention_module, capturing):
        monkeypatch.setattr(module, "BLOCKED_SCORES", 64 * 64)
    kept = []

    def stack_layers(model, layers, into=None):
        stacked = forward_stack_layers(model, layers, into=into)
        kept.append(into is not None and stacked is into)
        return stacked

    forward_stack_layers = capturing.stack_layers
    monkeypatch.setattr(capturing, "stack_layers", stack_layers)
    long = capture(model, ids).weights
    np.testing.assert_allclose(long, reference, rtol=1e-5, atol=1e-7)
    assert kept == [True]


def test_capture_runs_in_eval_mode_and_restores_the_model():
    model = StandInTiny().train()
    first = capture(model, _ids(8)).weights
    second = capture(model, _ids(8)).weights
    np.testing.assert_array_equal(first, second)  # dropout was off
    assert model.training and model.dropout.training
    assert all(not m._forward_hooks for m in model.modules())


def test_capture_batch_keeps_the_chosen_row():
    model = StandInTiny().eval()
    ids = _ids(7, b=3)
    row = capture(model, ids, batch_index=2)
    alone = capture(model, ids[2])
    np.testing.assert_allclose(row.weights, alone.weights, atol=1e-6)
    np.testing.assert_array_equal(row.input_ids, ids[2].numpy())
    np.testing.assert_array_equal(capture(model, ids[:1]).weights, capture(model, ids[0]).weights)
    assert capture(model, ids[0].tolist()).seq_len == 7
    with pytest.raises(ValueError, match=r"batch_index must be an integer in \[0, 2\], got 3"):
        capture(model, ids, batch_index=3)


def test_capture_token_labels():
    model = StandInTiny().eval()
    ids = _ids(4)
    labels = ["a", "b", "c", "d"]
    assert capture(model, ids, tokens=labels).tokens == labels

    class Tokenizer:
        def convert_ids_to_tokens(self, ids):
            return [f"<{i}>" for i in ids]

    assert capture(model, ids, tokens=Tokenizer()).tokens == [f"<{int(i)}>" for i in ids]
    with pytest.raises(ValueError, match="tokens must hold 4 strings"):
        capture(model, ids, tokens=["a"])
    with pytest.raises(TypeError, match="tokens must be a tokenizer"):
        capture(model, ids, tokens=3)


def test_capture_rejects_bad_input_ids_naming_the_allowed_range():
    model = StandInTiny().eval()
    with pytest.raises(ValueError, match=r"input_ids must be token ids in \[0, 15\].*got 16"):
        capture(model, torch.tensor([1, 16]))
    with pytest.raises(ValueError, match=r"input_ids must be token ids in \[0, 15\].*got -1"):
        capture(model, [-1, 2])
    with pytest.raises(ValueError, match=r"input_ids must have between 1 and 32 positions.*got 33"):
        capture(model, _ids(33))
    with pytest.raises(ValueError, match=r"input_ids must have between 1 and 32 positions.*got 0"):
        capture(model, torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="input_ids must hold at least one sequence"):
        capture(model, torch.zeros(0, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"input_ids must have shape \(T,\) or \(batch, T\)"):
        capture(model, torch.zeros(1, 2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="input_ids must be integer token ids"):
        capture(model, torch.randn(5))
    with pytest.raises(TypeError, match="input_ids must be integer token ids"):
        capture(model, [0.5, 1.5])


def test_capture_names_a_model_without_attention():
    with pytest.raises(TypeError, match="model Linear has no attention"):
        capture(nn.Linear(3, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"):
        capture("gpt2", [1, 2])


def test_capture_names_hook_points_that_never_ran():
    class Linearish(nn.Module):  # declares hook_pattern but forms no T×T pattern
        def __init__(self):
            super().__init__()
            self.hook_pattern = nn.Identity()

        def forward(self, ids):
            return ids.float()

    with pytest.raises(TypeError, match="did not compute attention weights"):
        capture(Linearish(), [1, 2, 3])


def _real_tiny(**overrides):
    config = dict(n_layers=2, n_heads=2, d_model=16, vocab_size=16, context=32)
    return TinyTransformer(TinyConfig(**{**config, **overrides}), seed=0).eval()


def test_capture_the_real_tiny_transformer():
    model = _real_tiny()
    ids = _ids(12)
    maps = capture(model, ids)
    assert maps.weights.shape == (2, 2, 12, 12)
    np.testing.assert_allclose(maps.weights.sum(-1), 1, atol=1e-5)
    manual = []
    handles = [
        block.attn.hook_pattern.register_forward_hook(lambda m, a, o: manual.append(o[0]))
        for block in model.blocks
    ]
    with torch.no_grad():
        model(ids[None])
    for h in handles:
        h.remove()
    np.testing.assert_allclose(maps.weights, torch.stack(manual).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match=r"input_ids must be token ids in \[0, 15\]"):
        capture(model, [16])
    with pytest.raises(ValueError, match=r"input_ids must have between 1 and 32 positions"):
        capture(model, _ids(40))


def test_ablating_heads_of_the_real_tiny_transformer():
    model = _real_tiny(attention_only=True)
    ids = _ids(12, b=2)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    table = ablation_table(model, inputs, targets)
    assert table.shape == (2, 2)
    assert table[1, 0] == pytest.approx(ablate(model, inputs, targets, [(1, 0)]))
    with torch.no_grad():  # zeroing head 0's z = zeroing its columns of W_O
        logits_clean = model(inputs)
        model.blocks[1].attn.out.weight[:, : model.config.d_head] = 0
        logits_cut = model(inputs)
    ce = nn.functional.cross_entropy
    expected = ce(logits_cut.double().flatten(0, 1), targets.flatten()) - ce(
        logits_clean.double().flatten(0, 1), targets.flatten()
    )
    assert table[1, 0] == pytest.approx(float(expected), abs=1e-6)


def test_needle_task_plugs_into_retrieval_and_ablation():
    data = needle(2, haystack_len=10, vocab=16, seed=0, needle_len=3)
    model = _real_tiny()
    query = int(data.spans["answer"][0, 0]) - 1  # the QUERY token
    prompt = data.input_ids[0, : query + 1]
    trace = retrieval_trace(model, prompt, data.spans["needle"][0], n_generate=3)
    assert trace.scores.shape == (2, 2) and trace.generated.shape == (3,)
    assert np.all(np.isin(trace.scores, [0, 1 / 3, 2 / 3, 1]))
    # targets carry -100 where there is no loss; ablation scores only the answer
    delta = ablate(model, data.input_ids, data.targets, [(0, 0)], mode="mean")
    assert np.isfinite(delta)


def _encoder(layers=2, batch_first=True):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=batch_first)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False).eval()


def test_capture_transformer_encoder_despite_its_fast_path():
    encoder = _encoder()
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        before = encoder(x)
    maps = capture(encoder, x, batch_index=1)
    assert maps.weights.shape == (2, 2, 5, 5)
    assert maps.input_ids is None and maps.tokens == ["0", "1", "2", "3", "4"]
    h = x
    with torch.no_grad():
        for layer, module in enumerate(encoder.layers):
            _, w = module.self_attn(h, h, h, need_weights=True, average_attn_weights=False)
            np.testing.assert_allclose(maps.layer(layer), w[1].numpy(), atol=1e-6)
            h = module(h)
        torch.testing.assert_close(encoder(x), before)
    assert torch.backends.mha.get_fastpath_enabled()
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in encoder.modules())
    encoder.train()  # dropout 0.1 is switched off for the capture, then back on
    np.testing.assert_array_equal(capture(encoder, x, batch_index=1).weights, maps.weights)
    assert encoder.training and encoder.layers[0].dropout.training


def test_capture_bare_multihead_attention_batched_and_not():
    torch.manual_seed(1)
    mha = nn.MultiheadAttention(8, 4).eval()
    x = torch.randn(6, 3, 8)  # (T, B, E): batch_first=False
    _, expected = mha(x, x, x, average_attn_weights=False)  # (B, H, T, T)
    maps = capture(mha, x, batch_index=2)
    np.testing.assert_allclose(maps.weights[0], expected[2].detach().numpy(), atol=1e-6)
    single = capture(mha, x[:, 0])  # unbatched (T, E)
    np.testing.assert_allclose(single.weights[0], expected[0].detach().numpy(), atol=1e-6)


def test_capture_overrides_need_weights_given_positionally():
    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 8)
            self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, ids):
            x = self.embed(ids)
            return self.mha(x, x, x, None, False, None, True)[0]  # need_weights=False, averaged

    model = Wrapper()
    maps = capture(model, [1, 2, 3, 9])
    assert maps.weights.shape == (1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"input_ids must be token ids in \[0, 9\]"):
        capture(model, [10])


def test_attention_maps_checks_what_it_holds():
    with pytest.raises(ValueError, match=r"weights must have shape \(layers, heads, query, key\)"):
        AttentionMaps(np.zeros((2, 3, 3)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="tokens must be 3 strings"):
        AttentionMaps(np.zeros((1, 1, 3, 3)), ["a"])
    maps = AttentionMaps(np.zeros((1, 1, 3, 3)), ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"head must be an integer in \[0, 0\], got 1"):
        maps.head(0, 1)


# ---------------------------------------------------------------------------
# Head scores on hand-built patterns
# ---------------------------------------------------------------------------


def _uniform_causal(t):
    return np.tril(np.ones((t, t))) / np.arange(1, t + 1)[:, None]


def _random_causal(t, heads=3, seed=0):
    rng = np.random.default_rng(seed)
    a = np.tril(rng.random((2, heads, t, t)) ** 4)
    return a / a.sum(-1, keepdims=True)


def _previous_token_pattern(t):
    a = np.eye(t, k=-1)
    a[0, 0] = 1  # the first query can only look at itself
    return a


def test_perfect_previous_token_head_scores_one():
    t = 12
    a = _previous_token_pattern(t)
    assert previous_token_score(a)[0, 0] == pytest.approx((t - 1) / t)
    assert previous_token_score(a, exclude_current_token=True)[0, 0] == pytest.approx(1.0)
    assert previous_token_score(np.eye(t))[0, 0] == 0


def test_uniform_head_scores_one_over_i_on_each_row():
    t = 9
    # row i spreads 1/(i+1) over its keys, so the previous key gets 1/(i+1)
    expected = sum(1 / (i + 1) for i in range(1, t)) / t
    assert previous_token_score(_uniform_causal(t))[0, 0] == pytest.approx(expected)


def test_previous_token_score_matches_the_diagonal_shortcut():
    t = 10
    a = _random_causal(t)
    shortcut = np.diagonal(a, offset=-1, axis1=-2, axis2=-1).mean(-1)  # mean of the −1 diagonal
    np.testing.assert_allclose(previous_token_score(a), shortcut * (t - 1) / t)


def _repeated(n=6, bos=0, seed=3):
    rng = np.random.default_rng(seed)
    r = rng.choice(np.arange(1, 20), size=n, replace=False)
    return np.concatenate([[bos], r, r])  # [BOS, r1..rn, r1..rn], length 2n+1


def test_detection_patterns_follow_transformer_lens():
    ids = [5, 1, 2, 1, 2]
    dup = detection_pattern("duplicate_token", ids)
    ind = detection_pattern("induction", ids)
    assert set(zip(*np.nonzero(dup), strict=True)) == {(3, 1), (4, 2)}
    assert set(zip(*np.nonzero(ind), strict=True)) == {(3, 2), (4, 3)}
    np.testing.assert_array_equal(detection_pattern("previous_token", ids), np.eye(5, k=-1))
    with pytest.raises(ValueError, match="kind must be one of"):
        detection_pattern("copy", ids)


def test_perfect_induction_head_scores_one():
    n = 6
    ids = _repeated(n)
    t = ids.size
    a = np.zeros((t, t))
    a[: n + 1, 0] = 1  # first half: nothing to predict yet, park on BOS
    for q in range(n + 1, t):
        a[q, q - (n - 1)] = 1  # the token after the earlier copy
    assert induction_score(a, ids, exclude_bos=True)[0, 0] == pytest.approx(1.0)
    assert induction_score(a, ids)[0, 0] == pytest.approx(n / t)
    assert duplicate_token_score(a, ids, exclude_bos=True)[0, 0] == 0
    # the duplicate-token head looks one place earlier: at the copy itself
    d = np.zeros((t, t))
    d[: n + 1, 0] = 1
    for q in range(n + 1, t):
        d[q, q - n] = 1
    assert duplicate_token_score(d, ids, exclude_bos=True)[0, 0] == pytest.approx(1.0)
    assert induction_score(d, ids, exclude_bos=True)[0, 0] == 0


def test_induction_score_matches_the_stripe_shortcut():
    n = 7
    ids = _repeated(n)
    t = ids.size
    a = _random_causal(t, seed=1)
    # mean attention on the −(n−1) stripe over the second half's queries
    stripe = np.stack([a[..., q, q - (n - 1)] for q in range(n + 1, t)], -1).mean(-1)
    np.testing.assert_allclose(induction_score(a, ids), stripe * n / t)


def test_scores_read_ids_from_the_maps_and_ask_for_them_otherwise():
    ids = _repeated(4)
    t = ids.size
    maps = AttentionMaps(_uniform_causal(t)[None, None], [str(i) for i in ids], ids)
    np.testing.assert_allclose(induction_score(maps), induction_score(maps.weights, ids))
    assert set(head_scores(maps)) == {
        "previous_token",
        "duplicate_token",
        "induction",
        "sink",
        "entropy",
    }
    with pytest.raises(ValueError, match="input_ids is required"):
        induction_score(maps.weights)
    with pytest.raises(ValueError, match=f"input_ids must have {t} entries"):
        duplicate_token_score(maps.weights, ids[:-1])


def test_abs_error_measure_is_one_for_an_exact_match():
    t = 8
    a = _previous_token_pattern(t)
    score = previous_token_score(a, exclude_current_token=True, error_measure="abs")
    assert score[0, 0] == pytest.approx(1.0)
    assert previous_token_score(np.eye(t), error_measure="abs")[0, 0] < 0
    with pytest.raises(ValueError, match=r"error_measure must be one of \('mul', 'abs'\)"):
        previous_token_score(a, error_measure="l2")


def test_scores_validate_the_weights():
    with pytest.raises(ValueError, match=r"maps must have shape \(layers, heads, T, T\)"):
        previous_token_score(np.ones((3, 4)))
    with pytest.raises(ValueError, match="maps must hold finite, non-negative"):
        sink_score(-np.eye(3))
    with pytest.raises(TypeError, match="maps must be an AttentionMaps"):
        entropy(object())
    with pytest.raises(ValueError, match=r"pattern must have shape \(3, 3\)"):
        pattern_score(np.eye(3), np.eye(4))


def test_sink_score_of_a_head_that_parks_on_the_first_token():
    t = 16
    first = np.zeros((t, t))
    first[:, 0] = 1
    uniform = _uniform_causal(t)
    a = np.stack([first, uniform, np.eye(t)])[None]  # (1, 3, T, T)
    harmonic = sum(1 / k for k in range(1, t + 1))
    np.testing.assert_allclose(sink_score(a)[0], [1.0, harmonic / t, 1 / t])  # 1/T ≤ α₁ ≤ 1
    assert sink_fraction(a) == pytest.approx(1 / 3)  # only the parked head has α₁ > 0.3
    assert sink_fraction(a, eps=0.1) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=r"eps must be in \[0, 1\], got 2"):
        sink_fraction(a, eps=2)


def test_token_importance_is_the_mean_attention_a_key_receives():
    t = 7
    alpha = token_importance(_uniform_causal(t))[0, 0]
    expected = [sum(1 / (q + 1) for q in range(k, t)) / (t - k) for k in range(t)]
    np.testing.assert_allclose(alpha, expected)
    a = _random_causal(t)
    np.testing.assert_allclose(token_importance(a)[..., 2], sink_score(a, position=2))
    with pytest.raises(ValueError, match=r"position must be an integer in \[0, 6\], got 7"):
        sink_score(a, position=7)


def test_entropy_is_zero_for_a_focused_head_and_log_n_for_a_uniform_one():
    t = 8
    assert entropy(np.eye(t))[0, 0] == 0
    expected = np.mean([math.log(i + 1) for i in range(t)])
    assert entropy(_uniform_causal(t))[0, 0] == pytest.approx(expected)
    assert entropy(_uniform_causal(t), normalize=True)[0, 0] == pytest.approx(1.0)
    full = np.full((t, t), 1 / t)  # bidirectional
    assert entropy(full)[0, 0] == pytest.approx(math.log(t))
    assert entropy(full, normalize=True)[0, 0] == pytest.approx(1.0)
    per_query = entropy(_uniform_causal(t), per_query=True)[0, 0]
    np.testing.assert_allclose(per_query, np.log(np.arange(1, t + 1)))


def _entropy_float64(weights, normalize=False):
    """The definition, in float64 numpy: what the block-wise torch entropy is held to."""
    a = np.asarray(weights, dtype=np.float64)
    t = a.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = -np.where(a > 0, a * np.log(a), 0.0).sum(-1)
    if not normalize:
        return rows.mean(-1)
    causal = not np.any(np.triu(a, 1))
    visible = np.arange(1, t + 1) if causal else np.full(t, t)
    return (rows[..., visible > 1] / np.log(visible[visible > 1])).mean(-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_entropy_block_by_block_equals_the_float64_definition(monkeypatch, dtype):
    from attnviz.maps import focus

    monkeypatch.setattr(focus, "_BLOCK_ELEMENTS", 3 * 2 * 13)  # blocks of 3 rows, ragged end
    causal = _random_causal(13).astype(dtype)
    causal[0, 1, 5] = 0  # a query that attends nowhere
    leaky = causal.copy()
    leaky[1, 2, 7, 11] = 0.5  # one weight after its query, mid-sequence: not causal
    for weights in (causal, leaky):
        for normalize in (False, True):
            expected = _entropy_float64(weights, normalize)
            tolerance = 1e-6 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(
                entropy(weights, normalize=normalize), expected, rtol=tolerance
            )
        both = head_entropy(weights)
        np.testing.assert_array_equal(both.nats, entropy(weights))
        np.testing.assert_array_equal(both.normalized, entropy(weights, normalize=True))
    inside = causal.copy()
    inside[0, 0, 4, 5] = 0.25  # after its query inside a block's diagonal square
    assert entropy(inside, normalize=True)[0, 0] == pytest.approx(
        _entropy_float64(inside, normalize=True)[0, 0], rel=1e-6
    )


def test_attention_maps_and_entropy_refuse_negative_and_nan_weights_by_name():
    t = 6
    a = _uniform_causal(t)
    for bad in (-0.5, np.nan):
        odd = a.copy()
        odd[2, 0] = bad
        with pytest.raises(ValueError, match="weights must hold finite, non-negative"):
            AttentionMaps(odd[None, None], [str(i) for i in range(t)])
        with pytest.raises(ValueError, match="maps must hold finite, non-negative"):
            entropy(odd)
    zero = a.copy()
    zero[2, 0] = 0.0  # zero weights add nothing, as 0 ln 0 = 0
    np.testing.assert_allclose(
        entropy(zero, per_query=True)[0, 0],
        -np.array([sum(x * math.log(x) for x in row if x > 0) for row in zero]),
    )


def test_rollout_adds_the_residual_and_multiplies_through_layers():
    t = 6
    a = _random_causal(t, heads=2)
    r = rollout(a)
    one = 0.5 * np.eye(t) + 0.5 * a[0].mean(0)
    two = 0.5 * np.eye(t) + 0.5 * a[1].mean(0)
    np.testing.assert_allclose(r[0], one)
    np.testing.assert_allclose(r[1], two @ one)
    np.testing.assert_allclose(r.sum(-1), 1)
    np.testing.assert_allclose(rollout(a, residual=0)[1], a[1].mean(0) @ a[0].mean(0))
    np.testing.assert_allclose(rollout(a, residual=1)[1], np.eye(t))
    with pytest.raises(ValueError, match=r"residual must be in \[0, 1\]"):
        rollout(a, residual=1.5)


# ---------------------------------------------------------------------------
# Retrieval on the needle task, with a hand-built induction model
# ---------------------------------------------------------------------------


class InductionCopier(nn.Module):
    """One layer, two heads. Head 0: induction (attend to what followed the last earlier
    copy of the current token) and copy that token out. Head 1: park on position 0."""

    def __init__(self, vocab=20, context=64):
        super().__init__()
        self.config = StandInConfig(n_layers=1, n_heads=2, vocab_size=vocab, context=context)
        self.attn = nn.Module()
        self.attn.hook_pattern = nn.Identity()

    def forward(self, ids):
        b, t = ids.shape
        pattern = torch.zeros(b, 2, t, t)
        logits = torch.zeros(b, t, self.config.vocab_size)
        for i in range(b):
            for q in range(t):
                earlier = [j for j in range(1, q + 1) if ids[i, j - 1] == ids[i, q] and j - 1 < q]
                target = earlier[-1] if earlier else q
                pattern[i, 0, q, target] = 1
                logits[i, q, ids[i, target]] = 10
        pattern[:, 1, :, 0] = 1
        self.attn.hook_pattern(pattern)
        return logits


def test_an_induction_head_is_a_retrieval_head_on_the_needle_task():
    haystack = [10, 11, 12, 13, 14, 15]
    needle = [3, 4, 5, 6]
    prompt = haystack + needle + [16, 17, 18] + [3]  # ... question: continue from "3"
    start = len(haystack)
    trace = retrieval_trace(InductionCopier(), prompt, (start, start + 4), n_generate=4)
    assert trace.generated.tolist() == [4, 5, 6, 16]  # the needle, then back to the haystack
    assert trace.copies[:, 0, 0].tolist() == [True, True, True, False]
    np.testing.assert_allclose(trace.scores, [[3 / 4, 0.0]])  # head 0 ≥ 0.1: a retrieval head
    assert trace.argmax_positions.shape == (4, 1, 2)
    np.testing.assert_allclose(
        retrieval_score(InductionCopier(), prompt, (start, start + 4), n_generate=4), trace.scores
    )


def test_retrieval_validates_its_arguments():
    model = InductionCopier(context=12)
    prompt = list(range(10))
    with pytest.raises(ValueError, match=r"needle end must be an integer in \[3, 10\], got 11"):
        retrieval_score(model, prompt, (2, 11), n_generate=1)
    with pytest.raises(ValueError, match=r"n_generate must be an integer in \[1, 3\], got 4"):
        retrieval_score(model, prompt, (2, 4), n_generate=4)
    with pytest.raises(TypeError, match=r"needle must be a \(start, end\) pair"):
        retrieval_score(model, prompt, 3, n_generate=1)
    with pytest.raises(TypeError, match="returns no .* logits"):
        retrieval_score(_encoder_on_ids(), [1, 2, 3], (0, 1), n_generate=1)


def _encoder_on_ids():
    class Embedded(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 8)
            self.encoder = _encoder(layers=1)

        def forward(self, ids):
            return self.encoder(self.embed(ids))

    return Embedded()


def test_retrieval_smoke_on_a_tiny_transformer():
    model = StandInTiny()
    scores = retrieval_score(model, _ids(12), (3, 7), n_generate=3)
    assert scores.shape == (2, 2) and np.all((scores >= 0) & (scores <= 1))


# ---------------------------------------------------------------------------
# Ablation
# ---------------------------------------------------------------------------


def _loss(model, ids, targets):
    with torch.no_grad():
        logits = model(ids)
    return float(nn.functional.cross_entropy(logits.double().flatten(0, 1), targets.flatten()))


def test_zero_ablating_a_head_equals_removing_its_output_weights():
    model = StandInTiny().eval()
    ids = _ids(12, b=4)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    delta = ablate(model, inputs, targets, [(1, 0)])
    clean = _loss(model, inputs, targets)
    d_head = model.config.d_model // model.config.n_heads
    with torch.no_grad():
        model.blocks[1].attn.proj.weight[:, :d_head] = 0  # head 0's slice of W_O
    assert delta == pytest.approx(_loss(model, inputs, targets) - clean, abs=1e-6)


def test_ablating_nothing_changes_nothing_and_the_table_matches_single_ablations():
    model = StandInTiny().eval()
    ids = _ids(10, b=3, seed=2)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    assert ablate(model, inputs, targets, []) == 0
    table = ablation_table(model, inputs, targets, mode="mean")
    assert table.shape == (2, 2)
    assert table[0, 1] == pytest.approx(ablate(model, inputs, targets, [(0, 1)], mode="mean"))
    mask = torch.zeros_like(targets, dtype=torch.bool)
    mask[:, -1] = True
    masked = ablate(model, inputs, targets, [(0, 0)], loss_mask=mask)
    assert masked != pytest.approx(ablate(model, inputs, targets, [(0, 0)]))


def test_ablation_skips_targets_marked_minus_100_like_cross_entropy():
    model = StandInTiny().eval()
    ids = _ids(8, b=2, seed=4)
    inputs, targets = ids[:, :-1], ids[:, 1:].clone()
    mask = torch.zeros_like(targets, dtype=torch.bool)
    mask[:, 3:] = True
    ignored = torch.where(mask, targets, -100)
    assert ablate(model, inputs, ignored, [(1, 1)]) == pytest.approx(
        ablate(model, inputs, targets, [(1, 1)], loss_mask=mask)
    )


def test_mean_ablation_of_a_single_token_batch_changes_nothing():
    model = StandInTiny().eval()
    ids = torch.tensor([[3]])  # one position: the head's mean output is its output
    assert ablate(model, ids, torch.tensor([[5]]), [(0, 0), (1, 1)], mode="mean") == pytest.approx(
        0, abs=1e-9
    )


def test_ablation_validates_its_arguments():
    model = StandInTiny().eval()
    ids = _ids(6)
    with pytest.raises(ValueError, match=r"heads head must be an integer in \[0, 1\], got 2"):
        ablate(model, ids, ids, [(0, 2)])
    with pytest.raises(ValueError, match=r"heads layer must be an integer in \[0, 1\], got 5"):
        ablate(model, ids, ids, [(5, 0)])
    with pytest.raises(TypeError, match=r"heads must be a list of \(layer, head\) pairs"):
        ablate(model, ids, ids, [0])
    with pytest.raises(ValueError, match=r"mode must be one of \('zero', 'mean'\)"):
        ablate(model, ids, ids, [], mode="resample")
    with pytest.raises(ValueError, match="targets must have the shape of input_ids"):
        ablate(model, ids, ids[:-1], [])
    with pytest.raises(ValueError, match=r"targets must be token ids in \[0, 15\] or -100"):
        ablate(model, ids, ids + 16, [])
    with pytest.raises(ValueError, match="loss_mask must keep at least one position"):
        ablate(model, ids, ids, [], loss_mask=torch.zeros(6, dtype=torch.bool))
    with pytest.raises(ValueError, match="loss_mask must keep at least one position"):
        ablate(model, ids, torch.full((6,), -100), [])
    with pytest.raises(TypeError, match="has no `hook_z` hook points"):
        ablate(_encoder_on_ids(), [1, 2], [2, 3], [])


# ---------------------------------------------------------------------------
# Long inputs: overview and window
# ---------------------------------------------------------------------------


def test_downsample_pools_uneven_blocks_exactly():
    rng = np.random.default_rng(0)
    a = rng.random((10, 7))
    pooled = downsample(a, 3)
    np.testing.assert_array_equal(pooled.row_edges, [0, 4, 8, 10])  # blocks of ceil(10 / 3)
    np.testing.assert_array_equal(pooled.col_edges, [0, 3, 6, 7])
    r, c = pooled.row_edges, pooled.col_edges
    for i in range(3):
        for j in range(3):
            block = a[r[i] : r[i + 1], c[j] : c[j + 1]]
            assert pooled.values[i, j] == block.max()
            assert downsample(a, 3, reduce="mean").values[i, j] == pytest.approx(block.mean())
    assert downsample(a, 16).values is a  # already small: unchanged
    stacked = downsample(np.stack([a, 2 * a]), 3).values  # (..., T, T) pools the last two axes
    np.testing.assert_array_equal(stacked[1], 2 * pooled.values)
    with pytest.raises(
        ValueError, match=r"max_size must be an integer in \[1, 2147483648\], got 0"
    ):
        downsample(a, 0)


def test_downsample_keeps_a_one_token_stripe_visible():
    t = 1024
    a = np.eye(t, k=-1, dtype=np.float32)
    overview = downsample(a, 64).values
    assert overview.shape == (64, 64)
    assert np.all(np.diagonal(overview) == 1)


def test_downsample_pools_a_4096_token_head_into_blocks_of_16():
    a = np.random.default_rng(0).random((4096, 4096), dtype=np.float32)
    blocks = a.reshape(256, 16, 256, 16)  # (row block, row, col block, col)
    pooled = downsample(a, 256)
    assert pooled.values.shape == (256, 256)
    np.testing.assert_array_equal(pooled.values, blocks.max(axis=(1, 3)))
    np.testing.assert_array_equal(pooled.row_edges, np.arange(257) * 16)
    np.testing.assert_allclose(
        downsample(a, 256, reduce="mean").values, blocks.mean(axis=(1, 3)), rtol=1e-5
    )


def test_window_cuts_a_labelled_region():
    a = np.arange(36.0).reshape(6, 6)
    tokens = list("abcdef")
    w = window(a, (1, 3), (0, 4), tokens=tokens)
    np.testing.assert_array_equal(w.values, a[1:3, 0:4])
    assert w.row_tokens == ["b", "c"] and w.col_tokens == ["a", "b", "c", "d"]
    maps = AttentionMaps(np.stack([a / a.sum(-1, keepdims=True)])[None], tokens)
    assert window(maps.head(0, 0), (4, 6), tokens=maps.tokens).col_tokens == ["e", "f"]
    assert downsample(maps.head(0, 0), 3).values.shape == (3, 3)
    with pytest.raises(ValueError, match=r"rows end must be an integer in \[2, 6\], got 7"):
        window(a, (1, 7))
    with pytest.raises(ValueError, match="tokens must label all 6 positions"):
        window(a, (0, 2), tokens=["a"])


def test_one_reading_measures_every_head_of_the_captured_maps():
    config = TinyConfig(n_layers=2, n_heads=2, d_model=16, vocab_size=20, context=64)
    model = TinyTransformer(config, seed=0)
    ids, labels = preset_input("repeated tokens", 64, 20, 0)
    reading = read_heads(model, ids, labels, thumbnail=16)
    assert reading.maps.tokens == labels and reading.thumbnails.shape == (2, 2, 16, 16)
    np.testing.assert_allclose(reading.entropy, entropy(reading.maps, normalize=True))
    np.testing.assert_allclose(reading.sink, sink_score(reading.maps))
    with pytest.raises(ValueError, match="preset must be one of"):
        preset_input("poetry", 8, 20, 0)
    with pytest.raises(ValueError, match="type at least one word"):
        preset_input("your tokens", 8, 20, 0, "  ")


# ---------------------------------------------------------------------------
# the argument promise: checked at the door, big maps refused before they are made


def _long_model(context=2**14):
    config = TinyConfig(n_layers=1, n_heads=2, d_model=8, vocab_size=16, context=context,
                        positional="none")  # fmt: skip
    return TinyTransformer(config)


def test_capture_refuses_maps_past_the_budget_before_the_model_runs():
    from attnviz.memory_budget import memory_budget_of

    model = _long_model()
    ran = []
    model.register_forward_pre_hook(lambda module, args: ran.append(True))
    with memory_budget_of("256MB"), pytest.raises(ValueError) as refused:
        capture(model, torch.zeros(12_000, dtype=torch.long))
    assert not ran
    message = str(refused.value)
    assert "T=12000" in message and "memory budget" in message
    assert "use a shorter input (at most about" in message
    with memory_budget_of("256MB"), pytest.raises(ValueError, match="memory budget"):
        read_heads(model, torch.zeros(12_000, dtype=torch.long), None)


def test_capture_takes_checked_embeddings_for_a_bare_multihead_attention():
    mha = nn.MultiheadAttention(8, 2)
    x = torch.randn(5, 8)
    assert capture(mha, x).weights.shape == (1, 2, 5, 5)
    assert capture(mha, x.double()).weights.shape == (1, 2, 5, 5)  # in the module's dtype
    with pytest.raises(ValueError, match=r"input_ids must be embeddings of .*embed_dim=8"):
        capture(mha, torch.randn(5, 7))
    with pytest.raises(TypeError, match="input_ids"):
        capture(mha, torch.zeros(5, dtype=torch.long))  # token ids: it has no embedding
    x[0, 0] = float("nan")
    with pytest.raises(ValueError, match="input_ids must contain only finite numbers"):
        capture(mha, x)


def test_ablation_refuses_a_batch_whose_weights_pass_the_budget():
    from attnviz.memory_budget import memory_budget_of

    model = _long_model()
    ids = torch.zeros(1, 12_000, dtype=torch.long)
    with memory_budget_of("256MB"), pytest.raises(ValueError, match="fewer or shorter"):
        ablation_table(model, ids, ids)


def test_retrieval_bounds_how_many_tokens_it_decodes():
    model = _long_model(context=2**12)
    prompt = torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match=r"n_generate must be an integer in \[1, 256\]"):
        retrieval_trace(model, prompt, (2, 4), n_generate=257)
    long_prompt = torch.zeros(3000, dtype=torch.long)
    with pytest.raises(ValueError, match="n_generate=200 after a 3000-token prompt"):
        retrieval_trace(model, long_prompt, (2, 4), n_generate=200)


def test_detection_pattern_refuses_a_pattern_past_the_budget():
    from attnviz.memory_budget import memory_budget_of

    with memory_budget_of("256MB"), pytest.raises(ValueError, match=r"\(60000, 60000\)"):
        detection_pattern("induction", np.zeros(60_000, dtype=np.int64))
    with pytest.raises(ValueError, match="input_ids must be token ids >= 0"):
        detection_pattern("induction", [-1, 2])


def test_preset_inputs_bound_length_vocab_and_seed():
    for name, value in (("length", 2**16 + 1), ("vocab", 2**20 + 1), ("seed", 2**32), ("vocab", 3)):
        arguments = {"length": 16, "vocab": 48, "seed": 0, name: value}
        with pytest.raises(ValueError, match=name):
            preset_input("repeated tokens", **arguments)
    with pytest.raises(TypeError, match="text"):
        preset_input("your tokens", 8, 48, 0, text=None)


def test_map_readers_refuse_what_holds_no_numbers_by_name():
    maps = AttentionMaps(_uniform_causal(4)[None, None], [str(i) for i in range(4)])
    with pytest.raises(ValueError, match=r"layer must be an integer in \[0, 0\]"):
        maps.layer(1)
    with pytest.raises(TypeError, match="head must be an integer"):
        maps.head(0, "0")
    for bad in (None, "maps", torch.empty(1, 1, 2, 2, device="meta"), torch.ones(2, 2).to_sparse()):
        with pytest.raises((ValueError, TypeError), match="maps"):
            sink_score(bad)
    with pytest.raises(TypeError, match="exclude_bos must be True or False"):
        previous_token_score(maps, exclude_bos=None)
    with pytest.raises(ValueError, match="pattern must hold finite numbers"):
        pattern_score(maps, np.full((4, 4), np.nan))
