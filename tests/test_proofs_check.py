"""The proofs_check framework: planted claims, snippets, statuses, registry, CLI, strategies,
and every registered claim (all papers) run with a small budget."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as hst

import fairmg as fm
import proofs_check as pc
from proofs_check import Case, Verdict, assume, check_claim, claim, strategies as st
from proofs_check.cli import main as cli_main, parse_notes
from proofs_check.exact import is_markov_potential


def _rebuild(report):
    """Exec the counterexample snippet; return its namespace."""
    ns: dict = {}
    code = report.counterexample.snippet.rsplit("\nprint(", 1)[0]
    exec(compile(code, "<snippet>", "exec"), ns)
    return ns


def _same_game(a, b):
    return (a.action_sizes == b.action_sizes and a.gamma == b.gamma
            and np.array_equal(a.transition, b.transition)
            and np.array_equal(a.rewards, b.rewards) and np.array_equal(a.initial, b.initial)
            and ((a.potential is None and b.potential is None)
                 or np.array_equal(a.potential, b.potential)))


# ----------------------------------------------------------------- planted claims

@claim("test/false-gap", paper="planted", strategy=st.games(n_agents=2, max_states=3))
def _false_gap(g):
    """False: the uniform policy is a 0.05-Nash policy."""
    return Verdict.leq(fm.nash_gap(g, fm.ProductPolicy.uniform(g)), 0.05)


@claim("test/true-gap", paper="planted",
       strategy=st.cases(game=st.games(n_agents=(1, 3), max_states=3), policy=st.policies()))
def _true_gap(c):
    """True: Nash-gap <= 1/(1-gamma) for rewards in [0, 1]."""
    return Verdict.leq(fm.nash_gap(c.game, c.policy), 1 / (1 - c.game.gamma))


@claim("test/false-policy", paper="planted",
       strategy=st.cases(game=st.games(kind="potential", max_states=2),
                         policy=st.policies(), theta=st.logits()))
def _false_policy(c):
    """False: V^0 of any policy <= 0.6 / (1 - gamma)."""
    return Verdict.leq(fm.evaluate(c.game, c.policy).value_at_initial[0],
                       0.6 / (1 - c.game.gamma))


@claim("test/mostly-filtered", paper="planted", strategy=hst.integers(0, 1000))
def _mostly_filtered(k):
    """Only multiples of 50 pass the assumption."""
    assume(k % 50 == 0)
    return Verdict.leq(0.0, 1.0)


@claim("test/raises", paper="planted", strategy=hst.integers(0, 10))
def _raises(k):
    """A broken check."""
    if k > 3:
        raise RuntimeError("broken check")
    return Verdict.leq(0.0, 1.0)


@claim("test/nan", paper="planted", strategy=hst.integers(0, 10))
def _nan(k):
    """A check producing NaN."""
    return Verdict.leq(float("nan") if k > 2 else 0.0, 1.0)


def test_planted_false_claim_is_refuted_with_small_counterexample():
    rep = check_claim("test/false-gap", max_examples=100, seed=0)
    assert rep.status == "refuted" and rep.counterexample is not None
    g = rep.counterexample.instance
    assert g.n_states == 1                    # shrunk to the smallest game
    assert not rep.counterexample.verdict.holds
    assert "fm.MarkovGame(" in rep.counterexample.snippet
    assert "refuted" in str(rep)


def test_planted_true_claim_is_verified():
    rep = check_claim("test/true-gap", max_examples=40, seed=0)
    assert rep.status == "verified"
    assert rep.examples_run == 40 and rep.worst_slack >= 0 and rep.counterexample is None


@pytest.mark.parametrize("cid", ["test/false-gap", "test/false-policy"])
def test_snippet_rebuilds_the_instance(cid):
    rep = check_claim(cid, max_examples=100, seed=1)
    assert rep.status == "refuted"
    ns = _rebuild(rep)
    inst, orig = ns["instance"], rep.counterexample.instance
    if isinstance(orig, Case):
        assert _same_game(inst.game, orig.game)
        np.testing.assert_array_equal(inst.policy.probs, orig.policy.probs)
        np.testing.assert_array_equal(inst.theta, orig.theta)
        assert inst.policy.game is inst.game       # games become one variable
    else:
        assert _same_game(inst, orig)
    again = pc.get_claim(cid)(inst)
    assert not again.holds and again.lhs == rep.counterexample.verdict.lhs


@settings(max_examples=5, deadline=None)
@given(st.games(draw="seed", kind="potential"))
def test_seeded_game_snippet_is_the_random_game_call(g):
    code = pc.to_code(g)
    assert code.startswith("fm.games.random_game(")
    assert _same_game(eval(code, {"fm": fm}), g)


def test_mostly_filtered_claim_is_inconclusive_not_verified():
    rep = check_claim("test/mostly-filtered", max_examples=30, seed=0)
    assert rep.status == "inconclusive"
    assert rep.filtered > rep.examples_run
    assert any("filtered" in n or "passed the assumptions" in n or "gave up" in n
               for n in rep.notes)


@pytest.mark.parametrize("cid", ["test/raises", "test/nan"])
def test_errors_are_reported_with_the_instance(cid):
    rep = check_claim(cid, max_examples=30, seed=0)
    assert rep.status == "error" and not rep.ok
    assert rep.counterexample is not None and rep.error


def test_ci_profile_is_derandomized_and_thorough_profile_runs():
    a = check_claim("test/true-gap", max_examples=10)
    b = check_claim("test/true-gap", max_examples=10)
    assert a.worst_slack == b.worst_slack
    t = check_claim("test/true-gap", profile="thorough", max_examples=5, seed=3)
    assert t.profile == "thorough" and t.status == "verified"
    with pytest.raises(ValueError):
        check_claim("test/true-gap", profile="nope")


# ----------------------------------------------------------------- verdicts

def test_verdict_relations_and_tolerance():
    v = Verdict.leq([0.0, 1.0 + 1e-12, 0.5], [1.0, 1.0, 1.0], atol=1e-9, rtol=0.0)
    assert v.holds and v.lhs == 1.0 + 1e-12 and v.slack < 0 and "index (1,)" in v.detail
    assert not Verdict.leq(1.1, 1.0, atol=1e-9, rtol=0.0).holds
    assert Verdict.leq(1.1, 1.0, atol=0.06, rtol=0.0, scale=2.0).holds
    assert Verdict.geq(2.0, 1.0).slack == 1.0
    c = Verdict.close(np.ones(3), np.ones(3) + [0, 1e-6, 0], atol=0.0, rtol=1e-3)
    assert c.holds and c.slack == pytest.approx(-1e-6)
    assert not Verdict.close(1.0, 1.1, atol=1e-3, rtol=0.0).holds
    with pytest.raises(pc.NonFiniteError):
        Verdict.leq(float("inf"), 1.0)
    w = Verdict.worst(a=Verdict.leq(0.0, 1.0), b=Verdict.leq(2.0, 1.0))
    assert not w.holds and w.detail.startswith("b:")


def test_claim_tolerance_is_used_by_the_verdict_constructors():
    @claim("test/tol", paper="planted", strategy=hst.just(0), atol=0.5)
    def loose(_):
        """Within atol."""
        return Verdict.leq(1.4, 1.0)
    assert loose(0).holds and loose(0).atol == 0.5
    assert not Verdict.leq(1.4, 1.0).holds        # outside a claim: the default tolerance


def test_explicit_examples_run_first_and_are_reported():
    # false only at 10**6, which the integer search below never draws
    @claim("test/needle", paper="planted", strategy=hst.integers(0, 1000),
           examples=lambda: [10 ** 6])
    def needle(x):
        """x < 10**6."""
        return Verdict.leq(x, 10 ** 6 - 1)
    rep = check_claim("test/needle", profile="ci")
    assert rep.status == "refuted" and rep.counterexample.instance == 10 ** 6
    assert any("explicit examples" in n for n in rep.notes)
    pc.REGISTRY.pop("test/needle")
    bare = claim("test/needle", paper="planted", strategy=hst.integers(0, 1000))(needle.check)
    assert check_claim(bare, profile="ci").status == "verified"
    pc.REGISTRY.pop("test/needle")


def test_registry_rejects_a_different_function_under_an_existing_id():
    with pytest.raises(ValueError):
        @claim("test/true-gap", paper="planted", strategy=hst.just(0))
        def other(_):
            return Verdict.leq(0, 1)


def test_every_claim_module_is_discovered():
    pc.load_claims()
    files = {p.stem for p in (Path(pc.__file__).parent / "claims").glob("*.py")
             if p.stem != "__init__"}
    modules = {c.module.rsplit(".", 1)[-1] for c in pc.all_claims()
               if c.module.startswith("proofs_check.claims.")}
    broken = {m.rsplit(".", 1)[-1] for m in pc.load_errors()}
    assert files == modules | broken
    assert not broken, pc.load_errors()


# ----------------------------------------------------------------- strategies

@settings(max_examples=15, deadline=None)
@given(st.games(kind="potential", max_states=3, n_agents=(2, 3)))
def test_potential_games_are_mpgs(g):
    assert is_markov_potential(g, samples=6, rng=0)
    assert g.rewards.min() >= 0 and g.rewards.max() <= 1


def test_general_games_are_not_mpgs_with_their_first_reward_as_phi():
    g = fm.games.random_game(2, (2, 2), 0.9, rng=0)
    chk = is_markov_potential(g, g.rewards[0], samples=8, rng=0)
    assert not chk and chk.agent == 1 and chk.max_violation > 1e-3


def test_dummy_term_with_action_dependent_transitions_breaks_definition_2_2():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(2), size=(2, 4))
    phi = rng.random((2, 4))
    with pytest.raises(ValueError):
        st.potential_game(P, phi, 0.9, (2, 2), dummies=[None, rng.random((2, 2))])
    R = np.stack([phi, phi + np.repeat(rng.random((2, 2)), 2, axis=1)])   # u^1(s, a_0)
    g = fm.MarkovGame(P, R, 0.9, action_sizes=(2, 2), potential=phi)
    assert not is_markov_potential(g, samples=8, rng=0)


def test_shaping_terms_keep_definition_2_2_with_action_dependent_transitions():
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(3), size=(3, 6))
    g = st.potential_game(P, rng.random((3, 6)), 0.8, (2, 3),
                          shaping=rng.normal(size=(2, 3)))
    assert not np.allclose(g.rewards[0], g.rewards[1])
    assert is_markov_potential(g, samples=8, rng=0)


@settings(max_examples=10, deadline=None)
@given(st.cases(game=st.games(n_agents=2, max_states=2), theta=st.logits(),
                eta=st.step_sizes(0.1, 1.0), frac=st.fractions(0.2, 0.5)))
def test_cases_draw_dependent_fields(c):
    assert c.theta.shape == (2, c.game.n_states, c.game.max_actions)
    assert np.all(c.theta[~np.broadcast_to(c.game.action_mask[:, None, :],
                                           c.theta.shape)] == 0)
    assert 0.1 <= c.eta <= 1.0 and 0.2 <= c.frac <= 0.5
    assert eval(repr(c), {"np": np, "fm": fm, "Case": Case}).eta == c.eta


# ----------------------------------------------------------------- CLI

def test_cli_list_and_run_json(capsys):
    assert cli_main(["list", "--paper", "mpg_pg"]) == 0
    assert "mpg_pg/lemma-3.2" in capsys.readouterr().out
    assert cli_main(["run", "--claim", "test/false-gap", "--examples", "30", "--seed",
                     "0", "--json"]) == 0               # a refutation is not an error
    out = json.loads(capsys.readouterr().out)
    assert out["reports"][0]["status"] == "refuted"
    assert "fm.MarkovGame" in out["reports"][0]["counterexample"]["snippet"]
    assert cli_main(["run", "--claim", "test/raises", "--examples", "20"]) == 1
    assert "error" in capsys.readouterr().out


def test_cli_table_merges_notes(tmp_path, capsys):
    notes = tmp_path / "notes.md"
    notes.write_text("# notes\n\n## test/true-gap\nA hand-kept note.\n")
    out = tmp_path / "CLAIMS.md"
    assert cli_main(["table", "--claim", "test/true-gap", "--claim", "test/false-gap",
                     "--examples", "20", "--seed", "0", "--out", str(out),
                     "--notes", str(notes)]) == 0
    text = out.read_text()
    assert "A hand-kept note." in text and "| `test/false-gap` |" in text
    assert "**refuted**" in text and "```python" in text
    assert parse_notes(notes.read_text()) == {"test/true-gap": "A hand-kept note."}


# ----------------------------------------------------------------- every claim

#: Examples per registered claim in CI (small: this runs every paper's claims).
CI_EXAMPLES = 3
pc.load_claims()
REGISTERED = [c.id for c in pc.all_claims() if not c.id.startswith("test/")]


@pytest.mark.parametrize("cid", REGISTERED)
def test_every_registered_claim_runs(cid):
    rep = check_claim(cid, max_examples=CI_EXAMPLES)
    assert rep.status in ("verified", "refuted", "inconclusive"), str(rep)
    if rep.status == "refuted":
        assert rep.counterexample is not None and not rep.counterexample.verdict.holds
    assert math.isfinite(rep.time_s)
