"""The fine-tuning stage's one entry point: `run_finetune(sandbox, NavigatorConfig(...)) -> FinetuneStageResult`.

Reads the catalog (Navigator gold set) and both pin-vector sets, validates everything, then trains the three
arms under one budget (swapped + proprietary, original + vision tower, swapped + off-the-shelf), optionally a
fourth fed ground-truth vectors and the vector ceilings, publishes `vlm/navigator-lora` with its
`NavigatorConfig`, loads it back the way serving does and checks it scores exactly as trained.
Notebook 03, the CLI (`pinsandbox vlm run-finetune`), the tests and the retraining loop call it.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pinsandbox.errors import InvalidInput
from pinsandbox.stages import StageResult
from pinsandbox.vlm.configs import FinetuneConfig, NavigatorConfig

# metric variants of the arms (`finetune.recall@10.<variant>`) and their display names
ARMS = {"swapped_proprietary": "swapped + proprietary", "original": "original + vision tower",
        "swapped_off-the-shelf": "swapped + off-the-shelf", "swapped_ground-truth": "swapped + ground-truth vectors"}
CEILINGS = {"proprietary": "proprietary", "off-the-shelf": "off-the-shelf", "ground-truth": "ground truth"}
MAX_ANSWERS = 4  # build_task's default: answers per request


@dataclass(kw_only=True)
class FinetuneStageResult(StageResult):
    task: object  # the NavigatorTask (train / held-out requests with their candidates)
    arms: dict  # variant -> Arm (swapped_proprietary, original, swapped_off-the-shelf[, swapped_ground-truth])
    summary: object  # DataFrame, one row per main arm: recall@10 and its CI, chance, steps, wall-clock, loss
    gains: dict  # "vs_original" / "vs_off-the-shelf" -> {"gain", "ci95", "requests"} (paired bootstrap)
    ceilings: dict = field(default_factory=dict)  # vector kind -> vector_ceiling output
    ceiling_table: object = None  # DataFrame: fine-tuned arm vs vector ceiling (test, train) per vector kind
    adapter_reload_max_abs_diff: float = float("nan")

    @property
    def main_arms(self) -> list:
        return [self.arms[k] for k in ("swapped_proprietary", "original", "swapped_off-the-shelf")]

    def picks(self, request_id: str | None = None, k: int = 5, variants=("swapped_proprietary", "original")) -> dict:
        """Arm name -> its top-k candidates (pin_id, score, is_answer) for one held-out request (default: the first)."""
        from pinsandbox.vlm.experiment import top_picks

        request_id = request_id or self.task.test[0].request_id
        return {self.arms[v].name: top_picks(self.arms[v], request_id, k) for v in variants}


def _is_int(value, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def validate_navigator_config(config: NavigatorConfig) -> None:
    """Every problem with `config` in one InvalidInput, before anything is loaded or trained."""
    from pinsandbox.vlm.presets import PRESETS
    from pinsandbox.vlm.swap_stage import check_model_source

    if not isinstance(config, NavigatorConfig):
        raise InvalidInput(f"run_finetune takes a NavigatorConfig, got {type(config).__name__}")
    if not isinstance(config.finetune, FinetuneConfig):
        raise InvalidInput(f"NavigatorConfig.finetune must be a FinetuneConfig, got {type(config.finetune).__name__}")
    problems: list[str] = []
    check_model_source(config.preset, problems)
    if config.warm_start and config.preset not in PRESETS:
        problems.append("warm_start replaces the text embeddings with MiniLM's and is for the random-init CPU "
                        "presets only: pass warm_start=False with a pretrained preset or a checkpoint directory")
    if not _is_int(config.tokens_per_pin, 1):
        problems.append(f"tokens_per_pin must be an integer >= 1, got {config.tokens_per_pin!r}")
    if not _is_int(config.n_candidates, MAX_ANSWERS + 2):
        problems.append(f"n_candidates must be an integer >= {MAX_ANSWERS + 2} (up to {MAX_ANSWERS} answers plus "
                        f"negatives), got {config.n_candidates!r}")
    if config.max_test is not None and not _is_int(config.max_test, 2):
        problems.append(f"max_test must be None (all held-out requests) or an integer >= 2 (the intervals "
                        f"resample requests), got {config.max_test!r}")
    if not _is_int(config.ceiling_steps, 0):
        problems.append(f"ceiling_steps must be an integer >= 0 (0 skips the vector ceilings), got {config.ceiling_steps!r}")
    for name in ("warm_start", "ground_truth_arm"):
        if not isinstance(getattr(config, name), bool):
            problems.append(f"{name} must be true or false, got {getattr(config, name)!r}")
    if not _is_int(config.seed, 0):
        problems.append(f"seed must be a non-negative integer, got {config.seed!r}")
    ft = config.finetune
    for name in ("steps", "batch_size", "lora_r", "max_text_tokens", "threads"):
        if not _is_int(getattr(ft, name), 1):
            problems.append(f"finetune.{name} must be an integer >= 1, got {getattr(ft, name)!r}")
    for name in ("eval_every", "seed"):
        if not _is_int(getattr(ft, name), 0):
            problems.append(f"finetune.{name} must be an integer >= 0, got {getattr(ft, name)!r}")
    for name in ("lr", "lora_alpha"):
        value = getattr(ft, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            problems.append(f"finetune.{name} must be a positive number, got {value!r}")
    if not _is_int(ft.image_side, 32) or ft.image_side % 32:
        problems.append(f"finetune.image_side must be a positive multiple of 32 (patch 16 × merge 2), got {ft.image_side!r}")
    if problems:
        raise InvalidInput("invalid Navigator config: " + "; ".join(problems))


def _check_vectors_cover(task, vectors, kind: str) -> None:
    from pinsandbox.vlm.navigator import PinLookup

    try:
        PinLookup(vectors.pin_ids, vectors.vectors).rows(task.pin_ids)
    except Exception as e:  # NotFound with the missing ids
        raise type(e)(f"{kind} vectors {vectors.artifact_id}: {e}") from None


def run_finetune(sandbox=None, config: NavigatorConfig | None = None, progress: bool = True) -> FinetuneStageResult:
    """Navigator fine-tuning: train the arms, the references, publish `vlm/navigator-lora`, check its reload."""
    config = config or NavigatorConfig()
    validate_navigator_config(config)

    from pinsandbox.catalog import load_catalog
    from pinsandbox.embeddings import load_vectors
    from pinsandbox.sandbox import resolve
    from pinsandbox.vlm import experiment as ex
    from pinsandbox.vlm.adapter import publish_adapter
    from pinsandbox.vlm.navigator import load_task

    sb = resolve(sandbox)
    cfg, seed = config.finetune, config.seed
    # inputs first: a missing gold set or vector table fails here, before any model is built
    catalog = load_catalog(sb)
    task = load_task(sb, n_candidates=config.n_candidates, max_test=config.max_test, seed=seed)
    proprietary, off_the_shelf = load_vectors("proprietary", sb), load_vectors("off-the-shelf", sb)
    references = {"proprietary": proprietary, "off-the-shelf": off_the_shelf}
    if config.ground_truth_arm:
        references["ground-truth"] = ex.ground_truth_vectors(sb, seed=seed)
    for kind, vectors in references.items():
        _check_vectors_cover(task, vectors, kind)

    swapped_kw = {"tokens_per_pin": config.tokens_per_pin, "warm_start": config.warm_start, "progress": progress}
    base_dir = Path(tempfile.mkdtemp(dir=sb.path("tmp"))) / "base"
    try:
        arms = {
            "swapped_proprietary": ex.run_swapped_arm(ARMS["swapped_proprietary"], task, proprietary, config.preset,
                                                      cfg, save_base_to=base_dir, **swapped_kw),
            "original": ex.run_original_arm(task, catalog, config.preset, cfg, warm_start=config.warm_start,
                                            progress=progress),
            "swapped_off-the-shelf": ex.run_swapped_arm(ARMS["swapped_off-the-shelf"], task, off_the_shelf,
                                                        config.preset, cfg, **swapped_kw),
        }
        prop, orig, ots = arms["swapped_proprietary"], arms["original"], arms["swapped_off-the-shelf"]
        summary = ex.summary_table([prop, orig, ots])
        gains = {"vs_original": ex.relative_gain(prop, orig, seed), "vs_off-the-shelf": ex.relative_gain(prop, ots, seed)}
        if config.ground_truth_arm:
            arms["swapped_ground-truth"] = ex.run_swapped_arm(ARMS["swapped_ground-truth"], task,
                                                              references["ground-truth"], config.preset, cfg,
                                                              **swapped_kw)
        ceilings, ceiling_table = {}, None
        if config.ceiling_steps:
            import pandas as pd

            ceilings = {kind: ex.vector_ceiling(task, vectors, steps=config.ceiling_steps, seed=seed)
                        for kind, vectors in references.items()}
            ceiling_table = pd.DataFrame(
                {"fine-tuned swapped arm": [arms[f"swapped_{k}"].recall for k in ceilings],
                 "vector ceiling (test)": [c["recall@10_test"] for c in ceilings.values()],
                 "vector ceiling (train)": [c["recall@10_train"] for c in ceilings.values()]},
                index=[CEILINGS[k] for k in ceilings])

        adapter_id = publish_adapter(
            sb, prop, base_dir, config=config, inputs=[catalog.artifact_id, proprietary.artifact_id],
            metrics={"recall@10": summary["recall@10"].to_dict(), "train_wall_s": summary["train_wall_s"].to_dict()})
    finally:
        shutil.rmtree(base_dir.parent, ignore_errors=True)

    reload_diff = _reload_diff(sb, prop, task, cfg)
    metrics = _metrics(config, arms, gains, ceilings, reload_diff)
    return FinetuneStageResult(stage="finetune", config=config, artifacts={"navigator-lora": adapter_id},
                               metrics=metrics, task=task, arms=arms, summary=summary, gains=gains,
                               ceilings=ceilings, ceiling_table=ceiling_table, adapter_reload_max_abs_diff=reload_diff)


def _reload_diff(sb, arm, task, cfg: FinetuneConfig) -> float:
    """Largest score difference between the trained model and the published one loaded as serving loads it."""
    import torch

    from pinsandbox.vlm.adapter import load_navigator

    loaded = load_navigator(sb)
    batch = task.test[: cfg.batch_size]
    with torch.inference_mode():
        trained = arm.route.scores(arm.result.model, batch, cfg)
    return float((trained - loaded.scores(batch)).abs().max())


def _metrics(config: NavigatorConfig, arms: dict, gains: dict, ceilings: dict, reload_diff: float) -> dict:
    prop, orig = arms["swapped_proprietary"], arms["original"]
    m: dict = {f"finetune.recall@10.{v}": a.recall for v, a in arms.items()}
    m["finetune.recall@10.chance"] = prop.test["summary"]["chance_recall@10"]
    for v, a in arms.items():
        if v != "swapped_ground-truth":
            m[f"finetune.recall@10_ci95.{v}"] = a.test["summary"]["recall@10_ci95"]
    for name, g in gains.items():
        m[f"finetune.gain_{name}"] = g["gain"]
        m[f"finetune.gain_{name}_ci95"] = g["ci95"]
    m["finetune.held_out_requests"] = gains["vs_original"]["requests"]
    for v in ("swapped_proprietary", "original", "swapped_off-the-shelf"):
        m[f"finetune.train_wall_s.{v}"] = arms[v].result.wall_s
    m["finetune.train_steps"] = config.finetune.steps
    for kind, c in ceilings.items():
        m[f"finetune.vector_ceiling.{kind}"] = c["recall@10_test"]
    if ceilings:
        m["finetune.vector_ceiling_gain_vs_original"] = ceilings["proprietary"]["recall@10_test"] / max(orig.recall, 1e-9) - 1
    m["finetune.adapter_reload_max_abs_diff"] = reload_diff
    return m
