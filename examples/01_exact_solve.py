# %% [markdown]
# # Exact solve of a Markov game
# Build the coordination game of 002 (Appendix G.1), evaluate a policy exactly, and compute
# best responses, the Nash-gap, the social optimum and the price of anarchy.

# %%
import numpy as np

import fairmg as fm

g = fm.games.coordination(n_agents=3, eps=0.1, gamma=0.95)
print(g)

# %% A random softmax policy, evaluated by one linear solve of (I - gamma P_pi)
rng = np.random.default_rng(0)
pol = fm.ProductPolicy.from_logits(g, rng.normal(size=(g.n_agents, g.n_states, 2)))
ev = fm.evaluate(g, pol)
print("V^i(mu):", ev.value_at_initial)
print("visitation sums to 1/(1-gamma):", ev.visitation.sum())
print("agent 0 local advantage A^0(s, a_0) in the first 3 states:\n", ev.local_advantage(0)[:3])

# %% Best responses and the Nash-gap (002, Definition 2.4)
for i in range(g.n_agents):
    br = fm.best_response(g, pol, i)
    print(f"agent {i}: V(mu) = {ev.value_at_initial[i]:.4f}, best response "
          f"{br.value_at_initial:.4f} ({br.iterations} policy-iteration steps)")
print("Nash-gap per agent:", fm.nash_gap(g, pol, per_agent=True))

# %% Social optimum and price of anarchy
opt = fm.social_optimum(g)
print(f"social optimum {opt.value:.4f}; POA of the random policy "
      f"{fm.price_of_anarchy(g, pol):.4f}; POA of the optimum "
      f"{fm.price_of_anarchy(g, opt.policy):.4f}")

# %% Your own game: a 2-state, 2-agent game from arrays
P = np.zeros((2, 4, 2))
P[:, :, 0], P[:, :, 1] = 0.3, 0.7
R = rng.random((2, 2, 4))
mine = fm.MarkovGame(P, R, gamma=0.9, initial=[1.0, 0.0], action_sizes=(2, 2))
uniform = fm.ProductPolicy.uniform(mine)
print(mine, "Nash-gap of uniform:", fm.nash_gap(mine, uniform))

# %% An MDP solved directly (policy iteration; never stops silently at a cap)
sol = fm.solve_mdp(P[:, :2, :], R[0, :, :2], 0.9)
print("optimal values", sol.values, "converged", sol.converged, "residual", sol.residual)

# %% Bad input is answered with the argument and index at fault
try:
    fm.MarkovGame(P * 0.97, R, gamma=0.9, action_sizes=(2, 2))
except ValueError as err:
    print("ValueError:", err)
