"""Stage 2–3 — the vision-layer swap and LoRA fine-tuning of Qwen3-VL (real `transformers` classes).

    from pinsandbox.vlm.presets import load_model            # preset name or a local Qwen3-VL checkpoint dir
    from pinsandbox.vlm.swap import swap_vision_layer         # removes model.visual, adds the pin projector
    swapped = swap_vision_layer(load_model("proportional-2b"), pin_dim=256, tokens_per_pin=4)
    swapped(input_ids=..., pin_vectors=...)                   # no pixels anywhere; save_pretrained/from_pretrained

    from pinsandbox.vlm.cost import cost_table                # FLOPs / memory per request, real 2B/4B/8B shapes
    from pinsandbox.vlm.latency import measure_ttft           # time to first token, original vs swapped
    from pinsandbox.vlm import experiment                     # Navigator arms: fine-tune, evaluate, publish

Modules: presets (configs, loading), swap (PinQwen3VL model + projector), prompts (tokenizer, pixels, prompt
layout), scoring (Navigator head), navigator (task, lookups, recall@k), finetune (peft LoRA loop), cost,
latency, experiment, cli. Heavy libraries are imported by those modules, not here.
"""
