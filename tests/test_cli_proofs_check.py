"""``python -m proofs_check run|table``: the expected duration first, one bar per claim
counting its examples on a terminal, only rows elsewhere, and Ctrl-C (issue 10)."""
import io
import sys

import pytest

import proofs_check.cli as cli
from proofs_check import check_claim
from proofs_check.cli import main

CLAIMS = ["--claim", "mre/prop-1", "--claim", "mre/prop-2"]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_expected_duration_is_printed_first(capsys):
    assert main(["run", *CLAIMS, "--examples", "5"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("checking 2 claims (ci profile, up to 5 examples each); ")
    assert "expected about" in err[0] or "no expected duration" in err[0]


def test_one_bar_per_claim_with_its_examples_on_a_terminal(capsys, monkeypatch):
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr(cli, "BAR_MININTERVAL", 0)          # draw every example
    assert main(["run", *CLAIMS, "--examples", "6"]) == 0
    shown = term.getvalue()
    assert "[1/2] mre/prop-1" in shown and "[2/2] mre/prop-2" in shown
    assert "6/6" in shown                                    # examples done, per claim
    rows = capsys.readouterr().out.splitlines()
    assert [r.split()[-1] for r in rows[1:]] == ["mre/prop-1", "mre/prop-2"]


def test_no_bar_off_a_terminal_only_rows(capsys):
    assert main(["run", *CLAIMS, "--examples", "5"]) == 0
    cap = capsys.readouterr()
    assert "%|" not in cap.err and "\r" not in cap.err
    assert len(cap.out.splitlines()) == 3                     # header + one row per claim


def test_no_progress_prints_nothing_on_stderr(capsys):
    assert main(["run", *CLAIMS, "--examples", "3", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_recorded_times_and_estimate(tmp_path):
    table = tmp_path / "CLAIMS.md"
    table.write_text(
        "| claim | paper, section | status | examples | filtered | worst slack | time (s) |\n"
        "|---|---|---|---|---|---|---|\n"
        "| `a/x` | p Sec. 1 | **verified** | 200 | 3 | 1e-09 | 4.0 |\n"
        "| `a/y` | p Sec. 2 | **refuted** | 7 | 0 | -0.1 | 2.5 |\n")
    times = cli.recorded_times(table)
    assert times == {"a/x": ("verified", 200, 4.0), "a/y": ("refuted", 7, 2.5)}

    class C:
        def __init__(self, id):
            self.id = id

    total, missing = cli.expected_seconds([C("a/x"), C("a/y"), C("b/z")], [50, 50, 50],
                                          times)
    assert total == pytest.approx(4.0 / 200 * 50 + 2.5) and missing == ["b/z"]


def test_progress_hook_sees_every_example_and_ctrl_c_propagates():
    seen = []
    rep = check_claim("mre/prop-1", max_examples=5, on_example=lambda *a: seen.append(a))
    assert rep.status == "verified" and seen[-1] == (5, 0, False) and len(seen) >= 5

    def interrupt(run, filtered, shrinking):
        if run == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check_claim("mre/prop-1", max_examples=50, on_example=interrupt)


def test_ctrl_c_in_the_cli_exits_130_with_what_finished(capsys, monkeypatch):
    real = cli.check_claim

    def second_interrupted(c, **kw):
        if c.id == "mre/prop-2":
            raise KeyboardInterrupt
        return real(c, **kw)

    monkeypatch.setattr(cli, "check_claim", second_interrupted)
    with pytest.raises(SystemExit) as exc:
        main(["run", *CLAIMS, "--examples", "3"])
    assert exc.value.code == 130
    cap = capsys.readouterr()
    assert "interrupted while checking mre/prop-2; 1 of 2 claims finished" in cap.err
    assert "mre/prop-1" in cap.out
