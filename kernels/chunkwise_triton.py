"""Chunkwise linear attention with decay on a GPU: one fused Triton kernel.

The GPU form of ``chunkwise.py`` (Lightning Attention-2, Qin et al. 2024, arXiv
2401.04658; PAPERS.md §5): for decayed causal linear attention

    o_t = scale · q_t Σ_{s<=t} λ^{t-s} k_sᵀ v_s,

each program owns one (batch, head) and a block of value columns, keeps the d_k × BV
state KV in registers and walks the sequence chunk by chunk (BT tokens):

    O_intra = ((Q Kᵀ) ⊙ M) V                 M[r, c] = λ^{r-c} for r >= c, else 0
    O_inter = diag(λ^{1..BT}) Q · KV          the state carries every earlier chunk
    KV      ← λ^{BT} KV + (diag(λ^{BT-1..0}) K)ᵀ V

so each token is read once and nothing of size T × T (or T/BT states) is written: the
"fused chunk" layout of flash-linear-attention (fla-org), one sequential pass per
program. It needs CUDA and Triton; importing this module needs neither, so CI (CPU
only) imports it and tests ``chunkwise.py``, the reference it must match.
``tools/gpu_bench.py`` checks it against a float64 reference on the GPU and times it
against PyTorch's SDPA, FlexAttention and flash-linear-attention's chunk kernel
(``benchmarks/gpu-*.json``).

Example (on a machine with a CUDA GPU and Triton)::

    q, k, v = (torch.randn(2, 4, 8192, 64, device="cuda", dtype=torch.bfloat16)
               for _ in range(3))
    out = chunkwise_linear_attention_triton(q, k, v, decay=0.99)  # (2, 4, 8192, 64)
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from attnviz.validation import as_tensor, check_int, check_real, check_real_tensor

__all__ = ["chunkwise_linear_attention_triton", "triton_available"]

CHUNK_SIZES = (16, 32, 64, 128)  # tl.dot needs power-of-two tiles of at least 16
HEAD_DIMS = (16, 32, 64, 128)  # d_k and d_v the kernel is built for


def triton_available() -> bool:
    """True if Triton imports and a CUDA device is present (the kernel can run here)."""
    if not torch.cuda.is_available():
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _kernel():
    """The Triton kernel, imported on first use (so importing this module needs no Triton)."""
    import triton

    from attnviz.kernels._chunkwise_triton_jit import chunkwise_fwd

    return triton, chunkwise_fwd


def _decays(decay: Any, heads: int) -> torch.Tensor:
    """log2 λ per head, (heads,) float32; λ a number or a (heads,) tensor in (0, 1]."""
    if isinstance(decay, torch.Tensor):
        decay = as_tensor("decay", decay, ndim=1, finite=True)
        if decay.shape[0] != heads:
            shape = tuple(decay.shape)
            raise ValueError(f"decay must hold one λ per head ({heads}), got shape {shape}")
        if bool(((decay <= 0) | (decay > 1)).any()):
            raise ValueError(f"decay must be in (0, 1] for every head, got {decay.tolist()}")
        return torch.log2(decay.to(device="cpu", dtype=torch.float32))
    value = check_real("decay", decay, low=0.0, high=1.0)
    if value == 0.0:
        raise ValueError("decay must be in (0, 1], got 0")
    return torch.full((heads,), math.log2(value), dtype=torch.float32)


def chunkwise_linear_attention_triton(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    decay: float | torch.Tensor = 1.0,
    scale: float = 1.0,
    chunk_size: int = 64,
    exact_float32: bool = False,
) -> torch.Tensor:
    """Decayed causal linear attention, o_t = scale · Σ_{s<=t} λ^{t-s} (q_t·k_s) v_s, on a GPU.

    ``q``, ``k`` are (B, H, T, d_k) and ``v`` (B, H, T, d_v) CUDA tensors of one dtype
    (float32, float16 or bfloat16), d_k and d_v in ``HEAD_DIMS``; ``decay`` λ is a number or
    one per head, in (0, 1]; ``chunk_size`` in ``CHUNK_SIZES``. Products accumulate in
    float32; float32 inputs use TF32 matrix units unless ``exact_float32`` (IEEE float32).
    Returns (B, H, T, d_v) in the inputs' dtype. Equals ``chunkwise.chunkwise_linear_attention``
    (the CPU reference) up to the inputs' precision.
    """
    for name, value in (("q", q), ("k", k), ("v", v)):
        check_real_tensor(name, value)  # kept in its dtype: bf16 stays bf16
        if value.dim() != 4:
            shape = tuple(value.shape)
            raise ValueError(f"{name} must have 4 dimensions (B, H, T, d), got {shape}")
    scale = check_real("scale", scale)
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    if chunk_size not in CHUNK_SIZES:
        raise ValueError(f"chunk_size must be one of {CHUNK_SIZES}, got {chunk_size}")
    if not isinstance(exact_float32, bool):
        raise TypeError(f"exact_float32 must be a bool, got {exact_float32!r}")
    batch, heads, length, d_k = q.shape
    if k.shape != q.shape or v.shape[:3] != q.shape[:3]:
        raise ValueError(
            f"q and k must be (B, H, T, d_k) and v (B, H, T, d_v) with the same B, H, T, got "
            f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    d_v = v.shape[-1]
    for name, size in (("d_k", d_k), ("d_v", d_v)):
        if size not in HEAD_DIMS:
            raise ValueError(f"{name} must be one of {HEAD_DIMS}, got {size}")
    if not (q.dtype == k.dtype == v.dtype) or q.dtype not in (
        torch.float32, torch.float16, torch.bfloat16
    ):  # fmt: skip
        raise TypeError(
            f"q, k and v must share one dtype of float32, float16, bfloat16; got {q.dtype}, "
            f"{k.dtype}, {v.dtype}"
        )
    log2_decay = _decays(decay, heads)
    if not (q.is_cuda and k.is_cuda and v.is_cuda):
        raise ValueError(
            f"q, k and v must be CUDA tensors for the Triton kernel, got devices {q.device}, "
            f"{k.device}, {v.device}; on a CPU use attnviz.kernels.chunkwise."
            "chunkwise_linear_attention"
        )
    log2_decay = log2_decay.to(q.device)
    triton, kernel = _kernel()
    dtype = v.dtype
    # half-precision inputs are read as float32: Triton 3.6 compiled the bf16 dot path into
    # an illegal memory access on an H100 (the result is cast back to the inputs' dtype)
    q, k, v = (x.float().contiguous() for x in (q, k, v))
    out = torch.empty_like(v)
    if length == 0:
        return out.to(dtype)

    def grid(meta):
        return (triton.cdiv(d_v, meta["BV"]), batch * heads)

    kernel[grid](
        q, k, v, out, log2_decay, length, scale,
        H=heads, DK=d_k, DV=d_v, BT=chunk_size, IEEE=exact_float32,
    )  # fmt: skip
    return out.to(dtype)
