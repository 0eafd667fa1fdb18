"""``attnviz bench --classroom N``: a classroom of simulated students on the real server.

The run: start ``python -m attnviz serve`` on a free loopback port (its own process
group, ended at the end whatever happens), wait for its index page, read its idle
memory; then N students (``attnviz.student``) arrive at uniformly random times within
``arrival_seconds``, round-robin over the dashboards, each opening a session as a
browser tab does and then moving a control every 0.5–1.5 s for ``classroom_seconds``.
The moves are ones that redraw something (``attnviz.moves`` learns which, in-process,
before the server starts serving). After every student has closed its websocket, the
server is left alone for ``settle_seconds`` and its memory read again.

The server's memory and CPU time come from /proc (its process and every descendant,
for a server that forks workers). The students share the machine's cores with the
server, so the server's own CPU time per session opened is reported beside the
wall-clock figures. Targets are reported, never enforced by the exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np

from attnviz.student import OPEN_TIMEOUT_S, Student
from attnviz.validation import check_int, check_real

MAX_STUDENTS = 200
PROBLEM = re.compile(r"ERROR|WARNING|Traceback|Exception|Error:")  # in the server's output
SAMPLE_EVERY_S = 0.5
START_TIMEOUT_S = 180.0
#: issue #13: 50 students arriving within 10 s
TARGET_STUDENTS, TARGET_ARRIVAL_S = 50, 10.0
TARGET_OPEN_P95_S = 5.0
TARGET_ANSWER_P95_MS = 250.0
TARGET_AFTER_OVER_IDLE = 1.1


# -- the server process ------------------------------------------------------------------


class ServerProcess:
    """``python -m attnviz serve`` on 127.0.0.1:``port`` in its own process group."""

    def __init__(self, port: int, serve_args: list[str]):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="attnviz-classroom-serve-", suffix=".log", delete=False
        )
        command = [sys.executable, "-m", "attnviz", "serve", "--port", str(port)]
        command += ["--address", "127.0.0.1", *serve_args]
        self.command = command
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def log_tail(self, lines: int = 20) -> str:
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Return once ``/`` answers 200; RuntimeError if the server exits or never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited ({self.process.returncode}) before answering:\n"
                    + self.log_tail()
                )
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url + "/", timeout=5) as response:
                    if response.status == 200:
                        return
            time.sleep(0.5)
        raise RuntimeError(f"the server did not answer {self.url}/ within {timeout:.0f} s")

    def pids(self) -> list[int]:
        """The server's process and all its descendants, alive now."""
        return [self.process.pid, *_descendants(self.process.pid)]

    def rss_mb(self) -> float:
        """Resident memory of the server and its descendants, MiB."""
        return sum(_rss_kb(pid) for pid in self.pids()) / 1024.0

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server, its live descendants, and the reaped."""
        total = sum(_cpu_ticks(pid)[0] for pid in self.pids())
        total += _cpu_ticks(self.process.pid)[1]
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> str:
        """End the whole process group: SIGTERM, then SIGKILL if it lingers; its output."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        self._log.close()
        output = Path(self._log.name).read_text(errors="replace")
        with contextlib.suppress(OSError):
            os.unlink(self._log.name)
        return output


def _stat_fields(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text.rsplit(")", 1)[1].split()  # fields after the command name


def _cpu_ticks(pid: int) -> tuple[int, int]:
    """(utime + stime, cutime + cstime) in clock ticks; zeros for a process gone."""
    fields = _stat_fields(pid)
    if len(fields) < 15:
        return 0, 0
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if len(fields) > 1:
                parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


# -- the run ---------------------------------------------------------------------------------


def _percentile(samples, q: float) -> float | None:
    return round(float(np.percentile(np.asarray(samples), q)), 3) if len(samples) else None


def run_classroom(
    students: int,
    *,
    classroom_seconds: float = 60.0,
    arrival_seconds: float = 10.0,
    settle_seconds: float = 60.0,
    serve_args: list[str] | None = None,
    slugs: list[str] | None = None,
    seed: int = 0,
    log=None,
) -> dict:
    """Run a classroom against a fresh server; the report (see ``format_report``)."""
    from attnviz.dashboards import entries, get
    from attnviz.moves import Control, move_plan
    from attnviz.serve import free_port

    students = check_int("students", students, low=1, high=MAX_STUDENTS)
    classroom_seconds = check_real("classroom_seconds", classroom_seconds, low=0, low_open=True)
    arrival_seconds = check_real("arrival_seconds", arrival_seconds, low=0)
    settle_seconds = check_real("settle_seconds", settle_seconds, low=0)
    if slugs is not None:
        slugs = [get(slug).slug for slug in slugs] or None  # unknown: ValueError
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    chosen = slugs or [entry.slug for entry in entries()]
    seats = [chosen[i % len(chosen)] for i in range(students)]
    used = list(dict.fromkeys(seats))
    serve_args = list(serve_args or [])
    started, load_before = time.monotonic(), os.getloadavg()

    server = ServerProcess(free_port(), serve_args)
    output = ""
    try:
        log(f"classroom: server starting ({' '.join(server.command[1:])}); learning the moves")
        plan = move_plan(used, seed=seed)  # in this process, while the server starts
        controls = {slug: [Control.from_json(c) for c in plan[slug]["controls"]] for slug in used}
        server.wait_ready()
        time.sleep(2.0)  # let the start-up's last allocations land
        idle = server.rss_mb()
        log(
            f"classroom: server up, {idle:.0f} MB idle; {students} students arrive within "
            f"{arrival_seconds:g} s, then move controls for {classroom_seconds:g} s"
        )
        run = asyncio.run(
            _classroom(server, seats, controls, classroom_seconds, arrival_seconds, seed)
        )
        log(f"classroom: every student gone; settling {settle_seconds:g} s")
        time.sleep(settle_seconds)
        after = server.rss_mb()
    finally:
        output = server.stop()
    report = _report(
        run,
        plan=plan,
        idle=idle,
        after=after,
        config={
            "students": students,
            "arrival_seconds": arrival_seconds,
            "classroom_seconds": classroom_seconds,
            "settle_seconds": settle_seconds,
            "serve_args": serve_args,
            "dashboards": chosen,
            "seed": seed,
        },
    )
    report["machine"]["load_average_at_start"] = [round(x, 2) for x in load_before]
    problems = Counter(
        re.sub(r"\bp\d+\b|^[\d\- :,]+|0x[0-9a-f]+|Task-\d+", "…", line)[:300]
        for line in output.splitlines()
        if PROBLEM.search(line)
    )
    report["server_log_problems"] = {
        "lines": sum(problems.values()),
        "distinct": [{"line": line, "times": n} for line, n in problems.most_common(30)],
    }
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    return report


async def _classroom(server, seats, controls, classroom_seconds, arrival_seconds, seed) -> dict:
    from tornado.httpclient import AsyncHTTPClient

    # every student's GET goes out at once, as from separate browsers (default: 10 at a time)
    AsyncHTTPClient.configure(None, max_clients=len(seats) + 10)
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0.0, arrival_seconds) for _ in seats)
    students = [
        Student(i, slug, controls[slug], server.url, random.Random(f"{seed}:{i}"))
        for i, slug in enumerate(seats)
    ]
    peak = {"rss": server.rss_mb(), "processes": len(server.pids())}
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak["rss"] = max(peak["rss"], server.rss_mb())
            peak["processes"] = max(peak["processes"], len(server.pids()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), SAMPLE_EVERY_S)

    opened = 0
    all_open = asyncio.Event()
    marks: dict[str, float] = {}

    async def attend(student: Student, delay: float) -> None:
        nonlocal opened
        await asyncio.sleep(delay)
        try:
            success = await student.open()
        finally:
            opened += 1
            if opened == len(students):
                marks["open_cpu"], marks["open_at"] = server.cpu_seconds(), time.monotonic()
                all_open.set()
        if success:
            await student.move_for(classroom_seconds)
        await student.close()

    sampler = asyncio.create_task(sample())
    client_cpu, cpu, t0 = time.process_time(), server.cpu_seconds(), time.monotonic()
    limit = arrival_seconds + OPEN_TIMEOUT_S + classroom_seconds + 60.0
    tasks = [asyncio.create_task(attend(s, d)) for s, d in zip(students, arrivals, strict=True)]
    finished, late = await asyncio.wait(tasks, timeout=limit)
    for task in late:  # never expected: every wait inside has its own timeout
        task.cancel()
    for task in finished:
        if task.exception() is not None:
            students[tasks.index(task)]._error("exception", repr(task.exception()))
    end_cpu, end_at = server.cpu_seconds(), time.monotonic()
    done.set()
    await sampler
    return {
        "students": students,
        "t0": t0,
        "open_at": marks.get("open_at", end_at),
        "end_at": end_at,
        "cpu_start": cpu,
        "cpu_open": marks.get("open_cpu", end_cpu),
        "cpu_end": end_cpu,
        "client_cpu": time.process_time() - client_cpu,
        "peak_rss": peak["rss"],
        "peak_processes": peak["processes"],
        "late": len(late),
    }


def _report(run: dict, *, plan: dict, idle: float, after: float, config: dict) -> dict:
    records = [student.record for student in run["students"]]
    opens = [r.open_seconds for r in records if r.open_seconds is not None]
    pages = [r.page_seconds for r in records if r.page_seconds is not None]
    answers = [ms for r in records for ms in (*r.answers_ms, *r.late_answers_ms)]
    late = sum(len(r.late_answers_ms) for r in records)
    errors = [error for r in records for error in r.errors]
    moves = sum(r.moves for r in records)
    unanswered = sum(r.unanswered for r in records)
    moves_after_open = sum(t >= run["open_at"] for r in records for t in r.move_times)
    cpu_open = run["cpu_open"] - run["cpu_start"]
    cpu_moves = run["cpu_end"] - run["cpu_open"]
    moves_while = moves - moves_after_open
    per_move = cpu_moves / moves_after_open if moves_after_open else 0.0
    report = {
        "config": config,
        "machine": _machine(),
        "sessions": {"students": len(records), "opened": len(opens)},
        "session_open_s": {
            "p50": _percentile(opens, 50),
            "p95": _percentile(opens, 95),
            "max": _percentile(opens, 100),
        },
        "page_s": {"p50": _percentile(pages, 50), "p95": _percentile(pages, 95)},
        "answer_ms": {
            "p50": _percentile(answers, 50),
            "p95": _percentile(answers, 95),
            "max": _percentile(answers, 100),
        },
        "moves": moves,
        "answered": len(answers),
        "unanswered": unanswered,
        "answered_late": late,
        "never_answered": unanswered - late,
        "errors": len(errors),
        "error_kinds": dict(Counter(error.split(":")[0] for error in errors)),
        "error_examples": errors[:10],
        "unanswered_examples": [m for r in records for m in r.unanswered_moves][:10],
        "slowest_answers": _slowest(records, run["t0"]),
        "server": {
            "rss_idle_mb": round(idle, 1),
            "rss_peak_mb": round(max(run["peak_rss"], idle), 1),
            "rss_after_mb": round(after, 1),
            "rss_after_over_idle": round(after / idle, 3) if idle else None,
            "processes_peak": run["peak_processes"],
            "cpu_opening_s": round(cpu_open, 2),
            "cpu_per_session_ms": round(1000.0 * cpu_open / len(opens), 1) if opens else None,
            "moves_while_opening": moves_while,
            "cpu_after_opening_s": round(cpu_moves, 2),
            "cpu_per_move_after_opening_ms": (
                round(1000.0 * per_move, 1) if moves_after_open else None
            ),
            # the opening window's CPU less its moves, each charged what a move cost after
            "cpu_per_session_net_ms": (
                round(1000.0 * max(0.0, cpu_open - per_move * moves_while) / len(opens), 1)
                if opens
                else None
            ),
            "cpu_total_s": round(run["cpu_end"] - run["cpu_start"], 2),
        },
        "client_cpu_s": round(run["client_cpu"], 2),
        "opening_window_s": round(run["open_at"] - run["t0"], 2),
        "run_s": round(run["end_at"] - run["t0"], 2),
        "dashboards": {},
        "moves_plan": {
            slug: {
                "controls": [c["name"] for c in entry["controls"]],
                "left_out": entry["dropped"],
            }
            for slug, entry in plan.items()
        },
    }
    for slug in dict.fromkeys(r.slug for r in records):
        mine = [r for r in records if r.slug == slug]
        slug_opens = [r.open_seconds for r in mine if r.open_seconds is not None]
        slug_answers = [ms for r in mine for ms in (*r.answers_ms, *r.late_answers_ms)]
        slug_pages = [r.page_seconds for r in mine if r.page_seconds is not None]
        report["dashboards"][slug] = {
            "students": len(mine),
            "opened": len(slug_opens),
            "open_p50_s": _percentile(slug_opens, 50),
            "open_p95_s": _percentile(slug_opens, 95),
            "page_p50_s": _percentile(slug_pages, 50),
            "answer_p50_ms": _percentile(slug_answers, 50),
            "answer_p95_ms": _percentile(slug_answers, 95),
            "moves": sum(r.moves for r in mine),
            "unanswered": sum(r.unanswered for r in mine),
            "errors": sum(len(r.errors) for r in mine),
            "moved": dict(sum((r.moved for r in mine), Counter())),
        }
    report["targets"] = _targets(report)
    return report


def _slowest(records, t0: float, count: int = 10) -> list[dict]:
    """The slowest answers, with when their move was sent (seconds after the first arrival):
    answers slow together point at the server, not at one control."""
    timed = [(ms, sent, r.slug, name, value) for r in records for sent, name, value, ms in r.timed]
    return [
        {"sent_s": round(sent - t0, 2), "dashboard": slug, "control": name, "ms": round(ms)}
        | {"value": value if isinstance(value, str | int | float | bool) else str(value)}
        for ms, sent, slug, name, value in sorted(timed, key=lambda row: row[0])[-count:][::-1]
    ]


def _machine() -> dict:
    import bokeh
    import panel

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "panel": panel.__version__,
        "bokeh": bokeh.__version__,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def _targets(report: dict) -> dict:
    """Issue #13's targets, met or not (None: not measured in this run)."""
    config = report["config"]
    rss_ratio = report["server"]["rss_after_over_idle"]
    open_p95 = report["session_open_s"]["p95"]
    answer_p95 = report["answer_ms"]["p95"]
    return {
        "scenario": f"{TARGET_STUDENTS} students arriving within {TARGET_ARRIVAL_S:g} s",
        "scenario_covered": config["students"] >= TARGET_STUDENTS
        and config["arrival_seconds"] <= TARGET_ARRIVAL_S,
        "rows": [
            _target(
                "session open p95 (s)",
                open_p95,
                f"<= {TARGET_OPEN_P95_S:g}",
                None if open_p95 is None else open_p95 <= TARGET_OPEN_P95_S,
            ),
            _target(
                "slider answer p95 (ms)",
                answer_p95,
                f"<= {TARGET_ANSWER_P95_MS:g}",
                None if answer_p95 is None else answer_p95 <= TARGET_ANSWER_P95_MS,
            ),
            _target("errors", report["errors"], "0", report["errors"] == 0),
            _target("unanswered moves", report["unanswered"], "0", report["unanswered"] == 0),
            _target(
                "server RSS after / idle",
                rss_ratio,
                f"<= {TARGET_AFTER_OVER_IDLE:g} + bounded caches (reported)",
                None,
            ),
        ],
    }


def _target(name, value, target, met) -> dict:
    return {"name": name, "value": value, "target": target, "met": met}


# -- the report as text -----------------------------------------------------------------------


def format_report(report: dict) -> str:
    """A human-readable summary of a classroom run."""
    config, server = report["config"], report["server"]
    sessions, opened = report["sessions"], report["session_open_s"]
    answer = report["answer_ms"]
    extra = f", serve {' '.join(config['serve_args'])}" if config["serve_args"] else ""
    lines = [
        f"classroom: {config['students']} students arriving within "
        f"{config['arrival_seconds']:g} s, moving controls for "
        f"{config['classroom_seconds']:g} s{extra}",
        "",
        f"sessions opened   {sessions['opened']} / {sessions['students']}   "
        f"open p50 {_num(opened['p50'], 2)} s   p95 {_num(opened['p95'], 2)} s   "
        f"max {_num(opened['max'], 2)} s   (all open after {report['opening_window_s']:.1f} s)",
        f"                  (page p50 {_num(report['page_s']['p50'], 2)} s, "
        f"p95 {_num(report['page_s']['p95'], 2)} s: GET to the page, the session built)",
        f"slider answers    {report['moves']} moves   p50 {_num(answer['p50'], 0)} ms   "
        f"p95 {_num(answer['p95'], 0)} ms   max {_num(answer['max'], 0)} ms   "
        f"unanswered in 10 s {report['unanswered']} ({report['answered_late']} answered later, "
        f"{report['never_answered']} never)",
        f"errors            {report['errors']}"
        + (f"   {report['error_kinds']}" if report["errors"] else ""),
        f"server RSS        idle {server['rss_idle_mb']:.0f} MB   peak "
        f"{server['rss_peak_mb']:.0f} MB   after {server['rss_after_mb']:.0f} MB "
        f"({config['settle_seconds']:g} s later; "
        f"after/idle {_num(server['rss_after_over_idle'], 2)})"
        f"   processes {server['processes_peak']}",
        f"server CPU        {_num(server['cpu_per_session_ms'], 0)} ms per session opened "
        f"({_num(server['cpu_per_session_net_ms'], 0)} ms less the moves made meanwhile)   "
        f"{_num(server['cpu_per_move_after_opening_ms'], 0)} ms per move after",
        f"                  {server['cpu_opening_s']:.1f} s while sessions opened "
        f"({server['moves_while_opening']} moves), {server['cpu_total_s']:.1f} s in all; "
        f"the students' own CPU {report['client_cpu_s']:.1f} s",
        "",
        f"{'dashboard':<20} {'students':>8} {'open p50 s':>10} {'open p95 s':>10} "
        f"{'answer p95 ms':>13} {'moves':>6} {'unanswered':>10} {'errors':>6}",
    ]
    lines.append("-" * len(lines[-1]))
    for slug, row in report["dashboards"].items():
        lines.append(
            f"{slug:<20} {row['students']:>8} {_num(row['open_p50_s'], 2):>10} "
            f"{_num(row['open_p95_s'], 2):>10} {_num(row['answer_p95_ms'], 0):>13} "
            f"{row['moves']:>6} {row['unanswered']:>10} {row['errors']:>6}"
        )
    targets = report["targets"]
    covered = "" if targets["scenario_covered"] else " (this run is not that scenario)"
    lines += ["", f"targets, for {targets['scenario']}{covered}:"]
    for row in targets["rows"]:
        met = {None: "", True: "met", False: "NOT MET"}[row["met"]]
        lines.append(f"  {row['name']:<26} {_num(row['value'], 3):>10}   {row['target']:<40} {met}")
    for example in report["error_examples"][:3]:
        lines.append(f"  error: {example}")
    for example in report["unanswered_examples"][:3]:
        lines.append(f"  unanswered: {example}")
    return "\n".join(lines)


def _num(value, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
