"""The registry of lesson dashboards: what the served index lists.

A lesson module registers its dashboard class with ``@register(...)``; the
served index, ``attnviz bench`` and the tests all read the same registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class DashboardEntry:
    """One lesson's dashboard: where it is served and what it shows."""

    slug: str  # URL path under the served index, e.g. "soft_lookup"
    title: str
    description: str  # one line, shown on the index page
    lesson: str  # the notebook that embeds it, e.g. "01_attention_is_lookup"
    factory: Callable  # () -> a Panel viewable; called once per browser session


_REGISTRY: dict[str, DashboardEntry] = {}


def register(*, slug: str, title: str, description: str, lesson: str):
    """Class decorator that adds a dashboard to the served index."""
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise ValueError(f"slug must be lowercase letters, digits, '_' or '-', got {slug!r}")

    def decorate(factory):
        if slug in _REGISTRY and _REGISTRY[slug].factory is not factory:
            raise ValueError(f"slug {slug!r} is already registered by {_REGISTRY[slug].factory}")
        _REGISTRY[slug] = DashboardEntry(slug, title, description, lesson, factory)
        factory.slug = slug
        factory.title = title
        factory.description = description
        return factory

    return decorate


def entries() -> list[DashboardEntry]:
    """Every registered dashboard, in lesson order."""
    return sorted(_REGISTRY.values(), key=lambda entry: (entry.lesson, entry.slug))


def get(slug: str) -> DashboardEntry:
    """The entry served at ``slug``; ValueError lists the known slugs otherwise."""
    try:
        return _REGISTRY[slug]
    except (KeyError, TypeError):
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"no dashboard with slug {slug!r}; known slugs: {known}") from None
