# %% [markdown]
# # From an idea to a verdict: property-testing your own bound
#
# `proofs_check` turns a bound into a hypothesis property: say what an instance is (a
# strategy), what to compare (a check returning a `Verdict`), and run it. A false bound
# comes back *refuted* with the smallest counterexample hypothesis could shrink to, printed
# as Python that rebuilds it; a true one comes back *verified* (or *inconclusive* if your
# assumptions rejected most draws).

# %%
import fairmg as fm
from proofs_check import Verdict, check_claim, claim, strategies as st


# %% [markdown]
# ## A made-up bound: "the uniform policy is a (0.1/(1-gamma))-Nash policy"

# %%
@claim("mine/uniform-near-nash", paper="my notes", strategy=st.games(n_agents=2, max_states=3))
def uniform_near_nash(g):
    """Nash-gap of the uniform policy <= 0.1 / (1 - gamma) (rewards in [0, 1])."""
    gap = fm.nash_gap(g, fm.ProductPolicy.uniform(g))
    return Verdict.leq(gap, 0.1 / (1 - g.gamma), "Nash-gap(uniform) vs 0.1/(1-gamma)")


report = check_claim("mine/uniform-near-nash", max_examples=200, seed=0)
print(report)                                  # refuted, with the shrunk counterexample
assert report.status == "refuted"
print(report.counterexample.snippet)           # paste it anywhere: it rebuilds the game


# %% [markdown]
# ## A true bound: the Nash-gap never exceeds the range of the agent's values
# For rewards in [0, 1], any deviation gains at most 1/(1-gamma); with a policy drawn too.

# %%
@claim("mine/gap-le-horizon", paper="my notes",
       strategy=st.cases(game=st.games(n_agents=(1, 3), max_states=3), policy=st.policies()))
def gap_le_horizon(c):
    """Nash-gap(pi) <= 1/(1 - gamma) for rewards in [0, 1]."""
    gap = fm.nash_gap(c.game, c.policy)
    return Verdict.leq(gap, 1 / (1 - c.game.gamma), scale=1 / (1 - c.game.gamma))


report = check_claim("mine/gap-le-horizon", max_examples=200, seed=0)
print(report)
assert report.status == "verified"
