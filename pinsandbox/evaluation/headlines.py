"""The headline figures the report and the results pages show: declared here by metric key, never searched for.

Each stage's figures are read from the latest `ok` run of its notebook (`runs/<id>/metrics.json`), except the
evaluation's own, which are read from the published `evaluation/results` artifact (typed tables). A stage whose
notebook ran but did not record a declared key is an error naming the key and the notebook (`ReportError`):
a renamed metric must fail loudly, not drop a row.
"""

from __future__ import annotations

from dataclasses import dataclass

from pinsandbox.errors import InvalidInput
from pinsandbox.stages import NOTEBOOKS, STAGES, check_metric_key

KINDS = ("proprietary", "off-the-shelf")  # the two vector sets (pinsandbox.embeddings.KINDS)
GOLD_VARIANTS = ("off-the-shelf", "proprietary", "blueprint")
GOLD_TASKS = ("homefeed", "item-to-item", "navigator")
AB_METRICS = ("saves", "board_creations", "merchant_clicks")


class ReportError(InvalidInput):
    """A stage's run lacks a figure the report declares: re-run that notebook (or fix the key it records)."""


@dataclass(frozen=True)
class Headline:
    key: str
    label: str
    optional: bool = False  # recorded only in some sandboxes (e.g. Pinworld only, or when computed)

    def __post_init__(self):
        check_metric_key(self.key)


def _h(key, label, optional=False):
    return Headline(key, label, optional)


HEADLINES: dict[str, tuple[Headline, ...]] = {
    "catalog": (
        _h("catalog.pins", "pins"), _h("catalog.pinners", "pinners"), _h("catalog.boards", "boards"),
        _h("catalog.events", "events"), _h("catalog.train_events", "events before the cutoff (training)"),
        _h("catalog.test_events", "events after the cutoff (held out)"),
    ),
    "embeddings": (
        *(_h(f"embeddings.hit_rate@10.{k}", f"item-to-item hit rate@10, {k}") for k in KINDS),
        *(_h(f"embeddings.mrr.{k}", f"item-to-item MRR, {k}") for k in KINDS),
        _h("embeddings.hit_rate@10_lift", "hit rate@10 lift, proprietary over off-the-shelf"),
        _h("embeddings.mrr_lift", "MRR lift, proprietary over off-the-shelf"),
        *(_h(f"embeddings.style_probe_accuracy{part}.{k}", f"style probe accuracy{label}, {k} (Pinworld only)", True)
          for part, label in (("_warm", " on warm pins"), ("_cold", " on cold pins"), ("", "")) for k in KINDS),
        *(_h(f"embeddings.style_purity@10{part}.{k}", f"own-style share of 10 nearest pins{label}, {k} (Pinworld only)", True)
          for part, label in (("", ""), ("_warm", " (warm pins)"), ("_cold", " (cold pins)")) for k in KINDS),
        *(_h(f"embeddings.text_to_pin_recall@10.{k}", f"text request → pins recall@10, {k} (Pinworld only)", True) for k in KINDS),
        _h("embeddings.train_s", "encoder training time (s)"),
        *(_h(f"embeddings.ann_recall@10.{k}", f"ANN recall@10 vs exact search, {k}") for k in KINDS),
        _h("embeddings.precompute_pins_per_s", "precompute throughput, pins/s"),
    ),
    "swap": (
        _h("swap.ttft_original_s", "time to first token, original Qwen3-VL (s)"),
        _h("swap.ttft_swapped_s", "time to first token, swapped (s)"),
        _h("swap.ttft_ratio", "TTFT ratio, original ÷ swapped"),
        _h("swap.flops_ratio", "FLOPs ratio, original ÷ swapped (448², 8 pins)"),
        _h("swap.compute_reduction", "compute reduction"),
        _h("swap.params_original", "parameters, original"), _h("swap.params_swapped", "parameters, swapped"),
        _h("swap.reload_max_abs_diff", "save/reload max |Δ logits|"),
    ),
    "finetune": (
        _h("finetune.recall@10.swapped_proprietary", "Navigator recall@10, swapped + proprietary vectors"),
        _h("finetune.recall@10.original", "Navigator recall@10, original (pixels)"),
        _h("finetune.recall@10.swapped_off-the-shelf", "Navigator recall@10, swapped + off-the-shelf vectors"),
        _h("finetune.gain_vs_original", "gain over the original"),
        _h("finetune.gain_vs_original_ci95", "gain over the original, 95% CI"),
        _h("finetune.gain_vs_off-the-shelf", "gain over off-the-shelf vectors"),
        _h("finetune.held_out_requests", "held-out requests"),
        *(_h(f"finetune.vector_ceiling.{k}", f"vector ceiling, {k} (when computed)", True) for k in KINDS),
        _h("finetune.adapter_reload_max_abs_diff", "adapter save/reload max |Δ|"),
    ),
    "tastegraph": (
        _h("tastegraph.ndcg@10.tastegraph", "homefeed NDCG@10, taste graph"),
        _h("tastegraph.ndcg@10.ease", "homefeed NDCG@10, EASE"),
        _h("tastegraph.ndcg@10.best_baseline", "homefeed NDCG@10, best baseline"),
        _h("tastegraph.ndcg@10.batch", "NDCG@10, batch updates"),
        _h("tastegraph.ndcg@10.realtime", "NDCG@10, real-time updates"),
        _h("tastegraph.drift_new_style_share", "drift: share of the new style (Pinworld only)", optional=True),
        _h("tastegraph.drift_old_style_share", "drift: share of the old style (Pinworld only)", optional=True),
        _h("tastegraph.drift_new_style_share_week1", "drift, one week of events later: share of the new style (Pinworld only)", optional=True),
        _h("tastegraph.drift_old_style_share_week1", "drift, one week of events later: share of the old style (Pinworld only)", optional=True),
    ),
    "serving": (
        _h("serving.homefeed_p99_ms", "homefeed p99 (ms)"), _h("serving.homefeed_p50_ms", "homefeed p50 (ms)"),
        _h("serving.navigator_p99_ms", "Navigator p99 (ms)"), _h("serving.qps", "requests per second"),
        _h("serving.errors", "errors"), _h("serving.startup_s", "startup (s)"),
    ),
}


def evaluation_headlines(k: int, tasks=GOLD_TASKS) -> tuple[Headline, ...]:
    """The evaluation's declared figures at its `k` (navigator only where the catalog has Navigator requests)."""
    gold = [_h(f"evaluation.{task}.{metric}@{k}.{variant}", f"{task} {metric}@{k}, {variant}", task == "navigator")
            for task in GOLD_TASKS if task in tasks for metric in ("ndcg", "recall", "hit_rate") for variant in GOLD_VARIANTS]
    ab = [_h(f"evaluation.ab.{m}.{part}", f"A/B {m.replace('_', ' ')}: {part.replace('_', ' ')}")
          for m in AB_METRICS for part in ("lift", "ci_low", "ci_high", "verdict")]
    return (*gold, *ab)


def check_figures(stage: str, metrics: dict, where: str, headlines=None) -> dict:
    """The declared figures of `stage` from `metrics` (key -> value); ReportError naming the first missing key."""
    headlines = HEADLINES[stage] if headlines is None else headlines
    missing = [h.key for h in headlines if not h.optional and h.key not in metrics]
    if missing:
        raise ReportError(f"{where} recorded no {missing[0]!r}" + (f" (nor {', '.join(missing[1:])})" if missing[1:] else "")
                          + f": re-run notebooks/{NOTEBOOKS[stage]}.ipynb, or record the key under that name")
    return {h.key: metrics[h.key] for h in headlines if h.key in metrics}


assert set(HEADLINES) == set(STAGES) - {"evaluation"}
