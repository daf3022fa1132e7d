# %% [markdown]
# # Policy-gradient dynamics on the coordination game (002, Sections 3 and 5)
# Independent softmax PG, natural PG, the approximate-best-response NPG (NPG-BR) and a
# neural-network PG, all with exact gradients, on the 3-agent coordination game of
# Appendix G.1. Every run records the exact Nash-gap and price of anarchy each iteration.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fairmg as fm
from fairmg.dynamics import pg

OUT = Path("examples/output")   # the one folder this example writes to (git-ignored)

g = fm.games.coordination(n_agents=3, eps=0.1, gamma=0.95)
theta0 = np.random.default_rng(0).normal(size=(g.n_agents, g.n_states, 2))  # logits N(0, 1)
print(g, "social optimum", round(fm.social_optimum(g).value, 4))

# %% The exact policy gradient of Lemma 3.1, d(s) pi(a|s) A(s, a), against a finite difference
ev = fm.evaluate(g, fm.ProductPolicy.from_logits(g, theta0))
grad = pg.policy_gradient(ev)
h, idx = 1e-6, (1, 5, 0)
up, down = theta0.copy(), theta0.copy()
up[idx] += h
down[idx] -= h
fd = (pg.regularized_values(g, up)[1] - pg.regularized_values(g, down)[1]) / (2 * h)
print(f"dV^1/dtheta{list(idx)}: Lemma 3.1 {grad[idx]:.8f}, finite difference {fd:.8f}")

# %% Four dynamics from the same initial logits (step 0.1, 150 iterations)
iters = 150
runs = {
    "PG": fm.dynamics.softmax_pg(g, theta0, lr=0.1, iters=iters),
    "PG + barrier (lambda=0.1)": fm.dynamics.softmax_pg(g, theta0, lr=0.1, iters=iters,
                                                        log_barrier=0.1),
    "NPG": fm.dynamics.npg(g, theta0, lr=0.1, iters=iters),
    "NPG-BR (K=5)": fm.dynamics.npg_best_response(g, theta0, inner_steps=5, lr=1.0,
                                                  iters=iters),
    "NN-Adam": fm.dynamics.nn_pg(g, seed=0, optimizer="adam", lr=0.1, iters=iters),
}
for name, run in runs.items():
    print(f"{name:28s} final POA {run.metrics['poa'][-1]:.4f}  "
          f"Nash-gap {run.metrics['nash_gap'][-1]:.2e}  potential "
          f"{run.metrics['potential'][-1]:.4f}")

# %% NPG is soft policy iteration (Lemma 3.7): pi_{t+1} = pi_t exp(eta A) / Z
run, eta = runs["NPG"], 0.1
A = fm.evaluate(g, run.policies[0]).local_advantages
w = run.policies[0].probs * np.exp(eta * A)
print("Lemma 3.7 holds:", np.allclose(run.policies[1].probs, w / w.sum(-1, keepdims=True)))

# %% NPG-BR moves one agent per iteration: the one whose K soft-PI steps gain the most
br = runs["NPG-BR (K=5)"]
print("agents moved in the first 12 iterations:", br.params["agents"][:12])

# %% POA (top) and Nash-gap (bottom)
fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
for name, run in runs.items():
    top.plot(run.metrics["poa"], label=name)
    bottom.plot(run.metrics["nash_gap"], label=name)
top.set_ylabel("POA")
bottom.set_ylabel("Nash-gap")
bottom.set_xlabel("iteration")
top.legend(fontsize=8)
fig.tight_layout()
OUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT / "coordination_dynamics.png", dpi=100)
print(f"wrote {OUT / 'coordination_dynamics.png'}")
