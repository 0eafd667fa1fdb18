"""Table entries for the studies area (see promise.table): receptive fields, associative
memory, conditioning, the dynamical-system framework, lookup, state size, tasks, the
gradient field and the model classes."""

from __future__ import annotations

import os

import numpy as np
import torch

from attnviz import lookup, memory, receptive, tasks
from attnviz.kernels import masks
from attnviz.kernels.masks import MAX_DENSE_LEN
from attnviz.lesson_models import load_lesson_model

from .kinds import (
    OBJECT,
    Bool,
    Choice,
    Entry,
    Fixed,
    Int,
    Optional,
    Real,
    Receiver,
    Seq,
    Tensor,
    Text,
)

# ------------------------------------------------------------------- receptive fields


def _field(mask, seq_len, n_layers):
    return lambda: receptive.receptive_field(mask(), seq_len, n_layers)


MASKS = Fixed(
    (
        masks.causal,
        lambda: masks.sliding_window(3),
        masks.dilated,
        lambda: [1, 3],
        lambda: np.tril(np.ones((8, 8), bool)),
    ),
    bad=(None, np.zeros((2, 2, 2), bool), [0.5], [-1], "causal", np.ones((8, 8), np.float32)),
)
FIELDS = Receiver(
    _field(lambda: masks.sliding_window(3), 64, 4),
    _field(lambda: np.tril(np.ones((40, 40), bool)), 40, 4),
    _field(lambda: [1, 4], 100, 4),
)
RECEPTIVE = [
    Entry(
        "attnviz.receptive.receptive_field",
        {
            "mask": MASKS,
            "seq_len": Int(1, receptive.MAX_DISTANCE_TOKENS, typical=(1, 16)),
            "n_layers": Int(1, receptive.MAX_LAYERS, typical=(1, 6)),
            "method": Choice(("auto", "bitset", "distances")),
            "full": Optional(Bool()),
        },
        positional=("mask", "seq_len", "n_layers"),
    ),
    Entry(
        "attnviz.receptive.ReceptiveField.reach_of_last",
        {"field": FIELDS, "layers": Int(0, 4)},
        call=lambda field, layers: field.reach_of_last(layers),
    ),
    Entry(
        "attnviz.receptive.ReceptiveField.theoretical_accuracy",
        {"field": FIELDS, "layers": Optional(Int(0, 4))},
        call=lambda field, layers: field.theoretical_accuracy(layers),
    ),
    Entry(
        "attnviz.receptive.ReceptiveField.first_layer_overview",
        {
            "field": FIELDS,
            "size": Int(1, 1 << 16, typical=(1, 64)),
            "reduce": Choice(("max", "min")),
        },
        call=lambda field, size, reduce: field.first_layer_overview(size, reduce),
    ),  # fmt: skip
    Entry(
        "attnviz.receptive.ReceptiveField.last_row_overview",
        {"field": FIELDS, "size": Int(1, receptive.MAX_DISTANCE_TOKENS, typical=(1, 64))},
        call=lambda field, size: field.last_row_overview(size),
    ),
]

# ----------------------------------------------------------------- associative memory

GATE = Real(0.0, 1.0)
MEMORIES = Receiver(
    lambda: memory.AssociativeMemory(3, 2),
    lambda: memory.AssociativeMemory(3, 2, "delta", beta=0.5),
)


def _vectors(d: int) -> Fixed:
    """One vector (d,) or a batch (N, d): both are valid."""
    return Fixed(
        (lambda: torch.ones(d), lambda: torch.rand(2, d, dtype=torch.float64)),
        bad=(
            None,
            "x",
            torch.ones(d + 1),
            torch.full((d,), float("nan")),
            torch.ones(1, 1, d),
            torch.ones(d, dtype=torch.complex64),
        ),
    )


MEMORY = [
    Entry(
        "attnviz.memory.write_all",
        {
            "keys": Tensor("n d"),
            "values": Tensor("n S"),
            "rule": Choice(memory.RULES),
            "beta": GATE,
            "alpha": GATE,
            "initial_state": Optional(Tensor("S d")),
        },
        positional=("keys", "values"),
    ),  # fmt: skip
    Entry(
        "attnviz.memory.AssociativeMemory",
        {
            "d_k": Int(1, memory.MAX_DIM, typical=(1, 6)),
            "d_v": Int(1, memory.MAX_DIM, typical=(1, 6)),
            "rule": Choice(memory.RULES),
            "beta": GATE,
            "alpha": GATE,
        },
    ),  # fmt: skip
    Entry(
        "attnviz.memory.AssociativeMemory.write",
        {"memory": MEMORIES, "keys": _vectors(3), "values": _vectors(2)},
        call=lambda memory, keys, values: memory.write(keys, values),
    ),
    Entry(
        "attnviz.memory.AssociativeMemory.read",
        {"memory": MEMORIES, "queries": _vectors(3)},
        call=lambda memory, queries: memory.read(queries),
    ),
    Entry(
        "attnviz.memory.random_pairs",
        {
            "n_items": Int(1, memory.MAX_ITEMS, typical=(1, 8)),
            "d_k": Int(1, memory.MAX_DIM, typical=(1, 8)),
            "d_v": Optional(Int(1, memory.MAX_DIM, typical=(1, 8))),
            "seed": Int(0, typical=(0, 9)),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.memory.retrieval_errors",
        {"states": Tensor("T S d"), "keys": Tensor("n d"), "values": Tensor("n S")},
        positional=("states", "keys", "values"),
    ),
    Entry(
        "attnviz.memory.mean_error_of_items_written",
        {
            "errors": Fixed(
                (lambda: np.ones((4, 3)), lambda: np.zeros((1, 0)) + 1.0),
                bad=(None, "errors", np.ones(3), np.ones((2, 2)), np.full((2, 1), np.nan)),
            )
        },
        positional=("errors",),
    ),  # fmt: skip
    Entry(
        "attnviz.memory.capacity_sweep",
        {
            "d_k": Int(1, memory.MAX_DIM, typical=(1, 16)),
            "n_items": Int(1, memory.MAX_ITEMS, typical=(1, 16)),
            "trials": Int(1, memory.MAX_TRIALS, typical=(1, 4)),
            "keys": Choice(memory.KEY_KINDS),
            "criterion": Choice(memory.CRITERIA),
            "rule": Choice(memory.SWEEP_RULES),
            "d_v": Optional(Int(1, memory.MAX_DIM, typical=(1, 8))),
            "seed": Int(0, typical=(0, 9)),
            "beta": GATE,
        },
    ),  # fmt: skip
    Entry(
        "attnviz.memory.depth_head_error",
        {
            "n_layers": Int(1, 1024, typical=(1, 4)),
            "n_heads": Int(1, 1024, typical=(1, 3)),
            "n_items": Int(1, memory.MAX_ITEMS, typical=(1, 8)),
            "d_k": Int(1, memory.MAX_DIM, typical=(1, 8)),
            "trials": Int(1, memory.MAX_TRIALS, typical=(1, 8)),
            "seed": Int(0, typical=(0, 9)),
        },
    ),  # fmt: skip
]

# ----------------------------------------------------------------------------- lookup

POINTS = Tensor("n", low=-3.0, high=3.0)
KEYS = Tensor("T", low=-3.0, high=3.0)
BANDWIDTH = Real(0.0, low_open=True, typical=(0.05, 3.0))
KERNEL = Choice(lookup.SMOOTHING_KERNELS)
ARRAYS = Fixed(
    (lambda: np.linspace(-3, 3, 7), lambda: torch.randn(2, 3), lambda: [0.5, 1e300, -1e300],
     lambda: np.zeros((0,))),
    bad=(None, "u", [np.nan], [np.inf], torch.ones(2, dtype=torch.complex64), [None]),
)  # fmt: skip
NO_SUPPORT = "a query with no key inside a compact kernel's support predicts NaN (documented)"
LOOKUP = [
    Entry("attnviz.lookup.smoothing_kernel", {"u": ARRAYS, "kernel": KERNEL}),
    Entry(
        "attnviz.lookup.nadaraya_watson_weights",
        {"queries": POINTS, "keys": KEYS, "kernel": KERNEL, "bandwidth": BANDWIDTH},
        positional=("queries", "keys"),
    ),
    Entry(
        "attnviz.lookup.nadaraya_watson",
        {
            "queries": POINTS,
            "keys": KEYS,
            "values": Tensor("T"),
            "kernel": KERNEL,
            "bandwidth": BANDWIDTH,
        },
        positional=("queries", "keys", "values"),
        nan_ok=NO_SUPPORT,
    ),  # fmt: skip
    Entry(
        "attnviz.lookup.gaussian_as_dot_product",
        {"queries": POINTS, "keys": KEYS, "bandwidth": BANDWIDTH},
        positional=("queries", "keys", "bandwidth"),
    ),
    Entry(
        "attnviz.lookup.RegressionData.truth",
        {"x": ARRAYS},
        call=lambda x: lookup.RegressionData.truth(x),
    ),  # fmt: skip
    Entry(
        "attnviz.lookup.make_regression_data",
        {
            "n_points": Int(1, 100_000, typical=(1, 50)),
            "noise": Real(0.0, 1e6, typical=(0, 2)),
            "seed": Int(0, typical=(0, 9)),
            "low": Real(-1e6, 1e6, typical=(-5, -1)),
            "high": Real(-1e6, 1e6, typical=(0, 5)),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.lookup.entropy",
        {
            "weights": Fixed(
                (lambda: np.full(4, 0.25), lambda: torch.tensor([1.0, 0.0]), lambda: [0.5, 0.5]),
                bad=(None, "w", 0.5, [[-0.5, 1.5]], [np.nan], torch.ones(2) * 1j),
            ),
            "axis": Int(-1, 0),
        },
        positional=("weights",),
    ),
    Entry(
        "attnviz.lookup.attention_temperature_scale",
        {
            "d_k": Int(1, 2**53, typical=(1, 512)),
            "temperature": Real(1e-6, 1e6, typical=(0.1, 4)),
            "scaled": Bool(),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.lookup.random_attention",
        {
            "d_k": Int(1, 65_536, typical=(1, 64)),
            "n_queries": Int(1, 4096, typical=(1, 8)),
            "n_keys": Int(1, 4096, typical=(1, 8)),
            "temperature": Real(1e-6, 1e6, typical=(0.1, 4)),
            "scaled": Bool(),
            "seed": Int(0, typical=(0, 9)),
        },
        positional=("d_k",),
    ),  # fmt: skip
    Entry(
        "attnviz.lookup.softmax_saturation",
        {
            "d_ks": Seq(Int(1, 65_536, typical=(1, 64)), length=(1, 3)),
            "n_keys": Int(2, 4096, typical=(2, 16)),
            "n_samples": Int(1, 100_000, typical=(1, 32)),
            "seed": Int(0, typical=(0, 9)),
        },
    ),  # fmt: skip
]

# ------------------------------------------------------------------------------ tasks

RECIPES = {
    "repeated_tokens": {"n": 2, "seq_half": 4, "vocab": 12},
    "periodic_tokens": {"n": 2, "length": 12, "vocab": 8},
    "mqar": {"n": 2, "seq_len": 16, "num_kv_pairs": 2, "vocab": 40},
    "copy_task": {"n": 2, "copy_len": 4, "vocab": 8},
    "needle": {"n": 2, "haystack_len": 8, "vocab": 10},
    "lagged_copy": {"n": 2, "length": 8, "lag": 2, "vocab": 5},
}
N_SEQ = Int(1, tasks.MAX_SIZE, typical=(1, 4))
SEED = Int(0, typical=(0, 9))
TASKS = [
    Entry(
        "attnviz.tasks.repeated_tokens",
        {
            "n": N_SEQ,
            "seq_half": Int(2, tasks.MAX_SIZE, typical=(2, 8)),
            "vocab": Int(3, tasks.MAX_SIZE, typical=(12, 40)),
            "seed": SEED,
            "bos": Bool(),
            "distinct": Bool(),
            "min_half": Optional(Int(2, typical=(2, 4))),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.periodic_tokens",
        {
            "n": N_SEQ,
            "length": Int(3, tasks.MAX_SIZE, typical=(3, 24)),
            "vocab": Int(3, tasks.MAX_SIZE, typical=(8, 40)),
            "seed": SEED,
            "min_period": Int(2, typical=(2, 3)),
            "max_period": Optional(Int(2, typical=(4, 6))),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.mqar",
        {
            "n": N_SEQ,
            "seq_len": Int(4, tasks.MAX_SIZE, typical=(16, 32)),
            "num_kv_pairs": Int(1, tasks.MAX_SIZE, typical=(1, 4)),
            "vocab": Int(2, tasks.MAX_SIZE, typical=(40, 64)),
            "seed": SEED,
            "power_a": Real(0.0, 1e6, low_open=True, typical=(0.01, 1.0)),
            "random_non_queries": Bool(),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.copy_task",
        {
            "n": N_SEQ,
            "copy_len": Int(1, tasks.MAX_SIZE, typical=(1, 8)),
            "vocab": Int(3, tasks.MAX_SIZE, typical=(3, 20)),
            "seed": SEED,
        },
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.needle",
        {
            "n": N_SEQ,
            "haystack_len": Int(1, tasks.MAX_SIZE, typical=(1, 16)),
            "vocab": Int(4, tasks.MAX_SIZE, typical=(4, 20)),
            "seed": SEED,
            "needle_len": Int(1, tasks.MAX_SIZE, typical=(1, 4)),
            "depth": Optional(Real(0.0, 1.0)),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.lagged_copy",
        {
            "n": N_SEQ,
            "length": Int(2, tasks.MAX_SIZE, typical=(8, 16)),
            "lag": Int(1, typical=(1, 7)),
            "vocab": Int(2, tasks.MAX_SIZE, typical=(2, 20)),
            "seed": SEED,
        },
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.make_task",
        {"task": Choice(tuple(tasks.TASKS))},
        call=lambda task: tasks.make_task(task, **RECIPES.get(task, {})),
    ),
]

# ----------------------------------------------------------------------- conditioning

from attnviz import conditioning as cond  # noqa: E402

SCHEDULES = ("20 A+ | 20 AB+", "5 A+", "3 AX- | 2 A+")
SCHEDULE = Fixed(
    tuple((lambda text=text: text) for text in SCHEDULES)
    + (lambda: cond.Phase((cond.Trial("A", True),), 3),),
    bad=(None, 3, "", "20 a+", "A+ |", [1, 2], "100001 A+"),
)
RUNS = Receiver(
    lambda: cond.run("5 A+ | 5 AB+"),
    lambda: cond.run("5 A+ | 5 AX-", rule="delta"),
)
EXPERIMENT_RUNS = Receiver(lambda: cond.run("blocking"), lambda: cond.run("overshadowing"))
ALPHA = Real(0.0, 1.0, low_open=True)
N_TRIALS = Int(0, cond.MAX_TRIALS, typical=(0, 30))
SALIENCES = Fixed(
    (lambda: {"A": 0.5}, lambda: {"A": 0.3, "B": 0.7}),
    bad=(None, 0.5, {}, {"a": 0.5}, {"A": 2.0}, {"A": float("nan")}, {3: 0.5}),
)
CONDITIONING = [
    Entry(
        "attnviz.conditioning.ConditioningResult.strength",
        {"result": RUNS, "stimulus": Choice(("A",))},
        call=lambda result, stimulus: result.strength(stimulus),
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.ConditioningResult.final",
        {"result": RUNS, "decimals": Optional(Int(0, 15))},
        call=lambda result, decimals: result.final(decimals),
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.ConditioningResult.at",
        {"result": RUNS, "trial": Int(0, 10), "decimals": Optional(Int(0, 15))},
        call=lambda result, trial, decimals: result.at(trial, decimals),
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.ConditioningResult.phase_end",
        {"result": RUNS, "phase": Int(0, 1)},
        call=lambda result, phase: result.phase_end(phase),
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.ExperimentResult.final",
        {"result": EXPERIMENT_RUNS, "decimals": Optional(Int(0, 15))},
        call=lambda result, decimals: result.final(decimals),
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.Experiment",
        {
            "name": Text(("test",)),
            "claim": Text(("a claim",)),
            "groups": Fixed(
                (lambda: {"g": "5 A+"}, lambda: {"x": "3 AB+", "y": "2 A+"}),
                bad=(None, {}, "5 A+", {"g": "5 Q+"}),
            ),
            "saliences": Fixed((lambda: {"A": 0.5, "B": 0.5},), bad=(None, {}, {"A": -1.0})),
            "beta": ALPHA,
            "lam": Real(typical=(-2, 2)),
            "focus": Choice(("A",)),
        },
        names={"groups": "groups"},
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.Phase",
        {
            "trials": Fixed(
                (
                    lambda: (cond.Trial("A", True),),
                    lambda: (cond.Trial("AB", False), cond.Trial("B", True)),
                )
            ),
            "repeats": Int(1, cond.MAX_TRIALS, typical=(1, 5)),
            "name": Text(("p", "")),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.Trial",
        {
            "stimuli": Fixed(
                (lambda: "A", lambda: "AB", lambda: {"X", "Tone"}), bad=(None, 3, "", "a", [])
            ),
            "us": Bool(),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.Trial.parse",
        {"text": Fixed((lambda: "A+", lambda: "AX-"), bad=(None, 3, "A", "", "a+"))},
        call=lambda text: cond.Trial.parse(text),
        names={"text": "trial"},
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.acquisition_curve",
        {"n_trials": N_TRIALS, "alpha": ALPHA, "beta": ALPHA, "lam": Real(typical=(-2, 2))},
        positional=("n_trials",),
        names={"alpha": "saliences"},
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.as_schedule", {"schedule": SCHEDULE, "name": Text(("schedule", "s"))}
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.blocking_control_limit",
        {"alpha_a": ALPHA, "alpha_b": ALPHA, "lam": Real(typical=(-2, 2))},
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.compound_curve",
        {
            "n_trials": N_TRIALS,
            "saliences": SALIENCES,
            "beta": ALPHA,
            "lam": Real(typical=(-2, 2)),
            "start": Optional(Fixed((lambda: {"A": 0.2},), bad=(3, {"Q": 1.0}, {"A": "x"}))),
        },
        names={"start": "start"},
    ),  # fmt: skip
    Entry("attnviz.conditioning.conditioned_inhibition_limit", {"lam": Real(typical=(-2, 2))}),
    Entry("attnviz.conditioning.expand_schedule", {"schedule": SCHEDULE}),
    Entry(
        "attnviz.conditioning.extinction_curve",
        {"n_trials": N_TRIALS, "v0": Real(typical=(-2, 2)), "alpha": ALPHA, "beta": ALPHA},
        positional=("n_trials",),
        names={"alpha": "saliences"},
    ),  # fmt: skip
    Entry("attnviz.conditioning.format_schedule", {"schedule": SCHEDULE}),
    Entry(
        "attnviz.conditioning.largest_rate",
        {
            "result": Fixed(
                (lambda: cond.run("5 A+"), lambda: cond.run("blocking")), bad=(None, 3, "5 A+")
            )
        },
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.overshadowing_curve",
        {
            "n_trials": N_TRIALS,
            "alpha_a": ALPHA,
            "alpha_b": ALPHA,
            "beta": ALPHA,
            "lam": Real(typical=(-2, 2)),
        },
        positional=("n_trials",),
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.parse_schedule",
        {
            "text": Fixed(
                tuple((lambda t=t: t) for t in SCHEDULES),
                bad=(None, 3, "", "20 a+", "A+ |", "100001 A+"),
            )
        },
        names={"text": "schedule"},
    ),  # fmt: skip
    Entry(
        "attnviz.conditioning.run",
        {
            "schedule_or_experiment": Fixed(
                (lambda: "5 A+ | 5 AB+", lambda: "blocking", lambda: "3 AX- | 3 A+"),
                bad=(None, 3, "", "no_such_experiment", "5 a+"),
            ),
            "rule": Choice(cond.RULES),
            "saliences": Optional(Real(0.0, 1.0, low_open=True)),
            "beta": Optional(ALPHA),
            "lam": Optional(Real(typical=(-2, 2))),
        },
        positional=("schedule_or_experiment",),
    ),  # fmt: skip
]

# -------------------------------------------------------- the dynamical-system framework

from attnviz import dsf, dsf_views, model_classes  # noqa: E402

FEATURE = Optional(Choice(("identity", "elu_plus_one", "relu")))
DSF_DIMS = {"T": (1, 6), "d": (1, 4), "n": (1, 3)}
U = Tensor("T d")


def _w(spec: str, **kw) -> Tensor:
    return Tensor(spec, empty=None, **kw)


QKV = {"u": U, "W_q": _w("n d"), "W_k": _w("n d"), "W_v": _w("d d")}
GATE_BIAS = Real(typical=(-3, 3))
SYSTEMS = Receiver(*(
    (lambda kind=kind: dsf.nested_system(kind, 6, 3, 0, 2, "elu_plus_one")) for kind in dsf.KINDS
))  # fmt: skip
DSF_SYSTEMS = Receiver(*(
    (lambda kind=kind: dsf.nested_system(kind, 6, 3, 0, 2, "elu_plus_one"))
    for kind in dsf.KINDS if kind != "softmax"
))  # fmt: skip
U63 = Tensor("6 3", empty=None)
INFINITE_STATE = "softmax attention's state size is math.inf (documented: no finite DSF state)"


class RowOrMatrix(Tensor):
    """A tensor of ``spec`` whose last row alone is valid too (S6's A: (d, n) or (n,))."""

    def hostile(self, dims):
        return super().hostile(dims)[:-1]


DSF_ENTRIES = [
    Entry(
        "attnviz.dsf.state_size",
        {
            "kind": Choice(dsf.KINDS),
            "d": Int(1, 2**31, typical=(1, 64)),
            "n": Int(1, 2**31, typical=(1, 16)),
        },
        nan_ok=INFINITE_STATE,
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.ImplicitAttention.phi_channels",
        {"system": SYSTEMS, "channel_map": Choice(dsf.CHANNEL_MAPS)},
        call=lambda system, channel_map: system.phi_channels(channel_map),
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.ImplicitAttention.phi_summary",
        {"system": SYSTEMS, "reduce": Choice(dsf.REDUCTIONS)},
        call=lambda system, reduce: system.phi_summary(reduce),
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.ImplicitAttention.apply",
        {"system": SYSTEMS, "u": U63},
        call=lambda system, u: system.apply(u),
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.ImplicitAttention.contributions",
        {"system": SYSTEMS, "u": U63},
        call=lambda system, u: system.contributions(u),
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.DSF.run",
        {"system": DSF_SYSTEMS, "u": U63},
        call=lambda system, u: system.run(u),
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.DSF.decay_profile",
        {"system": DSF_SYSTEMS, "per_channel": Bool()},
        call=lambda system, per_channel: system.decay_profile(per_channel),
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.from_linear_attention",
        {**QKV, "feature_map": FEATURE, "normalize": Bool(), "eps": Real(0.0, typical=(0, 1e-3))},
        dims=DSF_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.from_normalized_attention",
        {
            **QKV,
            "w_n": _w("d"),
            "b_n": GATE_BIAS,
            "normalizer": Choice(dsf.NORMALIZERS),
            "feature_map": FEATURE,
        },
        dims=DSF_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.from_gated_linear_attention",
        {**QKV, "w_alpha": _w("d"), "b_alpha": GATE_BIAS, "feature_map": FEATURE},
        dims=DSF_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.from_s6",
        {
            "u": U,
            "W_delta": _w("d d"),
            "b_delta": _w("d"),
            "A": RowOrMatrix("d n", low=-2.0, high=0.0, empty=None),
            "W_B": _w("n d"),
            "W_C": _w("n d"),
            "D": Optional(_w("d")),
        },
        dims=DSF_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.from_ssd",
        {
            "u": Tensor("T 4"),
            "W_delta": _w("H 4"),
            "b_delta": _w("H"),
            "A": _w("H", low=-2.0, high=0.0),
            "W_B": _w("n 4"),
            "W_C": _w("n 4"),
            "D": Optional(_w("4")),
        },
        dims={**DSF_DIMS, "H": (1, 2)},
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.from_qlstm",
        {
            "u": U,
            "W_f": _w("d d"),
            "W_i": _w("d d"),
            "W_o": _w("d d"),
            "b_f": GATE_BIAS,
            "b_i": GATE_BIAS,
            "b_o": GATE_BIAS,
            "reversed_power": Optional(Real(typical=(0, 3))),
        },
        dims=DSF_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.from_rg_lru",
        {
            "u": U,
            "W_r": _w("d d"),
            "W_i": _w("d d"),
            "a_logits": _w("d"),
            "b_r": GATE_BIAS,
            "b_i": GATE_BIAS,
            "c": Real(0.0, low_open=True, typical=(0.5, 10)),
        },
        dims=DSF_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.softmax_phi", {**QKV, "scale": Optional(Real(typical=(0.1, 2)))}, dims=DSF_DIMS
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.random_system",
        {
            "kind": Choice(dsf.KINDS),
            "u": U,
            "n": Int(1, 4096, typical=(1, 4)),
            "seed": Int(0, 2**63 - 1, typical=(0, 9)),
            "feature_map": FEATURE,
            "normalize": Bool(),
            "gate_bias": GATE_BIAS,
            "heads": Int(1, typical=(1, 1)),
        },
        positional=("kind", "u"),
        dims=DSF_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.nested_weights",
        {
            "T": Int(1, 96, typical=(1, 8)),
            "d": Int(1, 16, typical=(1, 4)),
            "n": Int(1, 16, typical=(1, 4)),
            "seed": Int(0, 2**63 - 1, typical=(0, 9)),
            "limits": Fixed(
                (lambda: dsf.NESTED_LIMITS, lambda: (96, 16, 16)),
                bad=(None, (8, 4), ("a", 1, 1), (0, 1, 1), (10**9, 16, 16)),
                edge_factories=(lambda: dsf.MAX_NESTED_LIMITS,),
            ),
        },
    ),  # fmt: skip
    Entry("attnviz.dsf.ssd_heads", {"d": Int(1, 2**31, typical=(1, 16))}),
    Entry(
        "attnviz.dsf.nested_system",
        {
            "kind": Choice(dsf.KINDS),
            "T": Int(1, 96, typical=(1, 8)),
            "d": Int(1, 16, typical=(1, 4)),
            "seed": Int(0, 2**63 - 1, typical=(0, 9)),
            "n": Int(1, 16, typical=(1, 3)),
            "feature_map": FEATURE,
            "normalize": Bool(),
            "gate": GATE_BIAS,
        },
    ),  # fmt: skip
    Entry(
        "attnviz.dsf.linear_attention_and_s6",
        {
            "u": Tensor("T d", low=0.1, high=2.0),
            "n": Int(1, 4096, typical=(1, 4)),
            "delta": Real(0.0, 700.0, low_open=True, typical=(0.1, 2)),
            "broken": Optional(Choice(dsf.CONDITIONS)),
            "seed": Int(0, 2**63 - 1, typical=(0, 9)),
        },
        positional=("u",),
        dims=DSF_DIMS,
    ),  # fmt: skip
]


def _settings(kind="s6"):
    return lambda: model_classes.settings_of(kind, 2, "elu_plus_one", False, 1.0)


VIEW_SETTINGS = Fixed(
    (_settings("s6"), _settings("qlstm"), lambda: (None, None, None, None)),
    bad=(None, (1, 2), [2, "relu", False, 1.0], (0, None, None, None), (None, 3, None, None)),
)
VIEW_ARGS = {
    "kind": Choice(("s6", "qlstm", "softmax", "rg_lru")),
    "T": Int(1, 96, typical=(1, 8)),
    "d": Int(1, 16, typical=(1, 4)),
    "seed": Int(0, 2**63 - 1, typical=(0, 3)),
    "settings": VIEW_SETTINGS,
}
VIEWS = Receiver(lambda: dsf_views.class_view("s6", 6, 3, 0, _settings("s6")()))
DSF_VIEWS = [
    Entry("attnviz.dsf_views.class_system", VIEW_ARGS, positional=tuple(VIEW_ARGS)),
    Entry(
        "attnviz.dsf_views.class_view",
        VIEW_ARGS,
        positional=tuple(VIEW_ARGS),
        nan_ok=INFINITE_STATE,
    ),
    Entry("attnviz.dsf_views.phi_summary", VIEW_ARGS, positional=tuple(VIEW_ARGS)),
    Entry(
        "attnviz.dsf_views.ClassView.output",
        {"view": VIEWS, "i": Int(0, 5), "c": Int(0, 2)},
        call=lambda view, i, c: view.output(i, c),
    ),  # fmt: skip
    Entry(
        "attnviz.dsf_views.ClassView.build_up",
        {"view": VIEWS, "i": Int(0, 5), "c": Int(0, 2)},
        call=lambda view, i, c: view.build_up(i, c),
    ),  # fmt: skip
]

MODEL_CLASSES = [
    Entry(
        "attnviz.model_classes.model_class",
        {"name": Choice((*model_classes.BY_KIND, *model_classes.BY_MIXER))},
    ),  # fmt: skip
    Entry("attnviz.model_classes.acted_on_by", {"setting": Choice(model_classes.SETTINGS)}),
    Entry(
        "attnviz.model_classes.labels",
        {"names": Seq(Choice(tuple(model_classes.BY_KIND)), length=(0, 4))},
    ),  # fmt: skip
    Entry(
        "attnviz.model_classes.settings_of",
        {
            "kind": Choice(tuple(model_classes.BY_KIND)),
            "n": Int(1, 2**31, typical=(1, 16)),
            "feature_map": Text(("relu", "elu_plus_one")),
            "normalize": Bool(),
            "gate": Real(typical=(-3, 3)),
        },
    ),  # fmt: skip
]

# ------------------------------------------------------------ state size, gradient field

import tempfile  # noqa: E402

from attnviz import gradient_field as gf  # noqa: E402
from attnviz import state_size as ss  # noqa: E402
from attnviz.models import TinyConfig, TinyTransformer  # noqa: E402

TINY = {"seq_len": 8, "num_kv_pairs": 1, "vocab": 16, "d_model": 8, "n_layers": 1,
        "n_heads": 1, "steps": 1, "batch_size": 4, "n_train": 8, "n_test": 4}  # fmt: skip
SPECS = (
    lambda: {"mixer": "attention", "state_expansion": None, "seed": 0},
    lambda: {"mixer": "linear_attention", "state_expansion": 2, "seed": 1},
)
SETTINGS = Fixed(
    (lambda: dict(TINY), lambda: ss.SweepSettings(**TINY)),
    bad=(None, 3, {**TINY, "bogus": 1}, {**TINY, "seq_len": 0}, {**TINY, "lr": float("nan")}),
)
SPEC = Fixed(
    SPECS,
    bad=(None, 3, {}, {"mixer": "mamba", "state_expansion": None, "seed": 0},
         {"mixer": "attention", "state_expansion": None, "seed": 0, "x": 1},
         {"mixer": "linear_attention", "state_expansion": 0, "seed": 0}),
)  # fmt: skip
RESULTS = Receiver(ss.shipped)
MIXER = Choice(("attention", "linear_attention", "s6", "qlstm"))
PROGRESS = Fixed((lambda: False, lambda: lambda *_: None), bad=(None, 3, "yes"))
SEEDS = Seq(Int(0, 2**31 - 1, typical=(0, 3)), length=(1, 2))


def _tiny_model():
    return TinyTransformer(TinyConfig(n_layers=1, d_model=8, vocab_size=16, context=8), seed=0)


def _saved() -> str:
    path = os.path.join(tempfile.gettempdir(), "attnviz_promise_sweep.json")
    ss.shipped().save(path)
    return path


def _tiny_quick(progress, workers):
    """quick_sweep with the QUICK preset shrunk for the test (its arguments are what count)."""
    saved = dict(ss.QUICK)
    ss.QUICK.update(classes=("attention",), sizes=(1,), settings=ss.SweepSettings(**TINY))
    try:
        return ss.quick_sweep(progress, workers=workers)
    finally:
        ss.QUICK.clear()
        ss.QUICK.update(saved)


STATE_SIZE = [
    Entry(
        "attnviz.state_size.SweepResult.accuracy",
        {
            "result": RESULTS,
            "mixer": MIXER,
            "state_expansion": Optional(Int(1, ss.MAX_STATE_EXPANSION, typical=(1, 16))),
            "seed": Optional(Int(0, typical=(0, 2))),
        },
        call=lambda result, **kw: result.accuracy(**kw),
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.SweepResult.curve",
        {"result": RESULTS, "mixer": MIXER, "spread": Bool()},
        call=lambda result, mixer, spread: result.curve(mixer, spread=spread),
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.SweepResult.curves",
        {"result": RESULTS, "spread": Bool()},
        call=lambda result, spread: result.curves(spread=spread),
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.SweepResult.smallest_state",
        {"result": RESULTS, "mixer": MIXER, "accuracy": Real(0.0, 1.0)},
        call=lambda result, mixer, accuracy: result.smallest_state(mixer, accuracy),
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.SweepResult.from_dict",
        {
            "data": Fixed(
                (lambda: ss.shipped().to_dict(),),
                bad=(
                    None,
                    3,
                    {},
                    {"format": ss.FORMAT},
                    {"format": ss.FORMAT, "settings": {}, "runs": [1]},
                ),
            )
        },
        call=lambda data: ss.SweepResult.from_dict(data),
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.SweepResult.from_json",
        {
            "text": Fixed(
                (lambda: ss.shipped().to_json(),), bad=(None, 3, "", "{", "[]", '{"format": "x"}')
            )
        },
        call=lambda text: ss.SweepResult.from_json(text),
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.SweepResult.save",
        {
            "result": RESULTS,
            "path": Fixed(
                (lambda: os.path.join(tempfile.gettempdir(), "attnviz_promise_save.json"),),
                bad=(None, 3),
            ),
        },
        call=lambda result, path: result.save(path),
        allowed=(ValueError, TypeError, OSError),
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.SweepResult.load",
        {"path": Fixed((_saved,), bad=(None, 3))},
        call=lambda path: ss.SweepResult.load(path),
        allowed=(ValueError, TypeError, OSError),
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.SweepSettings",
        {
            # a few of the fields (they share one check loop): more arguments make
            # hypothesis' draw bookkeeping quadratic in the sweep
            "seq_len": Int(1, ss.LIMITS["seq_len"], typical=(1, 4)),
            "vocab": Int(1, ss.LIMITS["vocab"], typical=(1, 4)),
            "steps": Int(0, ss.LIMITS["steps"], typical=(0, 4)),
            "attention_only": Bool(),
            "lr": Real(0.0, 10.0, low_open=True, typical=(1e-4, 1e-2)),
            "seed": Int(0, 2**31 - 1, typical=(0, 9)),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.SweepSettings.of",
        {"settings": SETTINGS, "name": Text(("settings",))},
        call=lambda settings, name: ss.SweepSettings.of(settings, name),
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.answer_mass",
        {
            "model": Fixed((_tiny_model,), bad=(None, 3)),
            "task": Fixed(
                (lambda: tasks.mqar(2, 8, 2, 16),), bad=(None, 3, tasks.copy_task(2, 3, 8))
            ),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.dsf_trained.trained_system",
        {
            "model": Fixed((_tiny_model,), bad=(None, 3, "model")),
            "input_ids": Fixed(
                (lambda: torch.tensor([1, 2, 3]), lambda: [0, 5, 15, 7, 2, 1, 1, 3]),
                bad=(
                    None,
                    OBJECT,
                    "abc",
                    torch.zeros(3),
                    torch.zeros(0, dtype=torch.long),
                    torch.zeros(2, 3, dtype=torch.long),
                    torch.tensor([1, 99]),
                    torch.arange(9),
                ),
            ),
            "layer": Int(0, 0),
        },
        positional=("model", "input_ids"),
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.mqar_state_size_sweep",
        {
            "classes": Seq(MIXER, length=(1, 2)),
            "sizes": Seq(Int(1, ss.MAX_STATE_EXPANSION, typical=(1, 2)), length=(1, 2)),
            "seeds": SEEDS,
            "progress": PROGRESS,
            "map_fn": Optional(Fixed((lambda: map,), bad=(3, "map"))),
        },
        fixed=TINY,
        examples=3,
        deadline=120,
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.quick_sweep",
        {"progress": PROGRESS, "workers": Optional(Int(1, ss.max_workers(), typical=(1, 1)))},
        call=_tiny_quick,
        examples=2,
        deadline=120,
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.run_specs",
        {
            "classes": Seq(MIXER, length=(0, 3)),
            "sizes": Seq(Int(1, ss.MAX_STATE_EXPANSION, typical=(1, 16)), length=(0, 3)),
            "seeds": SEEDS,
        },
    ),  # fmt: skip
    Entry("attnviz.state_size.shipped", {}),
    Entry(
        "attnviz.state_size.train_model",
        {"settings": SETTINGS, "spec": SPEC},
        examples=3,
        deadline=60,
    ),  # fmt: skip
    Entry(
        "attnviz.state_size.train_one",
        {"settings": SETTINGS, "spec": SPEC},
        examples=3,
        deadline=60,
    ),  # fmt: skip
    Entry("attnviz.state_size.worker_map", {"workers": Int(1, ss.max_workers())}),
]

IDS = Fixed(
    (lambda: torch.tensor([1, 2, 3]), lambda: torch.arange(8) % 16, lambda: np.array([4, 5])),
    bad=(None, "ids", torch.zeros(2, 3, dtype=torch.long), torch.tensor([100]),
         torch.zeros(9, dtype=torch.long), torch.tensor([1.5])),
)  # fmt: skip
FIELD_OF = Receiver(lambda: gf.gradient_field(_tiny_model(), torch.tensor([1, 2, 3, 4])))
LAYER = Fixed((lambda: "output", lambda: 1), bad=(None, "x", 0, 5, 2.5, True))
GRADIENT_FIELD = [
    Entry(
        "attnviz.gradient_field.GradientField.layer",
        {"field": FIELD_OF, "layer": LAYER},
        call=lambda field, layer: field.layer(layer),
    ),  # fmt: skip
    Entry(
        "attnviz.gradient_field.GradientField.support",
        {"field": FIELD_OF, "layer": LAYER},
        call=lambda field, layer: field.support(layer),
    ),  # fmt: skip
    Entry(
        "attnviz.gradient_field.GradientField.by_distance",
        {"field": FIELD_OF, "layer": LAYER},
        call=lambda field, layer: field.by_distance(layer),
    ),  # fmt: skip
    Entry(
        "attnviz.gradient_field.gradient_field",
        {"model": Fixed((_tiny_model,), bad=(None, 3)), "input_ids": IDS},
        examples=5,
    ),  # fmt: skip
    Entry(
        "attnviz.gradient_field.model_reach",
        {"model": Fixed((_tiny_model,), bad=(None, 3)), "seq_len": Int(1, 8)},
    ),  # fmt: skip
]


# ------------------------------------------------ fast kernels' cost (lesson 07)

from attnviz import fast_kernels as fk  # noqa: E402

# flex_sparse compiles for seconds at every new length: tests/test_fast_kernels.py runs it
QUICK_METHODS = Choice(fk.DEFAULT_METHODS)
SHORT = Fixed(
    (lambda: 8, lambda: 33),
    bad=(None, OBJECT, 0, -1, fk.MAX_SEQ_LEN + 1, 2.5, "8", True),
)
HEAD = Int(1, fk.MAX_HEAD_DIM, typical=(1, 8))
REPEATS = Int(1, fk.MAX_REPEATS, typical=(1, 3))
LENGTHS = Fixed(
    (lambda: (4, 8), lambda: [16], lambda: (1, 2, 4, 8)),
    bad=(None, 8, "8", [], [16, 8], [4, 4], [0], [fk.MAX_SEQ_LEN + 1], [2.5]),
)
FAST_KERNELS = [
    Entry(
        "attnviz.fast_kernels.make_inputs",
        {
            "seq_len": Int(1, fk.MAX_SEQ_LEN, typical=(1, 32)),
            "d": HEAD,
            "seed": Int(0, 2**63 - 1, typical=(0, 5)),
        },
        positional=("seq_len",),
    ),
    Entry(
        "attnviz.fast_kernels.time_method",
        {"method": QUICK_METHODS, "seq_len": SHORT, "d": HEAD, "repeats": REPEATS},
        positional=("method", "seq_len"),
        examples=5,
    ),
    Entry(
        "attnviz.fast_kernels.first_and_median",
        {
            "method": QUICK_METHODS,
            "seq_len": SHORT,
            "d": HEAD,
            "repeats": Int(0, fk.MAX_REPEATS, typical=(0, 3)),
        },
        positional=("method", "seq_len"),
        examples=5,
    ),
    Entry(
        "attnviz.fast_kernels.cost_against_length",
        {
            "methods": Seq(QUICK_METHODS, length=(1, 2)),
            "lengths": LENGTHS,
            "time_budget": Real(0.0, 3600.0, low_open=True, typical=(0.01, 0.5)),
            "d": HEAD,
            "repeats": REPEATS,
        },
        positional=("methods", "lengths"),
        examples=5,
    ),
    Entry(
        "attnviz.fast_kernels.peak_memory",
        {
            "method": QUICK_METHODS,
            "seq_len": SHORT,
            "d": Int(1, fk.MAX_HEAD_DIM, typical=(1, 4)),
            "timeout": Real(0.0, 3600.0, low_open=True, typical=(120.0, 300.0)),
        },
        positional=("method", "seq_len"),
        examples=2,
        deadline=120.0,
        allowed=(ValueError, TypeError, TimeoutError),  # a timeout too short for a child
    ),
]  # fmt: skip

# ------------------------------------------------------------------------ sparse speed

SPARSE_SPEED = [
    Entry(
        "attnviz.sparse_speed.density_speedup",
        {
            "patterns": Optional(
                Fixed(
                    (lambda: ["causal"], lambda: ["sliding_window", masks.strided(3)]),
                    bad=(OBJECT, "causal", [3], ["no_such_mask"]),
                )
            ),
            "seq_len": Int(1, MAX_DENSE_LEN, typical=(1, 32)),
            "block_size": Int(1, MAX_DENSE_LEN, typical=(1, 16)),
            "d": Int(1, 1024, typical=(1, 8)),
            "repeats": Int(1, 1000, typical=(1, 2)),
            "time_budget": Real(0.0, low_open=True, typical=(1e-3, 1.0)),
            "seed": Int(0, 2**63 - 1, typical=(0, 9)),
            "threads": Optional(Int(1, os.cpu_count() or 1, typical=(1, 1))),
        },
        fixed={"compile": False},  # compiling takes seconds per pattern: tests/test_flex.py
        examples=5,
    ),
    Entry("attnviz.sparse_speed.default_patterns", {}),
]

# ------------------------------------------------------------------ transformer layer


def _layer_model(name):
    return lambda: load_lesson_model(name)


def _small_rope_model():
    config = TinyConfig(n_layers=2, n_heads=2, d_model=8, vocab_size=48, context=16,
                        positional="rope")  # fmt: skip
    return TinyTransformer(config, seed=0)


LAYER_MODELS = Fixed(
    (_layer_model("induction_2l"), _layer_model("induction_rope"), _small_rope_model),
    bad=(None, OBJECT, "induction_2l"),
)
LAYER_ARGS = {
    "model": LAYER_MODELS,
    "tokens": Seq(Int(0, 47), length=(1, 12)),  # the lesson models' vocabulary: 48
    "layer": Int(0, 1),
    "offset": Int(0, typical=(0, 4)),  # its top depends on the tokens: the context - T
    "causal": Optional(Bool()),
}
TRANSFORMER_LAYER = [
    Entry("attnviz.transformer_layer.layer_walkthrough", LAYER_ARGS,
          positional=("model", "tokens"), examples=8,
          nan_ok="scores holds −inf where the causal mask hides a key (documented)"),
    Entry("attnviz.transformer_layer.shift_change", LAYER_ARGS,
          positional=("model", "tokens"), examples=8),
    Entry(
        "attnviz.transformer_layer.position_scores",
        {
            "model": LAYER_MODELS,
            "query_token": Int(0, 47),
            "key_token": Int(0, 47),
            "head": Int(0, 1),
            "n_positions": Int(1, typical=(1, 16)),  # its top is the model's context
        },
        positional=("model", "query_token", "key_token"),
        examples=8,
    ),
    Entry(
        "attnviz.transformer_layer.head_writes",
        {"z": Tensor("B H T d"), "w_o": Tensor("n S", empty=None)},
        positional=("z", "w_o"),
        dims={"H": (2, 2), "d": (2, 2), "n": (4, 4)},  # w_o has H·d_head rows
    ),
    Entry(
        "attnviz.transformer_layer.diagonal_spread",
        {"scores": Tensor("T T", empty=None)},
        positional=("scores",),
    ),
]  # fmt: skip

ENTRIES: list[Entry] = [
    *RECEPTIVE, *MEMORY, *LOOKUP, *TASKS, *CONDITIONING, *DSF_ENTRIES, *DSF_VIEWS,
    *MODEL_CLASSES, *STATE_SIZE, *GRADIENT_FIELD, *SPARSE_SPEED, *FAST_KERNELS,
    *TRANSFORMER_LAYER,
]  # fmt: skip

_RECORD = "a result record built by {} (its fields are what that function computed)"
EXCLUDED: dict[str, str] = {
    "attnviz.receptive.ReceptiveField": _RECORD.format("receptive_field"),
    "attnviz.memory.CapacityResult": _RECORD.format("capacity_sweep"),
    "attnviz.memory.DepthHeadResult": _RECORD.format("depth_head_error"),
    "attnviz.lookup.RegressionData": _RECORD.format("make_regression_data"),
    "attnviz.lookup.SaturationStudy": _RECORD.format("softmax_saturation"),
    "attnviz.transformer_layer.LayerWalkthrough": _RECORD.format("layer_walkthrough"),
    "attnviz.tasks.TaskData": _RECORD.format("the task generators (make_task rebuilds one)"),
    "attnviz.conditioning.ConditioningResult": _RECORD.format("conditioning.run"),
    "attnviz.conditioning.ExperimentResult": _RECORD.format("conditioning.run"),
    "attnviz.gradient_field.GradientField": _RECORD.format("gradient_field"),
    "attnviz.dsf_views.ClassView": _RECORD.format("dsf_views.class_view"),
    "attnviz.state_size.SweepResult": _RECORD.format("mqar_state_size_sweep (or from_dict)"),
    "attnviz.dsf_trained.TrainedSystem": _RECORD.format("dsf_trained.trained_system"),
    "attnviz.model_classes.ModelClass": "a row of the module's own CLASSES table",
    "attnviz.fast_kernels.KernelMethod": "a row of the module's own METHODS table",
    "attnviz.dsf.ImplicitAttention": "an abstract base: takes no arguments",
    "attnviz.dsf.DSF": "built by the from_* builders, which check every input; the "
    "constructor itself checks kind, label, heads and that every part is finite",
    "attnviz.dsf.SoftmaxAttention": "built by softmax_phi, which checks every input; the "
    "constructor itself checks kind, shapes and that every part is finite",
}
