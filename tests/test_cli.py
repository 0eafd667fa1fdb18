"""The attnviz command: one-line errors with status 2, and each subcommand really runs."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from offline import external_loads, external_urls

from attnviz.cli import find_lessons, main
from attnviz.serve import free_port

ATTNVIZ = [sys.executable, "-m", "attnviz"]


def _run(*args, timeout=60):
    return subprocess.run(
        [*ATTNVIZ, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--port", "99999"], "port must be an integer in [0, 65535], got 99999"),
        (["serve", "--port", "http"], "port must be an integer in [0, 65535], got 'http'"),
        (["serve", "--address", "my-laptop"], "address must be an IP address"),
        (["serve", "--dashboard", "nope"], "unknown dashboard 'nope'"),
        (["serve", "--num-procs", "0"], "num-procs must be an integer in [1, 256], got '0'"),
        (["serve", "--num-procs", "two"], "num-procs must be an integer in [1, 256]"),
        (["serve", "--colour"], "unrecognized arguments: --colour"),
        (["bench", "--n", "1"], "n must be an integer in [2, 10000]"),
        (["serve", "--address", "224.0.0.1"], "--address: address must be an interface address"),
        (["serve", "--address", "255.255.255.255"], "the broadcast address"),
        (["serve", "--prefix", "attnviz"], "--prefix: prefix must be empty or a URL path"),
        (["serve", "--allow-websocket-origin", ""], "--allow-websocket-origin: allow-websocket"),
        (["bench", "--output", "/nonexistent_dir/x.json"], "--output: the folder"),
        (["teach"], "invalid choice: 'teach'"),
        ([], "the following arguments are required: command"),
    ],
)
def test_bad_arguments_print_one_line_and_exit_2(args, message):
    result = _run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_version_and_help():
    assert _run("--version").stdout.startswith("attnviz 0.")
    for command in ("serve", "lab", "bench"):
        assert command in _run("--help").stdout
        assert _run(command, "--help").returncode == 0


def test_serve_on_a_busy_port_says_so_in_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run("serve", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@contextlib.contextmanager
def _background(*args, tmp_path):
    """``attnviz *args`` in its own process group, output in a file; the group ends after."""
    log = open(tmp_path / "output.log", "w+")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [*ATTNVIZ, *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # JupyterLab starts kernels and helpers: end them all
    )
    process.log_path = tmp_path / "output.log"
    try:
        yield process
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=20)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


def _wait_for(url, process, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.log_path.read_text(errors="replace")[-4000:]
            raise AssertionError(f"process exited early ({process.returncode}): {output}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_serve_shows_an_offline_index_of_every_dashboard(tmp_path):
    from attnviz.dashboards import entries

    port = free_port()
    with _background("serve", "--port", str(port), tmp_path=tmp_path) as server:
        page = _wait_for(f"http://127.0.0.1:{port}/", server)
        for entry in entries():
            assert f'href="/{entry.slug}"' in page
            assert entry.title.replace("·", "&#183;") in page or entry.title in page
        assert not external_urls(page)  # no web fonts, no logo, no script from elsewhere
        app = _wait_for(f"http://127.0.0.1:{port}/soft_lookup", server)
        assert "01 · Attention is a soft lookup" in app or "soft_lookup" in app
        assert not external_loads(app)  # BokehJS and Panel come from this server


def test_lab_opens_jupyterlab_on_the_lessons(tmp_path):
    port = free_port()
    lessons = find_lessons()
    assert lessons is not None and lessons.name == "lessons"
    with _background(
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.token=",
        "--ServerApp.password=",
        f"--ServerApp.runtime_dir={tmp_path}",
        tmp_path=tmp_path,
    ) as lab:
        listing = json.loads(_wait_for(f"http://127.0.0.1:{port}/api/contents", lab))
        names = {item["name"] for item in listing["content"]}
        assert {p.name for p in lessons.glob("*.ipynb")} <= names
        assert _wait_for(f"http://127.0.0.1:{port}/lab", lab)


@pytest.mark.parametrize(
    ("given", "expected"), [(None, "jupyterlab"), ("ipywidgets", "ipywidgets")]
)
def test_lab_tells_its_kernels_they_run_in_jupyterlab(monkeypatch, given, expected):
    """Started from VS Code's terminal, the kernels inherit VSCODE_PID; attnviz.notebook()
    must still take JupyterLab's path there, unless the user chose another."""
    monkeypatch.setenv("VSCODE_PID", "4242")
    if given is None:
        monkeypatch.delenv("ATTNVIZ_FRONTEND", raising=False)
    else:
        monkeypatch.setenv("ATTNVIZ_FRONTEND", given)
    started = []
    monkeypatch.setattr(
        "attnviz.cli.subprocess.call", lambda command, env: started.append(env) or 0
    )
    assert main(["lab", "--no-browser"]) == 0
    (env,) = started
    assert env["ATTNVIZ_FRONTEND"] == expected and env["VSCODE_PID"] == "4242"


def test_lab_without_a_lessons_folder_exits_2(tmp_path, capsys):
    assert main(["lab", "--dir", str(tmp_path / "missing")]) == 2
    assert "no lessons folder at" in capsys.readouterr().err


def test_bench_json_rows(tmp_path):
    out = tmp_path / "bench.json"
    result = _run(
        "bench", "--json", "--n", "3", "--skip-targets", "--output", str(out), timeout=300
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert json.loads(out.read_text()) == rows
    base = ("control", "dashboard", "met", "n", "p50_ms", "p95_ms", "target_ms")
    for row in rows:  # session rows add what one session sends, tab rows its models
        extra = {"session": {"models", "kilobytes"}, "open tab": {"models"}}
        kind = next((k for k in extra if row["control"].startswith(f"({k}")), None)
        assert set(row) == set(base) | extra.get(kind, set()), row
    sessions = [row for row in rows if row["control"].startswith("(session")]
    assert len(sessions) == len({row["dashboard"] for row in rows})  # one per dashboard
    controls = {row["control"] for row in rows if row["dashboard"] == "soft_lookup"}
    assert {"kernel", "bandwidth", "query", "d_k", "temperature", "scaled"} <= controls


def test_bench_refuses_an_unwritable_output_before_running(tmp_path, capsys, monkeypatch):
    import attnviz.bench

    def must_not_run(*args, **kwargs):
        raise AssertionError("bench ran before its --output was checked")

    monkeypatch.setattr(attnviz.bench, "bench", must_not_run)
    for output in (tmp_path / "missing" / "x.json", tmp_path):
        with pytest.raises(SystemExit) as exit_info:
            main(["bench", "--output", str(output)])
        assert exit_info.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "--output" in lines[0]


def test_a_bad_memory_budget_is_one_line_and_status_2():
    import os
    import subprocess
    import sys

    env = {**os.environ, "ATTNVIZ_MEMORY_BUDGET": "junk"}
    done = subprocess.run(
        [sys.executable, "-m", "attnviz", "serve", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=120, cwd="/tmp",
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "ATTNVIZ_MEMORY_BUDGET must be a number of bytes or a size like '2GB'" in done.stderr
