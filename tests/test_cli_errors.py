"""Usage errors of both CLIs: exit status 2, one line naming the flag, no traceback, and
nothing run before the arguments are known to be good (issue 10, "Raw tracebacks")."""
import time

import pytest

from fairmg.cli import main as fairmg_main
from proofs_check.cli import main as pc_main


def _usage_error(main, argv, capsys) -> str:
    """Run ``main(argv)``; assert it is a usage error (exit 2); return stderr."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# -- fairmg solve ---------------------------------------------------------------------------
@pytest.mark.parametrize("flag, value", [("--states", "5"), ("--actions", "3"),
                                         ("--kind", "potential"), ("--seed", "1")])
def test_solve_flag_that_does_not_apply_names_it_and_its_game(flag, value, capsys):
    err = _usage_error(fairmg_main, ["solve", "coordination", flag, value], capsys)
    assert f"{flag} applies to the random game only, not to coordination" in err


def test_solve_eps_does_not_apply_to_random(capsys):
    err = _usage_error(fairmg_main, ["solve", "random", "--eps", "0.2"], capsys)
    assert "--eps applies to the coordination game only, not to random" in err


@pytest.mark.parametrize("argv", [["solve", "random", "--seed", "-1"],
                                  ["solve", "random", "--seed", "x"]])
def test_negative_seed_names_the_flag(argv, capsys):
    err = _usage_error(fairmg_main, argv, capsys)
    assert "argument --seed: expected a non-negative integer" in err


# -- fairmg reproduce -----------------------------------------------------------------------
def test_reproduce_out_naming_an_existing_file(tmp_path, capsys):
    f = tmp_path / "notes.md"
    f.write_text("keep me")
    err = _usage_error(fairmg_main, ["reproduce", "fdiv-fig6", "--out", str(f)], capsys)
    assert f"--out {f}: is an existing file, not a folder" in err
    assert f.read_text() == "keep me"


def test_reproduce_out_that_cannot_be_written(capsys):
    err = _usage_error(fairmg_main, ["reproduce", "fdiv-fig6", "--out", "/proc/nope"],
                       capsys)
    assert "--out /proc/nope: cannot write there" in err


@pytest.mark.parametrize("flag", ["--seeds", "--workers"])
@pytest.mark.parametrize("value", ["0", "-2"])
def test_reproduce_counts_must_be_positive(flag, value, capsys):
    err = _usage_error(fairmg_main, ["reproduce", "fdiv-fig6", flag, value], capsys)
    assert f"argument {flag}: expected an integer >= 1, got '{value}'" in err


def test_reproduce_unknown_figure_suggests(capsys):
    err = _usage_error(fairmg_main, ["reproduce", "mpg-fig3"], capsys)
    assert "unknown figure 'mpg-fig3'; did you mean" in err and "mpg-fig1" in err


# -- proofs_check ---------------------------------------------------------------------------
def test_unknown_claim_suggests_close_ids(capsys):
    err = _usage_error(pc_main, ["run", "--claim", "mpg_pg/lemma-3.22"], capsys)
    assert "--claim: unknown claim 'mpg_pg/lemma-3.22'; did you mean" in err
    assert "mpg_pg/lemma-3.2" in err


def test_unknown_claim_without_close_match_lists_the_groups(capsys):
    err = _usage_error(pc_main, ["run", "--claim", "no/such"], capsys)
    assert "unknown claim 'no/such'" in err and "mpg_pg" in err and "list" in err


@pytest.mark.parametrize("value", ["0", "-5"])
def test_examples_must_be_positive(value, capsys):
    err = _usage_error(pc_main, ["run", "--claim", "mre/prop-1", "--examples", value],
                       capsys)
    assert f"argument --examples: expected an integer >= 1, got '{value}'" in err


def test_negative_seed_names_the_flag_in_proofs_check(capsys):
    err = _usage_error(pc_main, ["run", "--claim", "mre/prop-1", "--seed", "-1"], capsys)
    assert "argument --seed: expected a non-negative integer, got '-1'" in err


def test_unknown_paper_is_an_error_listing_the_papers(capsys):
    err = _usage_error(pc_main, ["run", "--paper", "nosuchpaper"], capsys)
    assert "--paper 'nosuchpaper' matches no claim" in err
    for group in ("mpg_pg", "fdiv", "mre"):
        assert group in err
    assert ".txt" in err          # the paper files too


@pytest.mark.parametrize("out, why", [("/proc/nope.md", "cannot write there"),
                                      ("/no/such/folder/CLAIMS.md", "does not exist")])
def test_table_checks_its_output_before_running_any_claim(out, why, capsys, monkeypatch):
    import proofs_check.cli as cli

    def never(*args, **kwargs):
        raise AssertionError("a claim ran before --out was checked")

    monkeypatch.setattr(cli, "check_claim", never)
    t0 = time.perf_counter()
    err = _usage_error(pc_main, ["table", "--out", out], capsys)
    assert f"--out {out}" in err and why in err
    assert time.perf_counter() - t0 < 5


def test_table_out_check_leaves_no_file_behind(tmp_path, capsys, monkeypatch):
    """The writability probe must not leave an empty CLAIMS.md when the run then fails."""
    import proofs_check.cli as cli

    out = tmp_path / "CLAIMS.md"
    args = cli.build_parser().parse_args(["table", "--out", str(out)])
    cli.check_writable(args, out)
    assert not out.exists()
