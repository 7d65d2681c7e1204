"""A retrain and its gate: `run_retrain(sandbox, RetrainConfig(...))` -> `RetrainResult`.

1. Vectors: every pin of the current catalog (the pins published since the champion was trained included)
   embedded by the *frozen* published encoder (the cheap refresh), or — a full retrain (`full=True`) — by the
   champion encoder trained a few more steps on the newest data; published as `embeddings/proprietary-challenger`
   (`loop.challenger`). A full retrain then warm-starts the champion Navigator's projector and LoRA on those
   vectors (`vlm/navigator-challenger`).
2. A refit of the taste graph (the champion's own config) on every event before the catalog's cutoff and every
   event serving accepted (`loop.feedback.logged_events`: validated, deduplicated), published as
   `tastegraph/challenger`; the last log sequence number it holds goes into the verdict, and promotion writes it
   into the champion's snapshot (`event_log_seq`) so serving replays only the events after it.
3. The gate, on the newest window (the events after the cutoff): each pinner's NDCG@k under the challenger and
   under the champion (the serving `tastegraph/taste-graph` with the logged events it has not folded in replayed,
   as the server serves it), the paired bootstrap interval of the
   gain; guards: recall@k, homefeed p99 latency, serving cost (mean compute per homefeed request), on Pinworld
   the A/B simulation (stage 06's simulated pinners, by their interests in the new window: saves per pinner)
   and, in a full retrain, Navigator recall@10 on the held-out requests — none worse than the champion's beyond
   its tolerance.
   The verdict is published as `loop/verdict`; when it passes (and `promote`), the challenger is promoted.

Notebook 07, `pinsandbox retrain` and the tests call it; it is an ordinary recorded run from the notebook.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.stages import StageResult

DEGRADE = ("shuffle",)


@dataclass
class RetrainConfig:
    k: int = 10  # homefeed length scored
    vectors: bool = True  # refresh pin vectors with the frozen encoder (when the sandbox has one)
    engine: str | None = None  # the refresh's precompute engine, local | ray (None: the one the encoder was trained with)
    n_boot: int = 2000  # bootstrap resamples of the paired NDCG gain
    level: float = 0.95  # the interval's level: promote only when its lower bound is >= 0
    seed: int = 0
    recall_tolerance: float = 0.05  # guard: challenger recall@k at most this much (relative) below the champion's
    latency_tolerance: float = 1.0  # guard: challenger p99 homefeed latency at most (1 + this) × champion's + 1 ms
    cost_tolerance: float = 0.5  # guard: mean compute per homefeed request at most (1 + this) × champion's + 0.5 ms
    navigator_tolerance: float = 0.05  # guard (full): Navigator recall@10 at most this much (relative) below
    ab_pinners: int = 200  # guard (Pinworld): simulated pinners in the A/B simulation; 0 leaves it out
    ab_tolerance: float = 0.05  # guard: refuse when A/B saves per pinner are surely (the paired interval's upper
    # bound) more than this much (relative) below the champion's: 200 simulated pinners are too few for a mean alone
    latency_pinners: int = 200  # pinners timed, one request each, per model
    promote: bool = True  # promote the challenger when the gate passes
    full: bool = False  # the less frequent full retrain: encoder and Navigator warm-started from the champion
    encoder_steps: int = 100  # full: more engagement-alignment steps for the champion encoder
    navigator_steps: int = 60  # full: more LoRA steps for the champion Navigator (when the sandbox has one)
    degrade: str | None = None  # "shuffle": a deliberately bad challenger (engagement shuffled across pins), to test the gate

    def validate(self) -> RetrainConfig:
        if int(self.k) < 1:
            raise InvalidInput(f"k must be at least 1, got {self.k}")
        if int(self.n_boot) < 100:
            raise InvalidInput(f"n_boot must be at least 100, got {self.n_boot}")
        if not 0.5 <= float(self.level) < 1:
            raise InvalidInput(f"level must be in [0.5, 1), got {self.level}")
        if min(self.recall_tolerance, self.latency_tolerance, self.cost_tolerance, self.navigator_tolerance,
               self.ab_tolerance) < 0:
            raise InvalidInput("tolerances must be 0 or more")
        if int(self.ab_pinners) < 0:
            raise InvalidInput(f"ab_pinners must be 0 (no A/B guard) or more, got {self.ab_pinners}")
        if int(self.encoder_steps) < 1 or int(self.navigator_steps) < 1:
            raise InvalidInput(f"encoder_steps and navigator_steps must be at least 1, got {self.encoder_steps} "
                               f"and {self.navigator_steps}")
        if self.engine is not None:
            from pinsandbox.embeddings.precompute import ENGINES

            if self.engine not in ENGINES:
                raise InvalidInput(f"unknown engine {self.engine!r}: use one of {', '.join(ENGINES)} or None")
        if self.degrade is not None and self.degrade not in DEGRADE:
            raise InvalidInput(f"degrade {self.degrade!r} is unknown: use one of {', '.join(DEGRADE)} or None")
        return self


@dataclass(kw_only=True)
class RetrainResult(StageResult):
    verdict: dict  # passed, gain, interval, guards, reasons
    scores: pd.DataFrame = field(repr=False)  # per pinner: ndcg/recall of champion and challenger
    promoted: dict | None = None  # the promotion log entry, when promoted
    challenger: object = field(default=None, repr=False)  # the fitted TasteGraph
    navigator: object = field(default=None, repr=False)  # full retrain: loop.challenger.NavigatorRetrain, or None


def _latency_ms(models: dict, pinners, k: int) -> dict:
    """Each model's single-request latency (ms): {"p99", "mean"} — the mean is the compute a request costs. The
    models take turns pinner by pinner (in alternating order): a burst of load from elsewhere on a shared machine
    lands on both, not on whichever ran then."""
    times = {name: [] for name in models}
    names = list(models)
    for i, u in enumerate(pinners):
        for name in names if i % 2 == 0 else names[::-1]:
            t = time.perf_counter()
            models[name].recommend(u, k)
            times[name].append((time.perf_counter() - t) * 1000)
    return {name: {"p99": float(np.percentile(t, 99)) if t else float("nan"),
                   "mean": float(np.mean(t)) if t else float("nan")} for name, t in times.items()}


def score_on_window(models: dict, train: pd.DataFrame, test: pd.DataFrame, *, k: int = 10,
                    latency_pinners: int = 200, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Per pinner with held-out targets: ndcg@k and recall@k of each model (columns `<metric>.<model>`), and each
    model's single-request latency (ms: {"p99", "mean"}) over the same `latency_pinners` pinners."""
    from pinsandbox.metrics import ndcg_at_k, recall_at_k
    from pinsandbox.tastegraph.metrics import _recommend_all, targets_of

    targets = targets_of(train, test)
    pinners = sorted(targets)
    cols = {}
    for name, model in models.items():
        recs = _recommend_all(model, pinners, k)
        cols[f"ndcg.{name}"] = [ndcg_at_k(recs.get(u, [])[:k], targets[u], k) for u in pinners]
        cols[f"recall.{name}"] = [recall_at_k(recs.get(u, [])[:k], targets[u], k) for u in pinners]
    timed = np.random.default_rng(seed).permutation(pinners)[:latency_pinners]
    latency = _latency_ms(models, timed, k)
    return pd.DataFrame(cols, index=pd.Index(pinners, name="pinner_id")), latency


def ab_saves(sb, catalog, train: pd.DataFrame, models: dict, config: RetrainConfig) -> dict | None:
    """Stage 06's A/B simulation of champion and challenger on the new window: each simulated pinner (the same
    random draws in both) opens daily homefeeds from the cutoff and reacts by their interests then. Per pinner
    saves, model -> list (same pinners, same order); None without Pinworld ground truth or with `ab_pinners=0`."""
    from types import SimpleNamespace

    from pinsandbox.catalog import load_ground_truth
    from pinsandbox.evaluation.abtest import ABConfig, simulate
    from pinsandbox.evaluation.variants import Context

    if not int(config.ab_pinners):
        return None
    try:
        truth = load_ground_truth(sb)
    except NotFound:  # an imported catalog: no simulated pinners to run
        return None
    outcomes = simulate(Context(catalog, truth, train), {name: SimpleNamespace(feed=m) for name, m in models.items()},
                        ABConfig(pinners=int(config.ab_pinners), k=int(config.k), seed=int(config.seed)))
    return {name: g.sort_values("pinner_id")["saves"].astype(float).tolist() for name, g in outcomes.groupby("variant")}


def gate(scores: pd.DataFrame, latency: dict, config: RetrainConfig, navigator_recall: dict | None = None,
         saves: dict | None = None) -> dict:
    """The verdict: promote when the paired bootstrap lower bound of the challenger's NDCG gain is >= 0 and no
    guard is worse beyond its tolerance. `navigator_recall` (a full retrain's): per held-out request recall@10 of
    each Navigator; `saves`: per simulated pinner A/B saves of each. Every number that decided it is in the
    verdict."""
    from pinsandbox.metrics import bootstrap_ci

    gain = (scores["ndcg.challenger"] - scores["ndcg.champion"]).to_numpy()
    lo, hi = bootstrap_ci(gain, n=int(config.n_boot), level=float(config.level), seed=int(config.seed))
    recall = {m: float(scores[f"recall.{m}"].mean()) for m in ("champion", "challenger")}
    ndcg = {m: float(scores[f"ndcg.{m}"].mean()) for m in ("champion", "challenger")}
    guards = {
        "recall": {"champion": recall["champion"], "challenger": recall["challenger"],
                   "limit": recall["champion"] * (1 - config.recall_tolerance)},
        "p99_ms": {"champion": latency["champion"]["p99"], "challenger": latency["challenger"]["p99"],
                   "limit": latency["champion"]["p99"] * (1 + config.latency_tolerance) + 1.0},
        "cost_ms": {"champion": latency["champion"]["mean"], "challenger": latency["challenger"]["mean"],
                    "limit": latency["champion"]["mean"] * (1 + config.cost_tolerance) + 0.5},
    }
    if navigator_recall is not None:
        nav = {m: float(np.mean(navigator_recall[m])) for m in ("champion", "challenger")}
        guards["navigator_recall"] = {**nav, "limit": nav["champion"] * (1 - config.navigator_tolerance),
                                      "requests": len(navigator_recall["champion"])}
    if saves is not None:
        ab = {m: float(np.mean(saves[m])) for m in ("champion", "challenger")}
        lo_s, hi_s = bootstrap_ci(np.asarray(saves["challenger"]) - np.asarray(saves["champion"]), n=int(config.n_boot),
                                  level=float(config.level), seed=int(config.seed))
        guards["ab_saves"] = {**ab, "limit": ab["champion"] * (1 - config.ab_tolerance),
                              "difference_interval": [lo_s, hi_s], "pinners": len(saves["champion"]),
                              # the best the challenger may be, by the interval: it must reach the limit
                              "challenger_at_best": ab["champion"] + hi_s}
    for name, g in guards.items():  # quality guards must not fall below their limit, costs not rise above it
        value = g.get("challenger_at_best", g["challenger"])
        g["ok"] = bool(value <= g["limit"] if name in ("p99_ms", "cost_ms") else value >= g["limit"])
    reasons = []
    if lo < 0:
        reasons.append(f"NDCG@{config.k} gain {gain.mean():+.4f}, {config.level:.0%} interval [{lo:+.4f}, {hi:+.4f}]: "
                       "its lower bound is below 0")
    else:
        reasons.append(f"NDCG@{config.k} gain {gain.mean():+.4f}, {config.level:.0%} interval [{lo:+.4f}, {hi:+.4f}] >= 0")
    for name, g in guards.items():
        if not g["ok"]:
            best = f" (at best {g['challenger_at_best']:.4g}, by the {config.level:.0%} interval)" if "challenger_at_best" in g else ""
            reasons.append(f"guard {name}: challenger {g['challenger']:.4g}{best} is worse than the limit {g['limit']:.4g} "
                           f"(champion {g['champion']:.4g})")
    passed = bool(lo >= 0 and all(g["ok"] for g in guards.values()))
    return {"passed": passed, "metric": f"ndcg@{config.k}", "ndcg": ndcg, "gain": float(gain.mean()),
            "interval": [lo, hi], "level": float(config.level), "pinners": int(len(gain)), "guards": guards,
            "reasons": reasons}


def _shuffled(events: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The same events with their pins shuffled across rows: engagement that says nothing about taste."""
    rng = np.random.default_rng(seed)
    return events.assign(pin_id=events["pin_id"].to_numpy()[rng.permutation(len(events))])


def run_retrain(sandbox=None, config: RetrainConfig | None = None, progress: bool = True) -> RetrainResult:
    """Refresh (or, `full`, retrain encoder and Navigator), refit, gate and (when it passes) promote; see the
    module docstring."""
    from tqdm.auto import tqdm

    from pinsandbox.catalog import load_catalog
    from pinsandbox.loop.challenger import refresh_vectors, retrain_encoder, retrain_navigator
    from pinsandbox.loop.feedback import logged_events
    from pinsandbox.loop.promotion import CHAMPION, log_refusal, promote
    from pinsandbox.sandbox import resolve
    from pinsandbox.tastegraph.metrics import targets_of, temporal_split
    from pinsandbox.tastegraph.model import TasteGraph

    config = (config or RetrainConfig()).validate()
    sb = resolve(sandbox)
    catalog = load_catalog(sb)
    stage, name = CHAMPION["tastegraph"]
    if not sb.artifacts.exists(stage, name):
        raise NotFound(f"sandbox {sb.owner!r} has no champion taste graph to compare with: run "
                       f"`pinsandbox tastegraph --sandbox {sb.owner}` (notebook 04) first")
    train, test = temporal_split(catalog.events, catalog.cutoff)
    targets_of(train, test)  # the newest window can be scored, before any work
    champion = TasteGraph.load(sb, name=name)
    logged, feedback = logged_events(sb, catalog)
    folded = int(sb.artifacts.read(stage, name, verify=False).manifest.get("event_log_seq", 0))
    for ev in logged[logged["seq"] > folded].to_dict("records"):  # the champion as serving serves it
        champion.update(ev)
    train = pd.concat([train, logged.drop(columns="seq")], ignore_index=True) if len(logged) else train

    t0 = time.perf_counter()
    from pinsandbox.embeddings import find_vectors
    from pinsandbox.vlm.adapter import has_navigator

    encoder_id = navigator = None
    refreshed = bool(config.vectors or config.full) and sb.artifacts.exists("embeddings", "encoder")
    if config.full:  # before any work: a full retrain needs an encoder to warm-start
        vectors, new_pins, encoder_id = retrain_encoder(sb, catalog, steps=config.encoder_steps, seed=config.seed,
                                                        engine=config.engine, progress=progress)
    elif refreshed:
        vectors, new_pins = refresh_vectors(sb, catalog, config.engine, progress)
    else:
        vectors, new_pins = find_vectors(sb), 0
    vectors_s = time.perf_counter() - t0
    if config.full and has_navigator(sb):
        navigator = retrain_navigator(sb, vectors, steps=config.navigator_steps, seed=config.seed, progress=progress)
    fit_on = _shuffled(train, config.seed) if config.degrade == "shuffle" else train
    t0 = time.perf_counter()
    challenger = TasteGraph(champion.config).fit(fit_on, vectors, pins=catalog.pins["pin_id"],
                                                 progress=tqdm if progress else None)
    fit_s = time.perf_counter() - t0
    inputs = [catalog.artifact_id] + ([vectors.artifact_id] if vectors is not None else [])
    challenger_id = challenger.save(sb, name="challenger", inputs=inputs)

    scores, latency = score_on_window({"champion": champion, "challenger": challenger}, train, test, k=int(config.k),
                                      latency_pinners=int(config.latency_pinners), seed=int(config.seed))
    saves = ab_saves(sb, catalog, train, {"champion": champion, "challenger": challenger}, config)
    verdict = gate(scores, latency, config, navigator.recall if navigator is not None else None, saves)
    verdict["full"] = bool(config.full)
    verdict["challenger"] = {"tastegraph": challenger_id, **({"vectors": vectors.artifact_id} if refreshed else {}),
                             **({"encoder": encoder_id} if encoder_id else {}),
                             **({"navigator": navigator.artifact_id} if navigator is not None else {})}
    verdict["champion"] = {"tastegraph": champion.artifact_id}
    verdict["cutoff"] = catalog.cutoff.isoformat()
    verdict["event_log_seq"] = feedback["seq"]
    verdict["catalog"] = catalog.artifact_id
    with sb.artifacts.write("loop", "verdict", config=config, inputs=list(verdict["challenger"].values())
                            + [champion.artifact_id, catalog.artifact_id]) as w:
        (w.path / "verdict.json").write_text(json.dumps(verdict, indent=1, sort_keys=True))
        scores.reset_index().to_parquet(w.path / "scores.parquet", index=False)
    verdict_id = sb.artifacts.current_id("loop", "verdict")

    promoted = None
    if verdict["passed"] and config.promote:
        promoted = promote(sb)
    elif not verdict["passed"]:
        log_refusal(sb, verdict_id, verdict)
    k = int(config.k)
    metrics = {
        f"retrain.ndcg@{k}.champion": verdict["ndcg"]["champion"],
        f"retrain.ndcg@{k}.challenger": verdict["ndcg"]["challenger"],
        f"retrain.ndcg@{k}_gain": verdict["gain"],
        f"retrain.ndcg@{k}_gain_low": verdict["interval"][0],
        f"retrain.ndcg@{k}_gain_high": verdict["interval"][1],
        f"retrain.recall@{k}.champion": verdict["guards"]["recall"]["champion"],
        f"retrain.recall@{k}.challenger": verdict["guards"]["recall"]["challenger"],
        "retrain.homefeed_p99_ms.champion": verdict["guards"]["p99_ms"]["champion"],
        "retrain.homefeed_p99_ms.challenger": verdict["guards"]["p99_ms"]["challenger"],
        "retrain.homefeed_cost_ms.champion": verdict["guards"]["cost_ms"]["champion"],
        "retrain.homefeed_cost_ms.challenger": verdict["guards"]["cost_ms"]["challenger"],
        "retrain.pinners": verdict["pinners"],
        "retrain.new_pins_embedded": new_pins,
        "retrain.logged_events_used": feedback["used"],
        "retrain.logged_events_dropped": feedback["invalid"] + feedback["duplicate"],
        "retrain.logged_events_retimed": feedback["retimed"],
        "retrain.vectors_s": vectors_s,
        "retrain.fit_s": fit_s,
        "retrain.full": int(bool(config.full)),
        "retrain.passed": int(verdict["passed"]),
        "retrain.promoted": int(promoted is not None),
    }
    if saves is not None:
        metrics["retrain.ab_saves_per_pinner.champion"] = verdict["guards"]["ab_saves"]["champion"]
        metrics["retrain.ab_saves_per_pinner.challenger"] = verdict["guards"]["ab_saves"]["challenger"]
    if navigator is not None:
        metrics["retrain.navigator_recall@10.champion"] = verdict["guards"]["navigator_recall"]["champion"]
        metrics["retrain.navigator_recall@10.challenger"] = verdict["guards"]["navigator_recall"]["challenger"]
        metrics["retrain.navigator_train_s"] = navigator.train_s
    artifacts = {"challenger": challenger_id, "verdict": verdict_id,
                 **{role: aid for role, aid in verdict["challenger"].items() if role != "tastegraph"}}
    return RetrainResult(stage="retrain", config=config, artifacts=artifacts, metrics=metrics, verdict=verdict,
                         scores=scores, promoted=promoted, challenger=challenger, navigator=navigator)
