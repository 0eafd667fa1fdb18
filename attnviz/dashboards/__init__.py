"""Lesson dashboards. Importing this package registers every one of them."""

from attnviz.dashboards.associative_memory import AssociativeMemoryDashboard
from attnviz.dashboards.attention_maps import AttentionMapsDashboard
from attnviz.dashboards.dsf_explorer import DSFExplorer
from attnviz.dashboards.head_jobs import HeadJobs
from attnviz.dashboards.receptive_fields import ReceptiveFields
from attnviz.dashboards.registry import DashboardEntry, entries, get, register
from attnviz.dashboards.soft_lookup import SoftLookup

__all__ = [
    "AssociativeMemoryDashboard",
    "AttentionMapsDashboard",
    "DSFExplorer",
    "DashboardEntry",
    "HeadJobs",
    "ReceptiveFields",
    "SoftLookup",
    "entries",
    "get",
    "register",
]
