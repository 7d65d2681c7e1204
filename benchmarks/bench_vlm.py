"""Vision-layer swap benchmark: TTFT original vs swapped (proportional-2b, CPU) and per-request cost at real scale.

    python benchmarks/bench_vlm.py [--quick] [--repeats N] [--threads T] [--also PRESETS]

`--also` measures other presets' TTFT and counted FLOPs ratios in the same run, interleaved repeats each, beside
the main preset's, under `ttft_also`; by default the pretrained smollm2-135m (SmolLM2's 30 layers in a Qwen2.5-VL),
`--also ""` for none. `ratios_by_preset` puts the ratios side by side.

Prints one JSON object: `ttft` (medians and ratio, same language model both ways), `cost` (FLOPs, weight and
KV-cache bytes for 2b/4b/8b × 448²/1024² × 1/8 pins, original vs swapped, with parameter counts), and
`targets` (TTFT ratio ≥ 25× at 8 pins; FLOPs ratio ≥ 20× at 2b, 448², 8 pins) with whether they are met.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle threads sleep on a shared CPU


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 2b only")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--preset", default="proportional-2b")
    parser.add_argument("--also", default="smollm2-135m", help="comma-separated presets measured beside --preset")
    args = parser.parse_args(argv)

    from pinsandbox.vlm.cost import cost_table
    from pinsandbox.vlm.latency import TTFTConfig, measure_ttft

    t0 = time.perf_counter()
    repeats = args.repeats or (3 if args.quick else 7)
    ttft = measure_ttft(TTFTConfig(preset=args.preset, repeats=repeats, threads=args.threads))
    also = {p: measure_ttft(TTFTConfig(preset=p, repeats=repeats, threads=args.threads))
            for p in filter(None, (p.strip() for p in args.also.split(",")))}
    presets = ("2b",) if args.quick else ("2b", "4b", "8b")
    cost = cost_table(presets=presets)
    ratio_2b = next(r["flops_ratio"] for r in cost["2b"]["requests"] if r["image_side"] == 448 and r["n_pins"] == 8)
    result = {
        "benchmark": "vlm",
        "quick": args.quick,
        "ttft": ttft,
        "ttft_also": also,
        "ratios_by_preset": {p: {"ttft_ratio": t["ttft_ratio"], "ttft_ratio_spread": t["ttft_ratio_spread"],
                                 "flops_ratio": t["flops_ratio"]} for p, t in {args.preset: ttft, **also}.items()},
        "cost": cost,
        "params_total": {p: {"original": e["params_original"]["total"], "swapped": e["params_swapped"]["total"]}
                         for p, e in cost.items()},
        "targets": {
            "ttft_ratio_8_pins": {"value": ttft["ttft_ratio"], "target": 25, "met": ttft["ttft_ratio"] >= 25},
            "flops_ratio_2b_448_8_pins": {"value": ratio_2b, "target": 20, "met": ratio_2b >= 20},
        },
        "wall_s": time.perf_counter() - t0,
    }
    print(json.dumps(result, default=float))  # one line: `pinsandbox bench` reads the last line
    return result


if __name__ == "__main__":
    main()
