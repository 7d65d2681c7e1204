"""A small catalog that follows the catalog contract, for tests and for trying this stage on its own.

It is not Pinworld (that lives in `pinsandbox.catalog`); it is the smallest world with the structure the
encoder is meant to find: every pin has a latent *style* that drives who engages with it, shows in its image
palette and only sometimes in its title; the *category* shows in the title. So text-only similarity finds
"another lamp", while engagement says "another pin in the same taste" — the gap proprietary vectors close.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

STYLES = {  # style -> (palette RGB, words that sometimes appear in titles)
    "mid-century": ([(176, 98, 45), (60, 90, 70), (230, 190, 120)], ["walnut", "teak", "retro"]),
    "nantucket": ([(30, 60, 120), (240, 240, 235), (140, 180, 210)], ["coastal", "navy", "nautical"]),
    "boho": ([(200, 120, 80), (220, 180, 140), (120, 90, 60)], ["rattan", "macrame", "woven"]),
    "minimalist": ([(245, 245, 245), (30, 30, 30), (180, 180, 180)], ["clean", "simple", "monochrome"]),
    "industrial": ([(80, 80, 85), (150, 70, 40), (40, 40, 40)], ["steel", "iron", "loft"]),
    "cottagecore": ([(200, 220, 170), (240, 200, 210), (250, 245, 220)], ["floral", "meadow", "vintage"]),
}
CATEGORIES = ["lamp", "chair", "rug", "vase", "mirror", "sofa"]
FILLER = ["beautiful", "new", "favorite", "perfect", "cozy", "modern", "classic", "best", "home", "idea"]


def generate(n_pins: int = 300, n_pinners: int = 60, seed: int = 0, with_images: bool = True,
             style_word_rate: float = 0.3, days: int = 60):
    """Return (pins, events, boards, pin_styles, images) following the catalog contract.

    `images` maps a relative image path to a PIL image (None when `with_images` is False).
    """
    rng = np.random.default_rng(seed)
    styles = list(STYLES)
    pin_style = rng.integers(len(styles), size=n_pins)
    pin_cat = rng.integers(len(CATEGORIES), size=n_pins)
    pin_ids = [f"p{i:05d}" for i in range(n_pins)]
    titles, images, image_col = [], {}, []
    for i in range(n_pins):
        style, cat = styles[pin_style[i]], CATEGORIES[pin_cat[i]]
        words = list(rng.choice(FILLER, size=2, replace=False)) + [cat]
        if rng.random() < style_word_rate:
            words.insert(int(rng.integers(3)), str(rng.choice(STYLES[style][1])))
        titles.append(" ".join(words).capitalize())
        if with_images:
            rel = f"{pin_ids[i]}.png"
            images[rel] = _image(rng, STYLES[style][0], pin_cat[i])
            image_col.append(rel)
        else:
            image_col.append(None)
    pins = pd.DataFrame({
        "pin_id": pin_ids,
        "title": titles,
        "description": ["" if rng.random() < 0.5 else f"A {CATEGORIES[c]} for your home" for c in pin_cat],
        "image": pd.array(image_col, dtype="string"),
        "category": [CATEGORIES[c] for c in pin_cat],
        "price": np.round(rng.lognormal(4, 0.6, size=n_pins), 2),
        "merchant": [f"shop{int(rng.integers(8))}" if rng.random() < 0.8 else None for _ in range(n_pins)],
    })
    pin_styles = pd.DataFrame({"pin_id": pin_ids, "style": [styles[s] for s in pin_style],
                               "category": pins["category"]})

    # Pinners: one or two favourite styles; they engage mostly with pins of those styles, across categories.
    by_style = [np.flatnonzero(pin_style == s) for s in range(len(styles))]
    start = pd.Timestamp("2026-01-01", tz="UTC")
    rows, boards = [], []
    for u in range(n_pinners):
        pinner = f"u{u:04d}"
        favs = rng.choice(len(styles), size=int(rng.integers(1, 3)), replace=False)
        board_ids = [f"b{u:04d}-{styles[f]}" for f in favs]
        boards += [(b, pinner, f"{styles[f]} ideas") for b, f in zip(board_ids, favs)]
        for _ in range(int(rng.integers(15, 35))):
            if rng.random() < 0.85:
                k = int(rng.integers(len(favs)))
                pin = int(rng.choice(by_style[favs[k]]))
            else:
                k, pin = None, int(rng.integers(n_pins))
            ts = start + pd.Timedelta(seconds=int(rng.integers(days * 86400)))
            action = str(rng.choice(["impression", "closeup", "click", "save", "merchant_click"], p=[.3, .25, .2, .2, .05]))
            board = board_ids[k] if action == "save" and k is not None else None
            rows.append((pinner, pin_ids[pin], action, ts, board))
    events = pd.DataFrame(rows, columns=["pinner_id", "pin_id", "action", "ts", "board_id"])
    events["ts"] = events["ts"].astype("datetime64[us, UTC]")
    events["board_id"] = events["board_id"].astype("string")
    events = events.sort_values(["ts", "pinner_id"], ignore_index=True)
    boards = pd.DataFrame(boards, columns=["board_id", "pinner_id", "name"])
    return pins, events, boards, pin_styles, images


def _image(rng, palette, category: int, size: int = 32) -> Image.Image:
    """Stripes in the style's palette (with noise); the stripe direction and width say the category."""
    yy, xx = np.mgrid[:size, :size]
    coord = [xx, yy, xx + yy, xx - yy + size, np.hypot(xx - size / 2, yy - size / 2) * 2, xx * yy / size][category]
    band = (coord // (3 + category % 3)).astype(int) % len(palette)
    img = np.asarray(palette, dtype=float)[band] + rng.normal(0, 18, size=(size, size, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def write_toy_catalog(sandbox=None, **kwargs) -> str:
    """Publish a toy catalog as `catalog/toy` (linked at `catalog`) and its truth as `catalog/pinworld-truth`.

    Returns the catalog artifact id. The cutoff is the 80th percentile of event times, as for imported catalogs.
    """
    from pinsandbox.sandbox import resolve

    sb = resolve(sandbox)
    pins, events, boards, pin_styles, images = generate(**kwargs)
    cutoff = events["ts"].quantile(0.8)
    with sb.artifacts.write("catalog", "toy", params={**kwargs, "cutoff": cutoff.isoformat()}, link_at="catalog") as w:
        w.metadata["cutoff"] = cutoff.isoformat()
        pins.to_parquet(w.path / "pins.parquet", index=False)
        events.to_parquet(w.path / "events.parquet", index=False)
        boards.to_parquet(w.path / "boards.parquet", index=False)
        (w.path / "images").mkdir()
        for rel, img in images.items():
            img.save(w.path / "images" / rel)
    # Gold item pairs, as the catalog contract defines them: co-engaged after the cutoff, both seen before.
    from pinsandbox.embeddings.pairs import coengagement_pairs

    seen = set(events.loc[events["ts"] < cutoff, "pin_id"])
    future = events[events["ts"] >= cutoff]
    gold = coengagement_pairs(future, window=3, max_pairs=None, seed=0)
    gold = gold[gold["a"].isin(seen) & gold["b"].isin(seen)]
    gold = gold.rename(columns={"a": "query_pin_id", "b": "target_pin_id"})[["query_pin_id", "target_pin_id"]]
    with sb.artifacts.write("catalog", "pinworld-truth", params={"toy": True}) as w:
        pin_styles.to_parquet(w.path / "pin_styles.parquet", index=False)
        gold.reset_index(drop=True).to_parquet(w.path / "gold_item_pairs.parquet", index=False)
    return sb.artifacts.current_id("catalog", "toy")
