"""The speed targets of the issues that are not a dashboard control: ``attnviz bench``'s
second table.

Each target is a named measurement with the figure an issue asks for. ``run_targets``
measures each ``n`` times and returns rows shaped like the dashboard rows of
``attnviz.bench`` (``dashboard``, ``control``, ``n``, ``p50_ms``, ``p95_ms``) plus
``target_ms`` and ``met`` (p95 below the target). Speed lives here, never in timed
unit tests.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Trains the lesson 03 recipe in a fresh interpreter (a cold start: importing torch and
# attnviz counts) until an induction head has formed, then exits at once.
_TRAIN_UNTIL_INDUCTION = textwrap.dedent(
    """
    from attnviz.models import LESSON_MODELS, TinyConfig, TinyTransformer
    from attnviz.tasks import make_task
    from attnviz.training import induction_head_formed, train

    recipe = LESSON_MODELS["induction_2l"]
    model = TinyTransformer(TinyConfig(**recipe["config"]), seed=recipe["init_seed"])
    formed = []

    def stop_when_formed(step, record):
        if induction_head_formed(record):
            formed.append(step)
            return False

    train(model, make_task(**recipe["task"]), progress=False, callback=stop_when_formed,
          **recipe["train"])
    if not formed:
        raise SystemExit("no induction head formed within the recipe's steps")
    print(formed[0])
    """
)


@dataclass(frozen=True)
class Target:
    """One measured figure and the bound an issue sets for it."""

    name: str  # shown in the table's "control" column
    dashboard: str  # the dashboard (or lesson) the figure belongs to
    target_ms: float
    measure: Callable[[], float]  # seconds for one measurement
    issue: int


def _induction_cold_start() -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _TRAIN_UNTIL_INDUCTION],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"training for the induction-head target failed:\n{result.stderr}")
    return elapsed


# The 4,096-token head view is measured with a model that reads 4,096 tokens: lesson 02's
# RoPE model. Until its weights ship, the same architecture untrained (the timing is the
# same); once they do, this needs no change (and the stand-in may go).
LONG_MODEL = "induction_rope"
LONG_TOKENS = 4096


def _long_model_params() -> dict:
    """The dashboard parameters naming the model the 4,096-token target is measured with."""
    from attnviz import models

    if LONG_MODEL in models.LESSON_MODELS and models.lesson_model_path(LONG_MODEL).is_file():
        return {"model": LONG_MODEL}
    return {"model": LONG_MODEL, "extra_models": {LONG_MODEL: _untrained_long_model()}}


@lru_cache(maxsize=1)
def _untrained_long_model():
    from attnviz import models

    config = models.TinyConfig(
        n_layers=2,
        n_heads=2,
        d_model=64,
        vocab_size=48,
        context=4096,
        positional="rope",
        attention_only=True,
    )
    return models.TinyTransformer(config, seed=0)


def _long_first_render(preset: str) -> Callable[[], float]:
    """Time lesson 02's first render of ``LONG_TOKENS`` tokens; raise if fewer were drawn."""

    def measure() -> float:
        from attnviz.bench import first_render

        # free the dashboards of earlier measurements first (Bokeh documents and param
        # watchers form reference cycles): a server frees an ended session's too, and the
        # figure should not depend on how many hundreds of MB earlier runs left behind
        gc.collect()
        dashboard, seconds = first_render(
            "attention_maps", preset=preset, seq_len=LONG_TOKENS, **_long_model_params()
        )
        shown = dashboard.shown_tokens
        if shown != LONG_TOKENS:  # e.g. a short-context model clamps the input: no measurement
            raise RuntimeError(
                f"the {LONG_TOKENS:,}-token target drew {shown} tokens with model "
                f"{dashboard.model!r}: it must read {LONG_TOKENS:,} tokens"
            )
        return seconds

    return measure


# Issue #15: a 65,536-token causal head map of the shipped RoPE model — the pooled overview
# and an exact zoom, streamed from q, k and the log-sum-exp (attnviz.maps.streamed), never
# T x T (16 GiB of float32). Measured in a fresh interpreter, which reports its own peak
# resident memory (VmHWM after resetting it; getrusage off Linux); the clock runs from the
# ids to the zoom (the forward pass up to the layer shown, the overview, the zoom), after
# the imports and the model's loading.
STREAMED_TOKENS = 65_536
STREAMED_PEAK_BYTES = 2**30  # the issue's bound on the process's peak memory
STREAMED_PERIOD = 47  # lesson 02's "repeated tokens" preset: 47 distinct tokens, repeated
_STREAMED_HEAD_MAP = textwrap.dedent(
    """
    import json, os, resource, sys, time

    # The peak resident memory of this process alone: on Linux ru_maxrss survives exec and
    # starts at the parent's size (a large test runner would count), so reset the peak
    # first (clear_refs "5") and read VmHWM at the end; elsewhere ru_maxrss.
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        reset = True
    except OSError:
        reset = False

    def peak_rss():
        if reset:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    import numpy as np
    import torch

    seq_len, layer, head, kernel, threads, max_size, zoom = sys.argv[1:8]
    seq_len, layer, head, threads, max_size, zoom = map(int, (seq_len, layer, head, threads,
                                                              max_size, zoom))
    if threads:  # 0: PyTorch's own setting (a thread per core), as lesson 02's dashboard runs
        torch.set_num_threads(threads)
    from attnviz.lesson_models import load_lesson_model
    from attnviz.maps.inputs import preset_input
    from attnviz.maps.streamed import stream_capture, streamed_overview, streamed_window

    model = load_lesson_model("induction_rope")
    ids, _ = preset_input("repeated tokens", seq_len, model.config.vocab_size, 0)
    ids = torch.as_tensor(np.asarray(ids)).reshape(-1)
    def cpu():  # user + system seconds of this process, all its threads: less load-bound
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    load = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), cpu()
    heads = stream_capture(model, ids, up_to_layer=layer, kernel=kernel)
    captured, cpu_captured = time.perf_counter(), cpu()
    pooled = streamed_overview(heads, layer, head, max_size, reduce="max")
    pooled_at, cpu_pooled = time.perf_counter(), cpu()
    # the last queries over the keys before them: the diagonal and the induction stripe
    cut = streamed_window(heads, layer, head, (seq_len - zoom, seq_len),
                          (max(0, seq_len - 2 * zoom - 47), seq_len))
    done, cpu_done = time.perf_counter(), cpu()
    offsets = np.arange(*cut.rows) - (cut.cols[0] + cut.values.argmax(axis=1))
    print(json.dumps({
        "seq_len": seq_len, "layer": layer, "head": head, "kernel": kernel,
        "threads": torch.get_num_threads(), "overview_shape": list(pooled.values.shape),
        "zoom_shape": list(cut.values.shape),
        "capture_s": captured - started, "overview_s": pooled_at - captured,
        "zoom_s": done - pooled_at, "total_s": done - started,
        "capture_cpu_s": cpu_captured - cpu_started, "overview_cpu_s": cpu_pooled - cpu_captured,
        "zoom_cpu_s": cpu_done - cpu_pooled, "total_cpu_s": cpu_done - cpu_started,
        "load_average_1min_at_start": load,
        "peak_rss_bytes": peak_rss(),
        "zoom_rows_at_the_previous_repeat": float(np.mean(offsets % 47 == 46)),
    }))
    """
)


def streamed_head_map_run(
    seq_len: int = STREAMED_TOKENS,
    *,
    layer: int = 1,
    head: int = 1,
    kernel: str = "fused",
    threads: int | None = None,
    max_size: int = 256,
    zoom: int = 40,
) -> dict:
    """Draw a long head map of ``induction_rope`` in a fresh interpreter; its figures (issue 15).

    Layer 1, head 1 is the model's induction head: on lesson 02's repeated tokens its
    zoom rows look 46 tokens back (``zoom_rows_at_the_previous_repeat``). Returns the
    seconds of the forward pass, the overview and the zoom, and the process's peak
    resident memory (``peak_rss_bytes``), with the CPU seconds (user + system) of each
    stage and the load average at the start, since the wall times depend on what else
    runs. ``tools/long_map.py`` prints it. ``threads``: PyTorch's intra-op threads
    (default: its own setting, one per core, as lesson 02's dashboard computes; the
    overview deals its strips to that many worker threads). On the 2-core machine two
    threads halve the time when the other core is free (benchmarks/long-map-cpu.json).
    """
    from attnviz.maps.streamed import KERNELS, MAX_TOKENS
    from attnviz.validation import check_choice, check_int

    seq_len = check_int("seq_len", seq_len, low=2 * zoom + 48, high=MAX_TOKENS)
    layer, head = check_int("layer", layer, low=0, high=1), check_int("head", head, low=0, high=1)
    kernel = check_choice("kernel", kernel, KERNELS)
    threads = 0 if threads is None else check_int("threads", threads, low=1, high=256)
    max_size, zoom = check_int("max_size", max_size, low=1), check_int("zoom", zoom, low=1)
    result = subprocess.run(
        [sys.executable, "-c", _STREAMED_HEAD_MAP]
        + [str(a) for a in (seq_len, layer, head, kernel, threads, max_size, zoom)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the streamed head map failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _streamed_head_map() -> float:
    figures = streamed_head_map_run(STREAMED_TOKENS)
    if figures["peak_rss_bytes"] >= STREAMED_PEAK_BYTES:
        raise RuntimeError(
            f"the {STREAMED_TOKENS:,}-token head map peaked at "
            f"{figures['peak_rss_bytes'] / 2**20:,.0f} MiB, past the issue's 1 GiB"
        )
    return figures["total_s"]


# Lesson 04's reach targets (issue #4). The general path is measured on a mask with no
# offset structure: BigBird-like blocks of 64 tokens (a 3-block causal window, the first
# block global, 3 seeded random earlier blocks per block row), built once, outside the timing.
REACH_TOKENS = 16_384
REACH_LAYERS = 32
REACH_DISTANCE_TOKENS = 1 << 20


@lru_cache(maxsize=1)
def _bigbird_like_mask(seq_len: int, block: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = seq_len // block
    blocks = np.zeros((n, n), bool)
    for i in range(n):
        blocks[i, max(0, i - 2) : i + 1] = True
        blocks[i, 0] = True
        if i > 1:
            blocks[i, rng.choice(i, size=min(3, i), replace=False)] = True
    tokens = np.arange(seq_len) // block
    q = np.arange(seq_len)
    return blocks[tokens[:, None], tokens[None, :]] & (q[:, None] >= q[None, :])


@lru_cache(maxsize=1)
def _random_sparse_mask(seq_len: int, random_keys: int = 8) -> np.ndarray:
    """Each query reads itself, the previous token and ``random_keys`` random earlier keys:
    no offsets, no blocks, no runs to exploit."""
    rng = np.random.default_rng(0)
    q = np.arange(seq_len)
    mask = np.zeros((seq_len, seq_len), bool)
    mask[q, q] = True
    mask[q[1:], q[1:] - 1] = True
    picks = (rng.random((seq_len, random_keys)) * (q[:, None] + 1)).astype(np.int64)
    mask[np.repeat(q, random_keys), picks.ravel()] = True
    return mask


def _reach_any_mask(build: Callable[[int], np.ndarray], name: str) -> Callable[[], float]:
    def measure() -> float:
        from attnviz.receptive import receptive_field

        mask = build(REACH_TOKENS)
        started = time.perf_counter()
        field = receptive_field(mask, REACH_TOKENS, REACH_LAYERS, full=False)
        elapsed = time.perf_counter() - started
        if field.layers_to_full_coverage is None and name == "BigBird-like":
            raise RuntimeError(f"the {name} mask left pairs unreached after {REACH_LAYERS} layers")
        if field.coverage[-1] <= field.coverage[1]:
            raise RuntimeError(f"the {name} mask's reach did not grow across layers")
        return elapsed

    return measure


def _reach_by_distances() -> float:
    from attnviz.receptive import receptive_field

    t = REACH_DISTANCE_TOKENS
    distances = [1 << k for k in range(t.bit_length()) if 1 << k < t]  # PowerAttention
    started = time.perf_counter()
    field = receptive_field(distances, t, REACH_LAYERS)
    elapsed = time.perf_counter() - started
    if field.layers_to_full_coverage != (t - 1).bit_length():  # popcount(t - 1) hops
        raise RuntimeError(f"PowerAttention over {t:,} tokens reached the wrong distances")
    return elapsed


# Issue #5: d_k in {16, 32, ..., 512}, 20 values of N, 50 trials each; N runs from 2 to 512,
# geometrically (loads N / d_k from 1/256 to 32), Hebbian writes, relative MSE, d_v = d_k.
CAPACITY_DIMS = (16, 32, 64, 128, 256, 512)
CAPACITY_ITEMS = tuple(int(n) for n in np.round(np.geomspace(2, 512, 20)))
CAPACITY_TRIALS = 50


def _capacity_sweep() -> float:
    from attnviz.memory import capacity_sweep

    capacity_sweep(16, [1, 2], trials=2)  # torch's first matmuls pay a one-off setup
    started = time.perf_counter()
    result = capacity_sweep(CAPACITY_DIMS, CAPACITY_ITEMS, trials=CAPACITY_TRIALS)
    elapsed = time.perf_counter() - started
    if result.measured.shape != (len(CAPACITY_DIMS), len(CAPACITY_ITEMS)):
        raise RuntimeError(f"the sweep measured {result.measured.shape}, not 6 x 20")
    if not np.allclose(result.measured, result.predicted_mse, rtol=0.25, atol=0.02):
        raise RuntimeError("the sweep's errors are far from (N - 1) / d_k")
    return elapsed


# Issue #6: the implicit attention matrix of every DSF class on one input, 512 tokens x 64
# channels (float32), state expansion 16: the (T, T) kernel of the attention classes (their
# Φ is that kernel ⊗ W_v) and the per-channel (64, T, T) Φ of S6, SSD, qLSTM and RG-LRU.
PHI_TOKENS, PHI_CHANNELS, PHI_STATE = 512, 64, 16


def _phi_all_classes() -> float:
    import torch

    from attnviz import dsf

    g = torch.Generator().manual_seed(0)
    u = torch.randn(PHI_TOKENS, PHI_CHANNELS, generator=g)  # (T, d), float32
    dsf.random_system("s6", u[:16], n=PHI_STATE).phi()  # torch's one-off setup, untimed
    started = time.perf_counter()
    shapes = []
    for kind in dsf.KINDS:
        # Normalised attention's s_i = exp(w_nᵀu_i) reaches e^7 within 512 unit-variance
        # tokens; Φ's closed form then multiplies k_j e^{-s_j} (0 in floats) by
        # e^{s_j - s_i} (inf) and dsf refuses the NaN. Its true Φ_ij = e^{-s_i} q_i·k_j is
        # finite: until the closed form carries e^{-s} on the query side, time it on u / 2.
        x = u / 2 if kind == "normalized_attention" else u
        system = dsf.random_system(kind, x, n=PHI_STATE)
        diagonal = getattr(system, "diagonal", False)
        shapes.append(tuple((system.phi() if diagonal else system.phi_kernel()).shape))
    elapsed = time.perf_counter() - started
    if len(shapes) != len(dsf.KINDS) or any(shape[-2:] != (PHI_TOKENS,) * 2 for shape in shapes):
        raise RuntimeError(f"the classes' Φ came out as {shapes}")
    return elapsed


def _mqar_quick_sweep() -> float:
    """Lesson 06's live MQAR sweep (4 models, both cores of a 2-core machine), with its
    worker processes' start-up; checks that it shows what the lesson says it shows."""
    from attnviz.state_size import quick_sweep

    started = time.perf_counter()
    result = quick_sweep()
    elapsed = time.perf_counter() - started
    softmax, tiny = result.accuracy("attention"), result.accuracy("linear_attention", 1)
    if softmax < 0.9 or tiny > 0.5:
        raise RuntimeError(f"quick sweep: softmax {softmax:.3f}, linear n=1 {tiny:.3f}")
    return elapsed


TARGETS: tuple[Target, ...] = (
    Target(
        name="(train: induction head forms, cold start)",
        dashboard="head_jobs",
        target_ms=20_000.0,
        measure=_induction_cold_start,
        issue=3,
    ),
    Target(
        name="(first render, 4,096 tokens)",
        dashboard="attention_maps",
        target_ms=1_000.0,
        measure=_long_first_render("random tokens"),
        issue=3,
    ),
    Target(
        name="(first render, 4,096 repeated tokens)",
        dashboard="attention_maps",
        target_ms=1_000.0,
        measure=_long_first_render("repeated tokens"),
        issue=3,
    ),
    Target(
        name="(overview + zoom, 65,536 tokens, streamed)",
        dashboard="attention_maps",
        target_ms=10_000.0,
        measure=_streamed_head_map,
        issue=15,
    ),
    Target(
        name="(exact reach, any mask, 16,384 tokens x 32 layers)",
        dashboard="receptive_fields",
        target_ms=5_000.0,
        measure=_reach_any_mask(_bigbird_like_mask, "BigBird-like"),
        issue=4,
    ),
    Target(
        name="(exact reach, random sparse mask, 16,384 tokens x 32 layers)",
        dashboard="receptive_fields",
        target_ms=5_000.0,
        measure=_reach_any_mask(_random_sparse_mask, "random sparse"),
        issue=4,
    ),
    Target(
        name="(reach by distances, 1,048,576 tokens x 32 layers)",
        dashboard="receptive_fields",
        target_ms=1_000.0,
        measure=_reach_by_distances,
        issue=4,
    ),
    Target(
        name="(capacity sweep: 6 d_k x 20 N x 50 trials)",
        dashboard="associative_memory",
        target_ms=1_000.0,
        measure=_capacity_sweep,
        issue=5,
    ),
    Target(
        name="(Φ of every class: 512 tokens x 64 channels)",
        dashboard="dsf",
        target_ms=200.0,
        measure=_phi_all_classes,
        issue=6,
    ),
    Target(
        name="(MQAR quick sweep: 4 models trained, lesson 06 live)",
        dashboard="dsf",
        target_ms=60_000.0,
        measure=_mqar_quick_sweep,
        issue=6,
    ),
)


def run_targets(names: Iterable[str] | None = None, n: int = 3) -> list[dict]:
    """Measure each target ``n`` times; rows with ``target_ms`` and ``met``."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    wanted = None if names is None else set(names)
    rows = []
    for target in TARGETS:
        if wanted is not None and target.dashboard not in wanted:
            continue
        ms = np.array([1000.0 * target.measure() for _ in range(n)])
        p95 = round(float(np.percentile(ms, 95)), 3)
        rows.append(
            {
                "dashboard": target.dashboard,
                "control": target.name,
                "n": n,
                "p50_ms": round(float(np.percentile(ms, 50)), 3),
                "p95_ms": p95,
                "target_ms": target.target_ms,
                "met": bool(p95 < target.target_ms),
            }
        )
    return rows
