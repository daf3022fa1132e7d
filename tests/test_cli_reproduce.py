"""``fairmg reproduce``: where figures go, what they show, and how progress is reported
(issue 10: outputs, figures, long silent commands)."""
import io

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from fairmg.cli import main  # noqa: E402
from fairmg.reproduce import Checkpoint, figures, quick_label  # noqa: E402
from fairmg.reproduce._progress import Stage  # noqa: E402


@pytest.fixture
def saved_figures(monkeypatch):
    """Every matplotlib figure saved during the test (still drawn with its renderer)."""
    saved = []
    real = Figure.savefig

    def keep(self, *args, **kwargs):
        real(self, *args, **kwargs)
        saved.append(self)

    monkeypatch.setattr(Figure, "savefig", keep)
    return saved


# -- help -----------------------------------------------------------------------------------
def test_help_lists_every_figure_with_a_description(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    out = capsys.readouterr().out
    for fid, fig in figures().items():
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(fid))
        assert fig.paper.split()[0] in line
    assert "figures/quick/" in out


# -- where quick runs go --------------------------------------------------------------------
def test_quick_runs_go_to_a_scratch_folder_not_over_the_full_figures(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.chdir(tmp_path)
    full = tmp_path / "figures"
    full.mkdir()
    (full / "fdiv-fig6.png").write_bytes(b"committed full run")
    assert main(["reproduce", "fdiv-fig6", "--quick", "--no-progress"]) == 0
    assert (full / "fdiv-fig6.png").read_bytes() == b"committed full run"
    assert (full / "quick" / "fdiv-fig6.png").stat().st_size > 10_000
    assert "wrote figures/quick/fdiv-fig6.png" in capsys.readouterr().out


def test_quick_into_the_full_folder_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "fdiv-fig6", "--quick", "--out", "figures"])
    assert exc.value.code == 2
    assert "would overwrite the committed full-run figures" in capsys.readouterr().err


def test_quick_scratch_folder_is_git_ignored():
    from pathlib import Path

    lines = (Path(__file__).parent.parent / ".gitignore").read_text().splitlines()
    assert "/figures/quick/" in lines and "*.partial.npz" in lines


# -- what the figures show ------------------------------------------------------------------
def _xticks_are_integers(ax) -> bool:
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    return bool(ticks) and all(float(t).is_integer() for t in ticks)


def test_quick_mpg_figure_is_labelled_and_has_integer_ticks(tmp_path, saved_figures):
    from fairmg.reproduce import mpg, reproduce

    reproduce("mpg-fig4", tmp_path, quick=True, progress=False)
    fig = saved_figures[-1]
    assert quick_label(mpg.QUICK["seeds"]) in fig._suptitle.get_text()
    assert "QUICK (2 seeds, not the paper's settings)" in fig._suptitle.get_text()
    assert all(_xticks_are_integers(ax) for ax in fig.axes)


def _fake(curves: dict) -> dict:
    return {c: {"poa": np.tile(v, (2, 1)), "nash_gap": np.tile(1 - v, (2, 1))}
            for c, v in curves.items()}


def test_mpg_barrier_curves_are_visible_and_said_to_coincide(tmp_path, saved_figures):
    """The dashed '+ barrier' curves sat exactly on the solid ones, unseen."""
    from fairmg.reproduce import mpg

    t = np.linspace(0.5, 0.9, 21)
    results = _fake({(2, "pg", 0.0, 0): t, (2, "pg", 0.01, 0): t.copy(),
                     (2, "npg", 0.0, 0): t ** 2, (2, "npg", 1.0, 0): t ** 3})
    curves = {2: [mpg.Curve((2, "pg", 0.0, 0), "PG", "tab:blue"),
                  *mpg._barrier_curve(2, "pg", 0.01, 0, "PG", "tab:blue"),
                  mpg.Curve((2, "npg", 0.0, 0), "NPG", "tab:orange"),
                  *mpg._barrier_curve(2, "npg", 1.0, 0, "NPG", "tab:orange")]}
    mpg._plot(tmp_path / "x.png", "t", "caption.", (2,), results, curves)
    fig = saved_figures[-1]
    dashed = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert dashed and all(ln.get_marker() not in (None, "", "None") for ln in dashed)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "PG + barrier (lambda=0.01) = solid" in labels          # coincides: said so
    assert "NPG + barrier (lambda=1)" in labels                    # differs: not marked
    assert any("coincides with its solid curve" in t.get_text() for t in fig.texts)


def test_fdiv_fig1_legend_covers_no_curve(tmp_path, saved_figures):
    """The TV column's legend covered its curves."""
    from fairmg.dynamics.fdiv import alice_bob_game, tvpo_omega
    from fairmg.reproduce import fdiv

    settings = [(d, fdiv.FIG1_TV_OMEGA if d == "tv" else fdiv.FIG1_OMEGA)
                for d in fdiv.FIG1_DIVERGENCES]
    settings += [("tv", fdiv.FIG1_OMEGA), ("tv", tvpo_omega(alice_bob_game(*fdiv.FIG1_GAME)))]
    t = np.linspace(0, 1, 21)
    runs = [dict(divergence=d, omega=om, init=k, p=t, q=1 - t, reward=5.5 + t)
            for k in range(1, 5) for d, om in settings]
    fdiv.plot_fig1(tmp_path / "f.png", runs, ["a note"], quick=True)
    fig = saved_figures[-1]
    assert all(ax.get_legend() is None for ax in fig.axes)        # no legend in a panel
    assert fig.legends
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    box = fig.legends[0].get_window_extent(renderer)
    assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes)
    assert quick_label() in fig._suptitle.get_text()


def test_mre_cases_explains_its_colours(tmp_path, saved_figures):
    from fairmg.reproduce import mre

    x = np.random.default_rng(0).gamma(4.0, size=(4, mre.N_AGENTS))
    x /= x.mean(axis=1, keepdims=True)
    mre._plot(tmp_path / "m.png", x, mre.case_table(x))
    labels = " | ".join(t.get_text() for leg in saved_figures[-1].legends
                        for t in leg.get_texts())
    for what in ("above the band", "inside the band", "below the band", "mean"):
        assert what in labels


# -- progress -------------------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_stage_bar_is_weighted_by_cost_and_counts_runs():
    """mpg-fig1 sat at 0/510 for a minute: its first runs are the longest ones."""
    term = _Terminal()
    with Stage("grid", 3, total_cost=100.0, stream=term) as stage:
        stage.advance(90.0)
        stage._bar.refresh()
        shown = term.getvalue()
    assert "90%" in shown.split("\r")[-1] and "1/3 runs" in shown.split("\r")[-1]


def test_stage_off_a_terminal_prints_one_line_when_done():
    log = io.StringIO()
    with Stage("grid", 2, stream=log) as stage:
        stage.advance()
        stage.advance()
    assert log.getvalue().count("\n") == 1 and "grid: 2/2 runs done in" in log.getvalue()
    silent = io.StringIO()
    with Stage("grid", 2, stream=silent, enabled=False) as stage:
        stage.advance()
    assert silent.getvalue() == ""


def test_reproduce_off_a_terminal_prints_the_estimate_first_and_no_bars(tmp_path, capsys):
    """fdiv-fig1/6 printed dozens of nested tqdm bars (one per run) into logs."""
    assert main(["reproduce", "fdiv-fig6", "--quick", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and "compiling numba" not in ln]
    assert len(lines) == 2, err
    assert lines[0].startswith("fdiv-fig6: 4 runs, expected about")
    assert lines[1].startswith("fdiv-fig6: 4/4 runs done in")
    assert "\r" not in err and "%|" not in err


def test_mpg_estimate_is_printed_before_the_runs(capsys, tmp_path):
    from fairmg.reproduce import reproduce

    reproduce("mpg-k-grid", tmp_path, quick=True, progress=True)
    err = capsys.readouterr().err.splitlines()
    if err and err[0].startswith("compiling numba kernels"):   # a cold cache says so first
        err = err[1:]
    assert err[0].startswith("mpg-k-grid: 30 runs on 1 process, expected about")
    assert err[1].startswith("mpg-k-grid: 30/30 runs done in")


def test_cost_model_orders_the_runs():
    from fairmg.reproduce.mpg import Job

    assert Job(5, 0, "npg-br", 0.0, 50).cost > Job(5, 0, "npg-br", 0.0, 5).cost \
        > Job(5, 0, "pg", 0.0, 0).cost > Job(2, 0, "pg", 0.0, 0).cost
    assert Job(5, 0, "nn-adam", 0.0, 0).cost > Job(5, 0, "pg", 0.0, 0).cost


# -- checkpoints ----------------------------------------------------------------------------
def test_checkpoint_round_trip_and_resume(tmp_path, monkeypatch):
    from fairmg.reproduce import job_key, mpg

    jobs = [mpg.Job(2, s, "pg", 0.0, 0, 3) for s in range(3)]
    ck = Checkpoint(tmp_path / "x.partial.npz")
    mpg.run_jobs(jobs[:2], workers=1, progress=False, checkpoint=ck)
    assert ck.save() == ck.path
    loaded = Checkpoint.load(ck.path)
    assert set(loaded.results) == {job_key(j) for j in jobs[:2]}
    calls = []
    real = mpg.run_job
    monkeypatch.setattr(mpg, "run_job", lambda j: calls.append(j) or real(j))
    res = mpg.run_jobs(jobs, workers=1, progress=False, checkpoint=loaded)
    assert calls == [jobs[2]]                                   # only the missing run
    assert res[(2, "pg", 0.0, 0)]["poa"].shape == (3, 4)
    fresh = mpg.run_jobs(jobs, workers=1, progress=False)
    np.testing.assert_array_equal(res[(2, "pg", 0.0, 0)]["poa"],
                                  fresh[(2, "pg", 0.0, 0)]["poa"])


def test_unreadable_checkpoint_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "mpg-fig4.partial.npz").write_bytes(b"not a checkpoint")
    assert main(["reproduce", "mpg-fig4", "--quick", "--out", str(tmp_path),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "mpg-fig4.partial.npz is not a readable checkpoint" in err and "delete it" in err
