"""The one table: every public callable of the library and the kind of each argument.

The entries live by area in ``table_<area>.py`` (each a list named ``ENTRIES`` and a
dict ``EXCLUDED`` of public names that take no checked arguments, with the reason);
this module joins them. :func:`public_api` lists what the table must cover, so a new
public function without an entry fails ``test_every_public_callable_has_an_entry``.

The public API is every name a library module exports (its ``__all__``, or its public
functions and classes) and every public method of those classes that takes arguments.
The server's own machinery (``attnviz serve``, ``attnviz bench`` and the classroom load
test) is reached through the command line, whose arguments ``tests/test_cli.py`` checks.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from . import (
    table_dashboards,
    table_kernels,
    table_long_context,
    table_maps,
    table_models,
    table_studies,
)
from .kinds import Entry

PARTS = (
    table_kernels, table_studies, table_models, table_maps, table_dashboards, table_long_context,
)  # fmt: skip

#: Modules that serve and measure the app, not the library a learner calls.
SERVER_MODULES = frozenset({
    "allocator", "bench", "bench_kernels", "bench_targets", "binder_proxy", "classroom", "cli",
    "deep_links", "deploy", "health", "index_page", "moves", "notebook_setup", "origins",
    "printed_numbers", "processes", "serve", "sessions", "student", "__main__",
})  # fmt: skip

TABLE: list[Entry] = [entry for part in PARTS for entry in part.ENTRIES]
EXCLUDED: dict[str, str] = {name: why for part in PARTS for name, why in part.EXCLUDED.items()}


def _modules() -> list[str]:
    import attnviz
    import attnviz.kernels

    names = []
    for package, prefix in ((attnviz, "attnviz."), (attnviz.kernels, "attnviz.kernels.")):
        for info in pkgutil.walk_packages(package.__path__, prefix):
            private = any(part.startswith("_") for part in info.name.split("."))
            if not private and info.name.split(".")[1] not in SERVER_MODULES:
                names.append(info.name)
    return sorted(set(names))


def _exported(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    found = []
    for name in names:
        obj = getattr(module, name, None)
        if callable(obj) and getattr(obj, "__module__", None) == module.__name__:
            found.append(name)
    return found


def _methods(cls) -> list[str]:
    methods = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if not inspect.isfunction(function):
            continue
        parameters = [p for p in inspect.signature(function).parameters if p not in ("self", "cls")]
        if parameters:
            methods.append(name)
    return methods


def public_api() -> list[str]:
    """Dotted names of every public function, class and method with arguments."""
    names = []
    for module_name in _modules():
        module = importlib.import_module(module_name)
        for name in _exported(module):
            obj = getattr(module, name)
            names.append(f"{module_name}.{name}")
            if inspect.isclass(obj):
                names += [f"{module_name}.{name}.{m}" for m in _methods(obj)]
    return names


def entries_by_name() -> dict[str, list[Entry]]:
    table: dict[str, list[Entry]] = {}
    for entry in TABLE:
        table.setdefault(entry.name, []).append(entry)
    return table
