"""The fdiv/* claims of 003: verified ones as hypothesis tests, refuted ones pinned by
explicit counterexamples, Prop. 1 / Cor. 1 symbolically, and via proofs_check."""
import pytest
from hypothesis import given, settings

from proofs_check.claims import fdiv as C

VERIFIED = ["fdiv/lemma-1", "fdiv/critic", "fdiv/prop-1", "fdiv/cor-1", "fdiv/lemma-2",
            "fdiv/prop-2-averaged", "fdiv/thm-1-monotone", "fdiv/tv-le-hellinger",
            "fdiv/tv2-le-kl", "fdiv/lemma-3", "fdiv/prop-3", "fdiv/cor-2"]
SLOW = {"fdiv/lemma-1": 8, "fdiv/cor-1": 8, "fdiv/cor-2": 5, "fdiv/lemma-3": 8}


@pytest.mark.parametrize("cid", VERIFIED)
def test_verified_claims_hold(cid):
    @settings(max_examples=SLOW.get(cid, 20))
    @given(C.STRATEGIES[cid])
    def run(inst):
        v = C.CHECKS[cid](inst)
        assert v.holds, v.detail

    run()


# -- refuted claims: pinned counterexamples ----------------------------------------------
def test_thm_1_refuted_on_anti_coordination():
    inst = {"payoffs": [[-1.0, 1.0], [1.0, -1.0]], "pq": [0.1, 0.1], "steps": 4}
    v = C.check_thm_1(inst)
    assert not v.holds and "cycles" in v.detail
    assert C.check_thm_1_monotone(inst).holds


def test_prop_2_refuted_with_the_papers_reading_of_8():
    inst = {"states": 2, "sizes": [2, 2, 2], "gamma": 0.5, "kind": "identical", "seed": 0,
            "scale": 1.0, "signed": False, "divergence": "kl", "omega": 0.2,
            "old_is_rho": True}
    v = C.check_prop_2(inst)
    assert not v.holds and v.slack < -0.01
    assert C.check_prop_2_averaged(inst).holds


def test_lemma_1_boundary_refuted_for_hellinger():
    inst = {"divergence": "hellinger", "q": [0.0, 0.0, 10.0], "prior": [0.5, 0.5, 0.0],
            "omega": 1.0, "seed": 0}
    assert not C.check_lemma_1_boundary(inst).holds
    assert C.check_lemma_1_boundary(dict(inst, divergence="kl")).holds


def test_prop_1_refuted_for_tv():
    inst = {"abcd": [5.0, 7.0, 6.0, 4.0], "p": 0.49, "q": 0.76, "omega": 1.0,
            "divergence": "tv"}
    assert not C.check_prop_1_tv(inst).holds
    assert C.check_prop_1(dict(inst, divergence="kl")).holds


def test_tv_le_squared_hellinger_refuted():
    inst = {"p": [0.5, 0.5], "q": [0.51, 0.49]}
    assert not C.check_tv_le_hellinger_fdiv(inst).holds
    assert C.check_tv_le_hellinger(inst).holds


# -- symbolic ------------------------------------------------------------------------
def test_prop_1_symbolic():
    facts = C.prop1_symbolic()
    assert all(facts.values()), facts


def test_cor_1_symbolic_kl():
    assert C.cor1_symbolic_kl()


# -- through the proofs_check framework ----------------------------------------------
@pytest.mark.parametrize("cid, status", [("fdiv/critic", "verified"),
                                         ("fdiv/prop-1", "verified"),
                                         ("fdiv/thm-1", "refuted"),
                                         ("fdiv/prop-2", "refuted"),
                                         ("fdiv/tv-le-hellinger-fdiv", "refuted")])
def test_via_check_claim(cid, status):
    pc = pytest.importorskip("proofs_check")
    if not hasattr(pc, "check_claim"):
        pytest.skip("proofs_check framework not available")
    rep = pc.check_claim(cid, max_examples=15)
    assert rep.status == status, rep
