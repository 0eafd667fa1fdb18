"""Links that open a served dashboard with its controls set, and a URL that follows them.

``/receptive_fields?pattern=power_attention&layers=4`` opens lesson 05's dashboard with
those two controls set; as a student moves a control, the address bar follows (through
Panel's ``pn.state.location``), so copying the URL shares what is on screen. The URL
names only the controls that differ from their defaults.

A link is untrusted input and never stops a dashboard from opening:

- a number out of a control's range is moved to the nearest end (``layers=99`` → 8),
  an infinite or NaN one takes the default, a fraction for a whole number is rounded;
- a value a control cannot take (``pattern=nope``, ``log_axes=maybe``) is ignored;
- a name that is not a control (``layrs=4``) is ignored;

and each of these is said in a note above the dashboard and in the server log.

The controls a link sets are the dashboard's parameters that have a widget (those of
``Dashboard.controls`` that are parameters). ``from_query`` and ``search_for`` are pure:
the tests call them with query strings; ``link_dashboard`` wires them to a session.
"""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qsl, urlencode

import param

from attnviz.dashboards.base import clamp_params

# query arguments that belong to Panel or Bokeh, not to a dashboard
FOREIGN = {"theme"}
FOREIGN_PREFIXES = ("bokeh-",)
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
_SHOWN_OPTIONS = 12  # a note lists at most this many allowed values


def link_params(target) -> list[str]:
    """The parameters a link may set on ``target`` (a dashboard class or instance): every
    parameter with a widget, and those a dashboard draws with a widget of its own that it
    names in ``linked_too`` (lesson 04's length slider); none when ``target`` is not a
    Parameterized."""
    cls = target if isinstance(target, type) else type(target)
    if not (isinstance(cls, type) and issubclass(cls, param.Parameterized)):
        return []
    own = set(getattr(cls, "linked_too", ()))
    return [n for n in cls.param if n != "name" and (cls.param[n].precedence != -1 or n in own)]


def _options(objects) -> str:
    shown = [str(option) for option in list(objects)[:_SHOWN_OPTIONS]]
    more = len(objects) - len(shown)
    return ", ".join(shown) + (f", … ({more} more)" if more > 0 else "")


def _match(text: str, objects) -> tuple[bool, object]:
    for option in objects:
        if text == str(option) or text == json.dumps(option):
            return True, option
    return False, None


def _number(name: str, text: str, parameter, notes: list[str]):
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} = {text!r} is not a number") from None
    if isinstance(parameter, param.Integer) and math.isfinite(value):
        if value != int(value):
            notes.append(f"{name} = {text} is not a whole number: using {round(value)}.")
        return round(value)
    return value


def _list(name: str, text: str, objects, notes: list[str]) -> list:
    try:
        items = json.loads(text) if text.lstrip().startswith("[") else text.split(",")
    except json.JSONDecodeError:
        raise ValueError(f"{name} = {text!r} is neither a JSON list nor a,b,c") from None
    if not isinstance(items, list):
        raise ValueError(f"{name} = {text!r} is not a list")
    chosen, unknown = [], []
    for item in items:
        found, option = _match(str(item).strip(), objects)
        if found and option not in chosen:
            chosen.append(option)
        elif not found:
            unknown.append(str(item))
    if unknown and not chosen:
        raise ValueError(f"{name} = {text!r} names none of {_options(objects)}")
    if unknown:
        notes.append(f"{name}: ignored {', '.join(unknown)} (allowed: {_options(objects)}).")
    return chosen


def parse_value(name: str, text: str, parameter, notes: list[str]):
    """The value ``text`` (from a URL) means for ``parameter``; ValueError if none."""
    if isinstance(parameter, param.Boolean):
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{name} = {text!r} is not true or false")
    if isinstance(parameter, param.Number):  # Integer too
        return _number(name, text, parameter, notes)
    if isinstance(parameter, param.ListSelector):
        return _list(name, text, parameter.objects, notes)
    if isinstance(parameter, param.Selector):
        found, option = _match(text, parameter.objects)
        if not found:
            raise ValueError(f"{name} = {text!r} is not one of {_options(parameter.objects)}")
        return option
    if isinstance(parameter, param.String):
        return text
    raise ValueError(f"{name} cannot be set from a link")


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _last(values) -> str:
    # Tornado gives every argument as a list of bytes; a repeated one counts once, the last
    if isinstance(values, list | tuple):
        return _text(values[-1]) if values else ""
    return _text(values)


def from_query(target, query: dict) -> tuple[dict, dict, list[str]]:
    """What a URL's query asks of the dashboard ``target`` (class or instance).

    ``query`` maps names to a value or a list of values (str or bytes, as Tornado gives
    them). Returns ``(values, pending, notes)``: ``values`` can be passed to the
    dashboard's constructor; ``pending`` are options not (yet) among a selector's
    objects, for :func:`apply_pending` once the dashboard exists (a dashboard may fill
    a list of options as it builds, e.g. the heads of its model); ``notes`` say what
    was ignored or changed, one sentence each.
    """
    if not isinstance(query, dict):
        raise TypeError(f"query must be a dict of names to values, got {type(query).__name__}")
    names = link_params(target)
    cls = target if isinstance(target, type) else type(target)
    values, pending, notes = {}, {}, []
    for name, raw in query.items():
        if name in FOREIGN or name.startswith(FOREIGN_PREFIXES):
            continue
        if name not in names:
            allowed = ", ".join(names) or "none"
            notes.append(f"{name!r} is not a control of this dashboard (its controls: {allowed}).")
            continue
        text = _last(raw)
        parameter = cls.param[name]
        try:
            values[name] = parse_value(name, text, parameter, notes)
        except ValueError as error:
            if isinstance(parameter, param.Selector) and not isinstance(
                parameter, param.ListSelector
            ):
                pending[name] = text  # maybe an option the dashboard adds as it builds
            else:
                notes.append(f"{error}: ignored.")
    values, clamped = clamp_params(cls, values)
    return values, pending, notes + clamped


def apply_pending(dashboard, pending: dict) -> list[str]:
    """Set the selector values :func:`from_query` could not check before ``dashboard``
    existed, each one only if the built dashboard offers it; the notes for the rest."""
    notes = []
    for name, text in pending.items():
        parameter = dashboard.param[name]
        found, option = _match(text, parameter.objects)
        if not found:
            notes.append(f"{name} = {text!r} is not one of {_options(parameter.objects)}: ignored.")
            continue
        try:
            setattr(dashboard, name, option)
        except Exception as error:  # the dashboard refused it: say so, keep the session
            notes.append(f"{name} = {text!r} could not be set ({error}): ignored.")
    return notes


def build(factory, query: dict) -> tuple[object, list[str]]:
    """``factory(**what the query asks)``, and the notes on what it could not have.

    A combination of values the dashboard refuses to be built with (each fine alone)
    builds it with its defaults instead, and says so: a link never stops a dashboard.
    """
    if not link_params(factory):  # not a dashboard class: nothing a link can set
        return factory(), []
    values, pending, notes = from_query(factory, query)
    try:
        dashboard = factory(**values)
    except Exception as error:
        notes.append(f"The link's values could not be used together ({error}): using defaults.")
        return factory(), notes
    # a dashboard may set a control as it builds (head_jobs shows its model's last
    # training step): the link's value wins
    for name, value in values.items():
        if getattr(dashboard, name) != value:
            try:
                setattr(dashboard, name, value)
            except Exception as error:
                notes.append(f"{name} = {value!r} could not be set ({error}): ignored.")
    return dashboard, notes + apply_pending(dashboard, pending)


def _serialized(dashboard, name: str) -> str:
    value = getattr(dashboard, name)
    try:
        value = dashboard.param[name].serialize(value)
    except Exception:
        pass
    return value if isinstance(value, str) else json.dumps(value)


def url_query(dashboard, names: list[str], baseline: dict | None = None) -> dict[str, str]:
    """The controls that differ from their ``baseline`` values (default: their parameters'
    defaults), as they are written in a URL (``json.dumps`` of Param's serialisation,
    bare for strings: ``layers=4``, ``log_axes=true``, ``compare=["full", "causal"]``)."""
    query = {}
    for name in names:
        value = getattr(dashboard, name)
        default = (baseline or {}).get(name, dashboard.param[name].default)
        try:
            same = bool(value == default)
        except Exception:  # arrays and the like: not a control a link sets
            same = False
        if not same and value is not None:
            query[name] = _serialized(dashboard, name)
    return query


def search_for(dashboard, names: list[str], search: str, baseline: dict | None = None) -> str:
    """The ``?query`` that shows the dashboard's controls, keeping Panel's and Bokeh's own
    arguments of ``search`` (``theme``) and dropping names that are not controls."""
    kept = [
        (name, value)
        for name, value in parse_qsl(search.lstrip("?"), keep_blank_values=True)
        if name in FOREIGN or name.startswith(FOREIGN_PREFIXES)
    ]
    query = kept + list(url_query(dashboard, names, baseline).items())
    return "?" + urlencode(query) if query else ""


def link_dashboard(dashboard, location, names: list[str], asked=()) -> None:
    """Keep the URL of ``location`` (``pn.state.location``) showing the dashboard's controls.

    A moved control rewrites the URL, which names only the controls that differ from
    what the dashboard showed when it opened, or, for those the link named (``asked``),
    from their defaults: a dashboard opened plainly keeps its plain URL, even one that
    sets a control as it builds (head_jobs shows its model's last training step). The
    browser reports its own URL once it has connected; if that URL asked for values the
    dashboard did not take, it is rewritten to the values shown. Values are read from the
    URL only once, by :func:`from_query`, before the dashboard is built. (Panel's
    ``Location.sync`` would write every control into the URL at once and apply the
    browser's URL a second time, unchecked.)
    """
    baseline = {name: getattr(dashboard, name) for name in names if name not in asked}
    if not names:
        return

    def show(*_) -> None:
        search = search_for(dashboard, names, location.search, baseline)
        if search != location.search:
            location.search = search  # the browser pushes the new URL to its history

    dashboard.param.watch(show, names)
    location.param.watch(show, ["search"])
    show()  # a URL the session was built from, with values it did not take
