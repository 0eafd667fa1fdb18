"""Lesson 07's measured cost: every method computes the same head, and the live sweep keeps
to its time and memory budgets (counted with a fake clock, never timed)."""

import pytest
import torch

from attnviz import fast_kernels as fk
from attnviz.kernels.masks import make_mask
from attnviz.kernels.softmax import scaled_dot_product_attention
from attnviz.memory_budget import check_bytes, memory_budget_of, tensor_bytes

SOFTMAX = [name for name, method in fk.METHODS.items() if method.family == "softmax"]


def _float64_inputs(seq_len, seed=0):
    return tuple(x.double() for x in fk.make_inputs(seq_len, d=16, seed=seed))


def test_the_methods_are_the_lessons_six():
    assert set(fk.METHODS) == {
        "reference", "online_softmax", "sdpa", "linear_parallel", "chunkwise_linear",
        "flex_sparse",
    }  # fmt: skip
    assert set(fk.DEFAULT_METHODS) == set(fk.METHODS) - {"flex_sparse"}
    assert {fk.METHODS[name].time_exponent for name in ("chunkwise_linear", "flex_sparse")} == {1}


@pytest.mark.parametrize("seq_len", [1, 37, 300])
@pytest.mark.parametrize("name", SOFTMAX)
def test_every_softmax_method_computes_causal_softmax_attention(name, seq_len):
    q, k, v = _float64_inputs(seq_len)
    expected = scaled_dot_product_attention(q, k, v, causal=True).output
    output = fk.METHODS[name].run(q, k, v)
    assert output.shape == (1, 1, seq_len, 16)
    torch.testing.assert_close(output, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("seq_len", [1, 64, 200])
def test_chunkwise_linear_attention_equals_the_parallel_form(seq_len):
    q, k, v = _float64_inputs(seq_len, seed=1)
    parallel = fk.METHODS["linear_parallel"].run(q, k, v)
    chunkwise = fk.METHODS["chunkwise_linear"].run(q, k, v)
    assert chunkwise.shape == parallel.shape == (1, 1, seq_len, 16)
    torch.testing.assert_close(chunkwise, parallel, rtol=1e-10, atol=1e-10)
    # and both are the decayed sum o_t = Σ_{s<=t} λ^(t-s) (q_t·k_s) v_s, written out
    t = torch.arange(seq_len, dtype=torch.float64)
    decay = torch.where(t[:, None] >= t, fk.DECAY ** (t[:, None] - t), 0.0)  # (T, T)
    expected = ((q @ k.transpose(-2, -1)) * decay) @ v
    torch.testing.assert_close(parallel, expected, rtol=1e-10, atol=1e-10)


def test_flex_sparse_attends_within_its_sliding_window():
    seq_len = fk.WINDOW + 44  # the window bites: the last queries cannot see key 0
    q, k, v = fk.make_inputs(seq_len, d=16)
    mask = torch.from_numpy(make_mask("sliding_window", window=fk.WINDOW).dense(seq_len))
    expected = scaled_dot_product_attention(q, k, v, mask).output
    output = fk.METHODS["flex_sparse"].run(q, k, v)
    torch.testing.assert_close(output, expected, rtol=1e-5, atol=1e-5)  # float32
    causal = scaled_dot_product_attention(q, k, v, causal=True).output
    assert not torch.allclose(output[..., -1, :], causal[..., -1, :], atol=1e-3)


def test_make_inputs_are_seeded_and_shaped_as_one_head():
    q, k, v = fk.make_inputs(10, d=4, seed=3)
    assert q.shape == k.shape == v.shape == (1, 1, 10, 4) and q.dtype == torch.float32
    assert torch.equal(q, fk.make_inputs(10, d=4, seed=3)[0])
    assert not torch.equal(q, k)


class FakeClock:
    """A clock that only moves when a fake kernel runs: c · T^p seconds a call."""

    def __init__(self):
        self.now = 0.0
        self.calls = []

    def __call__(self):
        return self.now

    def method(self, name, cost, exponent, refuse_above=None):
        def run(q, k, v):
            seq_len = q.shape[-2]
            if refuse_above is not None and seq_len > refuse_above:
                check_bytes(f"the ({seq_len}, {seq_len}) weights", 10**15)
            self.calls.append((name, seq_len))
            self.now += cost * seq_len**exponent
            return v

        return fk.KernelMethod(name, name, "softmax", exponent, "", run)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(fk, "_clock", fake)
    methods = {
        "quadratic": fake.method("quadratic", 1e-6, 2, refuse_above=1024),
        "linear": fake.method("linear", 1e-4, 1),
    }
    monkeypatch.setattr(fk, "METHODS", methods)
    return fake


def test_the_sweep_stops_each_method_before_its_share_of_the_budget(clock):
    lengths = (64, 128, 256, 512, 1024, 2048)
    rows = fk.cost_against_length(("quadratic", "linear"), lengths, time_budget=2.0, repeats=3)
    assert [(r["method"], r["seq_len"]) for r in rows] == [
        (name, n) for name in ("quadratic", "linear") for n in lengths
    ]
    for name in ("quadratic", "linear"):
        method_calls = [n for m, n in clock.calls if m == name]
        cost = {"quadratic": lambda n: 1e-6 * n**2, "linear": lambda n: 1e-4 * n}[name]
        assert sum(cost(n) for n in method_calls) <= 1.0  # its share: 2 s / 2 methods
        measured = [r["seq_len"] for r in rows if r["method"] == name and r["seconds"]]
        assert method_calls == [n for n in measured for _ in range(4)]  # warm-up + 3 repeats
    quadratic = {r["seq_len"]: r for r in rows if r["method"] == "quadratic"}
    # 4 calls at 256 cost 0.26 s; 512 would cost 1.05 s more: stopped, not run, not refused
    assert [n for n, r in quadratic.items() if r["seconds"]] == [64, 128, 256]
    assert quadratic[512]["stopped"].startswith("about 1 s predicted")
    assert quadratic[512]["seconds"] is None and quadratic[512]["refused"] is None
    linear = {r["seq_len"]: r for r in rows if r["method"] == "linear"}
    # 4 calls at each of 64..512 cost 0.38 s, at 1024 0.41 s more; 2048 would pass 1 s
    assert [n for n, r in linear.items() if r["seconds"]] == [64, 128, 256, 512, 1024]
    assert linear[2048]["stopped"] is not None
    assert linear[64]["seconds"] == pytest.approx(1e-4 * 64)


def test_a_first_length_past_the_share_stops_repeating_after_one_timed_call(clock):
    # a busy machine: 1,024 tokens cost 1.05 s a call, past the whole 1 s budget
    rows = fk.cost_against_length(("quadratic",), (1024, 2048), time_budget=1.0, repeats=5)
    assert clock.calls == [("quadratic", 1024)] * 2  # the warm-up and one timed call
    assert rows[0]["seconds"] == pytest.approx(1e-6 * 1024**2)
    assert rows[1]["stopped"] is not None and rows[1]["seconds"] is None


def test_the_sweep_records_the_librarys_refusal_and_does_not_run_past_it(clock):
    rows = fk.cost_against_length(("quadratic",), (512, 1024, 2048, 4096), time_budget=1e3)
    by_length = {r["seq_len"]: r for r in rows}
    assert by_length[1024]["seconds"] is not None
    for n in (2048, 4096):
        assert by_length[n]["seconds"] is None
        assert by_length[n]["refused"].startswith("over the memory budget: the (")
        assert "over attnviz's memory budget" in by_length[n]["refused"]
    assert max(n for _, n in clock.calls) == 1024


def test_an_error_that_is_not_the_budget_is_not_recorded_as_a_refusal(clock, monkeypatch):
    def broken(q, k, v):
        raise ValueError("q must be finite")

    monkeypatch.setitem(fk.METHODS, "broken", fk.KernelMethod("broken", "", "", 2, "", broken))
    with pytest.raises(ValueError, match="q must be finite"):
        fk.cost_against_length(("broken",), (16,))


def test_the_reference_is_refused_by_the_real_memory_budget():
    with memory_budget_of("8MB"):  # 1024² scores and weights need about 25 MB
        rows = fk.cost_against_length(("reference", "sdpa"), (64, 1024), time_budget=30.0)
    by_key = {(r["method"], r["seq_len"]): r for r in rows}
    assert by_key["reference", 64]["seconds"] > 0
    assert "(1024, 1024) scores and weights" in by_key["reference", 1024]["refused"]
    assert by_key["sdpa", 1024]["seconds"] > 0  # PyTorch's fused form holds no (T, T)


def test_peak_memory_of_the_reference_grows_with_its_weights():
    peak = fk.peak_memory("reference", 1024, d=16)
    assert peak >= tensor_bytes(1024, 1024, dtype=torch.float32)  # at least one (T, T)
    assert fk.peak_memory("sdpa", 256, d=16) >= 0


def test_peak_memory_runs_under_this_process_budget():
    with memory_budget_of("8MB"), pytest.raises(ValueError, match="over attnviz's memory"):
        fk.peak_memory("reference", 1024, d=16)


def test_time_method_gives_a_positive_median():
    assert fk.time_method("sdpa", 128, d=8, repeats=2) > 0
    first, median = fk.first_and_median("chunkwise_linear", 64, d=8, repeats=0)
    assert first == median > 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fk.time_method("fast", 8), "method must be one of"),
        (lambda: fk.time_method("sdpa", 0), "seq_len must be an integer in [1, 65536]"),
        (lambda: fk.time_method("sdpa", 8, repeats=0), "repeats must be an integer in [1, 100]"),
        (lambda: fk.cost_against_length(("sdpa",), (64, 32)), "lengths must be a non-empty"),
        (lambda: fk.cost_against_length(("sdpa", "sdpa"), (8,)), "methods must be distinct"),
        (lambda: fk.cost_against_length("sdpa", (8,)), "methods must be a sequence"),
        (lambda: fk.cost_against_length(time_budget=0), "time_budget must be in (0, 3600]"),
        (lambda: fk.peak_memory("sdpa", 8, timeout=-1), "timeout must be in (0, 3600]"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    assert message in str(error.value)
