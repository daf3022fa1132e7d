"""The README's tour runs: every ```python block, in order, in one namespace.

The tour uses placeholder names (``payoffs``, ``P``, ``theta``, ...) for the user's own data;
``SETUP`` binds them, keyed by a line of the block that first needs them.
"""
import re
from pathlib import Path

import matplotlib

README = Path(__file__).parent.parent / "README.md"

SETUP = {
    "g = fm.games.coordination(n_agents=3, eps=0.1, gamma=0.95)": """
rg = fm.games.random_game(3, (2, 2), 0.9, rng=0)
P, R, mu = rg.transition, rg.rewards, rg.initial
payoffs = np.arange(4.0).reshape(2, 2)
theta = np.random.default_rng(1).normal(size=(2, 3, 2))
actions, joint, row = np.zeros((2, 3), int), np.zeros(3, int), np.full((3, 2), 0.5)
""",
    "br = fm.best_response(g, pol, agent=0)": """
P1, r1 = g.agent_mdp(pol, 0)
gamma = g.gamma
""",
    "pg.policy_gradient(fm.evaluate(g, pol))": """
theta, lam = theta0, 0.1
pol = fm.ProductPolicy.from_logits(g, theta)
ev = fm.evaluate(g, pol)
""",
    "x = np.array([1.79,": """
e = np.array([0.3, 0.0, 0.1])
""",
    "step = fdiv_argmax(": """
mg = fm.games.random_game(4, (2, 2, 2), 0.9, rng=0, kind="identical")
q, prior, p = np.array([[1.0, 2.0, 0.5]]), np.array([[0.2, 0.3, 0.5]]), np.full((1, 3), 1 / 3)
pol = fm.ProductPolicy.uniform(mg)
rho = fm.ProductPolicy.from_logits(mg, np.random.default_rng(2).normal(size=(3, 4, 2)))
""",
    "pc.all_claims(": """
g = fm.games.random_game(2, (2, 2), 0.8, rng=3, kind="potential")
pol = fm.ProductPolicy.uniform(g)
ev = fm.evaluate(g, pol)
theta = np.zeros((2, 2, 2))
reward, phi, agent = g.rewards[0], g.potential, 0
kappa, alpha, mask, h = 0.5, 1.0, np.ones((2, 2, 2), bool), 1e-4
f = lambda t: np.zeros(())
""",
}


def _blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_every_setup_key_matches_a_block():
    text = "".join(_blocks())
    assert [k for k in SETUP if k not in text] == []


def test_readme_tour_runs(monkeypatch, tmp_path):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "readme"}
    exec("import numpy as np\nimport fairmg as fm", ns)
    for block in _blocks():
        for key, setup in SETUP.items():
            if key in block:
                exec(setup, ns)
        exec(compile(block, str(README), "exec"), ns)


PUBLIC_MODULES = ["fairmg", "fairmg.games", "fairmg.fairness", "fairmg.divergences",
                  "fairmg.dynamics", "fairmg.dynamics.pg", "fairmg.dynamics.nn",
                  "fairmg.dynamics.fdiv", "fairmg.model", "fairmg.evaluate",
                  "fairmg.equilibrium", "proofs_check", "proofs_check.strategies",
                  "proofs_check.exact"]


def test_every_public_function_is_in_the_tour_or_an_example():
    import importlib
    import inspect
    docs = README.read_text() + "".join(
        p.read_text() for p in (README.parent / "examples").glob("*.py"))
    missing = []
    for name in PUBLIC_MODULES:
        mod = importlib.import_module(name)
        for attr in getattr(mod, "__all__", []):
            if inspect.isfunction(getattr(mod, attr)) and not re.search(rf"\b{attr}\b", docs):
                missing.append(f"{name}.{attr}")
    assert missing == []
