"""Ways to look at the taste graph: pin strips, a pinner's interests and homefeed, the comparison chart,
the UMAP taste map, and a small ipywidgets explorer (static HTML where no live kernel shows widgets)."""

from __future__ import annotations

import base64
import html

import numpy as np
import pandas as pd


def pins_html(catalog, pin_ids, captions=None, size: int = 84) -> str:
    """A strip of pins (image, or a text card for text-only pins) as inline HTML."""
    pins = catalog.pins.set_index("pin_id")
    cells = []
    for i, pid in enumerate(pin_ids):
        title = html.escape(str(pins.at[pid, "title"])) if pid in pins.index else pid
        img = ""
        image = pins.at[pid, "image"] if pid in pins.index and "image" in pins else None
        if isinstance(image, str) and (catalog.images_dir / image).is_file():
            data = base64.b64encode((catalog.images_dir / image).read_bytes()).decode()
            img = f"<img src='data:image/png;base64,{data}' width={size} height={size}><br>"
        cap = f"<br><span style='color:#a33'>{html.escape(str(captions[i]))}</span>" if captions is not None else ""
        cells.append(f"<div style='display:inline-block;width:{size + 8}px;vertical-align:top;font-size:10px;margin:2px'>"
                     f"{img}{title}{cap}</div>")
    return "<div>" + "".join(cells) + "</div>"


def interests_html(model, catalog, pinner_id: str, per_interest: int = 6) -> str:
    """Each interest as a row: its share, its medoid first, then the pinner's pins closest to it."""
    table = model.interests(pinner_id)
    if table.empty:
        return f"<p>{html.escape(pinner_id)} has no interests yet (cold start): their feed is popular pins spread over tastes.</p>"
    st = model.states[str(pinner_id)]
    seen = np.fromiter(st.seen, dtype=np.int64)
    rows = []
    for r in table.itertuples():
        sims = model.vectors[seen] @ st.centers[r.interest]
        near = [p for p in model.pins[seen[np.argsort(-sims)]] if p != r.medoid_pin_id][: per_interest - 1]
        rows.append(f"<p><b>interest {r.interest}</b> — {r.share:.0%} of current importance</p>"
                    + pins_html(catalog, [r.medoid_pin_id] + near, ["medoid"] + [""] * len(near)))
    return "".join(rows)


def homefeed_html(model, catalog, pinner_id: str, k: int = 10) -> str:
    feed = model.explain(pinner_id, k)
    captions = [f"#{i + 1} {s} · int {t}" if t >= 0 else f"#{i + 1} {s}" for i, (s, t) in enumerate(zip(feed["sources"], feed["interest"], strict=True))]
    return pins_html(catalog, feed["pin_id"].tolist(), captions)


def plot_comparison(table: pd.DataFrame, metrics=("recall@10", "ndcg@10", "hit_rate@10", "interest_coverage@10"), ax=None):
    """Grouped bars: one group per metric, one bar per method."""
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if m in table.columns]
    ax = ax or plt.subplots(figsize=(9, 3.5))[1]
    width = 0.8 / len(table)
    x = np.arange(len(metrics))
    for i, (name, row) in enumerate(table.iterrows()):
        ax.bar(x + i * width, [row[m] for m in metrics], width, label=name)
    ax.set_xticks(x + 0.4 - width / 2, metrics)
    ax.legend(fontsize=8, ncol=min(4, len(table)))
    ax.set_title("homefeed quality on the held-out future (same split, same metric code)")
    return ax


def plot_drift_weeks(drift_weeks: pd.DataFrame, ax=None):
    """The drifted pinners' homefeed week by week after the cutoff: the new style's share against the old one's."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6, 3.2))[1]
    ax.plot(drift_weeks.index, drift_weeks["new_style_share"], marker="o", label="style they moved to")
    ax.plot(drift_weeks.index, drift_weeks["old_style_share"], marker="o", label="style they left")
    ax.set_xticks(drift_weeks.index, [f"cutoff + {w} wk" if w else "cutoff" for w in drift_weeks.index])
    ax.set_ylabel(f"share of the homefeed ({int(drift_weeks['pinners'].iloc[0])} pinners)")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("drifted pinners, the taste graph following their events online")
    return ax


def taste_map(model, pinner_id: str, n_pins: int = 3000, seed: int = 0, ax=None, labels: pd.Series | None = None,
              method: str = "umap"):
    """UMAP of pin vectors (a sample), the pinner's engaged pins circled and their interests as stars.

    `method="pca"` is a fast linear stand-in (UMAP's first call compiles numba code: tens of seconds on 2 cores).
    """
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    st = model.states.get(str(pinner_id))
    mine = np.fromiter(st.seen, dtype=np.int64) if st is not None else np.zeros(0, np.int64)
    sample = np.unique(np.concatenate([rng.permutation(len(model.pins))[:n_pins], mine]))
    if method == "umap":
        import umap

        reducer = umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=seed, n_jobs=1)
    elif method == "pca":
        from sklearn.decomposition import PCA

        reducer = PCA(2, random_state=seed)
    else:
        from pinsandbox.errors import InvalidInput

        raise InvalidInput(f"taste map method {method!r} is unknown: use 'umap' or 'pca'")
    xy = reducer.fit_transform(model.vectors[sample])
    ax = ax or plt.subplots(figsize=(7, 6))[1]
    colour = pd.factorize(labels.reindex(model.pins[sample]))[0] if labels is not None else "lightgrey"
    ax.scatter(xy[:, 0], xy[:, 1], s=3, c=colour, cmap="tab20", alpha=0.35)
    pos = {p: i for i, p in enumerate(sample)}
    mine_xy = xy[[pos[p] for p in mine]] if len(mine) else np.zeros((0, 2))
    ax.scatter(mine_xy[:, 0], mine_xy[:, 1], s=18, facecolors="none", edgecolors="black", linewidths=0.6, label="engaged pins")
    if st is not None and len(st.importance):
        centres = reducer.transform(st.centers)
        share = st.importance / st.importance.sum()
        ax.scatter(centres[:, 0], centres[:, 1], s=200 + 800 * share, marker="*", c="red", edgecolors="black", label="interests")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"taste map ({method.upper()}): {pinner_id}")
    ax.set_xticks([]), ax.set_yticks([])
    return ax
