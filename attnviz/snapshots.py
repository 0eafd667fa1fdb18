"""PNG pictures of the figures a lesson displays, so a saved lesson shows them anywhere.

A Panel or Bokeh view in a notebook is JavaScript and HTML that only a live kernel and
browser can draw. ``tools/notebooks.py strip`` drops that payload (megabytes, random ids)
before a lesson is committed, so on GitHub or nbviewer a figure cell used to show nothing.
When lessons are executed for saving, this module adds a picture of each view.

How: ``enable`` registers an IPython ``image/png`` formatter for Panel objects
(``panel.viewable.Viewable``: panes, layouts, widgets) and ``panel.viewable.Viewer``
(every dashboard). IPython asks Panel for its mime bundle first and then the other
formatters, and merges them, so a view's output carries ``image/png`` beside Panel's
interactive payload; the strip keeps the picture and drops the rest
(``attnviz.notebook_setup.saved_output``). A bare Bokeh figure as a cell's value is not a
figure in Jupyter (it displays a table of its properties), so Bokeh models get no picture;
the lessons show figures through ``pn.pane.Bokeh``.

The picture is the view itself: ``snapshot`` saves it as a standalone HTML page with
Bokeh's and Panel's JavaScript inlined (nothing is fetched: requests that would leave the
machine are aborted), opens it in headless Chromium (one per kernel, started on the first
picture and closed at exit), waits until every Bokeh document is idle, crops the
screenshot to what is drawn, caps its width at ``MAX_WIDTH`` pixels and reduces it to a
palette of at most 256 colours with Pillow (a Bokeh dependency).

What it shows is the view as first drawn: a dashboard shows its first tab, with the state it
was built with. In a notebook every dashboard computes that first view before it is
displayed (worker threads run only when the app is served, or when a button asks for
them), so the picture shows figures, never a spinner.

Learners never pay for this: ``attnviz.notebook()`` turns it on only when the environment
variable ``ATTNVIZ_SNAPSHOTS`` is ``1``, which ``tools/notebooks.py execute`` sets for its
kernel. If pictures are asked for and Chromium or Playwright is missing, ``enable`` raises
``attnviz.export.ExportError``, so lessons are never silently saved without their figures.

This is a view-side module (it imports Panel, Bokeh and Playwright, lazily); it computes
nothing a lesson reports.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import io
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from attnviz.export import CHROMIUM_ARGS, PNG_MAGIC, ExportError, _keep_offline, find_chromium
from attnviz.validation import check_int, check_real

#: The environment variable that turns pictures on in ``attnviz.notebook()`` ("1": on).
ENV_VAR = "ATTNVIZ_SNAPSHOTS"
#: The widest picture, in pixels; a wider view is scaled down to it.
MAX_WIDTH = 1000
#: The most colours a picture keeps (its palette).
COLOURS = 256
#: Seconds allowed for the browser to start and draw one view.
RENDER_TIMEOUT_S = 60.0
PADDING = 8  # pixels kept around what is drawn
STABLE_SHOTS = 6  # at most this many screenshots, until two in a row are the same
STABLE_WAIT_MS = 150

# Every Bokeh document idle (its views built, its first paint requested), then two frames.
_DRAWN = "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents.every(d => d.is_idle)"
_TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
# The box around what is drawn: text, canvases, controls, leaves, and boxes that paint a
# background, a border or a shadow (a slider's track), through Bokeh's shadow roots. Other
# containers are left out: a stretching one spans the page however little it holds.
_EXTENT = """() => {
  const box = {left: Infinity, top: Infinity, right: 0, bottom: 0};
  const add = (r) => {
    if (r.width <= 0 || r.height <= 0) return;
    box.left = Math.min(box.left, r.left); box.top = Math.min(box.top, r.top);
    box.right = Math.max(box.right, r.right); box.bottom = Math.max(box.bottom, r.bottom);
  };
  const visible = (colour) =>
    colour && colour !== 'transparent' && !/^rgba\\(.*, 0\\)$/.test(colour);
  const paints = (style) =>
    visible(style.backgroundColor) || style.backgroundImage !== 'none' ||
    style.boxShadow !== 'none' ||
    ['Top', 'Right', 'Bottom', 'Left'].some(
      (side) => parseFloat(style['border' + side + 'Width']) > 0 &&
                style['border' + side + 'Style'] !== 'none' &&
                visible(style['border' + side + 'Color']));
  const drawn = ['CANVAS', 'INPUT', 'SELECT', 'BUTTON', 'TEXTAREA', 'IMG', 'svg'];
  const walk = (root) => {
    for (const node of root.childNodes) {
      if (node.nodeType === Node.TEXT_NODE && node.textContent.trim()) {
        const range = document.createRange(); range.selectNodeContents(node);
        add(range.getBoundingClientRect());
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        const style = getComputedStyle(node);
        if (style.display === 'none' || style.visibility === 'hidden') continue;
        const leaf = node.children.length === 0 && !node.shadowRoot;
        if (leaf || drawn.includes(node.tagName) || paints(style)) {
          add(node.getBoundingClientRect());
        }
        if (node.shadowRoot) walk(node.shadowRoot);
        walk(node);
      }
    }
  };
  walk(document.body);
  return box.right > 0 ? box : null;
}"""


class _Browser:
    """One headless Chromium, driven from one thread of its own: Playwright's sync API
    refuses to run in a thread with a running asyncio loop (a Jupyter kernel's)."""

    def __init__(self) -> None:
        # a daemon thread of our own, not a ThreadPoolExecutor: executors are shut down
        # before atexit handlers run, and closing the browser at exit needs this thread
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._playwright = None
        self._browser = None
        self.executable: str | None = None
        threading.Thread(target=self._serve, name="attnviz-snapshots", daemon=True).start()

    def _serve(self) -> None:
        while True:
            job, future = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as error:  # noqa: BLE001 - handed to the caller
                    future.set_exception(error)

    def _run(self, job: Callable[[], Any], timeout: float) -> Any:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((job, future))
        return future.result(timeout=timeout)

    def _start(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        if (
            self._browser is not None
            and self._browser.is_connected()  # not crashed or killed since the last picture
            and self.executable == executable
        ):
            return
        self._stop()
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        self.executable = executable

    def _stop(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = self.executable = None
        try:
            if browser is not None and browser.is_connected():
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()

    @staticmethod
    def _clip(page) -> dict:
        """The box around what the page draws, with PADDING pixels around it."""
        box = page.evaluate(_EXTENT)
        if box is None:
            raise ExportError("the view drew nothing that a picture could show")
        left, top = max(0, box["left"] - PADDING), max(0, box["top"] - PADDING)
        return {
            "x": left,
            "y": top,
            "width": box["right"] + PADDING - left,
            "height": box["bottom"] + PADDING - top,
        }

    def _screenshot(self, html: str, executable: str, width: int, timeout: float) -> bytes:
        self._start(executable)
        page = self._browser.new_page(viewport={"width": width, "height": 800})
        try:
            page.set_default_timeout(timeout * 1000)
            _keep_offline(page)
            page.set_content(html, wait_until="load")
            page.wait_for_function(_DRAWN, timeout=timeout * 1000)
            # idle documents may still paint a frame later on a loaded machine: keep
            # shooting until two pictures in a row are the same
            previous = None
            for _ in range(STABLE_SHOTS):
                page.evaluate(_TWO_FRAMES)
                shot = page.screenshot(clip=self._clip(page), full_page=True, animations="disabled")
                if shot == previous:
                    break
                previous = shot
                page.wait_for_timeout(STABLE_WAIT_MS)
            return shot
        finally:
            page.close()

    def screenshot(self, html: str, executable: str, width: int, timeout: float) -> bytes:
        job = functools.partial(self._screenshot, html, executable, width, timeout)
        return self._run(job, timeout=3 * timeout)

    def close(self) -> None:
        """Close Chromium (it starts again on the next picture)."""
        self._run(self._stop, timeout=RENDER_TIMEOUT_S)


_browser: _Browser | None = None
_browser_lock = threading.Lock()


def _shared_browser() -> _Browser:
    global _browser
    with _browser_lock:
        if _browser is None:
            _browser = _Browser()
            atexit.register(_browser.close)
        return _browser


def _check_view(view) -> None:
    """``view`` is a Panel object (pane, layout, widget), a dashboard or a Bokeh layout."""
    import panel as pn
    from bokeh.models import LayoutDOM

    if not isinstance(view, (pn.viewable.Viewable, pn.viewable.Viewer, LayoutDOM)):
        raise TypeError(
            "view must be a Panel object (a pane, layout or widget), a dashboard "
            f"(a panel.viewable.Viewer) or a Bokeh figure or layout; got {type(view).__name__}"
        )


def _page_of(view) -> str:
    """``view`` as a standalone HTML page with its JavaScript inlined (Panel's save)."""
    import panel as pn
    from bokeh.resources import INLINE

    viewable = pn.panel(view)
    before = set(getattr(viewable, "_models", {}))
    page = io.StringIO()
    # Bokeh validates a document when it writes a page, and logs warnings (an empty
    # layout: a tab not built yet) that the live view never logs; a picture must add
    # nothing to the cell's printed output, which nbval compares
    validation = logging.getLogger("bokeh.core.validation.check")
    level = validation.level
    validation.setLevel(logging.CRITICAL)
    try:
        viewable.save(page, resources=INLINE, title="attnviz")
    finally:
        validation.setLevel(level)
    # the page is written: drop the models made for it, so later widget moves do not
    # keep updating a document that nobody shows
    for ref in set(getattr(viewable, "_models", {})) - before:
        viewable._cleanup(viewable._models[ref][0])
    return page.getvalue()


def _small_png(png: bytes, max_width: int, colours: int) -> bytes:
    """``png`` at most ``max_width`` wide, reduced to a palette of ``colours``."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > max_width:
        height = max(1, round(image.height * max_width / image.width))
        image = image.resize((max_width, height), Image.Resampling.LANCZOS)
    image = image.quantize(
        colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def snapshot(
    view,
    *,
    max_width: int = MAX_WIDTH,
    colours: int = COLOURS,
    timeout: float = RENDER_TIMEOUT_S,
) -> bytes:
    """A PNG picture of ``view`` as a browser first draws it (see the module docstring).

    Args:
        view: a Panel pane, layout or widget, a dashboard (``panel.viewable.Viewer``),
            or a Bokeh figure or layout.
        max_width: the widest picture in pixels (100 to 4000); wider views are scaled down.
        colours: the palette size of the picture (2 to 256).
        timeout: seconds allowed for the browser to start and draw, in (0, 600].

    Returns:
        The PNG's bytes.

    Raises:
        ExportError: no Chromium or no Playwright here, or the view did not draw in time.
    """
    _check_view(view)
    max_width = check_int("max_width", max_width, low=100, high=4000)
    colours = check_int("colours", colours, low=2, high=256)
    timeout = check_real("timeout", timeout, low=0, low_open=True, high=600)
    executable = _browser_executable()
    html = _page_of(view)
    try:
        png = _shared_browser().screenshot(html, executable, max_width, timeout)
    except ExportError:
        raise
    except Exception as error:  # noqa: BLE001 - Playwright's own errors, timeouts above all
        first_line = str(error).splitlines()[0] if str(error) else ""
        raise ExportError(
            f"the browser did not draw {type(view).__name__} within timeout={timeout:g} s "
            f"({type(error).__name__}: {first_line})"
        ) from error
    if not png.startswith(PNG_MAGIC):
        raise ExportError("the browser returned something that is not a PNG")
    return _small_png(png, max_width, colours)


def _browser_executable() -> str:
    """The Chromium to draw with; ExportError (saying how to get one) if it cannot run."""
    executable = find_chromium()
    reason = None
    if executable is None:
        reason = "no Chromium was found ($ATTNVIZ_CHROMIUM, /usr/bin/chromium or on PATH)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the Python package playwright is not installed"
    if reason is not None:
        raise ExportError(
            f"pictures of the lessons' figures are drawn in a headless Chromium, but {reason}. "
            "Install one (Debian/Ubuntu: `sudo apt-get install chromium`, then "
            "`pip install playwright`) or point $ATTNVIZ_CHROMIUM at a Chromium binary."
        )
    return executable


def requested() -> bool:
    """True when ``ATTNVIZ_SNAPSHOTS`` is ``1`` (``tools/notebooks.py execute`` sets it)."""
    return os.environ.get(ENV_VAR, "").strip() == "1"


def _view_types() -> tuple[type, ...]:
    import panel as pn

    return (pn.viewable.Viewable, pn.viewable.Viewer)


def _png_formatter():
    """This IPython session's image/png formatter; None in plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return None
    return shell.display_formatter.formatters["image/png"]


def _picture(view) -> bytes:
    return snapshot(view)


def enable() -> bool:
    """Give every Panel view displayed in this IPython session a PNG picture.

    Returns True if pictures are now on, False outside IPython (nothing is displayed
    there). Raises ``ExportError`` if Chromium or Playwright is missing (outside IPython
    too), so a lesson executed for saving fails instead of being saved without figures.
    """
    _browser_executable()
    formatter = _png_formatter()
    if formatter is None:
        return False
    for view_type in _view_types():
        formatter.for_type(view_type, _picture)
    return True


def disable() -> None:
    """Stop drawing pictures in this IPython session and close the browser."""
    formatter = _png_formatter()
    if formatter is not None:
        for view_type in _view_types():
            if _registered(formatter, view_type):
                formatter.pop(view_type)
    if _browser is not None:
        _browser.close()


def _registered(formatter: Any, view_type: type) -> bool:
    try:
        return formatter.lookup_by_type(view_type) is _picture
    except KeyError:
        return False


__all__ = ["COLOURS", "ENV_VAR", "MAX_WIDTH", "disable", "enable", "requested", "snapshot"]
