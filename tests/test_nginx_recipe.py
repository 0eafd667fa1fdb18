"""The recipe for several machines: two ``attnviz serve`` behind Debian's nginx, with the
configuration ``attnviz.deploy`` writes. Through nginx: the index, a dashboard's page,
websocket and document, and each backend's /health. nginx runs in the foreground with
its own files in a temporary folder, on loopback ports only.

``tools/test.sh`` installs nginx (``apt-get install nginx``) when it is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from served import close_sessions, get_page, open_sessions, running, wait_until

from attnviz import deploy
from attnviz.serve import free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    if NGINX is None:
        pytest.fail(
            "this test needs nginx: `sudo apt-get install nginx` (tools/test.sh does it)",
            pytrace=False,
        )
    return NGINX


@contextlib.contextmanager
def nginx_in_front(binary: str, backends: list[str], port: int, **options):
    runtime = tempfile.mkdtemp(prefix="attnviz-nginx-")
    os.chmod(runtime, 0o755)  # run as root, nginx's workers (nobody) use its temp folders
    config = Path(runtime) / "nginx.conf"
    config.write_text(
        deploy.standalone(runtime, backends=backends, listen=f"127.0.0.1:{port}", **options)
    )
    checked = subprocess.run(
        [binary, "-t", "-c", str(config), "-e", "stderr"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(
        [binary, "-c", str(config), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_until(lambda: _status(f"http://127.0.0.1:{port}/health/0") == 200, "nginx", 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGQUIT)  # nginx's graceful stop
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        shutil.rmtree(runtime, ignore_errors=True)


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _health(url: str) -> dict:
    import json

    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def two_backends(front_port: int):
    origin = ("--allow-websocket-origin", f"127.0.0.1:{front_port}")
    only = ("--num-procs", "1", "--dashboard", "soft_lookup", *origin)
    with running(*only) as first, running(*only) as second:
        yield [first, second]


@pytest.mark.parametrize("balance", deploy.BALANCES)
def test_two_backends_behind_nginx(nginx_binary, balance):
    front = free_port()
    with two_backends(front) as backends:
        addresses = [f"127.0.0.1:{backend.port}" for backend in backends]
        with nginx_in_front(nginx_binary, addresses, front, balance=balance) as base:
            index = get_page(base + "/")
            assert 'href="/soft_lookup"' in index
            assert _status(base + "/soft_lookup") == 200
            # each backend's /health, through nginx, by its place in the list
            pids = [_health(f"{base}/health/{i}")["pid"] for i in range(2)]
            assert pids == [backend.process.pid for backend in backends]
            # sessions through nginx: page, websocket (its Origin the page nginx served)
            # and the document pulled, the websocket kept open
            opened = open_sessions(base, "soft_lookup", 4, origin=base)
            try:
                held = [backend.health() for backend in backends]
            finally:
                close_sessions(opened)
    assert sum(report["connected"] for report in held) == 4
    connected = sorted(report["connected"] for report in held)
    if balance == "ip_hash":  # one client address: every session on one backend
        assert connected == [0, 4]
    else:  # the open websockets count: the next session goes to the other backend
        assert connected[0] >= 1, held
    # page and websocket may reach different backends (least_conn): still one build
    # per session, plus at most one page template per backend
    assert 4 <= sum(report["built"] for report in held) <= 6


def test_the_documented_configuration_is_what_the_generator_writes():
    example = deploy.site(
        ["10.0.0.11:5006", "10.0.0.12:5006"], listen="80", prefix="", balance="ip_hash"
    )
    assert (REPO / "docs" / "deploy" / "nginx.conf").read_text() == example


def test_bad_input_is_refused_in_one_line():
    for call, message in (
        (lambda: deploy.site([]), "backends must be a non-empty list"),
        (lambda: deploy.site(["10.0.0.11"]), "backend must be host:port"),
        (lambda: deploy.site(["a:5006"], listen="x"), "listen must be host:port"),
        (lambda: deploy.site(["a:5006"], prefix="/a;b"), "prefix must be ''"),
        (lambda: deploy.site(["a:5006"], balance="random"), "balance must be one of"),
        (lambda: deploy.standalone("tmp", backends=["a:5006"]), "runtime_dir must be"),
    ):
        with pytest.raises(ValueError, match=message):
            call()
    result = subprocess.run(
        [sys.executable, "-m", "attnviz.deploy", "--backend", "nowhere"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "backend must be host:port" in result.stderr
