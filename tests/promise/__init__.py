"""The argument promise, tested over the whole public API.

The README promises: every public function checks its arguments and raises a
ValueError or TypeError that names the argument, the value and what is allowed. This
package states, once per public callable, what each argument is (``table_*.py``, joined
in :mod:`promise.table`), generates valid, extreme and hostile values from those kinds
(:mod:`promise.kinds`) and runs each call under the memory budget and a deadline
(:mod:`promise.guard`). ``tests/test_api_promise.py`` runs it with hypothesis in CI;
``tools/fuzz_api.py`` runs the full deterministic sweep and prints the counts.
"""
