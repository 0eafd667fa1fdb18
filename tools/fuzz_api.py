"""Fuzz the whole public API from the one table, and count how the promise held.

    python tools/fuzz_api.py [--output benchmarks/fuzz-after.json] [--valid 20] [--only NAME]

Every entry of ``tests/promise/table.py`` gets its deterministic sweep (each argument's
extreme, hostile and empty values) and ``--valid`` ordinary draws (at most the entry's own
``examples``), under the default
memory budget and each entry's deadline. Two worker processes share the entries; a call
stuck in C past its deadline (``SIGALRM`` cannot reach it) is killed by this parent and
counted *over deadline*, and its worker restarts. Prints the counts and the worst calls;
``--output`` writes them as JSON. Run from the repository root with the package
installed; point ``PYTHONPATH`` at another checkout to fuzz that one with this table.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KILL_AFTER = 20.0  # seconds past an entry's deadline before the parent kills the worker
PROBLEMS = ("escaped", "over budget", "over deadline", "accepted", "unnamed", "nan")


def _kind_of(problem: str) -> str:
    for word, kind in (("escaped", "escaped"), ("over budget", "over budget"),
                       ("over deadline", "over deadline"), ("accepted", "accepted"),
                       ("without naming", "unnamed"), ("NaN", "nan")):  # fmt: skip
        if problem.startswith(word) or word in problem[:40]:
            return kind
    return "other"


# --------------------------------------------------------------------------- worker


def worker(valid: int) -> None:
    """Read entry indices on stdin; write one JSON line per call, then ``done``."""
    sys.path.insert(0, str(ROOT / "tests"))
    from promise.table import TABLE

    def emit(**record):
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        index = int(line)
        try:
            TABLE[index].resolve()
        except (ImportError, AttributeError) as error:
            emit(index=index, missing=f"{type(error).__name__}: {error}")
        else:
            fuzz_entry(index, TABLE[index], min(valid, TABLE[index].examples), emit)
        emit(index=index, done=True)


def fuzz_entry(index, entry, valid, emit) -> None:
    """The entry's sweep, then ``valid`` valid draws; one line per call (and one before)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from promise.cases import sweep, valid_case, violation

    common = dict(deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip

    def record(case):
        emit(index=index, start=case.describe())
        outcome = case.run()
        emit(index=index, call=case.describe(), role=case.role, status=outcome.status,
             seconds=round(outcome.seconds, 4), problem=violation(case, outcome))  # fmt: skip

    def building_failed(error):
        emit(index=index, call=f"{entry.name}(building its arguments)", role="?",
             status="escaped", seconds=0.0,
             problem=f"escaped: {type(error).__name__}: {str(error)[:300]}")  # fmt: skip

    # Nothing may escape to hypothesis: it would replay (and so recount) the whole sweep.
    @settings(max_examples=1, **common)
    @given(data=st.data())
    def run_sweep(data):
        cases = sweep(data, entry)
        while True:
            try:
                case = next(cases)
            except StopIteration:
                return
            except Exception as error:  # noqa: BLE001 - a receiver that failed to build
                building_failed(error)
                return
            record(case)

    @settings(max_examples=max(1, valid), **common)
    @given(data=st.data())
    def run_valid(data):
        try:
            case = valid_case(data, entry)
        except Exception as error:  # noqa: BLE001
            building_failed(error)
            return
        record(case)

    run_sweep()
    if valid:
        run_valid()


# --------------------------------------------------------------------------- parent


class Worker:
    def __init__(self, valid: int):
        self.valid = valid
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--valid", str(self.valid)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, cwd="/tmp",
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(self.process, self.lines), daemon=True).start()

    @staticmethod
    def _read(process, lines):
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    def kill(self):
        self.process.kill()
        self.process.wait()
        self.start()


def run_entry(worker: Worker, index: int, deadline: float) -> list[dict]:
    worker.process.stdin.write(f"{index}\n")
    worker.process.stdin.flush()
    records, started = [], None
    while True:
        try:
            line = worker.lines.get(timeout=deadline + KILL_AFTER)
        except queue.Empty:
            line = None
        if not line:
            problem = "over deadline: killed by the parent (stuck in C)"
            records.append({"index": index, "call": started or "(worker start)", "role": "?",
                            "status": "over deadline", "problem": problem})  # fmt: skip
            worker.kill()
            return records
        record = json.loads(line)
        if record.get("done"):
            return records
        if "start" in record:
            started = record["start"]
        else:
            records.append(record)


def fuzz(only: str | None, valid: int, workers: int = 2) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from promise.table import TABLE

    todo = [i for i, e in enumerate(TABLE) if only is None or only in e.name]
    jobs: queue.Queue[int] = queue.Queue()
    for index in todo:
        jobs.put(index)
    results: list[dict] = []
    lock = threading.Lock()

    def drive():
        worker = Worker(valid)
        while True:
            try:
                index = jobs.get_nowait()
            except queue.Empty:
                break
            found = run_entry(worker, index, TABLE[index].deadline)
            with lock:
                results.extend(found)
                done = len({r["index"] for r in results})
            print(f"\r{done}/{len(todo)} entries", end="", file=sys.stderr, flush=True)
        worker.process.stdin.close()
        worker.process.wait()

    start = time.perf_counter()
    threads = [threading.Thread(target=drive) for _ in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(file=sys.stderr)
    return summarise(TABLE, todo, results, time.perf_counter() - start)


def summarise(table, todo, results, seconds) -> dict:
    calls = [r for r in results if "call" in r]
    missing = sorted({table[r["index"]].name for r in results if "missing" in r})
    broken = [r for r in calls if r.get("problem")]
    kinds = Counter(_kind_of(r["problem"]) for r in broken)
    callables = {table[i].name for i in todo} - set(missing)
    broken_callables = {table[r["index"]].name for r in broken}
    by_kind_callables = {
        kind: len({table[r["index"]].name for r in broken if _kind_of(r["problem"]) == kind})
        for kind in kinds
    }
    slowest = sorted(calls, key=lambda r: -r.get("seconds", 0))[:10]
    return {
        "callables": len(callables),
        "entries": len(todo),
        "calls": len(calls),
        "broken_calls": len(broken),
        "broken_callables": len(broken_callables),
        "problems": dict(kinds),
        "problem_callables": by_kind_callables,
        "statuses": dict(Counter(r["status"] for r in calls)),
        "missing": missing,
        "seconds": round(seconds, 1),
        "slowest": [{"call": r["call"], "seconds": r.get("seconds")} for r in slowest],
        "broken": [{"call": r["call"], "problem": r["problem"][:300]} for r in broken],
    }


def report(summary: dict) -> str:
    lines = [
        f"{summary['callables']} callables ({summary['entries']} entries), "
        f"{summary['calls']} calls in {summary['seconds']} s",
        f"broke the promise: {summary['broken_callables']} callables, "
        f"{summary['broken_calls']} calls",
    ]
    for kind, count in sorted(summary["problems"].items()):
        lines.append(f"  {kind}: {count} calls in {summary['problem_callables'][kind]} callables")
    if summary["missing"]:
        lines.append(f"not in this checkout: {len(summary['missing'])} callables")
    for item in summary["broken"][:40]:
        lines.append(f"  {item['call']}: {item['problem'][:160]}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--valid", type=int, default=20, help="valid draws per entry")
    parser.add_argument("--only", help="fuzz only entries whose name contains this")
    parser.add_argument("--output", type=Path, help="write the counts as JSON here")
    parser.add_argument("--budget", help="memory budget for the calls (default: attnviz's own)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.valid)
        return 0
    if args.output and not args.output.parent.is_dir():
        parser.error(f"--output: no such directory: {args.output.parent}")
    if args.budget:
        os.environ["ATTNVIZ_MEMORY_BUDGET"] = args.budget  # read by each worker at import
    summary = fuzz(args.only, args.valid, args.workers)
    print(report(summary))
    if args.output:
        args.output.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
