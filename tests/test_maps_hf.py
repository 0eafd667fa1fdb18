"""maps.capture on Hugging Face models: tiny, randomly initialised, built from configs locally."""

from __future__ import annotations

import numpy as np
import pytest
import tokenizers
import torch
import transformers

from attnviz.maps import capture, retrieval_score, sink_score

VOCAB, CONTEXT = 40, 24


def _gpt2():
    config = transformers.GPT2Config(
        n_layer=2, n_head=2, n_embd=16, vocab_size=VOCAB, n_positions=CONTEXT,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    return transformers.GPT2LMHeadModel(config)


def _bert():
    config = transformers.BertConfig(
        num_hidden_layers=2, num_attention_heads=2, hidden_size=16, intermediate_size=32,
        vocab_size=VOCAB, max_position_embeddings=CONTEXT,
    )  # fmt: skip
    return transformers.BertModel(config)


def _llama():
    config = transformers.LlamaConfig(
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, hidden_size=16,
        intermediate_size=32, vocab_size=VOCAB, max_position_embeddings=CONTEXT,
        bos_token_id=0, eos_token_id=0, pad_token_id=0,
    )  # fmt: skip
    return transformers.LlamaForCausalLM(config)


BUILDERS = {"gpt2": _gpt2, "bert": _bert, "llama": _llama}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def model(request):
    torch.manual_seed(0)
    return BUILDERS[request.param]().eval()


def _ids(t=9, seed=0):
    return torch.randint(0, VOCAB, (t,), generator=torch.Generator().manual_seed(seed))


def _reference(model, ids):
    """What the model itself returns with eager attention and output_attentions=True."""
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(input_ids=ids, output_attentions=True)
    finally:
        model.set_attn_implementation(before)
    return torch.stack(out.attentions)  # (L, B, H, T, T)


def test_capture_equals_output_attentions(model):
    ids = _ids()
    maps = capture(model, ids)
    heads = model.config.num_attention_heads
    assert maps.weights.shape == (2, heads, 9, 9)
    np.testing.assert_allclose(maps.weights, _reference(model, ids[None])[:, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(maps.weights.sum(-1), 1, atol=1e-5)
    causal = not isinstance(model, transformers.BertModel)
    assert np.all(np.triu(maps.weights, 1) == 0) == causal
    assert maps.model_name == type(model).__name__


def test_capture_switches_to_eager_and_back(model):
    model.set_attn_implementation("sdpa")
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    model.train()
    capture(model, _ids(5))
    assert model.config._attn_implementation == "sdpa"
    assert model.training
    assert hooks == sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    model.eval()


def test_capture_a_batch_row(model):
    ids = torch.stack([_ids(seed=1), _ids(seed=2)])
    row = capture(model, ids, batch_index=1)
    np.testing.assert_allclose(row.weights, capture(model, ids[1]).weights, atol=1e-5)


def test_capture_reads_the_vocabulary_and_context_from_the_config(model):
    with pytest.raises(ValueError, match=rf"input_ids must be token ids in \[0, {VOCAB - 1}\]"):
        capture(model, [1, VOCAB])
    with pytest.raises(ValueError, match=rf"input_ids must have between 1 and {CONTEXT} positions"):
        capture(model, _ids(CONTEXT + 1))


def test_capture_labels_with_a_local_tokenizer():
    vocab = {f"w{i}": i for i in range(VOCAB)}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="w0"))
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=backend)
    ids = _ids(6)
    maps = capture(_gpt2().eval(), ids, tokens=tokenizer)
    assert maps.tokens == [f"w{int(i)}" for i in ids]


def test_a_model_that_returns_no_attentions_is_named():
    model = _gpt2().eval()
    real_forward = model.forward

    def no_attentions(*args, **kwargs):
        out = real_forward(*args, **kwargs)
        out.attentions = None
        return out

    model.forward = no_attentions
    with pytest.raises(TypeError, match="GPT2LMHeadModel returned no attention weights"):
        capture(model, _ids(4))


def test_retrieval_and_sink_scores_run_on_a_causal_lm():
    model = _llama().eval()
    scores = retrieval_score(model, _ids(12), (2, 6), n_generate=3)
    assert scores.shape == (2, 4) and np.all((scores >= 0) & (scores <= 1))
    alpha = sink_score(capture(model, _ids(12)))
    assert np.all((alpha >= 1 / 12 - 1e-6) & (alpha <= 1 + 1e-6))  # 1/T ≤ α₁ ≤ 1
    with pytest.raises(TypeError, match="returns no .* logits"):
        retrieval_score(_bert().eval(), _ids(8), (1, 3), n_generate=1)
