"""Pinworld: a generated catalog that behaves like Pinterest's, with the ground truth kept apart.

The world, in the order it is generated:

1. **Pins**, each with a latent style × category. The style shows only *partly* in the image (a style's
   palette / pattern / silhouette is used with probability `look_fidelity`, otherwise one from the common
   pool) and in the title (named, via a synonym, in `style_in_title` of titles; the *wrong* style in
   `wrong_style_in_title`). Popularity is lognormal (long tail); some pins arrive during the 90 days.
2. **Pinners**, each with 1–3 style × category interests (weights), a heavy-tailed activity level, and for
   `drift_fraction` of them a drift: one interest moves to a new style at a time skewed toward the end.
3. **Sessions → impressions → funnel.** A session follows one of the pinner's *current* interests; its
   impressions come mostly from that style × category (pins already published, by popularity), some from
   the same style in other categories and some from the global popular feed. Engagement follows the pinner's
   current interests with noise: impression → closeup → click → save (to a board the pinner made for that
   interest) / merchant_click on shoppable pins.

So the style is fully visible only in *who engages with a pin* — which is what proprietary, engagement-aware
embeddings can learn and a generic text model cannot read off a title.

Everything is drawn from one `numpy.random.Generator(seed)` in a fixed order and kept as integer arrays
until the tables are built with pyarrow, so it scales to 1 M pins / 10 M events and the same seed gives
byte-identical Parquet files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pinsandbox.catalog import vocab
from pinsandbox.catalog.config import PinworldConfig
from pinsandbox.errors import InvalidInput
from pinsandbox.schema import ACTIONS

IMPRESSION, CLOSEUP, CLICK, SAVE, MERCHANT_CLICK = range(5)  # positions in ACTIONS
DAY_US = 86_400 * 1_000_000


@dataclass
class PinworldTables:
    """Everything generated, as Arrow tables: the catalog side and the ground-truth side."""

    pins: pa.Table
    events: pa.Table
    boards: pa.Table
    pin_styles: pa.Table
    pinner_interests: pa.Table
    gold_homefeed: pa.Table
    gold_item_pairs: pa.Table
    gold_navigator: pa.Table
    render: pd.DataFrame  # per-pin drawing attributes (pin_id, category, palette, pattern, variant, dx, dy)
    info: dict  # start, end, cutoff (ISO), config


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _plural(word: str) -> str:
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


# ---------------------------------------------------------------------------------------------------------
# pins
# ---------------------------------------------------------------------------------------------------------
def _make_pins(cfg: PinworldConfig, rng: np.random.Generator, start_us: int, end_us: int, *, shares=None,
               first_id: int = 0, all_new: bool = False):
    """The pins; for a later window (`data advance`): the world's style/category `shares`, ids from `first_id`,
    every pin published during the window (`all_new`)."""
    n, S, C = cfg.n_pins, len(vocab.STYLES), len(vocab.CATEGORIES)
    if shares is None:
        style_share = rng.dirichlet(np.full(S, 6.0))
        cat_share = rng.dirichlet(np.full(C, 6.0))
    else:
        style_share, cat_share = shares
    style = rng.choice(S, size=n, p=style_share)
    cat = rng.choice(C, size=n, p=cat_share)
    popularity = rng.lognormal(0.0, 1.4, size=n)  # long tail: a few pins get most impressions

    # publication time: most pins exist before the window opens, the rest arrive during it
    is_new = (rng.random(n) < cfg.new_pin_fraction) | all_new
    created = np.where(
        is_new,
        start_us + (rng.random(n) * (end_us - start_us)).astype(np.int64),
        start_us - (rng.random(n) * 60 * DAY_US).astype(np.int64),
    )
    created = created - created % 1_000_000  # whole seconds

    # the look: each attribute follows the style with probability look_fidelity, else the common pool
    palette_names = list(vocab.PALETTES)
    styled_palette = np.array([[palette_names.index(p) for p in vocab.STYLE_LOOK[s]["palettes"]] for s in vocab.STYLES])
    palette = np.where(rng.random(n) < cfg.look_fidelity, styled_palette[style, rng.integers(0, 2, n)], rng.integers(0, len(palette_names), n))
    styled_pattern = np.array([vocab.PATTERNS.index(vocab.STYLE_LOOK[s]["pattern"]) for s in vocab.STYLES])
    pattern = np.where(rng.random(n) < cfg.look_fidelity, styled_pattern[style], rng.integers(0, len(vocab.PATTERNS), n))
    styled_variant = np.array([vocab.VARIANTS.index(vocab.STYLE_LOOK[s]["variant"]) for s in vocab.STYLES])
    variant = np.where(rng.random(n) < cfg.look_fidelity, styled_variant[style], rng.integers(0, len(vocab.VARIANTS), n))
    jitter = rng.integers(-6, 7, size=(n, 2))

    # price: lognormal around the category's typical price, a little dearer for some styles
    style_markup = rng.uniform(0.8, 1.3, size=S)
    base = np.array([vocab.CATEGORY_PRICE[c] for c in vocab.CATEGORIES], dtype=float)
    price = np.maximum(np.round(base[cat] * style_markup[style] * rng.lognormal(0.0, 0.45, n)) - 0.01, 4.99)
    shoppable = rng.random(n) < cfg.shoppable
    merchant = rng.integers(0, len(vocab.MERCHANTS), n)

    # text: the style is named in only some titles, with synonyms, and sometimes wrongly
    r = rng.random(n)
    title_style = np.where(r < cfg.style_in_title, style, -1)
    wrong = (r >= cfg.style_in_title) & (r < cfg.style_in_title + cfg.wrong_style_in_title)
    title_style = np.where(wrong, (style + rng.integers(1, S, n)) % S, title_style)
    picks = rng.integers(0, 1 << 30, size=(n, 8))  # one draw per text slot, used modulo each list's length
    titles, descriptions = [], []
    for i in range(n):
        k = picks[i]
        cat_name = vocab.CATEGORIES[cat[i]]
        words = {
            "cat": vocab.CATEGORY_SYNONYMS[cat_name][k[0] % 4],
            "adj": vocab.SHARED_ADJECTIVES[k[1] % len(vocab.SHARED_ADJECTIVES)],
            "adj2": vocab.SHARED_ADJECTIVES[k[2] % len(vocab.SHARED_ADJECTIVES)],
            "material": vocab.MATERIALS[k[3] % len(vocab.MATERIALS)],
            "room": vocab.ROOMS[k[4] % len(vocab.ROOMS)],
        }
        if title_style[i] >= 0:
            syns = vocab.STYLE_SYNONYMS[vocab.STYLES[title_style[i]]]
            template = vocab.STYLED_TITLE_TEMPLATES[k[5] % len(vocab.STYLED_TITLE_TEMPLATES)]
            words["style"] = syns[k[6] % len(syns)]
        else:
            template = vocab.TITLE_TEMPLATES[k[5] % len(vocab.TITLE_TEMPLATES)]
        title = template.format(**words)
        titles.append(title[0].upper() + title[1:])
        descriptions.append(vocab.DESCRIPTION_TEMPLATES[k[7] % len(vocab.DESCRIPTION_TEMPLATES)].format(**words))

    pin_ids = np.array([f"p{i:07d}" for i in range(first_id, first_id + n)])
    pins = pa.table({
        "pin_id": pa.array(pin_ids, pa.string()),
        "title": pa.array(titles, pa.string()),
        "description": pa.array(descriptions, pa.string()),
        "image": pa.array([f"{p}.png" for p in pin_ids] if cfg.render_images else [None] * n, pa.string()),
        "category": pa.array(np.array(vocab.CATEGORIES)[cat], pa.string()),
        "palette": pa.array(np.array(palette_names)[palette], pa.string()),
        "price": pa.array(price, pa.float64()),
        "merchant": pa.array(np.where(shoppable, np.array(vocab.MERCHANTS)[merchant], None), pa.string()),
        "created_at": _ts(created),
    })
    render = pd.DataFrame({
        "pin_id": pin_ids,
        "category": np.array(vocab.CATEGORIES)[cat],
        "palette": np.array(palette_names)[palette],
        "pattern": np.array(vocab.PATTERNS)[pattern],
        "variant": np.array(vocab.VARIANTS)[variant],
        "dx": jitter[:, 0],
        "dy": jitter[:, 1],
    })
    return dict(ids=pin_ids, style=style, cat=cat, popularity=popularity, created=created, shoppable=shoppable,
                price=price, style_share=style_share, cat_share=cat_share), pins, render


# ---------------------------------------------------------------------------------------------------------
# pinners
# ---------------------------------------------------------------------------------------------------------
def _make_pinners(cfg: PinworldConfig, rng: np.random.Generator, pins: dict, start_us: int, end_us: int):
    m, S, C = cfg.n_pinners, len(vocab.STYLES), len(vocab.CATEGORIES)
    n_interests = rng.choice([1, 2, 3], size=m, p=[0.4, 0.4, 0.2])
    slot_style = rng.choice(S, size=(m, 3), p=pins["style_share"])
    slot_cat = rng.choice(C, size=(m, 3), p=pins["cat_share"])
    weight = rng.dirichlet(np.full(3, 2.0), size=m)
    weight[np.arange(3)[None, :] >= n_interests[:, None]] = 0.0
    weight /= weight.sum(axis=1, keepdims=True)
    activity = rng.lognormal(0.0, 1.1, size=m)  # a few heavy pinners, many light ones
    activity /= activity.mean()
    engage = np.clip(rng.lognormal(0.0, 0.3, size=m), 0.4, 2.0)  # how readily this pinner engages

    # drift: one interest moves to a different style, more often late in the window
    drifts = rng.random(m) < cfg.drift_fraction
    drift_slot = (rng.random(m) * n_interests).astype(int)
    drift_to = (slot_style[np.arange(m), drift_slot] + rng.integers(1, S, m)) % S
    drift_at = start_us + (rng.beta(4.0, 1.5, m) * (end_us - start_us)).astype(np.int64)
    drift_at = np.where(drifts, drift_at - drift_at % 1_000_000, np.iinfo(np.int64).max)

    ids = np.array([f"u{i:06d}" for i in range(m)])
    return dict(ids=ids, n_interests=n_interests, slot_style=slot_style, slot_cat=slot_cat, weight=weight,
                activity=activity, engage=engage, drift_slot=drift_slot, drift_to=drift_to, drift_at=drift_at)


def _styles_at(pinners: dict, who: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Each slot's style for pinner `who` at time `t` (drift applied): shape (len(who), 3)."""
    styles = pinners["slot_style"][who].copy()
    drifted = t >= pinners["drift_at"][who]
    rows = np.nonzero(drifted)[0]
    styles[rows, pinners["drift_slot"][who[rows]]] = pinners["drift_to"][who[rows]]
    return styles


# ---------------------------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------------------------
class _PopularSampler:
    """Draw pins by popularity among those published by time t, within a group (a style×category cell)."""

    def __init__(self, group: np.ndarray, created: np.ndarray, popularity: np.ndarray, n_groups: int):
        self.order = np.lexsort((created, group))
        g, c = group[self.order], created[self.order]
        self.t0 = int(c.min())
        self.span = int(c.max()) - self.t0 + 1
        self.key = g.astype(np.int64) * self.span + (c - self.t0)
        self.cum = np.cumsum(popularity[self.order])
        self.group_start = np.searchsorted(g, np.arange(n_groups), "left")

    def sample(self, group: np.ndarray, t: np.ndarray, u: np.ndarray, since: np.ndarray | None = None):
        """Pin index per draw and whether the group had any pin published by then (and, if given, since `since`)."""
        t_rel = np.clip(t - self.t0, -1, self.span - 1)
        lo_idx = self.group_start[group]
        if since is not None:
            since_rel = np.clip(since - self.t0, 0, self.span - 1)
            lo_idx = np.maximum(lo_idx, np.searchsorted(self.key, group.astype(np.int64) * self.span + since_rel, "left"))
        hi_idx = np.searchsorted(self.key, group.astype(np.int64) * self.span + t_rel, "right")
        ok = (hi_idx > lo_idx) & (t_rel >= 0)
        lo = np.where(lo_idx > 0, self.cum[np.maximum(lo_idx - 1, 0)], 0.0)
        hi = self.cum[np.maximum(hi_idx - 1, 0)]
        pos = np.searchsorted(self.cum, lo + u * (hi - lo), "right")
        pos = np.clip(pos, lo_idx, np.maximum(hi_idx - 1, lo_idx))
        return self.order[np.minimum(pos, len(self.order) - 1)], ok


def _make_events(cfg: PinworldConfig, rng: np.random.Generator, pins: dict, pinners: dict, start_us: int, end_us: int):
    S, C = len(vocab.STYLES), len(vocab.CATEGORIES)
    m = cfg.n_pinners
    rate = cfg.sessions_per_day
    if cfg.n_events:
        # ≈1.7 events per impression at the default funnel (measured); solve for the session rate
        rate = cfg.n_events / (1.7 * cfg.impressions_per_session * m * cfg.days)
    n_sessions = rng.poisson(rate * cfg.days * pinners["activity"])
    who = np.repeat(np.arange(m), n_sessions)
    s_t = start_us + (rng.random(len(who)) * (end_us - start_us)).astype(np.int64)

    # the session follows one of the pinner's interests, as it is at that time
    cw = np.cumsum(pinners["weight"][who], axis=1)
    slot = (rng.random(len(who))[:, None] > cw[:, :2]).sum(axis=1)
    styles_now = _styles_at(pinners, who, s_t)
    s_style = styles_now[np.arange(len(who)), slot]
    s_cat = pinners["slot_cat"][who, slot]

    # impressions: mostly the session's cell (some of it freshly published pins), some lateral (same style,
    # other category), the rest from the global popular feed
    k = 1 + rng.poisson(cfg.impressions_per_session - 1, len(who))
    sess = np.repeat(np.arange(len(who)), k)
    n_imp = len(sess)
    within = np.arange(n_imp) - np.repeat(np.cumsum(k) - k, k)
    t = s_t[sess] + within * 20_000_000 + rng.integers(0, 15_000_000, n_imp)
    source = rng.random(n_imp)
    cell = s_style[sess] * C + s_cat[sess]
    fresh = (source >= cfg.session_focus) & (source < cfg.session_focus + cfg.fresh)
    lateral = (source >= cfg.session_focus + cfg.fresh) & (source < cfg.session_focus + cfg.fresh + cfg.lateral)
    cell = np.where(lateral, s_style[sess] * C + rng.integers(0, C, n_imp), cell)
    by_cell = _PopularSampler(pins["style"] * C + pins["cat"], pins["created"], pins["popularity"], S * C)
    feed = _PopularSampler(np.zeros(len(pins["style"]), dtype=np.int64), pins["created"], pins["popularity"], 1)
    u = rng.random(n_imp)
    pin, ok = by_cell.sample(cell, t, u)
    new_pin, new_ok = by_cell.sample(cell, t, u, since=t - cfg.fresh_days * DAY_US)
    pin = np.where(fresh & new_ok, new_pin, pin)  # no fresh pin in the cell: an older one of the cell
    popular, _ = feed.sample(np.zeros(n_imp, dtype=np.int64), t, u)
    from_feed = (source >= cfg.session_focus + cfg.fresh + cfg.lateral) | ~ok
    pin = np.where(from_feed, popular, pin)
    user = who[sess]

    # engagement follows the pinner's *current* interests, with noise
    now = _styles_at(pinners, user, t)
    active = pinners["weight"][user] > 0
    p_style, p_cat = pins["style"][pin][:, None], pins["cat"][pin][:, None]
    match = ((now == p_style) & (pinners["slot_cat"][user] == p_cat) & active).any(axis=1)
    style_match = ((now == p_style) & active).any(axis=1)
    p_closeup = np.where(match, 0.45, np.where(style_match, 0.15, 0.03)) * pinners["engage"][user]
    closeup = rng.random(n_imp) < np.minimum(p_closeup, 0.95)
    click = closeup & (rng.random(n_imp) < 0.45)
    save = closeup & (rng.random(n_imp) < np.where(match, 0.5, np.where(style_match, 0.25, 0.08)))
    merchant_click = click & pins["shoppable"][pin] & (rng.random(n_imp) < 0.35)

    # one row per action; follow-ups a few seconds after the impression
    parts = []
    for code, mask, delay in ((IMPRESSION, np.ones(n_imp, bool), 0), (CLOSEUP, closeup, 4), (CLICK, click, 9),
                              (SAVE, save, 12), (MERCHANT_CLICK, merchant_click, 15)):
        idx = np.nonzero(mask)[0]
        parts.append((idx, np.full(len(idx), code, np.int8), t[idx] + delay * 1_000_000))
    imp_idx = np.concatenate([p[0] for p in parts])
    action = np.concatenate([p[1] for p in parts])
    ts = np.concatenate([p[2] for p in parts])
    ts = ts - ts % 1_000_000  # whole seconds
    order = np.lexsort((action, pin[imp_idx], user[imp_idx], ts))
    imp_idx, action, ts = imp_idx[order], action[order], ts[order]
    return dict(imp=imp_idx, action=action, ts=ts, pin=pin[imp_idx], user=user[imp_idx], session=sess[imp_idx],
                s_cell=(s_style * C + s_cat), n_sessions=len(who))


def _make_boards(rng: np.random.Generator, ev: dict, pinners: dict):
    """A board per (pinner, interest they were browsing when they saved), named like people name boards."""
    C = len(vocab.CATEGORIES)
    saves = ev["action"] == SAVE
    key = ev["user"][saves].astype(np.int64) * 1000 + ev["s_cell"][ev["session"][saves]]
    board_keys, board_of_save = np.unique(key, return_inverse=True)
    b_user, b_cell = board_keys // 1000, board_keys % 1000
    picks = rng.integers(0, 1 << 30, size=(len(board_keys), 3))
    names = []
    for (cell, k) in zip(b_cell, picks, strict=True):
        style, cat = vocab.STYLES[cell // C], vocab.CATEGORIES[cell % C]
        syns = vocab.STYLE_SYNONYMS[style]
        template = vocab.BOARD_TEMPLATES[k[0] % len(vocab.BOARD_TEMPLATES)]
        names.append(template.format(style=syns[k[1] % len(syns)], cats=vocab.CATEGORY_PLURAL[cat], room=vocab.ROOMS[k[2] % len(vocab.ROOMS)]))
    board_ids = np.array([f"b{u:06d}-{c:02d}" for u, c in zip(b_user, b_cell, strict=True)])
    boards = pa.table({
        "board_id": pa.array(board_ids, pa.string()),
        "pinner_id": pa.array(pinners["ids"][b_user], pa.string()),
        "name": pa.array(names, pa.string()),
    })
    board_col = np.full(len(ev["action"]), None, dtype=object)
    board_col[np.nonzero(saves)[0]] = board_ids[board_of_save]
    return boards, board_col


# ---------------------------------------------------------------------------------------------------------
# ground truth and gold sets
# ---------------------------------------------------------------------------------------------------------
def _gold_homefeed(ev, pins, pinners, cutoff_us):
    n = len(pins["ids"])
    engaged = ev["action"] != IMPRESSION
    after = engaged & (ev["ts"] >= cutoff_us)
    key = ev["user"][after].astype(np.int64) * n + ev["pin"][after]
    key = np.unique(key)
    before = ev["ts"] < cutoff_us
    seen = np.isin(key, ev["user"][before].astype(np.int64) * n + ev["pin"][before])
    return pa.table({
        "pinner_id": pa.array(pinners["ids"][key // n], pa.string()),
        "pin_id": pa.array(pins["ids"][key % n], pa.string()),
        "seen_before": pa.array(seen, pa.bool_()),  # True if the pinner was shown the pin before the cutoff
    })


def _gold_item_pairs(ev, pins, cutoff_us):
    """Pins engaged in the same session after the cutoff, both already seen (in any event) before it."""
    n = len(pins["ids"])
    after = (ev["action"] != IMPRESSION) & (ev["ts"] >= cutoff_us)
    sess, pin, ts = ev["session"][after], ev["pin"][after], ev["ts"][after]
    _, first = np.unique(sess.astype(np.int64) * n + pin, return_index=True)  # one row per (session, pin)
    first = np.sort(first)
    sess, pin, ts = sess[first], pin[first], ts[first]
    order = np.lexsort((ts, sess))
    sess, pin = sess[order], pin[order]
    known = np.zeros(n, bool)
    known[ev["pin"][ev["ts"] < cutoff_us]] = True
    q, tgt = [], []
    for d in range(1, 64):  # sessions are short; pair each engaged pin with the later ones
        same = sess[:-d] == sess[d:]
        if not same.any():
            break
        q.append(pin[:-d][same])
        tgt.append(pin[d:][same])
    q = np.concatenate(q) if q else np.zeros(0, np.int64)
    tgt = np.concatenate(tgt) if tgt else np.zeros(0, np.int64)
    keep = known[q] & known[tgt] & (q != tgt)
    q, tgt = q[keep], tgt[keep]
    unordered = np.minimum(q, tgt).astype(np.int64) * n + np.maximum(q, tgt)
    _, idx = np.unique(unordered, return_index=True)
    idx = np.sort(idx)
    return pa.table({"query_pin_id": pa.array(pins["ids"][q[idx]], pa.string()),
                     "target_pin_id": pa.array(pins["ids"][tgt[idx]], pa.string())})


def _nice_price(x: float) -> int:
    step = 5 if x < 60 else 10 if x < 200 else 50 if x < 1000 else 100
    return int(np.ceil(x / step) * step)


def _gold_navigator(cfg, rng, pins):
    """Shopping requests in several phrasings with the pins that truly answer them (style, category, price)."""
    S, C = len(vocab.STYLES), len(vocab.CATEGORIES)
    cells = pins["style"] * C + pins["cat"]
    counts = np.bincount(cells, minlength=S * C)
    usable = np.nonzero(counts >= 3)[0]
    rows = []
    n_test = max(1, cfg.n_navigator_requests // 4)
    for i in range(cfg.n_navigator_requests):
        cell = int(usable[rng.integers(len(usable))])
        style, cat = vocab.STYLES[cell // C], vocab.CATEGORIES[cell % C]
        prices = pins["price"][cells == cell]
        max_price = float(_nice_price(np.quantile(prices, rng.choice([0.3, 0.5, 0.8]))))
        split = "test" if i < n_test else "train"
        templates = vocab.NAVIGATOR_TEMPLATES_TEST if split == "test" else vocab.NAVIGATOR_TEMPLATES_TRAIN
        cat_word = vocab.CATEGORY_SYNONYMS[cat][rng.integers(4)]
        syns = vocab.STYLE_SYNONYMS[style]
        text = templates[rng.integers(len(templates))].format(
            style=syns[rng.integers(len(syns))], cat=cat_word, cats=_plural(cat_word), price=int(max_price))
        answers = np.nonzero((cells == cell) & (pins["price"] <= max_price))[0]
        rows.append((f"r{i:05d}", text, style, cat, max_price, [str(p) for p in pins["ids"][answers]], split))
    df = pd.DataFrame(rows, columns=["request_id", "text", "style", "category", "max_price", "answer_pin_ids", "split"])
    schema = pa.schema([("request_id", pa.string()), ("text", pa.string()), ("style", pa.string()),
                        ("category", pa.string()), ("max_price", pa.float64()),
                        ("answer_pin_ids", pa.list_(pa.string())), ("split", pa.string())])
    return pa.Table.from_pandas(df, schema=schema, preserve_index=False)


def _pinner_interests(pinners, start_us, end_us):
    rows = []
    for i in range(len(pinners["ids"])):
        for s in range(pinners["n_interests"][i]):
            style, cat, w = pinners["slot_style"][i, s], pinners["slot_cat"][i, s], pinners["weight"][i, s]
            if s == pinners["drift_slot"][i] and pinners["drift_at"][i] < end_us:
                at = pinners["drift_at"][i]
                rows.append((i, style, cat, w, start_us, at))
                rows.append((i, pinners["drift_to"][i], cat, w, at, end_us))
            else:
                rows.append((i, style, cat, w, start_us, end_us))
    a = np.array(rows, dtype=object)
    return pa.table({
        "pinner_id": pa.array(pinners["ids"][a[:, 0].astype(int)], pa.string()),
        "style": pa.array(np.array(vocab.STYLES)[a[:, 1].astype(int)], pa.string()),
        "category": pa.array(np.array(vocab.CATEGORIES)[a[:, 2].astype(int)], pa.string()),
        "weight": pa.array(a[:, 3].astype(float), pa.float64()),
        "from_ts": _ts(a[:, 4].astype(np.int64)),
        "to_ts": _ts(a[:, 5].astype(np.int64)),
    })


# ---------------------------------------------------------------------------------------------------------
# time moves on: later windows (`pinsandbox data advance`)
# ---------------------------------------------------------------------------------------------------------
def _session_rate(cfg: PinworldConfig) -> float:
    """Mean sessions per pinner per day of the first window (kept for every later window)."""
    if cfg.n_events:
        return cfg.n_events / (1.7 * cfg.impressions_per_session * cfg.n_pinners * cfg.days)
    return cfg.sessions_per_day


def _advance_window(cfg: PinworldConfig, k: int, days: int, pins: dict, render: pd.DataFrame, pinners: dict,
                    start_us: int):
    """Window `k` (1, 2, …) of `days` days from `start_us`: new pins published, pinners' drift carried on, new
    sessions. Drawn from its own stream `default_rng([seed, k])`, so the first window's bytes never change and
    the same seed + the same advances give the same world."""
    rng = np.random.default_rng([cfg.seed, k])
    end_us = start_us + days * DAY_US
    m, S = cfg.n_pinners, len(vocab.STYLES)
    # new pins: the same share of the catalog per day as arrived during the first window
    n_new = max(1, int(round(cfg.n_pins * cfg.new_pin_fraction * days / cfg.days)))
    new_cfg = replace(cfg, n_pins=n_new)
    new, new_table, new_render = _make_pins(new_cfg, rng, start_us, end_us, shares=(pins["style_share"], pins["cat_share"]),
                                    first_id=len(pins["ids"]), all_new=True)
    pins = {key: (np.concatenate([pins[key], new[key]]) if key not in ("style_share", "cat_share") else pins[key])
            for key in pins}
    render = pd.concat([render, new_render], ignore_index=True)
    # drift: a move that has happened becomes the pinner's taste; pinners without one may start drifting now
    pinners = {key: value.copy() for key, value in pinners.items()}
    done = pinners["drift_at"] < start_us
    rows = np.nonzero(done)[0]
    pinners["slot_style"][rows, pinners["drift_slot"][rows]] = pinners["drift_to"][rows]
    pinners["drift_at"][rows] = np.iinfo(np.int64).max
    free = pinners["drift_at"] == np.iinfo(np.int64).max
    drifts = free & (rng.random(m) < min(1.0, cfg.drift_fraction * days / cfg.days))
    slot = (rng.random(m) * pinners["n_interests"]).astype(int)
    to = (pinners["slot_style"][np.arange(m), slot] + rng.integers(1, S, m)) % S
    at = start_us + (rng.random(m) * (end_us - start_us)).astype(np.int64)
    pinners["drift_slot"] = np.where(drifts, slot, pinners["drift_slot"])
    pinners["drift_to"] = np.where(drifts, to, pinners["drift_to"])
    pinners["drift_at"] = np.where(drifts, at - at % 1_000_000, pinners["drift_at"])
    ev = _make_events(replace(cfg, days=days, n_events=None, sessions_per_day=_session_rate(cfg)), rng, pins,
                      pinners, start_us, end_us)
    boards, board_col = _make_boards(rng, ev, pinners)
    return pins, new_table, render, pinners, ev, boards, board_col, end_us


def _events_table(ev: dict, pins: dict, pinners: dict, board_col) -> pa.Table:
    return pa.table({
        "pinner_id": pa.array(pinners["ids"], pa.string()).take(pa.array(ev["user"])),
        "pin_id": pa.array(pins["ids"], pa.string()).take(pa.array(ev["pin"])),
        "action": pa.array(list(ACTIONS), pa.string()).take(pa.array(ev["action"].astype(np.int64))),
        "ts": _ts(ev["ts"]),
        "board_id": pa.array(board_col, pa.string()),
    })


def _join_events(a: dict, b: dict, sessions_before: int) -> dict:
    """Two windows' events as one (session numbers of `b` moved past `a`'s)."""
    keys = ("action", "ts", "pin", "user")
    out = {key: np.concatenate([a[key], b[key]]) for key in keys}
    out["session"] = np.concatenate([a["session"], b["session"] + sessions_before])
    return out


# ---------------------------------------------------------------------------------------------------------
def build_pinworld(cfg: PinworldConfig, progress: bool = False) -> PinworldTables:
    """Generate every Pinworld table in memory (images are rendered later, streaming, by `publish_pinworld`).

    With `cfg.advances` (days per `data advance`), the world goes on for those windows after the first: new
    pins, new sessions, drift carried on; the cutoff moves to the start of the newest window, whose held-out
    events get their own gold sets."""
    from tqdm.auto import tqdm

    cfg.validate()
    rng = np.random.default_rng(cfg.seed)  # one stream, drawn from in a fixed order: same seed, same bytes
    start = pd.Timestamp(cfg.start, tz="UTC")
    start_us = start.value // 1000
    end_us = start_us + cfg.days * DAY_US
    cutoff_us = start_us + int(cfg.cutoff_fraction * cfg.days) * DAY_US
    bar = tqdm(total=5 + len(cfg.advances), desc="generating Pinworld", disable=not progress)

    def step(what):
        bar.set_postfix_str(what)
        bar.update(1)

    pins, pins_table, render = _make_pins(cfg, rng, start_us, end_us)
    step("pins")
    pinners = _make_pinners(cfg, rng, pins, start_us, end_us)
    ev = _make_events(cfg, rng, pins, pinners, start_us, end_us)
    step("events")
    boards, board_col = _make_boards(rng, ev, pinners)
    events = _events_table(ev, pins, pinners, board_col)
    step("boards")
    base_pins = pins
    interests = [_pinner_interests(pinners, start_us, end_us)]
    windows = [[start_us, end_us]]
    n_sessions = int(ev["n_sessions"])
    if cfg.advances:
        all_ev, tables, board_tables, pin_tables = ev, [events], [boards], [pins_table]
        w_start = end_us
        for k, days in enumerate(cfg.advances, start=1):
            pins, new_pins, render, pinners, w_ev, w_boards, w_board_col, w_end = _advance_window(
                cfg, k, days, pins, render, pinners, w_start)
            pin_tables.append(new_pins)
            tables.append(_events_table(w_ev, pins, pinners, w_board_col))
            board_tables.append(w_boards)
            all_ev = _join_events(all_ev, w_ev, n_sessions)
            n_sessions += int(w_ev["n_sessions"])
            interests.append(_pinner_interests(pinners, w_start, w_end))
            windows.append([w_start, w_end])
            w_start = w_end
            step(f"window {k}")
        ev, end_us, cutoff_us = all_ev, w_start, windows[-1][0]
        events = pa.concat_tables(tables)
        boards = pa.concat_tables(board_tables)
        _, first = np.unique(boards["board_id"].to_numpy(zero_copy_only=False), return_index=True)
        boards = boards.take(pa.array(np.sort(first)))  # a board keeps the name it was made with
        pins_table = pa.concat_tables(pin_tables)
    pin_styles = pa.table({"pin_id": pa.array(pins["ids"], pa.string()),
                           "style": pa.array(np.array(vocab.STYLES)[pins["style"]], pa.string()),
                           "category": pa.array(np.array(vocab.CATEGORIES)[pins["cat"]], pa.string())})
    pinner_interests = pa.concat_tables(interests) if len(interests) > 1 else interests[0]
    gold_homefeed = _gold_homefeed(ev, pins, pinners, cutoff_us)
    gold_item_pairs = _gold_item_pairs(ev, pins, cutoff_us)
    step("ground truth")
    gold_navigator = _gold_navigator(cfg, rng, base_pins)
    step("navigator requests")
    bar.close()
    iso = lambda us: pd.Timestamp(us * 1000, tz="UTC").isoformat()  # noqa: E731
    info = {"source": "pinworld", "start": iso(start_us), "end": iso(end_us), "cutoff": iso(cutoff_us),
            "sessions": n_sessions, "config": asdict(cfg)}
    if cfg.advances:
        info["windows"] = [[iso(a), iso(b)] for a, b in windows]
    return PinworldTables(
        pins=pins_table, events=events, boards=boards, pin_styles=pin_styles, pinner_interests=pinner_interests,
        gold_homefeed=gold_homefeed, gold_item_pairs=gold_item_pairs, gold_navigator=gold_navigator, render=render,
        info=info,
    )


def write_table(table: pa.Table, path) -> None:
    """Parquet written the same way every time (so the same seed gives byte-identical files)."""
    pq.write_table(table, path, compression="zstd", write_statistics=True)


def generate_pinworld(sandbox=None, n_pins: int = 3000, n_pinners: int = 800, seed: int = 0, *, progress: bool = True, **options):
    """Generate Pinworld into `sandbox` (name, Sandbox or None for the current one) and make it the catalog.

    The lower-level call under `run_catalog(sb, CatalogConfig(n_pins=..., seed=...))`, which also
    returns the ground truth and the stage's metrics. Publishes two artifacts: `catalog/pinworld` (pins,
    events, boards, images — linked as the sandbox's `catalog`) and `catalog/pinworld-truth` (each pin's
    style, each pinner's interests over time, gold sets), both with the config that made them.
    `options` are any other `PinworldConfig` fields (days, image_size, render_images=False for scale runs, …).
    Returns the loaded `Catalog`.
    """
    from pinsandbox.catalog.config import CatalogConfig
    from pinsandbox.catalog.load import load_catalog
    from pinsandbox.sandbox import resolve

    cfg = PinworldConfig.with_options(n_pins=n_pins, n_pinners=n_pinners, seed=seed, **options)
    sb = resolve(sandbox)
    cfg.validate()
    publish_pinworld(sb, build_pinworld(cfg, progress=progress), config=CatalogConfig.from_pinworld(cfg),
                     progress=progress)
    return load_catalog(sb)


def publish_pinworld(sb, tables: PinworldTables, *, config=None, progress: bool = True) -> None:
    """Write built tables (and render the images, streaming) as the `catalog/pinworld` + `pinworld-truth` artifacts.

    `config`: the `CatalogConfig` saved with both (default: the one whose `pinworld` built `tables`)."""
    from pinsandbox.catalog.config import CatalogConfig
    from pinsandbox.catalog.load import CATALOG_INFO, TRUTH_NAME
    from pinsandbox.catalog.render import render_pin_images
    from pinsandbox.config import config_from_dict

    made = tables.info["config"]
    config = config or CatalogConfig.from_pinworld(config_from_dict(PinworldConfig, made))
    if asdict(config.pinworld) != made:
        raise InvalidInput("the CatalogConfig given does not hold the PinworldConfig these tables were built with")
    with sb.artifacts.write("catalog", "pinworld", config=config, link_at="catalog") as w:
        write_table(tables.pins, w.path / "pins.parquet")
        write_table(tables.events, w.path / "events.parquet")
        write_table(tables.boards, w.path / "boards.parquet")
        (w.path / CATALOG_INFO).write_text(json.dumps(tables.info, indent=1, sort_keys=True))
        (w.path / "images").mkdir()
        if made["render_images"]:
            render = tables.render
            reused = _reuse_images(sb, made, w.path / "images", render["pin_id"])
            render_pin_images(w.path / "images", render[~render["pin_id"].isin(reused)], made["image_size"],
                              progress=progress)
    catalog_id = sb.artifacts.current_id("catalog", "pinworld")
    with sb.artifacts.write("catalog", TRUTH_NAME, config=config, inputs=[catalog_id]) as w:
        for name in ("pin_styles", "pinner_interests", "gold_homefeed", "gold_item_pairs", "gold_navigator"):
            write_table(getattr(tables, name), w.path / f"{name}.parquet")


def _reuse_images(sb, made: dict, images_dir, pin_ids) -> set[str]:
    """Copy the current Pinworld catalog's images of `pin_ids` when it was generated with the same settings
    (only `advances` differs: a pin's drawing depends on nothing else), so `data advance` renders new pins only.
    Returns the pin ids copied."""
    import shutil

    from pinsandbox.config import config_to_dict

    if not sb.artifacts.exists("catalog", "pinworld"):
        return set()
    current = sb.artifacts.read("catalog", "pinworld", verify=False)
    try:
        before = {k: v for k, v in config_to_dict(current.config()).items() if k in made and k != "advances"}
    except Exception:  # an older or unreadable config: render everything
        return set()
    now = {k: v for k, v in made.items() if k in before}
    if before != now or set(before) != set(made) - {"advances"}:
        return set()
    copied = set()
    for pin_id in pin_ids:
        src = current.path / "images" / f"{pin_id}.png"
        if src.is_file():
            shutil.copyfile(src, images_dir / f"{pin_id}.png")
            copied.add(pin_id)
    return copied


def as_ratings_log(catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A catalog reduced to what many teams have: (pins with `item_id` and `title` only, a plain ratings log with
    `user_id, item_id, rating, timestamp`) — one row per pinner and pin, rated 1–5 by how far down the funnel the
    pinner went (impression 1 … merchant click 5), at the time of their first event with it. What `data import`
    must take as it is (tested, and measured by benchmarks/bench_tastegraph.py)."""
    events = catalog.events
    depth = events["action"].map({a: i + 1 for i, a in enumerate(ACTIONS)})
    log = (events.assign(rating=depth).groupby(["pinner_id", "pin_id"], sort=False)
           .agg(rating=("rating", "max"), ts=("ts", "min")).reset_index())
    ratings = pd.DataFrame({"user_id": log["pinner_id"], "item_id": log["pin_id"], "rating": log["rating"],
                            "timestamp": (log["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)},
                           ).sort_values("timestamp", kind="stable")
    pins = pd.DataFrame({"item_id": catalog.pins["pin_id"], "title": catalog.pins["title"]})
    return pins, ratings.reset_index(drop=True)
