"""Take the README's picture: lesson 01's served dashboard, in a real browser.

    python tools/screenshot.py [--slug soft_lookup] [--output docs/screenshot.png]

Starts ``attnviz serve`` on a free local port, opens the dashboard in headless
Chromium (Debian's, at /usr/bin/chromium or $ATTNVIZ_CHROMIUM; Playwright cannot
download its own here) at 1400x900, waits until Bokeh has drawn it, and saves a
full-page PNG, reduced to a palette if it would be over 400 KB.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from attnviz.export import CHROMIUM_ARGS  # headless Chromium, offline

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("ATTNVIZ_CHROMIUM", "/usr/bin/chromium")
MAX_BYTES = 400_000


def _wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"attnviz serve exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"attnviz serve did not answer {url} within {timeout:.0f} s")


def _shrink(png: bytes) -> bytes:
    """The same picture with a 256-colour palette (plots have few colours)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()


def screenshot(slug: str, output: Path, width: int = 1400, height: int = 900) -> int:
    from playwright.sync_api import sync_playwright

    from attnviz.serve import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "attnviz", "serve", "--port", str(port), "--address", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=REPO,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_http(base + "/", server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            with page.expect_console_message(
                lambda message: "document idle" in message.text, timeout=60_000
            ):
                page.goto(f"{base}/{slug}")
            page.locator(".bk-Canvas").first.wait_for(timeout=30_000)
            time.sleep(1.0)  # let the last canvases paint
            png = page.screenshot(full_page=True, animations="disabled")
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    if len(png) > MAX_BYTES:
        png = _shrink(png)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(png)
    print(f"wrote {output} ({len(png) / 1000:.0f} KB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slug", default="soft_lookup", help="dashboard to photograph")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "screenshot.png")
    args = parser.parse_args(argv)
    return screenshot(args.slug, args.output)


if __name__ == "__main__":
    sys.exit(main())
