"""Episodes as animations: ``animate(env, states, path)`` writes a GIF (Pillow) or an MP4
(ffmpeg, when installed) of ``env.render_rgb`` frames with matplotlib."""
from __future__ import annotations

from pathlib import Path

__all__ = ["animate", "episode_states"]


def episode_states(env, policy=None, steps: int | None = None, seed: int = 0, env_index=0):
    """The states of one episode of ``env`` (random actions, or ``policy(obs) -> actions``
    (B, N)), for :func:`animate`."""
    import numpy as np
    rng = np.random.default_rng(seed)
    obs, state = env.reset(seed)
    states = [state]
    for _ in range(env.max_steps if steps is None else steps):
        if policy is None:
            a = np.stack([rng.integers(0, n, size=env.n_envs) for n in env.action_sizes], 1)
        else:
            a = policy(obs)
        obs, state, _, term, trunc, _ = env.step(state, a)
        states.append(state)
        if bool(np.asarray(term)[env_index]) or bool(np.asarray(trunc)[env_index]):
            break
    return states


def animate(env, states, path, *, fps: int = 8, env_index: int = 0, title: str | None = None):
    """Write the frames ``env.render_rgb(s, env_index)`` of ``states`` to ``path``
    (``.gif`` with Pillow, ``.mp4`` with ffmpeg); returns the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import animation

    path = Path(path)
    if path.suffix not in (".gif", ".mp4"):
        raise ValueError(f"path must end in .gif or .mp4, got {path.name!r}")
    if not states:
        raise ValueError("states is empty: nothing to animate")
    frames = [env.render_rgb(s, env_index) for s in states]
    fig, ax = plt.subplots(figsize=(frames[0].shape[1] / 60 + 1, frames[0].shape[0] / 60 + 1))
    ax.set_axis_off()
    im = ax.imshow(frames[0], interpolation="nearest")
    ax.set_title(title or f"{env.name}: step 0")

    def update(k):
        im.set_data(frames[k])
        ax.set_title(title or f"{env.name}: step {k}")
        return (im,)

    anim = animation.FuncAnimation(fig, update, frames=len(frames), blit=False)
    writer = animation.PillowWriter(fps=fps) if path.suffix == ".gif" else \
        animation.FFMpegWriter(fps=fps)
    anim.save(str(path), writer=writer)
    plt.close(fig)
    return path
