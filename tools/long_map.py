"""Measure issue 15's long-map target: a 65,536-token causal head map of ``induction_rope``.

Runs ``attnviz.bench_targets.streamed_head_map_run`` (a fresh interpreter: the forward pass
below the layer shown with online softmax, that layer's q and k, its pooled overview and
lse in one strip pass, and an exact zoom, never T × T) and prints its JSON: wall and CPU
seconds per stage, the load average at the start and the process's peak resident memory.
``attnviz bench`` times the same run as the target "(overview + zoom, 65,536 tokens,
streamed)" (10 s, peak memory under 1 GiB).

Example::

    python tools/long_map.py               # PyTorch's threads (one per core), as the dashboard
    python tools/long_map.py --threads 1
    python tools/long_map.py --seq-len 16384 --kernel online --threads 1
"""

from __future__ import annotations

import argparse
import json

from attnviz.bench_targets import STREAMED_TOKENS, streamed_head_map_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=STREAMED_TOKENS)
    parser.add_argument("--layer", type=int, default=1)
    parser.add_argument("--head", type=int, default=1, help="layer 1, head 1: the induction head")
    parser.add_argument("--kernel", default="fused", choices=("online", "fused"))
    parser.add_argument("--threads", type=int, default=None, help="default: one per core")
    parser.add_argument("--max-size", type=int, default=256)
    parser.add_argument("--zoom", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.repeats):
        figures = streamed_head_map_run(
            args.seq_len, layer=args.layer, head=args.head, kernel=args.kernel,
            threads=args.threads, max_size=args.max_size, zoom=args.zoom,
        )  # fmt: skip
        figures = {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}
        figures["peak_rss_mib"] = round(figures.pop("peak_rss_bytes") / 2**20, 1)
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
