"""``fairmg solve``: Nash-gaps within the solver tolerance read 0, and the numba
compilation of a first run is announced (issue 10)."""
import subprocess
import sys
import textwrap

import numpy as np

import fairmg as fm
from fairmg.cli import COMPILING_MESSAGE, format_gap, main
from fairmg.equilibrium import GAP_TOL


def test_format_gap():
    assert format_gap(1.06581e-14, 1e-9) == "0 (< 1e-09, solver tolerance)"
    assert format_gap(0.0, 2.5e-8) == "0 (< 2.5e-08, solver tolerance)"
    assert format_gap(3.8, 1e-9) == "3.8"


def test_round_off_gap_is_reported_as_zero_with_the_tolerance(capsys, monkeypatch):
    """The user saw ``Nash-gap = 1.06581e-14`` where the answer is 0."""
    def round_off(g, pol, per_agent=False, **kw):
        gaps = np.full(g.n_agents, 1.06581e-14)
        return gaps if per_agent else float(gaps.max())

    monkeypatch.setattr(fm, "nash_gap", round_off)
    assert main(["solve", "coordination"]) == 0
    out = capsys.readouterr().out
    assert "1.06581e-14" not in out and "1.07e-14" not in out
    tol = GAP_TOL * 25.0           # GAP_TOL x max(1, |V^i(mu)|); V^i(mu) = 25 here
    assert f"Nash-gap        = 0 (< {tol:.2g}, solver tolerance)" in out
    assert f"GAP_TOL = {GAP_TOL:g}" in out
    assert len([ln for ln in out.splitlines() if ln.rstrip().endswith(" 0")]) == 2  # per agent


def test_exact_nash_policy_reads_zero_and_positive_gaps_are_printed(capsys):
    assert main(["solve", "coordination", "--eps", "0.5"]) == 0   # uniform is Nash here
    assert "Nash-gap        = 0 (<" in capsys.readouterr().out
    assert main(["solve", "coordination"]) == 0
    assert "Nash-gap        = 3.8\n" in capsys.readouterr().out


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60)


def test_compiling_is_announced_once_when_numba_compiles():
    res = _run("""
        import numba
        from fairmg.cli import announce_numba_compiles
        announce_numba_compiles()
        announce_numba_compiles()            # idempotent

        @numba.njit(cache=False)
        def f(x):
            return x + 1

        @numba.njit(cache=False)
        def h(x):
            return x * 2

        print(f(1) + h(1) + f(2))
    """)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count(COMPILING_MESSAGE) == 1
    assert res.stdout.strip() == "7"


def test_nothing_is_announced_when_nothing_compiles():
    res = _run("""
        from fairmg.cli import announce_numba_compiles
        announce_numba_compiles()
        print("no kernel called")
    """)
    assert res.returncode == 0, res.stderr
    assert COMPILING_MESSAGE not in res.stderr


def test_a_warm_solve_does_not_announce(capsys):
    main(["solve", "coordination"])                 # compiles (and says so) if needed
    capsys.readouterr()
    assert main(["solve", "coordination"]) == 0     # same process: nothing left to compile
    assert COMPILING_MESSAGE not in capsys.readouterr().err
