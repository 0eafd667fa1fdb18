"""The registry of dashboards: what the served index lists.

The course's dashboards come from the lesson manifest (``attnviz.lessons``): a lesson with
a ``dashboard`` is served at its stem, and its class is imported from
``attnviz.dashboards.<stem>`` the first time the registry is read. ``register`` adds a
dashboard of your own beside them. The served index, ``attnviz bench`` and the tests all
read ``entries()``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from attnviz.lessons import LESSONS, Lesson
from attnviz.validation import check_text

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class DashboardEntry:
    """One dashboard: where it is served and what it shows."""

    slug: str  # URL path under the served index, e.g. "soft_lookup"
    title: str
    description: str  # one line, shown on the index page
    lesson: str  # the notebook that embeds it, e.g. "01_attention_is_lookup"
    factory: Callable  # () -> a Panel viewable; called once per browser session

    def __post_init__(self) -> None:
        for name in ("slug", "title", "description", "lesson"):
            check_text(name, getattr(self, name), empty=name == "description")
        if not callable(self.factory):
            raise TypeError(f"factory must be callable (a dashboard class), got {self.factory!r}")


_REGISTERED: dict[str, DashboardEntry] = {}  # dashboards added with register()


def lesson_dashboard(lesson: Lesson) -> type:
    """The dashboard class of a lesson of the manifest (``attnviz.dashboards.<stem>``)."""
    if not isinstance(lesson, Lesson):
        raise TypeError(f"lesson must be an attnviz.lessons.Lesson, got {lesson!r}")
    if lesson.dashboard is None:
        raise ValueError(f"lesson {lesson.number} ({lesson.stem}) has no dashboard")
    module = importlib.import_module(f"attnviz.dashboards.{lesson.stem}")
    return getattr(module, lesson.dashboard)


@cache
def _lesson_entries() -> tuple[DashboardEntry, ...]:
    return tuple(
        DashboardEntry(
            slug=lesson.stem,
            title=lesson.index_title,
            description=lesson.summary,
            lesson=lesson.notebook.removesuffix(".ipynb"),
            factory=lesson_dashboard(lesson),
        )
        for lesson in LESSONS
        if lesson.dashboard is not None
    )


def register(*, slug: str, title: str, description: str, lesson: str):
    """Class decorator that adds a dashboard of your own to the served index."""
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise ValueError(f"slug must be lowercase letters, digits, '_' or '-', got {slug!r}")
    check_text("title", title)
    check_text("description", description, empty=True)
    check_text("lesson", lesson)

    def decorate(factory):
        taken = {entry.slug: entry for entry in _lesson_entries()} | _REGISTERED
        if slug in taken and taken[slug].factory is not factory:
            raise ValueError(f"slug {slug!r} is already registered by {taken[slug].factory}")
        _REGISTERED[slug] = DashboardEntry(slug, title, description, lesson, factory)
        return factory

    return decorate


def entries() -> list[DashboardEntry]:
    """Every dashboard: the lessons' in course order, then any registered ones by slug."""
    return [*_lesson_entries(), *sorted(_REGISTERED.values(), key=lambda entry: entry.slug)]


def get(slug: str) -> DashboardEntry:
    """The entry served at ``slug``; ValueError lists the known slugs otherwise."""
    check_text("slug", slug)
    for entry in entries():
        if entry.slug == slug:
            return entry
    known = ", ".join(sorted(entry.slug for entry in entries())) or "none"
    raise ValueError(f"no dashboard with slug {slug!r}; known slugs: {known}")


__all__ = ["DashboardEntry", "entries", "get", "lesson_dashboard", "register"]
