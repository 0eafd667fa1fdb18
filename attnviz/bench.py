"""``attnviz bench``: how long each dashboard control takes to update the figures.

For every registered dashboard, each control is driven across its whole range
(every option of a select, both states of a checkbox, ``n`` evenly spaced values
of a slider, ends included). For each value we time the server side of an
interaction: from the widget's new value to the Bokeh models holding the new
data and every change encoded as the PATCH-DOC message a server session sends
to the browser. The dashboard is attached to a Bokeh document, as under
``attnviz serve``. Network and the browser's drawing time are not included.
Each row says the target it is held to (p95 < 50 ms per control, DESIGN.md) and
whether it is met; the issues' other speed targets (training to an induction head,
a 4,096-token head view) are in ``attnviz.bench_targets``.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable

import numpy as np
import panel as pn
from bokeh.document import Document
from bokeh.protocol import Protocol
from panel.io.state import set_curdoc

from attnviz.dashboards import entries, get


def control_values(widget, n: int) -> list:
    """Values spanning ``widget``'s range, in an order that moves every step."""
    if isinstance(widget, pn.widgets.Checkbox | pn.widgets.Toggle):
        return [not widget.value if i % 2 == 0 else widget.value for i in range(n)]
    options = getattr(widget, "options", None)
    if options:
        values = list(options.values()) if isinstance(options, dict) else list(options)
        if isinstance(widget.value, list):  # a multi-select: pick options one by one
            return _selections(values, getattr(widget, "max_items", None), n)
        return [values[(i + 1) % len(values)] for i in range(max(n, len(values)))]
    start, end = widget.start, widget.end
    values = np.linspace(start, end, n)
    if isinstance(widget.value, int | np.integer):
        values = np.round(values).astype(int)
    # zig-zag so that consecutive values differ, ends of the range included
    order = [values[i // 2] if i % 2 == 0 else values[-1 - i // 2] for i in range(n)]
    return [v.item() if hasattr(v, "item") else v for v in order]


def _selections(values: list, max_items: int | None, n: int) -> list[list]:
    """Selections a user makes with a multi-select: add one option at a time up to the
    most allowed, then take them off again; repeated until at least ``n`` values."""
    most = min(len(values), max_items or len(values))
    grow = [values[:size] for size in range(1, most + 1)]
    cycle = grow + grow[-2::-1] + [[]]
    return [list(cycle[i % len(cycle)]) for i in range(max(n, len(cycle)))]


def _percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def served_document() -> Document:
    """A Bokeh document as a served session's is once its browser has connected: built on
    this thread (else Panel's ``hold()`` defers its release to a next tick that never comes
    here) and marked connected (else Panel drops the held changes, as it would for a
    document not yet sent, and the bench would time patches that are never made)."""
    document = Document()
    pn.state._thread_id_[document] = threading.get_ident()
    pn.state._connected[document] = True
    return document


def _serialize_patches(document: Document) -> None:
    """Encode every change as the PATCH-DOC message a server session would send."""
    protocol = Protocol()

    def encode(event) -> None:
        message = protocol.create("PATCH-DOC", [event])
        message.content  # noqa: B018 - building the payload is the cost we measure
        for buffer in message.buffers:
            bytes(buffer.data)

    document.on_change(encode)


CONTROL_TARGET_MS = 50.0  # DESIGN.md: a control change re-renders well under 100 ms
SESSION_TARGET_MS = 150.0  # issue #13: server CPU to build and send one session
SESSION_REPEATS = 5  # sessions built per dashboard for its session row (after one warm-up)


def session_cost(entry) -> dict:
    """What one served session of ``entry`` costs the server: CPU seconds to build the
    dashboard into a fresh Bokeh document and encode the PULL-DOC-REPLY that sends it to
    the browser, the number of Bokeh models sent and the message's size in bytes.

    CPU time (``time.process_time``), not wall time: in a classroom the clients and other
    sessions share the cores, and the figure that adds up across a room is the CPU.
    """
    # a server collects an ended session's garbage when Bokeh destroys it (Panel schedules
    # the collection), not while the next session builds: so here too, untimed
    gc.collect()
    document = served_document()
    started = time.process_time()
    with set_curdoc(document):
        dashboard = entry.factory()
        document.add_root(pn.panel(dashboard).get_root(document))
    message = Protocol().create("PULL-DOC-REPLY", "bench", document)
    size = len(message.header_json) + len(message.content_json)
    size += sum(len(bytes(buffer.data)) for buffer in message.buffers)
    seconds = time.process_time() - started
    return {"seconds": seconds, "models": len(document.models), "bytes": size}


def bench_session(entry, repeats: int = SESSION_REPEATS) -> dict:
    """The session row of ``entry``: build-and-send CPU p50/p95 over ``repeats`` sessions
    (after one warm-up session, which pays one-off imports and shared caches), with the
    models and kilobytes one session sends."""
    session_cost(entry)
    costs = [session_cost(entry) for _ in range(repeats)]
    row = _row(entry.slug, "(session: build and send, CPU)", [c["seconds"] for c in costs],
               target_ms=SESSION_TARGET_MS)  # fmt: skip
    row.update(models=costs[-1]["models"], kilobytes=round(costs[-1]["bytes"] / 1000, 1))
    return row


def _render(entry, document: Document, **params):
    """Build ``entry``'s dashboard into ``document``; the dashboard and the seconds it took."""
    with set_curdoc(document):
        started = time.perf_counter()
        dashboard = entry.factory(**params)
        document.add_root(pn.panel(dashboard).get_root(document))
        return dashboard, time.perf_counter() - started


def first_render(slug: str, **params) -> tuple[object, float]:
    """Build a dashboard into a fresh Bokeh document, ``params`` preset (``extra_models=``
    too, for a dashboard that takes them): the dashboard and the seconds it took."""
    document = served_document()
    _serialize_patches(document)
    return _render(get(slug), document, **params)


def first_render_seconds(slug: str, **params) -> float:
    """Seconds from nothing to a dashboard's first Bokeh document, ``params`` preset."""
    return first_render(slug, **params)[1]


def bench_dashboard(entry, n: int = 25) -> list[dict]:
    """Time each control of one dashboard; one row per control."""
    document = served_document()
    _serialize_patches(document)
    dashboard, seconds = _render(entry, document)
    rows = [_row(entry.slug, "(first render)", [seconds], target_ms=None)]
    with set_curdoc(document):
        rows.extend(_tab_rows(entry.slug, dashboard))
        for name, widget in dashboard.controls.items():
            initial = widget.value
            samples = []
            for value in control_values(widget, n):
                if value == widget.value:
                    continue
                started = time.perf_counter()
                widget.value = value
                samples.append(time.perf_counter() - started)
            widget.value = initial
            rows.append(_row(entry.slug, name, samples, target_ms=CONTROL_TARGET_MS))
    return rows


def _tab_rows(slug: str, dashboard) -> list[dict]:
    """For a dashboard with tabs (``dashboard.tab_titles``): one row per tab not shown at
    first, the CPU seconds to open it the first time (its views built, drawn and encoded
    for the browser, as a session pays once), with the models it adds; then the first tab
    is shown again, so the controls are timed as a session first sees them. ``models``
    counts the session's document with the tab shown (only the shown tab is sent)."""
    titles = getattr(dashboard, "tab_titles", [])
    if not titles:
        return []
    first, rows = titles[0], []
    for title in titles[1:]:
        started = time.process_time()
        dashboard.show_tab(title)
        seconds = time.process_time() - started
        row = _row(slug, f"(open tab: {title}, CPU)", [seconds], target_ms=SESSION_TARGET_MS)
        row.update(models=len(pn.state.curdoc.models))  # the session's, with this tab shown
        rows.append(row)
    dashboard.show_tab(first)
    return rows


def _row(slug: str, control: str, seconds: list[float], target_ms: float | None) -> dict:
    ms = [1000.0 * s for s in seconds]
    p95 = round(_percentile(ms, 95), 3)
    return {
        "dashboard": slug,
        "control": control,
        "n": len(ms),
        "p50_ms": round(_percentile(ms, 50), 3),
        "p95_ms": p95,
        "target_ms": target_ms,
        "met": None if target_ms is None else bool(p95 < target_ms),
    }


def bench(slugs: Iterable[str] | None = None, n: int = 25) -> list[dict]:
    """Rows of {dashboard, control, n, p50_ms, p95_ms, target_ms, met} for the dashboards:
    per dashboard its session row (which adds ``models`` and ``kilobytes``), then one row
    per control."""
    chosen = entries() if not slugs else [get(slug) for slug in slugs]
    rows: list[dict] = []
    for entry in chosen:
        rows.append(bench_session(entry))
        rows.extend(bench_dashboard(entry, n=n))
    return rows


def format_table(rows: list[dict]) -> str:
    """A plain-text table of bench rows (dashboard controls and targets alike)."""
    width = max([16, *(len(row["control"]) for row in rows)])
    header = (
        f"{'dashboard':<16} {'control':<{width}} {'n':>4} {'p50 ms':>9} {'p95 ms':>9} "
        f"{'target ms':>10}  met"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        target = row.get("target_ms")
        met = {None: "", True: "yes", False: "NO"}[row.get("met")]
        sent = f"  ({row['models']} models" if "models" in row else ""
        sent += f", {row['kilobytes']} kB)" if "kilobytes" in row else ")" if sent else ""
        lines.append(
            f"{row['dashboard']:<16} {row['control']:<{width}} {row['n']:>4} "
            f"{row['p50_ms']:>9.2f} {row['p95_ms']:>9.2f} "
            f"{'' if target is None else f'{target:.0f}':>10}  {met}{sent}"
        )
    return "\n".join(lines)
