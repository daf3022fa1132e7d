import re
import subprocess
import sys

from fairmg.cli import main


def test_solve_coordination(capsys):
    assert main(["solve", "coordination", "--agents", "3"]) == 0
    out = capsys.readouterr().out
    opt = float(re.search(r"social optimum .* = ([\d.]+)", out).group(1))
    poa = float(re.search(r"price of anarchy = ([\d.]+)", out).group(1))
    assert opt > 0 and 0 < poa <= 1
    assert len(re.findall(r"^\s+\d\s+[\d.]+\s+[\d.]+", out, re.M)) == 3   # one row per agent


def test_bad_argument_is_a_clear_error(capsys):
    assert main(["solve", "coordination", "--agents", "0"]) == 2
    assert "n_agents must be an int" in capsys.readouterr().err


def test_reproduce_list_and_unknown(capsys):
    assert main(["reproduce", "--list"]) == 0
    assert main(["reproduce", "no-such-figure"]) == 2
    assert "unknown" in capsys.readouterr().err


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "fairmg.cli", "solve", "random", "--agents",
                          "2", "--states", "3", "--kind", "potential"],
                         capture_output=True, text=True, check=True).stdout
    assert "Nash-gap" in out


def test_bench_quick_core(capsys):
    assert main(["bench", "--only", "core", "--quick"]) == 0
    assert "x  vs numpy reference" in capsys.readouterr().out
