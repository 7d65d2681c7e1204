"""The evaluation stage end to end: variants, gold-set table, A/B simulation; published as `evaluation/results`."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from pinsandbox.evaluation.abtest import ABConfig, compare, config_dict, simulate
from pinsandbox.evaluation.gold import gold_table
from pinsandbox.evaluation.variants import build_variants, load_context

STAGE, NAME = "evaluation", "results"


@dataclass
class EvaluationResult:
    gold: pd.DataFrame  # variant, task, precision@k, recall@k, ndcg@k, queries
    outcomes: pd.DataFrame  # per (variant, pinner) A/B outcomes
    ab: pd.DataFrame  # blueprint vs off-the-shelf per metric, with CI and verdict
    variants: dict  # name -> description
    artifact_id: str | None = None


def run_evaluation(sandbox=None, k: int = 10, ab: ABConfig | None = None, max_queries: int | None = None,
                   baseline: str = "off-the-shelf", treatment: str = "blueprint", progress=None,
                   publish: bool = True) -> EvaluationResult:
    from pinsandbox.sandbox import resolve

    ab = ab or ABConfig()
    sb = resolve(sandbox)
    context = load_context(sb)
    variants = build_variants(context, sb)
    gold = gold_table(context, variants, k=k, max_queries=max_queries, seed=ab.seed)
    # the A/B pits the two routes against each other; `proprietary` (embeddings alone) is a gold-table diagnostic
    outcomes = simulate(context, {n: variants[n] for n in (baseline, treatment)}, ab, progress=progress)
    table = compare(outcomes, baseline, treatment, ab)
    result = EvaluationResult(gold, outcomes, table, {n: v.description for n, v in variants.items()})
    if publish:
        inputs = [context.catalog.artifact_id, context.truth.artifact_id] + sorted({v.vectors_id for v in variants.values()})
        with sb.artifacts.write(STAGE, NAME, params={"k": k, "ab": config_dict(ab), "max_queries": max_queries,
                                                       "baseline": baseline, "treatment": treatment}, inputs=inputs) as w:
            gold.to_parquet(w.path / "gold.parquet", index=False)
            outcomes.to_parquet(w.path / "ab_outcomes.parquet", index=False)
            table.to_parquet(w.path / "ab.parquet", index=False)
            (w.path / "variants.json").write_text(json.dumps(result.variants, indent=1))
        result.artifact_id = sb.artifacts.current_id(STAGE, NAME)
    return result


def load_results(sandbox=None) -> EvaluationResult:
    from pinsandbox.sandbox import resolve

    art = resolve(sandbox).artifacts.read(STAGE, NAME)
    return EvaluationResult(pd.read_parquet(art.file("gold.parquet")), pd.read_parquet(art.file("ab_outcomes.parquet")),
                            pd.read_parquet(art.file("ab.parquet")), json.loads(art.file("variants.json").read_text()),
                            art.id)
