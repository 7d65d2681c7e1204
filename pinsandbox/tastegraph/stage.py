"""The taste-graph stage end to end, as one call (what notebook 04, `pinsandbox tastegraph` and the tests run).

    from pinsandbox.tastegraph import TasteGraphStageConfig, run_tastegraph
    result = run_tastegraph("alice", TasteGraphStageConfig(k=10, first_n=3))
    result.table          # every method on the same temporal split, same metric code
    result.model          # the fitted TasteGraph, also published as tastegraph/taste-graph (with its config)

It reads the sandbox's catalog split and pin vectors, checks that the test window can be scored (and the
real-time arm fed) before any training, fits popularity, ItemKNN, EASE and the taste graph, scores them and
the taste graph's single sources, measures real-time vs batch, reports drift against Pinworld's ground truth
when there is one, and publishes the snapshot with the TasteGraphConfig that made it.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import pandas as pd

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.stages import StageResult
from pinsandbox.tastegraph.model import SOURCES, TasteGraph, TasteGraphConfig

STAGE = "tastegraph"
BASELINES = ("popularity", "itemknn", "ease")
VECTOR_KINDS = ("proprietary", "off-the-shelf")


@dataclass
class TasteGraphStageConfig:
    k: int = 10  # homefeed length evaluated
    first_n: int = 3  # real-time arm: each pinner's first test-window engagements fed online
    drift_weeks: int = 2  # Pinworld: follow the drifted pinners' feeds this many weeks past the cutoff
    vectors: str = "proprietary"  # pin vectors preferred; the other kind, then graph embeddings, if missing
    before: str | None = None  # fit on events before this time (ISO-8601 or unix seconds); None: the catalog's cutoff
    ease_l2: float = 300.0  # the EASE baseline's regulariser (notebook 04 gives the taste graph's EASE source the same)
    ablations: bool = True  # also score each of the taste graph's candidate sources alone
    model: TasteGraphConfig = field(default_factory=TasteGraphConfig)  # saved with the snapshot (config.json)
    snapshot: str = "taste-graph"  # published as tastegraph/<snapshot>; serving and evaluation start from it


@dataclass(kw_only=True)
class TasteGraphResult(StageResult):
    model: TasteGraph  # fitted on the training side (the published snapshot)
    baselines: dict  # name -> fitted baseline
    table: pd.DataFrame  # one row per method (and per single source), recall/ndcg/hit-rate/interest coverage @k
    realtime: pd.DataFrame  # rows batch, real-time: the same pinners with/without their first test events fed online
    drift: pd.DataFrame | None  # Pinworld only: new vs old style share of drifting pinners' homefeeds
    drift_weeks: pd.DataFrame | None  # Pinworld only: the same, week by week, the taste graph following events online
    split: object  # pinsandbox.tastegraph.api.Split: catalog, train, test, cutoff, vectors
    truth: object  # Pinworld's GroundTruth, or None (imported catalog)
    pin_groups: pd.Series  # pin_id -> taste group used for interest coverage (true styles, else k-means groups)
    fit_seconds: dict


def source_only(source: str) -> str:
    """The comparison table's row name for the taste graph restricted to one candidate source."""
    return f"tastegraph · {source} only"


def _variant(method: str) -> str:
    """A table row name as a metric-key variant: `tastegraph · walks only` -> `walks_only`."""
    return method.removeprefix("tastegraph · ").replace(" ", "_").replace("-", "")


def check_config(config: TasteGraphStageConfig) -> TasteGraphStageConfig:
    if not isinstance(config, TasteGraphStageConfig):
        raise InvalidInput(f"run_tastegraph takes a TasteGraphStageConfig, got {type(config).__name__}")
    if not isinstance(config.model, TasteGraphConfig):
        raise InvalidInput(f"TasteGraphStageConfig.model must be a TasteGraphConfig, got {type(config.model).__name__}")
    if int(config.k) < 1:
        raise InvalidInput(f"k must be at least 1, got {config.k}")
    if int(config.drift_weeks) < 0:
        raise InvalidInput(f"drift_weeks must be 0 or more, got {config.drift_weeks}")
    if int(config.first_n) < 1:
        raise InvalidInput(f"first_n must be at least 1, got {config.first_n}")
    if config.vectors not in VECTOR_KINDS:
        raise InvalidInput(f"vectors {config.vectors!r} is unknown: use one of {', '.join(VECTOR_KINDS)}")
    unknown = sorted(set(config.model.blend) - set(SOURCES))
    if unknown:
        raise InvalidInput(f"blend has unknown source(s) {', '.join(unknown)}: use {', '.join(SOURCES)}")
    if config.ease_l2 <= 0:
        raise InvalidInput(f"ease_l2 must be positive, got {config.ease_l2}")
    return config


def fit_baselines(train, pins, ease_l2: float, fit_seconds: dict) -> dict:
    from pinsandbox.tastegraph.baselines import EASE, ItemKNN, Popularity

    models = {}
    for name, model in zip(BASELINES, (Popularity(), ItemKNN(), EASE(l2=ease_l2)), strict=True):
        t = time.perf_counter()
        models[name] = model.fit(train, pins=pins)
        fit_seconds[name] = time.perf_counter() - t
    return models


def run_tastegraph(sandbox=None, config: TasteGraphStageConfig | None = None, progress=True) -> TasteGraphResult:
    """Fit, compare, measure real-time vs batch and drift, publish the snapshot; see the module docstring."""
    from pinsandbox.sandbox import resolve
    from pinsandbox.tastegraph.api import fit_on_split, load_split
    from pinsandbox.tastegraph.metrics import (
        compare,
        drift_over_time,
        drift_report,
        realtime_vs_batch,
        split_test_for_realtime,
        targets_of,
    )

    config = check_config(config or TasteGraphStageConfig())
    k = int(config.k)
    sb = resolve(sandbox)
    split = load_split(sb, config.before, vectors=config.vectors)
    truth = _ground_truth(sb)
    # everything that can refuse the input, before any training
    targets_of(split.train, split.test)  # the test window has engagements to score
    split_test_for_realtime(split.test, int(config.first_n))  # and pinners to feed online

    tqdm = _progress(progress)
    pins = split.catalog.pins["pin_id"]
    fit_seconds: dict = {}
    baselines = fit_baselines(split.train, pins, config.ease_l2, fit_seconds)
    t = time.perf_counter()
    tg = fit_on_split(split, config.model, progress=tqdm)
    fit_seconds["tastegraph"] = time.perf_counter() - t

    pin_groups = truth.pin_styles.set_index("pin_id")["style"] if truth is not None else pd.Series(tg.pin_group, index=tg.pins)
    models = {**baselines, "tastegraph": tg}
    if config.ablations:
        for source in SOURCES:
            only = tg.fork()
            only.config = dataclasses.replace(config.model, blend={s: float(s == source) for s in SOURCES})
            models[source_only(source)] = only
    pins_table = split.catalog.pins
    categories = (pins_table.set_index(pins_table["pin_id"].astype(str))["category"]
                  if "category" in pins_table else None)  # lateral exploration needs a category to step across
    table = compare(models, split.train, split.test, k=k, pin_groups=pin_groups, pin_categories=categories)
    rt = realtime_vs_batch(tg, split.train, split.test, first_n=int(config.first_n), k=k, pin_groups=pin_groups)
    drift = drift_weeks = None
    if truth is not None:
        drift = drift_report({"tastegraph": tg, "ease": baselines["ease"], "popularity": baselines["popularity"]},
                             truth, split.cutoff, k=k)
        drift_weeks = drift_over_time(tg, truth, split.test, split.cutoff, weeks=int(config.drift_weeks), k=k)

    inputs = [split.catalog.artifact_id] + ([split.vectors.artifact_id] if split.vectors is not None else [])
    snapshot_id = tg.save(sb, name=config.snapshot, inputs=inputs)
    metrics = stage_metrics(tg, table, rt, drift, fit_seconds, k, drift_weeks)
    return TasteGraphResult(stage=STAGE, config=config, artifacts={config.snapshot: snapshot_id}, metrics=metrics,
                            model=tg, baselines=baselines, table=table, realtime=rt, drift=drift,
                            drift_weeks=drift_weeks, split=split,
                            truth=truth, pin_groups=pin_groups, fit_seconds=fit_seconds)


def stage_metrics(tg, table: pd.DataFrame, rt: pd.DataFrame, drift: pd.DataFrame | None, fit_seconds: dict, k: int,
                  drift_weeks: pd.DataFrame | None = None) -> dict:
    """`tastegraph.*` metrics: the comparison table flattened (`tastegraph.<metric>.<method>`), the headline
    figures, real-time vs batch (`.batch`, `.realtime`) and drift shares (the taste graph's without a variant;
    week by week after the cutoff as `drift_new_style_share_week<N>`)."""
    ndcg, recall = f"ndcg@{k}", f"recall@{k}"
    present = [b for b in BASELINES if b in table.index]
    best = float(table.loc[present, ndcg].max())
    m: dict = {f"tastegraph.fit_s.{name}": float(s) for name, s in fit_seconds.items()}
    n_interests = pd.Series([len(s.importance) for s in tg.states.values()])
    m["tastegraph.pinners_with_interests"] = int((n_interests > 0).sum())
    m["tastegraph.mean_interests_per_pinner"] = float(n_interests.mean())
    m["tastegraph.eval_pinners"] = int(table["pinners"].iloc[0])
    for method, row in table.iterrows():
        for col, value in row.items():
            if col != "pinners":
                m[f"tastegraph.{col}.{_variant(method)}"] = float(value)
    m[f"tastegraph.{ndcg}.best_baseline"] = best
    m["tastegraph.beats_every_baseline_on_ndcg"] = bool(table.loc["tastegraph", ndcg] > best)
    for arm, row in rt.iterrows():
        for col, value in row.items():
            if col != "pinners":
                m[f"tastegraph.{col}.{arm.replace('-', '')}"] = float(value)
    m["tastegraph.realtime_pinners"] = int(rt.loc["batch", "pinners"])
    m["tastegraph.realtime_events_fed"] = int(rt.attrs["events_fed"])
    m["tastegraph.realtime_recall_lift"] = float(rt.loc["real-time", recall] / rt.loc["batch", recall] - 1)
    m["tastegraph.realtime_beats_batch"] = bool(rt.loc["real-time", ndcg] > rt.loc["batch", ndcg])
    if drift is not None:
        m["tastegraph.drift_pinners"] = int(drift.loc["tastegraph", "pinners"])
        for method, row in drift.iterrows():
            suffix = "" if method == "tastegraph" else f".{method}"
            m[f"tastegraph.drift_new_style_share{suffix}"] = float(row["new_style_share"])
            m[f"tastegraph.drift_old_style_share{suffix}"] = float(row["old_style_share"])
    for week, row in (drift_weeks.iterrows() if drift_weeks is not None else ()):
        if week:
            m[f"tastegraph.drift_new_style_share_week{week}"] = float(row["new_style_share"])
            m[f"tastegraph.drift_old_style_share_week{week}"] = float(row["old_style_share"])
    return m


def _ground_truth(sb):
    from pinsandbox.catalog import load_ground_truth

    try:
        return load_ground_truth(sb)
    except NotFound:
        return None  # an imported catalog: evaluate on held-out events only


def _progress(progress):
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm
    return progress or None  # False/None: quiet; a callable: used as is
