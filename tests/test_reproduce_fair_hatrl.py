"""The cleaning commons (``fm.games.commons``) and the ``fair-hatrl`` figure (000 Sec. 5.2).

The game is checked against transitions and rewards worked out by hand and against value
closed forms (geometric sums) of deterministic cases; the figure's CSV is checked against
independent runs of the dynamics and ``fm.evaluate`` / ``fm.fairness.gini``.
"""
import csv
import re
import warnings

import numpy as np
import pytest

import fairmg as fm
from fairmg.dynamics import trust_region as tr


# -- the game ----------------------------------------------------------------------------
def _joint(*acts):
    return int(np.ravel_multi_index(acts, (2,) * len(acts)))


def test_one_step_by_hand():
    g = fm.games.commons()           # 2 agents, yields (1, .6, .2, 0), dirt .6, gamma .9
    assert g.n_states == 4 and g.action_sizes == (2, 2) and g.gamma == 0.9
    np.testing.assert_array_equal(g.initial, [1, 0, 0, 0])
    # level 1, agent 0 cleans, agent 1 harvests: dirtier (0.6) -> 2 - 1 = 1, else 1 - 1 = 0
    a = _joint(0, 1)
    np.testing.assert_allclose(g.transition[1, a], [0.4, 0.6, 0, 0])
    np.testing.assert_allclose(g.rewards[:, 1, a], [0.0, 0.6])
    # level 0, both harvest: 0 -> 1 with 0.6; the apples split evenly
    a = _joint(1, 1)
    np.testing.assert_allclose(g.transition[0, a], [0.4, 0.6, 0, 0])
    np.testing.assert_allclose(g.rewards[:, 0, a], [0.5, 0.5])
    # last level, both harvest: stays (capped), yield 0
    np.testing.assert_allclose(g.transition[3, a], [0, 0, 0, 1])
    np.testing.assert_allclose(g.rewards[:, 3, a], [0, 0])
    # level 3, both clean: 3 - 2 = 1 either way; nobody is paid
    a = _joint(0, 0)
    np.testing.assert_allclose(g.transition[3, a], [0, 1, 0, 0])
    np.testing.assert_allclose(g.rewards[:, 3, a], [0, 0])
    np.testing.assert_allclose(g.transition[0, a], [1, 0, 0, 0])   # floored at 0


def test_three_agents_against_the_rules_written_out():
    y = np.array([2.0, 1.0, 0.5, 0.25, 0.0])
    g = fm.games.commons(3, yields=y, dirt=0.3, gamma=0.8, start=2)
    L = len(y)
    for s in range(L):
        for acts in np.ndindex(2, 2, 2):
            a = _joint(*acts)
            c = acts.count(0)
            want = np.zeros(L)
            want[max(min(s + 1, L - 1) - c, 0)] += 0.3
            want[max(s - c, 0)] += 0.7
            np.testing.assert_allclose(g.transition[s, a], want, atol=1e-15)
            for i in range(3):
                r = y[s] / (3 - c) if acts[i] == 1 else 0.0
                assert g.rewards[i, s, a] == pytest.approx(r, abs=1e-15)
    assert g.initial[2] == 1.0


def test_values_by_geometric_sums():
    gamma = 0.9
    # dirt 1: one cleaner keeps the river at 0 forever; the harvester earns 1 per step
    g = fm.games.commons(yields=(1.0, 0.6, 0.2, 0.1), dirt=1.0, gamma=gamma)
    pol = fm.ProductPolicy.deterministic(g, np.array([[0] * 4, [1] * 4]))
    np.testing.assert_allclose(fm.evaluate(g, pol).value_at_initial, [0.0, 1 / (1 - gamma)],
                               rtol=1e-12)
    # nobody cleans: levels 0, 1, 2, 3, 3, ...; each gets half the yield
    pol = fm.ProductPolicy.deterministic(g, np.ones((2, 4), int))
    v = 0.5 * (1.0 + 0.6 * gamma + 0.2 * gamma ** 2 + 0.1 * gamma ** 3 / (1 - gamma))
    np.testing.assert_allclose(fm.evaluate(g, pol).value_at_initial, [v, v], rtol=1e-12)
    # dirt 0: the river never changes
    g0 = fm.games.commons(3, dirt=0.0, gamma=gamma, start=1)
    pol = fm.ProductPolicy.deterministic(g0, np.ones((3, 4), int))
    np.testing.assert_allclose(fm.evaluate(g0, pol).value_at_initial,
                               [0.6 / 3 / (1 - gamma)] * 3, rtol=1e-12)


@pytest.mark.parametrize("n", [2, 3])
def test_the_tension_welfare_optimum_is_unequal(n):
    g = fm.games.commons(n)
    opt = fm.social_optimum(g)
    assert opt.value == pytest.approx(1 / (1 - g.gamma), rel=1e-9)   # yields[0] forever
    v = fm.evaluate(g, opt.policy).value_at_initial
    assert v.min() == pytest.approx(0.0, abs=1e-9)                     # someone cleans
    # the equal split (everyone mixes 50/50) costs welfare
    u = fm.evaluate(g, fm.ProductPolicy.uniform(g)).value_at_initial
    assert np.ptp(u) < 1e-12 and u.sum() < 0.9 * opt.value


def test_claims_use_the_public_game():
    from proofs_check.claims import alpha_fair as claims
    a, b = claims._commons(), fm.games.commons()
    np.testing.assert_array_equal(a.transition, b.transition)
    np.testing.assert_array_equal(a.rewards, b.rewards)


@pytest.mark.parametrize("kw, err, word", [
    (dict(n_agents=0), ValueError, "n_agents"), (dict(n_agents=9), ValueError, "n_agents"),
    (dict(n_agents=True), TypeError, "n_agents"), (dict(yields=(1.0,)), ValueError, "yields"),
    (dict(yields=(1.0, -0.1)), ValueError, "yields[1]"),
    (dict(yields=(1.0, np.nan)), ValueError, "yields"), (dict(dirt=1.5), ValueError, "dirt"),
    (dict(gamma=1.0), ValueError, "gamma"), (dict(start=4), ValueError, "start"),
])
def test_bad_arguments_are_named(kw, err, word):
    with pytest.raises(err, match=re.escape(word)):
        fm.games.commons(**kw)


# -- the figure --------------------------------------------------------------------------
def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


@pytest.fixture(scope="module")
def quick_figure(tmp_path_factory):
    from fairmg.reproduce import reproduce
    out = tmp_path_factory.mktemp("fair_hatrl")
    paths = reproduce("fair-hatrl", out, quick=True, progress=False, workers=1)
    return paths, _rows(paths[1])


def test_quick_figure_writes_png_csv_notes(quick_figure):
    from fairmg.reproduce import fair_hatrl as F
    paths, rows = quick_figure
    assert [p.name for p in paths] == ["fair-hatrl.png", "fair-hatrl.csv", "fair-hatrl.md"]
    assert paths[0].stat().st_size > 20_000
    notes = paths[2].read_text()
    assert "QUICK" in notes and "Against the paper" in notes and "Higher alpha fairer" in notes
    configs = {(r["method"], r["alpha"]) for r in rows}
    want = {(m, "none" if a is None else f"{a:g}") for m in ("hatrpo", "happo")
            for a in F.ALPHAS} | {("alg1", f"{a:g}") for a in F.ALG1_ALPHAS}
    assert configs == want
    assert {int(r["t"]) for r in rows} == set(range(F.QUICK["iters"] + 1))
    assert {int(r["seed"]) for r in rows} == set(range(F.QUICK["seeds"]))
    # every row: welfare = sum of the values, Gini = fm.fairness.gini of the values
    V = np.array([[float(r["V_0"]), float(r["V_1"])] for r in rows])
    np.testing.assert_allclose([float(r["welfare"]) for r in rows], V.sum(axis=1),
                               rtol=1e-10)
    np.testing.assert_allclose([float(r["gini"]) for r in rows], fm.fairness.gini(V),
                               atol=1e-10)


def _final(rows, method, alpha, seed):
    last = max(int(r["t"]) for r in rows)
    (r,) = [r for r in rows if (r["method"], r["alpha"], int(r["seed"]), int(r["t"]))
            == (method, alpha, seed, last)]
    return float(r["welfare"]), float(r["gini"]), np.array([float(r["V_0"]),
                                                            float(r["V_1"])])


@pytest.mark.parametrize("method, alpha, seed", [("hatrpo", "none", 0), ("hatrpo", "1.5", 1),
                                                 ("happo", "1", 0), ("alg1", "1", 1)])
def test_final_numbers_match_an_independent_run(quick_figure, method, alpha, seed):
    """Rebuild the run from the documented settings alone and evaluate its last policy."""
    _, rows = quick_figure
    g = fm.games.commons(2)
    theta0 = np.random.default_rng(seed).normal(size=(2, 4, 2))
    a = None if alpha == "none" else float(alpha)
    iters = 15
    if method == "hatrpo":
        run = tr.hatrpo(g, theta0, a, 0.1, kl=0.01, iters=iters, seed=seed, metrics=())
    elif method == "happo":
        lr = {None: 0.03, 0.5: 0.03, 1.0: 0.05, 1.5: 0.05}[a]
        run = tr.happo(g, theta0, a, 0.1, clip=0.05, lr=lr, iters=iters, seed=seed,
                       metrics=())
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # gaps are in run.gaps
            run = tr.fair_hatrl(g, fm.ProductPolicy.from_logits(g, theta0), a, 0.1, iters,
                                seed=seed, metrics=())
    v = fm.evaluate(g, run.policies[-1]).value_at_initial
    welfare, gini, V = _final(rows, method, alpha, seed)
    np.testing.assert_allclose(V, v, rtol=1e-9, atol=1e-12)
    assert welfare == pytest.approx(v.sum(), rel=1e-9)
    assert gini == pytest.approx(fm.fairness.gini(v), abs=1e-9)


def test_notes_quote_the_csv(quick_figure):
    """The notes' final welfare / Gini are the CSV's means over seeds."""
    paths, rows = quick_figure
    notes = paths[2].read_text()
    for method, alpha, name in [("hatrpo", "none", "HATRPO"), ("happo", "1.5", "1.5-FHAPPO")]:
        finals = [_final(rows, method, alpha, s) for s in range(2)]
        w = np.mean([f[0] for f in finals])
        gi = np.mean([f[1] for f in finals])
        m = re.search(rf"- {re.escape(name)}: welfare ([\d.]+) \+- [\d.]+, Gini ([\d.]+)", notes)
        assert m, name
        assert float(m.group(1)) == pytest.approx(w, abs=6e-4)
        assert float(m.group(2)) == pytest.approx(gi, abs=6e-4)


def test_checkpointed_runs_are_reused(tmp_path):
    from fairmg.reproduce import Checkpoint, job_key
    from fairmg.reproduce import fair_hatrl as F
    job = F.Job("hatrpo", None, 0, 2)
    ck = Checkpoint(tmp_path / "x.partial.npz")
    fake = {"welfare": np.full(3, -1.0), "gini": np.zeros(3), "values": np.zeros((3, 2))}
    ck.results[job_key(job)] = fake
    ck.save()
    ck = Checkpoint.load(tmp_path / "x.partial.npz")     # JSON round trip of alpha=None
    other = F.Job("happo", 0.5, 0, 2)
    res = F.run_jobs([job, other], workers=1, progress=False, checkpoint=ck)
    np.testing.assert_array_equal(res[("hatrpo", None)]["welfare"], [[-1.0] * 3])
    assert res[("happo", 0.5)]["values"].shape == (1, 3, 2)
    assert job_key(other) in ck.results
