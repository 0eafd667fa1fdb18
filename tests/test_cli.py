"""The attnviz command: one-line errors with status 2, and each subcommand really runs."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

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
        (["serve", "--colour"], "unrecognized arguments: --colour"),
        (["bench", "--n", "1"], "n must be an integer in [2, 10000]"),
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


def _wait_for(url, process, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited early: {process.communicate()[0]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_serve_shows_an_offline_index_of_every_dashboard():
    from attnviz.dashboards import entries

    port = free_port()
    server = subprocess.Popen(
        [*ATTNVIZ, "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = _wait_for(f"http://127.0.0.1:{port}/", server)
        for entry in entries():
            assert f'href="/{entry.slug}"' in page
            assert entry.title.replace("·", "&#183;") in page or entry.title in page
        assert "https://" not in page and "http://" not in page  # no CDN, no web fonts
        app = _wait_for(f"http://127.0.0.1:{port}/soft_lookup", server)
        assert "01 · Attention is a soft lookup" in app or "soft_lookup" in app
        assert "cdn.bokeh.org" not in app and "cdn.holoviz.org" not in app
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_lab_opens_jupyterlab_on_the_lessons(tmp_path):
    port = free_port()
    lessons = find_lessons()
    assert lessons is not None and lessons.name == "lessons"
    lab = subprocess.Popen(
        [
            *ATTNVIZ,
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.token=",
            "--ServerApp.password=",
            f"--ServerApp.runtime_dir={tmp_path}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        listing = json.loads(_wait_for(f"http://127.0.0.1:{port}/api/contents", lab))
        names = {item["name"] for item in listing["content"]}
        assert {p.name for p in lessons.glob("*.ipynb")} <= names
        assert _wait_for(f"http://127.0.0.1:{port}/lab", lab)
    finally:
        lab.terminate()
        lab.wait(timeout=30)


def test_lab_without_a_lessons_folder_exits_2(tmp_path, capsys):
    assert main(["lab", "--dir", str(tmp_path / "missing")]) == 2
    assert "no lessons folder at" in capsys.readouterr().err


def test_bench_json_rows(tmp_path):
    out = tmp_path / "bench.json"
    result = _run("bench", "--json", "--n", "3", "--output", str(out), timeout=300)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert json.loads(out.read_text()) == rows
    assert {tuple(sorted(row)) for row in rows} == {
        ("control", "dashboard", "n", "p50_ms", "p95_ms")
    }
    controls = {row["control"] for row in rows if row["dashboard"] == "soft_lookup"}
    assert {"kernel", "bandwidth", "query", "d_k", "temperature", "scaled"} <= controls
