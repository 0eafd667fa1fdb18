"""Table entries for the studies area (see promise.table): receptive fields, associative
memory, conditioning, the dynamical-system framework, lookup, state size, tasks, the
gradient field and the model classes."""

from __future__ import annotations

import numpy as np
import torch

from attnviz import lookup, memory, receptive, tasks
from attnviz.kernels import masks

from .kinds import Bool, Choice, Entry, Fixed, Int, Optional, Real, Receiver, Seq, Tensor

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
    _field(lambda: masks.sliding_window(3), 64, 8),
    _field(lambda: np.tril(np.ones((40, 40), bool)), 40, 4),
    _field(lambda: [1, 4], 100, 6),
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
        {"field": FIELDS, "size": Int(1, 1 << 16, typical=(1, 64)),
         "reduce": Choice(("max", "min"))},
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
MEMORY = [
    Entry(
        "attnviz.memory.write_all",
        {"keys": Tensor("n d"), "values": Tensor("n S"), "rule": Choice(memory.RULES),
         "beta": GATE, "alpha": GATE, "initial_state": Optional(Tensor("S d"))},
        positional=("keys", "values"),
    ),  # fmt: skip
    Entry(
        "attnviz.memory.AssociativeMemory",
        {"d_k": Int(1, memory.MAX_DIM, typical=(1, 6)),
         "d_v": Int(1, memory.MAX_DIM, typical=(1, 6)),
         "rule": Choice(memory.RULES), "beta": GATE, "alpha": GATE},
    ),  # fmt: skip
    Entry(
        "attnviz.memory.AssociativeMemory.write",
        {"memory": MEMORIES, "keys": Tensor("n 3"), "values": Tensor("n 2")},
        call=lambda memory, keys, values: memory.write(keys, values),
    ),
    Entry(
        "attnviz.memory.AssociativeMemory.read",
        {"memory": MEMORIES, "queries": Tensor("n 3")},
        call=lambda memory, queries: memory.read(queries),
    ),
    Entry(
        "attnviz.memory.random_pairs",
        {"n_items": Int(1, memory.MAX_ITEMS, typical=(1, 8)),
         "d_k": Int(1, memory.MAX_DIM, typical=(1, 8)),
         "d_v": Optional(Int(1, memory.MAX_DIM, typical=(1, 8))), "seed": Int(0, typical=(0, 9))},
    ),  # fmt: skip
    Entry(
        "attnviz.memory.retrieval_errors",
        {"states": Tensor("T S d"), "keys": Tensor("n d"), "values": Tensor("n S")},
        positional=("states", "keys", "values"),
    ),
    Entry(
        "attnviz.memory.mean_error_of_items_written",
        {"errors": Fixed((lambda: np.ones((4, 3)), lambda: np.zeros((1, 0)) + 1.0),
                         bad=(None, "errors", np.ones(3), np.ones((2, 2)),
                              np.full((2, 1), np.nan)))},
        positional=("errors",),
    ),  # fmt: skip
    Entry(
        "attnviz.memory.capacity_sweep",
        {"d_k": Int(1, memory.MAX_DIM, typical=(1, 16)),
         "n_items": Int(1, memory.MAX_ITEMS, typical=(1, 16)),
         "trials": Int(1, memory.MAX_TRIALS, typical=(1, 4)),
         "keys": Choice(memory.KEY_KINDS), "criterion": Choice(memory.CRITERIA),
         "rule": Choice(memory.SWEEP_RULES),
         "d_v": Optional(Int(1, memory.MAX_DIM, typical=(1, 8))),
         "seed": Int(0, typical=(0, 9)), "beta": GATE},
    ),  # fmt: skip
    Entry(
        "attnviz.memory.depth_head_error",
        {"n_layers": Int(1, 1024, typical=(1, 4)), "n_heads": Int(1, 1024, typical=(1, 3)),
         "n_items": Int(1, memory.MAX_ITEMS, typical=(1, 8)),
         "d_k": Int(1, memory.MAX_DIM, typical=(1, 8)),
         "trials": Int(1, memory.MAX_TRIALS, typical=(1, 8)), "seed": Int(0, typical=(0, 9))},
    ),  # fmt: skip
]

# ----------------------------------------------------------------------------- lookup

POINTS = Tensor("n", low=-3.0, high=3.0)
KEYS = Tensor("T", low=-3.0, high=3.0)
BANDWIDTH = Real(0.0, low_open=True, typical=(0.05, 3.0))
KERNEL = Choice(lookup.SMOOTHING_KERNELS)
NO_SUPPORT = "a query with no key inside a compact kernel's support predicts NaN (documented)"
LOOKUP = [
    Entry("attnviz.lookup.smoothing_kernel", {"u": Tensor("n d"), "kernel": KERNEL}),
    Entry(
        "attnviz.lookup.nadaraya_watson_weights",
        {"queries": POINTS, "keys": KEYS, "kernel": KERNEL, "bandwidth": BANDWIDTH},
        positional=("queries", "keys"),
    ),
    Entry(
        "attnviz.lookup.nadaraya_watson",
        {"queries": POINTS, "keys": KEYS, "values": Tensor("T"), "kernel": KERNEL,
         "bandwidth": BANDWIDTH},
        positional=("queries", "keys", "values"), nan_ok=NO_SUPPORT,
    ),  # fmt: skip
    Entry(
        "attnviz.lookup.gaussian_as_dot_product",
        {"queries": POINTS, "keys": KEYS, "bandwidth": BANDWIDTH},
        positional=("queries", "keys", "bandwidth"),
    ),
    Entry("attnviz.lookup.RegressionData.truth", {"x": Tensor("n d")}),
    Entry(
        "attnviz.lookup.make_regression_data",
        {"n_points": Int(1, 100_000, typical=(1, 50)), "noise": Real(0.0, 1e6, typical=(0, 2)),
         "seed": Int(0, typical=(0, 9)), "low": Real(-1e6, 1e6, typical=(-5, -1)),
         "high": Real(-1e6, 1e6, typical=(0, 5))},
    ),  # fmt: skip
    Entry(
        "attnviz.lookup.entropy",
        {"weights": Tensor("n T", low=0.0, high=1.0), "axis": Int(-2, 1, typical=(-2, 1))},
        positional=("weights",),
    ),
    Entry(
        "attnviz.lookup.attention_temperature_scale",
        {"d_k": Int(1, 2**53, typical=(1, 512)), "temperature": Real(1e-100, 1e100, typical=(0.1, 4)),
         "scaled": Bool()},
    ),  # fmt: skip
    Entry(
        "attnviz.lookup.random_attention",
        {"d_k": Int(1, 65_536, typical=(1, 64)), "n_queries": Int(1, 4096, typical=(1, 8)),
         "n_keys": Int(1, 4096, typical=(1, 8)),
         "temperature": Real(1e-100, 1e100, typical=(0.1, 4)), "scaled": Bool(),
         "seed": Int(0, typical=(0, 9))},
        positional=("d_k",),
    ),  # fmt: skip
    Entry(
        "attnviz.lookup.softmax_saturation",
        {"d_ks": Seq(Int(1, 65_536, typical=(1, 64)), length=(1, 3)),
         "n_keys": Int(2, 4096, typical=(2, 16)), "n_samples": Int(1, 100_000, typical=(1, 32)),
         "seed": Int(0, typical=(0, 9))},
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
        {"n": N_SEQ, "seq_half": Int(2, tasks.MAX_SIZE, typical=(2, 8)),
         "vocab": Int(3, tasks.MAX_SIZE, typical=(12, 40)), "seed": SEED, "bos": Bool(),
         "distinct": Bool(), "min_half": Optional(Int(2, typical=(2, 4)))},
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.periodic_tokens",
        {"n": N_SEQ, "length": Int(3, tasks.MAX_SIZE, typical=(3, 24)),
         "vocab": Int(3, tasks.MAX_SIZE, typical=(8, 40)), "seed": SEED,
         "min_period": Int(2, typical=(2, 3)), "max_period": Optional(Int(2, typical=(4, 6)))},
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.mqar",
        {"n": N_SEQ, "seq_len": Int(4, tasks.MAX_SIZE, typical=(16, 32)),
         "num_kv_pairs": Int(1, tasks.MAX_SIZE, typical=(1, 4)),
         "vocab": Int(2, tasks.MAX_SIZE, typical=(40, 64)), "seed": SEED,
         "power_a": Real(0.0, 1e6, low_open=True, typical=(0.01, 1.0)),
         "random_non_queries": Bool()},
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.copy_task",
        {"n": N_SEQ, "copy_len": Int(1, tasks.MAX_SIZE, typical=(1, 8)),
         "vocab": Int(3, tasks.MAX_SIZE, typical=(3, 20)), "seed": SEED},
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.needle",
        {"n": N_SEQ, "haystack_len": Int(1, tasks.MAX_SIZE, typical=(1, 16)),
         "vocab": Int(4, tasks.MAX_SIZE, typical=(4, 20)), "seed": SEED,
         "needle_len": Int(1, tasks.MAX_SIZE, typical=(1, 4)),
         "depth": Optional(Real(0.0, 1.0))},
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.lagged_copy",
        {"n": N_SEQ, "length": Int(2, tasks.MAX_SIZE, typical=(8, 16)),
         "lag": Int(1, typical=(1, 7)), "vocab": Int(2, tasks.MAX_SIZE, typical=(2, 20)),
         "seed": SEED},
    ),  # fmt: skip
    Entry(
        "attnviz.tasks.make_task",
        {"task": Choice(tuple(tasks.TASKS))},
        call=lambda task: tasks.make_task(task, **RECIPES.get(task, {})),
    ),
]
