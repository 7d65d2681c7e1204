"""Pictures for the notebook: loss curve, UMAP taste maps, similar-pins gallery (matplotlib, ipywidgets)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def loss_curve(history: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    for ax, phase, cols in ((axes[0], "clip", ["clip"]), (axes[1], "engagement", ["engagement", "clip", "loss"])):
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


def similar_gallery(pin_id: str, catalog, k: int = 8, sandbox=None):
    """The query pin and its k most similar pins under each vector set, with titles."""
    import matplotlib.pyplot as plt
    from PIL import Image

    from pinsandbox.embeddings.pipeline import KINDS, similar_pins

    pins = catalog.pins.set_index("pin_id")
    fig, axes = plt.subplots(len(KINDS), k + 1, figsize=(1.9 * (k + 1), 2.3 * len(KINDS)))
    for r, kind in enumerate(KINDS):
        table = similar_pins(pin_id, k=k, kind=kind, sandbox=sandbox)
        for c, pid in enumerate([pin_id, *table["pin_id"]]):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            image = pins.at[pid, "image"] if "image" in pins else None
            if image is not None and not pd.isna(image):
                ax.imshow(Image.open(catalog.images_dir / str(image)).convert("RGB"))
            title = str(pins.at[pid, "title"])[:22]
            ax.set_title(("QUERY\n" if c == 0 else "") + title, fontsize=7)
        axes[r, 0].set_ylabel(kind, fontsize=9)
    fig.tight_layout()
    return fig
