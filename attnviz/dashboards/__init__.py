"""Lesson dashboards. Importing this package registers every one of them."""

from attnviz.dashboards.registry import DashboardEntry, entries, get, register
from attnviz.dashboards.soft_lookup import SoftLookup

__all__ = ["DashboardEntry", "SoftLookup", "entries", "get", "register"]
