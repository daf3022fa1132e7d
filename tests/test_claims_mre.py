"""The MRE claims of 001 and the alpha-fair limits of 000 (proofs_check/claims/mre_eld.py):
the verified ones hold on hypothesis-drawn instances, the refuted ones are pinned by
hand-checked counterexamples."""
import importlib
from fractions import Fraction

import pytest
from hypothesis import given, settings

from proofs_check.claims import mre_eld as m

VERIFIED = ["mre/prop-1", "mre/prop-2", "mre/prop-4/excess-convex",
            "mre/prop-4/excess-transfer", "mre/lemma-4.1", "mre/ranges", "alpha_fair/limits"]
REFUTED = ["mre/prop-3", "mre/prop-3/schur", "mre/prop-3/strict-pd", "mre/prop-4",
           "mre/prop-4/mre-convex-in-x", "mre/repair-cost"]


def test_every_claim_is_classified():
    assert sorted(VERIFIED + REFUTED) == sorted(m.CLAIMS)


@pytest.mark.parametrize("cid", VERIFIED)
def test_verified_claim_holds(cid):
    check, strategy = m.CLAIMS[cid]

    @settings(max_examples=50)
    @given(strategy())
    def holds(instance):
        ok, lhs, rhs, slack, detail = check(instance)
        assert ok, f"{cid} fails on {instance!r}: {detail}"

    holds()


# ------------------------------------------------------- pinned counterexamples

PD = {"x": [0.0, 2.0, 3.0], "tau": 0.0, "excess": "relative",
      # D = 7/8 I + 1/8 (swap 0, 1): D x = (0.25, 1.75, 3), the transfer of 0.25 from 1 to 0
      "perms": [[0, 1, 2], [1, 0, 2]], "weights": [7.0, 1.0], "i": 1, "j": 0,
      "delta": 0.25}


def h_exact(x, tau=Fraction(0)):
    """H of eq. (2) in exact rational arithmetic, for the hand checks."""
    x = [Fraction(v) for v in x]
    mean = sum(x) / len(x)
    e = [max(abs(v - mean) - tau * mean, Fraction(0)) for v in x]
    return sum(abs(v - sum(e) / len(e)) for v in e) / 2


def test_pigou_dalton_transfer_can_raise_mre():
    # x = (0, 2, 3): e = (5/3, 1/3, 4/3), H = 7/9; after 0.25 from agent 1 to 0, H = 31/36.
    assert h_exact([0, 2, 3]) == Fraction(7, 9)
    assert h_exact([Fraction(1, 4), Fraction(7, 4), 3]) == Fraction(31, 36)
    for cid in ("mre/prop-3", "mre/prop-3/schur", "mre/prop-3/strict-pd"):
        ok, lhs, rhs, slack, detail = m.CLAIMS[cid][0](PD)
        assert not ok, cid
        assert (lhs, rhs) == pytest.approx((31 / 36, 7 / 9), abs=1e-12)


def test_pigou_dalton_transfer_inside_the_band_leaves_mre_unchanged():
    inst = {"x": [0.95, 1.05, 0.0, 2.0], "tau": 0.1, "excess": "relative",
            "perms": [[0, 1, 2, 3]], "weights": [1.0], "i": 1, "j": 0, "delta": 0.02}
    ok, lhs, rhs, slack, detail = m.check_prop_3_strict_pd(inst)
    assert not ok and lhs == pytest.approx(0.9) and rhs == pytest.approx(0.9)
    assert m.check_prop_3_schur(inst)[0]          # the weak half holds here


@pytest.mark.parametrize("x, y, h_mid, chord, kind", [
    ([0.0, 0.0, 1.0], [0.0, 1.0, 1.0], 1 / 3, 2 / 9, "relative"),
    ([0.8, 0.0, 2.2], [1.2, 0.0, 1.8], 2 / 3, (0.8 + 7 / 15) / 2, "absolute"),
])
def test_mre_is_not_convex_in_x(x, y, h_mid, chord, kind):
    inst = {"x": x, "y": y, "t": 0.5, "tau": 0.0, "excess": kind, "i": 0, "j": 1,
            "frac": 0.5}
    for cid in ("mre/prop-4", "mre/prop-4/mre-convex-in-x"):
        ok, lhs, rhs, slack, detail = m.CLAIMS[cid][0](inst)
        assert not ok and "mre-convex-in-x" in detail
        assert (lhs, rhs) == pytest.approx((h_mid, chord), abs=1e-12)
    assert m.check_prop_4_excess_convex(inst)[0] and m.check_prop_4_excess_transfer(inst)[0]


def test_excess_transfer_is_not_strict():
    # e = (0, 1, 2, 2.5) - both donors above the mean excess: ||p - u||_1 is unchanged.
    inst = {"x": [0.0, 0.0, 0.0, 0.0, 3.0, 3.5], "y": [0.0] * 6, "t": 1.0, "tau": 0.0,
            "excess": "absolute", "i": 5, "j": 4, "frac": 0.2}
    ok, after, before, slack, detail = m.check_prop_4_excess_transfer(inst)
    assert ok and after == pytest.approx(before, abs=1e-12)


def test_zero_mre_does_not_mean_everyone_is_in_band():
    inst = {"x": [0.0, 2.0], "tau": 0.5, "excess": "relative"}
    ok, h, cost, slack, detail = m.check_repair_cost(inst)
    assert not ok and h == 0.0 and cost == pytest.approx(0.5, abs=1e-9)


# ------------------------------------------------------------------ the framework

def _framework():
    pc = importlib.import_module("proofs_check")
    if not hasattr(pc, "check_claim"):
        pytest.skip("proofs_check framework not available yet")
    return pc


@pytest.mark.parametrize("cid", VERIFIED + REFUTED)
def test_framework_runs_claim(cid):
    pc = _framework()
    report = pc.check_claim(cid, max_examples=50 if cid in VERIFIED else 300, seed=0)
    assert report.status == ("verified" if cid in VERIFIED else "refuted"), report


# ------------------------------------------------------- ELD (001 Sec. 4.2)
@pytest.mark.parametrize("cid,status", [("eld/unbiased", "refuted"),
                                        ("eld/unbiased-team", "verified"),
                                        ("eld/kkt", "refuted")])
def test_eld_claims(cid, status):
    """The printed estimator is biased and the iteration's stationary points are not KKT
    points (counterexamples hand-checked in tests/test_eld.py); the team-cost estimator at
    gamma = 1 is unbiased."""
    pc = _framework()
    report = pc.check_claim(cid, max_examples=30, seed=0)
    assert report.status == status, report
