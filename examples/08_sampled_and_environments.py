# %% [markdown]
# # The sampled mode against the exact engine, and deep MARL on a batched environment
# 1. On the cleaning commons of 000, sampled 1-FHAPPO at three batch sizes beside the exact
#    FHAPPO: the exact fair objective J (alpha = 1) of every iterate.
# 2. The same algorithm family on the batched CleanUp environment (004's map size with 3
#    agents and 50-step episodes, 000's zap), with MLP actors and critics: utilitarian HAPPO
#    against 1-FHAPPO, the agents' returns and their Gini index (a few iterations: a demo,
#    not a result; `fairmg reproduce fair-cleanup` runs the experiment).
# Writes CSV + PNG into `examples/output/`.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fairmg as fm
from fairmg.dynamics import trust_region as tr
from fairmg.dynamics.trust_region import fair_metrics

OUT = Path("examples") / "output"
OUT.mkdir(parents=True, exist_ok=True)

g = fm.games.commons(n_agents=2)
theta0 = np.random.default_rng(0).normal(size=(2, 4, 2))
metrics = fair_metrics(1.0, 0.1)[:2]
ITERS = 15
curves = {"exact": tr.happo(g, theta0, 1.0, 0.1, clip=0.05, lr=0.05, iters=ITERS, seed=0,
                            metrics=metrics).metrics["fair_objective"]}
for B in (8, 64, 512):
    run = fm.sampled.train(g, "happo", ITERS, n_envs=B, seed=0, alpha=1.0, theta0=theta0,
                           clip=0.05, lr=0.05, metrics=metrics)
    curves[f"B = {B}"] = run.metrics["fair_objective"]
for k, v in curves.items():
    print(f"{k:>8s}: J from {v[0]:.4f} to {v[-1]:.4f}")

# %% [markdown]
# ## Deep MARL on CleanUp

# %%
env = fm.envs.make("cleanup", n_envs=4, preset="anticipation", n_agents=3, max_steps=50,
                   fire_cost=0.0, hit_penalty=0.0, teleport=True)
deep = {}
for name, alpha in (("HAPPO", None), ("1-FHAPPO", 1.0)):
    r = fm.sampled.train_env(env, "happo", 5, seed=0, alpha=alpha, hidden=(32,),
                             lr=5e-3, clip=0.2)
    deep[name] = r.returns
    print(name, "final returns per agent", np.round(r.returns[-1], 2),
          "Gini", round(float(fm.fairness.gini(np.maximum(r.returns[-1], 1e-12))), 3))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
for k, v in curves.items():
    axes[0].plot(v, lw=2.5 if k == "exact" else 1.4, color="k" if k == "exact" else None,
                 label=k)
axes[0].set(title="1-FHAPPO on the commons: exact J of each iterate", xlabel="iteration",
            ylabel="fair objective J (alpha = 1)")
axes[0].legend()
for k, v in deep.items():
    axes[1].plot(v.sum(axis=1), label=f"{k}: total")
axes[1].set(title="CleanUp (batched env, MLP actors)", xlabel="iteration",
            ylabel="mean episode return, all agents")
axes[1].legend()
fig.savefig(OUT / "sampled_and_environments.png", dpi=100)
with open(OUT / "sampled_and_environments.csv", "w") as fh:
    fh.write("series,iteration,value\n")
    for k, v in curves.items():
        fh.writelines(f"{k},{t},{x}\n" for t, x in enumerate(v))
print("wrote", OUT / "sampled_and_environments.png")
