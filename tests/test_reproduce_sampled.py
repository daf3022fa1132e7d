"""``fairmg reproduce sampled-vs-exact``: the exact rows are the exact engine's runs, the
sampled rows the sampled algorithms', written where asked."""
import csv

import numpy as np

from fairmg.dynamics import trust_region as tr
from fairmg.reproduce import sampled as S
from fairmg.reproduce.fair_hatrl import NU, game, initial_logits


def test_quick_figure_writes_and_exact_rows_are_exact(tmp_path):
    paths = S.make(tmp_path, seeds=1, quick=True, progress=False)
    assert sorted(p.name for p in paths) == ["sampled-vs-exact.csv", "sampled-vs-exact.md",
                                             "sampled-vs-exact.png"]
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in paths)
    rows = list(csv.DictReader(open(tmp_path / "sampled-vs-exact.csv")))
    assert len(rows) == len(S.METHODS) * (1 + len(S.QUICK_BATCHES))
    exact = {r["method"]: float(r["objective_final_mean"]) for r in rows
             if r["batch_episodes(0=exact)"] == "0"}
    g = game()
    run = tr.happo(g, initial_logits(g, 0), 1.0, NU, iters=S.QUICK["iters"], seed=0,
                   **S.HAPPO_HP)
    assert abs(exact["fhappo"] - run.metrics["fair_objective"][-1]) < 1e-12
    hp = {("kl" if k == "max_kl" else k): v for k, v in S.HATRPO_HP.items()}
    run = tr.hatrpo(g, initial_logits(g, 0), None, NU, iters=S.QUICK["iters"], seed=0, **hp)
    assert abs(exact["hatrpo"] - run.metrics["welfare"][-1]) < 1e-12


def test_decrease_fraction():
    assert S.decrease_fraction(np.array([[0.0, 1.0, 0.5, 0.6], [1.0, 1.0, 2.0, 3.0]])) == 1 / 6


def test_as_sampled_figures(tmp_path):
    """as-exchange / as-predation quick runs write their files; the exchange's exact
    social optimum (solve_exchange) equals the generic solver's on its Markov game."""
    import fairmg as fm
    from fairmg.reproduce import anticipation_sampled as A
    social, selfish = A.references("as-exchange")
    assert abs(social - fm.social_optimum(A._markov("as-exchange")).value) < 1e-8
    assert social > selfish
    paths = A._make("as-predation", tmp_path, 1, True, False, None, None)
    rows = list(csv.DictReader(open(tmp_path / "as-predation.csv")))
    assert [r["method"] for r in rows] == list(A.METHODS)
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in paths)


def test_as_reading_states_the_gap_closed_and_the_verdict():
    from fairmg.reproduce import anticipation_sampled as A
    rows = [("AS", 0.0, 5.0, 0.5), ("VS", 0.0, 2.0, 0.5), ("PS", 0.0, 4.5, 0.5),
            ("independent", 0.0, 0.0, 0.1)]
    text = A.reading(rows, social=10.0, selfish=0.0, iters=60, n_envs=64)
    assert "AS 50%, VS 20%, PS 45%, independent 0%" in text
    assert "within two standard errors (PS: +0.5" in text          # 0.5 < 2 * 0.71
    rows[0] = ("AS", 0.0, 7.0, 0.5)
    assert "AS ends above the best baseline (PS: +2.5" in A.reading(rows, 10.0, 0.0, 60, 64)
