"""Metrics — one evaluation path for every method: recall@K, NDCG@K, hit-rate@K and interest coverage on a temporal split.

A model is anything with `recommend_many(pinner_ids, k, exclude_seen=True) -> {pinner_id: [pin_id, ...]}`
(or `recommend`). Targets are the pins a pinner *engaged* with (not mere impressions) after the cutoff,
minus pins they had already engaged with before it (the homefeed excludes those).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput
from pinsandbox.metrics import ranking_metrics
from pinsandbox.schema import ACTION_WEIGHTS, ENGAGEMENTS, utc_timestamp
from pinsandbox.tastegraph.graph import prepare_events


def temporal_split(events: pd.DataFrame, cutoff) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events before cutoff, events at/after it)."""
    events = prepare_events(events)
    cutoff = utc_timestamp(cutoff, what="cutoff")
    before = events["ts"] < cutoff
    return events[before].reset_index(drop=True), events[~before].reset_index(drop=True)


def validation_split(train_events: pd.DataFrame, fraction: float = 0.15) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out the last `fraction` of the *training* period for tuning, so the test window is never tuned on."""
    events = prepare_events(train_events, what="training events")
    return temporal_split(events, events["ts"].quantile(1 - fraction))


def targets_of(train_events: pd.DataFrame, test_events: pd.DataFrame) -> dict[str, set[str]]:
    """pinner_id -> pins engaged in the test window that they had not engaged before it."""
    test = test_events[test_events["action"].isin(ENGAGEMENTS)]
    if test.empty:
        raise InvalidInput(
            "the test window has no engagements (closeup, click, save or merchant_click) to evaluate against: "
            "move the cutoff earlier (e.g. --before an earlier time) or add more recent events"
        )
    train = train_events[train_events["action"].isin(ENGAGEMENTS)]
    seen = set(zip(train["pinner_id"], train["pin_id"], strict=True))
    out: dict[str, set[str]] = {}
    for u, p in zip(test["pinner_id"], test["pin_id"], strict=True):
        if (u, p) not in seen:
            out.setdefault(u, set()).add(p)
    return out


def main_groups(train_events: pd.DataFrame, pin_groups: pd.Series, min_share: float = 0.1) -> dict[str, set]:
    """A pinner's interest groups: pin groups holding at least `min_share` of their engagement weight."""
    eng = train_events[train_events["action"].isin(ENGAGEMENTS)]
    df = pd.DataFrame({"pinner_id": eng["pinner_id"].to_numpy(), "group": pin_groups.reindex(eng["pin_id"]).to_numpy(),
                       "w": eng["action"].map(ACTION_WEIGHTS).to_numpy()}).dropna()
    w = df.groupby(["pinner_id", "group"])["w"].sum()
    share = w / w.groupby(level=0).transform("sum")
    keep = share[share >= min_share].reset_index()
    return keep.groupby("pinner_id")["group"].agg(set).to_dict()


def pinner_cells(train_events: pd.DataFrame, pin_groups: pd.Series, pin_categories: pd.Series) -> dict[str, set]:
    """pinner_id -> the (taste group, category) cells of the pins they engaged with."""
    eng = train_events[train_events["action"].isin(ENGAGEMENTS)]
    cells = pd.DataFrame({"u": eng["pinner_id"].to_numpy(), "g": pin_groups.reindex(eng["pin_id"]).to_numpy(),
                          "c": pin_categories.reindex(eng["pin_id"]).to_numpy()}).dropna().drop_duplicates()
    return {u: set(zip(d["g"], d["c"], strict=True)) for u, d in cells.groupby("u", sort=False)}


def lateral_exploration(recs: dict, targets: dict, cells: dict, pin_groups: pd.Series, pin_categories: pd.Series,
                        k: int) -> dict:
    """Lateral pins: in a taste group *or* a category the pinner engaged with, but not in a combination of the two
    they did (Pinworld: same style, another category, or the reverse). Returns the share of the top-k that is
    lateral and the share of those lateral pins the pinner went on to engage with after the cutoff."""
    shares, lateral, engaged = [], 0, 0
    for u, feed in recs.items():
        mine = cells.get(u)
        if not mine:
            continue
        groups, cats = {g for g, _ in mine}, {c for _, c in mine}
        g, c = pin_groups.reindex(feed[:k]).to_numpy(), pin_categories.reindex(feed[:k]).to_numpy()
        side = [(gi, ci) not in mine and (gi in groups or ci in cats) for gi, ci in zip(g, c, strict=True)]
        shares.append(sum(side) / k)
        lateral += sum(side)
        engaged += sum(p in targets.get(u, ()) for p, s in zip(feed[:k], side, strict=True) if s)
    return {f"lateral_share@{k}": float(np.mean(shares)) if shares else float("nan"),
            f"lateral_engaged@{k}": engaged / lateral if lateral else float("nan")}


def evaluate(model, train_events: pd.DataFrame, test_events: pd.DataFrame, *, k: int = 10,
             pin_groups: pd.Series | None = None, targets: dict[str, set[str]] | None = None,
             pin_categories: pd.Series | None = None) -> dict:
    """Mean recall@k, ndcg@k, hit_rate@k (and interest_coverage@k when `pin_groups` is given) over pinners with targets.

    `pin_groups` maps pin_id -> a taste group (e.g. a k-means cluster of pin vectors, or a category column);
    interest coverage is the share of a pinner's main groups that their top-k touches. With `pin_categories` too,
    lateral exploration (`lateral_exploration`): lateral_share@k and lateral_engaged@k.
    """
    targets = targets if targets is not None else targets_of(train_events, test_events)
    pinners = sorted(targets)
    recs = _recommend_all(model, pinners, k)
    out = ranking_metrics(recs, targets, k)
    out = {key: out[key] for key in (f"recall@{k}", f"ndcg@{k}", f"hit_rate@{k}")} | {"pinners": out["queries"]}
    groups = main_groups(train_events, pin_groups) if pin_groups is not None else {}
    cover = []
    for u in pinners:
        if u in groups:
            got = set(pin_groups.reindex(recs[u][:k]).dropna())
            cover.append(len(got & groups[u]) / len(groups[u]))
    if pin_groups is not None:
        out[f"interest_coverage@{k}"] = float(np.mean(cover)) if cover else float("nan")
    if pin_groups is not None and pin_categories is not None:
        cells = pinner_cells(train_events, pin_groups, pin_categories)
        out |= lateral_exploration(recs, targets, cells, pin_groups, pin_categories, k)
    return out


def compare(models: dict, train_events, test_events, *, k: int = 10, pin_groups=None, pin_categories=None) -> pd.DataFrame:
    """One table, one row per method, every method through `evaluate`."""
    targets = targets_of(train_events, test_events)
    rows = {name: evaluate(m, train_events, test_events, k=k, pin_groups=pin_groups, targets=targets,
                           pin_categories=pin_categories)
            for name, m in models.items()}
    return pd.DataFrame(rows).T.rename_axis("method")


def split_test_for_realtime(test_events: pd.DataFrame, first_n: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per pinner, their first `first_n` test-window engagements (fed online) and everything after them (evaluated).

    Only pinners with at least one engagement after those first ones take part, so both arms score the same pinners.
    """
    eng = test_events[test_events["action"].isin(ENGAGEMENTS)].sort_values("ts", kind="stable")
    order = eng.groupby("pinner_id").cumcount()
    first = eng[order < first_n]
    rest = eng[order >= first_n]
    first = first[first["pinner_id"].isin(rest["pinner_id"])]
    if rest.empty:
        raise InvalidInput(f"no pinner has more than {first_n} engagements in the test window: lower first_n or widen the window")
    return first.reset_index(drop=True), rest.reset_index(drop=True)


def _recommend_all(model, pinners, k):
    if hasattr(model, "recommend_many"):
        return model.recommend_many(pinners, k, exclude_seen=True)
    return {u: model.recommend(u, k, exclude_seen=True) for u in pinners}


def realtime_vs_batch(model, train_events: pd.DataFrame, test_events: pd.DataFrame, *, first_n: int = 3, k: int = 10,
                      pin_groups: pd.Series | None = None) -> pd.DataFrame:
    """The same pinners, recommended by the batch model and by a fork fed their first `first_n` test-window events.

    Both arms are scored on the engagements *after* those first events (pins from them excluded from the targets).
    """
    first, rest = split_test_for_realtime(prepare_events(test_events, what="test events"), first_n)
    history = pd.concat([train_events, first], ignore_index=True)
    targets = targets_of(history, rest)
    batch = evaluate(model, history, rest, k=k, pin_groups=pin_groups, targets=targets)
    online = model.fork().update_many(first)
    realtime = evaluate(online, history, rest, k=k, pin_groups=pin_groups, targets=targets)
    table = pd.DataFrame({"batch": batch, "real-time": realtime}).T.rename_axis("arm")
    table.attrs["events_fed"] = len(first)
    return table


def drifted_pinners(truth, cutoff) -> tuple[list, pd.Series, pd.Series]:
    """Pinworld: (pinners whose taste moved to a new style before the cutoff, their old styles, their new styles)."""
    pi = truth.pinner_interests
    cutoff = utc_timestamp(cutoff, what="cutoff")
    start = pi["from_ts"].min()
    left = pi[(pi["to_ts"] <= cutoff)][["pinner_id", "style"]]
    came = pi[(pi["from_ts"] > start) & (pi["from_ts"] < cutoff)][["pinner_id", "style"]]
    drifted = sorted(set(left["pinner_id"]) & set(came["pinner_id"]))
    if not drifted:
        raise InvalidInput("no pinner's taste drifted before the cutoff in this ground truth: nothing to report")
    old = left.groupby("pinner_id")["style"].agg(set)
    new = came.groupby("pinner_id")["style"].agg(set)
    return drifted, old - new, new - old


def _style_shares(model, truth, drifted, old, new, k) -> dict:
    style = truth.pin_styles.set_index("pin_id")["style"]
    recs = _recommend_all(model, drifted, k)
    s_new, s_old = [], []
    for u in drifted:
        st = style.reindex(recs[u][:k]).to_numpy()
        s_new.append(np.isin(st, list(new[u])).mean())
        s_old.append(np.isin(st, list(old[u])).mean())
    return {"new_style_share": float(np.mean(s_new)), "old_style_share": float(np.mean(s_old)), "pinners": len(drifted)}


def drift_report(models: dict, truth, cutoff, *, k: int = 10) -> pd.DataFrame:
    """Pinworld: for pinners whose taste moved to a new style before the cutoff, the share of their top-k in the
    new style vs the style they left. A homefeed that follows drift has new > old."""
    drifted, old, new = drifted_pinners(truth, cutoff)
    rows = {name: _style_shares(m, truth, drifted, old, new, k) for name, m in models.items()}
    return pd.DataFrame(rows).T.rename_axis("method")


def drift_over_time(model, truth, test_events: pd.DataFrame, cutoff, *, weeks: int = 2, k: int = 10) -> pd.DataFrame:
    """The drifted pinners' homefeed week by week after the cutoff, the model following their events online
    (`model.fork().update`): new vs old style share at the cutoff (week 0) and after each further week."""
    drifted, old, new = drifted_pinners(truth, cutoff)
    cutoff = utc_timestamp(cutoff, what="cutoff")
    events = prepare_events(test_events, what="test events")
    events = events[events["pinner_id"].isin(drifted)]
    online = model.fork()
    rows = []
    for week in range(weeks + 1):
        if week:
            fed = events[(events["ts"] >= cutoff + pd.Timedelta(weeks=week - 1)) & (events["ts"] < cutoff + pd.Timedelta(weeks=week))]
            online.update_many(fed)
        rows.append({"week": week, **_style_shares(online, truth, drifted, old, new, k)})
    return pd.DataFrame(rows).set_index("week")
