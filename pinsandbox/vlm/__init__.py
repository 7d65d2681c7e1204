"""Stage 2–3 — the vision-layer swap and LoRA fine-tuning of Qwen3-VL (real `transformers` classes).

    from pinsandbox.vlm import run_swap, SwapConfig, run_finetune, NavigatorConfig, FinetuneConfig
    swap = run_swap("alice", SwapConfig(preset="proportional-2b"))      # notebook 02: publishes vlm/swapped
    nav = run_finetune("alice", NavigatorConfig(finetune=FinetuneConfig(steps=300)))  # notebook 03: vlm/navigator-lora
    navigator = load_navigator("alice")      # scores with the NavigatorConfig saved in the artifact
    navigator.score("a japandi lamp under $120", pin_ids)

    from pinsandbox.vlm.presets import load_model            # preset name or a local Qwen3-VL checkpoint dir
    from pinsandbox.vlm.swap import swap_vision_layer         # removes model.visual, adds the pin projector
    from pinsandbox.vlm.cost import cost_table                # FLOPs / memory per request, real 2B/4B/8B shapes
    from pinsandbox.vlm.latency import measure_ttft           # time to first token, original vs swapped

Modules: configs (the stages' configs, no torch), swap_stage / finetune_stage (the entry points), adapter
(publishing and loading `vlm/navigator-lora`), presets (configs, loading), pretrained (SmolLM2's pretrained
weights in a Qwen2.5-VL: the `smollm2-135m[-<N>l]` presets), swap (PinQwen3VL / PinQwen2_5_VL model + projector),
prompts (tokenizer, pixels, prompt layout), scoring (Navigator head), navigator (task, lookups, recall@k),
finetune (peft LoRA loop), experiment (the arms, gains, ceilings), cost, latency, cli. Names load lazily:
importing this package imports no torch.
"""

from pinsandbox.lazy import lazy_exports

NAVIGATOR_ARTIFACT = "vlm/navigator-lora"
SWAPPED_ARTIFACT = "vlm/swapped"

_EXPORTS = {
    "SwapConfig": "configs", "NavigatorConfig": "configs", "FinetuneConfig": "configs",
    "run_swap": "swap_stage", "SwapResult": "swap_stage", "validate_swap_config": "swap_stage",
    "run_finetune": "finetune_stage", "FinetuneStageResult": "finetune_stage",
    "validate_navigator_config": "finetune_stage",
    "Navigator": "adapter", "load_navigator": "adapter", "has_navigator": "adapter",
}
__all__ = ["NAVIGATOR_ARTIFACT", "SWAPPED_ARTIFACT", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
