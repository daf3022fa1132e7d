"""The README is a tour a researcher can paste from: every ```python block runs alone, in a
fresh namespace with nothing injected (its own imports, its own small data); every command
of a bash block is one the CLIs accept; every public function appears in the tour or an
example; no run time is stated that was not measured.

A failing block's test id names its README section (``games-and-policies``, ``equilibria``,
``f-divergence-iterations-tvpo-unary-formulation-2``, ...).
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import re
import shlex
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
TEXT = README.read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _slug(heading: str) -> str:
    heading = re.sub(r"\(.*?\)|`", "", heading).lower()
    return re.sub(r"[^a-z0-9]+", "-", heading).strip("-")


def _blocks(lang: str) -> list[tuple[str, str]]:
    """(test id, code) of every fenced block in ``lang``, the id naming its section."""
    heads = [(m.start(), _slug(m.group(2))) for m in re.finditer(r"^(#+) (.*)$", TEXT, re.M)]
    out, seen = [], {}
    for m in FENCE.finditer(TEXT):
        if m.group(1) != lang:
            continue
        section = max(((pos, s) for pos, s in heads if pos < m.start()), default=(0, "top"))[1]
        seen[section] = seen.get(section, 0) + 1
        out.append((section if seen[section] == 1 else f"{section}-{seen[section]}",
                    m.group(2)))
    return out


PY_BLOCKS = _blocks("python")
BASH_BLOCKS = _blocks("bash")


def test_readme_has_python_and_bash_blocks():
    assert len(PY_BLOCKS) >= 10 and BASH_BLOCKS
    assert all(not code.lstrip().startswith(">>>") for _, code in PY_BLOCKS)


@pytest.mark.parametrize("code", [c for _, c in PY_BLOCKS], ids=[i for i, _ in PY_BLOCKS])
def test_python_block_runs_alone(code, monkeypatch, tmp_path):
    """Issue 10: blocks used names (payoffs, fm, np, g) bound only by earlier blocks or by
    setup the test injected. Each block now runs pasted alone into a fresh interpreter."""
    from proofs_check import Report

    monkeypatch.chdir(tmp_path)                 # anything a block writes stays out of the repo
    ns = {"__name__": "__readme__"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)      # no NaN/overflow in the tour
        exec(compile(code, str(README), "exec"), ns)
    # a check that fails to run (e.g. a missing import inside the claim) reports "error",
    # which reads like a counterexample: never in the tour
    errors = [f"{k}: {v}" for k, v in ns.items() if isinstance(v, Report) and v.status == "error"]
    assert errors == []


# ------------------------------------------------------------------------------ commands

def _parsers():
    from fairmg.cli import build_parser as fairmg_parser
    from proofs_check.cli import build_parser as pc_parser
    return {"fairmg": fairmg_parser, "python -m proofs_check": pc_parser}


def _help(build, argv) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build().parse_args(argv + ["--help"])
    return out.getvalue()


def _commands() -> list[tuple[str, bool]]:
    """(command, whole) for every ``fairmg ...`` / ``python -m proofs_check ...`` of a bash
    block (whole: a full command line) and every inline code span naming one literally (no
    placeholders; it may leave out required arguments: ``fairmg solve`` in prose)."""
    is_cmd = re.compile(r"(fairmg|python -m proofs_check)( |$)")
    found = {}
    for _, code in BASH_BLOCKS:
        for line in code.splitlines():
            for part in re.split(r"&&|\|\||;|\|", line.split("#", 1)[0]):
                if is_cmd.match(part.strip()):
                    found[part.strip()] = True
    for span in re.findall(r"`([^`\n]+)`", TEXT):
        if is_cmd.match(span) and not re.search(r"[<>|\[\]]|\.\.\.", span):
            found.setdefault(span.strip(), False)
    return sorted(found.items())


COMMANDS = _commands()


def test_readme_names_the_commands():
    for prog in ("fairmg solve", "fairmg reproduce", "fairmg bench", "python -m proofs_check list",
                 "python -m proofs_check run", "python -m proofs_check table"):
        assert any(c.startswith(prog) for c, whole in COMMANDS if whole), prog


@pytest.mark.parametrize("command, whole", COMMANDS, ids=[c for c, _ in COMMANDS])
def test_readme_command_is_accepted_by_the_cli(command, whole):
    """The subcommand is listed by the CLI's --help and every flag by the subcommand's; a
    bash-block command line is accepted whole by the CLI's own parser (subcommand, flags,
    choices, types; a figure id of ``fairmg reproduce --list``) without running it."""
    parsers = _parsers()
    prog = "fairmg" if command.startswith("fairmg") else "python -m proofs_check"
    argv = shlex.split(command[len(prog):])
    sub = argv[0]
    assert re.search(rf"\b{re.escape(sub)}\b", _help(parsers[prog], [])), \
        f"{sub!r} is not a subcommand in `{prog} --help`"
    for flag in (a.split("=")[0] for a in argv if a.startswith("--")):
        assert flag in _help(parsers[prog], [sub]), f"`{prog} {sub} --help` has no {flag}"
    if not whole:
        return
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            args = parsers[prog]().parse_args(argv)
        except SystemExit:
            pytest.fail(f"`{command}` is rejected: {err.getvalue()}")
    if prog == "fairmg" and sub == "reproduce" and args.figure is not None:
        from fairmg.reproduce import figures
        assert args.figure in set(figures()) | {"all"}


def test_setup_section_states_the_install_and_test_commands_ci_runs():
    """The README's test command stays ``pytest`` after ``pip install -e ".[test]"``, as in
    CI (``.ci/run``), and the section says what they do."""
    setup = TEXT.split("## Set up", 1)[1].split("\n## ", 1)[0]
    assert 'pip install -e ".[test]" && pytest' in [c.strip() for _, c in BASH_BLOCKS]
    assert 'pip install -e ".[test]" && pytest' in setup
    for word in ("editable", "tests/", "hypothesis", "CLAIMS.md", ".ci/run"):
        assert word in setup, word
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r'pip install (-q )?-e "\.\[test\]"', ci)
    assert re.search(r"python -m pytest", ci)


# ------------------------------------------------------------------------------ timings

DURATION = re.compile(r"(~|\b)\d+(\.\d+)?\s*(s|sec|secs|seconds?|min|mins|minutes?|h|hours?)\b")


def test_no_unmeasured_run_times():
    """Issue 10: the README said mpg-fig1 takes ~60 s; it took 171 s. A duration may appear
    only in a paragraph marked as measured (``<!-- measured: fairmg bench on MACHINE -->``)."""
    bad = [p.strip()[:80] for p in re.split(r"\n\s*\n", TEXT)
           if DURATION.search(p) and "<!-- measured:" not in p]
    assert bad == []


# ------------------------------------------------------------------------ public API

PUBLIC_MODULES = ["fairmg", "fairmg.games", "fairmg.dynamics", "fairmg.fairness",
                  "fairmg.divergences", "fairmg.dynamics.pg", "fairmg.dynamics.nn",
                  "fairmg.dynamics.fdiv", "fairmg.model", "fairmg.evaluate",
                  "fairmg.equilibrium", "fairmg.marginals", "fairmg.policy", "fairmg.linear",
                  "fairmg.alpha_fair", "fairmg.anticipation", "fairmg.sampled",
                  "fairmg.sampled.networks", "fairmg.sampled.optim", "fairmg.eld",
                  "fairmg.envs",
                  "proofs_check", "proofs_check.strategies",
                  "proofs_check.exact"]


def _public_names(mod) -> list[str]:
    """``__all__``, or (none) every public name the package itself defines; less the
    helpers defined in a private module (``fairmg._validate``) and re-exported."""
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in dir(mod) if not n.startswith("_") and
                 getattr(getattr(mod, n), "__module__", "").startswith(mod.__name__)]
    return [n for n in names
            if "._" not in getattr(getattr(mod, n), "__module__", "") + "."]


def test_every_public_function_is_in_the_tour_or_an_example():
    """Used in code (called, an attribute, or imported) in a README Python block or an
    example script; prose does not count."""
    code = "\n".join(c for _, c in PY_BLOCKS) + "".join(
        p.read_text() for p in sorted((ROOT / "examples").glob("*.py")))
    missing = []
    for name in PUBLIC_MODULES:
        mod = importlib.import_module(name)
        for attr in _public_names(mod):
            if not inspect.isfunction(getattr(mod, attr)):
                continue
            used = (re.search(rf"(?<![\w.]){attr}\s*\(|\.{attr}\b", code) or
                    re.search(rf"^\s*from .* import [^\n]*\b{attr}\b", code, re.M))
            if not used:
                missing.append(f"{name}.{attr}")
    assert missing == []
