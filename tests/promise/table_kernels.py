"""Table entries for ``attnviz.kernels``: masks, softmax, linear, SSM, RNN, feature maps."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from attnviz.kernels import (
    attention,
    chunkwise,
    chunkwise_triton,
    feature_maps,
    flex,
    linear,
    masks,
    online_softmax,
    rnn,
    scan,
    softmax,
    ssm,
)

from .kinds import (
    INF,
    NAN,
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


@dataclass(frozen=True)
class LeadTensor(Tensor):
    """A tensor whose leading dimensions broadcast (``(..., T, d)``): one more leading
    dimension is valid, so only one too few (below the documented minimum) is hostile;
    ``too_few=False`` for a tensor that broadcasts to its shape (fewer dimensions too)."""

    too_few: bool = True

    def hostile(self, dims):
        shape = dims.shape(self.spec)
        values = [None, OBJECT, "tensor", self._make(dims).to(torch.complex64),
                  torch.empty(shape, device="meta")]  # fmt: skip
        if not self.nonfinite_ok:
            values += [self._make(dims, fill=NAN), self._make(dims, fill=INF)]
        return [*values, self._make(dims)[0]] if self.too_few else values


@dataclass(frozen=True)
class BoolMask(Tensor):
    """A boolean mask of shape ``spec`` (True = may attend); refused: other dtypes, a
    shape that does not broadcast to the scores."""

    def valid(self, dims):
        seeds = st.integers(0, 2**16)
        return seeds.map(lambda s: self._make(dims, seed=s) > (self.low + self.high) / 2)

    def edges(self, dims):
        shape = dims.shape(self.spec)
        return [torch.zeros(shape, dtype=torch.bool), torch.ones(shape, dtype=torch.bool)]

    def hostile(self, dims):
        shape = dims.shape(self.spec)
        wrong = (*shape[:-1], shape[-1] + 1)
        return [OBJECT, "mask", torch.ones(shape), torch.ones(wrong, dtype=torch.bool)]

    def probes(self, dims):
        return []


# ----------------------------------------------------------------------------- masks

MASK_SPAN = Int(1, masks.MAX_SPAN, typical=(1, 6))
SINK = Int(0, masks.MAX_SPAN, typical=(0, 3))
PATTERNS = tuple(
    (lambda name=name, kw=kw: masks.make_mask(name, **kw))
    for name, kw in (
        ("causal", {}),
        ("sliding_window", {}),
        ("dilated", {}),
        ("strided", {}),
        ("power_attention", {}),
        ("full", {}),
        ("bigbird", {"random_keys": masks.MAX_RANDOM_KEYS}),
        ("longnet", {}),
        ("fixed", {}),
    )
)
SEQ_LEN = Int(1, masks.MAX_DISTANCE_LEN, typical=(1, 64))
DENSE_LEN = Int(1, masks.MAX_DENSE_LEN, typical=(1, 32))


def _causal_mod(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def _window_mod(b, h, q_idx, kv_idx):
    return (q_idx - kv_idx >= 0) & (q_idx - kv_idx < 3)


def _int_mod(b, h, q_idx, kv_idx):
    return q_idx - kv_idx


MASK_MOD = Fixed((lambda: _causal_mod, lambda: _window_mod), bad=(None, OBJECT, _int_mod))
# the constructor stores a mask_mod; dense() checks what an untrusted one returns
STORED_MOD = Fixed((lambda: _causal_mod, lambda: _window_mod))

MASK_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.masks.MaskPattern",
        {"name": Text(("mine",)), "mask_mod": STORED_MOD, "causal": Bool(), "trusted": Bool()},
    ),
    Entry(
        "attnviz.kernels.masks.MaskPattern.from_mask_mod",
        {"name": Text(("mine",)), "mask_mod": MASK_MOD, "causal": Bool()},
        call=lambda **kw: masks.MaskPattern.from_mask_mod(**kw),
    ),
    Entry(
        "attnviz.kernels.masks.MaskPattern.dense",
        {"pattern": Receiver(*PATTERNS), "seq_len": DENSE_LEN},
        call=lambda pattern, seq_len: pattern.dense(seq_len),
    ),
    Entry(
        "attnviz.kernels.masks.MaskPattern.distances",
        {"pattern": Receiver(*PATTERNS), "seq_len": SEQ_LEN},
        call=lambda pattern, seq_len: pattern.distances(seq_len),
    ),
    Entry(
        "attnviz.kernels.masks.MaskPattern.block_mask",
        {
            "pattern": Receiver(*PATTERNS[:3]),
            "seq_len": Int(1, masks.MAX_BLOCK_MASK_LEN, typical=(1, 32)),
            "block_size": Int(1, masks.MAX_BLOCK_MASK_LEN, typical=(1, 16)),
            "device": Text(("cpu",)),
        },
        call=lambda pattern, **kw: pattern.block_mask(**kw),
        examples=5,
    ),
    Entry(
        "attnviz.kernels.masks.MaskPattern.blocked",
        {"pattern": Receiver(*PATTERNS), "block_size": MASK_SPAN},
        call=lambda pattern, block_size: pattern.blocked(block_size).dense(16),
    ),
    Entry("attnviz.kernels.masks.full", {}),
    Entry("attnviz.kernels.masks.causal", {}),
    Entry(
        "attnviz.kernels.masks.sliding_window",
        {"window": MASK_SPAN, "sink_tokens": SINK},
        call=lambda **kw: masks.sliding_window(**kw).distances(64),
    ),
    Entry(
        "attnviz.kernels.masks.dilated",
        {"window": MASK_SPAN, "rate": MASK_SPAN, "sink_tokens": SINK},
        call=lambda **kw: masks.dilated(**kw).dense(16),
    ),
    Entry(
        "attnviz.kernels.masks.strided",
        {"stride": MASK_SPAN},
        call=lambda **kw: masks.strided(**kw).distances(2**20),
    ),
    Entry(
        "attnviz.kernels.masks.fixed",
        {"block": MASK_SPAN, "c": Int(1, 1)},
        call=lambda **kw: masks.fixed(**kw).dense(16),
    ),
    Entry(
        "attnviz.kernels.masks.longformer",
        {"window": MASK_SPAN, "global_tokens": SINK},
        call=lambda **kw: masks.longformer(**kw).dense(16),
    ),
    Entry(
        "attnviz.kernels.masks.bigbird",
        {
            "window": MASK_SPAN,
            "global_tokens": SINK,
            "random_keys": Int(0, masks.MAX_RANDOM_KEYS, typical=(0, 4)),
            "seed": Int(0, 2**31 - 1, typical=(0, 100)),
        },
        call=lambda **kw: masks.bigbird(**kw).dense(16),
    ),
    Entry(
        "attnviz.kernels.masks.longnet",
        {
            "segment_lengths": Seq(Int(1, masks.MAX_SPAN, typical=(1, 16)), length=(3, 3)),
            "dilations": Seq(Int(1, masks.MAX_SPAN, typical=(1, 4)), length=(3, 3)),
        },
        call=lambda **kw: masks.longnet(**kw).dense(16),
    ),
    Entry(
        "attnviz.kernels.masks.stride_slash",
        {"window": MASK_SPAN, "stride": MASK_SPAN, "sink_tokens": SINK},
        call=lambda **kw: masks.stride_slash(**kw).dense(16),
    ),
    Entry(
        "attnviz.kernels.masks.power_attention",
        {"block_size": MASK_SPAN, "window_blocks": MASK_SPAN, "sink_block": Bool()},
        call=lambda **kw: (lambda p: (p.dense(16), p.distances(2**30)))(
            masks.power_attention(**kw)
        ),
    ),
    Entry(
        "attnviz.kernels.masks.make_mask",
        {"name": Choice(tuple(masks.PATTERNS))},
        call=lambda name: masks.make_mask(name).dense(8),
    ),
    Entry(
        "attnviz.kernels.masks.check_mask_mod",
        {"mask_mod": MASK_MOD, "seq_len": DENSE_LEN},
    ),
]

# ------------------------------------------------------------------------------ flex

# small patterns and names; a name make_mask does not know, or a non-pattern, is refused
FLEX_PATTERN = Fixed(
    (
        lambda: masks.make_mask("causal"),
        lambda: masks.make_mask("sliding_window", window=3),
        lambda: masks.make_mask("longnet", segment_lengths=(4,), dilations=(2,)),  # empty rows
        lambda: "strided",
    ),
    bad=(None, OBJECT, 3, "no_such_mask"),
)
FLEX_LEN = Int(1, flex.MAX_FLEX_LEN, typical=(1, 40))
FLEX_BLOCK = Int(1, flex.MAX_FLEX_LEN, typical=(1, 16))
FLEX_Q = LeadTensor("B H T d", too_few=False)
FLEX_V = LeadTensor("B H T e", too_few=False)
FLEX_DIMS = {"T": (1, 8), "d": (1, 4), "e": (1, 4)}
# a scan over seq_len² pairs: 4·10⁹ at the cap, seconds alone, more on a shared machine
FLEX_SCAN_DEADLINE = 120.0

FLEX_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.flex.flex_sparse_attention",
        {"q": FLEX_Q, "k": FLEX_Q, "v": FLEX_V, "pattern": FLEX_PATTERN, "block_size": FLEX_BLOCK},
        positional=("q", "k", "v", "pattern"),
        fixed={"compile": False},  # compiling takes seconds per pattern; tests/test_flex.py
        dims=FLEX_DIMS,
    ),
    Entry(
        "attnviz.kernels.flex.flex_sparse_attention",
        {"q": FLEX_Q, "k": FLEX_Q, "v": FLEX_V, "compile": Bool()},
        positional=("q", "k", "v"),
        fixed={"pattern": "causal", "block_size": 8},  # one compiled graph per shape
        dims={"B": (1, 1), "H": (1, 1), "T": (8, 8), "d": (4, 4), "e": (4, 4)},
        examples=3,
        deadline=120.0,
    ),
    Entry(
        "attnviz.kernels.flex.dense_masked_attention",
        {"q": FLEX_Q, "k": FLEX_Q, "v": FLEX_V, "pattern": FLEX_PATTERN},
        positional=("q", "k", "v", "pattern"),
        dims=FLEX_DIMS,
    ),
    Entry(
        "attnviz.kernels.flex.block_layout",
        {"pattern": FLEX_PATTERN, "seq_len": FLEX_LEN, "block_size": FLEX_BLOCK},
        deadline=FLEX_SCAN_DEADLINE,
    ),
    Entry(
        "attnviz.kernels.flex.block_density",
        {"pattern": FLEX_PATTERN, "seq_len": FLEX_LEN, "block_size": FLEX_BLOCK},
        deadline=FLEX_SCAN_DEADLINE,
    ),
    Entry(
        "attnviz.kernels.flex.token_density",
        {"pattern": FLEX_PATTERN, "seq_len": FLEX_LEN},
        deadline=FLEX_SCAN_DEADLINE,
    ),
    Entry(
        "attnviz.kernels.flex.flex_block_mask",
        {"pattern": FLEX_PATTERN, "seq_len": FLEX_LEN, "block_size": FLEX_BLOCK},
        deadline=FLEX_SCAN_DEADLINE,
    ),
]

# --------------------------------------------------------------------------- softmax

Q = LeadTensor("T d")
K = LeadTensor("S d", empty="S")
V = LeadTensor("S e", empty="S")
SCALE = Optional(Real())
QKV_DIMS = {"T": (1, 6), "S": (1, 6), "d": (1, 4), "e": (1, 4)}

SOFTMAX_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.softmax.softmax_weights",
        {
            "scores": LeadTensor("B T S", empty="S", too_few=False),
            "mask": Optional(BoolMask("B T S")),
            "dim": Int(-3, 2),
        },
        dims=QKV_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.softmax.scaled_dot_product_attention",
        {
            "q": Q,
            "k": K,
            "v": V,
            "mask": Optional(BoolMask("T S")),
            "scale": SCALE,
            "causal": Bool(),
        },
        dims=QKV_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.softmax.blocked_attention",
        {
            "q": Q,
            "k": K,
            "v": V,
            "mask": Optional(BoolMask("T S")),
            "scale": SCALE,
            "causal": Bool(),
        },
        dims=QKV_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.softmax.weights_into",
        {
            "buffers": Fixed(
                (lambda: [], lambda: [torch.zeros(3, 3)], lambda: (torch.zeros(2),)),
                bad=(
                    None,
                    OBJECT,
                    "text",
                    torch.zeros(2),
                    [OBJECT],
                    [torch.zeros(2, dtype=torch.cfloat)],
                    [torch.empty(2, device="meta")],
                ),
            )
        },
        call=lambda buffers: softmax.weights_into(buffers).__enter__(),
    ),
]

# -------------------------------------------------------------------- online softmax

BLOCK = Int(1, online_softmax.MAX_BLOCK_SIZE, typical=(1, 8))
# (start, stop) of a tile: every drawn size has index 0; refused: not a pair, empty, negative
SPAN = Optional(
    Fixed((lambda: (0, 1), lambda: [0, 1]), bad=(OBJECT, "0:1", (0,), (1, 0), (-1, 1), (0, 2**40)))
)

ONLINE_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.online_softmax.online_softmax_attention",
        {"q": Q, "k": K, "v": V, "scale": SCALE, "causal": Bool(), "block_size": BLOCK},
        dims=QKV_DIMS,
    ),
    Entry(
        "attnviz.kernels.online_softmax.attention_tile",
        {
            "q": Q,
            "k": K,
            "lse": LeadTensor("T", too_few=True),
            "rows": SPAN,
            "cols": SPAN,
            "scale": SCALE,
            "causal": Bool(),
        },
        dims=QKV_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.online_softmax.online_softmax_steps",
        {
            "q": Tensor("T d"),
            "k": Tensor("S d", empty="S"),
            "v": Tensor("S e", empty="S"),
            "scale": SCALE,
            "causal": Bool(),
            "block_size": BLOCK,
        },
        dims=QKV_DIMS,
        nan_ok="the first step's m_before is -inf: the running max before any key",
    ),  # fmt: skip
]

# ---------------------------------------------------------------------- scan (Aaren)

SCAN_DIMS = {"T": (1, 8), "d": (1, 4), "e": (1, 4)}


def _state(m=0.5, u=1.0, w=(1.0, -2.0)):
    return scan.ScanState(torch.tensor(m), torch.tensor(u), torch.tensor(w))


SCAN_STATE = Fixed(
    (_state, lambda: _state(-INF, 0.0, (0.0, 0.0)), lambda: _state(3.0, 2.5, (0.5, 0.25))),
    bad=(None, OBJECT, (0.0, 1.0, (1.0, 2.0)), _state(NAN), _state(u=-1.0), _state(w=(INF, 0.0)),
         _state(m=INF)),
)  # fmt: skip
SCAN_QKV = {"q": LeadTensor("d", empty=None), "k": LeadTensor("T d"), "v": LeadTensor("T e")}

SCAN_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.scan.combine",
        {"a": SCAN_STATE, "b": SCAN_STATE},
        nan_ok="two empty runs combine to the empty run, whose max m is -inf",
    ),
    Entry("attnviz.kernels.scan.attention_scan", {**SCAN_QKV, "scale": SCALE}, dims=SCAN_DIMS),
    Entry("attnviz.kernels.scan.attention_rnn", {**SCAN_QKV, "scale": SCALE}, dims=SCAN_DIMS),
]

# ------------------------------------------------------------------------- attention

Q4, K4, V4 = Tensor("B H T d"), Tensor("B H S d", empty="S"), Tensor("B H S e", empty="S")
OPERATOR_ARGS = {"q": Q4, "k": K4, "v": V4, "mask": Optional(BoolMask("B H T S")),
                 "scale": Real(typical=(0.1, 2.0))}  # fmt: skip

ATTENTION_ENTRIES: list[Entry] = [
    Entry("attnviz.kernels.attention.softmax_operator", OPERATOR_ARGS, dims=QKV_DIMS),
    Entry("attnviz.kernels.attention.linear_operator", OPERATOR_ARGS, dims=QKV_DIMS),
    Entry("attnviz.kernels.attention.sigmoid_operator", OPERATOR_ARGS, dims=QKV_DIMS),
    Entry(
        "attnviz.kernels.attention.get_operator",
        {"operator": Choice(tuple(attention.OPERATORS))},
    ),
    Entry(
        "attnviz.kernels.attention.split_heads",
        # a reshape: NaN and inf pass through as they are
        {"x": Tensor("B T d", nonfinite_ok=True), "n_heads": Int(1, 2**20, typical=(1, 3))},
    ),
    Entry("attnviz.kernels.attention.merge_heads", {"x": Tensor("B H T d", nonfinite_ok=True)}),
    Entry(
        "attnviz.kernels.attention.causal_mask",
        {
            "t_q": Int(1, attention.MAX_MASK_LEN, typical=(1, 16)),
            "t_k": Optional(Int(1, attention.MAX_MASK_LEN, typical=(1, 16))),
            "device": Optional(Text(("cpu",))),
        },
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.attention.multi_head_attention",
        {
            "q": Q4,
            "k": K4,
            "v": V4,
            "operator": Choice(tuple(attention.OPERATORS)),
            "mask": Optional(BoolMask("B H T S")),
            "causal": Bool(),
            "scale": SCALE,
        },
        dims=QKV_DIMS,
    ),  # fmt: skip
]

# ---------------------------------------------------------------------- feature maps

MAPS = tuple(
    (lambda name=name: feature_maps.feature_map(name)) for name in feature_maps.FEATURE_MAPS
)

FEATURE_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.feature_maps.NamedFeatureMap",
        {"name": Text(("mine",)), "fn": Fixed((lambda: torch.relu,))},
        call=lambda **kw: feature_maps.NamedFeatureMap(**kw)(torch.ones(2, 3)),
    ),
    Entry(
        "attnviz.kernels.feature_maps.NamedFeatureMap.output_dim",
        {"fmap": Receiver(*MAPS), "d": Int(1, feature_maps.MAX_INPUT_DIM, typical=(1, 16))},
        call=lambda fmap, d: fmap.output_dim(d),
    ),
    Entry("attnviz.kernels.feature_maps.identity", {}),
    Entry("attnviz.kernels.feature_maps.elu_plus_one", {}),
    Entry("attnviz.kernels.feature_maps.relu", {}),
    Entry("attnviz.kernels.feature_maps.taylor", {}),
    Entry(
        "attnviz.kernels.feature_maps.random_features",
        {
            "num_features": Int(1, feature_maps.MAX_RANDOM_FEATURES, typical=(1, 16)),
            "seed": Int(0, 2**63 - 1, typical=(0, 100)),
            "orthogonal": Bool(),
        },
        call=lambda **kw: feature_maps.random_features(**kw)(torch.ones(2, 3)),
    ),
    Entry(
        "attnviz.kernels.feature_maps.feature_map",
        {"name": Choice(tuple(feature_maps.FEATURE_MAPS))},
    ),
    Entry(
        "attnviz.kernels.feature_maps.resolve_feature_map",
        {
            "value": Optional(Choice(tuple(feature_maps.FEATURE_MAPS))),
            "argument": Text(("feature_map",)),
        },
        names={"value": "feature_map"},
    ),  # fmt: skip
]

# ---------------------------------------------------------------------------- linear

GATE = Real(0.0, 1.0)
CHUNK = Int(1, linear.MAX_CHUNK_SIZE, typical=(1, 8))
LINEAR_DIMS = {"T": (1, 6), "d": (1, 4), "e": (1, 4)}
LQ, LK, LV = LeadTensor("T d"), LeadTensor("T d"), LeadTensor("T e")
FEATURE_MAP = Optional(Choice(("elu_plus_one", "relu", "taylor")))
FORM = Choice(linear.FORMS)
STATE = Optional(LeadTensor("e d", too_few=False))
COMMON = {"feature_map": FEATURE_MAP, "form": FORM, "chunk_size": CHUNK,
          "initial_state": STATE, "return_state": Bool()}  # fmt: skip

LINEAR_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.linear.write",
        {
            "state": LeadTensor("e d", numpy=False),
            "k": LeadTensor("d", numpy=False),
            "v": LeadTensor("e", numpy=False),
            "rule": Choice(linear.WRITE_RULES),
            "beta": GATE,
            "alpha": GATE,
        },
        dims=LINEAR_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.linear.linear_attention",
        {
            "q": LQ,
            "k": LK,
            "v": LV,
            "causal": Bool(),
            "normalize": Bool(),
            **{k: v for k, v in COMMON.items() if k != "initial_state"},
            "eps": Real(0.0, typical=(0.0, 1e-3)),
        },
        dims=LINEAR_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.linear.normalized_attention",
        {"q": LQ, "k": LK, "v": LV, "log_scale": Real(typical=(-3.0, 3.0)), **COMMON},
        dims=LINEAR_DIMS,
    ),
    Entry(
        "attnviz.kernels.linear.gated_linear_attention",
        {"q": LQ, "k": LK, "v": LV, "alpha": GATE, **COMMON},
        dims=LINEAR_DIMS,
    ),
    Entry(
        "attnviz.kernels.linear.delta_rule_attention",
        {"q": LQ, "k": LK, "v": LV, "beta": GATE, **COMMON},
        dims=LINEAR_DIMS,
    ),
    Entry(
        "attnviz.kernels.linear.gated_delta_rule_attention",
        {"q": LQ, "k": LK, "v": LV, "alpha": GATE, "beta": GATE, **COMMON},
        dims=LINEAR_DIMS,
    ),
]

# ------------------------------------------------------------------------- chunkwise

DECAY_LAMBDA = Real(0.0, 1.0, low_open=True, typical=(0.05, 1.0))
CHUNK_STATE = {"initial_state": STATE, "return_state": Bool()}

CHUNKWISE_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.chunkwise.chunkwise_linear_attention",
        {
            "q": LQ,
            "k": LK,
            "v": LV,
            "decay": DECAY_LAMBDA,
            "chunk_size": Int(1, chunkwise.MAX_CHUNK_SIZE, typical=(1, 8)),
            **CHUNK_STATE,
        },
        dims=LINEAR_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.chunkwise.linear_attention_recurrent",
        {"q": LQ, "k": LK, "v": LV, "decay": DECAY_LAMBDA, **CHUNK_STATE},
        dims=LINEAR_DIMS,
    ),
    Entry(
        "attnviz.kernels.chunkwise.linear_attention_parallel",
        {"q": LQ, "k": LK, "v": LV, "decay": DECAY_LAMBDA, **CHUNK_STATE},
        dims=LINEAR_DIMS,
    ),
    Entry(
        "attnviz.kernels.chunkwise.chunkwise_steps",
        {
            "q": Tensor("T d"),
            "k": Tensor("T d"),
            "v": Tensor("T e"),
            "decay": DECAY_LAMBDA,
            "chunk_size": Int(1, chunkwise.MAX_CHUNK_SIZE, typical=(1, 8)),
        },
        dims=LINEAR_DIMS,
    ),  # fmt: skip
]

# The GPU kernel: on a CPU (CI) every valid call is refused for its device, so the sweep
# checks the door (each bad argument named before the device is looked at).
TRITON_DIMS = {"B": (1, 2), "H": (1, 2), "T": (1, 6), "d": (16, 16), "e": (16, 16)}
TRITON_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.chunkwise_triton.chunkwise_linear_attention_triton",
        {
            "q": Tensor("B H T d"),
            "k": Tensor("B H T d"),
            "v": Tensor("B H T e"),
            "decay": DECAY_LAMBDA,
            "scale": Real(typical=(0.1, 1.0)),
            "chunk_size": Int(1, max(chunkwise_triton.CHUNK_SIZES), typical=(16, 64)),
            "exact_float32": Bool(),
        },
        dims=TRITON_DIMS,
    ),
]

# ------------------------------------------------------------------------------- ssm

SSM_DIMS = {"T": (1, 6), "d": (1, 3), "n": (1, 3), "p": (1, 3)}
STEP = LeadTensor("T d", low=0.0, high=1.0)
DECAY = Tensor("d n", low=-1.0, high=0.0, empty=None)
BC = LeadTensor("T n")
SSM_FORM = Choice(ssm.FORMS)

SSM_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.ssm.segment_sums",
        {"x": LeadTensor("T")},
        dims=SSM_DIMS,
    ),
    Entry(
        "attnviz.kernels.ssm.suffix_sums",
        {"x": LeadTensor("T"), "dim": Int(-1, 0)},
        dims=SSM_DIMS,
    ),
    Entry("attnviz.kernels.ssm.causal_mask", {"size": Int(1, ssm.MAX_LEN, typical=(1, 16))}),
    Entry(
        "attnviz.kernels.ssm.selective_scan",
        {
            "u": LeadTensor("T d"),
            "delta": STEP,
            "A": DECAY,
            "B": BC,
            "C": BC,
            "D": Optional(Tensor("d", empty=None)),
            "form": SSM_FORM,
            "initial_state": Optional(LeadTensor("d n", empty=None, too_few=False)),
            "return_state": Bool(),
        },
        dims=SSM_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.ssm.selective_scan_kernel",
        {"delta": STEP, "A": DECAY, "B": BC, "C": BC, "D": Optional(Tensor("d", empty=None))},
        dims=SSM_DIMS,
    ),
    Entry(
        "attnviz.kernels.ssm.ssd_scan",
        {
            "u": LeadTensor("T p"),
            "delta": LeadTensor("T", low=0.0, high=1.0),
            "A": Real(high=0.0, typical=(-2.0, 0.0)),
            "B": BC,
            "C": BC,
            "D": Optional(Real(typical=(-1.0, 1.0))),
            "form": SSM_FORM,
            "initial_state": Optional(LeadTensor("p n", empty=None, too_few=False)),
            "return_state": Bool(),
        },
        dims=SSM_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.ssm.ssd_mask",
        {"delta": LeadTensor("T", low=0.0, high=1.0), "A": Real(high=0.0, typical=(-2.0, 0.0))},
        dims=SSM_DIMS,
    ),
    Entry(
        "attnviz.kernels.ssm.ssd_scan_kernel",
        {
            "delta": LeadTensor("T", low=0.0, high=1.0),
            "A": Real(high=0.0, typical=(-2.0, 0.0)),
            "B": BC,
            "C": BC,
            "D": Optional(Real(typical=(-1.0, 1.0))),
        },
        dims=SSM_DIMS,
    ),  # fmt: skip
]

# ------------------------------------------------------------------------------- rnn

X = LeadTensor("T d")
RNN_DIMS = {"T": (1, 6), "d": (1, 3)}
LOG_A = Real(high=0.0, typical=(-2.0, 0.0))
C_TEMP = Real(0.0, rnn.MAX_C, low_open=True, typical=(0.5, 8.0))

RNN_ENTRIES: list[Entry] = [
    Entry(
        "attnviz.kernels.rnn.qlstm",
        {
            "u": X,
            "forget_logits": X,
            "input_logits": X,
            "output_logits": Optional(X),
            "reversed_decay": Optional(Real()),
            "form": SSM_FORM,
            "initial_state": Optional(LeadTensor("d", empty=None, too_few=False)),
            "return_state": Bool(),
        },
        dims=RNN_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.rnn.qlstm_transition",
        {"forget_logits": X, "reversed_decay": Optional(Real())},
        dims=RNN_DIMS,
    ),
    Entry(
        "attnviz.kernels.rnn.qlstm_kernel",
        {
            "forget_logits": X,
            "input_logits": X,
            "output_logits": Optional(X),
            "reversed_decay": Optional(Real()),
        },
        dims=RNN_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.rnn.rg_lru",
        {
            "u": X,
            "r_logits": X,
            "i_logits": X,
            "log_a": LOG_A,
            "c": C_TEMP,
            "form": SSM_FORM,
            "initial_state": Optional(LeadTensor("d", empty=None, too_few=False)),
            "return_state": Bool(),
        },
        dims=RNN_DIMS,
    ),  # fmt: skip
    Entry(
        "attnviz.kernels.rnn.rg_lru_transition",
        {"r_logits": X, "log_a": LOG_A, "c": C_TEMP},
        dims=RNN_DIMS,
    ),
    Entry(
        "attnviz.kernels.rnn.rg_lru_kernel",
        {"r_logits": X, "i_logits": X, "log_a": LOG_A, "c": C_TEMP},
        dims=RNN_DIMS,
    ),
]

ENTRIES: list[Entry] = [
    *MASK_ENTRIES,
    *SOFTMAX_ENTRIES,
    *ONLINE_ENTRIES,
    *SCAN_ENTRIES,
    *FLEX_ENTRIES,
    *ATTENTION_ENTRIES,
    *FEATURE_ENTRIES,
    *LINEAR_ENTRIES,
    *CHUNKWISE_ENTRIES,
    *TRITON_ENTRIES,
    *SSM_ENTRIES,
    *RNN_ENTRIES,
]

_RECORD = "a result record (NamedTuple) that the kernels build from checked tensors"
EXCLUDED: dict[str, str] = {
    "attnviz.kernels.softmax.AttentionResult": _RECORD,
    "attnviz.kernels.online_softmax.OnlineSoftmaxResult": _RECORD,
    "attnviz.kernels.online_softmax.OnlineSoftmaxStep": _RECORD,
    "attnviz.kernels.chunkwise.ChunkStep": _RECORD,
    "attnviz.kernels.chunkwise_triton.triton_available": "takes no arguments",
    "attnviz.kernels.scan.ScanState": "a plain (m, u, w) record; combine checks its fields",
    "attnviz.kernels.linear.LinearAttentionResult": _RECORD,
    "attnviz.kernels.ssm.ScanResult": _RECORD,
    "attnviz.kernels.flex.BlockLayout": "a result record (NamedTuple) that block_layout builds",
}
