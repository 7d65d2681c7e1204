"""The evaluation stage's entry point: variants, gold-set table, A/B simulation; published as `evaluation/results`.

    from pinsandbox.evaluation import EvaluationConfig, run_evaluation
    result = run_evaluation("alice", EvaluationConfig(max_queries=100))
    result.gold, result.ab, result.metrics["evaluation.homefeed.ndcg@10.blueprint"]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pandas as pd

from pinsandbox.evaluation.abtest import compare, simulate
from pinsandbox.evaluation.config import EvaluationConfig
from pinsandbox.evaluation.gold import gold_table
from pinsandbox.evaluation.variants import build_variants, load_both_vectors, load_context
from pinsandbox.stages import StageResult

STAGE, NAME = "evaluation", "results"
AB_FIELDS = ("lift", "ci_low", "ci_high", "verdict")  # what the A/B records per metric


@dataclass(kw_only=True)
class EvaluationResult(StageResult):
    stage: str = STAGE
    gold: pd.DataFrame  # variant, task, precision@k, recall@k, ndcg@k, hit_rate@k, queries
    outcomes: pd.DataFrame  # per (variant, pinner) A/B outcomes
    ab: pd.DataFrame  # baseline vs treatment per metric, with CI and verdict
    variants: dict = field(default_factory=dict)  # name -> description

    @property
    def artifact_id(self) -> str | None:
        return self.artifacts.get(NAME)


def evaluation_metrics(gold: pd.DataFrame, ab: pd.DataFrame) -> dict[str, object]:
    """`evaluation.<task>.<metric>.<variant>` for the gold table (and `evaluation.<task>.queries`), and
    `evaluation.ab.<metric>.lift|ci_low|ci_high|verdict` for the A/B — the stage's recorded metrics."""
    out: dict[str, object] = {}
    scores = [c for c in gold.columns if "@" in c]
    for row in gold.to_dict("records"):
        for metric in scores:
            out[f"evaluation.{row['task']}.{metric}.{row['variant']}"] = float(row[metric])
        out[f"evaluation.{row['task']}.queries"] = int(row["queries"])
    for row in ab.to_dict("records"):
        for part in AB_FIELDS:
            value = row[part]
            out[f"evaluation.ab.{row['metric']}.{part}"] = value if isinstance(value, str) else _number(value)
    return out


def _number(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def run_evaluation(sandbox=None, config: EvaluationConfig | None = None, progress=True,
                   publish: bool = True) -> EvaluationResult:
    """Score every variant on the gold sets, simulate the A/B (baseline vs treatment), publish both with the config.

    `progress`: True for tqdm bars, False for none, or a tqdm-like callable."""
    from pinsandbox.sandbox import resolve

    config = (config or EvaluationConfig()).validate()
    sb = resolve(sandbox)
    vectors = load_both_vectors(sb)  # the cheap checks first: both vector sets, the catalog and its ground truth
    context = load_context(sb)
    variants = build_variants(context, sb, vectors=vectors)
    gold = gold_table(context, variants, k=config.k, max_queries=config.max_queries, seed=config.ab.seed)
    # the A/B pits the two routes against each other; `proprietary` (embeddings alone) is a gold-table diagnostic
    arms = {n: variants[n] for n in (config.baseline, config.treatment)}
    outcomes = simulate(context, arms, config.ab, progress=_progress(progress))
    table = compare(outcomes, config.baseline, config.treatment, config.ab)
    result = EvaluationResult(config=config, gold=gold, outcomes=outcomes, ab=table,
                              variants={n: v.description for n, v in variants.items()},
                              metrics=evaluation_metrics(gold, table))
    if publish:
        inputs = [context.catalog.artifact_id, context.truth.artifact_id] + sorted({v.vectors_id for v in variants.values()})
        with sb.artifacts.write(STAGE, NAME, config=config, inputs=inputs) as w:
            gold.to_parquet(w.path / "gold.parquet", index=False)
            outcomes.to_parquet(w.path / "ab_outcomes.parquet", index=False)
            table.to_parquet(w.path / "ab.parquet", index=False)
            (w.path / "variants.json").write_text(json.dumps(result.variants, indent=1))
        result.artifacts[NAME] = sb.artifacts.current_id(STAGE, NAME)
    return result


def _progress(progress):
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm
    return progress or None


def load_results(sandbox=None) -> EvaluationResult:
    """The published `evaluation/results`, with the config that made it (read from the artifact)."""
    from pinsandbox.sandbox import resolve

    art = resolve(sandbox).artifacts.read(STAGE, NAME)
    gold, ab = pd.read_parquet(art.file("gold.parquet")), pd.read_parquet(art.file("ab.parquet"))
    return EvaluationResult(config=art.config(), gold=gold, outcomes=pd.read_parquet(art.file("ab_outcomes.parquet")),
                            ab=ab, variants=json.loads(art.file("variants.json").read_text()),
                            metrics=evaluation_metrics(gold, ab), artifacts={NAME: art.id})
