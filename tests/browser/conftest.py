"""Fixtures for the real-browser tests: Debian's Chromium driven by Playwright,
``attnviz serve`` and JupyterLab, each started as a subprocess on a free port.

Playwright cannot download its own browser here, so the tests launch the
system Chromium (``/usr/bin/chromium``, or ``$ATTNVIZ_CHROMIUM``). Every wait is
bounded; servers are stopped with their whole process group at the end.
A failing test leaves a screenshot of each page it opened in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from attnviz.export import CHROMIUM_ARGS  # headless Chromium, offline

REPO = Path(__file__).resolve().parents[2]
LESSONS = REPO / "lessons"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path(os.environ.get("ATTNVIZ_CHROMIUM", "/usr/bin/chromium"))
VIEWPORT = {"width": 1400, "height": 900}
SERVER_START_TIMEOUT = 60  # seconds until a server must answer HTTP 200
DEFAULT_TIMEOUT_MS = 30_000  # every Playwright action and navigation
EXPECT_TIMEOUT_MS = 15_000  # every expect(...) unless a test says otherwise
# JupyterLab user settings for the test server: no news or update checks (network
# calls and a pop-up), and every cell kept in the DOM (no virtual scrolling) so
# the test can see all of a long lesson's outputs.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def is_local(url: str) -> bool:
    """True for URLs that never leave this machine (localhost, data:, blob:, about:)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome-extension"):
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


# -- servers ----------------------------------------------------------------------------


class Server:
    """A subprocess in its own process group, with its output in a log file."""

    def __init__(self, name: str, command: list[str], *, env=None, cwd=None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            mode="w+b", prefix=f"attnviz-{name}-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group: stop() ends its children too
        )

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")[-6000:]

    def wait_for_http(self, url: str, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Poll ``url`` until it answers 200; fail with the server's output otherwise."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(
                    f"{self.name} exited with status {self.process.returncode} before "
                    f"answering {url}; its output:\n{self.output()}",
                    pytrace=False,
                )
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
                    last = f"HTTP {response.status}"
            except (urllib.error.URLError, OSError) as error:
                last = repr(error)
            time.sleep(0.25)
        output = self.output()
        self.stop()
        pytest.fail(
            f"{self.name} did not answer HTTP 200 on {url} within {timeout:.0f} s "
            f"(last: {last}); its output:\n{output}",
            pytrace=False,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            for sig, grace in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:  # the leader is gone; end any children it left in its group
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not self.log.closed:
            self.log.close()
            Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def served_app():
    """Base URL (no trailing slash) of ``attnviz serve`` on a free local port."""
    port = free_port()
    server = Server(
        "attnviz-serve",
        [sys.executable, "-m", "attnviz", "serve", "--port", str(port), "--address", "127.0.0.1"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        server.wait_for_http(base + "/")
        yield base
    finally:
        server.stop()


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """A throwaway copy of lessons/, so running the notebooks never edits the course."""
    root = tmp_path_factory.mktemp("lessons")
    if LESSONS.is_dir():
        shutil.copytree(
            LESSONS, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
    return root


@pytest.fixture(scope="session")
def jupyterlab(lab_root, tmp_path_factory):
    """Base URL (no trailing slash) of a JupyterLab with no token, serving ``lab_root``.

    Its configuration, settings and workspaces live in a temporary folder, so a
    previous session's open tabs or a user's settings cannot change what the test
    sees, and news / update checks (network calls and pop-ups) are switched off.
    """
    home = tmp_path_factory.mktemp("jupyter")
    settings = home / "user-settings"
    for plugin, values in LAB_SETTINGS.items():
        path = settings / f"{plugin.replace(':', '/')}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.open_browser=False",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={lab_root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers run as root
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),  # ignore ~/.jupyter
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "PYTHONUNBUFFERED": "1",
    }
    server = Server("jupyterlab", command, env=env, cwd=lab_root)
    base = f"http://127.0.0.1:{port}"
    try:
        server.wait_for_http(base + "/api/status", timeout=90)
        yield base
    finally:
        # ask it to shut down its kernels too (they run in their own sessions), then stop it
        try:
            shutdown = urllib.request.Request(base + "/api/shutdown", method="POST")
            urllib.request.urlopen(shutdown, timeout=10).close()
            server.process.wait(timeout=20)
        except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
            pass
        server.stop()


# -- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}, and Playwright cannot download "
            "its own here. Install it with `sudo apt-get install chromium` (Debian/Ubuntu), "
            "or point $ATTNVIZ_CHROMIUM at a Chromium/Chrome binary.",
            pytrace=False,
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)  # a busy 2-core machine is slow
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
    except Exception:
        playwright.stop()
        raise
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@dataclass
class WatchedPage:
    """A page plus everything it logged: console errors, failed requests, every URL."""

    page: object
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def external_requests(self) -> list[str]:
        return [url for url in self.requests if not is_local(url)]

    def assert_clean(self, *, ignore: tuple[str, ...] = ()) -> None:
        """No console errors, uncaught exceptions or failed requests (bar ``ignore`` regexes)."""

        def keep(text: str) -> bool:
            return not any(re.search(pattern, text) for pattern in ignore)

        errors = [text for text in self.console_errors if keep(text)]
        failed = [text for text in self.failed_requests if keep(text)]
        assert not errors, "browser console errors:\n" + "\n".join(errors)
        assert not failed, "failed requests:\n" + "\n".join(failed)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def open_page(browser, request):
    """Factory: ``open_page()`` -> a WatchedPage in a fresh 1400x900 context.

    Pages are closed at the end of the test; if the test failed, a screenshot of
    each goes to test-artifacts/<test name>-<n>.png first.
    """
    contexts = []
    pages: list[WatchedPage] = []

    def factory(viewport=VIEWPORT) -> WatchedPage:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        watched = WatchedPage(page)

        def on_console(message):
            watched.console.append(f"{message.type}: {message.text}")
            if message.type == "error":
                watched.console_errors.append(f"{message.text} (at {message.location})")

        def on_response(response):
            if response.status >= 400:
                watched.failed_requests.append(f"HTTP {response.status} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: watched.console_errors.append(f"uncaught: {error}"))
        page.on("request", lambda req: watched.requests.append(req.url))
        page.on(
            "requestfailed",
            lambda req: watched.failed_requests.append(f"{req.failure} {req.method} {req.url}"),
        )
        page.on("response", on_response)
        pages.append(watched)
        return watched

    yield factory

    failed = any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        for number, watched in enumerate(pages):
            try:
                watched.page.screenshot(
                    path=str(ARTIFACTS / f"{name}-{number}.png"), full_page=True, timeout=10_000
                )
                (ARTIFACTS / f"{name}-{number}-console.txt").write_text(
                    "\n".join(watched.console + ["", "failed requests:"] + watched.failed_requests)
                )
            except Exception as error:  # a crashed page must not hide the real failure
                print(f"could not save a screenshot of page {number}: {error}")
    for context in contexts:
        try:
            context.close()
        except Exception:
            pass
