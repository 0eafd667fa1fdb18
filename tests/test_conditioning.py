"""conditioning: Rescorla–Wagner, closed forms, Hebbian vs delta memories (lesson 05)."""

import dataclasses
import doctest
import time

import numpy as np
import pytest

from attnviz import conditioning
from attnviz.conditioning import (
    DIVERGENT_RATE,
    EXPERIMENTS,
    RULES,
    ConditioningResult,
    Experiment,
    ExperimentResult,
    Phase,
    Trial,
    acquisition_curve,
    blocking_control_limit,
    compound_curve,
    conditioned_inhibition_limit,
    expand_schedule,
    extinction_curve,
    format_schedule,
    largest_rate,
    overshadowing_curve,
    parse_schedule,
    run,
)

TOL = 1e-12


def test_module_docstring_example_runs():
    result = doctest.testmod(conditioning)
    assert result.attempted >= 3 and result.failed == 0


# --- closed forms ------------------------------------------------------------------------


def test_acquisition_textbook_value():
    assert acquisition_curve(10, alpha=0.5, beta=0.2)[-1] == pytest.approx(0.6513215599, abs=1e-9)
    assert round(acquisition_curve(10, alpha=0.5, beta=0.2)[-1], 3) == 0.651


@pytest.mark.parametrize("rule", ["rescorla_wagner", "delta"])
@pytest.mark.parametrize("alpha, beta, lam", [(0.5, 0.2, 1.0), (0.3, 0.9, 2.5), (1.0, 1.0, -1.0)])
def test_acquisition_equals_closed_form(rule, alpha, beta, lam):
    result = run("30 A+", rule=rule, saliences={"A": alpha}, beta=beta, lam=lam)
    expected = acquisition_curve(30, alpha=alpha, beta=beta, lam=lam)
    np.testing.assert_allclose(result.strength("A"), expected, rtol=0, atol=TOL)


@pytest.mark.parametrize("rule", ["rescorla_wagner", "delta"])
def test_extinction_equals_closed_form(rule):
    result = run("extinction", rule=rule)["experimental"]
    start = result.phase_starts[1]
    v0 = result.strength("A")[start]
    expected = extinction_curve(20, v0=v0, alpha=0.5, beta=0.4)
    np.testing.assert_allclose(result.strength("A")[start:], expected, rtol=0, atol=TOL)
    assert result.final()["A"] < 0.02 < 0.98 < v0


@pytest.mark.parametrize("rule", ["rescorla_wagner", "delta"])
@pytest.mark.parametrize("alpha_a, alpha_b, beta", [(0.8, 0.2, 0.4), (0.3, 0.6, 0.9)])
def test_overshadowing_equals_closed_form(rule, alpha_a, alpha_b, beta):
    saliences = {"A": alpha_a, "B": alpha_b}
    result = run("25 AB+", rule=rule, saliences=saliences, beta=beta)
    expected = overshadowing_curve(25, alpha_a=alpha_a, alpha_b=alpha_b, beta=beta)
    np.testing.assert_allclose(result.strengths, expected, rtol=0, atol=TOL)


def test_blocking_phase_2_and_overexpectation_phase_2_equal_compound_curve():
    for name, group in (("blocking", "experimental"), ("overexpectation", "experimental")):
        result = run(name)[group]
        start = result.phase_starts[1]
        expected = compound_curve(
            result.n_trials - start,
            result.saliences,
            result.beta,
            start=result.at(start),
        )
        np.testing.assert_allclose(result.strengths[start:], expected, rtol=0, atol=TOL)


def test_blocking_control_reaches_its_limit():
    result = run("blocking", beta=0.4)["control"]
    assert result.final()["B"] == pytest.approx(blocking_control_limit(0.5, 0.5), abs=1e-4)
    skewed = run("200 AB+", saliences={"A": 0.9, "B": 0.3}, beta=0.5, lam=2.0)
    assert skewed.final()["B"] == pytest.approx(blocking_control_limit(0.9, 0.3, 2.0), abs=TOL)


# --- the claims of the experiments -------------------------------------------------------


@pytest.mark.parametrize("rule", ["rescorla_wagner", "delta"])
def test_delta_rule_shows_blocking(rule):
    result = run("blocking", rule=rule)
    blocked = result["experimental"].final()["B"]
    learned = result["control"].final()["B"]
    assert abs(blocked) < 0.01
    assert learned > 0.45
    assert result["experimental"].phase_end(0)["B"] == 0.0


def test_hebbian_memory_shows_no_blocking():
    result = run("blocking", rule="hebbian")
    blocked = result["experimental"].final()["B"]
    learned = result["control"].final()["B"]
    assert blocked > 1.0
    assert blocked == pytest.approx(learned, rel=1e-12)


def test_delta_rule_shows_blocking_hebbian_does_not():
    delta = run("blocking", rule="delta")
    hebbian = run("blocking", rule="hebbian")

    def ratio(r):
        return r["experimental"].final()["B"] / r["control"].final()["B"]

    assert ratio(delta) < 0.05
    assert ratio(hebbian) > 0.95


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_delta_memory_equals_rescorla_wagner_trial_by_trial(name):
    # Unequal saliences, so the √α key scaling matters.
    saliences = {s: a for s, a in zip(EXPERIMENTS[name].saliences, (0.7, 0.3), strict=False)}
    rw = run(name, saliences=saliences, beta=0.6, lam=1.5)
    delta = run(name, rule="delta", saliences=saliences, beta=0.6, lam=1.5)
    for group in rw.groups:
        np.testing.assert_allclose(delta[group].strengths, rw[group].strengths, rtol=0, atol=TOL)
        np.testing.assert_allclose(delta[group].errors, rw[group].errors, rtol=0, atol=TOL)


def test_delta_memory_read_out_is_the_key_of_the_stimulus_alone():
    saliences = {"A": 0.9, "B": 0.25}
    result = run("5 A+ | 5 AB+", rule="delta", saliences=saliences, beta=0.5)
    scale = np.sqrt([0.9, 0.25])
    np.testing.assert_allclose(result.strengths, result.memory * scale, rtol=0, atol=0)
    # the bare basis vector reads V / √α, which differs from V unless α = 1
    assert not np.allclose(result.memory, result.strengths)
    assert run("5 A+", rule="rescorla_wagner").memory is None


def test_hebbian_memory_is_the_outer_product_sum():
    saliences = {"A": 0.5, "B": 0.2}
    result = run("3 A+ | 4 AB+ | 2 B-", rule="hebbian", saliences=saliences, beta=0.3, lam=2.0)
    keys = result.presence * np.sqrt([0.5, 0.2])  # (T, n)
    expected = 0.3 * (result.us[:, None] * keys).sum(axis=0)  # Σ β v kᵀ
    np.testing.assert_allclose(result.memory[-1], expected, rtol=0, atol=TOL)


def test_overshadowing_more_salient_cue_takes_larger_share():
    result = run("overshadowing")
    final = result["experimental"].final()
    assert final["A"] > final["B"] > 0
    assert final["A"] + final["B"] == pytest.approx(1.0, abs=1e-3)
    assert final["A"] / final["B"] == pytest.approx(0.8 / 0.2, rel=1e-9)
    assert result["control"].final()["B"] > 3 * final["B"]


@pytest.mark.parametrize("rule", ["rescorla_wagner", "delta"])
def test_conditioned_inhibition_makes_x_negative(rule):
    result = run("conditioned_inhibition", rule=rule)["experimental"]
    x = result.strength("X")
    assert x[-1] < 0
    limit = conditioned_inhibition_limit()
    assert result.final()["X"] == pytest.approx(limit["X"], abs=1e-3)
    assert result.final()["A"] == pytest.approx(limit["A"], abs=1e-3)
    long = run("500 A+ AX-", saliences={"A": 0.5, "X": 0.5}, beta=0.4, lam=2.0, rule=rule)
    assert long.final()["X"] == pytest.approx(-2.0, abs=1e-9)


def test_hebbian_memory_learns_no_inhibition():
    result = run("conditioned_inhibition", rule="hebbian")["experimental"]
    assert result.final()["X"] == 0.0


@pytest.mark.parametrize("rule", ["rescorla_wagner", "delta"])
def test_overexpectation_lowers_both_cues(rule):
    result = run("overexpectation", rule=rule)["experimental"]
    before, after = result.phase_end(0), result.final()
    for s in ("A", "B"):
        assert before[s] > 0.95
        assert after[s] < before[s] - 0.4
        phase_3 = result.strength(s)[result.phase_starts[1] :]
        assert np.all(np.diff(phase_3) < 0)  # falls on every reinforced AB+ trial


def test_hebbian_memory_does_not_extinguish():
    result = run("extinction", rule="hebbian")["experimental"]
    assert result.final()["A"] == result.phase_end(0)["A"] > 0


@pytest.mark.parametrize(("alpha", "converges"), [(0.45, True), (0.9, True), (1.0, False)])
def test_the_delta_rule_diverges_once_beta_times_the_compounds_salience_reaches_two(
    alpha, converges
):
    # repeating AB multiplies the prediction error by 1 − β Σα: 0.1, −0.8, then −1 (never
    # settles); a third stimulus at α = 1 makes it −2
    saliences = {"A": alpha, "B": alpha, "C": 1.0}
    result = run("5 C- | 60 AB+", rule="delta", saliences=saliences, beta=1.0)
    rate = largest_rate(result)
    assert rate == pytest.approx(max(2 * alpha, 1.0))  # the AB trials, or C alone
    assert (rate < DIVERGENT_RATE) == converges
    assert (abs(result.errors[-1]) < 1e-3) == converges
    unstable = run("10 ABC+", rule="delta", saliences=1.0, beta=1.0)
    assert largest_rate(unstable) == 3.0 > DIVERGENT_RATE
    assert abs(unstable.errors[-1]) == 2**9 * abs(unstable.errors[0])  # |1 − 3| per trial


def test_an_experiments_largest_rate_is_its_groups_largest():
    result = run("blocking", beta=0.5)  # AB+ in both groups, α = 0.5 each: β Σα = 0.5
    assert largest_rate(result) == max(largest_rate(g) for g in result.groups.values()) == 0.5
    with pytest.raises(TypeError, match="result must be a ConditioningResult or an Experiment"):
        largest_rate("blocking")


def test_every_experiment_is_complete():
    assert set(EXPERIMENTS) == {
        "acquisition",
        "extinction",
        "blocking",
        "overshadowing",
        "conditioned_inhibition",
        "overexpectation",
    }
    assert set(EXPERIMENTS["blocking"].groups) == {"experimental", "control"}
    assert len(EXPERIMENTS["blocking"].groups["control"]) == 1  # phase 2 without phase 1
    assert (
        EXPERIMENTS["blocking"].groups["control"][0]
        == EXPERIMENTS["blocking"].groups["experimental"][1]
    )
    assert (
        EXPERIMENTS["overshadowing"].saliences["A"] != EXPERIMENTS["overshadowing"].saliences["B"]
    )
    for experiment in EXPERIMENTS.values():
        assert experiment.claim and "\n" not in experiment.claim
        assert experiment.focus in experiment.saliences
        for rule in RULES:
            result = run(experiment, rule=rule)
            assert isinstance(result, ExperimentResult)
            assert set(result.groups) == set(experiment.groups)


def test_result_shapes():
    result = run("blocking")["experimental"]
    assert isinstance(result, ConditioningResult)
    assert result.stimuli == ("A", "B")
    assert result.n_trials == 40
    assert result.strengths.shape == (41, 2)
    assert result.errors.shape == result.us.shape == (40,)
    assert result.presence.shape == (40, 2)
    assert result.phase_starts == (0, 20, 40)
    assert np.all(result.strengths[0] == 0)
    assert result.errors[0] == 1.0
    assert "0.994" in repr(run("blocking"))


def test_experiment_parameters_can_be_overridden():
    base = run("blocking")
    assert base["control"].beta == 0.4
    slow = run("blocking", beta=0.1, saliences={"B": 0.2}, lam=2.0)
    assert slow["control"].saliences == {"A": 0.5, "B": 0.2}
    assert slow["control"].lam == 2.0
    assert slow["experimental"].final()["B"] > base["experimental"].final()["B"]
    same = run("blocking", saliences=0.3)
    assert same["control"].saliences == {"A": 0.3, "B": 0.3}


def test_user_built_experiment_runs():
    latent = Experiment(
        name="my_blocking",
        claim="Blocking with a second blocked cue.",
        groups={"experimental": "20 A+ | 10 ABX+", "control": [Phase("ABX+", 10)]},
        saliences={"A": 0.5, "B": 0.5, "X": 0.5},
        beta=0.5,
        focus="X",
    )
    result = run(latent)
    assert result["experimental"].final()["X"] < 0.01 < 0.3 < result["control"].final()["X"]
    changed = dataclasses.replace(EXPERIMENTS["blocking"], beta=0.9)
    assert run(changed)["control"].beta == 0.9


def test_saliences_order_the_columns_and_may_name_absent_stimuli():
    result = run("5 A+", saliences={"X": 0.5, "A": 0.5, "B": 0.5})
    assert result.stimuli == ("X", "A", "B")
    assert result.final()["X"] == result.final()["B"] == 0.0


def test_run_is_fast_enough_for_a_slider():
    for name in EXPERIMENTS:
        for rule in RULES:
            run(name, rule=rule)  # warm up
            best = min(_timed(lambda n=name, r=rule: run(n, rule=r)) for _ in range(5))
            assert best < 0.010, (name, rule, best)


def _timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


# --- schedules ---------------------------------------------------------------------------


def test_schedule_parse_and_format_round_trip():
    text = "pretraining: 20 A+ | compound: 20 AB+ | 5 AX- A+ | 1 LightTone+"
    schedule = parse_schedule(text)
    assert format_schedule(schedule) == text
    assert parse_schedule(format_schedule(schedule)) == schedule
    for experiment in EXPERIMENTS.values():
        for s in experiment.groups.values():
            assert parse_schedule(format_schedule(s)) == s


def test_schedule_text_is_canonicalised():
    assert format_schedule(parse_schedule("20 A+|BA+")) == "20 A+ | 1 AB+"
    assert format_schedule("  3   XA-   A+ ") == "3 AX- A+"
    assert parse_schedule("3 AB+") == (Phase((Trial(frozenset({"A", "B"}), True),), 3),)


def test_schedule_equivalent_forms():
    phases = parse_schedule("2 A+ AX-")
    assert phases == (Phase(("A+", "AX-"), 2),)
    assert phases == (Phase([("A", True), ("AX", False)], repeats=2),)
    assert phases == (Phase("A+ AX-", 2),)
    assert phases == (Phase([Trial.parse("A+"), Trial({"X", "A"}, False)], 2),)
    assert [str(t) for t in expand_schedule(phases)] == ["A+", "AX-", "A+", "AX-"]
    assert str(Trial.parse("ToneLight+")) == "LightTone+"
    assert Trial.parse("ToneLight+").stimuli == {"Tone", "Light"}


def test_run_accepts_phases_and_text_alike():
    a = run("pretraining: 20 A+ | compound: 20 AB+")
    b = run([Phase("A+", 20, "pretraining"), Phase("AB+", 20, "compound")])
    np.testing.assert_array_equal(a.strengths, b.strengths)
    assert run(Phase("A+", 10)).final(3) == {"A": 0.651}


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, -0.1, 1.01, float("nan"), float("inf")])
def test_beta_outside_open_zero_to_one_is_refused(beta):
    with pytest.raises(ValueError, match=r"beta"):
        run("blocking", beta=beta)
    with pytest.raises(ValueError, match=r"beta"):
        run("5 A+", beta=beta)


def test_beta_one_is_allowed():
    assert run("1 A+", saliences={"A": 1.0}, beta=1.0).final() == {"A": 1.0}


@pytest.mark.parametrize(
    "alpha, allowed",
    [(0.0, r"\(0, 1\]"), (-0.5, r"\(0, 1\]"), (1.5, r"\(0, 1\]"), (np.nan, "finite")],
)
def test_salience_outside_open_zero_to_one_is_refused(alpha, allowed):
    with pytest.raises(ValueError, match=r"saliences\['B'\] must be .*" + allowed):
        run("5 AB+", saliences={"A": 0.5, "B": alpha})
    with pytest.raises(ValueError, match=r"saliences\['B'\]"):
        run("blocking", saliences={"B": alpha})


@pytest.mark.parametrize("lam", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_lambda_is_refused(lam):
    with pytest.raises(ValueError, match=r"lam must be finite"):
        run("blocking", lam=lam)


def test_wrong_types_are_refused():
    with pytest.raises(TypeError, match="beta"):
        run("5 A+", beta="0.5")
    with pytest.raises(TypeError, match="saliences"):
        run("5 A+", saliences=["A"])
    with pytest.raises(TypeError, match="schedule_or_experiment"):
        run(42)
    with pytest.raises(TypeError, match="us"):
        Trial("A", 1)


def test_unknown_stimulus_is_refused():
    with pytest.raises(ValueError, match=r"'C'.*saliences.*\('A', 'B'\)"):
        run("5 AC+", saliences={"A": 0.5, "B": 0.5})
    with pytest.raises(ValueError, match=r"groups\['experimental'\].*'C'"):
        Experiment("x", "claim", {"experimental": "5 C+"}, {"A": 0.5})


def test_unknown_experiment_is_refused():
    with pytest.raises(
        ValueError, match=r"schedule_or_experiment.*'blocking'.*'latent_inhibition'"
    ):
        run("latent_inhibition")


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match=r"rule must be one of .*'rescorla_wagner'.*'hebb'"):
        run("blocking", rule="hebb")


@pytest.mark.parametrize(
    "text, match",
    [
        ("", r"schedule must hold at least one phase"),
        ("20 A+ |", r"phase 2 must hold trials"),
        ("0 A+", r"repeats must be a positive integer, got 0"),
        ("-3 A+", r"repeats must be a positive integer, got -3"),
        ("20 A", r"trial must be .*'\+' \(US\).*got 'A'"),
        ("20 a+", r"trial must be .*got 'a\+'"),
        ("20 +", r"trial must be"),
        ("200000 A+", r"repeats must be an integer in \[1, 100000\]"),
        ("60000 A+ | 60000 A-", r"at most 100000 trials"),
    ],
)
def test_bad_schedule_text_is_refused(text, match):
    with pytest.raises(ValueError, match=match):
        parse_schedule(text)


def test_bad_phases_and_trials_are_refused():
    with pytest.raises(ValueError, match=r"stimuli must name at least one stimulus"):
        Trial("", True)
    with pytest.raises(ValueError, match=r"stimuli must name at least one stimulus"):
        Trial(frozenset(), False)
    with pytest.raises(ValueError, match=r"stimuli must be stimulus names.*'ab'"):
        Trial("ab", True)
    with pytest.raises(ValueError, match=r"trials must hold at least one trial"):
        Phase((), 3)
    with pytest.raises(ValueError, match=r"repeats must be an integer in \[1, "):
        Phase("A+", 0)
    with pytest.raises(ValueError, match=r"name must not contain"):
        Phase("A+", 2, "a|b")
    with pytest.raises(ValueError, match="schedule_or_experiment must hold at least one phase"):
        run([])


def test_closed_form_arguments_are_checked():
    with pytest.raises(ValueError, match="n_trials"):
        acquisition_curve(-1, alpha=0.5, beta=0.2)
    with pytest.raises(ValueError, match="alpha_b"):
        blocking_control_limit(0.5, 0.0)
    with pytest.raises(ValueError, match="start names 'C'"):
        compound_curve(3, {"A": 0.5}, 0.2, start={"C": 1.0})


@pytest.mark.parametrize("rule", ["delta", "hebbian"])
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_the_memories_are_attnviz_memory_with_keys_sqrt_alpha_e_x(rule, name):
    """The conditioning memories are the lesson's AssociativeMemory rules: stimulus X
    has the key √α_X e_X, the US is the value (times β for the Hebbian rule, which has no
    rate of its own in attnviz.memory), and V_X is the read-out S k_X."""
    import torch

    from attnviz.conditioning import expand_schedule
    from attnviz.memory import write_all

    experiment = EXPERIMENTS[name]
    for group, schedule in experiment.groups.items():
        result = run(name, rule=rule)[group]
        trials = expand_schedule(schedule)
        scale = np.sqrt([experiment.saliences[s] for s in result.stimuli])
        keys = [[scale[i] * (s in t.stimuli) for i, s in enumerate(result.stimuli)] for t in trials]
        rate = experiment.beta if rule == "hebbian" else 1.0
        values = [[rate * experiment.lam * t.us] for t in trials]
        states = write_all(
            torch.tensor(keys, dtype=torch.float64),
            torch.tensor(values, dtype=torch.float64),
            rule,
            beta=experiment.beta,
        )  # (T + 1, 1, n)
        np.testing.assert_allclose(states[:, 0].numpy() * scale, result.strengths, atol=1e-12)


def test_a_diverging_compound_is_refused_not_returned_as_inf():
    with pytest.raises(ValueError, match="compound_curve overflowed.*DIVERGENT_RATE"):
        conditioning.compound_curve(100_000, dict.fromkeys("ABCDEFGH", 1.0), beta=1.0)
    with pytest.raises(ValueError, match="overflowed.*DIVERGENT_RATE"):
        conditioning.run("100000 ABCDEFGH+", saliences=1.0, beta=1.0, rule="delta")
