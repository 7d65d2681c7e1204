"""Ways to look at a catalog: a summary, a pin gallery, the style × category mix, activity skew, one pinner's story."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

from pinsandbox.catalog.load import Catalog, GroundTruth


def catalog_summary(catalog: Catalog) -> dict:
    """Headline figures: sizes, time window, cutoff and how skewed activity is."""
    ev = catalog.events
    per_pinner = ev["pinner_id"].value_counts()
    per_pin = ev.loc[ev["action"] != "impression", "pin_id"].value_counts()

    def top_share(counts: pd.Series, frac: float) -> float:
        if counts.empty:
            return 0.0
        k = max(1, int(len(counts) * frac))
        return float(counts.iloc[:k].sum() / counts.sum())

    return {
        "artifact": catalog.artifact_id,
        "source": catalog.source,
        "pins": len(catalog.pins),
        "pins_with_images": int(catalog.pins["image"].notna().sum()),
        "pinners": int(ev["pinner_id"].nunique()),
        "boards": len(catalog.boards),
        "events": len(ev),
        "actions": {k: int(v) for k, v in ev["action"].value_counts().items()},
        "first_event": ev["ts"].min().isoformat(),
        "last_event": ev["ts"].max().isoformat(),
        "cutoff": catalog.cutoff.isoformat(),
        "train_events": int((ev["ts"] < catalog.cutoff).sum()),
        "test_events": int((ev["ts"] >= catalog.cutoff).sum()),
        "top10pct_pinners_event_share": round(top_share(per_pinner, 0.1), 3),
        "top10pct_pins_engagement_share": round(top_share(per_pin, 0.1), 3),
    }


def style_category_mix(catalog: Catalog, truth: GroundTruth | None = None) -> pd.DataFrame:
    """Pins per style × category (Pinworld, from the hidden truth) or per category (imported catalogs)."""
    if truth is not None:
        return pd.crosstab(truth.pin_styles["style"], truth.pin_styles["category"])
    if "category" in catalog.pins:
        return catalog.pins["category"].value_counts().to_frame("pins")
    return pd.DataFrame({"pins": [len(catalog.pins)]}, index=["(no category column)"])


def plot_activity_skew(catalog: Catalog, ax=None):
    """Events per pinner and engagements per pin, ranked, on log-log axes: the long tail at a glance."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    ev = catalog.events
    for label, counts in (("events per pinner", ev["pinner_id"].value_counts()),
                          ("engagements per pin", ev.loc[ev["action"] != "impression", "pin_id"].value_counts())):
        ax.loglog(np.arange(1, len(counts) + 1), counts.to_numpy(), label=label)
    ax.set_xlabel("rank")
    ax.set_ylabel("count")
    ax.set_title("activity skew: few heavy pinners, long-tail pins")
    ax.legend()
    return ax


def pick_drifting_pinner(catalog: Catalog, truth: GroundTruth | None) -> str:
    """A pinner worth looking at: the most active one whose taste drifts (or simply the most active)."""
    active = catalog.events["pinner_id"].value_counts()
    if truth is not None:
        counts = truth.pinner_interests["pinner_id"].value_counts()
        drifting = set(counts.index[counts > 1]) & set(
            truth.pinner_interests.loc[truth.pinner_interests["from_ts"] > truth.pinner_interests["from_ts"].min(), "pinner_id"])
        ranked = [p for p in active.index if p in drifting]
        if ranked:
            return ranked[min(len(ranked) - 1, len(ranked) // 10)]  # active, but not the single busiest
    return str(active.index[0])


def pinner_history(catalog: Catalog, pinner_id: str, truth: GroundTruth | None = None) -> pd.DataFrame:
    """One pinner's engagements (no bare impressions), with the pin's title, category and (Pinworld) true style."""
    ev = catalog.events
    mine = ev[(ev["pinner_id"] == pinner_id) & (ev["action"] != "impression")]
    cols = ["pin_id", "title"] + (["category"] if "category" in catalog.pins else [])
    out = mine.merge(catalog.pins[cols], on="pin_id", how="left")
    if truth is not None:
        out = out.merge(truth.pin_styles[["pin_id", "style"]], on="pin_id", how="left")
    return out.reset_index(drop=True)


def plot_pinner_history(catalog: Catalog, pinner_id: str, truth: GroundTruth | None = None, ax=None):
    """Engagements over time, one row per style (Pinworld) or category; the dashed line is the cutoff."""
    import matplotlib.pyplot as plt

    hist = pinner_history(catalog, pinner_id, truth)
    by = "style" if "style" in hist else "category" if "category" in hist else "pin_id"
    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    levels = sorted(hist[by].dropna().unique())
    y = hist[by].map({v: i for i, v in enumerate(levels)})
    markers = {"closeup": "o", "click": "s", "save": "*", "merchant_click": "D"}
    for action, mark in markers.items():
        sel = hist["action"] == action
        ax.scatter(hist.loc[sel, "ts"], y[sel], marker=mark, s=30 if mark != "*" else 70, alpha=0.6, label=action)
    if truth is not None:  # the true interests, as horizontal bars over the time they held
        for _, r in truth.pinner_interests[truth.pinner_interests["pinner_id"] == pinner_id].iterrows():
            if r["style"] in levels:
                ax.hlines(levels.index(r["style"]), r["from_ts"], r["to_ts"], colors="grey", alpha=0.25, linewidth=8)
    ax.axvline(catalog.cutoff, color="k", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(levels)), levels)
    ax.set_title(f"pinner {pinner_id}: engagements over time (grey: true interests; dashed: cutoff)")
    ax.legend(loc="upper left", fontsize=7)
    return ax


def plot_style_category_mix(mix: pd.DataFrame, ax=None):
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 4))[1]
    im = ax.imshow(mix.to_numpy(), cmap="Blues", aspect="auto")
    ax.set_xticks(range(mix.shape[1]), mix.columns, rotation=45, ha="right")
    ax.set_yticks(range(mix.shape[0]), mix.index)
    ax.figure.colorbar(im, ax=ax, label="pins")
    ax.set_title("pins per style × category")
    return ax


def gallery_html(catalog: Catalog, n: int = 12, seed: int = 0) -> str:
    """The same gallery as plain HTML with inline images (for exported notebooks and headless runs)."""
    pins = catalog.pins.sample(n=min(n, len(catalog.pins)), random_state=seed)
    cells = []
    for _, pin in pins.iterrows():
        img = ""
        if isinstance(pin["image"], str) and (catalog.images_dir / pin["image"]).is_file():
            data = base64.b64encode((catalog.images_dir / pin["image"]).read_bytes()).decode()
            img = f"<img src='data:image/png;base64,{data}' width=96 height=96><br>"
        cells.append(f"<div style='display:inline-block;width:110px;margin:3px;font-size:10px;vertical-align:top'>{img}{_escape(pin['title'])}</div>")
    return "<div>" + "".join(cells) + "</div>"


def _escape(text) -> str:
    import html

    return html.escape(str(text))


def title_style_share(catalog: Catalog, truth: GroundTruth) -> dict:
    """How much of the hidden style a title gives away: titles naming the true style, and naming a wrong one."""
    from pinsandbox.catalog.vocab import STYLE_SYNONYMS

    styles = truth.pin_styles.set_index("pin_id").loc[catalog.pins["pin_id"], "style"].to_numpy()
    titles = catalog.pins["title"].str.lower().to_numpy()

    def names(title: str, style: str) -> bool:
        return any(s.lower() in title for s in STYLE_SYNONYMS[style])

    true = [names(t, s) for t, s in zip(titles, styles, strict=True)]
    wrong = [any(names(t, o) for o in STYLE_SYNONYMS if o != s) for t, s in zip(titles, styles, strict=True)]
    return {"titles_naming_true_style": round(float(np.mean(true)), 3), "titles_naming_a_wrong_style": round(float(np.mean(wrong)), 3)}
