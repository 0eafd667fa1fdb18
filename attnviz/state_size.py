"""MQAR: recall against state size, for every mixer class (lesson 06, issue #6).

``mqar_state_size_sweep`` trains 2-layer ``TinyTransformer``s whose blocks use each
sequence mixer of ``attnviz.mixers`` on multi-query associative recall
(``attnviz.tasks.mqar``, Zoology's generator) and measures their held-out accuracy,
sweeping the state expansion n of the classes that have one (linear attention, S6).
Softmax attention keeps its whole KV cache (its state grows with T) and the qLSTM one
float per channel; each runs once. Every block reads through a 4-tap short convolution
and has no MLP (``SweepSettings``): without the convolution linear attention does not
learn MQAR at these sizes.

Plotting accuracy against ``state_size`` (``attnviz.plots.recall_vs_state``) shows the
DSF paper's finding (PAPERS.md §2): recall needs state, and linear attention's accuracy
climbs toward softmax's as n grows (Sieber et al. 2024; Arora et al. 2023). ``shipped()``
loads the full sweep that ships with attnviz (``tools/experiments/mqar_state_size.py``
made it); ``quick_sweep()`` is lesson 06's live version, about 35 s on two cores.
``answer_mass`` shows where a model's probability goes at the queries.

Every run is deterministic: the data, the initial weights and the minibatch order
are seeded, and training is single-threaded (``attnviz.training.train``).

State sizes follow ``attnviz.mixers``: floats of recurrent state per sequence, of one
layer (``state_size``) and of the model (``model_state_size``, all layers).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from attnviz.mixers import EXPANDABLE, MIXERS
from attnviz.mixers import state_size as _state_size
from attnviz.models import TinyConfig, TinyTransformer
from attnviz.tasks import mqar
from attnviz.training import evaluate, train
from attnviz.validation import check_bool, check_choice, check_int, check_real, check_text

FORMAT = "attnviz.mqar_state_size/1"

#: The largest value of each setting: a run must stay a CPU lesson's run (seconds to
#: minutes), and its data must fit in memory. ``MAX_RUNS`` caps the runs of one sweep.
LIMITS = {
    "seq_len": 4096, "num_kv_pairs": 1024, "vocab": 65_536, "d_model": 1024, "n_layers": 16,
    "n_heads": 16, "short_conv": 64, "steps": 100_000, "batch_size": 4096,
    "n_train": 1_000_000, "n_test": 100_000,
}  # fmt: skip
MAX_STATE_EXPANSION = 1024
MAX_RUNS = 1000
MAX_WORKERS = 64  # and at most this machine's cores: max_workers()
SPEC_KEYS = ("mixer", "state_expansion", "seed")


@dataclass(frozen=True)
class SweepSettings:
    """Everything but the classes and sizes that a sweep's runs share."""

    seq_len: int = 32
    num_kv_pairs: int = 4
    vocab: int = 40
    d_model: int = 32
    n_layers: int = 2
    n_heads: int = 1
    short_conv: int = 4
    attention_only: bool = True
    steps: int = 300
    lr: float = 3e-3
    batch_size: int = 32
    n_train: int = 2048
    n_test: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("seq_len", "num_kv_pairs", "vocab", "d_model", "n_layers", "n_heads",
                     "batch_size", "n_train", "n_test"):  # fmt: skip
            check_int(name, getattr(self, name), low=1, high=LIMITS[name])
        check_int("steps", self.steps, low=0, high=LIMITS["steps"])
        check_int("short_conv", self.short_conv, low=0, high=LIMITS["short_conv"])
        check_int("seed", self.seed, low=0, high=2**31 - 1)
        check_real("lr", self.lr, low=0.0, low_open=True, high=10.0)
        check_bool("attention_only", self.attention_only)

    @classmethod
    def of(cls, settings: Any, name: str = "settings") -> SweepSettings:
        """``settings`` as SweepSettings: itself, or a dict of its fields (each named if
        unknown)."""
        name = check_text("name", name)
        if isinstance(settings, SweepSettings):
            return settings
        if not isinstance(settings, Mapping):
            raise TypeError(
                f"{name} must be a SweepSettings or a dict of its fields, got "
                f"{type(settings).__name__}"
            )
        fields = cls.__dataclass_fields__
        unknown = sorted(str(key) for key in settings if key not in fields)
        if unknown:
            raise TypeError(
                f"{name} has unknown field(s) {unknown}; SweepSettings has {list(fields)}"
            )
        try:
            return cls(**settings)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{name}: {error}") from None


# The live setting of lesson 06: softmax attention and linear attention at three state
# expansions, 500 steps each; about 40 s on this project's 2-core machine with both cores
# (``quick_sweep(workers=2)``). S6 and the qLSTM train slower (one token at a time) and
# are in the shipped full sweep (``shipped``).
QUICK = {
    "classes": ("attention", "linear_attention"),
    "sizes": (1, 4, 16),
    "settings": SweepSettings(seq_len=32, num_kv_pairs=4, vocab=64, d_model=64, steps=500,
                              lr=3e-3, batch_size=64, n_train=8192, n_test=512),
}  # fmt: skip
SHIPPED = "mqar_state_size.json"  # the full sweep's results, in attnviz/data


@dataclass
class SweepResult:
    """Accuracy per (class, state expansion), with each model's state size."""

    settings: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def accuracy(self, mixer: str, state_expansion: int | None = None, seed: int | None = None):
        """Mean accuracy of the runs of ``mixer`` (at that expansion and seed, if given)."""
        mixer = check_text("mixer", mixer)
        if state_expansion is not None:
            state_expansion = check_int(
                "state_expansion", state_expansion, low=1, high=MAX_STATE_EXPANSION
            )
        if seed is not None:
            seed = check_int("seed", seed, low=0, high=2**31 - 1)
        found = [
            run["accuracy"]
            for run in self.runs
            if run["mixer"] == mixer
            and (state_expansion is None or run["state_expansion"] == state_expansion)
            and (seed is None or run["seed"] == seed)
        ]
        if not found:
            raise ValueError(f"no run of mixer={mixer!r}, state_expansion={state_expansion!r}")
        return sum(found) / len(found)

    def curve(self, mixer: str, *, spread: bool = False) -> tuple[list, ...]:
        """(state sizes, mean accuracies) of one class by growing state size: what to plot;
        with ``spread``, also the lowest and highest accuracy over seeds at each size."""
        mixer = check_text("mixer", mixer)
        spread = check_bool("spread", spread)
        by_size: dict[int, list[float]] = {}
        for run in self.runs:
            if run["mixer"] == mixer:
                by_size.setdefault(run["state_size"], []).append(run["accuracy"])
        if not by_size:
            raise ValueError(f"no run of mixer={mixer!r}; mixers: {self.mixers()}")
        sizes = sorted(by_size)
        means = [sum(by_size[s]) / len(by_size[s]) for s in sizes]
        if not spread:
            return sizes, means
        return sizes, means, [min(by_size[s]) for s in sizes], [max(by_size[s]) for s in sizes]

    def mixers(self) -> list[str]:
        """The classes that have runs, in the order of their first run."""
        return list(dict.fromkeys(run["mixer"] for run in self.runs))

    def curves(self, *, spread: bool = True) -> dict[str, tuple[list, ...]]:
        """``curve`` of every class: ``attnviz.plots.recall_vs_state``'s input."""
        spread = check_bool("spread", spread)
        return {mixer: self.curve(mixer, spread=spread) for mixer in self.mixers()}

    def smallest_state(self, mixer: str, accuracy: float) -> int | None:
        """The smallest state size at which the class's mean accuracy reaches ``accuracy``."""
        mixer = check_text("mixer", mixer)
        accuracy = check_real("accuracy", accuracy, low=0.0, high=1.0)
        for size, mean in zip(*self.curve(mixer), strict=True):
            if mean >= accuracy:
                return size
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "settings": dict(self.settings), "runs": list(self.runs),
                "metadata": dict(self.metadata)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepResult:
        """A result from ``to_dict``'s form: format, settings, runs (each a dict with mixer,
        state_expansion, seed, state_size and accuracy) and optional metadata."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"data is not an MQAR state-size sweep (format {FORMAT})")
        settings, runs = data.get("settings"), data.get("runs")
        metadata = data.get("metadata", {})
        if not isinstance(settings, dict) or not isinstance(metadata, dict):
            raise ValueError("data must hold a dict of settings and of metadata")
        if not isinstance(runs, list) or not all(
            isinstance(run, dict) and {"mixer", "state_size", "accuracy"} <= set(run)
            for run in runs
        ):
            raise ValueError(
                "data must hold a list of runs, each a dict with mixer, state_size and accuracy"
            )
        return cls(dict(settings), list(runs), dict(metadata))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SweepResult:
        """A result from ``to_json``'s text."""
        text = check_text("text", text)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"text is not JSON: {error}") from None
        try:
            return cls.from_dict(data)
        except ValueError as error:
            raise ValueError(f"text: {error}") from None

    def save(self, path: str | Path) -> Path:
        """Write ``to_json`` to ``path`` (a str or Path); OSError if it cannot be written."""
        path = _path(path)
        path.write_text(self.to_json())
        return path

    @classmethod
    def load(cls, path: str | Path) -> SweepResult:
        """Read a result saved by ``save``; OSError if ``path`` cannot be read."""
        return cls.from_json(_path(path).read_text())


def _path(path: Any) -> Path:
    if isinstance(path, Path):
        return path
    return Path(check_text("path", path))


def answer_mass(model: Any, task: Any) -> dict[str, float]:
    """Where a model's probability goes at MQAR's queries, averaged over them: on the
    right value ("right") and on all the values of the sequence's own pairs ("context").

    A model that has learned "the answer is one of the values I read" but not which puts
    most of its mass on "context" and about 1/KV of it on "right" (lesson 06's qLSTM).
    """
    from attnviz.tasks import TaskData

    if not isinstance(model, TinyTransformer):
        raise TypeError(f"model must be a TinyTransformer, got {type(model).__name__}")
    if not isinstance(task, TaskData):
        raise TypeError(f"task must be an MQAR TaskData (tasks.mqar), got {type(task).__name__}")
    kv = task.params.get("num_kv_pairs")
    if kv is None:
        name = getattr(task, "name", type(task).__name__)
        raise ValueError(f"task must be an MQAR task with params num_kv_pairs, got {name!r}")
    with torch.no_grad():
        probs = model(task.input_ids).softmax(-1)  # (N, T, V)
    values = task.input_ids[:, 1 : 2 * kv : 2]  # (N, KV): v_1 ... v_KV of each sequence
    on_values = probs.gather(-1, values[:, None, :].expand(-1, probs.shape[1], -1)).sum(-1)
    asked = task.targets >= 0  # (N, T): the query positions
    right = probs.gather(-1, task.targets.clamp(min=0)[..., None])[..., 0]  # (N, T)
    return {"context": float(on_values[asked].mean()), "right": float(right[asked].mean())}


def run_specs(
    classes: Iterable[str], sizes: Iterable[int], seeds: Iterable[int] = (0,)
) -> list[dict[str, Any]]:
    """One spec {mixer, state_expansion, seed} per run: every size for the expandable
    classes, one run (state_expansion None) for softmax attention and the qLSTM."""
    classes = _sequence("classes", classes)
    sizes = _sequence("sizes", sizes)
    seeds = _sequence("seeds", seeds)
    for mixer in classes:
        if not isinstance(mixer, str) or mixer not in MIXERS:
            error = ValueError if isinstance(mixer, str) else TypeError
            raise error(f"classes must be names in {MIXERS}, got {mixer!r}")
    sizes = tuple(check_int("sizes", n, low=1, high=MAX_STATE_EXPANSION) for n in sizes)
    seeds = tuple(check_int("seeds", seed, low=0, high=2**31 - 1) for seed in seeds)
    n_runs = len(seeds) * sum(len(sizes) if mixer in EXPANDABLE else 1 for mixer in classes)
    if n_runs > MAX_RUNS:
        raise ValueError(
            f"classes x sizes x seeds make {n_runs:,} runs, more than MAX_RUNS = {MAX_RUNS}; "
            "use fewer sizes or seeds"
        )
    specs = []
    for seed in seeds:
        for mixer in classes:
            for n in sizes if mixer in EXPANDABLE else (None,):
                specs.append({"mixer": mixer, "state_expansion": n, "seed": seed})
    return specs


def _sequence(name: str, values: Any) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence, got {type(values).__name__}")
    values = tuple(values)
    if len(values) > MAX_RUNS:
        raise ValueError(f"{name} must list at most {MAX_RUNS} values, got {len(values):,}")
    return values


def _spec(spec: Any) -> dict[str, Any]:
    """A run's spec checked: exactly {mixer, state_expansion, seed}, each valid."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"spec must be a dict with keys {SPEC_KEYS}, got {type(spec).__name__}")
    unknown = sorted(str(key) for key in spec if key not in SPEC_KEYS)
    missing = [key for key in SPEC_KEYS if key not in spec]
    if unknown or missing:
        raise ValueError(
            f"spec must have exactly the keys {SPEC_KEYS}; unknown: {unknown}, missing: {missing}"
        )
    mixer = check_choice("spec['mixer']", spec["mixer"], MIXERS)
    n = spec["state_expansion"]
    if mixer in EXPANDABLE or n is not None:
        n = check_int("spec['state_expansion']", n, low=1, high=MAX_STATE_EXPANSION)
    return {"mixer": mixer, "state_expansion": n,
            "seed": check_int("spec['seed']", spec["seed"], low=0, high=2**31)}  # fmt: skip


def train_model(settings: SweepSettings | dict[str, Any], spec: dict[str, Any]):
    """Train one model of a sweep: ``spec`` {mixer, state_expansion, seed}. Returns
    (model, held-out task, seconds of training).

    The seed draws the data (train seed, test seed + 1), the initial weights and the
    minibatch order.
    """
    s = SweepSettings.of(settings)
    spec = _spec(spec)
    seed = spec["seed"]
    data = mqar(s.n_train + 1, s.seq_len, s.num_kv_pairs, s.vocab, seed=2 * seed)
    test = mqar(s.n_test, s.seq_len, s.num_kv_pairs, s.vocab, seed=2 * seed + 1)
    config = TinyConfig(
        n_layers=s.n_layers, n_heads=s.n_heads, d_model=s.d_model, vocab_size=s.vocab,
        context=s.seq_len, mixer=spec["mixer"], state_expansion=spec["state_expansion"],
        short_conv=s.short_conv, attention_only=s.attention_only,
    )  # fmt: skip
    model = TinyTransformer(config, seed=seed)
    start = time.perf_counter()
    train(model, data, steps=s.steps, lr=s.lr, batch_size=s.batch_size, seed=seed,
          eval_size=1, record_every=max(s.steps, 1), progress=False, scores={})  # fmt: skip
    return model, test, time.perf_counter() - start


def train_one(settings: SweepSettings | dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Train and score one model (``train_model``): a sweep's run, as a dict. A top-level
    function, so process pools can run it. ``settings`` and ``spec`` are checked as
    ``train_model`` checks them: unknown or missing keys are named."""
    model, test, seconds = train_model(settings, spec)
    scores = evaluate(model, test)
    seq_len = test.input_ids.shape[1]
    return {
        **spec,
        "state_size": model.blocks[0].attn.state_size(seq_len),
        "model_state_size": _state_size(model, seq_len),
        "parameters": sum(p.numel() for p in model.parameters()),
        "accuracy": round(scores["accuracy"], 6),
        "loss": round(scores["loss"], 6),
        "seconds": round(seconds, 2),
    }


def mqar_state_size_sweep(
    classes: Sequence[str] = QUICK["classes"],
    sizes: Sequence[int] = QUICK["sizes"],
    *,
    seeds: Sequence[int] = (0,),
    progress: bool | Callable[[int, int, dict[str, Any]], Any] = False,
    map_fn: Callable[..., Iterable[dict[str, Any]]] | None = None,
    **settings: Any,
) -> SweepResult:
    """Train a 2-layer model of each class on MQAR per state size; accuracy vs state (lesson 06).

    Args:
        classes: mixer names (``attnviz.mixers.MIXERS``).
        sizes: state expansions n for linear attention and S6 (the others run once).
        seeds: one run per seed and (class, size).
        progress: True prints a line per finished run; a callable gets
            ``(done, total, run)``.
        map_fn: how to run the specs, ``map_fn(fn, specs)`` (e.g. a process pool's map);
            default: one after another here.
        **settings: fields of ``SweepSettings`` (seq_len, num_kv_pairs, vocab, d_model,
            n_layers, n_heads, steps, lr, batch_size, n_train, n_test, seed), each within
            ``LIMITS``; an unknown one is named. ``seed`` is the first seed when ``seeds``
            is not given. At most ``MAX_RUNS`` runs, sizes up to ``MAX_STATE_EXPANSION``.

    Returns:
        A ``SweepResult``; ``result.curve(mixer)`` gives (state sizes, accuracies).
    """
    if "seed" in settings:
        seeds = (settings["seed"],) if tuple(_sequence("seeds", seeds)) == (0,) else seeds
    s = SweepSettings.of(settings)
    specs = run_specs(classes, sizes, seeds)
    classes, sizes, seeds = tuple(classes), tuple(sizes), tuple(seeds)
    if not (isinstance(progress, bool) or callable(progress)):
        raise TypeError(
            f"progress must be True, False or a callable(done, total, run), got "
            f"{type(progress).__name__}"
        )
    if map_fn is not None and not callable(map_fn):
        raise TypeError(f"map_fn must be None or a callable like map, got {type(map_fn).__name__}")
    report = progress if callable(progress) and not isinstance(progress, bool) else None
    if progress is True:

        def report(done: int, total: int, run: dict[str, Any]) -> None:
            print(f"[{done}/{total}] {run['mixer']:<16} n={run['state_expansion']!s:<4} "
                  f"seed={run['seed']} state={run['state_size']:<6} acc={run['accuracy']:.3f}",
                  flush=True)  # fmt: skip

    runner = map_fn or map
    runs = []
    start = time.perf_counter()
    for run in runner(_train_spec, [(asdict(s), spec) for spec in specs]):
        runs.append(run)
        if report is not None:
            report(len(runs), len(specs), run)
    result = SweepResult(
        settings={**asdict(s), "classes": list(classes), "sizes": list(sizes),
                  "seeds": list(seeds)},
        runs=runs,
        metadata={"seconds": round(time.perf_counter() - start, 1)},
    )  # fmt: skip
    return result


def _train_spec(args: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    settings, spec = args
    return train_one(settings, spec)


def worker_map(workers: int) -> AbstractContextManager[Callable[..., Iterable[Any]]]:
    """A ``map_fn`` for ``mqar_state_size_sweep``: the built-in ``map`` for one worker, else
    the map of a pool of ``workers`` spawned processes (no fork of a process holding threads).
    Every run is seeded and single-threaded, so the results do not depend on ``workers``.
    ``workers`` is checked when called (1 .. ``max_workers()``, this machine's cores)."""
    return _worker_map(check_int("workers", workers, low=1, high=max_workers()))


def max_workers() -> int:
    """The most workers a sweep may use: this machine's cores (more only wait for each
    other, and every spawned worker imports torch), at most ``MAX_WORKERS``."""
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


@contextmanager
def _worker_map(workers: int) -> Iterator[Callable[..., Iterable[Any]]]:
    if workers == 1:
        yield map
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool.map


def quick_sweep(
    progress: bool | Callable[..., Any] = False, *, workers: int | None = None
) -> SweepResult:
    """The QUICK preset, the live setting of lesson 06, on ``workers`` processes (default:
    up to 2, as many as this machine has cores; the accuracies do not depend on it)."""
    if not (isinstance(progress, bool) or callable(progress)):
        raise TypeError(
            f"progress must be True, False or a callable(done, total, run), got "
            f"{type(progress).__name__}"
        )
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    with worker_map(workers) as map_fn:
        return mqar_state_size_sweep(QUICK["classes"], QUICK["sizes"], progress=progress,
                                     map_fn=map_fn, **asdict(QUICK["settings"]))  # fmt: skip


def shipped() -> SweepResult:
    """The full sweep's results that ship with attnviz (made by
    ``tools/experiments/mqar_state_size.py``; its recipe is in ``metadata``)."""
    return SweepResult.from_json((resources.files("attnviz") / "data" / SHIPPED).read_text())


__all__ = [
    "FORMAT",
    "QUICK",
    "SweepResult",
    "SweepSettings",
    "answer_mass",
    "mqar_state_size_sweep",
    "quick_sweep",
    "run_specs",
    "shipped",
    "train_model",
    "train_one",
    "worker_map",
]
