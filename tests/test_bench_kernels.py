"""attnviz bench --kernels: rows per (method, length), refusals and skips said, targets judged."""

import json

import pytest

from attnviz import bench_kernels as bk
from attnviz.cli import main
from attnviz.memory_budget import memory_budget_of

KEYS = {"method", "seq_len", "seconds", "first_call_seconds", "repeats", "peak_bytes"}
KEYS |= {"refused", "skipped", "threads"}


def _row(method, seq_len, seconds=None, peak_bytes=None):
    return {"method": method, "seq_len": seq_len, "seconds": seconds, "peak_bytes": peak_bytes}


def test_the_speedup_target_divides_the_parallel_time_by_the_chunkwise_time():
    rows = [_row("linear_parallel", 16384, 2.0), _row("chunkwise_linear", 16384, 0.1)]
    target = bk.speedup_target(rows)
    assert target["speedup"] == 20.0 and target["met"] is True
    rows[1]["seconds"] = 0.4
    assert bk.speedup_target(rows) | {"speedup": 5.0, "met": False} == bk.speedup_target(rows)


def test_a_refused_parallel_form_leaves_the_speedup_unmeasured_and_says_why():
    rows = [_row("chunkwise_linear", 16384, 0.1), _row("linear_parallel", 16384)]
    rows[1] |= {"refused": "over the memory budget: ...", "skipped": None}
    target = bk.speedup_target(rows)
    assert target["met"] is None and target["speedup"] is None
    assert target["not_measured"] == "linear_parallel at 16,384 tokens: over the memory budget: ..."
    assert "was not run" in bk.speedup_target(rows[:1])["not_measured"]


def test_memory_is_linear_when_the_peak_grows_as_the_length():
    rows = [_row("chunkwise_linear", n, 1.0, 1000 * n) for n in (1024, 4096, 16384)]
    target = bk.memory_target(rows)
    assert target["exponent"] == 1.0 and target["met"] is True
    assert target["between"] == [4096, 16384]
    quadratic = [_row("chunkwise_linear", n, 1.0, n * n) for n in (1024, 4096)]
    assert bk.memory_target(quadratic) | {"exponent": 2.0, "met": False} == bk.memory_target(
        quadratic
    )
    assert bk.memory_target(rows[1:2])["met"] is None  # one length: nothing to fit


def test_a_length_predicted_past_the_run_limit_is_skipped_not_run(monkeypatch):
    calls = []

    def fake(name, seq_len, *, repeats):
        calls.append((seq_len, repeats))
        return 3e-6 * seq_len**2, 1e-6 * seq_len**2  # first call, median

    monkeypatch.setattr(bk, "first_and_median", fake)
    rows = bk.bench_method(
        "online_softmax", (512, 1024, 2048, 4096), max_run_seconds=5.0, peak=False
    )
    # 512: 0.26 s a call; 1024 predicted 1.05 s and 2048 4.2 s (over 1 s: one cold call
    # each, no warm-up); 4096 predicted 16.8 s
    assert calls == [(512, 3), (1024, 0), (2048, 0)]
    assert [r["repeats"] for r in rows[:3]] == [3, 0, 0]
    assert rows[3]["skipped"] == "about 16.8 s a call predicted, over 5 s"
    assert rows[3]["seconds"] is None and "compile_seconds" not in rows[0]
    assert all(set(row) == KEYS for row in rows)


def test_a_compiling_method_reports_its_compile_apart_from_its_seconds(monkeypatch):
    monkeypatch.setattr(bk, "first_and_median", lambda name, n, *, repeats: (17.5, 0.5))
    (row,) = bk.bench_method("flex_sparse", (1024,), peak=False)
    assert row["seconds"] == 0.5 and row["compile_seconds"] == 17.0
    assert row["first_call_seconds"] == 17.5


def test_the_reference_past_the_budget_is_a_refusal_with_its_estimate():
    with memory_budget_of("64MB"):
        rows = bk.bench_method("reference", (256, 2048, 65536), peak=True, max_run_seconds=2.0)
    assert rows[0]["seconds"] > 0 and rows[0]["peak_bytes"] > 0
    assert rows[1]["seconds"] is None and rows[1]["peak_bytes"] is None
    assert rows[1]["refused"].startswith("over the memory budget: the (2048, 2048) scores")
    assert "would need about 101 MB" in rows[1]["refused"]
    # 65,536 tokens is predicted far past the run limit, but refused, not skipped: the
    # library is asked again after a refusal, and says so at once with its estimate
    assert rows[2]["skipped"] is None and "would need about 103 GB" in rows[2]["refused"]


def test_the_command_writes_json_rows_and_the_two_targets(tmp_path, capsys):
    out = tmp_path / "kernels.json"
    argv = ["bench", "--kernels", "--lengths", "256", "128", "--method", "sdpa"]
    assert main([*argv, "--method", "reference", "--json", "--output", str(out)]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)  # progress goes to stderr: one line a row
    assert [line.split()[:2] for line in captured.err.splitlines()] == [
        ["sdpa", "128"], ["sdpa", "256"], ["reference", "128"], ["reference", "256"],
    ]  # fmt: skip
    assert json.loads(out.read_text(encoding="utf-8")) == rows
    measured, targets = rows[:-2], rows[-2:]
    assert [(r["method"], r["seq_len"]) for r in measured] == [
        ("sdpa", 128), ("sdpa", 256), ("reference", 128), ("reference", 256),
    ]  # fmt: skip
    for row in measured:
        assert set(row) == KEYS and row["seconds"] > 0 and row["peak_bytes"] >= 0
    assert [t["met"] for t in targets] == [None, None]  # no linear attention was asked for
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["method", "tokens", "seconds"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--lengths", "1024"], "--lengths needs --kernels"),
        (["bench", "--method", "sdpa"], "--method needs --kernels"),
        (["bench", "--kernels", "--classroom", "2"], "--kernels and --classroom"),
        (["bench", "--kernels", "--lengths", "0"], "lengths must be integers in [1, 65536]"),
        (["bench", "--kernels", "--method", "fast"], "method must be one of"),
    ],
)
def test_bad_kernel_arguments_are_one_line_and_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_a_parallel_form_refused_at_16k_is_timed_for_the_target_under_a_raised_budget(
    monkeypatch,
):
    from attnviz.memory_budget import memory_budget

    budgets, before = [], memory_budget()

    def fake(name, seq_len, *, repeats):
        budgets.append((name, seq_len, memory_budget()))
        return 2.5, 2.0

    monkeypatch.setattr(bk, "first_and_median", fake)
    refused = _row("linear_parallel", 16384) | {"refused": "over the memory budget: 3.22 GB"}
    rows = [_row("chunkwise_linear", 16384, 0.1), refused]
    parallel = bk.parallel_at_target_length(rows, peak=False)
    assert budgets == [("linear_parallel", 16384, 4 * 10**9)]
    assert memory_budget() == before  # raised for that call alone
    target = bk.speedup_target(rows, parallel)
    assert target["speedup"] == 20.0 and target["met"] is True
    assert target["budget"].startswith("raised to 4GB for this target only")
    assert target["budget"].endswith("over the memory budget: 3.22 GB")
    assert bk.parallel_at_target_length(rows[:1]) is None  # not asked for: nothing run
