"""Check and time the GPU path of lesson 07 on a CUDA machine (never run by CI).

    python tools/gpu_bench.py --output benchmarks/gpu-chunkwise.json

1. Correctness: ``attnviz.kernels.chunkwise_triton`` against a float64 reference of decayed
   causal linear attention (the parallel form ((Q Kᵀ) ⊙ M) V, computed on the GPU), on
   random inputs whose length is not a multiple of the chunk, one decay per head, in
   float32 (IEEE) and bfloat16; flash-linear-attention's chunk kernel on the same inputs
   when it imports. Relative error ‖out − ref‖ / ‖ref‖.
2. Time (median of ``triton.testing.do_bench``, milliseconds) at 16K, 32K and 64K tokens,
   bfloat16, for: our kernel; flash-linear-attention's ``chunk_simple_gla`` (the same
   operator: a per-head constant decay, ``g_gamma`` = ln λ) and ``fused_chunk_simple_gla``
   where present; and the softmax baselines PyTorch SDPA (causal; flash kernels) and
   FlexAttention (causal, compiled). Each row gives our time over the best baseline's.

The machine, the software versions and the exact command are stored with the figures.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attnviz.kernels.chunkwise import chunkwise_linear_attention  # noqa: E402
from attnviz.kernels.chunkwise_triton import chunkwise_linear_attention_triton  # noqa: E402


def reference(q, k, v, decay, scale):
    """float64 ((Q Kᵀ · scale) ⊙ M) V with M[t, s] = λ_h^{t-s} (s <= t): the definition."""
    q, k, v = (x.double() for x in (q, k, v))
    t = torch.arange(q.shape[-2], device=q.device, dtype=torch.float64)
    gap = t[:, None] - t[None, :]
    log_decay = torch.log(decay.double())[:, None, None]  # (H, 1, 1)
    mask = torch.where(gap >= 0, torch.exp(gap.clamp_min(0) * log_decay), 0.0)  # (H, T, T)
    return ((q @ k.mT) * scale * mask) @ v


def relative_error(out, ref):
    out = out.double()
    if not bool(torch.isfinite(out).all()):
        return float("nan")
    return float((out - ref).norm() / ref.norm())


def fla_ops():
    """flash-linear-attention's kernels for this operator, or {} if it does not import."""
    try:
        from fla.ops.simple_gla import chunk_simple_gla
    except Exception as error:  # noqa: BLE001 (report any import failure, keep going)
        print(f"flash-linear-attention unavailable: {type(error).__name__}: {error}")
        return {}
    ops = {"fla chunk_simple_gla": chunk_simple_gla}
    try:
        from fla.ops.simple_gla import fused_chunk_simple_gla

        ops["fla fused_chunk_simple_gla"] = fused_chunk_simple_gla
    except ImportError:
        pass
    return ops


def call_fla(op, q, k, v, decay, scale):
    """fla takes (B, T, H, d) and g_gamma = ln λ per head; returns (B, H, T, d_v)."""
    out = op(
        q.transpose(1, 2),
        k.transpose(1, 2),
        v.transpose(1, 2),
        g_gamma=torch.log(decay.float()),
        scale=scale,
    )
    out = out[0] if isinstance(out, tuple) else out
    return out.transpose(1, 2)


def head_decays(heads, device):
    """Lightning Attention's per-head decays λ_h = exp(-2^{-(8/H)(h+1)}) style: from
    nearly 1 to ~0.6, so the heads look from far to near."""
    rates = 2.0 ** (-(8.0 / heads) * torch.arange(1, heads + 1, dtype=torch.float64))
    return torch.exp(-rates).to(device)


def check(ops, device):
    rows = []
    torch.manual_seed(0)
    batch, heads, length, dim = 2, 3, 1000, 64
    decay = head_decays(heads, device)
    scale = dim**-0.5
    for dtype in (torch.float32, torch.bfloat16):
        q, k, v = (torch.randn(batch, heads, length, dim, device=device) for _ in range(3))
        ref = reference(q, k, v, decay, scale)
        tested = chunkwise_linear_attention(  # the form CI tests, on the CPU, in float64
            *(x.double().cpu() for x in (q * scale, k, v)), decay=decay.double().cpu()
        ).output.to(device)
        error = relative_error(tested, ref)
        rows.append({"method": "attnviz chunkwise (float64, CPU-tested form)",
                     "dtype": "torch.float64", "T": length, "relative_error": error})  # fmt: skip
        q, k, v = (x.to(dtype) for x in (q, k, v))
        ours = chunkwise_linear_attention_triton(q, k, v, decay=decay.float(), scale=scale)
        torch.cuda.synchronize()
        rows.append({"method": "attnviz triton", "dtype": str(dtype), "T": length,
                     "relative_error": relative_error(ours, ref)})  # fmt: skip
        for name, op in ops.items():
            try:
                err = relative_error(call_fla(op, q, k, v, decay, scale), ref)
            except Exception as error:  # noqa: BLE001
                err = f"{type(error).__name__}: {error}"[:200]
            rows.append({"method": name, "dtype": str(dtype), "T": length,
                         "relative_error": err})  # fmt: skip
    for row in rows:
        print("check", row, flush=True)
    return rows


def time_ms(fn):
    from triton.testing import do_bench

    return float(do_bench(fn, warmup=50, rep=200, return_mode="median"))


def softmax_ops():
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    flex = torch.compile(flex_attention)

    def sdpa(q, k, v, decay, scale):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)

    def flex_causal(q, k, v, decay, scale):
        length = q.shape[-2]
        key = (length, q.device)
        if key not in masks:
            masks[key] = create_block_mask(
                lambda b, h, i, j: i >= j, None, None, length, length, device=q.device
            )
        return flex(q, k, v, block_mask=masks[key])

    masks = {}
    return {"torch SDPA (softmax, causal)": sdpa, "FlexAttention (softmax, causal)": flex_causal}


def timings(ops, device, batch, heads, dim, lengths):
    rows = []
    decay = head_decays(heads, device)
    scale = dim**-0.5
    linear = {"attnviz triton": lambda q, k, v, d, s: chunkwise_linear_attention_triton(
        q, k, v, decay=d.float(), scale=s)}  # fmt: skip
    linear.update({name: functools.partial(call_fla, op) for name, op in ops.items()})
    every = {**linear, **softmax_ops()}
    for length in lengths:
        torch.manual_seed(length)
        q, k, v = (
            torch.randn(batch, heads, length, dim, device=device, dtype=torch.bfloat16)
            for _ in range(3)
        )
        times = {}
        for name, fn in every.items():
            try:
                fn(q, k, v, decay, scale)  # compile / autotune outside the timing
                torch.cuda.synchronize()
                times[name] = time_ms(functools.partial(fn, q, k, v, decay, scale))
            except Exception as error:  # noqa: BLE001
                times[name] = f"{type(error).__name__}: {error}"[:200]
        numbers = {n: t for n, t in times.items() if isinstance(t, float)}
        ours = numbers.get("attnviz triton")
        baselines = {n: t for n, t in numbers.items() if n != "attnviz triton"}
        best = min(baselines, key=baselines.get) if baselines else None
        linear_best = min(
            (n for n in baselines if n.startswith("fla")), key=baselines.get, default=None
        )
        row = {
            "B": batch, "H": heads, "d": dim, "T": length, "dtype": "bfloat16", "ms": times,
            "best_baseline": best,
            "ours_over_best": None if ours is None or best is None else ours / baselines[best],
            "best_linear_baseline": linear_best,
            "ours_over_best_linear": None if ours is None or linear_best is None
            else ours / baselines[linear_best],
        }  # fmt: skip
        print("time", json.dumps(row), flush=True)
        rows.append(row)
        del q, k, v
        torch.cuda.empty_cache()
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--dims", type=int, nargs="+", default=[64])
    parser.add_argument("--lengths", type=int, nargs="+", default=[16384, 32768, 65536])
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("tools/gpu_bench.py needs a CUDA GPU", file=sys.stderr)
        return 2
    import triton

    device = torch.device("cuda")
    started = time.time()
    ops = fla_ops()
    result = {
        "command": "python " + " ".join([sys.argv[0], *sys.argv[1:]]),
        "device": torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "flash_linear_attention": _version("fla-core"),
        "python": platform.python_version(),
        "checks": check(ops, device),
    }
    result["timings"] = []
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")  # the checks, kept if cut
    for dim in args.dims:
        for length in args.lengths:  # written after each row: a run cut short keeps its rows
            result["timings"] += timings(ops, device, args.batch, args.heads, dim, [length])
            result["seconds"] = round(time.time() - started, 1)
            args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output} in {result['seconds']} s")
    return 0


def _version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
