"""The environment experiments (fairmg.reproduce.environments) at the quick budget: files
where asked, one row per method, the curves equal to train_env's for the same job, and the
per-run checkpoints removed once the figure is done."""
import csv

import numpy as np
import pytest

import fairmg as fm
from fairmg.reproduce import environments as E


@pytest.mark.parametrize("eid", ["fair-cleanup", "eld-jobs"])
def test_quick_experiment(eid, tmp_path):
    paths = E._make(eid, tmp_path, None, True, False, None, None, "default")
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in paths)
    notes = (tmp_path / f"{eid}.md").read_text()
    assert "QUICK" in notes and "## Reading against the paper" in notes
    rows = list(csv.DictReader(open(tmp_path / f"{eid}.csv")))
    methods = E.EXPERIMENTS[eid][2]
    assert sorted(r["method"] for r in rows) == sorted(E.label(*m) for m in methods)
    env_name = E.EXPERIMENTS[eid][0]
    preset, n_envs, iters, _, overrides = E.BUDGETS["quick"][env_name]
    a, al, e = methods[-1]
    job = E.Job(eid, a, al, e, 0, iters, n_envs, preset, overrides, str(tmp_path / "x"))
    _, curves = E.run_job(job)
    env = fm.envs.make(env_name, n_envs=n_envs, preset=preset, **dict(overrides))
    run = fm.sampled.train_env(env, a, iters, seed=0, alpha=al,
                               eld=dict(E.ELD_CFG) if e else None, **E.HP[a])
    np.testing.assert_array_equal(curves["returns"], run.returns)
    row = next(r for r in rows if r["method"] == E.label(a, al, e))
    total = run.returns[-max(1, iters // 5):].sum(axis=1).mean()
    assert abs(float(row["total_mean"]) - total) < 1e-9


def test_reproduce_cleans_run_checkpoints_and_rejects_bad_budgets(tmp_path):
    from fairmg.reproduce import reproduce
    reproduce("eld-jobs", tmp_path, quick=True, progress=False)
    assert not (tmp_path / "eld-jobs.runs").exists()
    with pytest.raises(ValueError, match="budget"):
        reproduce("eld-jobs", tmp_path, quick=True, progress=False, budget="huge")


def test_reading_states_differences_against_the_baseline():
    """Hand-computed: Gini seeds (0.1, 0.14) vs (0.3, 0.2) differ by -0.13 +- 0.054, the
    s.e. hypot(0.02, 0.05) of two independent means (std / sqrt 2 each); MRE halved reads
    -50%."""
    def one(*v):
        v = np.array(v, float)
        return v.mean(), (v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else 0.0)

    base = dict(gini=one(0.3, 0.2), total=one(10, 10))
    fair = {("happo", None, False): base,
            ("happo", 0.5, False): dict(gini=one(0.1, 0.14), total=one(11, 11)),
            ("happo", 1.0, False): dict(gini=one(0.2, 0.2), total=one(5, 5))}
    text = "\n".join(E.reading("fair-harvest", fair))
    assert "- 0.5-FHAPPO: Gini -0.13 +- 0.054, total +1 +- 0" in text
    assert "HAPPO: Gini does not decrease with alpha (0.12, 0.2)" in text
    assert "Gini below the baseline in 2 of 2 fair runs (1 by more than 2 s.e.); total not " \
           "clearly below the baseline in 1 of 2." in text
    eld = {("ippo", None, False): dict(mre=one(2, 2), cv=one(1, 1), total=one(3, 5),
                                       min=one(0, 0)),
           ("ippo", None, True): dict(mre=one(1, 1), cv=one(1, 1), total=one(4, 4),
                                      min=one(1, 1))}
    text = "\n".join(E.reading("eld-jobs", eld))
    assert "- MRE: -1 +- 0 (-50% of IPPO's)" in text
    assert "- total: +0 +- 1 (+0% of IPPO's)" in text
    assert "- min agent: +1 +- 0\n" in text + "\n"


def test_rolling_mean_of_the_curves():
    a = np.random.default_rng(0).normal(size=(3, 17))
    ref = np.array([[row[max(0, t - 4):t + 1].mean() for t in range(17)] for row in a])
    np.testing.assert_allclose(E._rolling(a, 5), ref, rtol=0, atol=1e-13)
