"""Every example runs (they are the tour's executable documentation) and writes only into
the one folder it names, ``examples/output/`` (git-ignored), relative to where it runs."""
import runpy
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
#: The folder every example writes into (relative to the working directory).
OUTPUT = Path("examples") / "output"
_CACHES = {"__pycache__", ".pytest_cache", ".hypothesis"}


def _files(folder: Path) -> set[Path]:
    """Every file under ``folder`` (relative), caches left out."""
    return {p.relative_to(folder) for p in folder.rglob("*")
            if p.is_file() and not _CACHES & set(p.relative_to(folder).parts)}


def _top(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} - _CACHES


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_and_writes_only_into_its_output_folder(path, monkeypatch, tmp_path):
    matplotlib.use("Agg")
    before_root, before_examples = _top(ROOT), _top(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(path), run_name="__main__")
    written = _files(tmp_path)
    stray = sorted(str(p) for p in written if p.parts[:2] != OUTPUT.parts)
    assert not stray, f"{path.name} wrote outside {OUTPUT}/: {stray}"
    assert _top(ROOT) == before_root, f"{path.name} wrote into the repository root"
    assert _top(ROOT / "examples") == before_examples, f"{path.name} wrote into examples/"
    if path.name.startswith("02_"):   # it used to write its PNG into the working directory
        assert (tmp_path / OUTPUT / "coordination_dynamics.png").stat().st_size > 10_000


def test_the_output_folder_is_git_ignored():
    patterns = (ROOT / ".gitignore").read_text().splitlines()
    assert "examples/output/" in patterns or "/examples/output/" in patterns


def test_examples_exist():
    assert any(p.name.startswith("01_") for p in EXAMPLES)
