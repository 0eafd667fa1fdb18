"""The Triton kernel of ``chunkwise_triton.py`` (imported only when it runs: it needs Triton).

One program per (value block, batch x head) walks the sequence chunk by chunk, the state
KV (d_k x BV, float32) in registers; see ``chunkwise_triton.py`` for the algebra.
"""

import triton
import triton.language as tl


@triton.jit
def dot(a, b, IEEE: tl.constexpr):  # noqa: N803 (Triton's constexpr style)
    if IEEE:  # float32 products in float32, not TF32
        product = tl.dot(a, b, input_precision="ieee")
    else:
        product = tl.dot(a, b)
    return product


@triton.autotune(
    configs=[
        triton.Config({"BV": bv}, num_warps=4, num_stages=s) for bv in (32, 64) for s in (1, 2)
    ],
    key=["T", "DK", "DV", "BT"],
)
@triton.jit
def chunkwise_fwd(
    Q, K, V, OUT, LOG2_DECAY, T, scale,
    H: tl.constexpr, DK: tl.constexpr, DV: tl.constexpr, BT: tl.constexpr,
    BV: tl.constexpr, IEEE: tl.constexpr,
):  # fmt: skip
    i_v = tl.program_id(0)
    i_bh = tl.program_id(1)
    log2_decay = tl.load(LOG2_DECAY + i_bh % H)  # log2 λ <= 0 for this head
    offs_t = tl.arange(0, BT)
    offs_k = tl.arange(0, DK)
    offs_v = i_v * BV + tl.arange(0, BV)
    rows = offs_t[:, None].to(tl.float32)
    cols = offs_t[None, :].to(tl.float32)
    within = tl.where(
        offs_t[:, None] >= offs_t[None, :], tl.exp2((rows - cols) * log2_decay), 0.0
    )  # M, (BT, BT)
    q_decay = tl.exp2((offs_t + 1).to(tl.float32) * log2_decay)  # λ^{r+1}
    k_decay = tl.exp2((BT - 1 - offs_t).to(tl.float32) * log2_decay)  # λ^{BT-1-r}
    chunk_decay = tl.exp2(BT * log2_decay)  # λ^{BT}
    q_base = Q + i_bh.to(tl.int64) * T * DK
    k_base = K + i_bh.to(tl.int64) * T * DK
    v_base = V + i_bh.to(tl.int64) * T * DV
    o_base = OUT + i_bh.to(tl.int64) * T * DV
    state = tl.zeros([DK, BV], dtype=tl.float32)  # KV, (DK, BV)
    for start in range(0, T, BT):
        t = start + offs_t
        inside = t < T
        qk_offsets = t[:, None] * DK + offs_k[None, :]
        v_offsets = t[:, None] * DV + offs_v[None, :]
        v_inside = inside[:, None] & (offs_v[None, :] < DV)
        q = tl.load(q_base + qk_offsets, mask=inside[:, None], other=0.0)
        # K read transposed, (DK, BT): no tl.trans, whose bf16 dot operands Triton 3.6
        # compiled into an illegal memory access on an H100
        k_t = tl.load(k_base + t[None, :] * DK + offs_k[:, None], mask=inside[None, :], other=0.0)
        v = tl.load(v_base + v_offsets, mask=v_inside, other=0.0)
        scores = dot(q, k_t, IEEE) * within
        out = dot(scores.to(v.dtype), v, IEEE)
        decayed_q = (q * q_decay[:, None]).to(q.dtype)
        out += dot(decayed_q, state.to(q.dtype), IEEE)
        tl.store(o_base + v_offsets, (out * scale).to(OUT.dtype.element_ty), mask=v_inside)
        decayed_k_t = (k_t * k_decay[None, :]).to(k_t.dtype)  # (DK, BT)
        state = state * chunk_decay + dot(decayed_k_t, v, IEEE)
