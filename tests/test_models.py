"""models and training: TinyTransformer's contract, checkpoints, and the induction phase change."""

import json
import math

import numpy as np
import pytest
import torch

from attnviz.models import (
    LESSON_MODELS,
    TinyConfig,
    TinyTransformer,
    TrainingHistory,
    _parameter_count,
    apply_rope,
    lesson_model_path,
    load,
    load_history,
    load_lesson_history,
    load_lesson_model,
    numerics_fingerprint,
    read_metadata,
    rope_tables,
    save,
    train,
    train_lesson_model,
)
from attnviz.tasks import make_task, mqar, repeated_tokens
from attnviz.training import evaluate, token_loss

SMALL = {"n_layers": 2, "n_heads": 2, "d_model": 16, "vocab_size": 20, "context": 12}


def _model(seed=0, **overrides):
    return TinyTransformer(TinyConfig(**{**SMALL, **overrides}), seed=seed)


def _ids(batch=3, length=10, vocab=20, seed=0):
    return torch.randint(vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def _patterns(model, ids):
    captured = []
    handles = [
        block.attn.hook_pattern.register_forward_hook(lambda m, a, out: captured.append(out))
        for block in model.blocks
    ]
    model(ids)
    for handle in handles:
        handle.remove()
    return captured


# --- the model's contract -------------------------------------------------------------------------


@pytest.mark.parametrize("positional", ["learned", "rope", "none"])
@pytest.mark.parametrize("attention_only", [False, True])
def test_logits_shape_and_hook_points(positional, attention_only):
    model = _model(positional=positional, attention_only=attention_only)
    logits = model(_ids())
    assert logits.shape == (3, 10, 20)
    assert isinstance(model.blocks, torch.nn.ModuleList) and len(model.blocks) == 2
    patterns = _patterns(model, _ids())
    assert [p.shape for p in patterns] == [(3, 2, 10, 10)] * 2
    torch.testing.assert_close(patterns[0].sum(-1), torch.ones(3, 2, 10))
    assert model(_ids()[0]).shape == (1, 10, 20)  # (T,) is one sequence


@pytest.mark.parametrize("positional", ["learned", "rope", "none"])
def test_causal_model_does_not_look_ahead(positional):
    model = _model(positional=positional)
    ids = _ids()
    changed = ids.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 20
    before, after = model(ids), model(changed)
    torch.testing.assert_close(before[:, :6], after[:, :6], rtol=0, atol=0)
    assert not torch.allclose(before[:, 6:], after[:, 6:])
    bidirectional = _model(positional=positional, causal=False)
    assert not torch.allclose(bidirectional(ids)[:, :6], bidirectional(changed)[:, :6])


def test_positions_matter_unless_there_are_none():
    ids = _ids(batch=1)
    swapped = ids[:, [1, 0, *range(2, 10)]]
    for positional in ("learned", "rope"):
        model = _model(positional=positional, causal=False)
        assert not torch.allclose(model(ids)[0, 5], model(swapped)[0, 5])
    model = _model(positional="none", causal=False)  # attention is permutation-equivariant
    torch.testing.assert_close(model(ids)[0, 5], model(swapped)[0, 5])


def test_rope_scores_depend_only_on_the_offset():
    cos, sin = rope_tables(context=20, d_head=8)
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(8, generator=g), torch.randn(8, generator=g)
    q_at = apply_rope(q.expand(20, 8), cos, sin)  # the same query at every position
    k_at = apply_rope(k.expand(20, 8), cos, sin)
    torch.testing.assert_close(q_at[7] @ k_at[4], q_at[15] @ k_at[12])  # offset 3 both times
    torch.testing.assert_close(q_at[0] @ k_at[0], q @ k)  # position 0 is not rotated


def test_hook_z_ablates_heads_and_hook_pattern_can_replace_the_pattern():
    model = _model(attention_only=True)
    ids = _ids()
    clean = model(ids)

    def zero_head_1(module, args, z):  # z: (B, H, T, d_head)
        z = z.clone()
        z[:, 1] = 0
        return z

    handle = model.blocks[0].attn.hook_z.register_forward_hook(zero_head_1)
    assert not torch.allclose(model(ids), clean)
    handle.remove()
    torch.testing.assert_close(model(ids), clean)

    def uniform(module, args, pattern):  # attend evenly to every earlier token
        causal = torch.ones_like(pattern).tril()
        return causal / causal.sum(-1, keepdim=True)

    for block in model.blocks:
        block.attn.hook_pattern.register_forward_hook(uniform)
    patterns = _patterns(model, ids)
    torch.testing.assert_close(patterns[1][0, 0, 3], torch.tensor([0.25] * 4 + [0.0] * 6))
    assert not torch.allclose(model(ids), clean)


@pytest.mark.parametrize(
    ("ids", "error", "words"),
    [
        (torch.tensor([[1, 2, 20]]), ValueError, r"input_ids must be token ids in \[0, 19\]"),
        (torch.tensor([[-1, 2]]), ValueError, r"got values in \[-1, 2\]"),
        (torch.zeros(1, 13, dtype=torch.long), ValueError, "at most context = 12 tokens"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, "at least one token"),
        (torch.zeros(2, 2, 2, dtype=torch.long), ValueError, r"shape \(B, T\) or \(T,\)"),
        (torch.zeros(1, 3), TypeError, "input_ids must hold integer token ids"),
        ([[1, 2, 3]], TypeError, "input_ids must be a torch.Tensor"),
    ],
)
def test_bad_input_ids_are_named(ids, error, words):
    with pytest.raises(error, match=words):
        _model()(ids)


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"n_heads": 3}, ValueError, "n_heads must divide d_model = 16"),
        ({"positional": "alibi"}, ValueError, "positional must be one of"),
        ({"operator": "flash"}, ValueError, "operator must be one of"),
        ({"n_heads": 16, "positional": "rope"}, ValueError, "even head size"),
        ({"attention_only": True, "d_mlp": 32}, ValueError, "d_mlp must be None"),
        ({"n_layers": 0}, ValueError, r"n_layers must be an integer in \[1, 64\]"),
        ({"causal": "yes"}, TypeError, "causal must be a bool"),
    ],
)
def test_bad_configs_are_named(overrides, error, words):
    with pytest.raises(error, match=words):
        TinyConfig(**{**SMALL, **overrides})


def test_seeded_models_are_identical():
    a, b, c = _model(seed=1), _model(seed=1), _model(seed=2)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.embed.weight, c.embed.weight)


# --- checkpoints ----------------------------------------------------------------------------------


@pytest.mark.parametrize("positional", ["learned", "rope"])
def test_save_load_round_trip_is_bit_exact(tmp_path, positional):
    model = _model(positional=positional, d_mlp=24)
    history = TrainingHistory(steps=[0, 5], loss=[3.0, 2.5], recipe={"task": {"task": "x"}})
    path = save(model, tmp_path / "m.safetensors", history=history, recipe={"note": "test"})
    loaded = load(path)
    assert loaded.config == model.config and not loaded.training
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    ids = _ids()
    assert torch.equal(model(ids), loaded(ids))
    assert load_history(path) == history
    assert read_metadata(path)["recipe"] == {"note": "test"}
    # the same model saved again gives the same bytes; no pickle, only JSON and tensors
    again = save(loaded, tmp_path / "again.safetensors", history=history, recipe={"note": "test"})
    assert path.read_bytes() == again.read_bytes()
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8 : 8 + header_len])
    assert json.loads(header["__metadata__"]["attnviz"])["config"]["positional"] == positional


def test_loading_something_else_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(ValueError, match="is not an attnviz checkpoint"):
        load(other)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="is not a safetensors file"):
        load(junk)
    with pytest.raises(FileNotFoundError, match="path must be a safetensors checkpoint file"):
        load(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="name must be one of"):
        load_lesson_model("gpt2")


# --- training -------------------------------------------------------------------------------------


def _short_run(seed=0, **kwargs):
    model = _model(seed=seed, context=17)
    task = repeated_tokens(200, 8, 20, seed=0, min_half=3)
    kwargs = {"progress": False, **kwargs}
    history = train(model, task, steps=12, record_every=4, seed=seed, **kwargs)
    return model, history


def test_training_is_deterministic_and_leaves_global_state_alone():
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a, history_a = _short_run()  # on one thread (the default), then back to `threads`
    assert torch.rand(1) == expected_next  # nor did the seeded model or train use the global RNG
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
    b, history_b = _short_run()
    assert history_a == history_b
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    c, history_c = _short_run(seed=1)
    assert history_c.train_loss != history_a.train_loss


def test_history_records_losses_and_scores_every_record_every_steps():
    _, history = _short_run()
    assert history.steps == [0, 4, 8, 12]
    assert len(history.train_loss) == 12 and len(history.loss) == 4
    assert set(history.region_loss) == {"first_half", "repeated_half"}
    assert history.score("induction").shape == (4, 2, 2)  # (records, layers, heads)
    assert history.score("previous_token").shape == (4, 2, 2)
    assert history.recipe["task"]["task"] == "repeated_tokens"
    assert history.recipe["train"]["steps"] == 12
    assert TrainingHistory.from_dict(json.loads(json.dumps(history.to_dict()))) == history


def test_callback_sees_each_record_and_can_stop_training():
    seen = []

    def callback(step, record):
        seen.append((step, record.total_steps, sorted(record.scores)))
        return step < 8

    _, history = _short_run(callback=callback)
    assert seen == [(s, 12, ["induction", "previous_token"]) for s in (0, 4, 8)]
    assert history.steps == [0, 4, 8] and len(history.train_loss) == 8


def test_custom_scores_and_other_tasks():
    model = _model(context=16)
    task = mqar(100, 16, 2, 20, seed=0)

    def first_token(model, ids):  # (layers, heads): mean attention on position 0
        return torch.stack([p[..., 0].mean(dim=(0, 2)) for p in _patterns(model, ids)])

    history = train(model, task, steps=4, record_every=2, progress=False, eval_size=10,
                    scores={"first_token": first_token})  # fmt: skip
    assert history.score("first_token").shape == (3, 2, 2)
    assert set(history.region_loss) == {"queries"}


def test_progress_is_text_without_timings(capsys):
    _short_run(progress=True)
    err = capsys.readouterr().err
    assert err.startswith("\rtraining [") and err.endswith("\n")
    assert "12/12  loss" in err and " s" not in err.replace("loss", "")


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"steps": -1}, ValueError, r"steps must be an integer in \[0, 1000000\]"),
        ({"lr": 0}, ValueError, r"lr must be in \(0, 10\], got 0"),
        ({"eval_size": 200}, ValueError, r"eval_size must be an integer in \[1, 199\]"),
        ({"callback": 3}, TypeError, "callback must be callable"),
        ({"scores": {"x": 1}}, TypeError, "scores must map names to callables"),
    ],
)
def test_bad_training_arguments_are_named(kwargs, error, words):
    task = repeated_tokens(200, 8, 20, seed=0)
    with pytest.raises(error, match=words):
        train(_model(context=17), task, progress=False, **kwargs)
    with pytest.raises(TypeError, match="task must be an attnviz.tasks.TaskData"):
        train(_model(), [1, 2, 3])


def test_evaluate_and_token_loss_agree():
    model = _model(context=17)
    data = repeated_tokens(20, 8, 20, seed=0)
    result = evaluate(model, data)
    per_token = token_loss(model, data.input_ids, data.targets)
    assert torch.isnan(per_token[:, -1]).all()
    assert result["loss"] == pytest.approx(per_token.nanmean().item(), rel=1e-5)
    repeated = per_token[data.masks["repeated_half"]].mean().item()
    assert result["repeated_half"] == pytest.approx(repeated, rel=1e-5)
    assert 0 <= result["accuracy"] <= 1


# --- the lesson models and the phase change (lesson 03) -------------------------------------------


@pytest.fixture(scope="module")
def retrained():
    """Every shipped lesson model, trained again from its recipe."""
    return {name: train_lesson_model(name) for name in LESSON_MODELS}


@pytest.fixture(scope="module")
def retrained_on_two_threads():
    """The lesson models trained on two threads: other bits, as on another machine."""
    return {name: train_lesson_model(name, num_threads=2) for name in LESSON_MODELS}


# How far a retrained model's history may stray from the shipped one's when the CPU rounds
# differently. Measured by retraining all three models on two machines under five numerics:
# this AMD EPYC with PyTorch 2.13 (AVX512, the shipped bits; on two threads; with PyTorch's
# kernels and MKL held to AVX2, and to no SIMD: ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS)
# and an Intel Xeon (Sapphire Rapids) with PyTorch 2.11. Largest gap from the shipped history
# over every record: induction_2l and induction_1l 1e-6 (the histories' rounding) everywhere;
# induction_rope 0.022 nats (first-half loss, no SIMD; 0.004 on the Xeon), 0.016 in a head
# score (0.005 on the Xeon); the phase change at the same record everywhere. The tolerances
# leave about 3x room over that and stay far below what the lessons read off these curves (a
# loss drop of 3.8 nats, scores rising from 0.1 to 0.98); another seed is 0.45 nats, 0.19
# and 2 records away (test_another_seed_is_another_behaviour).
BEHAVIOUR_TOLERANCE = {"loss": 0.06, "score": 0.05, "records": 1}


def _curves(history):
    """The curves the lessons read: every loss, and each layer's best head for each score."""
    curves = {"loss": np.asarray(history.loss)}
    curves |= {f"{k} loss": np.asarray(v) for k, v in history.region_loss.items()}
    for kind in history.scores:
        best = history.score(kind).amax(-1).numpy()  # (records, layers)
        curves |= {f"{kind} L{layer}": best[:, layer] for layer in range(best.shape[1])}
    return curves


def _halfway(curve):
    """The first record at which a curve has covered half its way from start to end."""
    half = (curve[0] + curve[-1]) / 2
    return int(np.argmax(curve >= half if curve[-1] > curve[0] else curve <= half))


def _behaviour_gaps(history, shipped):
    """The largest differences between two training histories of one recipe."""
    assert history.steps == shipped.steps
    mine, theirs = _curves(history), _curves(shipped)
    moving = [k for k, c in theirs.items() if abs(c[-1] - c[0]) > 0.3]  # a phase change
    return {
        "loss": max(np.abs(mine[k] - theirs[k]).max() for k in theirs if "loss" in k),
        "score": max(
            (history.score(k) - shipped.score(k)).abs().max().item() for k in shipped.scores
        ),
        "records": max((abs(_halfway(mine[k]) - _halfway(theirs[k])) for k in moving), default=0),
    }


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", sorted(LESSON_MODELS))
def test_retrained_models_behave_as_the_shipped_ones(
    retrained, retrained_on_two_threads, name, threads
):
    """Anywhere: retrained from its recipe, a lesson model learns what the shipped one did.

    On two threads the bits differ even on the machine that trained the models (measured:
    up to 0.003 in induction_rope's weights), as they do on another CPU.
    """
    _, history = (retrained if threads == 1 else retrained_on_two_threads)[name]
    gaps = _behaviour_gaps(history, load_lesson_history(name))
    assert all(gaps[key] <= limit for key, limit in BEHAVIOUR_TOLERANCE.items()), gaps


@pytest.mark.slow
def test_another_seed_is_another_behaviour():
    """The tolerances above still tell runs apart: another seed fails them."""
    recipe = LESSON_MODELS["induction_2l"]
    model = TinyTransformer(TinyConfig(**recipe["config"]), seed=1)
    history = train(model, make_task(**recipe["task"]), progress=False,
                    **{**recipe["train"], "seed": 1})  # fmt: skip
    gaps = _behaviour_gaps(history, load_lesson_history("induction_2l"))
    assert gaps["loss"] > 5 * BEHAVIOUR_TOLERANCE["loss"], gaps
    assert gaps["records"] > BEHAVIOUR_TOLERANCE["records"], gaps


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LESSON_MODELS))
def test_shipped_weights_regenerate_byte_for_byte_where_cpus_round_alike(retrained, name, tmp_path):
    """On a machine that rounds as the one that trained them, the very same files.

    Each file records that machine's ``numerics_fingerprint()``; CI's machine matches it.
    Elsewhere bit-equality cannot hold and the test above checks the behaviour instead.
    """
    path = lesson_model_path(name)
    trained_on = read_metadata(path).get("numerics")
    if trained_on != numerics_fingerprint():
        pytest.skip(
            f"{name} was trained where CPU kernels round as {trained_on!r}; this machine "
            f"rounds as {numerics_fingerprint()!r}, so only its behaviour can match"
        )
    model, history = retrained[name]
    mine = save(model, tmp_path / f"{name}.safetensors", history=history,
                recipe={"name": name, **LESSON_MODELS[name]}, numerics=trained_on)  # fmt: skip
    assert mine.read_bytes() == path.read_bytes()
    shipped = load_lesson_model(name)
    for (key, a), b in zip(model.state_dict().items(), shipped.state_dict().values(), strict=True):
        assert torch.equal(a, b), key
    assert load_lesson_history(name) == history


def test_every_shipped_model_records_the_numerics_it_was_trained_with():
    for name in LESSON_MODELS:
        assert read_metadata(lesson_model_path(name))["numerics"].startswith("torch ")


def test_the_numerics_fingerprint_is_stable_and_names_torch():
    first = numerics_fingerprint()
    assert first == numerics_fingerprint()
    assert first.startswith(f"torch {torch.__version__}, ") and len(first.split(", ")[1]) == 16


@pytest.mark.slow
def test_induction_head_forms_in_an_abrupt_phase_change(retrained):
    _, history = retrained["induction_2l"]
    steps = history.steps
    repeated = torch.tensor(history.region_loss["repeated_half"])
    first = torch.tensor(history.region_loss["first_half"])
    assert repeated[0] > 0.95 * math.log(47)  # at first the repeats are as hard as the rest
    # a plateau, then the drop: from half the starting loss to under 10 % of the
    # (unlearnable) first half within a tenth of the run
    last_high = max(s for s, r in zip(steps, repeated, strict=True) if r > 0.5 * repeated[0])
    first_low = min(s for s, r, f in zip(steps, repeated, first, strict=True) if r < 0.1 * f)
    assert last_high >= 0.2 * steps[-1]
    assert first_low - last_high <= 0.15 * steps[-1]
    assert repeated[-1] < 0.02 * first[-1] and first[-1] > 0.95 * math.log(47)


@pytest.mark.slow
def test_previous_token_head_in_layer_0_and_induction_head_in_layer_1(retrained):
    _, history = retrained["induction_2l"]
    previous, induction = history.score("previous_token"), history.score("induction")
    # (records, layers, heads); at initialisation both are the uniform 1/(position) level
    assert previous[0].max() < 0.12 and induction[0].max() < 0.12
    assert induction[-1, 1].max() > 0.9 and induction[-1, 0].max() < 0.15
    assert previous[-1, 0].max() > 2.5 * previous[0, 0].max() and previous[-1, 1].max() < 0.1
    # both rise during the loss drop: on random tokens a previous-token head is of no
    # use on its own, so it forms with the induction head that reads it (the
    # induction score starts rising a few steps earlier; see Bietti et al. 2023)
    steps = torch.tensor(history.steps, dtype=torch.float64)
    halfway = {}
    curves = {"previous": previous[:, 0].amax(-1), "induction": induction[:, 1].amax(-1)}
    for name, curve in curves.items():
        halfway[name] = steps[curve > (curve[0] + curve[-1]) / 2][0].item()
    assert abs(halfway["previous"] - halfway["induction"]) <= 0.1 * steps[-1]


@pytest.mark.slow
def test_one_layer_cannot_form_an_induction_head(retrained):
    _, history = retrained["induction_1l"]
    repeated = history.region_loss["repeated_half"][-1]
    first = history.region_loss["first_half"][-1]
    assert repeated > 0.4 * first  # it learns the period's statistics, not the copy
    assert history.score("induction")[-1].max() < 0.3


def test_the_induction_head_needs_the_previous_token_heads():
    """Ablating layer 0 breaks the induction head in layer 1 (K-composition)."""
    model = load_lesson_model("induction_2l")
    data = repeated_tokens(128, 16, 48, seed=1)
    clean = evaluate(model, data)
    assert clean["repeated_half"] < 0.05 * clean["first_half"]

    def zero(module, args, z):
        return torch.zeros_like(z)

    handle = model.blocks[0].attn.hook_z.register_forward_hook(zero)
    ablated = evaluate(model, data)
    handle.remove()
    assert ablated["repeated_half"] > 0.8 * ablated["first_half"]


def test_lesson_models_load_from_package_data():
    for name, recipe in LESSON_MODELS.items():
        model = load_lesson_model(name)
        assert model.config == TinyConfig(**recipe["config"])
        history = load_lesson_history(name)
        stages = [recipe["train"], *(stage["train"] for stage in recipe.get("then", ()))]
        assert history.steps[-1] == sum(stage["steps"] for stage in stages)
        assert read_metadata(lesson_model_path(name))["recipe"]["name"] == name
    total = sum(lesson_model_path(name).stat().st_size for name in LESSON_MODELS)
    assert total < 2 * 1024 * 1024


@pytest.mark.parametrize("period", [16, 47])
def test_the_rope_model_reads_4096_tokens(period):
    """Trained on at most 2,048 tokens, its heads still work on a 4,096-token input."""
    model = load_lesson_model("induction_rope")
    assert model.config.context == 4096 and model.config.positional == "rope"
    g = torch.Generator().manual_seed(1)
    tokens = torch.randperm(47, generator=g)[:period] + 1  # BOS, then the block repeated
    ids = torch.cat([torch.zeros(1, dtype=torch.long), tokens[torch.arange(4095) % period]])
    captured = []
    handles = [
        block.attn.hook_pattern.register_forward_hook(lambda m, a, out: captured.append(out[0]))
        for block in model.blocks
    ]
    with torch.no_grad():
        logits = model(ids)[0]  # (T, V)
    for handle in handles:
        handle.remove()
    loss = torch.nn.functional.cross_entropy(logits[:-1], ids[1:], reduction="none")  # (T - 1,)
    assert loss[2048:].mean() < (0.4 if period == 16 else 0.5)  # measured 0.24 and 0.35
    assert loss[period + 1 : 256].mean() < 0.1  # chance is ln 47 = 3.85
    previous = captured[0].diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)  # (H,)
    assert previous.max() > 0.6  # measured 0.81 and 0.79
    # layer 1: the weight on the token after each earlier copy of the current token,
    # i.e. on keys j < i with j ≡ i + 1 (mod period), over the repeated part
    i, j = torch.arange(4096)[:, None], torch.arange(4096)[None, :]
    target = (j <= i) & (j >= 2) & ((j - 1 - i) % period == 0)
    rows = slice(period + 1, 4096)
    induction = (captured[1][:, rows] * target[rows]).sum(-1).mean(-1)  # (H,)
    assert induction.max() > 0.6  # measured 0.83 and 0.73


def _record(induction, first_half, repeated_half):
    from attnviz.training import TrainingRecord

    return TrainingRecord(
        step=10,
        total_steps=100,
        loss=1.0,
        region_loss={"first_half": first_half, "repeated_half": repeated_half},
        scores={"induction": torch.tensor(induction), "previous_token": torch.zeros(2, 2)},
    )


def test_induction_head_formed_needs_a_layer_1_head_and_a_low_repeated_loss():
    from attnviz.training import induction_head_formed

    assert induction_head_formed(_record([[0.0, 0.0], [0.1, 0.9]], 3.8, 0.2))
    assert not induction_head_formed(_record([[0.0, 0.0], [0.1, 0.9]], 3.8, 0.5))  # loss high
    assert not induction_head_formed(_record([[0.9, 0.9], [0.1, 0.4]], 3.8, 0.2))  # layer 0
    assert induction_head_formed(_record([[0.9, 0.0], [0.0, 0.0]], 3.8, 0.2), layer=0)
    with pytest.raises(ValueError, match="layer must be"):
        induction_head_formed(_record([[0.0, 0.0], [0.1, 0.9]], 3.8, 0.2), layer=2)
    with pytest.raises(TypeError, match="record must be a TrainingRecord"):
        induction_head_formed({"step": 1})


def test_the_strongest_head_of_each_record_is_the_largest_score():
    history = load_lesson_history("induction_2l")
    strongest = history.strongest("induction")
    assert strongest.shape == (len(history.steps),)
    torch.testing.assert_close(strongest, history.score("induction").amax(dim=(1, 2)))
    assert strongest[-1] > 0.9 > strongest[0]  # lesson 03: the induction head forms
    with pytest.raises(ValueError, match="name must be one of"):
        history.strongest("sink")


# --- the argument promise (issue #14) ---------------------------------------------------------


@pytest.mark.parametrize("name", ["n_layers", "n_heads", "d_model", "vocab_size", "context"])
def test_every_size_of_a_config_has_a_documented_cap(name):
    with pytest.raises(ValueError, match=name):
        TinyConfig(**{name: 10**9})
    with pytest.raises(ValueError, match=name):
        TinyConfig(**{name: 10**400})


def test_a_model_past_the_memory_budget_is_refused_before_it_is_built():
    from attnviz.memory_budget import memory_budget_of

    config = TinyConfig(n_layers=64, d_model=1024)  # 800M parameters with AdamW's copies
    with memory_budget_of("256MB"), pytest.raises(ValueError, match="fewer layers"):
        TinyTransformer(config)


def test_a_forward_pass_past_the_memory_budget_is_refused():
    from attnviz.memory_budget import memory_budget_of

    model = _model(context=64)
    with memory_budget_of("2MB"), pytest.raises(ValueError, match="smaller batch"):
        model(torch.zeros(512, 64, dtype=torch.long))


def test_training_that_diverges_raises_naming_lr():
    task = repeated_tokens(64, 3, 8, seed=0)
    model = TinyTransformer(TinyConfig(n_layers=1, d_model=8, vocab_size=8, context=8), seed=0)
    with pytest.raises(ValueError, match="diverged.*lr=10"):
        train(model, task, steps=50, lr=10.0, weight_decay=10.0, eval_size=4, progress=False)


def test_training_refuses_a_learning_rate_past_its_cap():
    with pytest.raises(ValueError, match="lr must be in"):
        train(_model(), repeated_tokens(200, 8, 20, seed=0), lr=1e6, progress=False)


def test_token_loss_names_bad_ids_and_targets():
    model, ids = _model(), torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(TypeError, match="model"):
        token_loss(None, ids, ids)
    with pytest.raises(TypeError, match="targets"):
        token_loss(model, ids, ids.float())
    with pytest.raises(ValueError, match="targets"):
        token_loss(model, ids, ids + 1000)
    with pytest.raises(TypeError, match="input_ids"):
        token_loss(model, None, ids)


def test_checkpoint_paths_of_the_wrong_type_are_type_errors(tmp_path):
    model = _model()
    for path in (None, 3, b"x.safetensors"):
        with pytest.raises(TypeError, match="path"):
            save(model, path)
        with pytest.raises(TypeError, match="path"):
            load(path)
    with pytest.raises(ValueError, match="recipe"):
        save(model, tmp_path / "m.safetensors", recipe={"lr": float("nan")})


def test_a_model_without_attention_maps_trains_without_the_default_head_scores():
    model = TinyTransformer(
        TinyConfig(n_layers=1, d_model=8, vocab_size=8, context=8, mixer="qlstm"), seed=0
    )
    history = train(model, repeated_tokens(32, 3, 8, seed=0), steps=2, eval_size=4, progress=False)
    assert history.scores == {} and len(history.loss) == 2


@pytest.mark.parametrize(
    "changes",
    [
        {}, {"attention_only": True}, {"output_gate": True}, {"short_conv": 3},
        {"mixer": "linear_attention", "state_expansion": 8}, {"mixer": "s6"},
        {"mixer": "s6", "state_expansion": 8, "attention_only": True}, {"mixer": "qlstm"},
        {"positional": "learned", "d_mlp": 24}, {"positional": "rope", "short_conv": 4},
    ],
)  # fmt: skip
def test_the_parameter_count_from_the_config_is_the_models(changes):
    """The memory budget reads the parameter count off the config, before building."""
    config = TinyConfig(n_layers=2, n_heads=2, d_model=16, vocab_size=20, context=32, **changes)
    model = TinyTransformer(config, seed=0)
    assert _parameter_count(config) == sum(p.numel() for p in model.parameters())
