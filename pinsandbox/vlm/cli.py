"""`pinsandbox vlm swap|cost|ttft|run-swap|run-finetune` — the vision-layer swap and fine-tuning from the command line.

`run-swap` and `run-finetune` call the stages' entry points (`run_swap`, `run_finetune`, as notebooks 02 and 03 do)
and print their metrics; `swap`, `cost` and `ttft` are the building blocks on their own.
"""

from __future__ import annotations

from pinsandbox.cli import print_json


def register(sub) -> None:
    p = sub.add_parser("vlm", help="swap Qwen3-VL's vision encoder for pin vectors; cost and latency")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    s = verbs.add_parser("swap", help="swap a preset or local Qwen3-VL checkpoint and save the result")
    s.add_argument("source", help="preset (tiny, proportional-2b) or a Qwen3-VL checkpoint directory")
    s.add_argument("--out", required=True, help="directory to save the swapped model to")
    s.add_argument("--pin-dim", type=int, required=True, help="length of your pin vectors")
    s.add_argument("--tokens-per-pin", type=int, default=4)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(handler=_swap)

    c = verbs.add_parser("cost", help="FLOPs and memory per request, original vs swapped, real 2B/4B/8B shapes")
    c.add_argument("--presets", default="2b,4b,8b")
    c.add_argument("--pin-dim", type=int, default=256)
    c.add_argument("--tokens-per-pin", type=int, default=4)
    c.set_defaults(handler=_cost)

    t = verbs.add_parser("ttft", help="time to first token, original vs swapped (CPU)")
    t.add_argument("--preset", default="proportional-2b")
    t.add_argument("--pins", type=int, default=8)
    t.add_argument("--image-side", type=int, default=448)
    t.add_argument("--repeats", type=int, default=5)
    t.add_argument("--threads", type=int, default=2)
    t.set_defaults(handler=_ttft)

    rs = verbs.add_parser("run-swap", help="the swap stage (notebook 02): swap, publish vlm/swapped, TTFT, cost")
    rs.add_argument("--sandbox", required=True)
    rs.add_argument("--preset", default="proportional-2b", help="tiny, proportional-2b or a Qwen3-VL checkpoint dir")
    rs.add_argument("--pin-kind", default="proprietary")
    rs.add_argument("--tokens-per-pin", type=int, default=4)
    rs.add_argument("--cost-presets", default="2b,4b,8b")
    rs.add_argument("--seed", type=int, default=0)
    rs.set_defaults(handler=_run_swap)

    rf = verbs.add_parser("run-finetune", help="the fine-tuning stage (notebook 03): Navigator arms, "
                                               "publish vlm/navigator-lora")
    rf.add_argument("--sandbox", required=True)
    rf.add_argument("--preset", default="tiny")
    rf.add_argument("--steps", type=int, default=300)
    rf.add_argument("--lr", type=float, default=None, help="default: 3e-3 on tiny and proportional-2b, 1e-3 on "
                                                           "pretrained weights")
    rf.add_argument("--n-candidates", type=int, default=24)
    rf.add_argument("--max-test", type=int, default=None)
    rf.add_argument("--ceiling-steps", type=int, default=1000, help="0 skips the vector ceilings")
    rf.add_argument("--ground-truth-arm", action="store_true")
    rf.add_argument("--seed", type=int, default=0)
    rf.set_defaults(handler=_run_finetune)


def _swap(args):
    from pinsandbox.errors import InvalidInput
    from pinsandbox.vlm.presets import REAL_SHAPES, load_model, param_breakdown
    from pinsandbox.vlm.swap import swap_vision_layer

    if args.source in REAL_SHAPES:
        raise InvalidInput(f"the {args.source} preset is a shape without weights (for `vlm cost`): pass your "
                           "Qwen3-VL checkpoint directory instead, e.g. a downloaded Qwen/Qwen3-VL-2B-Instruct")
    original = load_model(args.source, seed=args.seed)
    before = param_breakdown(original)
    swapped = swap_vision_layer(original, args.pin_dim, args.tokens_per_pin, seed=args.seed)
    swapped.save_pretrained(args.out)
    print_json({"saved": args.out, "params_before": before, "params_after": param_breakdown(swapped)})


def _cost(args):
    from pinsandbox.errors import InvalidInput
    from pinsandbox.vlm.cost import cost_table
    from pinsandbox.vlm.presets import REAL_SHAPES

    presets = tuple(p.strip() for p in args.presets.split(","))
    bad = [p for p in presets if p not in REAL_SHAPES]
    if bad:
        raise InvalidInput(f"unknown shape(s) {bad}: use any of {', '.join(REAL_SHAPES)}")
    print_json(cost_table(presets=presets, pin_dim=args.pin_dim, tokens_per_pin=args.tokens_per_pin))


def _ttft(args):
    from pinsandbox.vlm.latency import TTFTConfig, measure_ttft

    print_json(measure_ttft(TTFTConfig(preset=args.preset, n_pins=args.pins, image_side=args.image_side,
                                       repeats=args.repeats, threads=args.threads)))


def _run_swap(args):
    from pinsandbox.vlm.configs import SwapConfig
    from pinsandbox.vlm.swap_stage import run_swap

    config = SwapConfig(preset=args.preset, pin_kind=args.pin_kind, tokens_per_pin=args.tokens_per_pin,
                        cost_presets=tuple(p.strip() for p in args.cost_presets.split(",")), seed=args.seed)
    result = run_swap(args.sandbox, config, progress=False)
    print_json({"artifacts": result.artifacts, "metrics": result.metrics})


def _run_finetune(args):
    from pinsandbox.vlm.configs import FinetuneConfig, NavigatorConfig
    from pinsandbox.vlm.finetune_stage import run_finetune
    from pinsandbox.vlm.presets import PRESETS, default_lr

    lr = default_lr(args.preset) if args.lr is None else args.lr
    # MiniLM word embeddings only for the random-init presets, as notebook 03 does (pretrained ones have their own)
    config = NavigatorConfig(preset=args.preset, n_candidates=args.n_candidates, max_test=args.max_test,
                             warm_start=args.preset in PRESETS,
                             ceiling_steps=args.ceiling_steps, ground_truth_arm=args.ground_truth_arm, seed=args.seed,
                             finetune=FinetuneConfig(steps=args.steps, lr=lr, seed=args.seed))
    result = run_finetune(args.sandbox, config, progress=False)
    print_json({"artifacts": result.artifacts, "metrics": result.metrics})
