"""Campaigns (issue 12, part 4): claims sharded over seeds, run on Dask or a process pool,
merged into one report per claim; the same executor under ``fairmg reproduce``."""
from pathlib import Path

import numpy as np
import pytest

from fairmg.reproduce import Checkpoint, _executor, job_key
from proofs_check import campaign
from proofs_check.cli import main as pc_main
from proofs_check.runner import Report

#: Cheap claims: two verified ones and one refuted (mre/repair-cost).
CHEAP = ["mre/prop-1", "fdiv/tv2-le-kl", "mre/repair-cost"]
KW = dict(examples=30, shard_size=12, seed=7, profile="thorough")


def _summary(res):
    return [(r.claim_id, r.status, r.examples_run, r.filtered) for r in res.reports]


@pytest.fixture(scope="module")
def serial():
    """The campaign in this process (one worker, no Dask)."""
    return campaign.run_campaign(CHEAP, workers=1, use_dask=False, **KW)


# -- planning ---------------------------------------------------------------------------
def test_shards_cover_the_budget_with_seeds_from_seed_claim_and_index():
    from proofs_check import get_claim

    claims = [get_claim(c) for c in CHEAP]
    shards = campaign.plan(claims, [40, 40, 7], seed=7, profile="thorough", shard_size=15)
    by_claim = {}
    for s in shards:
        by_claim.setdefault(s.claim_id, []).append(s)
    assert sorted(s.examples for s in by_claim["mre/prop-1"]) == [13, 13, 14]
    assert [s.examples for s in by_claim["mre/repair-cost"]] == [7]
    for group in by_claim.values():                       # every shard of a claim its own seed
        assert len({s.seed for s in group}) == len(group)
        assert {s.seed for s in group if s.index == 0} == {7}   # shard 0: the seed itself
    assert len({s.seed for s in shards if s.index > 0}) == len([s for s in shards if s.index > 0])
    assert campaign.shard_seed(7, "mre/prop-1", 2) == campaign.shard_seed(7, "mre/prop-1", 2)
    assert campaign.shard_seed(7, "mre/prop-1", 2) != campaign.shard_seed(8, "mre/prop-1", 2)


def test_merge_pools_examples_filtered_and_takes_the_worst_slack():
    reps = [Report("x/y", "verified", 10, filtered=5, worst_slack=0.3, time_s=1.0,
                   required=5, max_examples=10),
            Report("x/y", "verified", 8, filtered=2, worst_slack=0.1, time_s=2.0,
                   required=5, max_examples=10)]
    m = campaign.merge_reports("x/y", reps)
    assert (m.status, m.examples_run, m.filtered, m.worst_slack) == ("verified", 18, 7, 0.1)
    assert m.time_s == 3.0 and m.required == 10
    reps.append(Report("x/y", "refuted", 1, worst_slack=-1.0, required=5))
    reps.append(Report("x/y", "error", 0, error="Traceback\nZeroDivisionError: x"))
    m = campaign.merge_reports("x/y", reps)
    assert m.status == "refuted" and m.worst_slack == -1.0
    assert any("shard 3 error: ZeroDivisionError" in n for n in m.notes)
    m = campaign.merge_reports("x/y", [reps[0], reps[3]])
    assert m.status == "error" and "ZeroDivisionError" in m.error
    short = [Report("x/y", "inconclusive", 1, filtered=30, required=5),
             Report("x/y", "verified", 5, filtered=1, required=5)]
    assert campaign.merge_reports("x/y", short).status == "inconclusive"


# -- the same results on any number of workers ------------------------------------------
def test_process_pool_gives_the_serial_results(serial):
    pooled = campaign.run_campaign(CHEAP, workers=2, use_dask=False, **KW)
    assert pooled.executor.startswith("processes")
    assert _summary(pooled) == _summary(serial)
    statuses = {r.claim_id: r.status for r in serial.reports}
    assert statuses == {"mre/prop-1": "verified", "fdiv/tv2-le-kl": "verified",
                        "mre/repair-cost": "refuted"}
    ref = serial.reports[2]
    assert ref.counterexample is not None and "get_claim('mre/repair-cost')" in \
        ref.counterexample.snippet
    assert serial.reports[0].examples_run == 30
    # merged up to the first refuting shard, like a single run stopping at its failure
    counted = serial.shards["mre/repair-cost"]
    assert counted[-1].status == "refuted"
    assert all(r.status == "verified" for r in counted[:-1])
    assert ref.examples_run == sum(r.examples_run for r in counted)
    assert [len(v) for v in pooled.shards.values()] == [len(v) for v in serial.shards.values()]


def test_dask_local_cluster_gives_the_serial_results(serial):
    pytest.importorskip("distributed")
    res = campaign.run_campaign(CHEAP, workers=2, **KW)
    assert res.executor.startswith("dask")
    assert _summary(res) == _summary(serial)
    assert res.reports[2].counterexample.snippet == serial.reports[2].counterexample.snippet


def test_cli_campaign_writes_the_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_executor, "dask_available", lambda: False)   # this process
    out = tmp_path / "C.md"
    code = pc_main(["campaign", "--claim", "mre/prop-1", "--claim", "mre/repair-cost",
                    "--examples", "20", "--shard-size", "10", "--workers", "1",
                    "--seed", "3", "--out", str(out)])
    assert code == 0
    text = out.read_text()
    assert "python -m proofs_check campaign --out CLAIMS.md --profile thorough --seed 3" \
        in text
    assert "| `mre/prop-1` |" in text and "| **verified** | 20 |" in text
    assert "### `mre/repair-cost` -- refuted" in text and "```python" in text
    assert "campaign: seed 3" in capsys.readouterr().err


def test_cli_campaign_bad_scheduler_is_a_usage_error(monkeypatch, capsys):
    def no_dask(*a, **k):
        raise ImportError("the Dask executor needs dask.distributed")

    monkeypatch.setattr(_executor, "DaskExecutor", no_dask)
    with pytest.raises(SystemExit) as exc:
        pc_main(["campaign", "--claim", "mre/prop-1", "--examples", "2",
                 "--scheduler", "tcp://nowhere:1"])
    assert exc.value.code == 2
    assert "--scheduler" in capsys.readouterr().err


# -- fairmg reproduce through the same executor -----------------------------------------
def _jobs():
    from fairmg.reproduce import mpg

    return [mpg.Job(2, s, "pg", 0.0, 0, 5) for s in range(3)]


def test_reproduce_grid_on_dask_skips_the_checkpointed_runs(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from fairmg.reproduce import mpg

    jobs = _jobs()
    serial = mpg.run_jobs(jobs, workers=1, progress=False)
    ck = Checkpoint(tmp_path / "x.partial.npz")
    mpg.run_jobs(jobs[:1], workers=1, progress=False, checkpoint=ck)
    ran = []
    real = _executor.DaskExecutor.run

    def spy(self, fn, items):
        ran.extend(items)
        return real(self, fn, items)

    monkeypatch.setattr(_executor.DaskExecutor, "run", spy)
    with _executor.use_scheduler(_executor.LOCAL):
        res = mpg.run_jobs(jobs, workers=2, progress=False, checkpoint=ck)
    assert {j for unit in ran for j in unit} == set(jobs[1:])  # the finished one skipped
    assert set(ck.results) == {job_key(j) for j in jobs}
    for cfg in serial:
        for k in serial[cfg]:
            np.testing.assert_array_equal(res[cfg][k], serial[cfg][k])


def test_reproduce_keeps_finished_runs_when_the_executor_fails(tmp_path, monkeypatch):
    """A lost worker (any error, not only Ctrl-C) leaves the finished runs on disk."""
    from fairmg.reproduce import mpg, reproduce

    finished = []
    real = mpg.run_batch

    def flaky(unit):
        if len(finished) >= 3:
            raise RuntimeError("worker lost")
        out = real(unit)
        finished.extend(job for job, _ in out)
        return out

    monkeypatch.setattr(mpg, "run_batch", flaky)
    monkeypatch.setattr(mpg, "warm_up", lambda jobs: None)
    with pytest.raises(RuntimeError, match="worker lost"):
        reproduce("mpg-fig4", tmp_path, quick=True, progress=False, workers=1)
    ck = Checkpoint.load(tmp_path / "mpg-fig4.partial.npz")
    assert len(finished) >= 3 and set(ck.results) == {job_key(j) for j in finished}


def test_a_one_shard_claim_is_exactly_the_table_run():
    """Shard 0 runs with the campaign's seed, so a claim within one shard reproduces
    ``check_claim(id, seed=seed)`` (what ``table`` writes), example for example."""
    from proofs_check import check_claim
    res = campaign.run_campaign(["mre/repair-cost", "mre/prop-1"], examples=25, workers=1,
                                seed=3, use_dask=False, shard_size=1000)
    for rep in res.reports:
        alone = check_claim(rep.claim_id, max_examples=25, seed=3, profile="thorough")
        assert (rep.status, rep.examples_run, rep.filtered) == (
            alone.status, alone.examples_run, alone.filtered)
        assert rep.worst_slack == alone.worst_slack


def _blas_threads(_):
    return _executor.blas_threads()


def test_process_workers_run_one_blas_thread():
    """Every figure's workers (not only those that asked) set OpenBLAS to one thread: two
    workers with a threaded BLAS each oversubscribe two cores. The serial executor too,
    and it restores the count (a run at 1 vs 2 threads differs after ~30 iterations)."""
    from fairmg.reproduce._executor import ProcessExecutor
    if not Path("/proc/self/maps").exists() or _blas_threads(None) is None:
        pytest.skip("no OpenBLAS found in /proc/self/maps")
    ex = ProcessExecutor(2)
    try:
        counts = [r for _, r in ex.run(_blas_threads, range(4))]
    finally:
        ex.close()
    assert counts == [1, 1, 1, 1]
    before = _executor.blas_threads()
    _executor.limit_blas_threads(2)
    serial = _executor.SerialExecutor()
    assert [r for _, r in serial.run(_blas_threads, range(2))] == [1, 1]
    assert _executor.blas_threads() == 2
    _executor.limit_blas_threads(before)


def test_local_dask_workers_run_one_blas_thread():
    pytest.importorskip("distributed")
    if not Path("/proc/self/maps").exists() or _blas_threads(None) is None:
        pytest.skip("no OpenBLAS found in /proc/self/maps")
    ex = _executor.DaskExecutor(_executor.LOCAL, workers=2)
    try:
        counts = [r for _, r in ex.run(_blas_threads, range(4))]
    finally:
        ex.close()
    assert counts == [1, 1, 1, 1]
