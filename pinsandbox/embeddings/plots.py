"""Pictures for the notebook: loss curve, taste measures, UMAP taste maps (matplotlib)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def loss_curve(history: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    for ax, phase, cols in ((axes[0], "clip", ["clip"]), (axes[1], "engagement", ["engagement", "clip", "text", "loss"])):
        h = history[history["phase"] == phase]
        for c in cols:
            if c in h and h[c].notna().any():
                ax.plot(h["step"], h[c].rolling(10, min_periods=1).mean(), label=c)
        ax.set_title(f"phase: {phase}")
        ax.set_xlabel("step")
        ax.legend()
    axes[0].set_ylabel("loss (10-step mean)")
    fig.tight_layout()
    return fig


def taste_bars(taste: dict):
    """Style probe and style purity@10 of each vector set, on all, warm and cold pins (the result's `taste`)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
    groups = ("", "_warm", "_cold")
    for ax, (measure, title) in zip(axes, (("style_probe_accuracy", "linear style probe (3-fold CV)"),
                                           ("style_purity@10", "own-style share of the 10 nearest pins")), strict=True):
        x = np.arange(len(groups))
        for i, (kind, values) in enumerate(taste.items()):
            ax.bar(x + i * 0.4, [values.get(measure + g, np.nan) for g in groups], 0.4, label=kind)
        ax.set_xticks(x + 0.2, ["all pins", "warm pins", "cold pins"])
        ax.set_title(title)
        ax.set_ylim(0, 1)
    axes[0].legend()
    fig.tight_layout()
    return fig


def taste_labels(catalog, truth=None) -> pd.Series:
    """pin_id → what a taste map colours by: the latent style (Pinworld's truth), else the category, else nothing."""
    if truth is not None:
        return truth.pin_styles.set_index("pin_id")["style"]
    if "category" in catalog.pins:
        return catalog.pins.set_index("pin_id")["category"]
    return pd.Series(dtype=str)


def taste_maps(vector_sets: dict, labels: pd.Series, max_points: int = 3000, seed: int = 0):
    """UMAP of each vector set (cosine), coloured by `labels` (pin_id → style or category)."""
    import matplotlib.pyplot as plt
    import umap

    fig, axes = plt.subplots(1, len(vector_sets), figsize=(6 * len(vector_sets), 5))
    axes = np.atleast_1d(axes)
    classes = sorted(labels.dropna().unique())
    cmap = plt.get_cmap("tab20", max(len(classes), 1))
    for ax, (name, vecs) in zip(axes, vector_sets.items(), strict=False):
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(len(vecs.pin_ids), size=min(max_points, len(vecs.pin_ids)), replace=False))
        xy = umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=seed, n_epochs=150,
                       n_jobs=1).fit_transform(vecs.vectors[rows])
        lab = labels.reindex(vecs.pin_ids[rows]).to_numpy()
        for i, c in enumerate(classes):
            m = lab == c
            ax.scatter(xy[m, 0], xy[m, 1], s=4, color=cmap(i), label=c)
        ax.set_title(f"{name} pin vectors")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1].legend(markerscale=3, fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    return fig
