"""Binder, simulated offline: build the environment as repo2docker would, then use it.

mybinder.org (repo2docker) copies the repository into the image, runs
``pip install -r binder/requirements.txt`` from the repository root, then
``binder/postBuild``, and starts JupyterLab with jupyter-server-proxy. This test
does the same in a fresh virtual environment, from a copy of the checkout, and then:

- executes lesson 01 with the environment's own kernel, expecting no error;
- checks ``attnviz --help``, that ``attnviz.kernels`` imports and a top-level
  ``kernels`` does not (it would shadow the package transformers imports);
- starts JupyterLab under base_url ``/user/test/``, as a Binder server has, and
  fetches the two launch links' targets: ``?urlpath=attnviz/`` (the served index,
  through jupyter-server-proxy) and ``?urlpath=lab/tree/lessons/00_start_here.ipynb``.

One deliberate difference: binder/requirements.txt names the PyTorch CPU index
(``--extra-index-url https://download.pytorch.org/whl/cpu``), which this machine
cannot reach; pip would retry it for minutes. The test drops every line naming
that host, so ``torch==2.13.0+cpu`` comes from this machine's local CPU wheel
(pip's configured find-links) instead. Everything else installs as written.

The pip cache is used (repo2docker passes --no-cache-dir) and nothing is
byte-compiled at install time (--no-compile), to keep the run short; run with
``-s`` to see how long each step took. Every step has a time limit,
and every server is stopped with its whole process group.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from bokeh_handshake import bokeh_handshake

from attnviz.serve import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
LESSON = Path("lessons") / "01_attention_is_lookup.ipynb"
START_LESSON = Path("lessons") / "00_start_here.ipynb"  # the JupyterLab launch link's target
UNREACHABLE_INDEX = "download.pytorch.org"
BASE_URL = "/user/test/"
TOKEN = "binder-test-token"
INSTALL_TIMEOUT = 1200  # seconds; the first run downloads JupyterLab, Panel, Bokeh ...
STEP_TIMEOUT = 300
CELL_TIMEOUT = 300
SERVER_START_TIMEOUT = 120
SKIP_PARTS = {".git", "__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache"}

# Runs inside the Binder environment: execute a notebook from its own folder with
# the "python3" kernel of that environment, and report where the kernel ran.
EXECUTE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import nbclient, nbformat

    path = Path(sys.argv[1])
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import sys, attnviz; print(sys.prefix); print(attnviz.__file__)"))
    client = nbclient.NotebookClient(
        notebook, timeout=int(sys.argv[2]), kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    last = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    print(json.dumps({"errors": errors, "last": last.split()}))
    """
)


def _copy_checkout(target: Path) -> None:
    """The files repo2docker would see: tracked and untracked-but-not-ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file() and not SKIP_PARTS.intersection(Path(name).parts):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _offline_requirements(text: str) -> str:
    """binder/requirements.txt less the lines naming the unreachable PyTorch index."""
    kept = [line for line in text.splitlines() if UNREACHABLE_INDEX not in line]
    assert len(kept) < len(text.splitlines()), "requirements.txt no longer names the CPU index"
    return "\n".join(kept) + "\n"


def _run(command, *, env, cwd, timeout=STEP_TIMEOUT, check=True):
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, command))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


def _get(url: str, timeout: float = 30) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def binder(tmp_path_factory):
    """A repository copy and a venv built from it as repo2docker would; with timings."""
    started = time.monotonic()
    root = tmp_path_factory.mktemp("binder")
    repo, venv, home = root / "repo", root / "venv", root / "jupyter"
    repo.mkdir()
    home.mkdir()
    _copy_checkout(repo)
    requirements = repo / "binder" / "requirements.txt"
    requirements.write_text(_offline_requirements(requirements.read_text(encoding="utf-8")))

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")
        and not key.startswith("JUPYTER")
    }
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        # keep the host's Jupyter config, kernels and runtime files out of it
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    timings = {}

    mark = time.monotonic()
    _run([sys.executable, "-m", "venv", venv], env=env, cwd=root, timeout=120)
    timings["venv"] = time.monotonic() - mark

    mark = time.monotonic()
    python = venv / "bin" / "python"
    _run(
        [python, "-m", "pip", "install", "--no-compile", "--progress-bar", "off"]
        + ["-r", "binder/requirements.txt"],
        env=env,
        cwd=repo,  # as repo2docker: from the repository root
        timeout=INSTALL_TIMEOUT,
    )
    timings["pip install -r binder/requirements.txt"] = time.monotonic() - mark

    mark = time.monotonic()
    post_build = repo / "binder" / "postBuild"
    if post_build.exists():
        _run(["bash", post_build], env=env, cwd=repo)
    timings["binder/postBuild"] = time.monotonic() - mark

    yield {"repo": repo, "venv": venv, "python": python, "env": env, "timings": timings}
    timings["total"] = time.monotonic() - started
    print("\nBinder simulation timings (s): " + json.dumps(timings, default=round))
    shutil.rmtree(root, ignore_errors=True)  # about 1 GB, mostly torch


def test_requirements_pin_cpu_torch_and_install_the_project():
    lines = [
        line.strip()
        for line in (REPO / "binder" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert [line for line in lines if re.match(r"torch\b", line)] == ["torch==2.13.0+cpu"]
    assert "-e ." in lines  # the project itself, from the repository root
    assert any(line.startswith("jupyter-server-proxy") for line in lines)
    runtime = (REPO / "binder" / "runtime.txt").read_text().strip()
    assert runtime == "python-3.11"  # pyproject requires >= 3.11; Binder's default is older
    post_build = REPO / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "repo2docker runs postBuild only if it is executable"
    assert post_build.read_text().startswith("#!")


def test_lesson_runs_without_errors(binder):
    notebook = binder["repo"] / LESSON
    assert notebook.exists(), f"{LESSON} is missing"
    mark = time.monotonic()
    result = _run(
        [binder["python"], "-c", EXECUTE, notebook, CELL_TIMEOUT],
        env=binder["env"],
        cwd=notebook.parent,
        timeout=900,
    )
    binder["timings"][f"execute {LESSON.name}"] = time.monotonic() - mark
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    prefix, module = report["last"]
    # the kernel is the Binder environment's, and attnviz is the (editable) installed one
    assert Path(prefix).resolve() == binder["venv"].resolve()
    assert Path(module).resolve() == (binder["repo"] / "attnviz" / "__init__.py").resolve()


def test_command_and_imports(binder, tmp_path):
    env, venv = binder["env"], binder["venv"]
    help_text = _run([venv / "bin" / "attnviz", "--help"], env=env, cwd=tmp_path).stdout
    assert "serve" in help_text
    # from a folder outside the checkout, so only what was installed can be imported
    _run([binder["python"], "-c", "import attnviz.kernels.softmax"], env=env, cwd=tmp_path)
    shadow = _run([binder["python"], "-c", "import kernels"], env=env, cwd=tmp_path, check=False)
    assert shadow.returncode != 0
    assert "ModuleNotFoundError: No module named 'kernels'" in shadow.stderr
    # Binder's home is the checkout: there ./attnviz comes first on sys.path, and
    # attnviz.kernels must still resolve (attnviz/kernels.py points it at kernels/).
    _run([binder["python"], "-c", "import attnviz.lookup"], env=env, cwd=binder["repo"])
    _run([binder["python"], "-m", "attnviz", "--version"], env=env, cwd=binder["repo"])


@pytest.fixture(scope="module")
def jupyterlab(binder):
    """JupyterLab from the Binder environment, under a Binder-like base_url."""
    port = free_port()
    command = [binder["python"], "-m", "jupyter", "lab", "--no-browser"]
    command += [
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--ServerApp.base_url={BASE_URL}",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={binder['repo']}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(binder["venv"].parent / "jupyterlab.log", "w+")  # noqa: SIM115
    process = subprocess.Popen(
        [str(part) for part in command],
        cwd=binder["repo"],
        env=binder["env"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    root = f"http://127.0.0.1:{port}{BASE_URL}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"JupyterLab exited early:\n{log.read()[-6000:]}")
            try:
                if _get(root + "api/status", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s")
            time.sleep(0.5)
        yield root, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # also stops the proxied attnviz serve
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)
        log.close()


def test_lab_launch_link_opens_start_here(jupyterlab):
    """?urlpath=lab/tree/lessons/00_start_here.ipynb"""
    root, _ = jupyterlab
    status, _ = _get(root + "api/contents/" + START_LESSON.as_posix() + "?content=0")
    assert status == 200, f"{START_LESSON} is missing"
    assert _get(root + "lab/tree/" + START_LESSON.as_posix())[0] == 200


def test_dashboard_launch_link_serves_the_index_through_the_proxy(binder, jupyterlab):
    """?urlpath=attnviz/ : the first request starts `attnviz serve` behind the proxy."""
    root, log = jupyterlab
    mark = time.monotonic()

    # JupyterLab's launcher lists the dashboards
    status, body = _get(root + "server-proxy/servers-info")
    assert status == 200, body
    servers = json.loads(body)["server_processes"]
    (server,) = [item for item in servers if item["name"] == "attnviz"]
    assert server["launcher_entry"]["title"] == "attnviz dashboards"

    try:
        status, index = _get(root + "attnviz/", timeout=120)
    except OSError as error:
        log.seek(0)
        pytest.fail(f"proxy request failed: {error}\n{log.read()[-6000:]}")
    if status != 200:
        log.seek(0)
        pytest.fail(f"GET attnviz/ answered {status}\n{index[-2000:]}\n{log.read()[-6000:]}")
    assert "<title>attnviz · lessons</title>" in index
    links = re.findall(r'<a href="([^"]+)" id="link-', index)
    assert f"{BASE_URL}attnviz/soft_lookup" in links
    for link in links:
        status, page = _get(urllib.parse.urljoin(root, link), timeout=60)
        assert status == 200, link
        assert "bokeh" in page.lower()
        # the live session's websocket, through the proxy, as a browser on the page opens it
        url = urllib.parse.urljoin(root, link + "/ws").replace("http://", "ws://")
        origin = "/".join(root.split("/")[:3])  # the Jupyter server's own origin
        headers = {"Origin": origin, "Authorization": f"token {TOKEN}"}
        assert bokeh_handshake(url, page, headers) == "ACK", link
    binder["timings"]["proxied index and dashboards"] = time.monotonic() - mark
