"""The argument promise over the whole public API (tests/promise says how).

For every entry of the one table: a deterministic sweep of every argument's extreme,
hostile and empty values, then hypothesis' valid draws. Each call runs under the memory
budget (set small here, so a missing estimate shows fast) and a deadline.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from promise.cases import sweep, valid_case, violation
from promise.table import EXCLUDED, TABLE, public_api

from attnviz.memory_budget import memory_budget_of

BUDGET = "256MB"
IDS = [f"{entry.name.removeprefix('attnviz.')}#{i}" for i, entry in enumerate(TABLE)]
SETTINGS = dict(
    deadline=None, database=None, derandomize=True,
    suppress_health_check=list(HealthCheck), print_blob=False,
)  # fmt: skip


def test_every_public_callable_has_an_entry():
    covered = {entry.name for entry in TABLE} | set(EXCLUDED)
    missing = [name for name in public_api() if name not in covered]
    assert not missing, f"{len(missing)} public callables have no table entry: {missing}"


def test_every_entry_and_exclusion_names_a_public_callable():
    api = set(public_api())
    stale = sorted({entry.name for entry in TABLE} - api) + sorted(set(EXCLUDED) - api)
    assert not stale, f"entries for names that are not public callables: {stale}"


@pytest.mark.parametrize("entry", TABLE, ids=IDS)
def test_sweep_keeps_the_promise(entry):
    broken: list[str] = []

    @settings(max_examples=1, **SETTINGS)
    @given(data=st.data())
    def run(data):
        with memory_budget_of(BUDGET):
            for case in sweep(data, entry):
                problem = violation(case, case.run())
                if problem:
                    broken.append(f"{case.describe()}: {problem}")

    run()
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("entry", TABLE, ids=IDS)
def test_valid_draws_keep_the_promise(entry):
    @settings(max_examples=entry.examples, **SETTINGS)
    @given(data=st.data())
    def run(data):
        case = valid_case(data, entry)
        with memory_budget_of(BUDGET):
            problem = violation(case, case.run())
        assert problem is None, f"{case.describe()}: {problem}"

    run()
