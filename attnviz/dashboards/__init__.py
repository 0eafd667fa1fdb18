"""Lesson dashboards: one Panel viewer per lesson, in ``attnviz.dashboards.<stem>``.

Each lesson of the manifest (``attnviz.lessons``) that has a dashboard names its class,
``<Stem>Dashboard``; ``from attnviz.dashboards import DSFDashboard`` imports it from its
module on first use, so a new lesson needs no line here. The registry
(``entries()``, ``get(slug)``) is what the served index lists.
"""

from __future__ import annotations

from typing import Any

from attnviz.dashboards.registry import DashboardEntry, entries, get, lesson_dashboard, register
from attnviz.lessons import LESSONS

# earlier names of the dashboard classes, kept so that old notebooks still run
RENAMED = {
    "SoftLookup": "SoftLookupDashboard",
    "HeadJobs": "HeadJobsDashboard",
    "ReceptiveFields": "ReceptiveFieldsDashboard",
    "DSFExplorer": "DSFDashboard",
}
_CLASSES = {lesson.dashboard: lesson for lesson in LESSONS if lesson.dashboard}


def __getattr__(name: str) -> Any:
    lesson = _CLASSES.get(RENAMED.get(name, name))
    if lesson is None:
        raise AttributeError(f"module 'attnviz.dashboards' has no attribute {name!r}")
    return lesson_dashboard(lesson)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_CLASSES))


__all__ = [*_CLASSES, "DashboardEntry", "entries", "get", "lesson_dashboard", "register"]
