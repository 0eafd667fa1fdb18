"""What every lesson dashboard shares: a header, a control column, figures.

A dashboard is a ``pn.viewable.Viewer`` whose parameters are its controls. It
binds those parameters to computations (elsewhere) and to figures (from
``attnviz.plots``), and updates figure data in place when a parameter moves.
The same object renders in a notebook cell and under ``attnviz serve``.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import panel as pn

from attnviz.lessons import lesson

CONTROL_WIDTH = 260


class Dashboard(pn.viewable.Viewer):
    """Base class: subclasses declare parameters, ``widgets`` options and ``_figures()``."""

    #: per-parameter widget options, as for ``pn.Param(widgets=...)``
    widget_options: dict = {}
    #: the lesson's stem in ``attnviz.lessons``; the title and description come from there
    stem: str = ""
    #: parameters drawn by a widget of the dashboard's own (``precedence=-1``) that a link
    #: may set too (``attnviz.deep_links``)
    linked_too: tuple[str, ...] = ()
    #: the dashboard's tabs, if it has any (a ``LazyTabs``, set by the subclass): each
    #: built the first time it is opened, so a served session sends only what is shown
    _tabs = None

    @property
    def tab_titles(self) -> list[str]:
        """The titles of the dashboard's tabs, the one shown at first first ([] if none)."""
        return list(self._tabs.titles) if self._tabs is not None else []

    def show_tab(self, title: str) -> None:
        """Open the tab called ``title``, building its views the first time (they then draw
        the current settings). ValueError names the tabs there are."""
        if self._tabs is None:
            raise ValueError(f"{type(self).__name__} has no tabs; got title {title!r}")
        self._tabs.show(title)

    @property
    def title(self) -> str:
        """The lesson's heading, as the served index shows it (``06 · One framework (DSF)``)."""
        return lesson(self.stem).index_title if self.stem else type(self).__name__

    @property
    def description(self) -> str:
        """What the dashboard shows, in one line (the lesson manifest's ``summary``)."""
        return lesson(self.stem).summary if self.stem else ""

    def __init__(self, **params):
        super().__init__(**params)
        self._controls: dict[str, pn.widgets.Widget] = {}
        for name in self._control_names():
            options = dict(width=CONTROL_WIDTH - 20)
            options.update(self.widget_options.get(name, {}))
            widget_type = options.pop("type", None)
            if widget_type is None:
                widget_type = pn.Param.widget_type(self.param[name])
            self._controls[name] = widget_type.from_param(self.param[name], **options)

    def _control_names(self) -> list[str]:
        return [name for name in self.param if name != "name" and self.param[name].precedence != -1]

    @property
    def controls(self) -> dict[str, pn.widgets.Widget]:
        """The widgets a user can move, by parameter name (used by bench and tests)."""
        return dict(self._controls)

    @property
    def figures(self) -> dict:
        """The Bokeh figures, by name (used by tests to read what is drawn)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the dashboard's background work (a training run, a long computation).
        ``attnviz serve`` calls it when the session ends (its tab closed); nothing by default."""

    def _header(self) -> pn.pane.Markdown:
        return pn.pane.Markdown(f"## {self.title}\n{self.description}", margin=(0, 10))

    def _control_column(self, *extra) -> pn.Column:
        return pn.Column(*map(_labelled, self._controls.values()), *extra, width=CONTROL_WIDTH)

    def _hold(self):
        """Batch all model changes of one update into one message to the browser."""
        document = pn.state.curdoc
        return pn.io.hold(document) if document is not None else nullcontext()


def _labelled(widget: pn.widgets.Widget) -> pn.viewable.Viewable:
    """A widget with its name shown: button groups draw none of their own."""
    if not isinstance(widget, pn.widgets.RadioButtonGroup | pn.widgets.CheckButtonGroup):
        return widget
    return pn.Column(pn.pane.Markdown(widget.name, margin=(0, 10, -8, 10)), widget, margin=0)


def clamp_params(dashboard_class, params: dict) -> tuple[dict, list[str]]:
    """Numbers outside a parameter's bounds are moved to the nearest bound, with a note;
    a non-finite number takes the parameter's default. Returns (params, notes)."""
    notes = []
    for name, value in list(params.items()):
        parameter = dashboard_class.param[name] if name in dashboard_class.param else None
        bounds = getattr(parameter, "bounds", None)
        if bounds is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        low, high = bounds
        clipped = value
        if not math.isfinite(value):
            clipped = parameter.default
        elif low is not None and value < low:
            clipped = low
        elif high is not None and value > high:
            clipped = high
        if clipped != value:
            params[name] = type(parameter.default)(clipped)
            notes.append(f"{name} = {value} is out of range: using {params[name]}.")
    return params, notes
