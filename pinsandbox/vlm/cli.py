"""`pinsandbox vlm swap|cost|ttft` — the vision-layer swap from the command line."""

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
