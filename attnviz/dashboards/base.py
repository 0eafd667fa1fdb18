"""What every lesson dashboard shares: a header, a control column, figures.

A dashboard is a ``pn.viewable.Viewer`` whose parameters are its controls. It
binds those parameters to computations (elsewhere) and to figures (from
``attnviz.plots``), and updates figure data in place when a parameter moves.
The same object renders in a notebook cell and under ``attnviz serve``.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Mapping
from contextlib import nullcontext

import panel as pn
import param

from attnviz.lessons import lesson
from attnviz.validation import check_bool, check_text, plain_number, short_repr

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
        check_text("title", title, empty=True)
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
        """Numeric settings out of range are clamped, wrong types refused (``clamp_params``);
        the notes on moved values are kept in ``preset_notes``."""
        params, notes = clamp_params(type(self), params)
        self.preset_notes: list[str] = notes
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

    def _set_in_range(self, name: str, value: int, top: int) -> None:
        """Give the integer parameter ``name`` the range 0..top and set it to ``value``
        (already inside it), without the redraw its watchers would make: they check
        ``self._fitting``, and the caller redraws once."""
        self._fitting = True
        try:
            if top > self.param[name].bounds[1]:  # widen first, then move; narrow after
                self.param[name].bounds = (0, top)
                setattr(self, name, value)
            else:
                setattr(self, name, value)
                self.param[name].bounds = (0, top)
        finally:
            self._fitting = False

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
    """The values a dashboard constructor was given, fitted to its controls.

    Every dashboard constructor clamps its numeric settings:

    - a number outside a parameter's bounds is moved to the nearest bound, with a note
      (integers of any size too: ``d_k=10**400`` becomes the largest d_k, never an
      ``OverflowError``);
    - a non-finite number (NaN, inf, -inf) takes the parameter's default, with a note
      (NaN has no nearest bound, and an infinite setting is not one a learner meant);
    - numpy scalars and 0-d tensors count as the numbers they hold;
    - a value of the wrong type for a number (None, a bool, a string, an object), a
      fraction for an integer setting, a non-bool for a switch or a non-string for a text
      raises ``TypeError`` naming the parameter. Choices (selectors) are checked by the
      parameter itself: a value not offered raises ``ValueError`` naming it.

    Returns (params, notes): a new dict, and one note per value moved.
    """
    if not (isinstance(dashboard_class, type) and issubclass(dashboard_class, param.Parameterized)):
        raise TypeError(
            f"dashboard_class must be a dashboard class (a param.Parameterized subclass), "
            f"got {dashboard_class!r}"
        )
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of {{name: value}}, got {params!r}")
    params = dict(params)
    notes = []
    for name, value in list(params.items()):
        parameter = dashboard_class.param[name] if name in dashboard_class.param else None
        if parameter is None:
            continue  # the constructor refuses an unknown name (TypeError, naming it)
        if value is None and parameter.allow_None:
            continue
        if isinstance(parameter, param.Boolean):
            params[name] = check_bool(name, value)
            continue
        if isinstance(parameter, param.String):
            params[name] = check_text(name, value, empty=True)
            continue
        if not isinstance(parameter, param.Number):
            continue
        params[name], note = _clamped(name, value, parameter)
        if note:
            notes.append(note)
    return params, notes


def _clamped(name: str, value, parameter) -> tuple[int | float, str]:
    """``value`` moved into the parameter's bounds (overflow-safe), and the note saying so."""
    low, high = parameter.bounds or (None, None)
    integer = isinstance(parameter, param.Integer)
    return _clamp_number(name, value, low, high, parameter.default, integer=integer)


def _clamp_number(
    name: str, value, low, high, default, *, integer: bool
) -> tuple[int | float, str]:
    """``value`` (a number, numpy scalar or 0-d tensor) clamped into [low, high] as
    ``clamp_params`` does (NaN and ±inf: ``default``), and the note saying so ('' if
    unchanged); TypeError naming ``name`` for a value that is not a number."""
    value = plain_number(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "an integer" if integer else "a number"
        raise TypeError(f"{name} must be {kind}, got {short_repr(value)} ({type(value).__name__})")
    finite = not isinstance(value, float) or math.isfinite(value)
    # an int past every float, for a float setting with no bound on that side: as inf
    too_big = (
        not integer and isinstance(value, numbers.Integral) and abs(value) > sys.float_info.max
    )
    if integer and finite and not isinstance(value, numbers.Integral) and value != int(value):
        raise TypeError(f"{name} must be an integer, got {short_repr(value)}")
    # int and float compare exactly in Python: no float() of a huge int, no overflow
    if not finite:
        clipped = default
    elif low is not None and value < low:
        clipped = low
    elif high is not None and value > high:
        clipped = high
    elif too_big:
        clipped, finite = default, False
    else:
        clipped = value
    clipped = int(clipped) if integer else float(clipped)
    if finite and clipped == value:
        return clipped, ""
    shown = f"{value:g}" if isinstance(value, float) else short_repr(value)
    return clipped, f"{name} = {shown} is out of range: using {clipped}."
