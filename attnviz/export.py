"""Export any view to a standalone HTML file or a PNG picture, offline.

``to_html`` writes the figures of a view (a Bokeh figure or layout, a view from
``attnviz.plots``, a dashboard, or a list of them) into one HTML file with
Bokeh's JavaScript inlined: it opens anywhere, with no server and no network,
and keeps hover, zoom and the toolbar's save button. ``to_png`` renders that
same file in headless Chromium (through Playwright) and returns the picture.
In a browser, the save tool (the disk icon) of every figure's toolbar also
saves a PNG, with nothing installed.

    from attnviz import export
    export.to_html(dashboard, "attention_maps.html")
    export.to_png(grid, "heads.png")

``download_button`` gives a dashboard a "download HTML" button.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bokeh.embed import file_html
from bokeh.model import Model
from bokeh.resources import INLINE

from attnviz.validation import check_int, check_real, check_text

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RENDER_TIMEOUT_S = 60.0

# The figures wrap in a row, like the dashboard; the export element is what the PNG shows.
_TEMPLATE = """
{% block postamble %}
<style>
  body { font-family: Helvetica, Arial, sans-serif; background: #ffffff; }
  #attnviz-export { display: inline-block; padding: 12px; }
  #attnviz-export h1 { font-size: 18px; font-weight: normal; margin: 0 0 8px 4px; }
  #attnviz-figures { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start;
                     max-width: {{ max_width }}px; }
</style>
{% endblock %}
{% block contents %}
<div id="attnviz-export">
{% if heading %}<h1>{{ heading | e }}</h1>{% endif %}
<div id="attnviz-figures">
{{ super() }}
</div>
</div>
{% endblock %}
"""


MAX_TIMEOUT_S = 600.0  # the longest render timeout: a browser that needs more is stuck
MAX_WIDTH = 20_000  # pixels: the widest page of figures to_html lays out


class ExportError(RuntimeError, OSError):
    """Export could not run here (no browser for PNG, say, or it did not draw in time); the
    message says what to do. An ``OSError`` (the environment failed, not the arguments),
    and a ``RuntimeError`` as it always was."""


def _check_path(name: str, path, *, output: bool = False) -> None:
    """``path`` is None or a path; an ``output`` path is a file in an existing folder, so a
    bad one is refused before the (slow) export rather than after it."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be None or a file path (str or os.PathLike), got {path!r}")
    if output and path is not None:
        target = Path(path)
        if target.is_dir():
            raise ValueError(f"{name} must be a file name, got the folder {str(target)!r}")
        if not target.parent.is_dir():
            raise ValueError(
                f"{name} must be in an existing folder, got {str(path)!r} "
                f"(no folder {str(target.parent)!r})"
            )


def _check_title(title) -> None:
    if title is not None:
        check_text("title", title, empty=True)


def figures_of(view) -> list[Model]:
    """The Bokeh models that draw ``view``.

    Accepts a Bokeh model (figure or layout), an object with ``figures`` (a dict
    or list, as dashboards and ``plots.LongHeadView`` have) or ``figure`` (as the
    other ``plots`` views have), or a list / tuple of any of these.
    """
    if isinstance(view, Model):
        return [view]
    if isinstance(view, Sequence) and not isinstance(view, str | bytes):
        models = [model for item in view for model in figures_of(item)]
        if not models:
            raise ValueError("view is an empty list: nothing to export")
        return list(dict.fromkeys(models))  # each figure once, in order
    figures = getattr(view, "figures", None)
    if figures is not None:
        return figures_of(list(figures.values()) if isinstance(figures, Mapping) else figures)
    figure = getattr(view, "figure", None)
    if isinstance(figure, Model):
        return [figure]
    raise TypeError(
        "view must be a Bokeh figure or layout, an attnviz plots view, a dashboard, or a "
        f"list of them; got {type(view).__name__}"
    )


def to_html(
    view,
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    max_width: int = 1400,
) -> str:
    """A standalone HTML page of ``view``'s figures, with Bokeh's JavaScript inlined.

    Args:
        view: what to export (see ``figures_of``).
        path: also write the page here.
        title: the page's title and heading (default: the dashboard's title, if any).
        max_width: figures wrap onto new rows beyond this many pixels (1 to MAX_WIDTH,
            20,000).

    Returns:
        The HTML text. It loads nothing from the network.
    """
    _check_path("path", path, output=True)
    _check_title(title)
    max_width = check_int("max_width", max_width, low=1, high=MAX_WIDTH)
    models = figures_of(view)
    if title is None:
        title = getattr(view, "title", None)
        title = title if isinstance(title, str) else None
    # a new temporary document: the figures stay in the one they are served from
    html = file_html(
        models,
        INLINE,
        title or "attnviz",
        template=_TEMPLATE,
        template_variables={"heading": title or "", "max_width": int(max_width)},
        suppress_callback_warning=True,  # Python callbacks are the dashboard's, not the file's
        _always_new=True,
    )
    if path is not None:
        Path(path).write_text(html, encoding="utf-8")
    return html


def find_chromium(executable: str | os.PathLike | None = None) -> str | None:
    """The Chromium to render with: ``executable``, $ATTNVIZ_CHROMIUM, or a system one."""
    _check_path("executable", executable)
    candidates = [executable, os.environ.get("ATTNVIZ_CHROMIUM"), *CHROMIUM_CANDIDATES]
    for name in ("chromium", "chromium-browser", "google-chrome"):
        candidates.append(shutil.which(name))
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _no_browser(reason: str) -> ExportError:
    return ExportError(
        f"PNG export renders the view in a headless Chromium, but {reason}. Install one "
        "(Debian/Ubuntu: `sudo apt-get install chromium`; then `pip install playwright`, no "
        "`playwright install` needed) or point $ATTNVIZ_CHROMIUM at a Chromium or Chrome "
        "binary. Without one, export.to_html() still works, and the save tool (disk icon) "
        "in each figure's toolbar saves a PNG from the browser."
    )


def _keep_offline(page) -> None:
    """Abort every request of a Playwright page that would leave the machine: the pages
    we render are self-contained (data:, about: and blob: URLs only)."""
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("data:", "about:", "blob:"))
            else route.abort()
        ),
    )


def _render_png(html: str, executable: str, scale: float, timeout: float) -> bytes:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True, timeout=timeout * 1000
        )
        try:
            page = browser.new_page(
                viewport={"width": 1600, "height": 1000}, device_scale_factor=scale
            )
            page.set_default_timeout(timeout * 1000)
            _keep_offline(page)
            page.set_content(html, wait_until="load")
            page.wait_for_function(
                "() => window.Bokeh && Bokeh.documents.length > 0"
                " && document.querySelectorAll('#attnviz-figures > div').length > 0",
                timeout=timeout * 1000,
            )
            # every figure has drawn once its canvas element exists and two frames passed
            page.locator(".bk-Canvas").first.wait_for(state="visible")
            page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
            )
            return page.locator("#attnviz-export").screenshot(animations="disabled")
        finally:
            browser.close()


def to_png(
    view,
    path: str | os.PathLike | None = None,
    *,
    scale: float = 1.0,
    title: str | None = None,
    chromium: str | os.PathLike | None = None,
    timeout: float = RENDER_TIMEOUT_S,
) -> bytes:
    """A PNG picture of ``view``, rendered from ``to_html`` in headless Chromium.

    Args:
        view: what to export (see ``figures_of``).
        path: also write the PNG here.
        scale: device pixels per CSS pixel (2 for a sharp picture on a slide).
        title: a heading drawn above the figures.
        chromium: the browser binary (default: $ATTNVIZ_CHROMIUM or a system Chromium).
        timeout: seconds allowed for the browser to start and draw, in (0, MAX_TIMEOUT_S]
            (600).

    Raises:
        ExportError: no Chromium or no Playwright here (the message says how to get them),
            or the browser did not draw within ``timeout``.
    """
    scale = check_real("scale", scale, low=0.5, high=4)
    timeout = check_real("timeout", timeout, low=0, low_open=True, high=MAX_TIMEOUT_S)
    _check_path("path", path, output=True)
    _check_path("chromium", chromium)
    _check_title(title)
    executable = find_chromium(chromium)
    if executable is None:
        where = chromium or os.environ.get("ATTNVIZ_CHROMIUM") or ", ".join(CHROMIUM_CANDIDATES)
        raise _no_browser(f"no Chromium was found (looked at {where} and on PATH)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise _no_browser("the Python package playwright is not installed") from None
    html = to_html(view, title=title)
    # Playwright's sync API refuses to run inside a running asyncio loop (a Jupyter
    # kernel, the Panel server), so the browser is driven from a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(_render_png, html, executable, scale, timeout)
        try:
            png = future.result(timeout=3 * timeout)
        except Exception as error:  # noqa: BLE001 - Playwright's own errors, timeouts above all
            if isinstance(error, (ValueError, TypeError)):
                raise
            raise ExportError(
                f"the browser did not draw the view within timeout={timeout:g} s "
                f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                "try a larger timeout, or export.to_html() and the toolbar's save tool"
            ) from error
    if not png.startswith(PNG_MAGIC):
        raise ExportError("the browser returned something that is not a PNG")
    if path is not None:
        Path(path).write_bytes(png)
    return png


def download_button(
    view: Callable[[], object] | object,
    filename: str,
    *,
    label: str = "download HTML",
    title: str | None = None,
    **widget_options,
):
    """A Panel button that downloads ``view`` as standalone HTML, made when clicked.

    ``view`` may be a callable returning the view, so the file shows the figures
    as they are at the moment of the click; anything else is checked now.
    """
    import panel as pn

    check_text("filename", filename)
    check_text("label", label)
    _check_title(title)
    if not (callable(view) and not hasattr(view, "figures")):
        figures_of(view)

    def page() -> io.BytesIO:
        current = view() if callable(view) and not hasattr(view, "figures") else view
        return io.BytesIO(to_html(current, title=title).encode("utf-8"))

    options = dict(label=label, embed=False, width=200)
    options.update(widget_options)
    return pn.widgets.FileDownload(callback=page, filename=filename, **options)
