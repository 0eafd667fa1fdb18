"""The moves a simulated student makes on a served dashboard, and which of them redraw.

A browser tab sees a dashboard as Bokeh's serialized document: JSON objects with ids,
pulled once (PULL-DOC-REPLY) and then patched (PATCH-DOC). ``DocumentModels`` keeps that
JSON by id, so a client can read any model's current attributes (a widget's value, its
options, whether it is shown) without deserializing the document into Bokeh objects.

Which Bokeh model is which dashboard control is learnt here, in-process: the dashboard is
built into a ``Document`` as under ``attnviz serve``, each control's input model (the
``Slider`` of a ``FloatSlider``, the ``Slider`` inside a ``DiscreteSlider``, the
``CustomSelect`` of a ``Select`` …) is found from Panel's widget and located by its path
of layout children below the dashboard's own layout (``Control.path``); a client finds
the same place in the document it pulled, checking the model's type and label.

``choose_move`` picks, for a control that is shown and enabled, a value in range that
differs from the current one, as the wire events BokehJS sends for it (``value`` and
``value_throttled`` for a slider, ``active`` for a checkbox or a button group …).
``discover`` keeps only the controls whose every move redraws something other than the
controls themselves: it walks each dashboard with random moves, in-process, through the
very JSON patches a client sends, drops any control that moved without redrawing, and
walks again until a whole walk drops nothing.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

# a control of a tab not open when the session starts has no Bokeh model to move: the
# simulated students stay on each dashboard's first tab (the bench's tab rows time opening)
NOT_IN_FIRST_VIEW = "not in the session's first view (a tab built when first opened)"

#: the Bokeh input models a student can move (their serialized type names), by kind
INPUT_KINDS = {
    "Slider": "slider",
    "IntSlider": "slider",
    "panel.models.widgets.Player": "slider",
    "Select": "select",
    "panel.models.widgets.CustomSelect": "select",
    "Checkbox": "checkbox",
    "Toggle": "checkbox",
    "Switch": "checkbox",
    "RadioButtonGroup": "radio",
    "RadioGroup": "radio",
    "panel.models.widgets.RadioButtonGroup": "radio",
    "CheckboxGroup": "group",
    "CheckboxButtonGroup": "group",
    "panel.models.widgets.CheckboxButtonGroup": "group",
    "MultiChoice": "multichoice",
    "MultiSelect": "multichoice",
}

#: the attributes that hold a layout's children (a list, or GridBox's [child, row, col])
_LAYOUT_ATTRIBUTES = ("children", "child", "tabs")


class DocumentModels:
    """A serialized Bokeh document's models by id, kept current from PATCH-DOC content."""

    def __init__(self, doc_json: dict):
        self._models: dict[str, dict] = {}
        self._absorb(doc_json.get("roots", []))
        self.roots = [_ref(root) for root in doc_json.get("roots", []) if _ref(root)]

    def _absorb(self, value) -> None:
        """Register every object definition in ``value`` (a full object appears once)."""
        if isinstance(value, dict):
            if value.get("type") == "object" and "id" in value and "name" in value:
                known = self._models.get(value["id"])
                if known is None:
                    value.setdefault("attributes", {})
                    self._models[value["id"]] = value
                for item in value.get("attributes", {}).values():
                    self._absorb(item)
                return
            for item in value.values():
                self._absorb(item)
        elif isinstance(value, list | tuple):  # tuples: in-process serialization only
            for item in value:
                if isinstance(item, dict | list | tuple):  # skip a column's numbers fast
                    self._absorb(item)

    def apply_patch(self, content: dict) -> set[str]:
        """Apply a PATCH-DOC's content; the ids of the models its events touch."""
        touched = set()
        for event in content.get("events", []):
            model_id = _ref(event.get("model"))
            if model_id is not None:
                touched.add(model_id)
            if event.get("kind") == "ModelChanged" and model_id in self._models:
                self._absorb(event.get("new"))
                self._models[model_id]["attributes"][event["attr"]] = event.get("new")
            elif event.get("kind") == "RootAdded":
                self._absorb(event.get("model"))
        return touched

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._models

    def type_name(self, model_id: str) -> str:
        return self._models[model_id]["name"]

    def get(self, model_id: str, attribute: str):
        """An attribute's current value; Bokeh's class default when the JSON leaves it out."""
        model = self._models[model_id]
        attributes = model["attributes"]
        if attribute in attributes:
            return attributes[attribute]
        return _class_default(model["name"], attribute)

    def children(self, model_id: str) -> list[str]:
        """A layout's children in order (empty for anything else)."""
        attributes = self._models[model_id]["attributes"]
        found = []
        for name in _LAYOUT_ATTRIBUTES:
            value = attributes.get(name)
            items = value if isinstance(value, list | tuple) else [value]
            for item in items:
                if isinstance(item, list | tuple) and item:  # GridBox: [child, row, col, ...]
                    item = item[0]
                child = _ref(item)
                if child is not None and child in self._models:
                    found.append(child)
        return found

    def walk(self) -> Iterator[tuple[str, ...]]:
        """Every layout chain (root, …, model), depth first, in layout order."""
        stack = [(root,) for root in reversed(self.roots) if root in self._models]
        while stack:
            chain = stack.pop()
            yield chain
            for child in reversed(self.children(chain[-1])):
                if child not in chain:
                    stack.append((*chain, child))

    def label(self, model_id: str):
        """What a user reads on an input: its title, label or button labels (or None)."""
        attributes = self._models[model_id]["attributes"]
        for name in ("title", "label", "labels"):
            if name in attributes:
                return _plain(attributes[name])
        return None


def _ref(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else None


def _plain(value):
    """JSON's view of a value (in-process serialization leaves tuples)."""
    return [_plain(item) for item in value] if isinstance(value, list | tuple) else value


_DEFAULTS: dict[tuple[str, str], object] = {}


def _class_default(type_name: str, attribute: str):
    key = (type_name, attribute)
    if key not in _DEFAULTS:
        import panel.models  # noqa: F401 - registers Panel's model types with Bokeh
        from bokeh.core.property.descriptors import UnsetValueError
        from bokeh.model import Model

        cls = Model.model_class_reverse_map.get(type_name)
        try:
            value = cls.lookup(attribute).class_default(cls) if cls is not None else None
        except (AttributeError, UnsetValueError):
            value = None
        _DEFAULTS[key] = None if type(value).__name__ == "UndefinedType" else value
    return _DEFAULTS[key]


@dataclass(frozen=True)
class Control:
    """Where one dashboard control's input model sits, below the dashboard's layout."""

    name: str  # the dashboard parameter, e.g. "bandwidth"
    path: tuple[int, ...]  # child indices from the dashboard's layout model
    type: str  # the serialized type name, e.g. "Slider"
    label: object  # its title / label / labels as serialized (None for a bare slider)

    def to_json(self) -> dict:
        return {**asdict(self), "path": list(self.path)}

    @classmethod
    def from_json(cls, data: dict) -> Control:
        return cls(data["name"], tuple(data["path"]), data["type"], data["label"])


def locate(models: DocumentModels, controls: list[Control]) -> tuple[str, ...] | None:
    """The chain from a root to the first layout model under which every control sits
    where expected (type and label checked); None when the document has no such place."""
    for chain in models.walk():
        if all(resolve(models, chain, control) is not None for control in controls):
            return chain
    return None


def resolve(
    models: DocumentModels, base: tuple[str, ...], control: Control
) -> tuple[str, ...] | None:
    """The chain from a root to ``control``'s model, or None if it is not there (now)."""
    chain = base
    for index in control.path:
        children = models.children(chain[-1])
        if index >= len(children):
            return None
        chain = (*chain, children[index])
    model_id = chain[-1]
    if models.type_name(model_id) != control.type or models.label(model_id) != control.label:
        return None
    return chain


def shown(models: DocumentModels, chain: tuple[str, ...]) -> bool:
    """Whether a user can reach the model: it and every layout above it visible, and the
    model itself enabled."""
    if any(models.get(model_id, "visible") is False for model_id in chain):
        return False
    return not models.get(chain[-1], "disabled")


def redraws(models: DocumentModels, touched: Iterable[str]) -> bool:
    """Whether patches changed something other than inputs: a figure, a readout, a pane.
    (A model the copy does not know is new, so it is drawn.)"""
    return any(
        model_id not in models or models.type_name(model_id) not in INPUT_KINDS
        for model_id in touched
    )


# -- a move --------------------------------------------------------------------------------


def choose_move(
    rng: random.Random, models: DocumentModels, model_id: str
) -> list[tuple[str, object]] | None:
    """The (attribute, new value) events a browser sends to move the input to another
    value in range, chosen with ``rng``; None when it has no other value."""
    kind = INPUT_KINDS.get(models.type_name(model_id))
    get = models.get
    if kind == "slider":
        value = _slider_value(
            rng,
            get(model_id, "start"),
            get(model_id, "end"),
            get(model_id, "step"),
            get(model_id, "value"),
        )
        return None if value is None else [("value", value), ("value_throttled", value)]
    if kind == "select":
        values = [_option_value(option) for option in get(model_id, "options") or []]
        values = [v for v in values if isinstance(v, str) and v != get(model_id, "value")]
        return [("value", rng.choice(values))] if values else None
    if kind == "checkbox":
        return [("active", not get(model_id, "active"))]
    if kind == "radio":
        labels = get(model_id, "labels") or []
        others = [i for i in range(len(labels)) if i != get(model_id, "active")]
        return [("active", rng.choice(others))] if others else None
    if kind == "group":
        labels = get(model_id, "labels") or []
        if not labels:
            return None
        active = set(get(model_id, "active") or [])
        active ^= {rng.randrange(len(labels))}  # tick or untick one box
        return [("active", sorted(active))]
    if kind == "multichoice":
        return _multichoice_move(rng, models, model_id)
    return None


def _option_value(option):
    return option[0] if isinstance(option, list | tuple) and option else option


def _slider_value(rng, start, end, step, value):
    """A value on the slider's grid (start + k·step), in range, not the current one."""
    if start is None or end is None or not step or end <= start:
        return None
    steps = int(round((end - start) / step))
    integers = all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end, step))
    decimals = max(0, -int(f"{float(step):e}".split("e")[1])) + 2
    for _ in range(64):
        k = rng.randint(0, steps)
        new = start + k * step if integers else round(min(end, start + k * step), decimals)
        if new != value and start <= new <= end:
            return new
    return None


def _multichoice_move(rng, models, model_id):
    """Add an option or take one off (never the last: an empty choice shows nothing)."""
    options = [_option_value(option) for option in models.get(model_id, "options") or []]
    value = list(models.get(model_id, "value") or [])
    most = models.get(model_id, "max_items") or len(options)
    addable = [option for option in options if option not in value]
    can_add = bool(addable) and len(value) < most
    can_remove = len(value) > 1
    if not (can_add or can_remove):
        return None
    if can_add and (not can_remove or rng.random() < 0.5):
        return [("value", [*value, rng.choice(addable)])]
    value.pop(rng.randrange(len(value)))
    return [("value", value)]


def pick_move(rng: random.Random, models: DocumentModels, base: tuple[str, ...], controls):
    """A move on one of ``controls`` that a user can make now, chosen with ``rng``:
    (control, model id, changes), or None when none is shown, enabled and movable."""
    choices = []
    for control in controls:
        chain = resolve(models, base, control)
        if chain is None or not shown(models, chain):
            continue
        changes = choose_move(rng, models, chain[-1])
        if changes is not None:
            choices.append((control, chain[-1], changes))
    return rng.choice(choices) if choices else None


def patch_content(model_id: str, changes: Iterable[tuple[str, object]]) -> dict:
    """A PATCH-DOC's content: one ModelChanged event per attribute, as BokehJS sends."""
    return {
        "events": [
            {"kind": "ModelChanged", "model": {"id": model_id}, "attr": attr, "new": new}
            for attr, new in changes
        ]
    }


# -- in-process: where each control is, and which controls redraw ---------------------------


class ServedDashboard:
    """A dashboard built into a Bokeh document as a served session builds it, with a
    client's copy of the document (``models``) kept current from the encoded patches.

    ``move`` applies a client's PATCH-DOC content the way the server does
    (``Document.apply_json_patch``) and returns the ids of the models that changed."""

    def __init__(self, slug: str):
        import panel as pn
        from bokeh.protocol import Protocol
        from panel.io.state import set_curdoc

        from attnviz.bench import served_document
        from attnviz.dashboards import get

        self._set_curdoc = set_curdoc
        self.document = served_document()  # as a connected session's
        with set_curdoc(self.document):
            self.dashboard = get(slug).factory()
            layout = pn.Column(pn.pane.HTML("← all lessons"), self.dashboard)
            root = layout.get_root(self.document)
            self.document.add_root(root)
        self.models = DocumentModels(self.document.to_json().content)
        self.touched: set[str] = set()
        protocol = Protocol()

        def encode(event) -> None:
            if not hasattr(event, "to_serializable"):
                return  # a session callback added, not a change a browser is sent
            message = protocol.create("PATCH-DOC", [event])
            self.touched |= self.models.apply_patch(message.content)

        self.document.on_change(encode)
        self.controls, self.base = self._locate_controls(root.ref["id"])

    def _input_model(self, widget, root_id: str) -> str | None:
        """The id of the one input model a Panel widget draws (None if not exactly one)."""
        drawn = getattr(widget, "_models", {}).get(root_id)
        if not drawn or drawn[0].id not in self.models:
            return None
        found = {
            chain[-1]
            for chain in self.models.walk()
            if drawn[0].id in chain and self.models.type_name(chain[-1]) in INPUT_KINDS
        }
        return found.pop() if len(found) == 1 else None

    def _locate_controls(self, root_id: str) -> tuple[list[Control], tuple[str, ...]]:
        chains = {}
        for name, widget in self.dashboard.controls.items():
            model_id = self._input_model(widget, root_id)
            chain = next((c for c in self.models.walk() if c[-1] == model_id), None)
            if chain is not None:
                chains[name] = chain
        if not chains:
            return [], ()
        ends = list(chains.values())
        prefix = 0  # the deepest layout above every control: the dashboard's own
        while all(len(c) > prefix + 1 and c[prefix] == ends[0][prefix] for c in ends):
            prefix += 1
        base = ends[0][:prefix]
        controls = []
        for name, chain in chains.items():
            path = [
                self.models.children(parent).index(child)
                for parent, child in zip(chain[prefix - 1 : -1], chain[prefix:], strict=True)
            ]
            model_id = chain[-1]
            controls.append(
                Control(
                    name, tuple(path), self.models.type_name(model_id), self.models.label(model_id)
                )
            )
        return controls, base

    def move(self, model_id: str, changes) -> set[str]:
        """Apply a client's move as the server applies a PATCH-DOC; the ids it changed."""
        self.touched = set()
        content = patch_content(model_id, changes)
        with self._set_curdoc(self.document):
            self.document.apply_json_patch(content, setter=self)
        self.models.apply_patch(content)  # the client's copy takes its own move
        return set(self.touched)


def discover(slug: str, *, seed: int = 0, moves_per_control: int = 6, rounds: int = 4):
    """The controls of ``slug`` whose every move redraws something, and those left out.

    Returns (controls, dropped): dropped maps a control's name to why it was left out.
    """
    dropped: dict[str, str] = {}
    keep: list[Control] | None = None
    for round_ in range(rounds):
        served = ServedDashboard(slug)
        if keep is None:
            keep = list(served.controls)
            found = {control.name for control in keep}
            for name in served.dashboard.controls:
                if name not in found:
                    dropped[name] = NOT_IN_FIRST_VIEW
        rng = random.Random(f"{seed}:{slug}:{round_}")
        dropped_now = walk(served, keep, rng, moves_per_control * len(keep), dropped)
        keep = [control for control in keep if control.name not in dropped_now]
        if not dropped_now:
            break
    return keep, dropped


def walk(served: ServedDashboard, controls: list[Control], rng, moves: int, dropped) -> set:
    """Random moves on ``served``; the names of the controls that moved without redrawing."""
    live = list(controls)
    now_dropped = set()
    for _ in range(moves):
        picked = pick_move(rng, served.models, served.base, live)
        if picked is None:
            break
        control, model_id, changes = picked
        if not redraws(served.models, served.move(model_id, changes)):
            now_dropped.add(control.name)
            dropped[control.name] = f"moving it to {changes[0][1]!r} redrew nothing"
            live.remove(control)
    return now_dropped


def move_plan(slugs: Iterable[str], *, seed: int = 0) -> dict[str, dict]:
    """For each dashboard: the controls a student moves (as JSON) and those left out."""
    plan = {}
    for slug in slugs:
        controls, dropped = discover(slug, seed=seed)
        plan[slug] = {"controls": [c.to_json() for c in controls], "dropped": dropped}
    return plan
