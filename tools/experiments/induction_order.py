"""Does the layer-0 previous-token head form before the layer-1 induction head? (issue #3)

Usage: python tools/experiments/induction_order.py [--configs a,b] [--seeds 0,1,2] [--steps N]

Trains 2-layer attention-only TinyTransformers on repeated random tokens (the
setups of PAPERS.md §7(a): d = 64, V 48-64, T 16-32, AdamW 1e-3, batch 64; learned
positions or RoPE, with or without LayerNorm, 1-4 heads per layer) and records,
every ``--every`` steps:

* the training-time shortcuts of ``attnviz.training`` (on the held-out sequences
  of the training distribution, whose period varies when ``min_half`` is set):
  ``sPT`` = layer-0 previous-token, ``sIND`` = layer-1 induction (max over heads);
* the TransformerLens "mul" scores of ``attnviz.maps`` on a held-out fixed-layout
  batch [BOS, r₁..r_T, r₁..r_T] (32 sequences, scored one by one and averaged):
  ``PT`` / ``PTx`` = layer-0 ``previous_token_score`` without / with
  ``exclude_bos``, ``IND`` = layer-1 ``induction_score``;
* a mechanistic probe: ``INDf`` = the layer-1 induction score when layer 0's
  pattern is replaced by a perfect previous-token pattern (is layer 1's
  prefix-matching QK circuit ready, whatever layer 0 does?), and the layer-1
  induction score with layer 0's output zeroed (``INDa``, end of training: does
  the induction attention need layer 0, i.e. is it K-composition?).

For each curve it prints the first recorded step at which it crosses

* ``½``: half of its rise, c₀ + (c_end − c₀)/2, and
* ``+θ``: a fixed threshold above chance, chance + θ·(perfect − chance) (θ = 0.2
  by default: a fifth of the way from chance to a perfect head, so the two scores,
  whose perfect values differ — the induction "mul" score divides by the first-half
  rows too — are held to the same bar), where chance is the same score of a
  uniform causal pattern (row i attends 1/(i+1) to each key) and perfect that of
  an ideal head, both scored exactly as the model's maps;

and ``loss½``, the step at which the held-out repeated-half loss has fallen half
of the way from its start to its end value. "—" = never crossed. Δ columns are
(induction step − previous-token step): positive means the previous-token head
formed first.

Single-threaded, deterministic; about 6-15 s per run on one core.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from attnviz.maps import induction_score, previous_token_score
from attnviz.models import TinyConfig, TinyTransformer
from attnviz.tasks import repeated_tokens
from attnviz.training import train


@dataclass(frozen=True)
class Setup:
    heads: int = 2
    positional: str = "learned"
    layer_norm: bool = True
    weight_decay: float = 0.01
    seq_half: int = 16
    min_half: int | None = 4
    vocab: int = 48
    lr: float = 1e-3
    extra: dict = field(default_factory=dict)


SETUPS = {
    "lesson_h2": Setup(),  # the shipped induction_2l recipe
    "h1": Setup(heads=1),
    "h4": Setup(heads=4),
    "h1_rope": Setup(heads=1, positional="rope"),
    "h2_rope": Setup(heads=2, positional="rope"),
    "h1_noLN": Setup(heads=1, layer_norm=False),
    "h1_wd0.1": Setup(heads=1, weight_decay=0.1),
    "h1_fixedT": Setup(heads=1, min_half=None),  # §7(a) literally: one period T = 16
    "h1_T32_V64": Setup(heads=1, seq_half=32, min_half=8, vocab=64),
    "h1_rope_T32_V64": Setup(heads=1, positional="rope", seq_half=32, min_half=8, vocab=64),
}
DEFAULT = ["lesson_h2", "h1", "h4", "h1_rope", "h2_rope", "h1_noLN", "h1_wd0.1", "h1_fixedT",
           "h1_T32_V64"]  # fmt: skip


def _patterns(model, ids, force_prev_l0=False, ablate_l0=False):
    """(L, B, H, T, T) attention of every layer, optionally with layer 0 changed."""
    captured, handles = [], []
    attn0 = model.blocks[0].attn
    if force_prev_l0:

        def perfect_prev(module, args, pattern):
            t = pattern.shape[-1]
            p = torch.diag(torch.ones(t - 1), -1)
            p[0, 0] = 1.0
            return p.expand_as(pattern).clone()

        handles.append(attn0.hook_pattern.register_forward_hook(perfect_prev))
    if ablate_l0:
        handles.append(attn0.hook_z.register_forward_hook(lambda m, a, z: torch.zeros_like(z)))
    for block in model.blocks:  # registered after the replacing hook: sees what is used
        handles.append(block.attn.hook_pattern.register_forward_hook(
            lambda m, a, out: captured.append(out.detach())))  # fmt: skip
    try:
        with torch.no_grad():
            model(ids)
    finally:
        for h in handles:
            h.remove()
    return torch.stack(captured).double().numpy()


def _tl_scores(weights, ids):
    """TransformerLens mul scores per sequence, averaged: dict of (L, H)."""
    out = {"PT": [], "PTx": [], "IND": []}
    for b in range(weights.shape[1]):
        w = weights[:, b]  # (L, H, T, T)
        out["PT"].append(previous_token_score(w))
        out["PTx"].append(previous_token_score(w, exclude_bos=True))
        out["IND"].append(induction_score(w, ids[b].numpy()))
    return {k: np.mean(v, axis=0) for k, v in out.items()}


def _chance(ids):
    """The scores of a uniform causal pattern (row i: 1/(i+1) on each key j <= i)."""
    t = ids.shape[1]
    uniform = np.tril(np.ones((t, t))) / np.arange(1, t + 1)[:, None]
    w = np.broadcast_to(uniform, (2, ids.shape[0], 1, t, t))
    return {k: float(v[0, 0]) for k, v in _tl_scores(w, ids).items()}


def _ideal(ids):
    """Scores of perfect heads: all mass on the target key, else on BOS (PT: row 0 on itself)."""
    t = ids.shape[1]
    prev = np.diag(np.ones(t - 1), -1)
    prev[0, 0] = 1.0
    out = {"PT": [], "PTx": [], "IND": []}
    for row in ids.numpy():
        ind = np.zeros((t, t))
        for i in range(t):
            hits = [j for j in range(1, i + 1) if row[j - 1] == row[i]]
            ind[i, hits if hits else [0]] = 1.0 / max(len(hits), 1)
        w = np.stack([prev, ind])[:, None]  # (2, 1, T, T)
        out["PT"].append(previous_token_score(w)[0, 0])
        out["PTx"].append(previous_token_score(w, exclude_bos=True)[0, 0])
        out["IND"].append(induction_score(w, row)[1, 0])
    return {k: float(np.mean(v)) for k, v in out.items()}


def _crossing(steps, curve, level):
    hit = np.nonzero(np.asarray(curve) >= level)[0]
    return int(steps[hit[0]]) if hit.size else None


def run(name, setup, seed, steps, every, theta):
    s = setup
    length = 2 * s.seq_half + 1
    config = TinyConfig(n_layers=2, n_heads=s.heads, d_model=64, vocab_size=s.vocab,
                        context=length, attention_only=True, positional=s.positional,
                        layer_norm=s.layer_norm)  # fmt: skip
    model = TinyTransformer(config, seed=seed)
    task = repeated_tokens(4096, s.seq_half, s.vocab, seed=seed, min_half=s.min_half)
    probe = repeated_tokens(32, s.seq_half, s.vocab, seed=10_000 + seed).input_ids  # fixed layout
    rec = {"PT": [], "PTx": [], "IND": [], "INDf": []}

    def callback(step, record):
        tl = _tl_scores(_patterns(model, probe), probe)
        rec["PT"].append(tl["PT"][0].max())
        rec["PTx"].append(tl["PTx"][0].max())
        rec["IND"].append(tl["IND"][1].max())
        forced = _tl_scores(_patterns(model, probe, force_prev_l0=True), probe)
        rec["INDf"].append(forced["IND"][1].max())

    start = time.perf_counter()
    history = train(model, task, steps=steps, lr=s.lr, batch_size=64, seed=seed,
                    weight_decay=s.weight_decay, record_every=every, progress=False,
                    callback=callback)  # fmt: skip
    seconds = time.perf_counter() - start
    ablated = _tl_scores(_patterns(model, probe, ablate_l0=True), probe)["IND"][1].max()
    st = np.array(history.steps)
    curves = {
        "sPT": history.score("previous_token")[:, 0].amax(-1).numpy(),
        "sIND": history.score("induction")[:, 1].amax(-1).numpy(),
        **{k: np.array(v) for k, v in rec.items()},
    }
    chance, ideal = _chance(probe), _ideal(probe)
    chance["INDf"], ideal["INDf"] = chance["IND"], ideal["IND"]
    row = {"config": name, "seed": seed, "sec": seconds}
    rep = np.array(history.region_loss["repeated_half"])
    first = np.array(history.region_loss["first_half"])
    row["loss½"] = _crossing(st, -rep, -(rep[0] + (rep[-1] - rep[0]) / 2))
    row["loss<.1"] = _crossing(st, -(rep / first), -0.1)  # induction_head_formed's loss test
    for k, c in curves.items():
        row[k + "½"] = _crossing(st, c, c[0] + (c[-1] - c[0]) / 2)
        if k in chance:
            row[k + "+θ"] = _crossing(st, c, chance[k] + theta * (ideal[k] - chance[k]))
        row[k + "_end"] = float(c[-1])
    row["INDa_end"] = float(ablated)
    row["chance"] = {k: (chance[k], ideal[k]) for k in ("PT", "PTx", "IND")}
    return row


COLS = ["loss½", "loss<.1", "sPT½", "sIND½", "PT½", "PTx½", "IND½", "INDf½",
        "PT+θ", "PTx+θ", "IND+θ", "INDf+θ"]  # fmt: skip


def _fmt(v):
    return "—" if v is None else str(v)


def _delta(a, b):
    return "—" if a is None or b is None else f"{b - a:+d}"


def print_table(rows, theta):
    head = ["config", "s", *COLS, "Δ½", "Δ+θ", "PT/PTx/IND/INDa end", "sec"]
    print(" ".join(f"{h:>8}" if i > 1 else f"{h:<16}" if i == 0 else f"{h:>1}"
                   for i, h in enumerate(head)))  # fmt: skip
    for r in rows:
        cells = [f"{r['config']:<16}", f"{r['seed']:>1}"]
        cells += [f"{_fmt(r[c]):>8}" for c in COLS]
        cells.append(f"{_delta(r['PT½'], r['IND½']):>8}")
        cells.append(f"{_delta(r['PT+θ'], r['IND+θ']):>8}")
        ends = f"{r['PT_end']:.2f}/{r['PTx_end']:.2f}/{r['IND_end']:.2f}/{r['INDa_end']:.2f}"
        cells.append(f"{ends:>19}")
        cells.append(f"{r['sec']:>5.1f}")
        print(" ".join(cells), flush=True)
    print(f"\n+θ: chance + {theta}·(perfect − chance); Δ = IND step − PT step (> 0: the "
          "previous-token head first). (chance, perfect) per config: " + "; ".join(
              sorted({f"{r['config']}: " + ", ".join(f"{k} {a:.3f}/{b:.3f}"
                                                      for k, (a, b) in r["chance"].items())
                      for r in rows})))  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(DEFAULT),
                        help=f"comma-separated, of {', '.join(SETUPS)}")  # fmt: skip
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--theta", type=float, default=0.2)
    args = parser.parse_args(argv)
    rows = []
    for name in args.configs.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(run(name, SETUPS[name], seed, args.steps, args.every, args.theta))
            print(f"# done {name} seed {seed} ({rows[-1]['sec']:.1f} s)", flush=True)
    print()
    print_table(rows, args.theta)


if __name__ == "__main__":
    main()
