"""The ``fairmg`` command: solve, reproduce --list, the console script, bench.

More CLI tests: ``test_cli_errors.py`` (usage errors), ``test_cli_solve.py`` (Nash-gap
tolerance, numba message), ``test_cli_reproduce.py`` (outputs, figures, progress),
``test_cli_interrupt.py`` (Ctrl-C).
"""
import re
import subprocess
import sys

import pytest

from fairmg.cli import main


def test_solve_coordination(capsys):
    assert main(["solve", "coordination", "--agents", "3"]) == 0
    out = capsys.readouterr().out
    opt = float(re.search(r"social optimum .* = ([\d.]+)", out).group(1))
    poa = float(re.search(r"price of anarchy = ([\d.]+)", out).group(1))
    assert opt > 0 and 0 < poa <= 1
    assert len(re.findall(r"^\s+\d\s+[\d.]+\s+[\d.]+", out, re.M)) == 3   # one row per agent


def test_bad_argument_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["solve", "coordination", "--agents", "0"])
    assert exc.value.code == 2
    assert "argument --agents: expected an integer >= 1, got '0'" in capsys.readouterr().err


def test_library_errors_exit_2_without_traceback(capsys):
    assert main(["solve", "coordination", "--gamma", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fairmg: error:") and "gamma" in err and "Traceback" not in err


def test_reproduce_list_and_unknown(capsys):
    assert main(["reproduce", "--list"]) == 0
    assert "mpg-fig1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "no-such-figure"])
    assert exc.value.code == 2
    assert "unknown figure 'no-such-figure'" in capsys.readouterr().err


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "fairmg.cli", "solve", "random", "--agents",
                          "2", "--states", "3", "--kind", "potential"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert "Nash-gap" in out


def test_bench_quick_core(capsys):
    """Smoke test of the command only; fairmg/bench's own tests pin its output."""
    assert main(["bench", "--only", "core", "--quick"]) == 0
    assert "fairmg" in capsys.readouterr().out
