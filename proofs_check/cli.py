"""``python -m proofs_check list | run | table | campaign``.

``run`` prints one row per claim (status, examples, filtered, worst slack, time) and the
shrunk counterexample of each refutation; it exits 1 only when a claim errors (or a claim
module fails to import), never because a claim is refuted or inconclusive. ``table``
writes the status table (``CLAIMS.md``), merging the hand-kept notes of
``proofs_check/claim_notes.md``; it checks that ``--out`` can be written before running.
``campaign`` checks the claims in shards spread over workers (a Dask cluster, or a process
pool without dask; :mod:`proofs_check.campaign`) and writes the same table with ``--out``.

Progress (stderr): the expected duration first (from the per-example times recorded in
``CLAIMS.md``), then, on a terminal, one bar per claim counting its examples; elsewhere
only the row of each finished claim. Usage errors (an unknown claim or paper, a bad flag
value, an output path that cannot be written) exit 2 naming the flag; Ctrl-C exits 130.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import difflib
import json
import os
import re
import sys
import time
from pathlib import Path

from fairmg.cli import non_negative_int, positive_int

from .campaign import SHARD_SIZE
from .core import REGISTRY, Claim, all_claims, load_claims, load_errors
from .runner import PROFILES, Report, check_claim

NOTES_FILE = Path(__file__).with_name("claim_notes.md")
#: Seconds between redraws of a claim's progress bar.
BAR_MININTERVAL = 0.1
#: The generated status table whose per-claim times give the expected duration of a run.
TIMES_FILE = Path(__file__).resolve().parent.parent / "CLAIMS.md"


def _usage_error(args, message: str):
    """Exit 2 with ``message`` and the usage of the sub-command (``parser.error``)."""
    args.parser.error(message)


def _select(args) -> list[Claim]:
    """The claims named by ``--claim`` / ``--paper`` (all by default); an unknown claim
    or a paper with no claim is a usage error that lists what exists."""
    load_claims()
    if args.claim:
        unknown = [c for c in args.claim if c not in REGISTRY]
        for c in unknown:
            close = difflib.get_close_matches(c, sorted(REGISTRY), n=3, cutoff=0.6)
            if not close:   # a typo in the name part only: match within the group
                group = c.split("/")[0]
                close = [k for k in sorted(REGISTRY) if k.startswith(group + "/")][:3]
            groups = sorted({k.split("/")[0] for k in REGISTRY})
            hint = (f"did you mean {', '.join(close)}?" if close else
                    f"the groups are {', '.join(groups)}; `python -m proofs_check list` "
                    f"lists every claim")
            _usage_error(args, f"--claim: unknown claim {c!r}; {hint}")
        return [REGISTRY[c] for c in args.claim]
    claims = all_claims(paper=args.paper)
    if args.paper and not claims:
        everything = all_claims()
        groups = sorted({c.group for c in everything})
        papers = sorted({c.paper for c in everything})
        _usage_error(args, f"--paper {args.paper!r} matches no claim; give a claim group "
                           f"({', '.join(groups)}) or a paper file ({', '.join(papers)})")
    return claims


def _budget(c: Claim, args) -> int:
    """Examples the run asks of claim ``c`` (``--examples``, else the profile's)."""
    if args.examples is not None:
        return args.examples
    return c.budget(args.profile, PROFILES[args.profile].max_examples)


def recorded_times(path: Path = TIMES_FILE) -> dict[str, tuple[str, int, float]]:
    """``{claim id: (status, examples, seconds)}`` from the table of a generated
    ``CLAIMS.md`` (empty if there is none)."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    out = {}
    row = re.compile(r"^\| `([^`]+)` \|[^|]*\| \*\*(\w+)\*\* \| (\d+) \| \d+ \|[^|]*\| "
                     r"([\d.]+) \|", re.M)
    for m in row.finditer(text):
        out[m.group(1)] = (m.group(2), int(m.group(3)), float(m.group(4)))
    return out


def expected_seconds(claims, budgets, times) -> tuple[float, list[str]]:
    """Expected duration of checking ``claims`` with ``budgets`` examples each, from the
    recorded ``times``: a claim refuted before stops early and costs its recorded time, a
    verified one costs its time per example times the budget. Returns the total and the
    ids with no recorded time."""
    total, missing = 0.0, []
    for c, n in zip(claims, budgets):
        rec = times.get(c.id)
        if rec is None:
            missing.append(c.id)
            continue
        status, examples, seconds = rec
        if status in ("refuted", "error"):
            total += seconds
        else:
            total += seconds / max(1, examples) * n
    return total, missing


def _format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _announce(claims, args, stream) -> None:
    """Print the expected duration of the run before it starts."""
    budgets = [_budget(c, args) for c in claims]
    head = (f"checking {len(claims)} claim{'s' if len(claims) != 1 else ''} "
            f"({args.profile} profile, up to {max(budgets, default=0)} examples each)")
    times = recorded_times()
    if not times:
        print(f"{head}; no expected duration ({TIMES_FILE.name} with per-claim times not "
              f"found)", file=stream, flush=True)
        return
    total, missing = expected_seconds(claims, budgets, times)
    extra = (f"; {len(missing)} claim{'s' if len(missing) != 1 else ''} with no recorded "
             f"time not counted" if missing else "")
    print(f"{head}; expected about {_format_duration(total)} (from the per-example times "
          f"in {TIMES_FILE.name}{extra})", file=stream, flush=True)


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _fmt_slack(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def _row(rep: Report) -> str:
    return (f"{rep.status:<12} {rep.examples_run:>5} {rep.filtered:>6} "
            f"{_fmt_slack(rep.worst_slack):>10} {rep.time_s:>7.1f}  {rep.claim_id}")


def _claim_bar(c: Claim, k: int, n: int, budget: int):
    """The progress bar of claim ``c`` (the ``k``-th of ``n``): examples out of ``budget``."""
    from tqdm.auto import tqdm

    return tqdm(total=budget, desc=f"[{k + 1}/{n}] {c.id}", unit="ex", file=sys.stderr,
                leave=False, mininterval=BAR_MININTERVAL)


def _bar_hook(bar):
    """``check_claim``'s ``on_example`` hook that moves ``bar``."""

    def hook(run, filtered, shrinking):
        if shrinking:   # no estimate: shrinking takes as long as it takes
            if not getattr(bar, "_shrinking", False):
                bar._shrinking = True
                bar.bar_format = ("{desc}: refuted after {n} examples; shrinking the "
                                  "counterexample [{elapsed}]")
                bar.refresh()
            else:
                bar.update(0)
            return
        if filtered:
            bar.set_postfix_str(f"{filtered} filtered", refresh=False)
        bar.update(min(run, bar.total) - bar.n)

    return hook


def _run_all(claims, args, stream=None) -> list[Report]:
    """Check ``claims`` in turn, printing each row as it finishes (to ``stream``).

    On a terminal, a bar on stderr counts the examples of the claim being checked. Ctrl-C
    prints how many claims finished and exits 130 (``table`` then writes nothing).
    """
    stream = sys.stdout if stream is None else stream
    reports = []
    if args.progress:
        _announce(claims, args, sys.stderr)
    if not args.json:
        print(f"{'status':<12} {'exs':>5} {'filt':>6} {'worst slack':>10} {'time s':>7}  "
              f"claim", file=stream, flush=True)
    show_bar = args.progress and _is_tty(sys.stderr)
    for k, c in enumerate(claims):
        bar = _claim_bar(c, k, len(claims), _budget(c, args)) if show_bar else None
        hook = None if bar is None else _bar_hook(bar)
        try:
            rep = check_claim(c, max_examples=args.examples, seed=args.seed,
                              profile=args.profile, on_example=hook)
        except KeyboardInterrupt:
            if bar is not None:
                bar.close()
            print(f"proofs_check: interrupted while checking {c.id}; {len(reports)} of "
                  f"{len(claims)} claims finished (rows above)", file=sys.stderr, flush=True)
            raise SystemExit(130) from None
        if bar is not None:
            bar.close()
        reports.append(rep)
        if not args.json:
            print(_row(rep), file=stream, flush=True)
    return reports


def cmd_list(args) -> int:
    claims = _select(args)
    if args.json:
        print(json.dumps([dict(id=c.id, paper=c.paper, section=c.section,
                               statement=c.statement, assumptions=list(c.assumptions),
                               atol=c.atol, rtol=c.rtol) for c in claims], indent=1))
    else:
        for c in claims:
            where = f"{c.paper} {c.section}".strip()
            print(f"{c.id:<32} {where:<44} {c.statement[:80]}")
    errs = load_errors()
    for mod, tb in errs.items():
        print(f"ERROR importing {mod}: {tb.strip().splitlines()[-1]}", file=sys.stderr)
    return 1 if errs else 0


def cmd_run(args) -> int:
    reports = _run_all(_select(args), args)
    errs = load_errors()
    if args.json:
        print(json.dumps(dict(reports=[r.to_dict() for r in reports],
                              load_errors=errs), indent=1))
    else:
        for mod, tb in errs.items():
            print(f"{'error':<12} {'-':>5} {'-':>6} {'-':>10} {'-':>7}  {mod} (import: "
                  f"{tb.strip().splitlines()[-1]})")
        for r in reports:
            if r.status in ("refuted", "error", "inconclusive"):
                print(f"\n== {r}")
    return 1 if errs or any(r.status == "error" for r in reports) else 0


def parse_notes(text: str) -> dict[str, str]:
    """``## <claim id>`` sections of the hand-kept notes file -> their text."""
    out: dict[str, str] = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        out[head.strip()] = body.strip()
    return out


def render_table(reports: list[Report], notes: dict[str, str], *, profile: str,
                 seed, total_s: float, errors: dict[str, str],
                 command: str | None = None) -> str:
    """The markdown of ``CLAIMS.md``.

    ``command`` is the command line quoted as its origin (default the ``table`` command
    of ``profile`` and ``seed``; ``campaign`` passes its own).
    """
    by_id = {c.id: c for c in all_claims(load=False)}
    stamp = _dt.date.today().isoformat()
    if command is None:
        command = (f"python -m proofs_check table --out CLAIMS.md --profile "
                   f"{profile}{'' if seed is None else f' --seed {seed}'}")
    lines = ["# Claims checked by proofs_check", "",
             f"Generated by `{command}` on {stamp} "
             f"({total_s:.0f} s in all). Do not edit by hand: the notes come from "
             f"`proofs_check/claim_notes.md` and each claim's `notes`.", "",
             "Status: **verified** (every drawn instance satisfied the claim), **refuted** "
             "(a counterexample, shrunk, is below), **inconclusive** (the assumptions "
             "rejected too many draws to say), **error** (the check failed to run). "
             "Slack is the raw margin of the tightest instance (rhs - lhs for <=; "
             "-|lhs - rhs| for identities).", "",
             "| claim | paper, section | status | examples | filtered | worst slack | "
             "time (s) |", "|---|---|---|---|---|---|---|"]
    for r in reports:
        c = by_id[r.claim_id]
        lines.append(f"| `{r.claim_id}` | {c.paper} {c.section} | **{r.status}** | "
                     f"{r.examples_run} | {r.filtered} | {_fmt_slack(r.worst_slack)} | "
                     f"{r.time_s:.1f} |")
    for mod, tb in errors.items():
        lines.append(f"| `{mod}` (module) | - | **error** (import: "
                     f"{tb.strip().splitlines()[-1]}) | - | - | - | - |")
    lines += ["", "## Details", ""]
    for r in reports:
        c = by_id[r.claim_id]
        lines += [f"### `{r.claim_id}` -- {r.status}", "", f"*{c.paper} {c.section}.* "
                  f"{c.statement}", ""]
        if c.assumptions:
            lines.append("Assumptions: " + "; ".join(c.assumptions) + ".")
            lines.append("")
        tol = f"Tolerance: atol = {c.atol:g}, rtol = {c.rtol:g}."
        lines += [tol + (f" {c.tolerance}" if c.tolerance else ""), ""]
        lines += [f"Run: {r.examples_run} examples ({r.filtered} filtered by the "
                  f"assumptions), worst slack {_fmt_slack(r.worst_slack)}, "
                  f"{r.time_s:.1f} s."]
        if r.tightest is not None:
            lines.append(f"Tightest instance: {r.tightest}")
        for n in r.notes:
            lines.append(f"Note: {n}")
        lines.append("")
        if r.counterexample is not None:
            ce = r.counterexample
            lines += ["Counterexample (shrunk by hypothesis):", "",
                      f"    {ce.verdict if ce.verdict is not None else ce.error}", "",
                      "```python", ce.snippet, "```", ""]
        for text in (c.notes.strip(), notes.get(r.claim_id, "")):
            if text:
                lines += [text, ""]
    return "\n".join(lines).rstrip() + "\n"


def check_writable(args, path: Path, flag: str = "--out") -> None:
    """Usage error (exit 2) unless a file can be written at ``path``: checked before the
    claims run, so that a bad path costs nothing. An existing file is not modified."""
    if path.is_dir():
        _usage_error(args, f"{flag} {path}: is a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        _usage_error(args, f"{flag} {path}: the folder {parent} does not exist")
    existed = path.exists()
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        _usage_error(args, f"{flag} {path}: cannot write there ({exc.strerror or exc})")
    if not existed:
        path.unlink(missing_ok=True)


def cmd_table(args) -> int:
    t0 = time.perf_counter()
    out = Path(args.out)
    check_writable(args, out)
    claims = _select(args)
    reports = _run_all(claims, args, stream=sys.stderr)
    notes_path = Path(args.notes)
    notes = parse_notes(notes_path.read_text()) if notes_path.exists() else {}
    text = render_table(reports, notes, profile=args.profile, seed=args.seed,
                        total_s=time.perf_counter() - t0, errors=load_errors())
    try:
        out.write_text(text)
    except OSError as exc:   # checked at the start; the folder may have gone since
        fallback = Path.cwd() / f"CLAIMS-{os.getpid()}.md"
        fallback.write_text(text)
        print(f"proofs_check: error: --out {out}: cannot write ({exc.strerror or exc}); "
              f"the table is in {fallback}", file=sys.stderr)
        return 2
    print(f"wrote {out}", file=sys.stderr)
    return 1 if load_errors() or any(r.status == "error" for r in reports) else 0


def cmd_campaign(args) -> int:
    """``campaign``: the selected claims in shards on Dask (or a process pool), merged;
    ``--out`` writes the same table as ``table``."""
    from . import campaign as _campaign

    t0 = time.perf_counter()
    out = Path(args.out) if args.out else None
    if out is not None:
        check_writable(args, out)
    if args.scheduler is None and args.workers is None:
        args.workers = os.cpu_count() or 1
    claims = _select(args)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    stream = sys.stderr if out is not None else sys.stdout
    if args.progress:
        _announce(claims, args, sys.stderr)
        where = (f"the Dask scheduler {args.scheduler}" if args.scheduler else
                 f"{args.workers} worker{'s' if args.workers != 1 else ''}")
        print(f"campaign: seed {seed}, shards of at most {args.shard_size} examples, on "
              f"{where}", file=sys.stderr, flush=True)
    if not args.json:
        print(f"{'status':<12} {'exs':>5} {'filt':>6} {'worst slack':>10} {'time s':>7}  "
              f"claim", file=stream, flush=True)
    times = recorded_times()
    costs = {cid: sec / max(1, n) for cid, (_, n, sec) in times.items()}
    show = None if args.json else (lambda r: print(_row(r), file=stream, flush=True))
    try:
        res = _campaign.run_campaign(claims, examples=args.examples, workers=args.workers,
                                     scheduler=args.scheduler, seed=seed,
                                     profile=args.profile, shard_size=args.shard_size,
                                     costs=costs, on_report=show)
    except KeyboardInterrupt:
        print("proofs_check: campaign interrupted; nothing written", file=sys.stderr)
        raise SystemExit(130) from None
    except ImportError as exc:
        _usage_error(args, f"--scheduler: {exc}")
    errs = load_errors()
    if args.progress:
        print(f"campaign: {len(res.reports)} claims in {res.wall_s:.1f} s wall on "
              f"{res.executor}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(dict(reports=[r.to_dict() for r in res.reports], seed=seed,
                              wall_s=round(res.wall_s, 3), executor=res.executor,
                              load_errors=errs), indent=1))
    else:
        for r in res.reports:
            if r.status in ("refuted", "error", "inconclusive"):
                print(f"\n== {r}", file=stream)
    if out is not None:
        notes_path = Path(args.notes)
        notes = parse_notes(notes_path.read_text()) if notes_path.exists() else {}
        parts = ["python -m proofs_check campaign --out CLAIMS.md", f"--profile {args.profile}",
                 f"--seed {seed}"]
        if args.examples is not None:
            parts.append(f"--examples {args.examples}")
        text = render_table(res.reports, notes, profile=args.profile, seed=seed,
                            total_s=time.perf_counter() - t0, errors=errs,
                            command=" ".join(parts))
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    return 1 if errs or any(r.status == "error" for r in res.reports) else 0


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m proofs_check`` argument parser."""
    p = argparse.ArgumentParser(prog="python -m proofs_check",
                                description="Property-based checks of the papers' claims.")
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(q, run=True):
        q.add_argument("--paper", help="claim group (mpg_pg) or paper file")
        q.add_argument("--claim", action="append", help="claim id (repeatable)")
        q.add_argument("--json", action="store_true", help="JSON output")
        q.set_defaults(parser=q)
        if run:
            q.add_argument("--examples", type=positive_int,
                           help="examples per claim (default: the profile's)")
            q.add_argument("--seed", type=non_negative_int, help="hypothesis seed")
            q.add_argument("--profile", default="ci", choices=sorted(PROFILES))
            q.add_argument("--no-progress", dest="progress", action="store_false",
                           help="no expected duration, no progress bar")

    common(sub.add_parser("list", help="list the registered claims"), run=False)
    common(sub.add_parser("run", help="check claims; one row per claim"))
    t = sub.add_parser("table", help="run and write the status table (CLAIMS.md)")
    common(t)
    t.add_argument("--out", default="CLAIMS.md", help="the file to write (checked first)")
    t.add_argument("--notes", default=str(NOTES_FILE), help="hand-kept notes (markdown)")
    t.set_defaults(profile="thorough")
    c = sub.add_parser("campaign", help="check claims in shards on Dask workers (or a "
                                        "process pool) and merge them",
                       description="Check every selected claim in shards (seeds derived "
                                   "from --seed, the claim and the shard), on a Dask "
                                   "LocalCluster of --workers processes, a running Dask "
                                   "scheduler (--scheduler), or a process pool when dask "
                                   "is not installed; the results are the same for any "
                                   "number of workers.")
    common(c)
    c.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes (default: every core)")
    c.add_argument("--scheduler", default=None,
                   help="address of a running Dask scheduler (tcp://host:8786), or "
                        "'local'; default a LocalCluster (pip install \"fairmg[dask]\"), "
                        "or a process pool without dask")
    c.add_argument("--shard-size", type=positive_int, default=SHARD_SIZE,
                   help=f"most examples per shard (default {SHARD_SIZE}: a claim is one "
                        f"shard, one long run, which the guided search needs to find the "
                        f"rarest counterexamples)")
    c.add_argument("--out", default=None, help="write the status table (CLAIMS.md format)")
    c.add_argument("--notes", default=str(NOTES_FILE), help="hand-kept notes (markdown)")
    c.set_defaults(profile="thorough")
    return p


def main(argv=None) -> int:
    """Entry point of ``python -m proofs_check``; returns the exit status."""
    args = build_parser().parse_args(argv)
    return {"list": cmd_list, "run": cmd_run, "table": cmd_table,
            "campaign": cmd_campaign}[args.cmd](args)
