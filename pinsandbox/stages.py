"""One shape for every stage.

Each stage has one entry point, `run_<stage>(sandbox=None, config=None, progress=True) -> <Stage>Result`:
it reads its inputs from the sandbox, validates everything before any training, runs, publishes its
artifacts with the config that made them, and returns a typed result. Its notebook, its CLI command, the
tests and the retraining loop all call that same function.

| stage       | entry point                              | config                | notebook              |
|-------------|------------------------------------------|-----------------------|-----------------------|
| catalog     | `pinsandbox.catalog.run_catalog`         | `CatalogConfig`       | 00_catalog            |
| embeddings  | `pinsandbox.embeddings.run_embeddings`   | `EmbeddingsConfig`    | 01_pin_embeddings     |
| swap        | `pinsandbox.vlm.run_swap`                | `SwapConfig`          | 02_vision_layer_swap  |
| finetune    | `pinsandbox.vlm.run_finetune`            | `NavigatorConfig`     | 03_finetune_lora      |
| tastegraph  | `pinsandbox.tastegraph.run_tastegraph`   | `TasteGraphStageConfig` | 04_taste_graph      |
| serving     | `pinsandbox.serving.run_serving`         | `ServingStageConfig`  | 05_serving            |
| evaluation  | `pinsandbox.evaluation.run_evaluation`   | `EvaluationConfig`    | 06_evaluation_ab      |
| retrain     | `pinsandbox.loop.run_retrain`            | `RetrainConfig`       | 07_retrain (the loop: not in run-all) |
| history     | `pinsandbox.loop.regression_alarm`       | —                     | 08_history (the loop: not in run-all) |

Metric keys follow one convention: `<stage>.<metric>[.<variant>]`, lower case, e.g.
`embeddings.hit_rate@10.proprietary`, `swap.ttft_ratio`, `serving.homefeed_p99_ms`,
`evaluation.homefeed.ndcg@10.blueprint`. The report and the results pages read them by these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pinsandbox.errors import InvalidInput

STAGES = ("catalog", "embeddings", "swap", "finetune", "tastegraph", "serving", "evaluation")
NOTEBOOKS = dict(zip(STAGES, ("00_catalog", "01_pin_embeddings", "02_vision_layer_swap", "03_finetune_lora",
                              "04_taste_graph", "05_serving", "06_evaluation_ab"), strict=True))
# the artifact each stage publishes last: it exists once the stage has run, from a notebook or not
ARTIFACTS = {"catalog": ("catalog", "pinworld", "imported"), "embeddings": ("embeddings", "off-the-shelf"),
             "swap": ("vlm", "swapped"), "finetune": ("vlm", "navigator-lora"), "tastegraph": ("tastegraph", "taste-graph"),
             "serving": ("serving", "load-test"), "evaluation": ("evaluation", "results")}
# the loop (#18): recorded like a stage (metrics `retrain.*`, `history.*`; notebooks 07, 08) but not part of run-all
# or the report: each reads what the stages made, and 08 reads every run's record, so it runs after them, on its own
LOOP_NOTEBOOKS = {"retrain": "07_retrain", "history": "08_history"}
METRIC_STAGES = (*STAGES, *LOOP_NOTEBOOKS)
METRIC_KEY = re.compile(r"^[a-z]+(\.[a-z0-9][a-z0-9_@%+-]*)+$")


def has_run(sandbox, stage: str) -> bool:
    """Whether `stage` has published its artifacts in `sandbox` (by notebook, CLI or Python alike)."""
    kind, *names = ARTIFACTS[stage]
    return any(sandbox.artifacts.exists(kind, name) for name in names)


def check_metric_key(key: str) -> str:
    stage = key.split(".", 1)[0]
    if not METRIC_KEY.match(key) or stage not in METRIC_STAGES:
        raise InvalidInput(f"metric key {key!r} does not follow `<stage>.<metric>[.<variant>]` (lower case) with a "
                           f"stage among {', '.join(METRIC_STAGES)}")
    return key


@dataclass(kw_only=True)  # keyword-only, so subclasses may add fields without defaults
class StageResult:
    """What every entry point returns: its config, the artifacts it published, and its headline metrics.

    Stages subclass it to add their typed pieces (tables, histories, models)."""

    stage: str
    config: object  # the config dataclass the stage ran with (also saved in its artifacts)
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> published artifact id
    metrics: dict[str, object] = field(default_factory=dict)  # `<stage>.<metric>[.<variant>]` -> value

    def __post_init__(self):
        if self.stage not in METRIC_STAGES:
            raise InvalidInput(f"unknown stage {self.stage!r}: use one of {', '.join(METRIC_STAGES)}")
        for key in self.metrics:
            check_metric_key(key)

    def record(self) -> dict:
        """Record every metric in the current run (`metrics.json`) and show it; returns the metrics."""
        from pinsandbox.runs.record import record

        for key, value in self.metrics.items():
            record(key, value)
        return self.metrics
