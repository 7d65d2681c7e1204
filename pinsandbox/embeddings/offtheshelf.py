"""The off-the-shelf baseline: what a team gets without training on its own data.

MiniLM sentence vectors of title + description, plus generic image descriptors (colour histogram + HOG)
where images exist; each block L2-normalised, concatenated with equal weight, reduced by PCA to the same
dimension as the proprietary vectors and L2-normalised — so both go through the same index and evaluation.
"""

from __future__ import annotations

import numpy as np

from pinsandbox.embeddings.features import PinFeatures


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def off_the_shelf_vectors(features: PinFeatures, dim: int = 256, seed: int = 0) -> np.ndarray:
    from sklearn.decomposition import PCA

    blocks = [_unit(features.text)]
    if features.has_image.any():
        img = features.descriptors.copy()
        img = img - img[features.has_image].mean(0)  # centre so cosine compares shape, not the shared offset
        img[~features.has_image] = 0
        blocks.append(_unit(img))
    x = np.concatenate(blocks, 1).astype(np.float32)
    n_comp = min(dim, x.shape[1], len(x))
    if n_comp < x.shape[1]:
        x = PCA(n_components=n_comp, random_state=seed).fit_transform(x)
    return _unit(x).astype(np.float32)
