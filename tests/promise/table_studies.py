"""Table entries for the studies area (see promise.table)."""

from __future__ import annotations

from .kinds import Entry

ENTRIES: list[Entry] = []

EXCLUDED: dict[str, str] = {}
