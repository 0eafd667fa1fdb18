"""Table entries for the maps area (see promise.table)."""

from __future__ import annotations

from .kinds import Entry

ENTRIES: list[Entry] = []

EXCLUDED: dict[str, str] = {}
