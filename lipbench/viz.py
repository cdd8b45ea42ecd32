"""Drawing helpers shared by the evaluators and the report."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def draw_critic_panel(
    ax, real, fake, surface_x=None, surface_y=None, surface_values=None, title=None, max_points: int = 1000
):
    """Real (orange) and generated (blue) 2-D points over the critic's value contours."""
    if surface_values is not None:
        cs = ax.contourf(surface_x, surface_y, surface_values, levels=20, cmap="viridis", alpha=0.55)
        ax.contour(surface_x, surface_y, surface_values, levels=10, colors="k", linewidths=0.3, alpha=0.5)
    real, fake = np.asarray(real)[:max_points], np.asarray(fake)[:max_points]
    ax.scatter(real[:, 0], real[:, 1], s=3, c="tab:orange", alpha=0.6, label="real", linewidths=0)
    ax.scatter(fake[:, 0], fake[:, 1], s=3, c="tab:blue", alpha=0.6, label="generated", linewidths=0)
    if surface_x is not None:
        ax.set_xlim(surface_x[0], surface_x[-1])
        ax.set_ylim(surface_y[0], surface_y[-1])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return cs if surface_values is not None else None


def save_critic_figure(path, real, fake, sx, sy, values, title):
    fig, ax = plt.subplots(figsize=(4.2, 4))
    cs = draw_critic_panel(ax, real, fake, sx, sy, values, title)
    if cs is not None:
        fig.colorbar(cs, ax=ax, fraction=0.046, pad=0.04, label="critic value D(x)")
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
