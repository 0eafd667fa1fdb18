"""jupyter-server-proxy's configuration: registered, and it really serves behind the prefix.

The test fills in ``{port}`` and ``{base_url}`` as jupyter-server-proxy does, starts
the command, and requests what a Binder user's browser would: the index at
``<base_url>attnviz/``, a dashboard, and its scripts. (tests/test_binder.py goes
through a real Jupyter server with jupyter-server-proxy, in a fresh environment.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from bokeh_handshake import bokeh_handshake

from attnviz.binder_proxy import setup_attnviz
from attnviz.serve import free_port

REPO = Path(__file__).resolve().parents[1]
BASE_URL = "/user/test/"  # a Jupyter server's base_url always ends in "/"
START_TIMEOUT = 90  # seconds for the server to answer (it imports torch and Panel)


def _fill(value, port: int, base_url: str):
    """Substitute templates the way jupyter-server-proxy does (str.format)."""
    if isinstance(value, str):
        return value.format(port=port, base_url=base_url, unix_socket="")
    if isinstance(value, list):
        return [_fill(item, port, base_url) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, port, base_url) for key, item in value.items()}
    return value


def test_entry_point_is_registered():
    (entry,) = [
        ep for ep in entry_points(group="jupyter_serverproxy_servers") if ep.name == "attnviz"
    ]
    assert entry.value == "attnviz.binder_proxy:setup_attnviz"
    assert entry.load() is setup_attnviz


def test_config_shape():
    config = setup_attnviz()
    command = config["command"]
    assert all(isinstance(part, str) for part in command)
    assert command[:5] == [sys.executable, "-P", "-m", "attnviz", "serve"]
    assert command[command.index("--port") + 1] == "{port}"
    assert command[command.index("--prefix") + 1] == "{base_url}attnviz"
    assert command[command.index("--allow-websocket-origin") + 1] == "*"
    assert config["absolute_url"] is True  # the server sees the full, prefixed path
    assert config["timeout"] >= 30
    assert config["launcher_entry"]["title"] == "attnviz dashboards"
    assert config["launcher_entry"]["path_info"] == "attnviz/"
    # the command parses as `attnviz serve` arguments
    from attnviz.cli import build_parser

    args = build_parser().parse_args(_fill(command, 5006, BASE_URL)[4:])
    assert (args.command, args.port, args.prefix) == ("serve", 5006, "/user/test/attnviz")
    assert args.allow_websocket_origin == ["*"]
    assert args.num_procs == 1  # one user per server: no process per core


def test_jupyter_server_proxy_accepts_the_config():
    config_module = pytest.importorskip("jupyter_server_proxy.config")
    process = config_module.ServerProcess(name="attnviz", **setup_attnviz())
    assert process.absolute_url is True
    assert process.timeout == setup_attnviz()["timeout"]
    assert process.launcher_entry.title == "attnviz dashboards"
    assert process.launcher_entry.path_info == "attnviz/"


def _get(url: str, timeout: float = 30) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.fixture
def proxied_server(tmp_path):
    """The proxy's command, started as jupyter-server-proxy would; stopped at the end.

    It starts in a folder holding a decoy ``attnviz`` package, as on Binder, where the
    Jupyter server's working directory is a checkout whose ``attnviz/`` source folder
    lacks ``attnviz.kernels``: the command must import the installed attnviz.
    """
    decoy = tmp_path / "attnviz"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('imported attnviz from the cwd')\n")
    port = free_port()
    command = _fill(setup_attnviz()["command"], port, BASE_URL)
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so it can be stopped whole
    )
    root = f"http://127.0.0.1:{port}{BASE_URL}attnviz/"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"attnviz serve exited early:\n{process.stdout.read().decode()}")
            try:
                status, _ = _get(root, timeout=5)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{root} did not answer within {START_TIMEOUT} s")
            time.sleep(0.3)
        yield root
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
        process.stdout.close()


def test_command_serves_the_index_and_dashboards_behind_the_prefix(proxied_server):
    from attnviz.dashboards import entries

    root = proxied_server
    status, index = _get(root)
    assert status == 200
    assert "<title>attnviz · lessons</title>" in index
    links = re.findall(r'<a href="([^"]+)" id="link-', index)
    slugs = [entry.slug for entry in entries()]
    assert "soft_lookup" in slugs
    assert links == [f"{BASE_URL}attnviz/{slug}" for slug in slugs]

    status, page = _get(root + "soft_lookup", timeout=60)
    assert status == 200
    assert "bokeh" in page.lower()
    # Scripts are named relative to the page, so they resolve under the prefix too.
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', page)
    assert scripts, "the dashboard page loads no scripts"
    for src in scripts:
        url = urllib.parse.urljoin(root + "soft_lookup", src)
        assert urllib.parse.urlsplit(url).path.startswith(f"{BASE_URL}attnviz/"), src
        assert _get(url)[0] == 200, url

    # The live session: the websocket answers under the prefix, from a foreign origin
    # (a Binder page's origin is the public hub host, which the server cannot know).
    ws_url = root.replace("http://", "ws://") + "soft_lookup/ws"
    assert bokeh_handshake(ws_url, page, {"Origin": "https://hub.example.org"}) == "ACK"

    # Nothing is served outside the prefix: the proxy forwards only <base_url>attnviz/...
    assert _get(root.replace(f"{BASE_URL}attnviz/", "/"))[0] == 404
