# %% [markdown]
# # f-divergence policy iteration, TVPO and the unary formulation (paper 003)
# Every agent improves against its decentralized critic Q_i (eq. 3) with an f-divergence
# penalty (eq. 4). On the 2x2 game of Table 1 (a=5, b=7, c=6, d=4) the outcome is decided
# by where (p_0, q_0) lies relative to (p_hat, q_hat) = (0.5, 0.75) (Prop. 1, Cor. 1).

# %%
import numpy as np

import fairmg as fm
from fairmg.divergences import FDivergence, fdiv_argmax
from fairmg.dynamics.fdiv import alice_bob_game, alice_bob_policy, tvpo_omega

g = alice_bob_game(5, 7, 6, 4)
for div in ["kl", "chi2", "hellinger", "tv"]:
    omega = 0.02 if div == "tv" else 1.0        # TV moves only across gaps > omega
    ends = []
    for p0, q0 in [(0.4, 0.8), (0.6, 0.6), (0.49, 0.76), (0.51, 0.74)]:
        run = fm.dynamics.fdiv_iteration(g, alice_bob_policy(g, p0, q0), div, omega,
                                         iters=60, metrics=("values",))
        ends.append(run.metrics["values"][-1, 0])
    print(f"{div:>9s}: final reward per init {np.round(ends, 3)}")

# %% [markdown]
# ## Your own f: any convex sympy expression with f(1) = 0
# g = (f')^{-1} is derived symbolically; the per-state argmax of (4) is exact.

# %%
js = FDivergence("x*log(x) - (x + 1)*log((x + 1)/2)", name="jensen-shannon")
print(js, "g(y) =", js.g_expr)
step = fdiv_argmax(q=[1.0, 0.0, 0.5], prior=[0.2, 0.5, 0.3], divergence=js, omega=0.5)
print("argmax of (4):", np.round(step.probs, 4), "lambda_s =", step.lam)

# %% [markdown]
# ## TVPO on a Markov game, and the weight of Theorem 1
# With the paper's omega = (N-1)M/N the anti-coordination game cycles and V drops
# (claim fdiv/thm-1 is refuted); omega = (N-1)M keeps V monotone.

# %%
anti = fm.games.matrix_game(np.array([[-1.0, 1.0], [1.0, -1.0]]))
for rule in ("paper", "monotone"):
    run = fm.dynamics.tvpo(anti, alice_bob_policy(anti, 0.1, 0.1),
                           omega=tvpo_omega(anti, rule), iters=4, metrics=("values",))
    print(f"{rule:>8s} omega={tvpo_omega(anti, rule):g}: V_t = {run.metrics['values'][:, 0]}")

mg = fm.games.random_game(4, (2, 2, 2), 0.9, rng=0, kind="identical")
run = fm.dynamics.tvpo(mg, fm.ProductPolicy.uniform(mg), omega=tvpo_omega(mg, "monotone"),
                       iters=20)
print("TVPO (monotone omega) on a 3-agent Markov game:", run)
run = fm.dynamics.practical_tvpo(mg, fm.ProductPolicy.uniform(mg), iters=20)
print("practical TVPO (adaptive beta):", run, "beta_T =", run.states[-1][1])

# %% [markdown]
# ## The unary formulation (Appendix E): case 3 oscillates at omega = 0.1

# %%
case3 = alice_bob_game(7, 5, 4, 6)
run = fm.dynamics.unary_iteration(case3, alice_bob_policy(case3, 0.5, 0.1), "entropy",
                                  omega=0.1, iters=8, metrics=())
print("p_t:", np.round([pol.probs[0, 0, 0] for pol in run.policies], 3))
