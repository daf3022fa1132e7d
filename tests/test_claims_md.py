"""CLAIMS.md is never stale: it lists exactly the registered claims, each with its expected
status (issue 10: it said ``mpg_pg/thm-3.8`` is verified while the checker refutes it).

A claim's expected status is registered with it (``@claim(..., expected="refuted")``); for
the claims whose module does not pass ``expected=`` yet, it is kept in :data:`PENDING` below,
and a claim may not have both. The statuses are the checker's own: each is pinned by running
the checker in ``tests/test_claims_*.py``, and CLAIMS.md is rewritten only by the generator:

    python -m proofs_check table --out CLAIMS.md --profile thorough --seed 0

When a claim's status changes (the checker now says otherwise), update its expected status
and the test that pins it, then regenerate CLAIMS.md; never edit a status by hand.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import proofs_check as pc
from proofs_check.core import EXPECTED_STATUSES

CLAIMS_MD = Path(__file__).parent.parent / "CLAIMS.md"
REGENERATE = "python -m proofs_check table --out CLAIMS.md --profile thorough --seed 0"
ROW = re.compile(r"^\| `(?P<id>[^`]+)`(?P<module> \(module\))? \|[^|]*\| \*\*(?P<status>\w+)\*\*",
                 re.M)
DETAIL = re.compile(r"^### `(?P<id>[^`]+)` -- (?P<status>\w+)$", re.M)

#: Expected statuses of the claims whose module does not pass ``@claim(expected=...)`` yet
#: (move each into its ``@claim`` and delete it here). Empty: every claim now registers it.
PENDING: dict[str, str] = {}


def registered() -> dict[str, pc.Claim]:
    """The claims of proofs_check.claims (not those a test or notebook registers)."""
    pc.load_claims()
    return {c.id: c for c in pc.all_claims() if c.module.startswith("proofs_check.claims")}


def expected_status(c: pc.Claim) -> str | None:
    return c.expected if c.expected is not None else PENDING.get(c.id)


def parse_table(text: str) -> list[tuple[str, str, bool]]:
    """(claim id, status, is a module-import error row) of every row of the status table."""
    return [(m["id"], m["status"], bool(m["module"])) for m in ROW.finditer(text)]


def claims_md_statuses() -> dict[str, str]:
    return {cid: status for cid, status, module in parse_table(CLAIMS_MD.read_text())
            if not module}


REGISTERED = registered()


def test_every_claim_module_imports():
    assert pc.load_errors() == {}


def test_every_registered_claim_has_one_expected_status():
    both = [cid for cid, c in REGISTERED.items() if c.expected is not None and cid in PENDING]
    none = [cid for cid, c in REGISTERED.items() if expected_status(c) is None]
    stale = sorted(set(PENDING) - set(REGISTERED))
    assert (both, none, stale) == ([], [], []), (
        "each claim needs exactly one expected status: @claim(expected=...) or PENDING; "
        f"both: {both}; none: {none}; PENDING names unregistered claims: {stale}")
    assert {expected_status(c) for c in REGISTERED.values()} <= set(EXPECTED_STATUSES)


def test_claims_md_lists_exactly_the_registered_claims():
    rows = parse_table(CLAIMS_MD.read_text())
    errors = [cid for cid, _, module in rows if module]
    dupes = [cid for cid, n in Counter(cid for cid, _, m in rows if not m).items() if n > 1]
    listed = set(claims_md_statuses())
    assert (errors, dupes) == ([], []), f"module error rows or duplicates; run `{REGENERATE}`"
    assert sorted(set(REGISTERED) - listed) == [], f"missing from CLAIMS.md; run `{REGENERATE}`"
    assert sorted(listed - set(REGISTERED)) == [], f"not registered; run `{REGENERATE}`"


def test_claims_md_details_agree_with_its_table():
    text = CLAIMS_MD.read_text()
    details = {m["id"]: m["status"] for m in DETAIL.finditer(text)}
    assert details == claims_md_statuses()


@pytest.mark.parametrize("cid", sorted(REGISTERED))
def test_claims_md_status_is_the_expected_status(cid):
    """Fails as soon as CLAIMS.md shows a status other than the claim's expected one."""
    expected = expected_status(REGISTERED[cid])
    shown = claims_md_statuses().get(cid)
    assert shown == expected, (
        f"CLAIMS.md says {cid} is {shown}, its expected status is {expected}. If the checker "
        f"agrees with the expected status, regenerate: `{REGENERATE}`; if the checker now "
        f"says otherwise, update the expected status and the test that pins it first.")


# --------------------------------------------------------------- the check itself works

STALE = """| claim | paper, section | status | examples | filtered | worst slack | time (s) |
|---|---|---|---|---|---|---|
| `mpg_pg/thm-3.8` | 002 Thm. 3.8; App. E.2 | **verified** | 60 | 25 | 0.147 | 0.2 |
| `proofs_check.claims.x` (module) | - | **error** (import: boom) | - | - | - | - |
"""


def test_the_parser_reads_status_rows_and_module_error_rows():
    assert parse_table(STALE) == [("mpg_pg/thm-3.8", "verified", False),
                                  ("proofs_check.claims.x", "error", True)]
    assert REGISTERED["mpg_pg/thm-3.8"].expected == "refuted"   # the stale row of issue 10


def test_expected_status_is_registered_with_the_claim():
    from hypothesis import strategies as hst

    @pc.claim("test-claims-md/expected", strategy=hst.just(1), expected="refuted")
    def check(x):
        """1 < 1."""
        return pc.Verdict.leq(1, 0)

    assert check.expected == "refuted"
    assert pc.check_claim(check, max_examples=1).status == check.expected
    with pytest.raises(ValueError, match="expected must be one of"):
        pc.claim("test-claims-md/bad", strategy=hst.just(1), expected="true")
