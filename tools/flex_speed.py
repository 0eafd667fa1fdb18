"""Measure lesson 07's "speed-up against mask density" table and write it as JSON.

    python tools/flex_speed.py --lengths 4096 16384 --output benchmarks/flex-cpu.json

``--threads 1`` times one core: on a machine shared with other jobs, two OpenMP
threads wait for each other whenever one is descheduled, and the medians scatter.

Runs ``attnviz.sparse_speed.density_speedup`` (its default patterns, one head, d = 64,
blocks of 128, the median of ``--repeats`` calls after a warm-up that compiles) at each
length (each length compiles its own kernels), and writes the rows with the command, the
machine and the torch build. Prints one line per row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from attnviz.sparse_speed import density_speedup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[4096, 16384])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-budget", type=float, default=900.0, help="seconds per length")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's own)"
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    tables = []
    for seq_len in args.lengths:
        start = time.perf_counter()
        rows = density_speedup(seq_len=seq_len, repeats=args.repeats, time_budget=args.time_budget)
        seconds = time.perf_counter() - start
        for row in rows:
            print(
                f"T={seq_len:6d} {row['pattern']:16s} token {row['token_density']:.3f} "
                f"block {row['block_density']:.3f} flex {row['flex_ms']:8.1f} ms "
                f"dense {row['dense_ms']:8.1f} ms x{row['speedup']:6.2f} "
                f"min {row['flex_min_ms']:.1f}/{row['dense_min_ms']:.1f} ms "
                f"(first flex call {row['flex_first_s']:.1f} s)",
                flush=True,
            )
        tables.append({"seq_len": seq_len, "seconds": round(seconds, 1), "rows": rows})
    if args.output is not None:
        result = {
            "command": "python " + " ".join(["tools/flex_speed.py", *sys.argv[1:]]),
            "machine": {
                "processor": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "torch_threads": torch.get_num_threads(),
                "python": platform.python_version(),
                "torch": torch.__version__,
            },
            "d": 64,
            "heads": 1,
            "block_size": 128,
            "repeats": args.repeats,
            "tables": tables,
        }
        args.output.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
